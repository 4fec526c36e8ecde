//! The operator's trust store: which keys may sign policies, which keys are
//! revoked, and what each signer (or component digest) may import and spend.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use erynoa_core::BudgetLimits;
use erynoa_sign::{KeyId, SignError, VerifyingKey, key_id, keys};
use serde::{Deserialize, Serialize};

/// A host capability a component may be granted: one `erynoa:ecl`
/// interface, or WASI as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// `erynoa:ecl/trust`.
    Trust,
    /// `erynoa:ecl/identity`.
    Identity,
    /// `erynoa:ecl/state`.
    State,
    /// `erynoa:ecl/budget`.
    Budget,
    /// `erynoa:ecl/context`.
    Context,
    /// `erynoa:ecl/events`.
    Events,
    /// Reporting its own gas (the `erynoa:metering = self` section, which
    /// `erynoa compile` writes): the component's instructions are then not
    /// charged by fuel, only bounded by it. Grant it only to code from a
    /// compiler you trust.
    #[serde(rename = "self-metering")]
    SelfMetering,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 7] = [
        Capability::Trust,
        Capability::Identity,
        Capability::State,
        Capability::Budget,
        Capability::Context,
        Capability::Events,
        Capability::SelfMetering,
    ];

    /// The capability an `erynoa:ecl` interface name stands for (`types`
    /// holds only types and needs none).
    pub(crate) fn of_interface(name: &str) -> Option<Option<Capability>> {
        Some(Some(match name {
            "types" | "prelude" => return Some(None),
            "trust" => Capability::Trust,
            "identity" => Capability::Identity,
            "state" => Capability::State,
            "budget" => Capability::Budget,
            "context" => Capability::Context,
            "events" => Capability::Events,
            _ => return None,
        }))
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Capability::Trust => "trust",
            Capability::Identity => "identity",
            Capability::State => "state",
            Capability::Budget => "budget",
            Capability::Context => "context",
            Capability::Events => "events",
            Capability::SelfMetering => "self-metering",
        };
        f.write_str(name)
    }
}

/// A trust store that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    /// The file could not be read.
    #[error("cannot read trust store `{path}`: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The text is not a valid trust store.
    #[error("invalid trust store: {0}")]
    Toml(toml::de::Error),
    /// A key entry does not hold a public key.
    #[error("invalid trust store: key `{name}`: {error}")]
    Key {
        /// The entry's name.
        name: String,
        /// What is wrong with the key.
        error: erynoa_sign::KeyError,
    },
    /// Two entries for one key.
    #[error("invalid trust store: keys `{first}` and `{second}` are the same key")]
    DuplicateKey {
        /// The first entry.
        first: String,
        /// The second entry.
        second: String,
    },
    /// A digest that is not `sha256:` and 64 hex digits.
    #[error(
        "invalid trust store: component digest `{0}` is not `sha256:` followed by 64 hex digits"
    )]
    Digest(String),
    /// A `revoked` entry that names nothing: a revocation that silently
    /// revoked nothing would leave the key trusted.
    #[error(
        "invalid trust store: revoked entry `{entry}` is not a key id (24 hex digits), the name of a `[[key]]`, or a component digest (`sha256:` and 64 hex digits)"
    )]
    Revoked {
        /// The entry, escaped.
        entry: String,
    },
    /// A `[[policy]]` pin that is malformed or names an unknown key.
    #[error("invalid trust store: policy `{id}`: {reason}")]
    Pin {
        /// The policy id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    #[serde(default, rename = "key")]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default, rename = "component")]
    components: Vec<ComponentEntry>,
    #[serde(default, rename = "policy")]
    policies: Vec<PolicyEntry>,
}

/// `[[policy]]`: what may be loaded under one policy id.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    id: String,
    #[serde(default)]
    digests: Vec<String>,
    #[serde(default)]
    signers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    name: String,
    public_key: String,
    #[serde(default)]
    capabilities: BTreeSet<Capability>,
    #[serde(default)]
    budget: Option<BudgetLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentEntry {
    digest: String,
    #[serde(default)]
    capabilities: BTreeSet<Capability>,
    #[serde(default)]
    budget: Option<BudgetLimits>,
}

/// Largest trust store file read: 4 MiB.
const MAX_TRUST_STORE_BYTES: u64 = 4 << 20;

/// How an engine decides whether to load a component.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Only components with a valid signature by an unrevoked key of the
    /// store, with only the capabilities it grants. The default, with an
    /// empty store: nothing loads until the operator trusts a key.
    Store(TrustStore),
    /// Anything, unsigned, with every capability. For development only;
    /// every load is logged as a warning.
    AllowUnsigned,
}

impl Default for Trust {
    fn default() -> Self {
        Trust::Store(TrustStore::default())
    }
}

/// A trusted signer.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The name the operator gave it.
    pub name: String,
    /// The public key.
    pub key: VerifyingKey,
    /// Its key id.
    pub key_id: KeyId,
    /// What components it signed may import.
    pub capabilities: BTreeSet<Capability>,
    /// The most a component it signed may spend, if capped.
    pub budget: Option<BudgetLimits>,
}

/// Who may sign policies and what their policies may do.
///
/// ```
/// use erynoa_host::TrustStore;
/// let store = TrustStore::from_toml(r#"
///     ## Key ids that are never accepted again (top-level keys come before tables).
///     revoked = []
///
///     ## Keys whose signatures are accepted, and what their policies may import.
///     [[key]]
///     name = "ops"
///     public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE8IJUyuqNB3GRfEUs75aSAEsGjxzNPzZUfEnjE3GYUr ops@example"
///     capabilities = ["trust", "identity"]
///     budget = { gas_limit = 100000 }
/// "#)?;
/// assert_eq!(store.keys().len(), 1);
/// # Ok::<(), erynoa_host::TrustStoreError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: Vec<TrustedKey>,
    /// Revoked key ids (lower-case hex).
    revoked: BTreeSet<String>,
    /// Revoked component digests (`sha256:...`).
    revoked_digests: BTreeSet<String>,
    components: Vec<(String, BTreeSet<Capability>, Option<BudgetLimits>)>,
    pins: Vec<PolicyPin>,
}

/// What the trust store allows under one policy id: the component's digest
/// must be one of `digests`, or one of its verified signers one of `signers`.
#[derive(Debug, Clone)]
struct PolicyPin {
    id: String,
    digests: BTreeSet<String>,
    signers: BTreeSet<String>,
}

/// What admitting a signed component established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    /// `sha256:` and the digest of the signed bytes.
    pub digest: String,
    /// The trusted signers whose signatures verified, by name and key id.
    pub signers: Vec<(String, String)>,
    /// What the component may import: the union over its trusted signers
    /// and its digest's entry.
    pub capabilities: BTreeSet<Capability>,
    /// The budget cap, if any entry sets one (the lowest of each field).
    pub budget: Option<BudgetLimits>,
}

/// Why a component was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The signature check failed.
    #[error("{0}")]
    Signature(SignError),
    /// An ECL or bytecode file whose digest no `[[component]]` entry pins.
    #[error(
        "{digest} is not pinned: add `[[component]] digest = \"{digest}\"` with its capabilities to the trust store"
    )]
    NotPinned {
        /// The file's `sha256:` digest.
        digest: String,
    },
    /// Every signature that verified is by a revoked key.
    #[error("signed only by revoked keys: {key_ids}")]
    Revoked {
        /// The revoked key ids.
        key_ids: String,
    },
    /// The component's digest is revoked.
    #[error("component {digest} is revoked")]
    RevokedDigest {
        /// Its digest.
        digest: String,
    },
    /// The policy id is pinned to other digests or signers.
    #[error(
        "policy `{id}` is pinned in the trust store; {digest} (signed by {signers}) is not one of its digests or signers"
    )]
    NotPinnedToId {
        /// The policy id it was loaded under.
        id: String,
        /// Its digest.
        digest: String,
        /// Its verified signers.
        signers: String,
    },
}

impl TrustStore {
    /// Reads a trust store from TOML; see the type's example.
    pub fn from_toml(text: &str) -> Result<Self, TrustStoreError> {
        let file: StoreFile = toml::from_str(text).map_err(TrustStoreError::Toml)?;
        let mut keys: Vec<TrustedKey> = Vec::new();
        for entry in file.keys {
            let key = keys::read_public_key(entry.public_key.as_bytes()).map_err(|error| {
                TrustStoreError::Key {
                    name: entry.name.clone(),
                    error,
                }
            })?;
            if let Some(first) = keys.iter().find(|k| k.key == key) {
                return Err(TrustStoreError::DuplicateKey {
                    first: first.name.clone(),
                    second: entry.name,
                });
            }
            keys.push(TrustedKey {
                name: entry.name,
                key_id: key_id(&key),
                key,
                capabilities: entry.capabilities,
                budget: entry.budget,
            });
        }
        let mut components = Vec::new();
        for c in file.components {
            let digest = parse_digest(&c.digest).ok_or(TrustStoreError::Digest(c.digest))?;
            components.push((digest, c.capabilities, c.budget));
        }
        let (mut revoked, mut revoked_digests) = (BTreeSet::new(), BTreeSet::new());
        for entry in file.revoked {
            if let Some(digest) = parse_digest(&entry) {
                revoked_digests.insert(digest);
            } else if let Some(key) = keys.iter().find(|k| k.name == entry) {
                revoked.insert(key.key_id.to_string());
            } else if entry.len() == 24 && entry.bytes().all(|b| b.is_ascii_hexdigit()) {
                revoked.insert(entry.to_ascii_lowercase());
            } else {
                return Err(TrustStoreError::Revoked {
                    entry: entry.escape_debug().to_string(),
                });
            }
        }
        let mut pins: Vec<PolicyPin> = Vec::new();
        for p in file.policies {
            let pin_error = |reason: String| TrustStoreError::Pin {
                id: p.id.escape_debug().to_string(),
                reason,
            };
            if pins.iter().any(|q| q.id == p.id) {
                return Err(pin_error("pinned twice".into()));
            }
            if p.digests.is_empty() && p.signers.is_empty() {
                return Err(pin_error(
                    "pins nothing: give `digests`, `signers` or both".into(),
                ));
            }
            let mut digests = BTreeSet::new();
            for d in &p.digests {
                digests.insert(parse_digest(d).ok_or_else(|| {
                    pin_error(format!(
                        "digest `{}` is not `sha256:` followed by 64 hex digits",
                        d.escape_debug()
                    ))
                })?);
            }
            for name in &p.signers {
                if !keys.iter().any(|k| &k.name == name) {
                    return Err(pin_error(format!(
                        "signer `{}` is not the name of a `[[key]]`",
                        name.escape_debug()
                    )));
                }
            }
            pins.push(PolicyPin {
                id: p.id,
                digests,
                signers: p.signers.into_iter().collect(),
            });
        }
        Ok(Self {
            keys,
            revoked,
            revoked_digests,
            components,
            pins,
        })
    }

    /// Reads a trust store file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TrustStoreError> {
        let path = path.as_ref();
        let text = crate::json::read_text_file(path, MAX_TRUST_STORE_BYTES).map_err(|error| {
            TrustStoreError::Read {
                path: path.display().to_string(),
                error,
            }
        })?;
        Self::from_toml(&text)
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Verifies `bytes` (with an optional detached signature) against the
    /// trusted, unrevoked keys and says what the component may do.
    pub fn admit(
        &self,
        bytes: &[u8],
        detached: Option<&[u8]>,
    ) -> Result<Admission, AdmissionError> {
        let all: Vec<VerifyingKey> = self.keys.iter().map(|k| k.key).collect();
        let verified =
            erynoa_sign::verify(bytes, detached, &all).map_err(AdmissionError::Signature)?;
        let (revoked, valid): (Vec<_>, Vec<_>) = verified
            .signatures
            .iter()
            .filter_map(|s| self.keys.iter().find(|k| k.key == s.public_key))
            .partition(|k| self.revoked.contains(&k.key_id.to_string()));
        if valid.is_empty() {
            let key_ids = revoked
                .iter()
                .map(|k| format!("{} ({})", k.key_id, k.name))
                .collect::<Vec<_>>();
            return Err(AdmissionError::Revoked {
                key_ids: key_ids.join(", "),
            });
        }
        let digest = format!("sha256:{}", verified.digest_hex());
        if self.revoked_digests.contains(&digest) {
            return Err(AdmissionError::RevokedDigest { digest });
        }
        let by_digest = self.components.iter().filter(|(d, _, _)| *d == digest);
        let mut capabilities = BTreeSet::new();
        let mut budget: Option<BudgetLimits> = None;
        let grants = valid
            .iter()
            .map(|k| (&k.capabilities, &k.budget))
            .chain(by_digest.map(|(_, caps, b)| (caps, b)));
        for (caps, cap) in grants {
            capabilities.extend(caps.iter().copied());
            if let Some(cap) = cap {
                budget = Some(budget.map_or(*cap, |b| b.min(*cap)));
            }
        }
        Ok(Admission {
            digest,
            signers: valid
                .iter()
                .map(|k| (k.name.clone(), k.key_id.to_string()))
                .collect(),
            capabilities,
            budget,
        })
    }
}

impl TrustStore {
    /// Admits an unsigned file (ECL source, legacy bytecode) only if its
    /// SHA-256 digest is pinned by a `[[component]]` entry, with that
    /// entry's capabilities and budget.
    pub fn admit_pinned(&self, bytes: &[u8]) -> Result<Admission, AdmissionError> {
        let digest = digest(bytes);
        if self.revoked_digests.contains(&digest) {
            return Err(AdmissionError::RevokedDigest { digest });
        }
        let mut pinned = self
            .components
            .iter()
            .filter(|(d, _, _)| *d == digest)
            .peekable();
        if pinned.peek().is_none() {
            return Err(AdmissionError::NotPinned { digest });
        }
        let mut capabilities = BTreeSet::new();
        let mut budget: Option<BudgetLimits> = None;
        for (_, caps, cap) in pinned {
            capabilities.extend(caps.iter().copied());
            if let Some(cap) = cap {
                budget = Some(budget.map_or(*cap, |b| b.min(*cap)));
            }
        }
        Ok(Admission {
            digest,
            signers: Vec::new(),
            capabilities,
            budget,
        })
    }
}

impl TrustStore {
    /// Refuses `admission` under the policy id `id` when a `[[policy]]`
    /// entry pins that id to other digests or signers. Ids without a pin
    /// take any admitted component.
    pub fn check_policy_id(&self, id: &str, admission: &Admission) -> Result<(), AdmissionError> {
        let Some(pin) = self.pins.iter().find(|p| p.id == id) else {
            return Ok(());
        };
        if pin.digests.contains(&admission.digest)
            || admission
                .signers
                .iter()
                .any(|(name, _)| pin.signers.contains(name))
        {
            return Ok(());
        }
        let signers: Vec<&str> = admission.signers.iter().map(|(n, _)| n.as_str()).collect();
        Err(AdmissionError::NotPinnedToId {
            id: id.to_owned(),
            digest: admission.digest.clone(),
            signers: if signers.is_empty() {
                "nobody: pinned source".to_owned()
            } else {
                signers.join(", ")
            },
        })
    }
}

/// `sha256:` and 64 hex digits, in lower case; `None` for anything else.
fn parse_digest(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha256:{}", hex.to_ascii_lowercase()))
}

/// `sha256:` and the hex SHA-256 of `bytes`: how the trust store pins files.
///
/// ```
/// assert!(erynoa_host::digest(b"").starts_with("sha256:e3b0c442"));
/// ```
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
