//! Numbers: arithmetic, rounding, `min`/`max`, `sqrt`, `surprisal`, `clamp`, `lerp`.

use wasm_encoder::ValType::F64;
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::imports::HostImport;
use crate::component::layout::*;

impl Translator<'_> {
    /// Numbers: arithmetic, rounding, `min`/`max`, `sqrt`, `surprisal`, `clamp`, `lerp`.
    pub(super) fn arithmetic(&mut self, at: usize, cost: u64) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        match op {
            O::Add | O::Sub | O::Mul => {
                let charged = self.charge_if_top_boxed(2, cost);
                self.num2(at)?;
                self.b.i(match op {
                    O::Add => Ins::F64Add,
                    O::Sub => Ins::F64Sub,
                    _ => Ins::F64Mul,
                });
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::Div | O::Mod => {
                self.charge_one(cost);
                self.num2(at)?;
                let (a, b) = (self.scratch(F64), self.scratch(F64));
                self.b.all([
                    Ins::LocalSet(b),
                    Ins::LocalSet(a),
                    Ins::LocalGet(b),
                    Ins::F64Const(0.0.into()),
                    Ins::F64Eq,
                    Ins::If(BlockType::Empty),
                ]);
                self.record_err(
                    if matches!(op, O::Div) {
                        err::DIV_ZERO
                    } else {
                        err::MOD_ZERO
                    },
                    1,
                );
                self.b.all([Ins::End, Ins::LocalGet(a), Ins::LocalGet(b)]);
                if matches!(op, O::Div) {
                    self.b.i(Ins::F64Div);
                } else {
                    self.b.all([Ins::Drop, Ins::Drop]);
                    self.fmod(a, b)?;
                }
                self.stack.push(Kind::Num);
            }
            O::Neg | O::MathAbs | O::MathFloor | O::MathCeil | O::MathRound => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_num(t, at)?;
                match op {
                    O::Neg => {
                        self.b.i(Ins::F64Neg);
                    }
                    O::MathAbs => {
                        self.b.i(Ins::F64Abs);
                    }
                    O::MathFloor => {
                        self.b.i(Ins::F64Floor);
                    }
                    O::MathCeil => {
                        self.b.i(Ins::F64Ceil);
                    }
                    _ => self.round(),
                }
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::Min | O::Max => {
                let charged = self.charge_if_top_boxed(2, cost);
                self.num2(at)?;
                let (a, b) = (self.scratch(F64), self.scratch(F64));
                // Legacy: NaN in a, or b strictly better, gives b; else a.
                self.b.all([
                    Ins::LocalSet(b),
                    Ins::LocalSet(a),
                    Ins::LocalGet(b),
                    Ins::LocalGet(a),
                    Ins::LocalGet(a),
                    Ins::LocalGet(a),
                    Ins::F64Ne,
                    Ins::LocalGet(b),
                    Ins::LocalGet(a),
                    if matches!(op, O::Max) {
                        Ins::F64Gt
                    } else {
                        Ins::F64Lt
                    },
                    Ins::I32Or,
                    Ins::Select,
                ]);
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::Surprisal | O::MathSqrt => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_num(t, at)?;
                let x = self.scratch(F64);
                self.b.i(Ins::LocalTee(x));
                let surprisal = matches!(op, O::Surprisal);
                if surprisal {
                    self.b.all([
                        Ins::F64Const(0.0.into()),
                        Ins::F64Le,
                        Ins::LocalGet(x),
                        Ins::F64Const(1.0.into()),
                        Ins::F64Gt,
                        Ins::I32Or,
                    ]);
                } else {
                    self.b.all([Ins::F64Const(0.0.into()), Ins::F64Lt]);
                }
                self.b.all([
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(x),
                    Ins::I64ReinterpretF64,
                    Ins::GlobalSet(global::ERROR_A),
                ]);
                self.record_err(if surprisal { err::SURPRISAL } else { err::SQRT }, 1);
                self.b.all([Ins::End, Ins::LocalGet(x)]);
                if surprisal {
                    self.b
                        .all([Ins::Call(self.idx.import(HostImport::Log2)?), Ins::F64Neg]);
                } else {
                    self.b.i(Ins::F64Sqrt);
                }
                self.stack.push(Kind::Num);
            }
            O::Clamp => {
                self.charge_one(cost);
                let (tmax, tmin, tv) = (self.pop(at)?, self.pop(at)?, self.pop(at)?);
                let (max, min, v) = (self.scratch(F64), self.scratch(F64), self.scratch(F64));
                for (t, l) in [(tmax, max), (tmin, min), (tv, v)] {
                    self.coerce_num(t, at)?;
                    self.b.i(Ins::LocalSet(l));
                }
                // !(min <= max), NaN included.
                self.b.all([
                    Ins::LocalGet(min),
                    Ins::LocalGet(max),
                    Ins::F64Le,
                    Ins::I32Eqz,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(min),
                    Ins::I64ReinterpretF64,
                    Ins::GlobalSet(global::ERROR_A),
                    Ins::LocalGet(max),
                    Ins::I64ReinterpretF64,
                    Ins::GlobalSet(global::ERROR_B),
                ]);
                self.record_err(err::CLAMP, 1);
                // Rust's clamp: below min becomes min, then above max becomes max.
                self.b.all([
                    Ins::End,
                    Ins::LocalGet(min),
                    Ins::LocalGet(v),
                    Ins::LocalGet(v),
                    Ins::LocalGet(min),
                    Ins::F64Lt,
                    Ins::Select,
                    Ins::LocalSet(v),
                    Ins::LocalGet(max),
                    Ins::LocalGet(v),
                    Ins::LocalGet(v),
                    Ins::LocalGet(max),
                    Ins::F64Gt,
                    Ins::Select,
                ]);
                self.stack.push(Kind::Num);
            }
            O::Lerp => {
                let types: Vec<Kind> = (0..3).map(|_| self.pop(at)).collect::<Compiled<_>>()?;
                let charged = self.charge_if_boxed(&types, cost);
                let (t, b, a) = (self.scratch(F64), self.scratch(F64), self.scratch(F64));
                for (ty, l) in types.iter().zip([t, b, a]) {
                    self.coerce_num(*ty, at)?;
                    self.b.i(Ins::LocalSet(l));
                }
                self.b.all([
                    Ins::LocalGet(a),
                    Ins::LocalGet(t),
                    Ins::LocalGet(b),
                    Ins::LocalGet(a),
                    Ins::F64Sub,
                    Ins::F64Mul,
                    Ins::F64Add,
                ]);
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
