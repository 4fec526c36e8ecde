//! What an evaluation returns: the decision, or why the host denied.

use std::time::Duration;

use erynoa_core::{ErrorCode, Exhaustion, LayerTotals};
use serde::Serialize;

use super::Session;
use crate::state::StateChanges;

/// What [`Policy::run`](super::Policy::run) hands back: the session (its
/// transaction and meter) and the decision or failure.
#[derive(Debug)]
pub struct Run {
    /// The session the policy ran in.
    pub session: Session,
    /// What it decided, or why it could not.
    pub outcome: Result<Decision, Failure>,
}

impl Run {
    /// A run that ended with `outcome`.
    pub fn new(session: Session, outcome: Result<Decision, Failure>) -> Self {
        Self { session, outcome }
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
}

/// What a policy decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// Why.
    pub reason: Option<String>,
}

/// Longest reason a decision may give, in bytes.
pub const MAX_REASON_BYTES: usize = 4096;

impl Decision {
    /// A policy's decision, held to the contract's rules whichever back end
    /// gave it: a reason over [`MAX_REASON_BYTES`] is an invalid decision.
    pub fn checked(effect: Effect, reason: Option<String>) -> Result<Decision, Failure> {
        if let Some(reason) = &reason
            && reason.len() > MAX_REASON_BYTES
        {
            return Err(Failure::InvalidDecision {
                message: format!(
                    "reason of {} bytes is longer than the limit of {MAX_REASON_BYTES}",
                    reason.len()
                ),
            });
        }
        Ok(Decision { effect, reason })
    }
}

/// Why the host denied instead of the policy deciding.
///
/// In JSON it is `{"kind", "message"}`, with the same kind the text output
/// shows (`out-of-gas`, `trap`, ...), and its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// The budget ran out.
    #[error("{0}")]
    Exhausted(Exhaustion),
    /// The policy trapped (a panic, an `unreachable`, a bad memory access).
    #[error("trap: {message}")]
    Trap {
        /// What the trap was, with the policy's panic message if it printed one.
        message: String,
    },
    /// The policy returned an error instead of a decision.
    #[error("policy error ({code}): {message}")]
    PolicyError {
        /// The error code, e.g. `invalid-argument`.
        code: ErrorCode,
        /// The policy's message.
        message: String,
    },
    /// An ECL policy failed at run time by its own fault: a type error, a
    /// division by zero, an index out of bounds, a value that is not a bool
    /// where a decision was due. The message is the legacy VM's text, after
    /// where it happened (`kyc.ecl:4:13: param("amount") * 2: `) when the
    /// policy was compiled from source.
    #[error("policy fault: {message}")]
    PolicyFault {
        /// What went wrong, in the legacy VM's words, located if known.
        message: String,
    },
    /// The policy's decision broke a rule of the contract.
    #[error("invalid decision: {message}")]
    InvalidDecision {
        /// Which rule.
        message: String,
    },
    /// The policy's reads went stale before its writes could commit, every try.
    #[error(
        "state conflict: values the policy read kept changing while it ran ({attempts} attempts)"
    )]
    Conflict {
        /// How often the evaluation was tried.
        attempts: u32,
    },
    /// The host could not run the policy (e.g. every pooled instance is busy).
    #[error("host: {message}")]
    Host {
        /// What failed.
        message: String,
    },
}

impl Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut f = s.serialize_struct("Failure", 2)?;
        f.serialize_field("kind", self.kind())?;
        f.serialize_field("message", &self.to_string())?;
        f.end()
    }
}

impl Failure {
    /// A short, stable name: `out-of-gas`, `out-of-mana`, `timeout`, `memory`,
    /// `stack`, `trap`, `policy-error`, `policy-fault`, `invalid-decision`,
    /// `conflict` or `host`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Exhausted(e) => e.kind(),
            Failure::Trap { .. } => "trap",
            Failure::PolicyError { .. } => "policy-error",
            Failure::PolicyFault { .. } => "policy-fault",
            Failure::InvalidDecision { .. } => "invalid-decision",
            Failure::Conflict { .. } => "conflict",
            Failure::Host { .. } => "host",
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The policy's id.
    pub policy_id: String,
    /// Allow or deny. Fails closed: anything but a clean allow is a deny.
    pub effect: Effect,
    /// Why: the policy's reason, or the failure's description.
    pub reason: Option<String>,
    /// Set when the host denied because something went wrong.
    pub failure: Option<Failure>,
    /// Gas used (raw amounts, all layers), as counted against the limit.
    pub gas_used: u64,
    /// Priced gas per layer.
    pub gas: LayerTotals,
    /// Mana used.
    pub mana_used: u64,
    /// Wall-clock time of the whole evaluation.
    #[serde(rename = "duration_us", serialize_with = "as_micros")]
    pub duration: Duration,
    /// The writes and events: applied if allowed, discarded otherwise.
    pub changes: StateChanges,
}

fn as_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl Evaluation {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }
}
