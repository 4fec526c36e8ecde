//! Host calls: what each costs, and what each accepts.
//!
//! The host and the SDK's native test host both call these, so a policy
//! pays the same and is refused the same everywhere.

use crate::GasLayer;

/// Longest store name or key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest store value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Longest event payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 10;
/// Most events one evaluation may emit.
pub const MAX_EVENTS: usize = 256;
/// Longest DID, in bytes.
pub const MAX_DID_BYTES: usize = 1024;
/// Argument bytes a host call may pass without paying for them.
pub const FREE_ARGUMENT_BYTES: usize = 1024;
/// Argument bytes beyond [`FREE_ARGUMENT_BYTES`] that cost one unit of
/// compute gas: the host copies and reads every byte a guest passes it, so
/// a call's work must be paid for by its size, not only by its kind.
pub const ARGUMENT_BYTES_PER_GAS: usize = 64;

/// The compute gas a host call pays for passing `bytes` of arguments, on top
/// of its own cost: nothing up to [`FREE_ARGUMENT_BYTES`], then one unit per
/// [`ARGUMENT_BYTES_PER_GAS`] bytes.
///
/// ```
/// use erynoa_core::calls::argument_gas;
/// assert_eq!(argument_gas(1024), 0);
/// assert_eq!(argument_gas(1025), 1);
/// assert_eq!(argument_gas(6 << 20), 98_288);
/// ```
pub const fn argument_gas(bytes: usize) -> u64 {
    (bytes.saturating_sub(FREE_ARGUMENT_BYTES)).div_ceil(ARGUMENT_BYTES_PER_GAS) as u64
}

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
    /// use erynoa_core::{GasLayer, HostCall};
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

/// Why a host call refused its arguments. The policy gets it back as an
/// error and may go on; it still paid for the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejected {
    /// Whether an argument was malformed or too large.
    pub code: RejectCode,
    /// What was wrong, for the policy author.
    pub message: String,
}

/// The error codes of the contract (`erynoa:ecl/types.error-code`), by
/// their one spelling.
///
/// ```
/// use erynoa_core::ErrorCode;
/// assert_eq!(ErrorCode::InvalidArgument.as_str(), "invalid-argument");
/// assert_eq!("limit-exceeded".parse::<ErrorCode>(), Ok(ErrorCode::LimitExceeded));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Something asked for does not exist.
    NotFound,
    /// An argument was malformed.
    InvalidArgument,
    /// An argument was over a limit.
    LimitExceeded,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    /// The code as the contract spells it, e.g. `invalid-argument`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not-found",
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::LimitExceeded => "limit-exceeded",
            ErrorCode::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not one of the [`ErrorCode`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an error code (not-found, invalid-argument, limit-exceeded, internal)")]
pub struct UnknownErrorCode(pub String);

impl std::str::FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ErrorCode::NotFound,
            ErrorCode::InvalidArgument,
            ErrorCode::LimitExceeded,
            ErrorCode::Internal,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

impl From<RejectCode> for ErrorCode {
    fn from(code: RejectCode) -> Self {
        match code {
            RejectCode::InvalidArgument => ErrorCode::InvalidArgument,
            RejectCode::LimitExceeded => ErrorCode::LimitExceeded,
        }
    }
}

/// The kind of a [`Rejected`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// An argument was malformed.
    InvalidArgument,
    /// An argument was over a limit.
    LimitExceeded,
}

fn invalid(message: String) -> Rejected {
    Rejected {
        code: RejectCode::InvalidArgument,
        message,
    }
}

fn too_large(message: String) -> Rejected {
    Rejected {
        code: RejectCode::LimitExceeded,
        message,
    }
}

/// `did:<method>:<id>` with a non-empty method and id, at most
/// [`MAX_DID_BYTES`] long, without control characters (a DID is printed in
/// logs and reasons, where a newline or an escape would forge lines).
///
/// ```
/// assert!(erynoa_core::is_did("did:erynoa:self:alice"));
/// assert!(!erynoa_core::is_did("did::alice"));
/// assert!(!erynoa_core::is_did("did:erynoa:alice\n[ok] allowed"));
/// ```
pub fn is_did(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    s.len() <= MAX_DID_BYTES
        && !s.chars().any(char::is_control)
        && matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some("did"), Some(method), Some(id)) if !method.is_empty() && !id.is_empty()
        )
}

/// Refuses an argument that must be a DID and is not.
pub fn check_did(did: &str) -> Result<(), Rejected> {
    if is_did(did) {
        return Ok(());
    }
    let shown: String = did.chars().take(128).flat_map(char::escape_debug).collect();
    Err(invalid(format!(
        "`{shown}` is not a DID (expected `did:<method>:<id>`)"
    )))
}

/// Refuses an empty store name and over-long names or keys.
pub fn check_store_key(store: &str, key: &str) -> Result<(), Rejected> {
    if store.is_empty() {
        return Err(invalid("store name is empty".into()));
    }
    if store.len() > MAX_KEY_BYTES || key.len() > MAX_KEY_BYTES {
        return Err(too_large(format!(
            "store name or key longer than {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Refuses a store value over [`MAX_VALUE_BYTES`].
pub fn check_value(value: &str) -> Result<(), Rejected> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(too_large(format!(
            "value of {} bytes is too large (limit {MAX_VALUE_BYTES})",
            value.len()
        )));
    }
    Ok(())
}

/// Refuses an event with an empty type, an over-long payload, or one past
/// the [`MAX_EVENTS`] an evaluation may emit (`emitted` so far).
pub fn check_event(event_type: &str, payload: &str, emitted: usize) -> Result<(), Rejected> {
    if event_type.is_empty() {
        return Err(invalid("event type is empty".into()));
    }
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(too_large(format!(
            "event payload of {} bytes is too large (limit {MAX_PAYLOAD_BYTES})",
            payload.len()
        )));
    }
    if emitted >= MAX_EVENTS {
        return Err(too_large(format!(
            "too many events (limit {MAX_EVENTS} per evaluation)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_syntax() {
        assert!(is_did("did:erynoa:self:alice"));
        assert!(!is_did("did::x"));
        assert!(!is_did("did:x:"));
        assert!(!is_did("dod:x:y"));
        assert_eq!(
            check_did("alice").unwrap_err().to_string(),
            "`alice` is not a DID (expected `did:<method>:<id>`)"
        );
    }

    #[test]
    fn limits_name_the_limit() {
        assert_eq!(
            check_store_key("", "k").unwrap_err().code,
            RejectCode::InvalidArgument
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            check_store_key("s", &long).unwrap_err().code,
            RejectCode::LimitExceeded
        );
        assert!(check_value(&"v".repeat(MAX_VALUE_BYTES)).is_ok());
        assert_eq!(
            check_value(&"v".repeat(MAX_VALUE_BYTES + 1))
                .unwrap_err()
                .to_string(),
            "value of 65537 bytes is too large (limit 65536)"
        );
        assert_eq!(
            check_event("e", "", MAX_EVENTS).unwrap_err().to_string(),
            "too many events (limit 256 per evaluation)"
        );
        assert!(check_event("", "", 0).is_err());
    }
}
