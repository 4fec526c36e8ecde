//! Building function bodies and static data, and small instruction
//! sequences the helpers and the translator share.

use std::collections::BTreeMap;

use wasm_encoder::ValType::I32;
use wasm_encoder::{BlockType, Function, Instruction as Ins, ValType};

use super::layout::*;

/// A function body under construction.
pub(crate) struct FunctionBody {
    pub(crate) params: Vec<ValType>,
    pub(crate) results: Vec<ValType>,
    locals: Vec<ValType>,
    ins: Vec<Ins<'static>>,
}

impl FunctionBody {
    pub(crate) fn new(params: &[ValType], results: &[ValType]) -> Self {
        Self {
            params: params.to_vec(),
            results: results.to_vec(),
            locals: Vec::new(),
            ins: Vec::new(),
        }
    }

    pub(crate) fn local(&mut self, t: ValType) -> u32 {
        self.locals.push(t);
        (self.params.len() + self.locals.len() - 1) as u32
    }

    pub(crate) fn i(&mut self, ins: Ins<'static>) -> &mut Self {
        self.ins.push(ins);
        self
    }

    pub(crate) fn all(&mut self, ins: impl IntoIterator<Item = Ins<'static>>) -> &mut Self {
        self.ins.extend(ins);
        self
    }

    pub(crate) fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        for ins in &self.ins {
            f.instruction(ins);
        }
        f.instruction(&Ins::End);
        f
    }
}

/// Static data: strings and cost tables.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) bytes: Vec<u8>,
    strings: BTreeMap<String, u32>,
}

impl Data {
    pub(crate) fn string(&mut self, s: &str) -> i64 {
        let at = match self.strings.get(s) {
            Some(at) => *at,
            None => {
                let at = DATA + self.bytes.len() as u32;
                self.bytes.extend_from_slice(s.as_bytes());
                self.strings.insert(s.to_owned(), at);
                at
            }
        };
        pack(at, s.len() as u32)
    }

    pub(crate) fn align(&mut self, n: usize) {
        while !self.bytes.len().is_multiple_of(n) {
            self.bytes.push(0);
        }
    }

    /// A table of packed strings, 8 bytes each.
    pub(crate) fn string_table(&mut self, items: &[&str]) -> i32 {
        let packed: Vec<i64> = items.iter().map(|s| self.string(s)).collect();
        self.align(8);
        let at = DATA + self.bytes.len() as u32;
        for p in packed {
            self.bytes.extend_from_slice(&p.to_le_bytes());
        }
        at as i32
    }

    pub(crate) fn costs(&mut self, costs: &[u64]) -> i32 {
        self.align(4);
        let at = DATA + self.bytes.len() as u32;
        for c in costs {
            self.bytes
                .extend_from_slice(&u32::try_from(*c).unwrap_or(u32::MAX).to_le_bytes());
        }
        at as i32
    }
}

pub(crate) fn pack(ptr: u32, len: u32) -> i64 {
    (i64::from(ptr) << 32) | i64::from(len)
}

/// `while i < bound { body; i += 1 }` with `i` a local; `body` runs two
/// blocks deep (`br 1` in it leaves the loop).
/// With an array's pointer on the stack, the address of its element at the
/// index in local `i`: arrays are an 8-byte header, then 16-byte tagged slots.
pub(crate) fn element_addr(i: u32) -> [Ins<'static>; 6] {
    [
        Ins::I32Const(8),
        Ins::I32Add,
        Ins::LocalGet(i),
        Ins::I32Const(16),
        Ins::I32Mul,
        Ins::I32Add,
    ]
}

pub(crate) fn count_up(i: u32, bound: Ins<'static>, body: Vec<Ins<'static>>) -> Vec<Ins<'static>> {
    let mut out = vec![
        Ins::Block(BlockType::Empty),
        Ins::Loop(BlockType::Empty),
        Ins::LocalGet(i),
        bound,
        Ins::I32GeU,
        Ins::BrIf(1),
    ];
    out.extend(body);
    out.extend([
        Ins::LocalGet(i),
        Ins::I32Const(1),
        Ins::I32Add,
        Ins::LocalSet(i),
        Ins::Br(0),
        Ins::End,
        Ins::End,
    ]);
    out
}

/// Pushes the pointer, then the length, of the packed string in `local`.
pub(crate) fn unpack(local: u32) -> [Ins<'static>; 6] {
    [
        Ins::LocalGet(local),
        Ins::I64Const(32),
        Ins::I64ShrU,
        Ins::I32WrapI64,
        Ins::LocalGet(local),
        Ins::I32WrapI64,
    ]
}

/// Packs `(ptr, len)` on the stack into one `i64`.
pub(crate) fn pack_stack(b: &mut FunctionBody) {
    let len = b.local(I32);
    b.all([
        Ins::LocalSet(len),
        Ins::I64ExtendI32U,
        Ins::I64Const(32),
        Ins::I64Shl,
        Ins::LocalGet(len),
        Ins::I64ExtendI32U,
        Ins::I64Or,
    ]);
}
