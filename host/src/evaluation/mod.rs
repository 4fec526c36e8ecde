//! One evaluation, whatever engine runs the policy: the [`Policy`] trait
//! engines implement, the [`Session`] a policy's host calls go through, the
//! driver that commits or discards its changes and records it, and what it
//! returns.
//!
//! The path of one evaluation: [`Policy::evaluate`] → `driver::evaluate`
//! (budget caps, a [`Session`] with its [`Transaction`](crate::state::Transaction)
//! and meter) → the engine's [`Policy::run`] (the guest's host calls go to
//! the session) → a [`Run`] → commit on allow, discard otherwise (rerun on
//! a conflict) → the event log and metrics → an [`Evaluation`].

mod driver;
mod outcome;
mod session;
mod tape;

use std::sync::Arc;

use erynoa_core::BudgetLimits;
use serde::Serialize;

pub use self::outcome::{Decision, Effect, Evaluation, Failure, MAX_REASON_BYTES, Run};
pub use self::session::{CallError, LogLevel, Session, printable};
pub use self::tape::{HostCallRecord, Tape};
use crate::Request;
use crate::state::{PolicyType, UnifiedState};

/// A loaded policy, ready to evaluate requests.
pub trait Policy: Send + Sync {
    /// What the policy says about itself.
    fn info(&self) -> &PolicyInfo;

    /// Runs the policy once on `session`: reads and buffers writes through
    /// the session's transaction and charges its meter. Engines implement
    /// this; callers use [`Policy::evaluate`].
    fn run(&self, session: Session) -> Run;

    /// Evaluates `request` against `state` under `limits`: commits the
    /// policy's writes and events if it allows, discards them otherwise, and
    /// records the evaluation in the event log and the metrics. Never fails:
    /// anything that goes wrong is a deny with its reason.
    fn evaluate(
        &self,
        state: &Arc<UnifiedState>,
        request: &Request,
        limits: BudgetLimits,
    ) -> Evaluation {
        driver::evaluate(self, state, request, limits, Tape::Off).0
    }

    /// [`Policy::evaluate`], recording every host call into `tape` or
    /// answering them from it; returns the tape with what it found.
    fn evaluate_taped(
        &self,
        state: &Arc<UnifiedState>,
        request: &Request,
        limits: BudgetLimits,
        tape: Tape,
    ) -> (Evaluation, Tape) {
        driver::evaluate(self, state, request, limits, tape)
    }
}

/// A policy's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// The id the operator loaded it under.
    pub id: String,
    /// The name the policy gives itself.
    pub name: String,
    /// The version the policy gives itself.
    pub version: String,
    /// Its kind, for metrics.
    pub policy_type: PolicyType,
    /// The engine that runs it, e.g. `component`.
    pub engine: &'static str,
    /// The interfaces it imports, e.g. `erynoa:ecl/trust@0.1.0`.
    pub imports: Vec<String>,
    /// Who signed it and what it may do; `None` when loaded unsigned.
    /// Shared with every `PolicyEvaluated` event it causes.
    pub admission: Option<Arc<crate::trust_store::Admission>>,
}
