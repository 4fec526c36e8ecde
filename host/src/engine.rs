//! What every policy engine implements, and what an evaluation returns.

use std::sync::Arc;
use std::time::Duration;

use erynoa_core::{BudgetLimits, Exhaustion, LayerTotals};
use serde::Serialize;

use crate::Request;
use crate::session::{Session, Tape};
use crate::state::{PolicyType, StateChanges, UnifiedState};

/// Loads policies from bytes. The component engine implements it; so does the
/// legacy ECL VM, so both run through the same state, budget and metrics.
pub trait PolicyEngine: Send + Sync {
    /// Checks and prepares `bytes` as the policy `id`. Nothing is run but the
    /// policy's metadata function.
    fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<dyn Policy>, LoadError>;
}

/// A loaded policy, ready to evaluate requests.
pub trait Policy: Send + Sync {
    /// What the policy says about itself.
    fn info(&self) -> &PolicyInfo;

    /// Runs the policy once on `session`: reads through the session's view,
    /// buffers writes in its handle and charges its meter. Engines implement
    /// this; callers use [`Policy::evaluate`].
    fn run(&self, session: Session) -> (Session, Result<Decision, Failure>);

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
        crate::evaluate::evaluate(self, state, request, limits, Tape::Off).0
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
        crate::evaluate::evaluate(self, state, request, limits, tape)
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

/// Why the host denied instead of the policy deciding.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
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
        code: erynoa_core::ErrorCode,
        /// The policy's message.
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
        "state conflict: the realm's stores kept changing while the policy ran ({attempts} attempts)"
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

impl Failure {
    /// A short, stable name: `out-of-gas`, `out-of-mana`, `timeout`, `memory`,
    /// `stack`, `trap`, `policy-error`, `invalid-decision`, `conflict` or `host`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Exhausted(e) => e.kind(),
            Failure::Trap { .. } => "trap",
            Failure::PolicyError { .. } => "policy-error",
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

/// A policy that cannot be loaded. Nothing of it was run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly.
    #[error("not a WebAssembly binary: {reason}")]
    NotWasm {
        /// What is wrong with them.
        reason: String,
    },
    /// A core module where a component is needed.
    #[error(
        "a core wasm module, not a component: build the policy for `wasm32-wasip2` \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not validate or compile.
    #[error("invalid component: {reason}")]
    Invalid {
        /// The validator's or compiler's message.
        reason: String,
    },
    /// The signature check refused the component; it was not compiled.
    #[error("refused before compiling: {0}")]
    Refused(crate::trust_store::AdmissionError),
    /// The component imports an interface its signers were not granted.
    #[error(
        "component imports `{interface}`, but its signers ({signers}) are not granted `{capability}`"
    )]
    NotGranted {
        /// The import.
        interface: String,
        /// The capability it needs.
        capability: crate::trust_store::Capability,
        /// Who signed it.
        signers: String,
    },
    /// The component was built against a version of the contract this host
    /// cannot serve.
    #[error(
        "component uses `{interface}` version {found}; this host serves version {served} (any 0.1.x loads)"
    )]
    UnsupportedVersion {
        /// The interface.
        interface: String,
        /// The version the component wants.
        found: String,
        /// The version this host serves.
        served: &'static str,
    },
    /// The component imports something the host does not provide.
    #[error(
        "component imports `{name}`, which this host does not provide (it serves erynoa:ecl@0.1 and wasi)"
    )]
    UnsupportedImport {
        /// The import's name.
        name: String,
    },
    /// The component imports WASI, which this host does not serve.
    #[error(
        "component imports `{name}`: this host serves no WASI (no clocks, files, random or stdio; see docs/security.md). \
         Log with erynoa:ecl/context.log, read the time with context.timestamp; in Rust, avoid `println!`, \
         `std::time` and `HashMap::new()` (use `BTreeMap`)"
    )]
    WasiNotServed {
        /// The import's name.
        name: String,
    },
    /// The component declares that it reports its own gas without being
    /// granted to.
    #[error(
        "component declares `erynoa:metering = self` (it reports its own gas), but its signers ({signers}) are not granted `self-metering`; grant it only to code from a compiler you trust, such as `erynoa compile`"
    )]
    SelfMeteringNotGranted {
        /// Who signed it.
        signers: String,
    },
    /// Compiling the component would cost more than the engine allows.
    #[error("component has {found} {what}; this engine's limit is {limit} (see `EngineConfig`)")]
    TooLarge {
        /// What is counted: `bytes`, `functions` or `bytes of code`.
        what: &'static str,
        /// How many it has.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// The component does not export the policy interface.
    #[error(
        "component does not export `erynoa:ecl/policy@0.1.0`: it implements another world (exports: {exports})"
    )]
    MissingExport {
        /// What it exports instead.
        exports: String,
    },
    /// The component exports the policy interface with other signatures
    /// than this host's, e.g. built against a changed copy of the WIT.
    #[error(
        "component exports `erynoa:ecl/policy` with signatures this host does not expect: {reason}"
    )]
    ExportMismatch {
        /// What differs, as wasmtime found it.
        reason: String,
    },
    /// Linking or instantiating failed.
    #[error("cannot instantiate component: {reason}")]
    Instantiate {
        /// Why.
        reason: String,
    },
    /// The policy's metadata function failed.
    #[error("policy metadata failed: {reason}")]
    Metadata {
        /// Why.
        reason: String,
    },
}
