//! The in-memory state policies read and write.

mod events;
mod fixture;
mod journal;
mod metrics;
mod transaction;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};

use crate::TrustVector;

pub use events::{PolicyType, StateEvent};
pub use fixture::FixtureError;
pub use journal::{CommitRecord, Journal, JournalError};
pub use metrics::{Counters, Metrics, MetricsSnapshot};
pub use transaction::{CommitError, Conflict, StateChanges, StoreWrite, Transaction};

/// Everything a policy can observe or change: trust vectors, identities and
/// credentials, realm-scoped key-value stores, an append-only event log and
/// execution metrics.
///
/// Safe to share between threads. Policies never touch it directly: they read
/// through a [`Transaction`], whose writes
/// are applied all at once, and only when the decision is allow.
///
/// ```
/// use erynoa_host::{TrustVector, UnifiedState};
/// let state = UnifiedState::new();
/// state.set_trust("did:erynoa:self:alice", TrustVector::splat(0.8)).unwrap();
/// state.grant_credential("did:erynoa:self:alice", "kyc");
/// assert_eq!(state.trust("did:erynoa:self:alice").r, 0.8);
/// assert_eq!(state.trust("did:erynoa:self:nobody"), TrustVector::NEWCOMER);
/// assert!(state.has_credential("did:erynoa:self:alice", "kyc"));
/// ```
#[derive(Debug)]
pub struct UnifiedState {
    trust: DashMap<String, TrustVector>,
    identities: DashMap<String, BTreeSet<String>>,
    realms: DashMap<String, Arc<RwLock<RealmStores>>>,
    events: Mutex<EventLog>,
    metrics: Metrics,
    clock: Option<u64>,
    journal: std::sync::OnceLock<Arc<dyn Journal>>,
    /// Per realm: held by an evaluation that runs alone after its
    /// optimistic attempts conflicted, and briefly by every other commit.
    serial: DashMap<String, Arc<Mutex<()>>>,
}

/// The event log: append-only, but holding at most `capacity` events so
/// that a long-running host does not grow without bound. The oldest go first
/// and are counted; [`UnifiedState::drain_events`] hands them to a consumer.
#[derive(Debug)]
struct EventLog {
    events: std::collections::VecDeque<StateEvent>,
    capacity: usize,
    dropped: u64,
}

/// Events kept by default: about 20 MiB of typical events.
pub const DEFAULT_EVENT_CAPACITY: usize = 100_000;

impl Default for UnifiedState {
    fn default() -> Self {
        Self::with_event_capacity(DEFAULT_EVENT_CAPACITY)
    }
}

/// The key-value stores of one realm. `version` grows with every commit, and
/// the latest commits are remembered with the keys they wrote, so a
/// transaction can tell whether anything it read changed since it read it.
#[derive(Debug, Default)]
pub(crate) struct RealmStores {
    version: u64,
    stores: HashMap<String, HashMap<String, String>>,
    /// `(version made, (store, key) written)` of the latest commits, oldest
    /// first: at most [`RECENT_COMMITS`] commits and [`RECENT_KEYS`] keys
    /// (but always the newest commit).
    recent: VecDeque<(u64, Vec<(String, String)>)>,
    /// Keys in `recent`.
    remembered: usize,
}

/// The keys a transaction read, by store.
pub(crate) type Reads = HashMap<String, HashSet<String>>;

/// Commits a realm remembers the keys of: far more than can land while one
/// evaluation runs; a transaction older than that conflicts.
const RECENT_COMMITS: usize = 256;

/// Keys a realm remembers over those commits: bounds the memory when
/// commits write many keys each.
const RECENT_KEYS: usize = 4096;

impl RealmStores {
    /// Counts a commit that wrote `keys` (`(store, key)`).
    fn changed(&mut self, keys: Vec<(String, String)>) {
        self.version += 1;
        self.remembered += keys.len();
        self.recent.push_back((self.version, keys));
        while self.recent.len() > 1
            && (self.recent.len() > RECENT_COMMITS || self.remembered > RECENT_KEYS)
        {
            if let Some((_, keys)) = self.recent.pop_front() {
                self.remembered -= keys.len();
            }
        }
    }

    /// Whether no commit since `version` wrote any of `read`; false when
    /// `version` is older than the commits remembered.
    fn unchanged_since(&self, version: u64, read: &Reads) -> bool {
        if version == self.version {
            return true;
        }
        let complete = self
            .recent
            .front()
            .is_some_and(|(oldest, _)| *oldest <= version + 1);
        complete
            && self
                .recent
                .iter()
                .filter(|(made, _)| *made > version)
                .all(|(_, keys)| {
                    keys.iter()
                        .all(|(store, key)| !read.get(store).is_some_and(|r| r.contains(key)))
                })
    }
}

/// A trust vector with a dimension outside [0, 1].
#[derive(Debug, thiserror::Error)]
#[error("trust of `{did}`: dimension `{dimension}` is {value}, expected a number in [0, 1]")]
pub struct TrustRangeError {
    did: String,
    dimension: &'static str,
    value: f64,
}

impl UnifiedState {
    /// An empty state: every DID is a newcomer, no stores, no events. The
    /// event log keeps the last [`DEFAULT_EVENT_CAPACITY`] events.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty state whose event log keeps the last `capacity` events.
    pub fn with_event_capacity(capacity: usize) -> Self {
        Self {
            trust: DashMap::new(),
            identities: DashMap::new(),
            realms: DashMap::new(),
            events: Mutex::new(EventLog {
                events: Default::default(),
                capacity,
                dropped: 0,
            }),
            metrics: Metrics::default(),
            clock: None,
            journal: std::sync::OnceLock::new(),
            serial: DashMap::new(),
        }
    }

    /// Records every commit that changes the stores in `journal` before it is
    /// applied (see [`Journal`]). Set once; a second journal is ignored and
    /// returned.
    pub fn set_journal(&self, journal: Arc<dyn Journal>) -> Result<(), Arc<dyn Journal>> {
        self.journal.set(journal)
    }

    pub(crate) fn journal(&self) -> Option<&Arc<dyn Journal>> {
        self.journal.get()
    }

    /// The realm's serial lock: while an evaluation holds it, no other
    /// commit to the realm can happen, so its own commit cannot conflict.
    pub(crate) fn serial(&self, realm: &str) -> Arc<Mutex<()>> {
        if let Some(lock) = self.serial.get(realm) {
            return Arc::clone(&lock);
        }
        Arc::clone(&self.serial.entry(realm.to_owned()).or_default())
    }

    /// Sets the trust vector of `did`, refusing values outside [0, 1].
    pub fn set_trust(&self, did: &str, tv: TrustVector) -> Result<(), TrustRangeError> {
        if let Some((dimension, value)) = tv.out_of_range() {
            return Err(TrustRangeError {
                did: did.to_owned(),
                dimension,
                value,
            });
        }
        self.trust.insert(did.to_owned(), tv);
        self.identities.entry(did.to_owned()).or_default();
        Ok(())
    }

    /// The trust vector of `did`; [`TrustVector::NEWCOMER`] if unknown.
    pub fn trust(&self, did: &str) -> TrustVector {
        self.trust.get(did).map_or(TrustVector::NEWCOMER, |tv| *tv)
    }

    /// Registers `did` as a known identity.
    pub fn add_identity(&self, did: &str) {
        self.identities.entry(did.to_owned()).or_default();
    }

    /// Gives `did` a credential of `schema`, registering the identity.
    pub fn grant_credential(&self, did: &str, schema: &str) {
        self.identities
            .entry(did.to_owned())
            .or_default()
            .insert(schema.to_owned());
    }

    /// Takes the credential of `schema` from `did`; returns whether it had it.
    pub fn revoke_credential(&self, did: &str, schema: &str) -> bool {
        self.identities
            .get_mut(did)
            .is_some_and(|mut c| c.remove(schema))
    }

    /// The credentials `did` holds, sorted.
    pub fn credentials(&self, did: &str) -> Vec<String> {
        self.identities
            .get(did)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `did` holds a credential of `schema`.
    pub fn has_credential(&self, did: &str, schema: &str) -> bool {
        self.identities.get(did).is_some_and(|c| c.contains(schema))
    }

    /// Whether `did` is a known identity.
    pub fn resolve_did(&self, did: &str) -> bool {
        self.identities.contains_key(did)
    }

    /// The value of `key` in `store` of `realm`.
    pub fn store_get(&self, realm: &str, store: &str, key: &str) -> Option<String> {
        let realm = self.realms.get(realm)?;
        let stores = realm.read();
        stores.stores.get(store)?.get(key).cloned()
    }

    /// Sets `key` in `store` of `realm` directly (operators and fixtures; policies
    /// write through a [`Transaction`]).
    pub fn store_put(&self, realm: &str, store: &str, key: &str, value: &str) {
        let realm = self.realm(realm);
        let mut stores = realm.write();
        stores.changed(vec![(store.to_owned(), key.to_owned())]);
        stores
            .stores
            .entry(store.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
    }

    /// Removes `key` from `store` of `realm` directly (operators, and a log
    /// replaying a policy's delete); returns whether it was there.
    pub fn store_delete(&self, realm: &str, store: &str, key: &str) -> bool {
        let realm = self.realm(realm);
        let mut stores = realm.write();
        stores.changed(vec![(store.to_owned(), key.to_owned())]);
        stores
            .stores
            .get_mut(store)
            .is_some_and(|entries| entries.remove(key).is_some())
    }

    /// `sha256:` of everything a policy can read but the clock: trust
    /// vectors, credentials and every realm's stores, in a canonical order.
    /// Two states with the same digest answer every read alike; a log
    /// replayed into a fresh state must reach the live state's digest.
    ///
    /// ```
    /// use erynoa_host::UnifiedState;
    /// let (a, b) = (UnifiedState::new(), UnifiedState::new());
    /// a.store_put("r", "s", "k", "v");
    /// b.store_put("r", "s", "k", "v");
    /// b.store_put("r", "s", "x", "y");
    /// b.store_delete("r", "s", "x");
    /// assert_eq!(a.digest(), b.digest());
    /// a.grant_credential("did:e:a", "kyc");
    /// assert_ne!(a.digest(), b.digest());
    /// ```
    pub fn digest(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        // Each field length-prefixed, so no two states share a byte stream.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        let mut trust: Vec<(String, TrustVector)> = self
            .trust
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        trust.sort_by(|a, b| a.0.cmp(&b.0));
        field(b"trust");
        for (did, tv) in &trust {
            field(did.as_bytes());
            for v in tv.to_array() {
                field(&v.to_bits().to_le_bytes());
            }
        }
        let mut ids: Vec<(String, Vec<String>)> = self
            .identities
            .iter()
            .map(|e| (e.key().clone(), e.value().iter().cloned().collect()))
            .collect();
        ids.sort();
        field(b"credentials");
        for (did, schemas) in &ids {
            field(did.as_bytes());
            for s in schemas {
                field(s.as_bytes());
            }
            field(b"");
        }
        let mut realms: Vec<(String, Arc<RwLock<RealmStores>>)> = self
            .realms
            .iter()
            .map(|e| (e.key().clone(), Arc::clone(e.value())))
            .collect();
        realms.sort_by(|a, b| a.0.cmp(&b.0));
        field(b"stores");
        for (realm, stores) in &realms {
            let stores = stores.read();
            let mut names: Vec<&String> = stores
                .stores
                .iter()
                .filter(|(_, entries)| !entries.is_empty())
                .map(|(name, _)| name)
                .collect();
            names.sort();
            for name in names {
                let mut entries: Vec<(&String, &String)> = stores.stores[name].iter().collect();
                entries.sort();
                for (key, value) in entries {
                    field(realm.as_bytes());
                    field(name.as_bytes());
                    field(key.as_bytes());
                    field(value.as_bytes());
                }
            }
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// The fixed evaluation clock (Unix seconds), if the state has one.
    pub fn clock(&self) -> Option<u64> {
        self.clock
    }

    /// Fixes the evaluation clock, so decisions do not depend on the wall clock.
    pub fn set_clock(&mut self, unix_seconds: Option<u64>) {
        self.clock = unix_seconds;
    }

    /// Appends an event to the log, dropping the oldest when it is full.
    pub fn append_event(&self, event: StateEvent) {
        let mut log = self.events.lock();
        if log.events.len() >= log.capacity {
            log.dropped += 1;
            if log.events.pop_front().is_none() {
                return; // capacity 0 keeps nothing
            }
        }
        log.events.push_back(event);
    }

    /// A copy of the events in the log, oldest first.
    pub fn events(&self) -> Vec<StateEvent> {
        self.events.lock().events.iter().cloned().collect()
    }

    /// Takes every event out of the log, oldest first.
    pub fn drain_events(&self) -> Vec<StateEvent> {
        self.events.lock().events.drain(..).collect()
    }

    /// Number of events in the log.
    pub fn event_count(&self) -> usize {
        self.events.lock().events.len()
    }

    /// Events dropped because the log was full.
    pub fn events_dropped(&self) -> u64 {
        self.events.lock().dropped
    }

    /// Execution metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub(crate) fn realm(&self, realm: &str) -> Arc<RwLock<RealmStores>> {
        if let Some(r) = self.realms.get(realm) {
            return Arc::clone(&r);
        }
        Arc::clone(&self.realms.entry(realm.to_owned()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(n: usize) -> StateEvent {
        StateEvent::PolicyEmitted {
            policy_id: "p".into(),
            realm_id: "r".into(),
            event_type: n.to_string(),
            payload: String::new(),
        }
    }

    #[test]
    fn the_event_log_keeps_the_newest_and_counts_the_rest() {
        let s = UnifiedState::with_event_capacity(2);
        for n in 0..5 {
            s.append_event(emitted(n));
        }
        assert_eq!(s.events(), vec![emitted(3), emitted(4)]);
        assert_eq!(s.events_dropped(), 3);
        assert_eq!(s.drain_events().len(), 2);
        assert_eq!(s.event_count(), 0);
        let none = UnifiedState::with_event_capacity(0);
        none.append_event(emitted(0));
        assert_eq!((none.event_count(), none.events_dropped()), (0, 1));
    }
}
