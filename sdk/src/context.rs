//! Facts about the current evaluation (`erynoa:ecl/context`).

use crate::backend;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Tracing.
    Trace,
    /// Debugging.
    Debug,
    /// Information.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// DID of the caller. Free.
pub fn caller() -> String {
    backend::caller()
}

/// Realm of the request. Free.
pub fn realm() -> String {
    backend::realm()
}

/// Evaluation time in Unix seconds, fixed for the whole evaluation. Costs 1 compute gas.
pub fn timestamp() -> u64 {
    backend::timestamp()
}

/// Writes a line to the host's log. Costs 2 storage gas; the host keeps at
/// most 64 lines of 1 KiB per evaluation.
pub fn log(level: Level, message: &str) {
    backend::log(level, message)
}
