//! String helpers: equality, search, number formatting, concatenation, and
//! finding a request parameter by name.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use crate::component::emit::*;
use crate::component::layout::*;
use crate::component::module::{Helper, Index};

/// `(a, b) -> bool`: byte equality of two strings.
pub(crate) fn str_eq() -> FunctionBody {
    let mut b = FunctionBody::new(&[I64, I64], &[I32]);
    let (pa, pb, n, i) = (b.local(I32), b.local(I32), b.local(I32), b.local(I32));
    b.all([
        Ins::LocalGet(0),
        Ins::I32WrapI64,
        Ins::LocalTee(n),
        Ins::LocalGet(1),
        Ins::I32WrapI64,
        Ins::I32Ne,
        Ins::If(BlockType::Empty),
        Ins::I32Const(0),
        Ins::Return,
        Ins::End,
        Ins::LocalGet(0),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalSet(pa),
        Ins::LocalGet(1),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalSet(pb),
    ]);
    b.all(count_up(
        i,
        Ins::LocalGet(n),
        vec![
            Ins::LocalGet(pa),
            Ins::LocalGet(i),
            Ins::I32Add,
            Ins::I32Load8U(mem(0, 0)),
            Ins::LocalGet(pb),
            Ins::LocalGet(i),
            Ins::I32Add,
            Ins::I32Load8U(mem(0, 0)),
            Ins::I32Ne,
            Ins::If(BlockType::Empty),
            Ins::I32Const(0),
            Ins::Return,
            Ins::End,
        ],
    ));
    b.all([Ins::I32Const(1)]);
    b
}

/// `(haystack, needle) -> bool`: whether `needle` occurs in `haystack`.
pub(crate) fn str_contains(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I64, I64], &[I32]);
    let (hp, hl, nl, i) = (b.local(I32), b.local(I32), b.local(I32), b.local(I32));
    b.all([
        Ins::LocalGet(0),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalSet(hp),
        Ins::LocalGet(0),
        Ins::I32WrapI64,
        Ins::LocalSet(hl),
        Ins::LocalGet(1),
        Ins::I32WrapI64,
        Ins::LocalSet(nl),
        Ins::Block(BlockType::Empty),
        Ins::Loop(BlockType::Empty),
        Ins::LocalGet(i),
        Ins::LocalGet(nl),
        Ins::I32Add,
        Ins::LocalGet(hl),
        Ins::I32GtU,
        Ins::BrIf(1),
        // Compare the needle with the window at i.
        Ins::LocalGet(hp),
        Ins::LocalGet(i),
        Ins::I32Add,
        Ins::I64ExtendI32U,
        Ins::I64Const(32),
        Ins::I64Shl,
        Ins::LocalGet(nl),
        Ins::I64ExtendI32U,
        Ins::I64Or,
        Ins::LocalGet(1),
        Ins::Call(idx.helper(Helper::StrEq)),
        Ins::If(BlockType::Empty),
        Ins::I32Const(1),
        Ins::Return,
        Ins::End,
        Ins::LocalGet(i),
        Ins::I32Const(1),
        Ins::I32Add,
        Ins::LocalSet(i),
        Ins::Br(0),
        Ins::End,
        Ins::End,
        Ins::I32Const(0),
    ]);
    b
}

/// `u64 -> string`: decimal digits.
pub(crate) fn fmt_u64(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I64], &[I64]);
    let (buf, at) = (b.local(I32), b.local(I32));
    b.all([
        Ins::I32Const(20),
        Ins::I32Const(1),
        Ins::Call(idx.helper(Helper::Alloc)),
        Ins::LocalTee(buf),
        Ins::I32Const(20),
        Ins::I32Add,
        Ins::LocalSet(at),
        Ins::Loop(BlockType::Empty),
        Ins::LocalGet(at),
        Ins::I32Const(1),
        Ins::I32Sub,
        Ins::LocalTee(at),
        Ins::LocalGet(0),
        Ins::I64Const(10),
        Ins::I64RemU,
        Ins::I32WrapI64,
        Ins::I32Const(48),
        Ins::I32Add,
        Ins::I32Store8(mem(0, 0)),
        Ins::LocalGet(0),
        Ins::I64Const(10),
        Ins::I64DivU,
        Ins::LocalTee(0),
        Ins::I64Eqz,
        Ins::I32Eqz,
        Ins::BrIf(0),
        Ins::End,
        Ins::LocalGet(at),
        Ins::LocalGet(buf),
        Ins::I32Const(20),
        Ins::I32Add,
        Ins::LocalGet(at),
        Ins::I32Sub,
    ]);
    pack_stack(&mut b);
    b
}

/// `(a, b) -> a ++ b`.
pub(crate) fn concat(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I64, I64], &[I64]);
    let (dst, la, lb) = (b.local(I32), b.local(I32), b.local(I32));
    b.all([
        Ins::LocalGet(0),
        Ins::I32WrapI64,
        Ins::LocalSet(la),
        Ins::LocalGet(1),
        Ins::I32WrapI64,
        Ins::LocalSet(lb),
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::I32Add,
        Ins::I32Const(1),
        Ins::Call(idx.helper(Helper::Alloc)),
        Ins::LocalTee(dst),
        Ins::LocalGet(0),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalGet(la),
        Ins::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        Ins::LocalGet(dst),
        Ins::LocalGet(la),
        Ins::I32Add,
        Ins::LocalGet(1),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalGet(lb),
        Ins::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        Ins::LocalGet(dst),
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::I32Add,
    ]);
    pack_stack(&mut b);
    b
}

/// `(a, b) -> -1 | 0 | 1`: byte-wise order of two strings, as Rust orders
/// `str` (and so the host's `BTreeMap` of parameters).
pub(crate) fn str_cmp() -> FunctionBody {
    let mut b = FunctionBody::new(&[I64, I64], &[I32]);
    let (pa, pb, la, lb, n, i) = (
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
    );
    let (ca, cb) = (b.local(I32), b.local(I32));
    for (packed, ptr, len) in [(0, pa, la), (1, pb, lb)] {
        b.all([
            Ins::LocalGet(packed),
            Ins::I64Const(32),
            Ins::I64ShrU,
            Ins::I32WrapI64,
            Ins::LocalSet(ptr),
            Ins::LocalGet(packed),
            Ins::I32WrapI64,
            Ins::LocalSet(len),
        ]);
    }
    // n = min(la, lb)
    b.all([
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::I32LtU,
        Ins::Select,
        Ins::LocalSet(n),
    ]);
    b.all(count_up(
        i,
        Ins::LocalGet(n),
        vec![
            Ins::LocalGet(pa),
            Ins::LocalGet(i),
            Ins::I32Add,
            Ins::I32Load8U(mem(0, 0)),
            Ins::LocalSet(ca),
            Ins::LocalGet(pb),
            Ins::LocalGet(i),
            Ins::I32Add,
            Ins::I32Load8U(mem(0, 0)),
            Ins::LocalSet(cb),
            Ins::LocalGet(ca),
            Ins::LocalGet(cb),
            Ins::I32Ne,
            Ins::If(BlockType::Empty),
            // (ca > cb) - (ca < cb)
            Ins::LocalGet(ca),
            Ins::LocalGet(cb),
            Ins::I32GtU,
            Ins::LocalGet(ca),
            Ins::LocalGet(cb),
            Ins::I32LtU,
            Ins::I32Sub,
            Ins::Return,
            Ins::End,
        ],
    ));
    // A prefix orders first: (la > lb) - (la < lb).
    b.all([
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::I32GtU,
        Ins::LocalGet(la),
        Ins::LocalGet(lb),
        Ins::I32LtU,
        Ins::I32Sub,
    ]);
    b
}

/// `name -> box`: the request parameter, or null.
///
/// The host passes the parameters in its `BTreeMap`'s order, sorted by
/// name, so this is a binary search: about log2(n) comparisons, where a
/// scan took n/2 (5,000 per evaluation for a policy reading 100 of 100).
pub(crate) fn param(idx: &Index) -> FunctionBody {
    let mut b = FunctionBody::new(&[I64], &[I32]);
    let (lo, hi, mid, p, c, kind) = (
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
        b.local(I32),
    );
    b.all([
        Ins::GlobalGet(global::PARAM_COUNT),
        Ins::LocalSet(hi),
        Ins::Block(BlockType::Empty),
        Ins::Loop(BlockType::Empty),
        Ins::LocalGet(lo),
        Ins::LocalGet(hi),
        Ins::I32GeU,
        Ins::BrIf(1),
        Ins::LocalGet(lo),
        Ins::LocalGet(hi),
        Ins::I32Add,
        Ins::I32Const(1),
        Ins::I32ShrU,
        Ins::LocalTee(mid),
        // param: name (ptr @0, len @4), value: tag @8, payload @16
        Ins::I32Const(24),
        Ins::I32Mul,
        Ins::GlobalGet(global::PARAMS),
        Ins::I32Add,
        Ins::LocalTee(p),
        Ins::I32Load(mem(0, 2)),
        Ins::I64ExtendI32U,
        Ins::I64Const(32),
        Ins::I64Shl,
        Ins::LocalGet(p),
        Ins::I64Load32U(mem(4, 2)),
        Ins::I64Or,
        Ins::LocalGet(0),
        Ins::Call(idx.helper(Helper::StrCmp)),
        Ins::LocalTee(c),
        Ins::I32Eqz,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(p),
        Ins::I32Load8U(mem(8, 0)),
        Ins::LocalTee(kind),
        // null(0) boolean(1) number(2) text(3) did(4): the box tags.
        Ins::LocalGet(kind),
        Ins::I32Const(T_BOOL),
        Ins::I32Eq,
        Ins::If(BlockType::Result(I64)),
        Ins::LocalGet(p),
        Ins::I64Load8U(mem(16, 0)),
        Ins::Else,
        Ins::LocalGet(kind),
        Ins::I32Const(T_NUMBER),
        Ins::I32Eq,
        Ins::If(BlockType::Result(I64)),
        Ins::LocalGet(p),
        Ins::I64Load(mem(16, 3)),
        Ins::Else,
        Ins::LocalGet(p),
        Ins::I32Load(mem(16, 2)),
        Ins::I64ExtendI32U,
        Ins::I64Const(32),
        Ins::I64Shl,
        Ins::LocalGet(p),
        Ins::I64Load32U(mem(20, 2)),
        Ins::I64Or,
        Ins::End,
        Ins::End,
        Ins::Call(idx.helper(Helper::Box)),
        Ins::Return,
        Ins::End,
        // name < needle: search above mid; else below it.
        Ins::LocalGet(c),
        Ins::I32Const(0),
        Ins::I32LtS,
        Ins::If(BlockType::Empty),
        Ins::LocalGet(mid),
        Ins::I32Const(1),
        Ins::I32Add,
        Ins::LocalSet(lo),
        Ins::Else,
        Ins::LocalGet(mid),
        Ins::LocalSet(hi),
        Ins::End,
        Ins::Br(0),
        Ins::End,
        Ins::End,
    ]);
    b.all([
        Ins::I32Const(T_NULL),
        Ins::I64Const(0),
        Ins::Call(idx.helper(Helper::Box)),
    ]);
    b
}
