//! Operators' changes to the state: trust vectors and credentials.

use erynoa_host::UnifiedState;
use serde::{Deserialize, Serialize};

/// An operator's change to the state (admin API, `erynoa state import`):
/// logged as an `operator` entry, applied after it is durable, replayed
/// like a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OperatorChange {
    /// Sets a DID's trust vector.
    SetTrust {
        /// The DID.
        did: String,
        /// R, I, C, P, V, Ω, each in [0, 1].
        trust: [f64; 6],
    },
    /// Grants a credential.
    Grant {
        /// The DID.
        did: String,
        /// The credential's schema.
        schema: String,
    },
    /// Takes a credential away.
    Revoke {
        /// The DID.
        did: String,
        /// The credential's schema.
        schema: String,
    },
}

impl OperatorChange {
    /// Applies the change to `state`.
    pub fn apply(&self, state: &UnifiedState) -> Result<(), String> {
        match self {
            OperatorChange::SetTrust { did, trust } => state
                .set_trust(did, erynoa_host::TrustVector::from_array(*trust))
                .map_err(|e| e.to_string()),
            OperatorChange::Grant { did, schema } => {
                state.grant_credential(did, schema);
                Ok(())
            }
            OperatorChange::Revoke { did, schema } => {
                state.revoke_credential(did, schema);
                Ok(())
            }
        }
    }

    /// The DID it changes.
    pub fn did(&self) -> &str {
        match self {
            OperatorChange::SetTrust { did, .. }
            | OperatorChange::Grant { did, .. }
            | OperatorChange::Revoke { did, .. } => did,
        }
    }
}

/// A line of a bulk import that is not a valid change.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportError {
    /// Its line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Reads JSON lines of changes (`erynoa state import`, `POST
/// /v1/state/import`), each `{"op": "set-trust", "did", "trust": [r, i, c,
/// p, v, omega]}`, `{"op": "grant", "did", "schema"}` or `{"op": "revoke",
/// "did", "schema"}`; blank lines are skipped. Every line is checked, on a
/// scratch state, before any is returned, so a bad line changes nothing.
///
/// ```
/// let text = r#"{"op": "grant", "did": "did:e:a", "schema": "kyc"}
/// {"op": "set-trust", "did": "did:e:a", "trust": [1, 1, 1, 1, 1, 2]}"#;
/// let e = erynoa_store::parse_changes(text).unwrap_err();
/// assert_eq!(e.line, 2);
/// assert!(e.message.contains("omega"), "{e}");
/// ```
pub fn parse_changes(text: &str) -> Result<Vec<OperatorChange>, ImportError> {
    let scratch = UnifiedState::new();
    let mut changes = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| ImportError {
            line: n + 1,
            message,
        };
        erynoa_host::json::check_unique_keys(line).map_err(|e| bad(e.to_string()))?;
        let change: OperatorChange = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if !erynoa_core::is_did(change.did()) {
            return Err(bad(format!(
                "`{}` is not a DID",
                erynoa_host::printable(change.did())
            )));
        }
        change.apply(&scratch).map_err(bad)?;
        changes.push(change);
    }
    Ok(changes)
}
