//! Comparisons and negation.

use wasm_encoder::Instruction as Ins;

use super::Translator;
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::layout::*;

impl Translator<'_> {
    /// Comparisons and negation.
    pub(super) fn comparison(&mut self, at: usize, cost: u64) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        match op {
            O::Eq | O::Neq => {
                self.equality(at)?;
                if matches!(op, O::Neq) {
                    self.b.i(Ins::I32Eqz);
                }
                self.stack.push(Kind::Bool);
                self.run.push(cost);
            }
            O::Gt | O::Gte | O::Lt | O::Lte => {
                let charged = self.charge_if_top_boxed(2, cost);
                self.num2(at)?;
                self.b.i(match op {
                    O::Gt => Ins::F64Gt,
                    O::Gte => Ins::F64Ge,
                    O::Lt => Ins::F64Lt,
                    _ => Ins::F64Le,
                });
                self.stack.push(Kind::Bool);
                self.charge_unless(charged, cost);
            }
            O::Not | O::ToBool => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_bool(t, at)?;
                if matches!(op, O::Not) {
                    self.b.i(Ins::I32Eqz);
                }
                self.stack.push(Kind::Bool);
                self.charge_unless(charged, cost);
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
