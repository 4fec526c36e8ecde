//! Strings, arrays and conversions between value kinds.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::bytecode::{CONCAT_BYTES_PER_GAS, MAX_TEXT_BYTES, OpCode};
use crate::component::Compiled;
use crate::component::emit::*;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// Strings, arrays and conversions between value kinds.
    pub(super) fn value(&mut self, at: usize, cost: u64) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        match op {
            O::StrLen => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_text(t, E_STRING, at)?;
                self.b.all([Ins::I32WrapI64, Ins::F64ConvertI32U]);
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::StrContains | O::StrEqIgnoreCase => {
                let charged = self.charge_if_top_boxed(2, cost);
                self.two(at, |g, t, at| {
                    g.coerce_text(t, E_STRING, at)?;
                    Ok(I64)
                })?;
                if matches!(op, O::StrContains) {
                    self.b.i(Ins::Call(self.idx.helper(Helper::StrContains)));
                } else {
                    let (x, y) = (self.scratch(I64), self.scratch(I64));
                    self.b.all([Ins::LocalSet(y), Ins::LocalSet(x)]);
                    self.b.all(unpack(x));
                    self.b.all(unpack(y));
                    self.b
                        .i(Ins::Call(self.idx.import(HostImport::EqIgnoreCase)?));
                }
                self.stack.push(Kind::Bool);
                self.charge_unless(charged, cost);
            }
            O::Contains => {
                let ta = self.pop(at)?;
                let tv = self.pop(at)?;
                // Only the array's coercion can fail; the value is boxed as it is.
                let charged = self.charge_if_boxed(&[ta], cost);
                self.coerce_ptr(ta, Kind::Arr, at)?;
                let arr = self.scratch(I32);
                self.b.i(Ins::LocalSet(arr));
                self.box_top(tv);
                self.b.all([
                    Ins::LocalGet(arr),
                    Ins::Call(self.idx.helper(Helper::Contains)),
                ]);
                self.stack.push(Kind::Bool);
                self.charge_unless(charged, cost);
            }
            O::ArrayLen => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_ptr(t, Kind::Arr, at)?;
                self.b.all([Ins::I32Load(mem(0, 2)), Ins::F64ConvertI32U]);
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::ArrayGet => {
                let ti = self.pop(at)?;
                let ta = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_num(ti, at)?;
                let i = self.scratch(I64);
                self.b.all([Ins::I64TruncSatF64U, Ins::LocalSet(i)]);
                self.coerce_ptr(ta, Kind::Arr, at)?;
                let arr = self.scratch(I32);
                self.b.all([
                    Ins::LocalTee(arr),
                    Ins::I64Load32U(mem(0, 2)),
                    Ins::LocalGet(i),
                    Ins::I64LeU,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(i),
                    Ins::GlobalSet(global::ERROR_A),
                    Ins::LocalGet(arr),
                    Ins::I64Load32U(mem(0, 2)),
                    Ins::GlobalSet(global::ERROR_B),
                ]);
                self.record_err(err::INDEX, 1);
                self.b.all([
                    Ins::End,
                    Ins::LocalGet(arr),
                    Ins::I32Const(8),
                    Ins::I32Add,
                    Ins::LocalGet(i),
                    Ins::I32WrapI64,
                    Ins::I32Const(16),
                    Ins::I32Mul,
                    Ins::I32Add,
                ]);
                self.stack.push(Kind::Any);
            }
            O::MakeArray(n) => {
                let n = *n as usize;
                let mut types = Vec::with_capacity(n);
                let mut boxes = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = self.pop(at)?;
                    self.box_top(t);
                    let l = self.scratch(I32);
                    self.b.i(Ins::LocalSet(l));
                    types.push(t);
                    boxes.push(l);
                }
                boxes.reverse();
                let arr = self.scratch(I32);
                self.b.all([
                    Ins::I32Const(8 + 16 * n as i32),
                    Ins::I32Const(8),
                    Ins::Call(self.idx.helper(Helper::Alloc)),
                    Ins::LocalTee(arr),
                    Ins::I32Const(n as i32),
                    Ins::I32Store(mem(0, 2)),
                ]);
                for (k, bx) in boxes.iter().enumerate() {
                    let off = 8 + 16 * k as u64;
                    self.b.all([
                        Ins::LocalGet(arr),
                        Ins::LocalGet(*bx),
                        Ins::I32Load(mem(0, 2)),
                        Ins::I32Store(mem(off, 2)),
                        Ins::LocalGet(arr),
                        Ins::LocalGet(*bx),
                        Ins::I64Load(mem(8, 3)),
                        Ins::I64Store(mem(off + 8, 3)),
                    ]);
                }
                self.b.i(Ins::LocalGet(arr));
                self.stack.push(Kind::Arr);
                self.run.push(cost);
            }
            O::ToText => {
                let t = self.pop(at)?;
                if t == Kind::Any {
                    self.charge_one(cost);
                }
                self.text_value(t, at)?;
                self.stack.push(Kind::Str);
                if t != Kind::Any {
                    self.run.push(cost);
                }
            }
            O::ToNumber => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(t, E_STRING, at)?;
                let s = self.scratch(I64);
                self.b.i(Ins::LocalSet(s));
                self.b.all(unpack(s));
                self.b.all([
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::ParseNumber)?),
                    Ins::I32Const(RET),
                    Ins::I32Load8U(mem(0, 0)),
                    Ins::I32Eqz,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(s),
                    Ins::GlobalSet(global::ERROR_B),
                ]);
                self.record_err(err::NUM, 1);
                self.b
                    .all([Ins::End, Ins::I32Const(RET), Ins::F64Load(mem(8, 3))]);
                self.stack.push(Kind::Num);
            }
            O::Concat => {
                // It can fail (a boxed operand, a result too long, its gas
                // per byte): paid for alone, before it runs, as in the VM.
                self.charge_one(cost);
                self.two(at, |g, t, at| {
                    g.coerce_text(t, E_STRING, at)?;
                    Ok(I64)
                })?;
                let (x, y, len) = (self.scratch(I64), self.scratch(I64), self.scratch(I64));
                self.b.all([
                    Ins::LocalSet(y),
                    Ins::LocalTee(x),
                    Ins::I64Const(0xffff_ffff),
                    Ins::I64And,
                    Ins::LocalGet(y),
                    Ins::I64Const(0xffff_ffff),
                    Ins::I64And,
                    Ins::I64Add,
                    Ins::LocalTee(len),
                    Ins::I64Const(MAX_TEXT_BYTES as i64),
                    Ins::I64GtU,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(len),
                    Ins::GlobalSet(global::ERROR_A),
                ]);
                self.record_err(err::TEXT_LONG, 1);
                self.b.all([
                    Ins::End,
                    Ins::LocalGet(len),
                    Ins::I64Const(CONCAT_BYTES_PER_GAS as i64),
                    Ins::I64DivU,
                ]);
                self.b.i(Ins::Call(self.idx.helper(Helper::ChargeGas)));
                self.b.all([
                    Ins::LocalGet(x),
                    Ins::LocalGet(y),
                    Ins::Call(self.idx.helper(Helper::Concat)),
                ]);
                self.stack.push(Kind::Str);
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
