//! Arithmetic the VM does in Rust and wasm has no instruction for:
//! `fmod`, rounding, weighted averages of trust vectors.

use wasm_encoder::ValType::{F64, I32};
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::component::Compiled;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// `a % b` (C's `fmod`) for `b != 0`: exactly, with integer division
    /// when both are integers below 2^63, else through the host's `fmod`.
    pub(super) fn fmod(&mut self, a: u32, b: u32) -> Compiled {
        let small_int = |x: u32| {
            [
                Ins::LocalGet(x),
                Ins::F64Trunc,
                Ins::LocalGet(x),
                Ins::F64Eq,
                Ins::LocalGet(x),
                Ins::F64Abs,
                Ins::F64Const(TWO_TO_63.into()),
                Ins::F64Lt,
                Ins::I32And,
            ]
        };
        self.b.all(small_int(a));
        self.b.all(small_int(b));
        self.b.all([
            Ins::I32And,
            Ins::If(BlockType::Result(F64)),
            Ins::LocalGet(a),
            Ins::I64TruncF64S,
            Ins::LocalGet(b),
            Ins::I64TruncF64S,
            Ins::I64RemS,
            Ins::F64ConvertI64S,
            // The remainder has the sign of `a`, zero included.
            Ins::LocalGet(a),
            Ins::F64Copysign,
            Ins::Else,
            Ins::LocalGet(a),
            Ins::LocalGet(b),
            Ins::Call(self.idx.import(HostImport::Fmod)?),
            Ins::End,
        ]);
        Ok(())
    }

    /// Rust's `f64::round`: half away from zero.
    pub(super) fn round(&mut self) {
        let (x, t) = (self.scratch(F64), self.scratch(F64));
        // select(t ± 1, t, |x - t| >= 0.5)
        self.b.all([
            Ins::LocalTee(x),
            Ins::F64Trunc,
            Ins::LocalSet(t),
            Ins::LocalGet(t),
            Ins::F64Const(1.0.into()),
            Ins::LocalGet(x),
            Ins::F64Copysign,
            Ins::F64Add,
            Ins::LocalGet(t),
            Ins::LocalGet(x),
            Ins::LocalGet(t),
            Ins::F64Sub,
            Ins::F64Abs,
            Ins::F64Const(0.5.into()),
            Ins::F64Ge,
            Ins::Select,
        ]);
    }

    /// `TrustWeightedAvg` over the array in `w` and the vector in `p`.
    pub(super) fn weighted_avg(&mut self, w: u32, p: u32) {
        let (total, sum, k) = (self.scratch(F64), self.scratch(F64), self.scratch(I32));
        let tag = self.scratch(I32);
        // Weight `k`, a number or a bool read as 1.0 or 0.0 (as the legacy
        // `as_number` reads it), once the first loop has checked its tag.
        let weight = {
            let at = |offset| {
                [
                    Ins::LocalGet(w),
                    Ins::LocalGet(k),
                    Ins::I32Const(16),
                    Ins::I32Mul,
                    Ins::I32Add,
                    Ins::I32Load(mem(offset, 2)),
                ]
            };
            let mut v = at(8).to_vec();
            v.extend([
                Ins::I32Const(T_BOOL),
                Ins::I32Eq,
                Ins::If(BlockType::Result(F64)),
            ]);
            // A boxed bool holds 0 or 1 in its payload's low word.
            v.extend(at(16));
            v.extend([Ins::F64ConvertI32U, Ins::Else]);
            v.extend(at(16)[..5].iter().cloned());
            v.extend([Ins::F64Load(mem(16, 3)), Ins::End]);
            v
        };
        let weight_again = weight.clone();
        // Six weights, all numbers or bools.
        self.b.all([
            Ins::LocalGet(w),
            Ins::I32Load(mem(0, 2)),
            Ins::I32Const(6),
            Ins::I32Ne,
            Ins::If(BlockType::Empty),
            Ins::LocalGet(w),
            Ins::I64Load32U(mem(0, 2)),
            Ins::GlobalSet(global::ERROR_A),
        ]);
        self.record_err(err::WEIGHTS, 1);
        self.b.i(Ins::End);
        self.b.all([
            Ins::F64Const((-0.0).into()),
            Ins::LocalSet(total),
            Ins::F64Const((-0.0).into()),
            Ins::LocalSet(sum),
            Ins::Block(BlockType::Empty),
            Ins::Loop(BlockType::Empty),
            Ins::LocalGet(k),
            Ins::I32Const(6),
            Ins::I32GeU,
            Ins::BrIf(1),
            Ins::LocalGet(w),
            Ins::LocalGet(k),
            Ins::I32Const(16),
            Ins::I32Mul,
            Ins::I32Add,
            Ins::I32Load(mem(8, 2)),
            Ins::LocalSet(tag),
            Ins::LocalGet(tag),
            Ins::I32Const(T_NUMBER),
            Ins::I32Ne,
            Ins::LocalGet(tag),
            Ins::I32Const(T_BOOL),
            Ins::I32Ne,
            Ins::I32And,
            Ins::If(BlockType::Empty),
        ]);
        self.record_err(err::WEIGHT, 3);
        self.b.all([Ins::End, Ins::LocalGet(total)]);
        self.b.all(weight);
        self.b.all([
            Ins::F64Add,
            Ins::LocalSet(total),
            Ins::LocalGet(k),
            Ins::I32Const(1),
            Ins::I32Add,
            Ins::LocalSet(k),
            Ins::Br(0),
            Ins::End,
            Ins::End,
            Ins::I32Const(0),
            Ins::LocalSet(k),
            Ins::Block(BlockType::Empty),
            Ins::Loop(BlockType::Empty),
            Ins::LocalGet(k),
            Ins::I32Const(6),
            Ins::I32GeU,
            Ins::BrIf(1),
            Ins::LocalGet(sum),
            Ins::LocalGet(p),
            Ins::LocalGet(k),
            Ins::I32Const(8),
            Ins::I32Mul,
            Ins::I32Add,
            Ins::F64Load(mem(0, 3)),
        ]);
        self.b.all(weight_again);
        self.b.all([
            Ins::F64Mul,
            Ins::F64Add,
            Ins::LocalSet(sum),
            Ins::LocalGet(k),
            Ins::I32Const(1),
            Ins::I32Add,
            Ins::LocalSet(k),
            Ins::Br(0),
            Ins::End,
            Ins::End,
            Ins::F64Const(0.0.into()),
            Ins::LocalGet(sum),
            Ins::LocalGet(total),
            Ins::F64Div,
            Ins::LocalGet(total),
            Ins::F64Const(0.0.into()),
            Ins::F64Le,
            Ins::Select,
        ]);
        // `select(a, b, c)` is `c ? a : b`: 0.0 when the total is <= 0.
    }

    pub(super) fn alloc_tv(&mut self) -> u32 {
        let out = self.scratch(I32);
        self.b.all([
            Ins::I32Const(48),
            Ins::I32Const(8),
            Ins::Call(self.idx.helper(Helper::Alloc)),
            Ins::LocalSet(out),
        ]);
        out
    }
}
