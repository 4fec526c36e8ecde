//! Gas: flushing pending compute gas to the host, and finding the exact
//! instruction where the budget runs out.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use crate::component::Compiled;
use crate::component::emit::*;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::{Helper, Index};

/// Charges the compute gas not yet charged.
pub(crate) fn flush(idx: &Index) -> Compiled<FunctionBody> {
    let mut b = FunctionBody::new(&[], &[]);
    b.all([
        Ins::GlobalGet(global::GAS_PENDING),
        Ins::I64Eqz,
        Ins::If(BlockType::Empty),
        Ins::Return,
        Ins::End,
        Ins::I32Const(1), // compute
        Ins::GlobalGet(global::GAS_PENDING),
        Ins::Call(idx.import(HostImport::ConsumeGas)?),
        Ins::I64Const(0),
        Ins::GlobalSet(global::GAS_PENDING),
    ]);
    Ok(b)
}

/// `(cost)`: the budget cannot pay `cost`; charge what is pending, then
/// the refused amount, which makes the host end the run as the VM would.
pub(crate) fn oog_one(idx: &Index) -> Compiled<FunctionBody> {
    let mut b = FunctionBody::new(&[I64], &[]);
    b.all([
        Ins::Call(idx.helper(Helper::Flush)),
        Ins::I32Const(1),
        Ins::LocalGet(0),
        Ins::Call(idx.import(HostImport::ConsumeGas)?),
        Ins::Unreachable,
    ]);
    Ok(b)
}

/// `(cost)`: charges `cost` compute gas computed at run time (0 is free),
/// refusing it as [`oog_one`] does when the budget cannot pay it.
pub(crate) fn charge_gas(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I64], &[]);
    b.all([
        Ins::GlobalGet(global::GAS_LEFT),
        Ins::LocalGet(0),
        Ins::I64LtS,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::Call(idx.helper(Helper::OogOne)),
        Ins::End,
        Ins::GlobalGet(global::GAS_LEFT),
        Ins::LocalGet(0),
        Ins::I64Sub,
        Ins::GlobalSet(global::GAS_LEFT),
        Ins::GlobalGet(global::GAS_PENDING),
        Ins::LocalGet(0),
        Ins::I64Add,
        Ins::GlobalSet(global::GAS_PENDING),
    ]);
    b
}

/// `(table, n)`: the budget cannot pay a run of `n` instructions whose
/// costs are at `table`: find the first that does not fit and refuse it.
pub(crate) fn oog_table(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[]);
    let (acc, c, i) = (b.local(I64), b.local(I64), b.local(I32));
    b.all([
        Ins::Loop(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::LocalGet(i),
        Ins::I32Const(4),
        Ins::I32Mul,
        Ins::I32Add,
        Ins::I64Load32U(mem(0, 2)),
        Ins::LocalSet(c),
        Ins::GlobalGet(global::GAS_LEFT),
        Ins::LocalGet(acc),
        Ins::LocalGet(c),
        Ins::I64Add,
        Ins::I64LtS,
        Ins::If(BlockType::Empty),
        Ins::GlobalGet(global::GAS_PENDING),
        Ins::LocalGet(acc),
        Ins::I64Add,
        Ins::GlobalSet(global::GAS_PENDING),
        Ins::LocalGet(c),
        Ins::Call(idx.helper(Helper::OogOne)),
        Ins::End,
        Ins::LocalGet(acc),
        Ins::LocalGet(c),
        Ins::I64Add,
        Ins::LocalSet(acc),
        Ins::LocalGet(i),
        Ins::I32Const(1),
        Ins::I32Add,
        Ins::LocalTee(i),
        Ins::LocalGet(1),
        Ins::I32LtU,
        Ins::BrIf(0),
        Ins::End,
        Ins::Unreachable,
    ]);
    b
}
