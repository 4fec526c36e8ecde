use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::UnifiedState;
use erynoa_core::{TrustVector, is_did};

/// A state fixture that could not be loaded. Each message is complete in
/// itself (no separate source), so it prints once whatever prints it.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read state file `{path}`: {error}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The file's text is not a valid fixture.
    #[error("in state file `{path}`: {error}")]
    InFile {
        /// The file.
        path: String,
        /// What is wrong with its text.
        error: Box<FixtureError>,
    },
    /// The text is not a valid fixture.
    #[error("invalid state JSON: {0}")]
    Json(serde_json::Error),
    /// The text is JSON, but not an object.
    #[error(
        "invalid state: expected a JSON object with `trust`, `identities`, `stores` and `clock`, found {0}"
    )]
    NotObject(&'static str),
    /// A trust vector is out of range.
    #[error("invalid state: {0}")]
    Trust(super::TrustRangeError),
    /// A trust entry is neither a number nor a whole vector.
    #[error(
        "invalid state: trust of `{did}` must be a number in [0, 1] or an object with all of r, i, c, p, v and omega: {reason}"
    )]
    TrustShape {
        /// Whose trust.
        did: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key that must be a DID is not one.
    #[error("invalid state: `{0}` is not a DID (expected `did:<method>:<id>`)")]
    NotDid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    clock: Option<u64>,
    #[serde(default)]
    trust: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    identities: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    stores: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
}

impl UnifiedState {
    /// Reads a state fixture:
    ///
    /// ```json
    /// {
    ///   "clock": 1700000000,
    ///   "trust": {"did:erynoa:self:alice": {"r": 0.8, "i": 0.7, "c": 0.6, "p": 0.5, "v": 0.4, "omega": 0.3},
    ///             "did:erynoa:self:bob": 0.2},
    ///   "identities": {"did:erynoa:self:alice": ["kyc"]},
    ///   "stores": {"finance": {"quota": {"did:erynoa:self:alice": "3"}}}
    /// }
    /// ```
    ///
    /// Every section is optional. A trust entry is a vector or one number for
    /// all six dimensions; `stores` maps realm → store → key → value.
    pub fn from_json(text: &str) -> Result<Self, FixtureError> {
        // serde reads a struct from an array too; refuse that up front so the
        // error says what the file is instead of naming a field.
        let value = crate::json::parse(text).map_err(FixtureError::Json)?;
        if !value.is_object() {
            return Err(FixtureError::NotObject(json_type(&value)));
        }
        let fixture: Fixture = serde_json::from_value(value).map_err(FixtureError::Json)?;
        let mut state = UnifiedState::new();
        state.set_clock(fixture.clock);
        for (did, tv) in fixture.trust {
            if !is_did(&did) {
                return Err(FixtureError::NotDid(did));
            }
            let tv = match tv {
                serde_json::Value::Number(x) => TrustVector::splat(x.as_f64().unwrap_or(f64::NAN)),
                object @ serde_json::Value::Object(_) => {
                    serde_json::from_value(object).map_err(|e| FixtureError::TrustShape {
                        did: did.clone(),
                        reason: e.to_string(),
                    })?
                }
                other => {
                    return Err(FixtureError::TrustShape {
                        did,
                        reason: format!("found {}", json_type(&other)),
                    });
                }
            };
            state.set_trust(&did, tv).map_err(FixtureError::Trust)?;
        }
        for (did, credentials) in fixture.identities {
            if !is_did(&did) {
                return Err(FixtureError::NotDid(did));
            }
            state.add_identity(&did);
            for schema in credentials {
                state.grant_credential(&did, &schema);
            }
        }
        for (realm, stores) in fixture.stores {
            for (store, entries) in stores {
                for (key, value) in entries {
                    state.store_put(&realm, &store, &key, &value);
                }
            }
        }
        Ok(state)
    }

    /// Reads a state fixture from a file; see [`UnifiedState::from_json`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, FixtureError> {
        let path = path.as_ref();
        let text =
            crate::json::read_text_file(path, crate::json::MAX_INPUT_BYTES).map_err(|error| {
                FixtureError::Read {
                    path: path.display().to_string(),
                    error,
                }
            })?;
        Self::from_json(&text).map_err(|e| FixtureError::InFile {
            path: path.display().to_string(),
            error: Box::new(e),
        })
    }
}

impl UnifiedState {
    /// The whole state as a fixture ([`UnifiedState::from_json`] reads it
    /// back to a state with the same [`digest`](UnifiedState::digest) and
    /// clock): trust vectors in full, identities with their credentials,
    /// non-empty stores, every map sorted, so one state has one snapshot.
    /// The event log and the metrics are not part of it.
    ///
    /// ```
    /// use erynoa_host::UnifiedState;
    /// let state = UnifiedState::new();
    /// state.store_put("finance", "quota", "did:e:a", "3");
    /// state.grant_credential("did:e:a", "kyc");
    /// let copy = UnifiedState::from_json(&state.snapshot()).unwrap();
    /// assert_eq!(copy.digest(), state.digest());
    /// ```
    pub fn snapshot(&self) -> String {
        #[derive(serde::Serialize)]
        struct Snapshot {
            clock: Option<u64>,
            trust: BTreeMap<String, TrustVector>,
            identities: BTreeMap<String, Vec<String>>,
            stores: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
        }
        let mut stores: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> =
            BTreeMap::new();
        for realm in self.realms.iter() {
            let held = realm.value().read();
            for (name, entries) in held.stores.iter().filter(|(_, e)| !e.is_empty()) {
                stores.entry(realm.key().clone()).or_default().insert(
                    name.clone(),
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                );
            }
        }
        let snapshot = Snapshot {
            clock: self.clock,
            trust: self
                .trust
                .iter()
                .map(|e| (e.key().clone(), *e.value()))
                .collect(),
            identities: self
                .identities
                .iter()
                .map(|e| (e.key().clone(), e.value().iter().cloned().collect()))
                .collect(),
            stores,
        };
        // Strings, numbers and maps with string keys always serialize.
        serde_json::to_string(&snapshot).unwrap_or_default()
    }
}

/// What kind of JSON value `v` is, for messages.
fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Object(_) => "an object",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_every_section() {
        let s = UnifiedState::from_json(
            r#"{"clock": 5, "trust": {"did:e:a": {"r": 0.8, "i": 0.7, "c": 0.6, "p": 0.5, "v": 0.4, "omega": 0.3},
                "did:e:b": 0.2}, "identities": {"did:e:a": ["kyc"], "did:e:c": []},
                "stores": {"fin": {"quota": {"k": "3"}}}}"#,
        )
        .unwrap();
        assert_eq!(s.clock(), Some(5));
        assert_eq!(s.trust("did:e:a").omega, 0.3);
        assert_eq!(s.trust("did:e:b"), TrustVector::splat(0.2));
        assert!(s.has_credential("did:e:a", "kyc"));
        assert!(s.resolve_did("did:e:c"));
        assert!(!s.resolve_did("did:e:z"));
        assert_eq!(s.store_get("fin", "quota", "k").as_deref(), Some("3"));
    }

    #[test]
    fn a_snapshot_reads_back_to_the_same_state() {
        let s = UnifiedState::from_json(
            r#"{"clock": 7, "trust": {"did:e:a": {"r": 0.1, "i": 0.7, "c": 0.30000000000000004, "p": 1e-300, "v": 0, "omega": 1}},
                "identities": {"did:e:a": ["kyc", "aml"], "did:e:c": []},
                "stores": {"fin": {"quota": {"k": "3", "j": ""}, "empty": {}}}}"#,
        )
        .unwrap();
        s.store_put("ops", "gone", "x", "1");
        s.store_delete("ops", "gone", "x");
        let text = s.snapshot();
        let back = UnifiedState::from_json(&text).unwrap();
        assert_eq!(back.digest(), s.digest());
        assert_eq!(back.clock(), Some(7));
        assert_eq!(back.snapshot(), text, "one state, one snapshot");
        assert!(!text.contains("gone"), "empty stores are left out: {text}");
    }

    #[test]
    fn bad_fixtures_say_what_is_wrong() {
        let err = |t| UnifiedState::from_json(t).unwrap_err().to_string();
        assert!(err("[").starts_with("invalid state JSON"));
        assert_eq!(
            err(r#"[{"caller": "did:e:a"}]"#),
            "invalid state: expected a JSON object with `trust`, `identities`, `stores` and `clock`, found an array"
        );
        assert_eq!(
            err(r#"{"trust": {"did:e:a": {"r": 2, "i": 0, "c": 0, "p": 0, "v": 0, "omega": 0}}}"#),
            "invalid state: trust of `did:e:a`: dimension `r` is 2, expected a number in [0, 1]"
        );
        assert!(err(r#"{"trust": {"alice": 0.5}}"#).contains("`alice` is not a DID"));
        assert!(err(r#"{"trusts": {}}"#).contains("unknown field `trusts`"));
        assert!(err(r#"{"stores": {"r": {"s": {"k": 1}}}}"#).contains("invalid type"));
        assert_eq!(
            err(r#"{"trust": {"did:e:a": {"r": 0.5}}}"#),
            "invalid state: trust of `did:e:a` must be a number in [0, 1] or an object with all of r, i, c, p, v and omega: missing field `i`"
        );
        assert!(
            err(r#"{"trust": {"did:e:a": 0.1, "did:e:a": 0.9}}"#)
                .contains("duplicate key `did:e:a`")
        );
    }
}
