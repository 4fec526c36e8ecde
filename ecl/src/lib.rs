//! ECL, the Erynoa policy language: one front end, two back ends.
//!
//! The front end ([`parse`], [`compile`], [`check`], [`format`]) turns
//! source into a checked bytecode [`Program`]; diagnostics carry a code, a
//! position and a suggestion. The bytecode is the legacy ECLVM's, 59
//! opcodes with their legacy gas, plus ECL 1.0's opcodes numbered after
//! them. [`vm`] runs it exactly as the legacy VM did; [`eclc`] reads and
//! writes the legacy `.eclc` files.
//!
//! ```
//! use erynoa_ecl::vm::{run, Outcome, RunOptions, StubHost};
//! use erynoa_ecl::bytecode::Value;
//!
//! let program = erynoa_ecl::compile(r#"
//!     policy "adult" {
//!         require caller.trust.R >= 0.5, "not trusted enough"
//!         allow
//!     }
//! "#, None)?;
//! let done = run(&program.code, &mut StubHost::new(), RunOptions::legacy(10_000));
//! assert_eq!(done.result, Ok(Outcome::Return(Value::Bool(true))));
//! assert_eq!(done.meter_gas, 119);
//! # Ok::<(), erynoa_ecl::Diagnostics>(())
//! ```

pub mod ast;
pub mod bytecode;
mod compile;
pub mod component;
mod diagnostic;
pub mod eclc;
mod format;
pub mod lexer;
pub mod optimizer;
mod parser;
mod source_map;
pub mod vm;

pub use compile::{
    BUILTINS, MAX_STACK, Program, Ty, check, compile, compile_expr, compile_file, stack_effect,
};
pub use diagnostic::{Diagnostic, Diagnostics, line_col};
pub use format::{format, quote};
pub use parser::{MAX_NESTING, parse, parse_expr, strip_parens};
pub use source_map::SourceMap;
