//! The instruction dispatcher: control flow here, each other group of
//! instructions in its own file.

use wasm_encoder::ValType::{I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use super::{Target, Translator};
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::layout::*;

impl Translator<'_> {
    /// Translates the instruction at `at` (and the region it opens);
    /// returns the next instruction to translate.
    pub(super) fn op(&mut self, at: usize, region_end: usize) -> Compiled<usize> {
        use OpCode as O;
        let op = &self.code[at];
        let (_, cost) = op.layer_cost();
        match op {
            O::JumpIfFalse(target) => return self.if_else(at, *target, region_end),
            O::AndThen(target) | O::OrElse(target) => {
                let target = *target;
                if target <= at || target > region_end {
                    return Err(self.unsupported(at, "a jump the ECL compiler does not emit"));
                }
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_bool(t, at)?;
                let and = matches!(op, O::AndThen(_));
                let saved = std::mem::take(&mut self.stack);
                self.open(Ins::If(BlockType::Result(I32)));
                if !and {
                    self.b.all([Ins::I32Const(1), Ins::Else]);
                }
                let end = self.region(at + 1, target)?;
                self.charge_run();
                let rhs = self.stack.pop();
                if end != target || rhs != Some(Kind::Bool) || !self.stack.is_empty() {
                    return Err(
                        self.unsupported(at, "a short circuit the ECL compiler does not emit")
                    );
                }
                if and {
                    self.b.all([Ins::Else, Ins::I32Const(0)]);
                }
                self.close();
                self.stack = saved;
                self.stack.push(Kind::Bool);
                return Ok(target);
            }
            O::Return => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.ret(t);
            }
            O::Deny => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(t, E_STRING, at)?;
                self.b.all([
                    Ins::GlobalSet(global::REASON),
                    Ins::I32Const(outcome::DENY_REASON),
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 0),
                ]);
            }
            O::Assert => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_bool(t, at)?;
                self.b.i(Ins::I32Eqz);
                self.b.i(Ins::If(BlockType::Empty));
                let reason = self.data.string("Assertion failed");
                self.deny_with(reason, 1);
                self.b.i(Ins::End);
            }
            O::Require => {
                let tm = self.pop(at)?;
                let tc = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(tm, E_STRING, at)?;
                let msg = self.scratch(I64);
                self.b.i(Ins::LocalSet(msg));
                self.coerce_bool(tc, at)?;
                self.b.all([
                    Ins::I32Eqz,
                    Ins::If(BlockType::Empty),
                    Ins::LocalGet(msg),
                    Ins::GlobalSet(global::REASON),
                    Ins::I32Const(outcome::DENY_REASON),
                    Ins::GlobalSet(global::OUTCOME),
                    self.br(Target::Exit, 1),
                    Ins::End,
                ]);
            }
            O::PushConst(..)
            | O::LoadCaller
            | O::LoadRealm
            | O::LoadLocal(..)
            | O::StoreLocal(..)
            | O::LoadParam
            | O::Pop => self.stack(at, cost)?,
            O::Add
            | O::Sub
            | O::Mul
            | O::Div
            | O::Mod
            | O::Neg
            | O::MathAbs
            | O::MathFloor
            | O::MathCeil
            | O::MathRound
            | O::Min
            | O::Max
            | O::Surprisal
            | O::MathSqrt
            | O::Clamp
            | O::Lerp => self.arithmetic(at, cost)?,
            O::Eq | O::Neq | O::Gt | O::Gte | O::Lt | O::Lte | O::Not | O::ToBool => {
                self.comparison(at, cost)?
            }
            O::TrustDim(..)
            | O::TrustNorm
            | O::TrustCombine
            | O::TrustDistance
            | O::TrustCreate
            | O::TrustAboveThreshold
            | O::TrustWeightedAvg => self.trust(at, cost)?,
            O::LoadTrust
            | O::HasCredential
            | O::ResolveDid
            | O::GetBalance
            | O::GetTimestamp
            | O::TimeSince
            | O::Log
            | O::StoreGet
            | O::StoreDelete
            | O::StorePut
            | O::EmitEvent => self.host_call(at)?,
            O::StrLen
            | O::StrContains
            | O::StrEqIgnoreCase
            | O::Contains
            | O::ArrayLen
            | O::ArrayGet
            | O::MakeArray(..)
            | O::ToText
            | O::ToNumber
            | O::Concat => self.value(at, cost)?,
            _ => {
                return Err(
                    self.unsupported(at, "only the ECL compiler's instructions are compiled")
                );
            }
        }
        Ok(at + 1)
    }
}
