//! Control flow: `if`/`else` regions, returning, denying, failing.

use wasm_encoder::ValType::I32;
use wasm_encoder::{BlockType, Instruction as Ins};

use super::{Target, Translator};
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::layout::*;

impl Translator<'_> {
    /// `if` from `JumpIfFalse(target)` at `at`, with an `else` when the
    /// instruction before `target` is the `Jump` over it.
    pub(super) fn if_else(
        &mut self,
        at: usize,
        target: usize,
        region_end: usize,
    ) -> Compiled<usize> {
        if target <= at || target > region_end {
            return Err(self.unsupported(at, "a jump the ECL compiler does not emit"));
        }
        let t = self.pop(at)?;
        self.charge_one(2);
        self.coerce_bool(t, at)?;
        let else_end = match self.code.get(target - 1) {
            Some(OpCode::Jump(end)) if target - 1 > at && *end >= target && *end <= region_end => {
                Some(*end)
            }
            _ => None,
        };
        let saved = std::mem::take(&mut self.stack);
        self.open(Ins::If(BlockType::Empty));
        let then_end = if else_end.is_some() {
            target - 1
        } else {
            target
        };
        let stop = self.region(at + 1, then_end)?;
        if stop != then_end || !self.stack.is_empty() {
            return Err(self.unsupported(at, "a branch that leaves values on the stack"));
        }
        let next = match else_end {
            Some(end) => {
                self.charge_one(1); // the Jump over the else branch
                self.b.i(Ins::Else);
                let stop = self.region(target, end)?;
                self.charge_run();
                if stop != end || !self.stack.is_empty() {
                    return Err(self.unsupported(at, "a branch that leaves values on the stack"));
                }
                end
            }
            None => {
                self.charge_run();
                target
            }
        };
        self.close();
        self.stack = saved;
        Ok(next)
    }

    /// The run ends: `t` is the returned value on top of the stack.
    pub(super) fn ret(&mut self, t: Kind) {
        match t {
            Kind::Bool => {
                self.b.all([
                    Ins::I32Eqz, // allow = 0, deny = 1
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 0),
                ]);
            }
            Kind::Any => {
                let bx = self.scratch(I32);
                self.b.all([
                    Ins::LocalTee(bx),
                    Ins::I32Load(mem(0, 2)),
                    Ins::I32Const(T_BOOL),
                    Ins::I32Eq,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(bx),
                    Ins::I64Load(mem(8, 3)),
                    Ins::I64Eqz,
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 1),
                    Ins::End,
                    Ins::LocalGet(bx),
                    Ins::I64Load32U(mem(0, 2)),
                    Ins::GlobalSet(global::ERROR_A),
                    Ins::I32Const(outcome::NOT_BOOL),
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 0),
                ]);
            }
            other => {
                self.b.all([
                    Ins::Drop,
                    Ins::I64Const(i64::from(other.tag())),
                    Ins::GlobalSet(global::ERROR_A),
                    Ins::I32Const(outcome::NOT_BOOL),
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 0),
                ]);
            }
        }
    }

    /// Denies with `reason`, from code `inline` blocks inside the current one.
    pub(super) fn deny_with(&mut self, reason: i64, inline: u32) {
        self.b.all([
            Ins::I64Const(reason),
            Ins::GlobalSet(global::REASON),
            Ins::I32Const(outcome::DENY_REASON),
            Ins::GlobalSet(global::OUTCOME),
            self.br(Target::Exit, inline),
        ]);
    }

    /// Fails with the error `kind`, from code `inline` blocks inside the
    /// current one.
    pub(super) fn record_err(&mut self, kind: i32, inline: u32) {
        let locate = self.fault_location().unwrap_or_default();
        self.b.all(locate);
        self.b.all([
            Ins::I32Const(kind),
            Ins::GlobalSet(global::ERROR),
            self.br(Target::Fail, inline),
        ]);
    }

    /// Code that records where a fault of the current instruction happened
    /// (its source map's location, as the VM's run gives it), if the
    /// program has a source map.
    pub(super) fn fault_location(&mut self) -> Option<Vec<Ins<'static>>> {
        let place = self.source_map?.locate(self.at)?;
        Some(vec![
            Ins::I64Const(self.data.string(&format!("{place}: "))),
            Ins::GlobalSet(global::ERROR_AT),
        ])
    }

    /// Opens a structured block (`if`, `block`): branches from inside it
    /// count it.
    pub(super) fn open(&mut self, block: Ins<'static>) {
        self.b.i(block);
        self.blocks += 1;
    }

    /// Closes the block [`Translator::open`] opened.
    pub(super) fn close(&mut self) {
        self.b.i(Ins::End);
        self.blocks -= 1;
    }

    /// A branch to `target` from code `inline` blocks deeper than the
    /// structured blocks: those opened in the same instruction sequence,
    /// which the sequence closes itself.
    pub(super) fn br(&self, target: Target, inline: u32) -> Ins<'static> {
        Ins::Br(self.depth_of(target, inline))
    }

    /// [`Translator::br`] if the top of the stack is not zero.
    pub(super) fn br_if(&self, target: Target, inline: u32) -> Ins<'static> {
        Ins::BrIf(self.depth_of(target, inline))
    }

    fn depth_of(&self, target: Target, inline: u32) -> u32 {
        // `$exit` encloses `$fail`, which encloses every structured block.
        let fail = self.blocks + inline;
        match target {
            Target::Fail => fail,
            Target::Exit => fail + 1,
        }
    }
}
