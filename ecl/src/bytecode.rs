//! The bytecode: the 59 legacy opcodes in their legacy order, the ECL 1.0
//! opcodes numbered after them, runtime values, and what each opcode costs.

use std::fmt;
use std::sync::Arc;

use erynoa_core::{GasLayer, HostCall};

/// A trust dimension, in the legacy order R, I, C, P, V, Ω.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustDim {
    /// Reliability.
    R,
    /// Integrity.
    I,
    /// Competence.
    C,
    /// Prestige.
    P,
    /// Vigilance.
    V,
    /// Omega, axiom fidelity.
    Omega,
}

impl TrustDim {
    /// All six, in vector order.
    pub const ALL: [TrustDim; 6] = [
        TrustDim::R,
        TrustDim::I,
        TrustDim::C,
        TrustDim::P,
        TrustDim::V,
        TrustDim::Omega,
    ];

    /// Position in a trust vector.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The dimension at `index`.
    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// How ECL source writes it.
    pub const fn name(self) -> &'static str {
        match self {
            TrustDim::R => "R",
            TrustDim::I => "I",
            TrustDim::C => "C",
            TrustDim::P => "P",
            TrustDim::V => "V",
            TrustDim::Omega => "omega",
        }
    }
}

/// A runtime value: the legacy VM's seven kinds.
#[derive(Debug, Clone)]
pub enum Value {
    /// Nothing.
    Null,
    /// A boolean.
    Bool(bool),
    /// An IEEE double.
    Number(f64),
    /// Text.
    String(Arc<str>),
    /// A DID; equal text is not equal to a [`Value::String`].
    Did(Arc<str>),
    /// A trust vector, R, I, C, P, V, Ω. Not range-checked.
    TrustVector([f64; 6]),
    /// A list of values.
    Array(Arc<[Value]>),
}

impl Value {
    /// A string value.
    pub fn string(s: &str) -> Self {
        Value::String(Arc::from(s))
    }

    /// A DID value.
    pub fn did(s: &str) -> Self {
        Value::Did(Arc::from(s))
    }

    /// The legacy type name used in error texts: `null`, `bool`, `number`,
    /// `string`, `did`, `trust_vector` or `array`.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Did(_) => "did",
            Value::TrustVector(_) => "trust_vector",
            Value::Array(_) => "array",
        }
    }
}

/// Structural equality as the legacy `Eq` opcode defines it: same kind and
/// same payload, numbers by `==` (so NaN is unequal to itself).
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) | (Value::Did(a), Value::Did(b)) => a == b,
            (Value::TrustVector(a), Value::TrustVector(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            // The legacy display prefixed `did:` even to `did:...` payloads.
            Value::Did(d) if d.starts_with("did:") => f.write_str(d),
            Value::Did(d) => write!(f, "did:{d}"),
            Value::TrustVector(t) => write!(
                f,
                "[R:{:.2}, I:{:.2}, C:{:.2}, P:{:.2}, V:{:.2}, Ω:{:.2}]",
                t[0], t[1], t[2], t[3], t[4], t[5]
            ),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One instruction. Jump and call targets are absolute instruction indices.
///
/// Variants 0-58 are the legacy opcodes in the legacy order (their numbers
/// are the `.eclc` encoding); 59-74 are ECL 1.0's, 75 and up ECL 1.1's.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant is documented in docs/ecl.md's opcode table
pub enum OpCode {
    PushConst(Value),
    Pop,
    Dup,
    Swap,
    Pick(u8),
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
    Min,
    Max,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    And,
    Or,
    Not,
    Jump(usize),
    JumpIfFalse(usize),
    JumpIfTrue(usize),
    Call(usize, u8),
    Return,
    TrustDim(TrustDim),
    TrustNorm,
    TrustCombine,
    TrustCreate,
    LoadTrust,
    HasCredential,
    ResolveDid,
    GetBalance,
    GetTimestamp,
    Log,
    Assert,
    Require,
    Surprisal,
    TrustAboveThreshold,
    TrustWeightedAvg,
    TrustDistance,
    StrLen,
    StrEqIgnoreCase,
    StrContains,
    MathAbs,
    MathSqrt,
    MathFloor,
    MathCeil,
    MathRound,
    Clamp,
    Lerp,
    TimeSince,
    Contains,
    ArrayLen,
    ArrayGet,
    Halt,
    Abort,
    // ECL 1.0.
    /// Pushes the caller's DID.
    LoadCaller,
    /// Pushes the realm id.
    LoadRealm,
    /// Pops a name, pushes the request parameter of that name or null.
    LoadParam,
    /// Pushes a local.
    LoadLocal(u16),
    /// Pops into a local.
    StoreLocal(u16),
    /// Pops a condition; if false pushes `false` and jumps (`&&`).
    AndThen(usize),
    /// Pops a condition; if true pushes `true` and jumps (`||`).
    OrElse(usize),
    /// Pops a condition, pushes it as a bool.
    ToBool,
    /// Pops n values, pushes them as an array (deepest first).
    MakeArray(u32),
    /// Pops key and store, pushes the stored text or null.
    StoreGet,
    /// Pops value, key and store; writes the value's text.
    StorePut,
    /// Pops key and store, pushes whether the key existed.
    StoreDelete,
    /// Pops payload and event type; emits the event.
    EmitEvent,
    /// Pops a reason and ends the policy with a deny.
    Deny,
    /// Pops a value, pushes its text.
    ToText,
    /// Pops text, pushes the number it spells.
    ToNumber,
    // ECL 1.1.
    /// Pops two texts (strings or DIDs), pushes them joined as a string.
    /// Costs [`CONCAT_GAS`] plus one per [`CONCAT_BYTES_PER_GAS`] bytes of the
    /// result; a result over [`MAX_TEXT_BYTES`] is an error.
    Concat,
}

/// The fixed gas of [`OpCode::Concat`].
pub const CONCAT_GAS: u64 = 3;
/// [`OpCode::Concat`] costs one more gas per this many bytes it writes.
pub const CONCAT_BYTES_PER_GAS: u64 = 64;
/// Longest text [`OpCode::Concat`] makes, in bytes: with no loops a policy
/// could otherwise double a text with each `+`.
pub const MAX_TEXT_BYTES: u64 = 65_536;

/// Number of legacy opcodes (variant indices 0-58).
pub const LEGACY_OPCODES: u32 = 59;

impl OpCode {
    /// The legacy `gas_cost()`: charged when no layer accounting is attached.
    pub fn gas_cost(&self) -> u64 {
        use OpCode::*;
        match self {
            PushConst(_) | Pop | Dup | Swap | Neg | Not | Jump(_) => 1,
            Pick(_) | Add | Sub | Min | Max | Eq | Neq | Gt | Gte | Lt | Lte | And | Or => 2,
            JumpIfFalse(_) | JumpIfTrue(_) | MathAbs | ArrayLen => 2,
            Mul | TrustDim(_) | Assert | StrLen | MathFloor | MathCeil | MathRound | ArrayGet => 3,
            Div | Mod | Return | Require | GetTimestamp | StrEqIgnoreCase | MathSqrt | Lerp
            | TimeSince => 5,
            Call(..) | TrustNorm | TrustAboveThreshold | Contains => 10,
            TrustCombine | TrustDistance => 15,
            TrustCreate | Surprisal | StrContains => 8,
            TrustWeightedAvg => 12,
            Clamp => 4,
            LoadTrust => 100,
            HasCredential | ResolveDid | GetBalance => 50,
            Log => 20,
            Halt | Abort => 0,
            LoadCaller | LoadRealm | AndThen(_) | OrElse(_) | ToBool => 1,
            LoadParam | LoadLocal(_) | MakeArray(_) => 2,
            StoreLocal(_) => 0,
            ToText | ToNumber => 3,
            Concat => CONCAT_GAS,
            StoreGet | StoreDelete => 50,
            StorePut | EmitEvent => 100,
            Deny => 5,
        }
    }

    /// The legacy `gas_layer_cost()`: the layer and amount charged when
    /// layer accounting is attached (as in the host).
    pub fn layer_cost(&self) -> (GasLayer, u64) {
        use OpCode::*;
        match self {
            // The host calls cost what the host charges for them.
            LoadTrust => HostCall::GetTrust.gas(),
            HasCredential => HostCall::HasCredential.gas(),
            ResolveDid => HostCall::ResolveDid.gas(),
            GetBalance => (GasLayer::Network, 5),
            Log => HostCall::Log.gas(),
            GetTimestamp => HostCall::Timestamp.gas(),
            StoreGet => HostCall::StoreGet.gas(),
            StoreDelete => HostCall::StoreDelete.gas(),
            // The fixed part; the host adds one per started KiB of the value.
            StorePut => HostCall::StorePut { bytes: 0 }.gas(),
            EmitEvent => HostCall::EmitEvent { bytes: 0 }.gas(),
            other => (GasLayer::Compute, other.gas_cost()),
        }
    }

    /// The `erynoa:ecl` interface a program with this instruction must be
    /// granted (`trust`, `identity`, `state`, `context`, `events`), if any:
    /// the one table the host's admission and the compiler's imports agree on.
    pub const fn interface(&self) -> Option<&'static str> {
        use OpCode::*;
        match self {
            LoadTrust => Some("trust"),
            HasCredential | ResolveDid | GetBalance => Some("identity"),
            StoreGet | StorePut | StoreDelete => Some("state"),
            GetTimestamp | TimeSince | Log => Some("context"),
            EmitEvent => Some("events"),
            _ => None,
        }
    }

    /// Whether, in the host, the host call behind this opcode charges its
    /// own gas (so the VM must not charge it again).
    pub const fn is_host_call(&self) -> bool {
        matches!(
            self,
            OpCode::LoadTrust
                | OpCode::HasCredential
                | OpCode::ResolveDid
                | OpCode::GetTimestamp
                | OpCode::Log
                | OpCode::StoreGet
                | OpCode::StorePut
                | OpCode::StoreDelete
                | OpCode::EmitEvent
        )
    }

    /// The `.eclc` variant index.
    pub fn index(&self) -> u32 {
        use OpCode::*;
        match self {
            PushConst(_) => 0,
            Pop => 1,
            Dup => 2,
            Swap => 3,
            Pick(_) => 4,
            Add => 5,
            Sub => 6,
            Mul => 7,
            Div => 8,
            Mod => 9,
            Neg => 10,
            Min => 11,
            Max => 12,
            Eq => 13,
            Neq => 14,
            Gt => 15,
            Gte => 16,
            Lt => 17,
            Lte => 18,
            And => 19,
            Or => 20,
            Not => 21,
            Jump(_) => 22,
            JumpIfFalse(_) => 23,
            JumpIfTrue(_) => 24,
            Call(..) => 25,
            Return => 26,
            TrustDim(_) => 27,
            TrustNorm => 28,
            TrustCombine => 29,
            TrustCreate => 30,
            LoadTrust => 31,
            HasCredential => 32,
            ResolveDid => 33,
            GetBalance => 34,
            GetTimestamp => 35,
            Log => 36,
            Assert => 37,
            Require => 38,
            Surprisal => 39,
            TrustAboveThreshold => 40,
            TrustWeightedAvg => 41,
            TrustDistance => 42,
            StrLen => 43,
            StrEqIgnoreCase => 44,
            StrContains => 45,
            MathAbs => 46,
            MathSqrt => 47,
            MathFloor => 48,
            MathCeil => 49,
            MathRound => 50,
            Clamp => 51,
            Lerp => 52,
            TimeSince => 53,
            Contains => 54,
            ArrayLen => 55,
            ArrayGet => 56,
            Halt => 57,
            Abort => 58,
            LoadCaller => 59,
            LoadRealm => 60,
            LoadParam => 61,
            LoadLocal(_) => 62,
            StoreLocal(_) => 63,
            AndThen(_) => 64,
            OrElse(_) => 65,
            ToBool => 66,
            MakeArray(_) => 67,
            StoreGet => 68,
            StorePut => 69,
            StoreDelete => 70,
            EmitEvent => 71,
            Deny => 72,
            ToText => 73,
            ToNumber => 74,
            Concat => 75,
        }
    }

    /// The operand-less opcode with variant index `index`.
    pub(crate) fn simple(index: u32) -> Option<OpCode> {
        use OpCode::*;
        const TABLE: [Option<OpCode>; 76] = [
            None,
            Some(Pop),
            Some(Dup),
            Some(Swap),
            None,
            Some(Add),
            Some(Sub),
            Some(Mul),
            Some(Div),
            Some(Mod),
            Some(Neg),
            Some(Min),
            Some(Max),
            Some(Eq),
            Some(Neq),
            Some(Gt),
            Some(Gte),
            Some(Lt),
            Some(Lte),
            Some(And),
            Some(Or),
            Some(Not),
            None,
            None,
            None,
            None,
            Some(Return),
            None,
            Some(TrustNorm),
            Some(TrustCombine),
            Some(TrustCreate),
            Some(LoadTrust),
            Some(HasCredential),
            Some(ResolveDid),
            Some(GetBalance),
            Some(GetTimestamp),
            Some(Log),
            Some(Assert),
            Some(Require),
            Some(Surprisal),
            Some(TrustAboveThreshold),
            Some(TrustWeightedAvg),
            Some(TrustDistance),
            Some(StrLen),
            Some(StrEqIgnoreCase),
            Some(StrContains),
            Some(MathAbs),
            Some(MathSqrt),
            Some(MathFloor),
            Some(MathCeil),
            Some(MathRound),
            Some(Clamp),
            Some(Lerp),
            Some(TimeSince),
            Some(Contains),
            Some(ArrayLen),
            Some(ArrayGet),
            Some(Halt),
            Some(Abort),
            Some(LoadCaller),
            Some(LoadRealm),
            Some(LoadParam),
            None,
            None,
            None,
            None,
            Some(ToBool),
            None,
            Some(StoreGet),
            Some(StorePut),
            Some(StoreDelete),
            Some(EmitEvent),
            Some(Deny),
            Some(ToText),
            Some(ToNumber),
            Some(Concat),
        ];
        TABLE.get(index as usize).cloned().flatten()
    }

    /// The jump or call target, if any.
    pub fn target(&self) -> Option<usize> {
        match self {
            OpCode::Jump(t)
            | OpCode::JumpIfFalse(t)
            | OpCode::JumpIfTrue(t)
            | OpCode::Call(t, _)
            | OpCode::AndThen(t)
            | OpCode::OrElse(t) => Some(*t),
            _ => None,
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpCode::PushConst(v) => write!(f, "PushConst {v}"),
            OpCode::Pick(n) => write!(f, "Pick {n}"),
            OpCode::Jump(t) => write!(f, "Jump {t}"),
            OpCode::JumpIfFalse(t) => write!(f, "JumpIfFalse {t}"),
            OpCode::JumpIfTrue(t) => write!(f, "JumpIfTrue {t}"),
            OpCode::Call(t, n) => write!(f, "Call {t} {n}"),
            OpCode::TrustDim(d) => write!(f, "TrustDim {}", d.name()),
            OpCode::LoadLocal(n) => write!(f, "LoadLocal {n}"),
            OpCode::StoreLocal(n) => write!(f, "StoreLocal {n}"),
            OpCode::AndThen(t) => write!(f, "AndThen {t}"),
            OpCode::OrElse(t) => write!(f, "OrElse {t}"),
            OpCode::MakeArray(n) => write!(f, "MakeArray {n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A listing of `code`, one instruction per line with its index and gas.
///
/// ```
/// use erynoa_ecl::bytecode::{disassemble, OpCode, Value};
/// let listing = disassemble(&[OpCode::PushConst(Value::Number(1.0)), OpCode::Return]);
/// assert_eq!(listing, "   0  PushConst 1        gas 1\n   1  Return             gas 5\n");
/// ```
pub fn disassemble(code: &[OpCode]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, op) in code.iter().enumerate() {
        let text = op.to_string();
        let _ = writeln!(out, "{i:>4}  {text:<18} gas {}", op.gas_cost());
    }
    out
}
