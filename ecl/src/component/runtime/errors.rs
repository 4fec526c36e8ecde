//! Recording a type error, and a host call's error, for the result.

use wasm_encoder::Instruction as Ins;
use wasm_encoder::ValType::I32;

use crate::component::emit::*;
use crate::component::layout::*;

/// `(expected, tag)`: records `Expected <expected>, got <tag>`.
pub(crate) fn fail_type() -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[]);
    b.all([
        Ins::I32Const(err::TYPE),
        Ins::GlobalSet(global::ERROR),
        Ins::LocalGet(0),
        Ins::I64ExtendI32U,
        Ins::GlobalSet(global::ERROR_A),
        Ins::LocalGet(1),
        Ins::I64ExtendI32U,
        Ins::GlobalSet(global::ERROR_B),
    ]);
    b
}

/// `(at)`: records the error a host call returned in the `RET` area: its
/// `error` record is at `RET + at` (the payload offset of the result).
pub(crate) fn host_err() -> FunctionBody {
    let mut b = FunctionBody::new(&[I32], &[]);
    b.all([
        Ins::I32Const(err::HOST),
        Ins::GlobalSet(global::ERROR),
        Ins::LocalGet(0),
        Ins::I64Load8U(mem(RET as u64, 0)),
        Ins::GlobalSet(global::ERROR_A),
        Ins::LocalGet(0),
        Ins::I64Load32U(mem(RET as u64 + 4, 2)),
        Ins::I64Const(32),
        Ins::I64Shl,
        Ins::LocalGet(0),
        Ins::I64Load32U(mem(RET as u64 + 8, 2)),
        Ins::I64Or,
        Ins::GlobalSet(global::ERROR_B),
    ]);
    b
}
