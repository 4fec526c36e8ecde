//! Allocation: the bump allocator, `cabi_realloc`, and boxing values whose
//! type is known only at run time.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use crate::component::emit::*;
use crate::component::layout::*;
use crate::component::module::{Helper, Index};

/// `(size, align) -> ptr`: a bump allocator that grows memory as needed.
pub(crate) fn alloc() -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[I32]);
    let ptr = b.local(I32);
    let end = b.local(I32);
    b.all([
        Ins::GlobalGet(global::HEAP),
        Ins::LocalGet(1),
        Ins::I32Add,
        Ins::I32Const(1),
        Ins::I32Sub,
        Ins::I32Const(0),
        Ins::LocalGet(1),
        Ins::I32Sub,
        Ins::I32And,
        Ins::LocalTee(ptr),
        Ins::LocalGet(0),
        Ins::I32Add,
        Ins::LocalTee(end),
        Ins::MemorySize(0),
        Ins::I32Const(16),
        Ins::I32Shl,
        Ins::I32GtU,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(end),
        Ins::MemorySize(0),
        Ins::I32Const(16),
        Ins::I32Shl,
        Ins::I32Sub,
        Ins::I32Const(0xffff),
        Ins::I32Add,
        Ins::I32Const(16),
        Ins::I32ShrU,
        Ins::MemoryGrow(0),
        Ins::I32Const(-1),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::Unreachable,
        Ins::End,
        Ins::End,
        Ins::LocalGet(end),
        Ins::GlobalSet(global::HEAP),
        Ins::LocalGet(ptr),
    ]);
    b
}

/// `cabi_realloc(old, old_size, align, new_size) -> ptr`.
pub(crate) fn realloc(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32, I32, I32], &[I32]);
    let new = b.local(I32);
    b.all([
        Ins::LocalGet(3),
        Ins::LocalGet(2),
        Ins::Call(idx.helper(Helper::Alloc)),
        Ins::LocalSet(new),
        Ins::LocalGet(0),
        Ins::If(BlockType::Empty),
        Ins::LocalGet(new),
        Ins::LocalGet(0),
        Ins::LocalGet(1),
        Ins::LocalGet(3),
        Ins::LocalGet(1),
        Ins::LocalGet(3),
        Ins::I32LtU,
        Ins::Select,
        Ins::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        Ins::End,
        Ins::LocalGet(new),
    ]);
    b
}

/// `(tag, payload) -> box`.
pub(crate) fn boxed(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I64], &[I32]);
    let p = b.local(I32);
    b.all([
        Ins::I32Const(16),
        Ins::I32Const(8),
        Ins::Call(idx.helper(Helper::Alloc)),
        Ins::LocalTee(p),
        Ins::LocalGet(0),
        Ins::I32Store(mem(0, 2)),
        Ins::LocalGet(p),
        Ins::LocalGet(1),
        Ins::I64Store(mem(8, 3)),
        Ins::LocalGet(p),
    ]);
    b
}
