use crate::GasLayer;

/// A host function a policy can call, with what the call costs.
///
/// The costs are the legacy VM's layer costs for the operations it had
/// (`LoadTrust` network 10, `HasCredential` and `ResolveDID` network 5, `Log`
/// storage 2, `TrustNorm` compute 10, `GetTimestamp` compute 1), so a policy
/// pays the same whichever engine runs it. State and events were not reachable
/// from legacy bytecode; their costs are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCall {
    /// `trust.get-trust`.
    GetTrust,
    /// `trust.trust-norm`.
    TrustNorm,
    /// `identity.has-credential`.
    HasCredential,
    /// `identity.resolve-did`.
    ResolveDid,
    /// `state.store-get`.
    StoreGet,
    /// `state.store-put` of a value of this many bytes.
    StorePut {
        /// Length of the value in bytes.
        bytes: usize,
    },
    /// `state.store-delete`.
    StoreDelete,
    /// `context.timestamp`.
    Timestamp,
    /// `context.log`.
    Log,
    /// `events.emit-event` with a payload of this many bytes.
    EmitEvent {
        /// Length of the payload in bytes.
        bytes: usize,
    },
}

impl HostCall {
    /// The layer the call is charged on and its raw gas amount.
    ///
    /// ```
    /// use erynoa_budget::{GasLayer, HostCall};
    /// assert_eq!(HostCall::GetTrust.gas(), (GasLayer::Network, 10));
    /// assert_eq!(HostCall::StorePut { bytes: 2048 }.gas(), (GasLayer::Storage, 12));
    /// ```
    pub const fn gas(self) -> (GasLayer, u64) {
        match self {
            HostCall::GetTrust => (GasLayer::Network, 10),
            HostCall::TrustNorm => (GasLayer::Compute, 10),
            HostCall::HasCredential | HostCall::ResolveDid => (GasLayer::Network, 5),
            HostCall::StoreGet | HostCall::StoreDelete => (GasLayer::Storage, 5),
            HostCall::StorePut { bytes } => (GasLayer::Storage, 10 + (bytes as u64).div_ceil(1024)),
            HostCall::Timestamp => (GasLayer::Compute, 1),
            HostCall::Log => (GasLayer::Storage, 2),
            HostCall::EmitEvent { .. } => (GasLayer::Storage, 10),
        }
    }

    /// The mana the call costs: writes and events cost 1 plus 1 per 100 bytes.
    pub const fn mana(self) -> u64 {
        match self {
            HostCall::StorePut { bytes } | HostCall::EmitEvent { bytes } => 1 + bytes as u64 / 100,
            _ => 0,
        }
    }
}
