//! The Erynoa policy host: runs policy plugins, WebAssembly components of the
//! `erynoa:ecl` world, against an in-memory [`UnifiedState`] under a strict
//! budget.
//!
//! A policy is loaded once ([`ComponentEngine::load`](PolicyEngine::load)):
//! its header, world and imports are checked, it is compiled and linked, and
//! its metadata read. Each [`Policy::evaluate`] then runs it in a fresh,
//! isolated instance with fuel for gas, an epoch deadline and a memory cap,
//! and returns an [`Evaluation`]: allow or deny, the reason, gas per layer,
//! mana, duration and the state changes. Writes and events are applied only
//! when the decision is allow. Anything that goes wrong (a trap, an
//! exhausted budget, a malformed decision) is a deny with its reason, never
//! a crash of the host.
//!
//! ```no_run
//! use std::sync::Arc;
//! use erynoa_host::{BudgetLimits, ComponentEngine, PolicyEngine, Request, UnifiedState, Value};
//!
//! let engine = ComponentEngine::new(Default::default())?;
//! let policy = engine.load("kyc", &std::fs::read("kyc_score.wasm")?)?;
//! let state = Arc::new(UnifiedState::from_json(
//!     r#"{"trust": {"did:erynoa:self:alice": 0.9}, "identities": {"did:erynoa:self:alice": ["kyc"]}}"#,
//! )?);
//! let request = Request::builder("did:erynoa:self:alice", "finance")
//!     .action("transfer")
//!     .param("amount", Value::Number(250.0))
//!     .build();
//! let answer = policy.evaluate(&state, &request, BudgetLimits::default());
//! assert!(answer.is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod engine;
mod evaluation;
pub mod json;
mod request;
pub mod state;
mod trust_store;

pub use erynoa_core::{
    BudgetLimits, Exhaustion, GasLayer, LayerTotals, Rejected, TrustVector, Value,
};

pub use crate::engine::bytecode::{BytecodeEngine, BytecodePolicy, capabilities};
pub use crate::engine::compiled_ecl::{Cost, ExecutionMode};
pub use crate::engine::component::cache::CacheError;
pub use crate::engine::component::{
    ComponentEngine, ComponentPolicy, EngineConfig, EngineError, METERING_SECTION,
};
pub use crate::engine::source::{PolicySource, SourceError};
pub use crate::engine::{BoxError, LoadError, PolicyEngine};
pub use crate::evaluation::{
    CallError, Decision, Effect, Evaluation, Failure, HostCallRecord, LogLevel, MAX_REASON_BYTES,
    Policy, PolicyInfo, Run, Session, Tape, printable,
};
pub use crate::request::{Request, RequestBuilder, RequestError};

pub use crate::state::{
    CommitError, CommitRecord, Journal, JournalError, StateChanges, StateEvent, StoreWrite,
    Transaction, UnifiedState,
};
pub use crate::trust_store::{
    Admission, AdmissionError, Capability, Trust, TrustStore, TrustStoreError, TrustedKey, digest,
};
