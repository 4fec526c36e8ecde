//! Charging gas as the VM does: runs of instructions that cannot fail
//! together, anything else alone, host calls settled around the call.

use wasm_encoder::{BlockType, Instruction as Ins};

use super::{Target, Translator};
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// Branch to `$fail` if the last call recorded an error.
    pub(super) fn check_err(&mut self) {
        match self.fault_location() {
            Some(locate) => {
                self.b
                    .all([Ins::GlobalGet(global::ERROR), Ins::If(BlockType::Empty)]);
                self.b.all(locate);
                self.b.all([self.br(Target::Fail, 1), Ins::End]);
            }
            None => {
                let fail = self.br_if(Target::Fail, 0);
                self.b.all([Ins::GlobalGet(global::ERROR), fail]);
            }
        }
    }

    /// Charges the run of instructions emitted since the last charge.
    pub(super) fn charge_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        let cost: u64 = run.iter().sum();
        if cost == 0 {
            return;
        }
        let table = self.data.costs(&run);
        self.b.all([
            Ins::GlobalGet(global::GAS_LEFT),
            Ins::I64Const(cost as i64),
            Ins::I64LtS,
            Ins::If(BlockType::Empty),
            Ins::I32Const(table),
            Ins::I32Const(run.len() as i32),
            Ins::Call(self.idx.helper(Helper::OogTable)),
            Ins::End,
        ]);
        self.take(cost);
    }

    pub(super) fn take(&mut self, cost: u64) {
        self.b.all([
            Ins::GlobalGet(global::GAS_LEFT),
            Ins::I64Const(cost as i64),
            Ins::I64Sub,
            Ins::GlobalSet(global::GAS_LEFT),
            Ins::GlobalGet(global::GAS_PENDING),
            Ins::I64Const(cost as i64),
            Ins::I64Add,
            Ins::GlobalSet(global::GAS_PENDING),
        ]);
    }

    /// Charges one instruction on its own, before it runs.
    pub(super) fn charge_one(&mut self, cost: u64) {
        self.charge_run();
        if cost == 0 {
            return;
        }
        self.b.all([
            Ins::GlobalGet(global::GAS_LEFT),
            Ins::I64Const(cost as i64),
            Ins::I64LtS,
            Ins::If(BlockType::Empty),
            Ins::I64Const(cost as i64),
            Ins::Call(self.idx.helper(Helper::OogOne)),
            Ins::End,
        ]);
        self.take(cost);
    }

    /// A host call charges its own gas in the host: settle ours first,
    /// and afterwards count what it cost against what is left.
    pub(super) fn before_host(&mut self) {
        self.charge_run();
        self.b.i(Ins::Call(self.idx.helper(Helper::Flush)));
    }

    pub(super) fn after_host(&mut self, cost: u64) {
        self.b.all([
            Ins::GlobalGet(global::GAS_LEFT),
            Ins::I64Const(cost as i64),
            Ins::I64Sub,
            Ins::GlobalSet(global::GAS_LEFT),
        ]);
    }

    /// After an import that returned `result<_, error>` in `RET`, its
    /// payload at `RET + at`.
    pub(super) fn check_host_result(&mut self, at: i32) {
        self.b.all([
            Ins::I32Const(RET),
            Ins::I32Load8U(mem(0, 0)),
            Ins::If(BlockType::Empty),
            Ins::I32Const(at),
            Ins::Call(self.idx.helper(Helper::HostErr)),
            self.br(Target::Fail, 1),
            Ins::End,
        ]);
    }
}
