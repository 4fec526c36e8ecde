//! Boxed values: equality, membership, and coercions to the type an
//! instruction needs, failing with the VM's type errors.

use wasm_encoder::ValType::{F64, I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use crate::component::emit::*;
use crate::component::layout::*;
use crate::component::module::{Helper, Index};

/// `(a, b) -> bool`: trust vectors equal in every dimension.
pub(crate) fn tv_eq() -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[I32]);
    b.i(Ins::I32Const(1));
    for d in 0..6u64 {
        b.all([
            Ins::LocalGet(0),
            Ins::F64Load(mem(d * 8, 3)),
            Ins::LocalGet(1),
            Ins::F64Load(mem(d * 8, 3)),
            Ins::F64Eq,
            Ins::I32And,
        ]);
    }
    b
}

/// `(a, b) -> bool`: the legacy structural equality of two boxes.
pub(crate) fn any_eq(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[I32]);
    let (tag, n, i) = (b.local(I32), b.local(I32), b.local(I32));
    let payload = |box_local: u32| Ins::LocalGet(box_local);
    b.all([
        Ins::LocalGet(0),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(tag),
        Ins::LocalGet(1),
        Ins::I32Load(mem(0, 2)),
        Ins::I32Ne,
        Ins::If(BlockType::Empty),
        Ins::I32Const(0),
        Ins::Return,
        Ins::End,
        // null
        Ins::LocalGet(tag),
        Ins::I32Eqz,
        Ins::If(BlockType::Empty),
        Ins::I32Const(1),
        Ins::Return,
        Ins::End,
        // number
        Ins::LocalGet(tag),
        Ins::I32Const(T_NUMBER),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        payload(0),
        Ins::F64Load(mem(8, 3)),
        payload(1),
        Ins::F64Load(mem(8, 3)),
        Ins::F64Eq,
        Ins::Return,
        Ins::End,
        // string, did
        Ins::LocalGet(tag),
        Ins::I32Const(T_STRING),
        Ins::I32Eq,
        Ins::LocalGet(tag),
        Ins::I32Const(T_DID),
        Ins::I32Eq,
        Ins::I32Or,
        Ins::If(BlockType::Empty),
        payload(0),
        Ins::I64Load(mem(8, 3)),
        payload(1),
        Ins::I64Load(mem(8, 3)),
        Ins::Call(idx.helper(Helper::StrEq)),
        Ins::Return,
        Ins::End,
        // trust vector
        Ins::LocalGet(tag),
        Ins::I32Const(T_TRUST),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        payload(0),
        Ins::I32Load(mem(8, 2)),
        payload(1),
        Ins::I32Load(mem(8, 2)),
        Ins::Call(idx.helper(Helper::TvEq)),
        Ins::Return,
        Ins::End,
        // array: same length and equal elements
        Ins::LocalGet(tag),
        Ins::I32Const(T_ARRAY),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        payload(0),
        Ins::I32Load(mem(8, 2)),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(n),
        payload(1),
        Ins::I32Load(mem(8, 2)),
        Ins::I32Load(mem(0, 2)),
        Ins::I32Ne,
        Ins::If(BlockType::Empty),
        Ins::I32Const(0),
        Ins::Return,
        Ins::End,
    ]);
    // Element by element: any_eq(&left[i], &right[i]).
    let mut body = vec![payload(0), Ins::I32Load(mem(8, 2))];
    body.extend(element_addr(i));
    body.extend([payload(1), Ins::I32Load(mem(8, 2))]);
    body.extend(element_addr(i));
    body.extend([
        Ins::Call(idx.helper(Helper::AnyEq)),
        Ins::I32Eqz,
        Ins::If(BlockType::Empty),
        Ins::I32Const(0),
        Ins::Return,
        Ins::End,
    ]);
    b.all(count_up(i, Ins::LocalGet(n), body));
    b.all([
        Ins::I32Const(1),
        Ins::Return,
        Ins::End,
        // bool
        payload(0),
        Ins::I64Load(mem(8, 3)),
        payload(1),
        Ins::I64Load(mem(8, 3)),
        Ins::I64Eq,
    ]);
    b
}

/// `(box, array) -> bool`: whether an element equals the box.
pub(crate) fn array_contains(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[I32]);
    let (n, i) = (b.local(I32), b.local(I32));
    b.all([Ins::LocalGet(1), Ins::I32Load(mem(0, 2)), Ins::LocalSet(n)]);
    // Element by element: any_eq(&array[i], needle).
    let mut body = vec![Ins::LocalGet(1)];
    body.extend(element_addr(i));
    body.extend([
        Ins::LocalGet(0),
        Ins::Call(idx.helper(Helper::AnyEq)),
        Ins::If(BlockType::Empty),
        Ins::I32Const(1),
        Ins::Return,
        Ins::End,
    ]);
    b.all(count_up(i, Ins::LocalGet(n), body));
    b.all([Ins::I32Const(0)]);
    b
}

/// `box -> f64`: numbers, and bools as 1 or 0.
pub(crate) fn any_num(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32], &[F64]);
    let tag = b.local(I32);
    b.all([
        Ins::LocalGet(0),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(tag),
        Ins::I32Const(T_NUMBER),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::F64Load(mem(8, 3)),
        Ins::Return,
        Ins::End,
        Ins::LocalGet(tag),
        Ins::I32Const(T_BOOL),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::I64Load(mem(8, 3)),
        Ins::F64ConvertI64U,
        Ins::Return,
        Ins::End,
        Ins::I32Const(E_NUMBER),
        Ins::LocalGet(tag),
        Ins::Call(idx.helper(Helper::FailType)),
        Ins::F64Const(0.0.into()),
    ]);
    b
}

/// `box -> i32`: bools, null as false, numbers as `!= 0`.
pub(crate) fn any_bool(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32], &[I32]);
    let tag = b.local(I32);
    b.all([
        Ins::LocalGet(0),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(tag),
        Ins::I32Const(T_BOOL),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::I64Load(mem(8, 3)),
        Ins::I64Const(0),
        Ins::I64Ne,
        Ins::Return,
        Ins::End,
        Ins::LocalGet(tag),
        Ins::I32Eqz,
        Ins::If(BlockType::Empty),
        Ins::I32Const(0),
        Ins::Return,
        Ins::End,
        Ins::LocalGet(tag),
        Ins::I32Const(T_NUMBER),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::F64Load(mem(8, 3)),
        Ins::F64Const(0.0.into()),
        Ins::F64Ne,
        Ins::Return,
        Ins::End,
        Ins::I32Const(E_BOOL),
        Ins::LocalGet(tag),
        Ins::Call(idx.helper(Helper::FailType)),
        Ins::I32Const(0),
    ]);
    b
}

/// `(box, expected) -> i64`: strings and DIDs.
pub(crate) fn any_text(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32, I32], &[I64]);
    let tag = b.local(I32);
    b.all([
        Ins::LocalGet(0),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(tag),
        Ins::I32Const(T_STRING),
        Ins::I32Eq,
        Ins::LocalGet(tag),
        Ins::I32Const(T_DID),
        Ins::I32Eq,
        Ins::I32Or,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::I64Load(mem(8, 3)),
        Ins::Return,
        Ins::End,
        Ins::LocalGet(1),
        Ins::LocalGet(tag),
        Ins::Call(idx.helper(Helper::FailType)),
        Ins::I64Const(0),
    ]);
    b
}

/// `box -> ptr` for a trust vector or an array.
pub(crate) fn any_ptr(idx: &Index, want: i32, expected: i32) -> FunctionBody {
    let mut b = FunctionBody::new(&[I32], &[I32]);
    let tag = b.local(I32);
    b.all([
        Ins::LocalGet(0),
        Ins::I32Load(mem(0, 2)),
        Ins::LocalTee(tag),
        Ins::I32Const(want),
        Ins::I32Eq,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(0),
        Ins::I32Load(mem(8, 2)),
        Ins::Return,
        Ins::End,
        Ins::I32Const(expected),
        Ins::LocalGet(tag),
        Ins::Call(idx.helper(Helper::FailType)),
        Ins::I32Const(0),
    ]);
    b
}
