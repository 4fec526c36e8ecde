//! The translator: one policy's bytecode into the body of `evaluate`, with
//! the static type of every operand.

mod arithmetic;
mod comparison;
mod control;
mod gas;
mod host_calls;
mod numbers;
mod ops;
mod result;
mod stack;
mod text_and_arrays;
mod trust;
mod values;

use std::collections::BTreeMap;

use wasm_encoder::ValType::{self, F64, I32, I64};
use wasm_encoder::{BlockType, Instruction as Ins};

use crate::bytecode::{OpCode, Value};
use crate::compile::Program;
use crate::component::emit::*;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::{Helper, Index, Tables};
use crate::component::{Compiled, ComponentError};
use crate::source_map::SourceMap;

// ---- The policy itself ----

/// The translation of one policy into the body of `evaluate`.
pub(crate) struct Translator<'a> {
    code: &'a [OpCode],
    idx: &'a Index,
    data: &'a mut Data,
    tables: &'a Tables,
    b: FunctionBody,
    /// Static types of the wasm operand stack of the current block.
    stack: Vec<Kind>,
    /// Locals of `let` slots: (wasm local, type).
    slots: BTreeMap<u16, (u32, Kind)>,
    /// Costs of the instructions emitted but not charged yet.
    run: Vec<u64>,
    /// Structured blocks open inside `$fail` (see [`Target`]).
    blocks: u32,
    /// Where the program's instructions came from, if known.
    source_map: Option<&'a SourceMap>,
    /// The instruction being translated: a fault in its code is located there.
    at: usize,
}

/// Where a branch can go. `evaluate` is `block $exit (block $fail ... )`:
/// falling out of `$fail` records an error, leaving `$exit` returns with
/// the outcome set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Out of the policy, with its outcome set.
    Exit,
    /// To the error handler, with the error recorded.
    Fail,
}

impl<'a> Translator<'a> {
    pub(super) fn new(
        program: &'a Program,
        idx: &'a Index,
        data: &'a mut Data,
        tables: &'a Tables,
    ) -> Self {
        Self {
            code: &program.code,
            idx,
            data,
            tables,
            b: FunctionBody::new(&[I32; 10], &[I32]),
            stack: Vec::new(),
            slots: BTreeMap::new(),
            run: Vec::new(),
            blocks: 0,
            source_map: program.source_map.as_ref(),
            at: 0,
        }
    }

    pub(super) fn unsupported(&self, index: usize, why: &'static str) -> ComponentError {
        ComponentError::Unsupported {
            index,
            op: self
                .code
                .get(index)
                .map_or_else(|| "end".to_owned(), ToString::to_string),
            why,
        }
    }

    pub(super) fn evaluate(mut self) -> Compiled<FunctionBody> {
        // Request: caller, realm, action, resource, params.
        for (global, (ptr, len)) in [(global::CALLER, (0, 1)), (global::REALM, (2, 3))] {
            self.b.all([
                Ins::LocalGet(ptr),
                Ins::I64ExtendI32U,
                Ins::I64Const(32),
                Ins::I64Shl,
                Ins::LocalGet(len),
                Ins::I64ExtendI32U,
                Ins::I64Or,
                Ins::GlobalSet(global),
            ]);
        }
        self.b.all([
            Ins::LocalGet(8),
            Ins::GlobalSet(global::PARAMS),
            Ins::LocalGet(9),
            Ins::GlobalSet(global::PARAM_COUNT),
            // `gas-left` rather than `remaining`: a scalar result lowers
            // without memory, so wit-component adds no shim instance.
            Ins::Call(self.idx.import(HostImport::GasLeft)?),
            Ins::GlobalSet(global::GAS_LEFT),
            Ins::Block(BlockType::Empty), // $exit
            Ins::Block(BlockType::Empty), // $fail
        ]);
        let end = self.region(0, self.code.len())?;
        if end != self.code.len() {
            return Err(self.unsupported(end, "control flow the ECL compiler does not emit"));
        }
        // Falling off the end returns the top of the stack, or null.
        self.charge_run();
        match self.stack.pop() {
            Some(t) => self.ret(t),
            None => {
                self.b.all([
                    Ins::I32Const(outcome::NOT_BOOL),
                    Ins::GlobalSet(global::OUTCOME),
                    Ins::I64Const(i64::from(T_NULL)),
                    Ins::GlobalSet(global::ERROR_A),
                    self.br(Target::Exit, 0),
                ]);
            }
        }
        self.b.i(Ins::End); // $fail
        self.b.all([
            Ins::I32Const(outcome::ERROR),
            Ins::GlobalSet(global::OUTCOME),
        ]);
        self.b.i(Ins::End); // $exit
        self.finish_result()?;
        Ok(self.b)
    }

    /// Translates instructions `from..to`; returns where it stopped.
    pub(super) fn region(&mut self, from: usize, to: usize) -> Compiled<usize> {
        let outer = self.at;
        let mut at = from;
        while at < to {
            self.at = at;
            at = self.op(at, to)?;
        }
        self.at = outer;
        Ok(at)
    }

    pub(super) fn pop(&mut self, at: usize) -> Compiled<Kind> {
        self.stack
            .pop()
            .ok_or_else(|| self.unsupported(at, "stack underflow"))
    }

    pub(super) fn scratch(&mut self, t: ValType) -> u32 {
        self.b.local(t)
    }

    // -- coercions of the value on top of the wasm stack --

    pub(super) fn coerce_num(&mut self, t: Kind, at: usize) -> Compiled {
        match t {
            Kind::Num => {}
            Kind::Bool => {
                self.b.i(Ins::F64ConvertI32U);
            }
            Kind::Any => {
                self.b.i(Ins::Call(self.idx.helper(Helper::AnyNum)));
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a number")),
        }
        Ok(())
    }

    pub(super) fn coerce_bool(&mut self, t: Kind, at: usize) -> Compiled {
        match t {
            Kind::Bool => {}
            Kind::Null => {
                self.b.all([Ins::Drop, Ins::I32Const(0)]);
            }
            Kind::Num => {
                self.b.all([Ins::F64Const(0.0.into()), Ins::F64Ne]);
            }
            Kind::Any => {
                self.b.i(Ins::Call(self.idx.helper(Helper::AnyBool)));
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a bool")),
        }
        Ok(())
    }

    pub(super) fn coerce_text(&mut self, t: Kind, expected: i32, at: usize) -> Compiled {
        match t {
            Kind::Str | Kind::Did => {}
            Kind::Any => {
                self.b.all([
                    Ins::I32Const(expected),
                    Ins::Call(self.idx.helper(Helper::AnyText)),
                ]);
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a string")),
        }
        Ok(())
    }

    pub(super) fn coerce_ptr(&mut self, t: Kind, want: Kind, at: usize) -> Compiled {
        if t == want {
            return Ok(());
        }
        if t != Kind::Any {
            return Err(self.unsupported(at, "operand has the wrong type"));
        }
        let h = if want == Kind::Trust {
            Helper::AnyTv
        } else {
            Helper::AnyArr
        };
        self.b.i(Ins::Call(self.idx.helper(h)));
        self.check_err();
        Ok(())
    }

    /// Boxes the value on top.
    pub(super) fn box_top(&mut self, t: Kind) {
        let payload: Vec<Ins<'static>> = match t {
            Kind::Any => return,
            Kind::Null => vec![Ins::Drop, Ins::I64Const(0)],
            Kind::Bool | Kind::Trust | Kind::Arr => vec![Ins::I64ExtendI32U],
            Kind::Num => vec![Ins::I64ReinterpretF64],
            Kind::Str | Kind::Did => vec![],
        };
        let tmp = self.scratch(I64);
        self.b.all(payload);
        self.b.all([
            Ins::LocalSet(tmp),
            Ins::I32Const(t.tag()),
            Ins::LocalGet(tmp),
            Ins::Call(self.idx.helper(Helper::Box)),
        ]);
    }

    /// Pops the top two values (b on top), coerces b then a with `f`
    /// (the VM's order), and leaves them a, b on the stack.
    pub(super) fn two(
        &mut self,
        at: usize,
        mut f: impl FnMut(&mut Self, Kind, usize) -> Compiled<ValType>,
    ) -> Compiled<(Kind, Kind)> {
        let tb = self.pop(at)?;
        let ta = self.pop(at)?;
        let vb = f(self, tb, at)?;
        let keep = self.scratch(vb);
        self.b.i(Ins::LocalSet(keep));
        f(self, ta, at)?;
        self.b.i(Ins::LocalGet(keep));
        Ok((ta, tb))
    }

    pub(super) fn num2(&mut self, at: usize) -> Compiled {
        self.two(at, |g, t, at| {
            g.coerce_num(t, at)?;
            Ok(F64)
        })?;
        Ok(())
    }

    /// An instruction whose operand is boxed (its type known only at run
    /// time) can fail in its coercion, and an instruction that fails must
    /// have been paid for, as in the VM: such an instruction is charged
    /// alone, before it runs. Returns whether it was.
    pub(super) fn charge_if_boxed(&mut self, operands: &[Kind], cost: u64) -> bool {
        let boxed = operands.contains(&Kind::Any);
        if boxed {
            self.charge_one(cost);
        }
        boxed
    }

    /// [`Translator::charge_if_boxed`] for the top `n` operands, still on the stack.
    pub(super) fn charge_if_top_boxed(&mut self, n: usize, cost: u64) -> bool {
        let top: Vec<Kind> = self.stack.iter().rev().take(n).copied().collect();
        self.charge_if_boxed(&top, cost)
    }

    /// An instruction that was not charged alone joins the run it belongs to.
    pub(super) fn charge_unless(&mut self, charged: bool, cost: u64) {
        if !charged {
            self.run.push(cost);
        }
    }

    pub(super) fn push_static(&mut self, v: &Value, at: usize) -> Compiled<Kind> {
        Ok(match v {
            Value::Null => {
                self.b.i(Ins::I32Const(0));
                Kind::Null
            }
            Value::Bool(x) => {
                self.b.i(Ins::I32Const(i32::from(*x)));
                Kind::Bool
            }
            Value::Number(n) => {
                self.b.i(Ins::F64Const((*n).into()));
                Kind::Num
            }
            Value::String(s) => {
                let p = self.data.string(s);
                self.b.i(Ins::I64Const(p));
                Kind::Str
            }
            Value::Did(s) => {
                let p = self.data.string(s);
                self.b.i(Ins::I64Const(p));
                Kind::Did
            }
            _ => return Err(self.unsupported(at, "only scalar constants are compiled")),
        })
    }
}
