//! Constants, the request, `let` slots and the operand stack.

use wasm_encoder::Instruction as Ins;

use super::Translator;
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::layout::*;
use crate::component::module::Helper;

impl Translator<'_> {
    /// Constants, the request, `let` slots and the operand stack.
    pub(super) fn stack(&mut self, at: usize, cost: u64) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        match op {
            O::PushConst(v) => {
                let t = self.push_static(v, at)?;
                self.stack.push(t);
                self.run.push(cost);
            }
            O::LoadCaller => {
                self.b.i(Ins::GlobalGet(global::CALLER));
                self.stack.push(Kind::Did);
                self.run.push(cost);
            }
            O::LoadRealm => {
                self.b.i(Ins::GlobalGet(global::REALM));
                self.stack.push(Kind::Str);
                self.run.push(cost);
            }
            O::LoadLocal(n) => {
                let (local, t) = *self
                    .slots
                    .get(n)
                    .ok_or_else(|| self.unsupported(at, "local read before it is set"))?;
                self.b.i(Ins::LocalGet(local));
                self.stack.push(t);
                self.run.push(cost);
            }
            O::StoreLocal(n) => {
                let t = self.pop(at)?;
                let local = match self.slots.get(n) {
                    Some((local, old)) if *old == t => *local,
                    Some(_) => return Err(self.unsupported(at, "a local changes type")),
                    None => {
                        let local = self.scratch(t.val());
                        self.slots.insert(*n, (local, t));
                        local
                    }
                };
                self.b.i(Ins::LocalSet(local));
                self.run.push(cost);
            }
            O::LoadParam => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_text(t, E_STRING, at)?;
                self.b.i(Ins::Call(self.idx.helper(Helper::Param)));
                self.stack.push(Kind::Any);
                self.charge_unless(charged, cost);
            }
            O::Pop => {
                self.pop(at)?;
                self.b.i(Ins::Drop);
                self.run.push(cost);
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
