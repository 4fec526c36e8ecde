//! The memory map of a compiled policy, the tags of boxed values, the error
//! and outcome codes the generated code records, and its globals.

use wasm_encoder::{MemArg, ValType};

// ---- Memory layout ----

/// Scratch area for results returned by imports (the largest, a trust
/// vector result, is 56 bytes).
pub(crate) const RET: i32 = 64;
/// The `evaluate` result record.
pub(crate) const RES: i32 = 128;
/// The `metadata` result record.
pub(crate) const META: i32 = 160;
/// Where static data starts.
pub(crate) const DATA: u32 = 1024;

/// 2^63: below it an integral f64 converts to i64 exactly.
pub(crate) const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;

/// Box tags: the legacy value kinds.
pub(crate) const T_NULL: i32 = 0;
pub(crate) const T_BOOL: i32 = 1;
pub(crate) const T_NUMBER: i32 = 2;
pub(crate) const T_STRING: i32 = 3;
pub(crate) const T_DID: i32 = 4;
pub(crate) const T_TRUST: i32 = 5;
pub(crate) const T_ARRAY: i32 = 6;
pub(crate) const TYPE_NAMES: [&str; 7] = [
    "null",
    "bool",
    "number",
    "string",
    "did",
    "trust_vector",
    "array",
];

/// What a coercion expected, as the VM's error texts name it.
pub(crate) const E_NUMBER: i32 = 0;
pub(crate) const E_BOOL: i32 = 1;
pub(crate) const E_STRING: i32 = 2;
pub(crate) const E_DID: i32 = 3;
pub(crate) const E_TRUST: i32 = 4;
pub(crate) const E_ARRAY: i32 = 5;
pub(crate) const EXPECTED: [&str; 6] = ["number", "bool", "string", "DID", "TrustVector", "Array"];

/// Error kinds the generated code records in `$err`.
pub(crate) mod err {
    pub const TYPE: i32 = 1;
    pub const DIV_ZERO: i32 = 2;
    pub const MOD_ZERO: i32 = 3;
    pub const SURPRISAL: i32 = 5;
    pub const SQRT: i32 = 6;
    pub const CLAMP: i32 = 7;
    pub const INDEX: i32 = 8;
    pub const WEIGHTS: i32 = 9;
    pub const WEIGHT: i32 = 10;
    pub const NUM: i32 = 11;
    pub const STR: i32 = 12;
    pub const HOST: i32 = 13;
    pub const TEXT_LONG: i32 = 14;
}

/// How the run ended, in `$outcome` (0, the initial value, is allow).
pub(crate) mod outcome {
    pub const DENY: i32 = 1;
    pub const DENY_REASON: i32 = 2;
    pub const ERROR: i32 = 3;
    pub const NOT_BOOL: i32 = 4;
}

/// The module's globals, by index.
pub(crate) mod global {
    /// `i32`: the bump allocator's next free byte.
    pub(crate) const HEAP: u32 = 0;
    /// `i64`: gas left, as the host said at the start minus what was charged since.
    pub(crate) const GAS_LEFT: u32 = 1;
    /// `i64`: compute gas charged here but not yet reported to the host.
    pub(crate) const GAS_PENDING: u32 = 2;
    /// `i32`: the error recorded (an `err` code), 0 if none.
    pub(crate) const ERROR: u32 = 3;
    /// `i64`: the error's first detail, e.g. the type a coercion expected.
    pub(crate) const ERROR_A: u32 = 4;
    /// `i64`: the error's second detail, e.g. the type it found.
    pub(crate) const ERROR_B: u32 = 5;
    /// `i64`: the caller's DID, a packed string.
    pub(crate) const CALLER: u32 = 6;
    /// `i64`: the realm, a packed string.
    pub(crate) const REALM: u32 = 7;
    /// `i32`: where the request's parameter list starts.
    pub(crate) const PARAMS: u32 = 8;
    /// `i32`: how many parameters it has.
    pub(crate) const PARAM_COUNT: u32 = 9;
    /// `i32`: how the run ended (an `outcome` code; 0 is allow).
    pub(crate) const OUTCOME: u32 = 10;
    /// `i64`: a deny's reason, a packed string.
    pub(crate) const REASON: u32 = 11;
    /// `i64`: where a run-time fault happened, a packed string
    /// (`file:line:col: expression: `); 0 if unknown.
    pub(crate) const ERROR_AT: u32 = 12;
}

pub(crate) fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        memory_index: 0,
    }
}

/// The static type of a value on the stack; decides its wasm type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Num,
    Str,
    Did,
    Trust,
    Arr,
    Any,
}

impl Kind {
    pub(crate) fn val(self) -> ValType {
        match self {
            Kind::Num => ValType::F64,
            Kind::Str | Kind::Did => ValType::I64,
            _ => ValType::I32,
        }
    }

    pub(crate) fn tag(self) -> i32 {
        match self {
            Kind::Null => T_NULL,
            Kind::Bool => T_BOOL,
            Kind::Num => T_NUMBER,
            Kind::Str => T_STRING,
            Kind::Did => T_DID,
            Kind::Trust => T_TRUST,
            Kind::Arr => T_ARRAY,
            Kind::Any => -1,
        }
    }
}
