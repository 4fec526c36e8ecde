use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::trust_store::Admission;

/// The kind of a policy, as the legacy metrics counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    /// Realm crossing.
    Crossing,
    /// Realm membership.
    Membership,
    /// Transactions.
    Transaction,
    /// Governance.
    Governance,
    /// Privacy.
    Privacy,
    /// API access.
    Api,
    /// Anything else.
    #[default]
    Custom,
}

/// An entry of the append-only event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StateEvent {
    /// A policy was evaluated; appended for every evaluation, allowed or not.
    PolicyEvaluated {
        /// The policy's id.
        policy_id: String,
        /// The request's realm, if it had one.
        realm_id: Option<String>,
        /// Whether the decision was allow.
        passed: bool,
        /// The policy's kind.
        policy_type: PolicyType,
        /// Gas used.
        gas_used: u64,
        /// Mana used.
        mana_used: u64,
        /// Wall-clock duration in microseconds.
        duration_us: u64,
        /// How the policy was admitted: the digest of the exact signed
        /// component or pinned source, the signers, the grants. So every
        /// decision in the log names the code that made it. `None` for a
        /// policy loaded unsigned.
        admission: Option<Arc<Admission>>,
    },
    /// An event a policy emitted, applied because its decision was allow.
    PolicyEmitted {
        /// The emitting policy's id.
        policy_id: String,
        /// The request's realm.
        realm_id: String,
        /// The event type the policy gave.
        event_type: String,
        /// The payload the policy gave.
        payload: String,
    },
}
