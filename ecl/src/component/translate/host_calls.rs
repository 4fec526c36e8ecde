//! Host calls: the budget is settled before each, its cost counted after.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::emit::*;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// Host calls: the budget is settled before each, its own cost counted after.
    pub(super) fn host_call(&mut self, at: usize) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        // What the host charges for the call: the VM's layer cost, which
        // is the host's own (`erynoa_core::HostCall`).
        let cost = op.layer_cost().1;
        match op {
            O::LoadTrust => {
                let t = self.pop(at)?;
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                self.coerce_text(t, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(Ins::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b.all([
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::GetTrust)?),
                ]);
                // The trust vector's f64s align the payload to 8.
                self.check_host_result(8);
                let out = self.alloc_tv();
                for d in 0..6u64 {
                    self.b.all([
                        Ins::LocalGet(out),
                        Ins::I32Const(RET),
                        Ins::F64Load(mem(8 + d * 8, 3)),
                        Ins::F64Store(mem(d * 8, 3)),
                    ]);
                }
                self.b.i(Ins::LocalGet(out));
                self.after_host(cost);
                self.stack.push(Kind::Trust);
            }
            O::HasCredential => {
                let ts = self.pop(at)?;
                let td = self.pop(at)?;
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                self.coerce_text(ts, E_STRING, at)?;
                let schema = self.scratch(I64);
                self.b.i(Ins::LocalSet(schema));
                self.coerce_text(td, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(Ins::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b.all(unpack(schema));
                self.b.all([
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::HasCredential)?),
                ]);
                self.check_host_result(4);
                self.b.all([Ins::I32Const(RET), Ins::I32Load8U(mem(4, 0))]);
                self.after_host(cost);
                self.stack.push(Kind::Bool);
            }
            O::ResolveDid => {
                let t = self.pop(at)?;
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                self.coerce_text(t, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(Ins::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b.all([
                    Ins::I32Const(RET),
                    Ins::Call(self.idx.import(HostImport::ResolveDid)?),
                ]);
                self.check_host_result(4);
                self.b.all([Ins::I32Const(RET), Ins::I32Load8U(mem(4, 0))]);
                self.after_host(cost);
                self.stack.push(Kind::Bool);
            }
            O::GetBalance => {
                // Not a host call: the VM charges network gas and the host
                // keeps no balances, so the balance is 0.
                let t = self.pop(at)?;
                self.before_host();
                self.b.all([
                    Ins::I32Const(0), // network
                    Ins::I64Const(cost as i64),
                    Ins::Call(self.idx.import(HostImport::ConsumeGas)?),
                ]);
                self.after_host(cost);
                self.coerce_text(t, E_DID, at)?;
                self.b.all([Ins::Drop, Ins::F64Const(0.0.into())]);
                self.stack.push(Kind::Num);
            }
            O::GetTimestamp => {
                self.before_host();
                self.b.all([
                    Ins::Call(self.idx.import(HostImport::Timestamp)?),
                    Ins::F64ConvertI64U,
                ]);
                self.after_host(cost);
                self.stack.push(Kind::Num);
            }
            O::TimeSince => {
                // 4 compute gas here; its timestamp call charges the last 1.
                let t = self.pop(at)?;
                self.charge_one(4);
                self.coerce_num(t, at)?;
                let ts = self.scratch(I64);
                let now = self.scratch(I64);
                self.b.all([Ins::I64TruncSatF64U, Ins::LocalSet(ts)]);
                self.before_host();
                self.b.all([
                    Ins::Call(self.idx.import(HostImport::Timestamp)?),
                    Ins::LocalTee(now),
                    Ins::LocalGet(ts),
                    Ins::I64Sub,
                    Ins::I64Const(0),
                    Ins::LocalGet(now),
                    Ins::LocalGet(ts),
                    Ins::I64GtU,
                    Ins::Select,
                    Ins::F64ConvertI64U,
                ]);
                self.after_host(OpCode::GetTimestamp.layer_cost().1);
                self.stack.push(Kind::Num);
            }
            O::Log => {
                let t = self.pop(at)?;
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                self.coerce_text(t, E_STRING, at)?;
                let msg = self.scratch(I64);
                self.b.i(Ins::LocalSet(msg));
                self.before_host();
                self.b.i(Ins::I32Const(2)); // info
                self.b.all(unpack(msg));
                self.b.i(Ins::Call(self.idx.import(HostImport::Log)?));
                self.after_host(cost);
            }
            O::StoreGet | O::StoreDelete => {
                let tk = self.pop(at)?;
                let ts = self.pop(at)?;
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                self.coerce_text(tk, E_STRING, at)?;
                let key = self.scratch(I64);
                self.b.i(Ins::LocalSet(key));
                self.coerce_text(ts, E_STRING, at)?;
                let store = self.scratch(I64);
                self.b.i(Ins::LocalSet(store));
                self.before_host();
                self.b.all(unpack(store));
                self.b.all(unpack(key));
                let get = matches!(op, O::StoreGet);
                let imp = if get {
                    HostImport::StoreGet
                } else {
                    HostImport::StoreDelete
                };
                self.b
                    .all([Ins::I32Const(RET), Ins::Call(self.idx.import(imp)?)]);
                self.check_host_result(4);
                if get {
                    // option<string>: tag at 4, string at 8 and 12.
                    self.b.all([
                        Ins::I32Const(RET),
                        Ins::I32Load8U(mem(4, 0)),
                        Ins::If(BlockType::Result(I32)),
                        Ins::I32Const(T_STRING),
                        Ins::I32Const(RET),
                        Ins::I64Load32U(mem(8, 2)),
                        Ins::I64Const(32),
                        Ins::I64Shl,
                        Ins::I32Const(RET),
                        Ins::I64Load32U(mem(12, 2)),
                        Ins::I64Or,
                        Ins::Call(self.idx.helper(Helper::Box)),
                        Ins::Else,
                        Ins::I32Const(T_NULL),
                        Ins::I64Const(0),
                        Ins::Call(self.idx.helper(Helper::Box)),
                        Ins::End,
                    ]);
                    self.stack.push(Kind::Any);
                } else {
                    self.b.all([Ins::I32Const(RET), Ins::I32Load8U(mem(4, 0))]);
                    self.stack.push(Kind::Bool);
                }
                self.after_host(cost);
            }
            O::StorePut | O::EmitEvent => {
                let put = matches!(op, O::StorePut);
                let count = if put { 3 } else { 2 };
                let mut texts = Vec::new();
                // The instructions before are paid for before an argument can fail
                // its coercion, as the VM paid for each as it ran.
                self.charge_run();
                for _ in 0..count {
                    let t = self.pop(at)?;
                    self.coerce_text(t, E_STRING, at)?;
                    let l = self.scratch(I64);
                    self.b.i(Ins::LocalSet(l));
                    texts.push(l);
                }
                texts.reverse();
                self.before_host();
                for l in &texts {
                    self.b.all(unpack(*l));
                }
                let imp = if put {
                    HostImport::StorePut
                } else {
                    HostImport::EmitEvent
                };
                self.b
                    .all([Ins::I32Const(RET), Ins::Call(self.idx.import(imp)?)]);
                self.check_host_result(4);
                if put {
                    // storage 10 + 1 per started KiB of the value.
                    let value = texts[2];
                    self.b.all([
                        Ins::GlobalGet(global::GAS_LEFT),
                        Ins::I64Const(cost as i64),
                        Ins::LocalGet(value),
                        Ins::I64Const(0xffff_ffff),
                        Ins::I64And,
                        Ins::I64Const(1023),
                        Ins::I64Add,
                        Ins::I64Const(10),
                        Ins::I64ShrU,
                        Ins::I64Add,
                        Ins::I64Sub,
                        Ins::GlobalSet(global::GAS_LEFT),
                    ]);
                } else {
                    self.after_host(cost);
                }
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
