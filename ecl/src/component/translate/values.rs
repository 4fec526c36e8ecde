//! Values the VM converts: to text (as `str()` does) and equality.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::component::Compiled;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// `str(x)` for a value of static type `t`.
    pub(super) fn text_value(&mut self, t: Kind, at: usize) -> Compiled {
        match t {
            Kind::Str | Kind::Did => {}
            Kind::Num => {
                self.b.all([
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::FormatNumber)?),
                    Ins::I32Const(RET),
                    Ins::I64Load32U(mem(0, 2)),
                    Ins::I64Const(32),
                    Ins::I64Shl,
                    Ins::I32Const(RET),
                    Ins::I64Load32U(mem(4, 2)),
                    Ins::I64Or,
                ]);
            }
            Kind::Bool => {
                let (yes, no) = (self.data.string("true"), self.data.string("false"));
                self.b.all([
                    Ins::If(BlockType::Result(I64)),
                    Ins::I64Const(yes),
                    Ins::Else,
                    Ins::I64Const(no),
                    Ins::End,
                ]);
            }
            Kind::Null => {
                let null = self.data.string("null");
                self.b.all([Ins::Drop, Ins::I64Const(null)]);
            }
            Kind::Any => {
                // By tag: strings and DIDs as they are, numbers formatted,
                // bools and null spelled, trust vectors and arrays refused.
                let bx = self.scratch(I32);
                let tag = self.scratch(I32);
                let out = self.scratch(I64);
                let (yes, no, null) = (
                    self.data.string("true"),
                    self.data.string("false"),
                    self.data.string("null"),
                );
                self.b.all([
                    Ins::LocalTee(bx),
                    Ins::I32Load(mem(0, 2)),
                    Ins::LocalSet(tag),
                    Ins::I64Const(null),
                    Ins::LocalSet(out),
                    Ins::LocalGet(tag),
                    Ins::I32Const(T_STRING),
                    Ins::I32Eq,
                    Ins::LocalGet(tag),
                    Ins::I32Const(T_DID),
                    Ins::I32Eq,
                    Ins::I32Or,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(bx),
                    Ins::I64Load(mem(8, 3)),
                    Ins::LocalSet(out),
                    Ins::End,
                    Ins::LocalGet(tag),
                    Ins::I32Const(T_BOOL),
                    Ins::I32Eq,
                    Ins::If(BlockType::Empty),
                    Ins::I64Const(yes),
                    Ins::I64Const(no),
                    Ins::LocalGet(bx),
                    Ins::I64Load(mem(8, 3)),
                    Ins::I32WrapI64,
                    Ins::Select,
                    Ins::LocalSet(out),
                    Ins::End,
                    Ins::LocalGet(tag),
                    Ins::I32Const(T_NUMBER),
                    Ins::I32Eq,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(bx),
                    Ins::F64Load(mem(8, 3)),
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::FormatNumber)?),
                    Ins::I32Const(RET),
                    Ins::I64Load32U(mem(0, 2)),
                    Ins::I64Const(32),
                    Ins::I64Shl,
                    Ins::I32Const(RET),
                    Ins::I64Load32U(mem(4, 2)),
                    Ins::I64Or,
                    Ins::LocalSet(out),
                    Ins::End,
                    Ins::LocalGet(tag),
                    Ins::I32Const(T_TRUST),
                    Ins::I32GeU,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(tag),
                    Ins::I64ExtendI32U,
                    Ins::GlobalSet(global::ERROR_A),
                ]);
                self.record_err(err::STR, 1);
                self.b.all([Ins::End, Ins::LocalGet(out)]);
            }
            _ => return Err(self.unsupported(at, "str() of a trust vector or an array")),
        }
        Ok(())
    }

    /// `==` on the top two values (any types); leaves a bool.
    pub(super) fn equality(&mut self, at: usize) -> Compiled {
        let tb = self.pop(at)?;
        let ta = self.pop(at)?;
        use Kind::*;
        match (ta, tb) {
            (Num, Num) => {
                self.b.i(Ins::F64Eq);
            }
            (Bool, Bool) => {
                self.b.i(Ins::I32Eq);
            }
            (Null, Null) => {
                self.b.all([Ins::Drop, Ins::Drop, Ins::I32Const(1)]);
            }
            (Str, Str) | (Did, Did) => {
                self.b.i(Ins::Call(self.idx.helper(Helper::StrEq)));
            }
            (Trust, Trust) => {
                self.b.i(Ins::Call(self.idx.helper(Helper::TvEq)));
            }
            (a, b) if a == Any || b == Any || (a == Arr && b == Arr) => {
                let keep = self.scratch(I32);
                self.box_top(b);
                self.b.i(Ins::LocalSet(keep));
                self.box_top(a);
                self.b.all([
                    Ins::LocalGet(keep),
                    Ins::Call(self.idx.helper(Helper::AnyEq)),
                ]);
            }
            _ => {
                // Different kinds are never equal.
                self.b.all([Ins::Drop, Ins::Drop, Ins::I32Const(0)]);
            }
        }
        Ok(())
    }
}
