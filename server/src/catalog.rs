//! The policies the service runs: per id, the active version, the versions
//! kept (compiled) for rollback and the last refused update. Answering
//! reads a lock-free snapshot of the active versions; loading, reloading
//! and rollback take the catalog's lock and swap a new snapshot in, so an
//! evaluation in flight finishes on the version it started with.
//!
//! The policy directory is scanned, not trusted: a file is loaded only once
//! two scans in a row saw the same size, modification time and inode (a
//! copy still being written is not loaded half-written), then its bytes
//! are read once, verified, compiled and linked before they are swapped in.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use erynoa_host::json::{MAX_INPUT_BYTES, read_file};
use erynoa_host::{ComponentEngine, ExecutionMode, Policy, PolicySource, Trust, TrustStore};
use serde::Serialize;

use crate::chain;
use crate::metrics::Metrics;

/// One loaded version of a policy.
pub struct Version {
    /// The loaded policy.
    pub policy: Arc<dyn Policy>,
    /// Its digest as the trust store pins it: for a signed component the
    /// digest of the signed content (what `erynoa sign` prints), for ECL
    /// the digest of the file.
    pub digest: String,
    /// `sha256:` of the file's bytes, signatures included.
    file_digest: String,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// The file's bytes, to admit it again when the trust store changes.
    bytes: Arc<[u8]>,
}

/// The versions that answer now, by policy id.
pub type Active = HashMap<String, Arc<Version>>;

/// How a file in the policy directory is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Component,
    Ecl(ExecutionMode),
}

/// A file's identity between scans: a change of any of these is a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

/// An update that was not activated.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    /// Unix seconds.
    pub at: u64,
    /// `sha256:` of the refused file's bytes (signatures included), if
    /// they were read.
    pub digest: Option<String>,
    /// Why, with its causes.
    pub reason: String,
}

struct Entry {
    file: PathBuf,
    kind: Kind,
    /// The file as last loaded or refused.
    stamp: Option<Stamp>,
    /// The file as the last scan saw it, not yet stable.
    pending: Option<Stamp>,
    /// Newest first; at most `keep` (the active one is never dropped).
    versions: Vec<Arc<Version>>,
    active: Option<String>,
    activated_at: Option<SystemTime>,
    refused: Option<Refusal>,
}

struct Inner {
    engine: ComponentEngine,
    trust_stamp: Option<Stamp>,
    trust_pending: Option<Stamp>,
    trust_error: Option<Refusal>,
    entries: BTreeMap<String, Entry>,
}

/// The policies of one policy directory under one trust store.
pub struct Catalog {
    active: ArcSwap<Active>,
    inner: Mutex<Inner>,
    dir: PathBuf,
    trust_path: PathBuf,
    keep: usize,
    metrics: Arc<Metrics>,
}

/// Why the catalog could not start.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The trust store did not load.
    #[error("cannot load the trust store `{path}`")]
    Trust {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: erynoa_host::TrustStoreError,
    },
    /// The policy directory could not be read.
    #[error("cannot read the policy directory `{path}`")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// No such policy, or no such version of it.
    #[error("{0}")]
    NotFound(String),
}

/// What one policy looks like in `GET /v1/policies`.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    /// The policy's id (its file name without the extension).
    pub id: String,
    /// The file.
    pub file: String,
    /// The active version, if any.
    pub active: Option<VersionView>,
    /// When it was activated (Unix seconds).
    pub activated_at: Option<u64>,
    /// Every kept version, newest first (the active one included).
    pub versions: Vec<VersionView>,
    /// The last update that was refused.
    pub last_refused: Option<Refusal>,
}

/// One version in `GET /v1/policies`.
#[derive(Debug, Serialize)]
pub struct VersionView {
    /// Its digest.
    pub digest: String,
    /// The name the policy gives itself.
    pub name: String,
    /// The version it gives itself.
    pub version: String,
    /// `component` or `bytecode`.
    pub engine: &'static str,
    /// Who signed it, by name.
    pub signers: Vec<String>,
    /// What it may import.
    pub grants: Vec<String>,
    /// When it was loaded (Unix seconds).
    pub loaded_at: u64,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now() -> u64 {
    unix(SystemTime::now())
}

pub(crate) fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    m.file_type().is_file().then(|| Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode: m.ino(),
    })
}

/// The id and kind a file name gives, if it names a policy: `NAME.wasm`,
/// `NAME.ecl`, `NAME.legacy.ecl`, `NAME.wasm.ecl`, with NAME of ASCII
/// letters, digits, `-` and `_` (so a temporary `.NAME.wasm.tmp` or a
/// hidden file is never one).
fn policy_file(name: &str) -> Option<(String, Kind)> {
    let (stem, kind) = if let Some(stem) = name.strip_suffix(".wasm") {
        (stem, Kind::Component)
    } else if let Some(stem) = name.strip_suffix(".legacy.ecl") {
        (stem, Kind::Ecl(ExecutionMode::Legacy))
    } else if let Some(stem) = name.strip_suffix(".wasm.ecl") {
        (stem, Kind::Ecl(ExecutionMode::Wasm))
    } else if let Some(stem) = name.strip_suffix(".ecl") {
        (stem, Kind::Ecl(ExecutionMode::Auto))
    } else {
        return None;
    };
    let valid = !stem.is_empty()
        && stem.len() <= 128
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| (stem.to_owned(), kind))
}

impl Catalog {
    /// A catalog of the policies in `dir`, admitted by the trust store at
    /// `trust_path`, keeping `keep` versions of each. Nothing is loaded
    /// until the first [`Catalog::scan`].
    pub fn new(
        engine: ComponentEngine,
        dir: PathBuf,
        trust_path: PathBuf,
        keep: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, CatalogError> {
        let trust_error = |error| CatalogError::Trust {
            path: trust_path.display().to_string(),
            error,
        };
        let store = TrustStore::from_file(&trust_path).map_err(trust_error)?;
        std::fs::read_dir(&dir).map_err(|error| CatalogError::Dir {
            path: dir.display().to_string(),
            error,
        })?;
        Ok(Catalog {
            active: ArcSwap::from_pointee(Active::new()),
            inner: Mutex::new(Inner {
                engine: engine.with_trust(Trust::Store(store)),
                trust_stamp: stamp(&trust_path),
                trust_pending: None,
                trust_error: None,
                entries: BTreeMap::new(),
            }),
            dir,
            trust_path,
            keep: keep.max(1),
            metrics,
        })
    }

    /// The active version of `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Version>> {
        self.active.load().get(id).cloned()
    }

    /// Whether every policy file present has an active version.
    pub fn ready(&self) -> bool {
        let inner = self.lock();
        inner.entries.values().all(|e| e.active.is_some())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the catalog half
        // changed: the snapshot is only swapped after a change is whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks the trust store and the policy directory once, and loads,
    /// refuses or deactivates what changed. `force` loads files changed
    /// since the last scan without waiting for a second look (an operator
    /// asked: `SIGHUP`, `POST /v1/reload`).
    pub fn scan(&self, force: bool) {
        let mut inner = self.lock();
        self.scan_trust(&mut inner, force);
        self.scan_dir(&mut inner, force);
        self.publish(&inner);
    }

    fn scan_trust(&self, inner: &mut Inner, force: bool) {
        let now_seen = stamp(&self.trust_path);
        if now_seen == inner.trust_stamp {
            inner.trust_pending = None;
            return;
        }
        if !force && inner.trust_pending != now_seen {
            inner.trust_pending = now_seen;
            return;
        }
        inner.trust_stamp = now_seen;
        inner.trust_pending = None;
        let store = match TrustStore::from_file(&self.trust_path) {
            Ok(store) => store,
            Err(e) => {
                let reason = chain(&e);
                tracing::error!(%reason, "the new trust store does not load; the previous one stays in force");
                self.metrics.load("trust-store", "refused");
                inner.trust_error = Some(Refusal {
                    at: now(),
                    digest: None,
                    reason,
                });
                return;
            }
        };
        inner.trust_error = None;
        inner.engine = inner.engine.clone().with_trust(Trust::Store(store));
        self.metrics.load("trust-store", "loaded");
        // Every kept version is admitted again: a revoked key or a removed
        // grant deactivates what no longer passes, at once.
        let engine = inner.engine.clone();
        for (id, entry) in &mut inner.entries {
            let mut kept = Vec::new();
            for v in entry.versions.drain(..) {
                match load(&engine, id, &entry.file, entry.kind, &v.bytes) {
                    Ok(policy) => kept.push(Arc::new(Version {
                        policy,
                        digest: v.digest.clone(),
                        file_digest: v.file_digest.clone(),
                        loaded_at: v.loaded_at,
                        bytes: v.bytes.clone(),
                    })),
                    Err(reason) => {
                        tracing::warn!(policy = %id, digest = %v.digest, %reason, "no longer admitted");
                        if entry.active.as_deref() == Some(v.digest.as_str()) {
                            entry.active = None;
                            entry.activated_at = None;
                            self.metrics.load(id, "deactivated");
                            entry.refused = Some(Refusal {
                                at: now(),
                                digest: Some(v.digest.clone()),
                                reason: format!("no longer admitted by the trust store: {reason}"),
                            });
                        }
                    }
                }
            }
            entry.versions = kept;
            if entry.active.is_none() {
                // A file refused under the old store may pass the new one.
                entry.stamp = None;
            }
        }
    }

    fn scan_dir(&self, inner: &mut Inner, force: bool) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            tracing::error!(dir = %self.dir.display(), "cannot read the policy directory");
            return;
        };
        let mut files: Vec<_> = listing.flatten().map(|item| item.path()).collect();
        files.sort();
        let mut present = BTreeMap::new();
        for path in files {
            let Some((id, kind)) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(policy_file)
            else {
                continue;
            };
            // Two files for one id (`kyc.ecl`, `kyc.wasm`): the first by name wins.
            if present.contains_key(&id) {
                tracing::warn!(policy = %id, ignored = %path.display(), "two files name one policy");
                continue;
            }
            present.insert(id, (path, kind));
        }
        // Removed files deactivate their policy.
        let gone: Vec<String> = inner
            .entries
            .keys()
            .filter(|id| !present.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            tracing::info!(policy = %id, "file removed: deactivated");
            self.metrics.load(&id, "removed");
            inner.entries.remove(&id);
        }
        let engine = inner.engine.clone();
        for (id, (file, kind)) in present {
            let entry = inner.entries.entry(id.clone()).or_insert_with(|| Entry {
                file: file.clone(),
                kind,
                stamp: None,
                pending: None,
                versions: Vec::new(),
                active: None,
                activated_at: None,
                refused: None,
            });
            let seen = stamp(&file);
            if entry.file != file || entry.kind != kind {
                *entry = Entry {
                    file,
                    kind,
                    stamp: None,
                    pending: None,
                    versions: std::mem::take(&mut entry.versions),
                    active: entry.active.take(),
                    activated_at: entry.activated_at,
                    refused: None,
                };
            }
            if seen.is_none() || seen == entry.stamp {
                entry.pending = None;
                continue;
            }
            if !force && entry.pending != seen {
                entry.pending = seen;
                continue;
            }
            entry.pending = None;
            entry.stamp = seen;
            self.update(&engine, &id, entry);
        }
    }

    /// Loads the entry's file and activates it, or records the refusal.
    fn update(&self, engine: &ComponentEngine, id: &str, entry: &mut Entry) {
        let bytes: Arc<[u8]> = match read_file(&entry.file, MAX_INPUT_BYTES) {
            Ok(b) => b.into(),
            Err(e) => {
                self.refuse(id, entry, None, format!("cannot read: {e}"));
                return;
            }
        };
        let file_digest = erynoa_host::digest(&bytes);
        if let Some(kept) = entry.versions.iter().find(|v| v.file_digest == file_digest) {
            // A version seen before: already compiled and admitted.
            let digest = kept.digest.clone();
            if entry.active.as_deref() != Some(digest.as_str()) {
                self.activate_in(id, entry, &digest);
            }
            return;
        }
        match load(engine, id, &entry.file, entry.kind, &bytes) {
            Ok(policy) => {
                let digest = policy
                    .info()
                    .admission
                    .as_ref()
                    .map_or_else(|| file_digest.clone(), |a| a.digest.clone());
                tracing::info!(policy = %id, %digest, "loaded");
                self.metrics.load(id, "loaded");
                entry.versions.retain(|v| v.digest != digest);
                entry.versions.insert(
                    0,
                    Arc::new(Version {
                        policy,
                        digest: digest.clone(),
                        file_digest,
                        loaded_at: SystemTime::now(),
                        bytes,
                    }),
                );
                self.activate_in(id, entry, &digest);
                self.trim(entry);
            }
            Err(reason) => self.refuse(id, entry, Some(file_digest), reason),
        }
    }

    fn refuse(&self, id: &str, entry: &mut Entry, digest: Option<String>, reason: String) {
        tracing::warn!(policy = %id, %reason, "update refused; the active version stays");
        self.metrics.load(id, "refused");
        entry.refused = Some(Refusal {
            at: now(),
            digest,
            reason,
        });
    }

    fn activate_in(&self, id: &str, entry: &mut Entry, digest: &str) {
        entry.active = Some(digest.to_owned());
        entry.activated_at = Some(SystemTime::now());
        tracing::info!(policy = %id, %digest, "activated");
    }

    fn trim(&self, entry: &mut Entry) {
        while entry.versions.len() > self.keep {
            let Some(at) = entry
                .versions
                .iter()
                .rposition(|v| Some(v.digest.as_str()) != entry.active.as_deref())
            else {
                break;
            };
            entry.versions.remove(at);
        }
    }

    /// Makes the kept version `digest` of `id` the active one.
    pub fn activate(&self, id: &str, digest: &str) -> Result<String, CatalogError> {
        let mut inner = self.lock();
        let entry = inner
            .entries
            .get_mut(id)
            .ok_or_else(|| CatalogError::NotFound(format!("no policy `{id}`")))?;
        if !entry.versions.iter().any(|v| v.digest == digest) {
            return Err(CatalogError::NotFound(format!(
                "policy `{id}` keeps no version {digest}"
            )));
        }
        self.activate_in(id, entry, digest);
        self.metrics.load(id, "activated");
        self.publish(&inner);
        Ok(digest.to_owned())
    }

    /// Activates the version loaded before the active one (or `to`).
    pub fn rollback(&self, id: &str, to: Option<&str>) -> Result<String, CatalogError> {
        if let Some(digest) = to {
            return self.activate(id, digest);
        }
        let target = {
            let inner = self.lock();
            let entry = inner
                .entries
                .get(id)
                .ok_or_else(|| CatalogError::NotFound(format!("no policy `{id}`")))?;
            let at = entry
                .versions
                .iter()
                .position(|v| Some(v.digest.as_str()) == entry.active.as_deref());
            let older = match at {
                Some(at) => entry.versions.get(at + 1),
                None => entry.versions.first(),
            };
            older.map(|v| v.digest.clone()).ok_or_else(|| {
                CatalogError::NotFound(format!("policy `{id}` keeps no older version"))
            })?
        };
        self.activate(id, &target)
    }

    /// Swaps in the snapshot of what is active now.
    fn publish(&self, inner: &Inner) {
        let mut active = Active::new();
        for (id, entry) in &inner.entries {
            let version = entry
                .active
                .as_deref()
                .and_then(|d| entry.versions.iter().find(|v| v.digest == d));
            if let Some(v) = version {
                active.insert(id.clone(), v.clone());
            }
        }
        self.metrics.set_active(&active);
        self.active.store(Arc::new(active));
    }

    /// Every policy with its versions and last refusal, and the trust
    /// store's last refused update.
    pub fn view(&self) -> (Vec<PolicyView>, Option<Refusal>) {
        let inner = self.lock();
        let views = inner
            .entries
            .iter()
            .map(|(id, e)| {
                let versions: Vec<VersionView> =
                    e.versions.iter().map(|v| version_view(v)).collect();
                PolicyView {
                    id: id.clone(),
                    file: e.file.display().to_string(),
                    active: e
                        .active
                        .as_deref()
                        .and_then(|d| e.versions.iter().find(|v| v.digest == d))
                        .map(|v| version_view(v)),
                    activated_at: e.activated_at.map(unix),
                    versions,
                    last_refused: e.refused.clone(),
                }
            })
            .collect();
        (views, inner.trust_error.clone())
    }
}

fn version_view(v: &Version) -> VersionView {
    let info = v.policy.info();
    let (signers, grants) = match &info.admission {
        Some(a) => (
            a.signers.iter().map(|(name, _)| name.clone()).collect(),
            a.capabilities.iter().map(ToString::to_string).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    VersionView {
        digest: v.digest.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        engine: info.engine,
        signers,
        grants,
        loaded_at: unix(v.loaded_at),
    }
}

/// Verifies, compiles and links one file's bytes.
fn load(
    engine: &ComponentEngine,
    id: &str,
    file: &Path,
    kind: Kind,
    bytes: &[u8],
) -> Result<Arc<dyn Policy>, String> {
    let source = match kind {
        Kind::Component => PolicySource::Component(file.to_owned()),
        Kind::Ecl(mode) => PolicySource::Ecl {
            path: file.to_owned(),
            mode,
        },
    };
    source
        .load_bytes(engine, id, bytes, None)
        .map_err(|e| chain(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_ids_and_back_ends() {
        assert_eq!(
            policy_file("kyc.wasm"),
            Some(("kyc".into(), Kind::Component))
        );
        assert_eq!(
            policy_file("kyc.legacy.ecl"),
            Some(("kyc".into(), Kind::Ecl(ExecutionMode::Legacy)))
        );
        assert_eq!(
            policy_file("kyc.wasm.ecl"),
            Some(("kyc".into(), Kind::Ecl(ExecutionMode::Wasm)))
        );
        assert_eq!(
            policy_file("k_y-c.ecl"),
            Some(("k_y-c".into(), Kind::Ecl(ExecutionMode::Auto)))
        );
        for not in [
            ".kyc.wasm.tmp",
            ".wasm",
            "a b.wasm",
            "kyc.wasm~",
            "../x.wasm",
            "kyc.json",
        ] {
            assert_eq!(policy_file(not), None, "{not}");
        }
    }
}
