//! The bytecode VM: the legacy ECLVM's semantics, error texts and gas,
//! instruction for instruction, plus the ECL 1.0 opcodes.

use std::sync::Arc;

use erynoa_core::{Exhaustion, GasLayer};

use crate::bytecode::{CONCAT_BYTES_PER_GAS, MAX_TEXT_BYTES, OpCode, Value};

/// Everything a program can ask of the world, and the budget it runs under.
///
/// The host's `Session` implements it for real evaluations; [`StubHost`]
/// reproduces the legacy test host.
pub trait Host {
    /// The calling DID.
    fn caller(&self) -> &str;
    /// The realm the request is for.
    fn realm(&self) -> &str;
    /// The request parameter `name`, or null.
    fn param(&self, name: &str) -> Value;
    /// Trust vector of `did`.
    fn get_trust(&mut self, did: &str) -> Result<[f64; 6], HostError>;
    /// Whether `did` holds credential `schema`.
    fn has_credential(&mut self, did: &str, schema: &str) -> Result<bool, HostError>;
    /// Whether `did` exists.
    fn resolve_did(&mut self, did: &str) -> Result<bool, HostError>;
    /// Balance of `did`.
    fn get_balance(&mut self, did: &str) -> Result<u64, HostError>;
    /// Unix seconds, as a charged host call (`GetTimestamp`).
    fn timestamp(&mut self) -> Result<u64, HostError>;
    /// Unix seconds, without a charge (`TimeSince` pays its own gas).
    fn now(&self) -> u64;
    /// Logs `message`.
    fn log(&mut self, message: &str) -> Result<(), HostError>;
    /// Reads a realm store.
    fn store_get(&mut self, store: &str, key: &str) -> Result<Option<String>, HostError>;
    /// Writes a realm store (buffered until the policy allows).
    fn store_put(&mut self, store: &str, key: &str, value: &str) -> Result<(), HostError>;
    /// Deletes from a realm store; whether the key existed.
    fn store_delete(&mut self, store: &str, key: &str) -> Result<bool, HostError>;
    /// Emits an event (buffered until the policy allows).
    fn emit_event(&mut self, event_type: &str, payload: &str) -> Result<(), HostError>;
    /// Charges the budget; used in [`Metering::Budget`] and [`Metering::Layered`].
    fn charge(&mut self, layer: GasLayer, amount: u64) -> Result<(), Exhaustion>;
    /// Whether the host's calls charge their own gas (then the VM does not
    /// charge host-call opcodes in [`Metering::Layered`]).
    fn charges_calls(&self) -> bool;
    /// Fails once the wall-clock deadline has passed.
    fn check_deadline(&mut self) -> Result<(), Exhaustion> {
        Ok(())
    }
}

/// The VM's error texts, in the pieces compiled ECL assembles them from, so
/// both back ends say exactly the same (the legacy system's words).
pub mod message {
    /// `Expected {expected}, got {got}`: before the expected type.
    pub const EXPECTED: &str = "Expected ";
    /// Between the expected and the found type.
    pub const GOT: &str = ", got ";
    /// `/` by zero.
    pub const DIVISION_BY_ZERO: &str = "Division by zero";
    /// `%` by zero.
    pub const MODULO_BY_ZERO: &str = "Modulo by zero";
    /// Before the probability.
    pub const SURPRISAL: &str = "Surprisal requires probability in (0, 1], got ";
    /// Before the number.
    pub const SQRT: &str = "sqrt requires non-negative number, got ";
    /// Before the lower bound.
    pub const CLAMP_MIN: &str = "clamp requires min <= max, got min ";
    /// Between the bounds.
    pub const CLAMP_MAX: &str = " and max ";
    /// `Array index {index} out of bounds (len: {len})`: before the index.
    pub const INDEX: &str = "Array index ";
    /// Between the index and the length.
    pub const INDEX_LEN: &str = " out of bounds (len: ";
    /// After the length.
    pub const INDEX_END: &str = ")";
    /// Before the number of weights.
    pub const WEIGHTS: &str = "TrustWeightedAvg requires 6 weights, got ";
    /// A weight of another type.
    pub const WEIGHT: &str = "Weight must be a number";
    /// Before the text that does not parse.
    pub const NOT_A_NUMBER: &str = "not a number: ";
    /// A policy that returns something else than a bool: before its type.
    pub const RETURNED: &str = "policy returned ";
    /// After its type.
    pub const NOT_A_BOOL: &str = ", not a bool";
    /// `+` on texts whose result is too long: before its length.
    pub const TEXT_TOO_LONG: &str = "Text too long: ";
    /// After the length.
    pub const TEXT_LIMIT: &str = " bytes, the limit is 65536";
}

/// A host call that failed.
#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// The budget ran out.
    Exhausted(Exhaustion),
    /// The host refused, with one of the contract's error codes.
    Failed {
        /// The error code.
        code: erynoa_core::ErrorCode,
        /// What was wrong.
        message: String,
    },
}

impl From<Exhaustion> for HostError {
    fn from(e: Exhaustion) -> Self {
        HostError::Exhausted(e)
    }
}

/// How gas is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metering {
    /// The legacy `GasMeter`: `gas_cost()` per instruction against `limit`;
    /// a charge that does not fit is refused without being recorded.
    Legacy {
        /// The gas limit.
        limit: u64,
    },
    /// The legacy `ECLVMBudget` without layer tracking: `gas_cost()` per
    /// instruction through [`Host::charge`].
    Budget,
    /// The legacy budget with `MultiGas` attached, as the host runs it:
    /// `gas_layer_cost()` per instruction through [`Host::charge`].
    Layered,
}

/// A runtime error, with the legacy text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)]
pub enum VmError {
    #[error("Stack underflow")]
    StackUnderflow,
    #[error("Stack overflow")]
    StackOverflow,
    #[error("{}{expected}{}{got}", message::EXPECTED, message::GOT)]
    TypeMismatch {
        expected: &'static str,
        got: &'static str,
    },
    #[error("{}", message::DIVISION_BY_ZERO)]
    DivisionByZero,
    #[error("{}", message::MODULO_BY_ZERO)]
    ModuloByZero,
    #[error("Assertion failed")]
    AssertionFailed,
    #[error("Require failed: {0}")]
    RequireFailed(String),
    #[error("Program aborted")]
    Aborted,
    /// A math or array operation outside its domain, with the legacy text.
    #[error("{0}")]
    Domain(String),
    #[error(
        "{}{index}{}{len}{}",
        message::INDEX,
        message::INDEX_LEN,
        message::INDEX_END
    )]
    IndexOutOfBounds { index: usize, len: usize },
    /// The legacy `GasMeter` refused a charge.
    #[error(
        "Out of gas: needed {needed} but only {remaining} remaining (consumed {consumed} of {limit} limit)"
    )]
    OutOfGas {
        needed: u64,
        remaining: u64,
        consumed: u64,
        limit: u64,
    },
    /// The budget ran out; the legacy text is the reason's name.
    #[error("{}", exhaustion_name(.0))]
    Exhausted(Exhaustion),
    /// A host call failed.
    #[error("{message}")]
    Host {
        code: erynoa_core::ErrorCode,
        message: String,
    },
}

fn exhaustion_name(e: &Exhaustion) -> &'static str {
    match e {
        Exhaustion::OutOfGas { .. } => "OutOfGas",
        Exhaustion::OutOfMana { .. } => "OutOfMana",
        Exhaustion::Timeout { .. } => "Timeout",
        Exhaustion::StackOverflow => "StackOverflow",
        Exhaustion::Memory { .. } => "Budget exhausted",
    }
}

impl From<HostError> for VmError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Exhausted(e) => VmError::Exhausted(e),
            HostError::Failed { code, message } => VmError::Host { code, message },
        }
    }
}

impl From<Exhaustion> for VmError {
    fn from(e: Exhaustion) -> Self {
        VmError::Exhausted(e)
    }
}

/// How a run ended without an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `Return` or `Halt` from the top level, or the end of the program.
    Return(Value),
    /// ECL 1.0 `deny "reason"`.
    Deny(String),
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The outcome or the error that ended the run.
    pub result: Result<Outcome, VmError>,
    /// Gas consumed by the legacy meter; 0 under [`Metering::Budget`] and
    /// [`Metering::Layered`], where the host's budget holds the count.
    pub meter_gas: u64,
    /// The index in the code of the instruction that ended the run with an
    /// error (to locate it with the program's
    /// [`SourceMap`](crate::SourceMap)); `None` when the run did not end
    /// on an instruction of the code.
    pub at: Option<usize>,
}

/// Options of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// How gas is charged.
    pub metering: Metering,
    /// Largest operand stack; the legacy check lets one more value on.
    pub max_stack_depth: usize,
    /// Legacy `run_policy`: behave as if `PushConst(DID(caller))` were
    /// prepended to the program, without relocating jump targets.
    pub push_caller: bool,
}

impl RunOptions {
    /// The legacy mode of the conformance corpus: `ECLVM::new(code, limit, host)`.
    pub const fn legacy(limit: u64) -> Self {
        Self {
            metering: Metering::Legacy { limit },
            max_stack_depth: 1024,
            push_caller: false,
        }
    }
}

/// How many instructions run between deadline checks.
const DEADLINE_EVERY: u32 = 1024;

/// Runs `code` against `host`.
///
/// ```
/// use erynoa_ecl::bytecode::{OpCode, Value};
/// use erynoa_ecl::vm::{run, Outcome, RunOptions, StubHost};
///
/// let code = [OpCode::PushConst(Value::Number(5.0)), OpCode::PushConst(Value::Number(3.0)), OpCode::Add, OpCode::Return];
/// let done = run(&code, &mut StubHost::new(), RunOptions::legacy(10_000));
/// assert_eq!(done.result, Ok(Outcome::Return(Value::Number(8.0))));
/// assert_eq!(done.meter_gas, 9);
/// ```
pub fn run<H: Host + ?Sized>(code: &[OpCode], host: &mut H, options: RunOptions) -> Execution {
    let mut vm = Vm {
        stack: Vec::with_capacity(64),
        calls: Vec::new(),
        locals: Vec::new(),
        consumed: 0,
        ip: 0,
        metering: options.metering,
    };
    let result = vm.execute(code, host, options);
    let offset = usize::from(options.push_caller);
    Execution {
        at: vm
            .ip
            .checked_sub(1 + offset)
            .filter(|&at| result.is_err() && at < code.len()),
        result,
        meter_gas: vm.consumed,
    }
}

struct Vm {
    stack: Vec<Value>,
    calls: Vec<usize>,
    locals: Vec<Value>,
    consumed: u64,
    /// One past the instruction running (or that ended the run).
    ip: usize,
    metering: Metering,
}

fn mismatch(expected: &'static str, v: &Value) -> VmError {
    VmError::TypeMismatch {
        expected,
        got: v.type_name(),
    }
}

/// `as_number`: numbers, and bools as 1 or 0.
pub(crate) fn as_number(v: &Value) -> Result<f64, VmError> {
    match v {
        Value::Number(n) => Ok(*n),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        other => Err(mismatch("number", other)),
    }
}

/// `as_bool`: bools, null as false, numbers as `!= 0`.
pub(crate) fn as_bool(v: &Value) -> Result<bool, VmError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::Number(n) => Ok(*n != 0.0),
        other => Err(mismatch("bool", other)),
    }
}

/// The legacy `f64::max` as it behaved: equal operands give the first.
pub(crate) fn legacy_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b > a { b } else { a }
}

/// The legacy `f64::min` as it behaved: equal operands give the first.
pub(crate) fn legacy_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b < a { b } else { a }
}

/// The text `ToText` and `str()` give a value: numbers in their shortest
/// round-trip form, DIDs as written. Trust vectors and arrays have none.
pub fn text_of(v: &Value) -> Result<String, VmError> {
    match v {
        Value::String(s) | Value::Did(s) => Ok(s.to_string()),
        Value::TrustVector(_) | Value::Array(_) => Err(VmError::Domain(format!(
            "str() takes a number, bool, null, string or DID, got {}",
            v.type_name()
        ))),
        other => Ok(other.to_string()),
    }
}

/// The number `ToNumber` and `num()` read from text: a finite decimal.
pub fn number_of(s: &str) -> Result<f64, VmError> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| VmError::Domain(format!("{}{s}", message::NOT_A_NUMBER)))
}

impl Vm {
    fn pop(&mut self) -> Result<Value, VmError> {
        self.stack.pop().ok_or(VmError::StackUnderflow)
    }

    fn pop_n(&mut self) -> Result<f64, VmError> {
        as_number(&self.pop()?)
    }

    fn pop_b(&mut self) -> Result<bool, VmError> {
        as_bool(&self.pop()?)
    }

    fn pop_s(&mut self) -> Result<Arc<str>, VmError> {
        match self.pop()? {
            Value::String(s) | Value::Did(s) => Ok(s),
            other => Err(mismatch("string", &other)),
        }
    }

    fn pop_d(&mut self) -> Result<Arc<str>, VmError> {
        match self.pop()? {
            Value::String(s) | Value::Did(s) => Ok(s),
            other => Err(mismatch("DID", &other)),
        }
    }

    fn pop_tv(&mut self) -> Result<[f64; 6], VmError> {
        match self.pop()? {
            Value::TrustVector(t) => Ok(t),
            other => Err(mismatch("TrustVector", &other)),
        }
    }

    fn pop_a(&mut self) -> Result<Arc<[Value]>, VmError> {
        match self.pop()? {
            Value::Array(a) => Ok(a),
            other => Err(mismatch("Array", &other)),
        }
    }

    fn num(&mut self, f: impl FnOnce(f64, f64) -> f64) -> Result<(), VmError> {
        let b = self.pop_n()?;
        let a = self.pop_n()?;
        self.stack.push(Value::Number(f(a, b)));
        Ok(())
    }

    fn cmp(&mut self, f: impl FnOnce(f64, f64) -> bool) -> Result<(), VmError> {
        let b = self.pop_n()?;
        let a = self.pop_n()?;
        self.stack.push(Value::Bool(f(a, b)));
        Ok(())
    }

    fn unary(&mut self, f: impl FnOnce(f64) -> f64) -> Result<(), VmError> {
        let a = self.pop_n()?;
        self.stack.push(Value::Number(f(a)));
        Ok(())
    }

    fn charge<H: Host + ?Sized>(
        &mut self,
        op: &OpCode,
        host: &mut H,
        metering: Metering,
    ) -> Result<(), VmError> {
        match metering {
            Metering::Legacy { .. } | Metering::Budget => self.charge_compute(op.gas_cost(), host),
            Metering::Layered => {
                if op.is_host_call() && host.charges_calls() {
                    return Ok(());
                }
                let (layer, mut amount) = op.layer_cost();
                if matches!(op, OpCode::TimeSince) && host.charges_calls() {
                    // Its timestamp is a host call that charges the last 1.
                    amount -= 1;
                }
                Ok(host.charge(layer, amount)?)
            }
        }
    }

    /// Charges `needed` compute gas as the metering says.
    fn charge_compute<H: Host + ?Sized>(
        &mut self,
        needed: u64,
        host: &mut H,
    ) -> Result<(), VmError> {
        match self.metering {
            Metering::Legacy { limit } => {
                let remaining = limit - self.consumed;
                if needed > remaining {
                    return Err(VmError::OutOfGas {
                        needed,
                        remaining,
                        consumed: self.consumed,
                        limit,
                    });
                }
                self.consumed += needed;
                Ok(())
            }
            Metering::Budget | Metering::Layered => Ok(host.charge(GasLayer::Compute, needed)?),
        }
    }

    fn execute<H: Host + ?Sized>(
        &mut self,
        code: &[OpCode],
        host: &mut H,
        options: RunOptions,
    ) -> Result<Outcome, VmError> {
        let caller_op = options
            .push_caller
            .then(|| OpCode::PushConst(Value::did(host.caller())));
        let offset = usize::from(caller_op.is_some());
        let len = code.len() + offset;
        let mut ip = 0;
        let mut until_deadline_check = DEADLINE_EVERY;
        while ip < len {
            let op = match (&caller_op, ip.checked_sub(offset)) {
                (Some(first), None) => first,
                (_, Some(i)) => &code[i],
                (None, None) => unreachable_op(),
            };
            ip += 1;
            self.ip = ip;
            self.charge(op, host, options.metering)?;
            until_deadline_check -= 1;
            if until_deadline_check == 0 {
                until_deadline_check = DEADLINE_EVERY;
                host.check_deadline()?;
            }
            if self.stack.len() > options.max_stack_depth {
                return Err(VmError::StackOverflow);
            }
            if let Some(done) = self.step(op, &mut ip, host)? {
                return Ok(done);
            }
        }
        Ok(Outcome::Return(self.stack.pop().unwrap_or(Value::Null)))
    }

    fn step<H: Host + ?Sized>(
        &mut self,
        op: &OpCode,
        ip: &mut usize,
        host: &mut H,
    ) -> Result<Option<Outcome>, VmError> {
        use OpCode::*;
        match op {
            PushConst(v) => self.stack.push(v.clone()),
            Pop => {
                self.pop()?;
            }
            Dup => {
                let top = self.stack.last().ok_or(VmError::StackUnderflow)?.clone();
                self.stack.push(top);
            }
            Swap => {
                let n = self.stack.len();
                if n < 2 {
                    return Err(VmError::StackUnderflow);
                }
                self.stack.swap(n - 1, n - 2);
            }
            Pick(n) => {
                let depth = usize::from(*n);
                let at = self
                    .stack
                    .len()
                    .checked_sub(depth + 1)
                    .ok_or(VmError::StackUnderflow)?;
                self.stack.push(self.stack[at].clone());
            }
            Add => self.num(|a, b| a + b)?,
            Sub => self.num(|a, b| a - b)?,
            Mul => self.num(|a, b| a * b)?,
            Div => {
                let b = self.pop_n()?;
                let a = self.pop_n()?;
                if b == 0.0 {
                    return Err(VmError::DivisionByZero);
                }
                self.stack.push(Value::Number(a / b));
            }
            Mod => {
                let b = self.pop_n()?;
                let a = self.pop_n()?;
                if b == 0.0 {
                    return Err(VmError::ModuloByZero);
                }
                self.stack.push(Value::Number(a % b));
            }
            Neg => self.unary(|a| -a)?,
            Min => self.num(legacy_min)?,
            Max => self.num(legacy_max)?,
            Eq | Neq => {
                let b = self.pop()?;
                let a = self.pop()?;
                self.stack.push(Value::Bool((a == b) == matches!(op, Eq)));
            }
            Gt => self.cmp(|a, b| a > b)?,
            Gte => self.cmp(|a, b| a >= b)?,
            Lt => self.cmp(|a, b| a < b)?,
            Lte => self.cmp(|a, b| a <= b)?,
            And | Or => {
                let b = self.pop_b()?;
                let a = self.pop_b()?;
                let r = if matches!(op, And) { a && b } else { a || b };
                self.stack.push(Value::Bool(r));
            }
            Not => {
                let a = self.pop_b()?;
                self.stack.push(Value::Bool(!a));
            }
            Jump(t) => *ip = *t,
            JumpIfFalse(t) => {
                if !self.pop_b()? {
                    *ip = *t;
                }
            }
            JumpIfTrue(t) => {
                if self.pop_b()? {
                    *ip = *t;
                }
            }
            Call(t, _) => {
                self.calls.push(*ip);
                *ip = *t;
            }
            Return => match self.calls.pop() {
                Some(back) => *ip = back,
                None => return Ok(Some(Outcome::Return(self.pop_or_null()))),
            },
            Halt => return Ok(Some(Outcome::Return(self.pop_or_null()))),
            Abort => return Err(VmError::Aborted),
            TrustDim(d) => {
                let t = self.pop_tv()?;
                self.stack.push(Value::Number(t[d.index()]));
            }
            TrustNorm => {
                let t = self.pop_tv()?;
                self.stack.push(Value::Number(trust_mean(&t)));
            }
            TrustCombine => {
                let b = self.pop_tv()?;
                let a = self.pop_tv()?;
                let t = std::array::from_fn(|i| 1.0 - (1.0 - a[i]) * (1.0 - b[i]));
                self.stack.push(Value::TrustVector(t));
            }
            TrustCreate => {
                let mut t = [0.0; 6];
                for slot in t.iter_mut().rev() {
                    *slot = self.pop_n()?;
                }
                self.stack.push(Value::TrustVector(t));
            }
            TrustAboveThreshold => {
                let threshold = self.pop_n()?;
                let t = self.pop_tv()?;
                self.stack
                    .push(Value::Bool(t.iter().all(|&x| x >= threshold)));
            }
            TrustWeightedAvg => {
                let w = self.pop_a()?;
                let t = self.pop_tv()?;
                self.stack.push(Value::Number(weighted_avg(&t, &w)?));
            }
            TrustDistance => {
                let b = self.pop_tv()?;
                let a = self.pop_tv()?;
                self.stack.push(Value::Number(trust_distance(&a, &b)));
            }
            LoadTrust => {
                let did = self.pop_d()?;
                let t = host.get_trust(&did)?;
                self.stack.push(Value::TrustVector(t));
            }
            HasCredential => {
                let schema = self.pop_s()?;
                let did = self.pop_d()?;
                let has = host.has_credential(&did, &schema)?;
                self.stack.push(Value::Bool(has));
            }
            ResolveDid => {
                let did = self.pop_d()?;
                let known = host.resolve_did(&did)?;
                self.stack.push(Value::Bool(known));
            }
            GetBalance => {
                let did = self.pop_d()?;
                let balance = host.get_balance(&did)?;
                self.stack.push(Value::Number(balance as f64));
            }
            GetTimestamp => {
                let ts = host.timestamp()?;
                self.stack.push(Value::Number(ts as f64));
            }
            Log => {
                let msg = self.pop_s()?;
                host.log(&msg)?;
            }
            Assert => {
                if !self.pop_b()? {
                    return Err(VmError::AssertionFailed);
                }
            }
            Require => {
                let msg = self.pop_s()?;
                if !self.pop_b()? {
                    return Err(VmError::RequireFailed(msg.to_string()));
                }
            }
            Surprisal => {
                let p = self.pop_n()?;
                self.stack.push(Value::Number(surprisal(p)?));
            }
            StrLen => {
                let s = self.pop_s()?;
                self.stack.push(Value::Number(s.len() as f64));
            }
            StrEqIgnoreCase => {
                let b = self.pop_s()?;
                let a = self.pop_s()?;
                self.stack.push(Value::Bool(eq_ignore_case(&a, &b)));
            }
            StrContains => {
                let needle = self.pop_s()?;
                let hay = self.pop_s()?;
                self.stack.push(Value::Bool(hay.contains(&*needle)));
            }
            MathAbs => self.unary(f64::abs)?,
            MathSqrt => {
                let n = self.pop_n()?;
                self.stack.push(Value::Number(sqrt(n)?));
            }
            MathFloor => self.unary(f64::floor)?,
            MathCeil => self.unary(f64::ceil)?,
            MathRound => self.unary(f64::round)?,
            Clamp => {
                let max = self.pop_n()?;
                let min = self.pop_n()?;
                let v = self.pop_n()?;
                self.stack.push(Value::Number(clamp(v, min, max)?));
            }
            Lerp => {
                let t = self.pop_n()?;
                let b = self.pop_n()?;
                let a = self.pop_n()?;
                self.stack.push(Value::Number(a + t * (b - a)));
            }
            TimeSince => {
                let ts = self.pop_n()?;
                // A charging host answers through its (charged) timestamp
                // call, as a compiled component must.
                let now = if host.charges_calls() {
                    host.timestamp()?
                } else {
                    host.now()
                };
                let since = now.saturating_sub(ts as u64);
                self.stack.push(Value::Number(since as f64));
            }
            Contains => {
                let arr = self.pop_a()?;
                let v = self.pop()?;
                self.stack.push(Value::Bool(arr.contains(&v)));
            }
            ArrayLen => {
                let arr = self.pop_a()?;
                self.stack.push(Value::Number(arr.len() as f64));
            }
            ArrayGet => {
                let i = self.pop_n()?;
                let arr = self.pop_a()?;
                let index = i as usize;
                let item = arr.get(index).ok_or(VmError::IndexOutOfBounds {
                    index,
                    len: arr.len(),
                })?;
                self.stack.push(item.clone());
            }
            LoadCaller => self.stack.push(Value::did(host.caller())),
            LoadRealm => self.stack.push(Value::string(host.realm())),
            LoadParam => {
                let name = self.pop_s()?;
                self.stack.push(host.param(&name));
            }
            LoadLocal(n) => {
                let v = self.locals.get(usize::from(*n)).cloned();
                self.stack.push(v.unwrap_or(Value::Null));
            }
            StoreLocal(n) => {
                let v = self.pop()?;
                let n = usize::from(*n);
                if self.locals.len() <= n {
                    self.locals.resize(n + 1, Value::Null);
                }
                self.locals[n] = v;
            }
            AndThen(t) => {
                if !self.pop_b()? {
                    self.stack.push(Value::Bool(false));
                    *ip = *t;
                }
            }
            OrElse(t) => {
                if self.pop_b()? {
                    self.stack.push(Value::Bool(true));
                    *ip = *t;
                }
            }
            ToBool => {
                let b = self.pop_b()?;
                self.stack.push(Value::Bool(b));
            }
            MakeArray(n) => {
                let n = *n as usize;
                let at = self
                    .stack
                    .len()
                    .checked_sub(n)
                    .ok_or(VmError::StackUnderflow)?;
                let items: Arc<[Value]> = self.stack.drain(at..).collect();
                self.stack.push(Value::Array(items));
            }
            StoreGet => {
                let key = self.pop_s()?;
                let store = self.pop_s()?;
                let v = host.store_get(&store, &key)?;
                self.stack
                    .push(v.map_or(Value::Null, |s| Value::string(&s)));
            }
            StorePut => {
                let value = self.pop_s()?;
                let key = self.pop_s()?;
                let store = self.pop_s()?;
                host.store_put(&store, &key, &value)?;
            }
            StoreDelete => {
                let key = self.pop_s()?;
                let store = self.pop_s()?;
                let existed = host.store_delete(&store, &key)?;
                self.stack.push(Value::Bool(existed));
            }
            EmitEvent => {
                let payload = self.pop_s()?;
                let kind = self.pop_s()?;
                host.emit_event(&kind, &payload)?;
            }
            Deny => {
                let reason = self.pop_s()?;
                return Ok(Some(Outcome::Deny(reason.to_string())));
            }
            ToText => {
                let v = self.pop()?;
                self.stack.push(Value::String(Arc::from(text_of(&v)?)));
            }
            ToNumber => {
                let s = self.pop_s()?;
                self.stack.push(Value::Number(number_of(&s)?));
            }
            Concat => {
                let b = self.pop_s()?;
                let a = self.pop_s()?;
                let len = (a.len() + b.len()) as u64;
                if len > MAX_TEXT_BYTES {
                    return Err(VmError::Domain(format!(
                        "{}{len}{}",
                        message::TEXT_TOO_LONG,
                        message::TEXT_LIMIT
                    )));
                }
                let extra = len / CONCAT_BYTES_PER_GAS;
                if extra > 0 {
                    self.charge_compute(extra, host)?;
                }
                let mut joined = String::with_capacity(len as usize);
                joined.push_str(&a);
                joined.push_str(&b);
                self.stack.push(Value::String(Arc::from(joined)));
            }
        }
        Ok(None)
    }

    fn pop_or_null(&mut self) -> Value {
        self.stack.pop().unwrap_or(Value::Null)
    }
}

fn unreachable_op() -> &'static OpCode {
    // `ip < offset` only happens when a caller op exists; this keeps the
    // fetch total without a panic path.
    &OpCode::Halt
}

/// `TrustNorm`: the plain mean, summed left to right from −0.0.
pub fn trust_mean(t: &[f64; 6]) -> f64 {
    erynoa_core::TrustVector::from_array(*t).mean()
}

/// `TrustDistance`: the Euclidean distance.
pub fn trust_distance(a: &[f64; 6], b: &[f64; 6]) -> f64 {
    a.iter()
        .zip(b)
        .fold(-0.0, |acc, (x, y)| acc + (x - y) * (x - y))
        .sqrt()
}

/// `TrustWeightedAvg`.
pub fn weighted_avg(t: &[f64; 6], w: &[Value]) -> Result<f64, VmError> {
    if w.len() != 6 {
        return Err(VmError::Domain(format!("{}{}", message::WEIGHTS, w.len())));
    }
    let mut weights = [0.0; 6];
    for (slot, v) in weights.iter_mut().zip(w) {
        match v {
            Value::Number(n) => *slot = *n,
            // As the legacy `as_number` reads a bool.
            Value::Bool(b) => *slot = if *b { 1.0 } else { 0.0 },
            _ => return Err(VmError::Domain(message::WEIGHT.into())),
        }
    }
    Ok(erynoa_core::TrustVector::from_array(*t).weighted(&weights))
}

/// `Surprisal`: `-log2 p` for p in (0, 1].
pub fn surprisal(p: f64) -> Result<f64, VmError> {
    if p <= 0.0 || p > 1.0 {
        return Err(VmError::Domain(format!("{}{p}", message::SURPRISAL)));
    }
    Ok(-p.log2())
}

/// `MathSqrt`.
pub fn sqrt(n: f64) -> Result<f64, VmError> {
    if n < 0.0 {
        return Err(VmError::Domain(format!("{}{n}", message::SQRT)));
    }
    Ok(n.sqrt())
}

/// `Clamp`. The legacy VM crashed on min > max; this is an error instead.
pub fn clamp(v: f64, min: f64, max: f64) -> Result<f64, VmError> {
    // NaN bounds fail this too.
    if min.partial_cmp(&max).is_none_or(|o| o.is_gt()) {
        return Err(VmError::Domain(format!(
            "{}{min}{}{max}",
            message::CLAMP_MIN,
            message::CLAMP_MAX
        )));
    }
    Ok(v.clamp(min, max))
}

/// `StrEqIgnoreCase`: Unicode lowercase on both sides.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// The legacy test host (`StubHost`): one global trust vector (0.5 × 6 unless
/// set) for known DIDs, or for every DID while none is known; newcomer 0.1
/// otherwise; balances; credentials; timestamp 1 700 000 000; logs kept.
///
/// Budget modes charge an in-memory [`erynoa_core::Meter`].
#[derive(Debug, Clone)]
pub struct StubHost {
    trust: [f64; 6],
    known: Vec<String>,
    balances: Vec<(String, u64)>,
    credentials: Vec<(String, String)>,
    stores: Vec<(String, String, String)>,
    params: Vec<(String, Value)>,
    caller: String,
    realm: String,
    /// Lines logged, in order.
    pub logs: Vec<String>,
    /// Events emitted, in order.
    pub events: Vec<(String, String)>,
    /// The budget charged in [`Metering::Budget`] and [`Metering::Layered`].
    pub meter: erynoa_core::Meter,
}

impl Default for StubHost {
    fn default() -> Self {
        Self::new()
    }
}

impl StubHost {
    /// `StubHost::new()`: trust 0.5 × 6, nothing known, default budget.
    pub fn new() -> Self {
        Self {
            trust: [0.5; 6],
            known: Vec::new(),
            balances: Vec::new(),
            credentials: Vec::new(),
            stores: Vec::new(),
            params: Vec::new(),
            caller: "did:test:alice".into(),
            realm: "realm:test".into(),
            logs: Vec::new(),
            events: Vec::new(),
            meter: erynoa_core::Meter::new(erynoa_core::BudgetLimits::default()),
        }
    }

    /// Sets the global trust vector and makes `did` known.
    pub fn with_trust(mut self, did: &str, t: [f64; 6]) -> Self {
        self.trust = t;
        self.known.push(did.into());
        self
    }

    /// Gives `did` a balance and makes it known.
    pub fn with_balance(mut self, did: &str, n: u64) -> Self {
        self.balances.push((did.into(), n));
        self.known.push(did.into());
        self
    }

    /// Gives `did` a credential and makes it known.
    pub fn with_credential(mut self, did: &str, schema: &str) -> Self {
        self.credentials.push((did.into(), schema.into()));
        self.known.push(did.into());
        self
    }

    /// Sets the caller.
    pub fn with_caller(mut self, did: &str) -> Self {
        self.caller = did.into();
        self
    }

    /// Sets a request parameter.
    pub fn with_param(mut self, name: &str, v: Value) -> Self {
        self.params.push((name.into(), v));
        self
    }

    /// Sets the budget.
    pub fn with_limits(mut self, limits: erynoa_core::BudgetLimits) -> Self {
        self.meter = erynoa_core::Meter::new(limits);
        self
    }

    fn is_known(&self, did: &str) -> bool {
        self.known.is_empty() || self.known.iter().any(|k| k == did)
    }
}

impl Host for StubHost {
    fn caller(&self) -> &str {
        &self.caller
    }
    fn realm(&self) -> &str {
        &self.realm
    }
    fn param(&self, name: &str) -> Value {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Value::Null, |(_, v)| v.clone())
    }
    fn get_trust(&mut self, did: &str) -> Result<[f64; 6], HostError> {
        Ok(if self.is_known(did) {
            self.trust
        } else {
            [0.1; 6]
        })
    }
    fn has_credential(&mut self, did: &str, schema: &str) -> Result<bool, HostError> {
        Ok(self
            .credentials
            .iter()
            .any(|(d, s)| d == did && s == schema))
    }
    fn resolve_did(&mut self, did: &str) -> Result<bool, HostError> {
        Ok(self.is_known(did))
    }
    fn get_balance(&mut self, did: &str) -> Result<u64, HostError> {
        Ok(self
            .balances
            .iter()
            .find(|(d, _)| d == did)
            .map_or(0, |(_, n)| *n))
    }
    fn timestamp(&mut self) -> Result<u64, HostError> {
        Ok(self.now())
    }
    fn now(&self) -> u64 {
        1_700_000_000
    }
    fn log(&mut self, message: &str) -> Result<(), HostError> {
        self.logs.push(message.into());
        Ok(())
    }
    fn store_get(&mut self, store: &str, key: &str) -> Result<Option<String>, HostError> {
        Ok(self
            .stores
            .iter()
            .find(|(s, k, _)| s == store && k == key)
            .map(|(_, _, v)| v.clone()))
    }
    fn store_put(&mut self, store: &str, key: &str, value: &str) -> Result<(), HostError> {
        self.stores.retain(|(s, k, _)| !(s == store && k == key));
        self.stores.push((store.into(), key.into(), value.into()));
        Ok(())
    }
    fn store_delete(&mut self, store: &str, key: &str) -> Result<bool, HostError> {
        let before = self.stores.len();
        self.stores.retain(|(s, k, _)| !(s == store && k == key));
        Ok(self.stores.len() != before)
    }
    fn emit_event(&mut self, event_type: &str, payload: &str) -> Result<(), HostError> {
        self.events.push((event_type.into(), payload.into()));
        Ok(())
    }
    fn charge(&mut self, layer: GasLayer, amount: u64) -> Result<(), Exhaustion> {
        self.meter.charge_gas(layer, amount)
    }
    fn charges_calls(&self) -> bool {
        false
    }
}
