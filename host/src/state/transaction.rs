use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use super::{Reads, RealmStores, StateEvent, UnifiedState};
use crate::TrustVector;

/// One evaluation's access to [`UnifiedState`], scoped to its realm: reads
/// see the committed state and the evaluation's own buffered writes; writes
/// and events are buffered until the decision, then committed at once or
/// discarded.
///
/// Remembers the realm version of its first store read and every key it read,
/// so that a commit can refuse writes based on values another evaluation has
/// changed since; commits that wrote other keys do not conflict with it.
#[derive(Debug)]
pub struct Transaction {
    state: Arc<UnifiedState>,
    realm_id: String,
    realm: Option<Arc<RwLock<RealmStores>>>,
    read_version: Option<u64>,
    /// store -> keys of every committed value read (hashed: a policy may
    /// read many keys, and each read checks whether it is known).
    reads: Reads,
    /// store -> key -> new value (`None` deletes). Nested so lookups borrow.
    writes: BTreeMap<String, BTreeMap<String, Option<String>>>,
    events: Vec<(String, String)>,
    /// Whether its evaluation holds the realm's serial lock.
    serialized: bool,
}

/// One buffered write: `value` `None` is a delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreWrite {
    /// The store.
    pub store: String,
    /// The key.
    pub key: String,
    /// The new value; `None` deletes the key.
    pub value: Option<String>,
}

/// What an evaluation changed, or would have changed had it allowed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateChanges {
    /// Whether the changes were applied (the decision was allow).
    pub committed: bool,
    /// The commit's sequence number in the state's [`Journal`], if it has
    /// one and the commit changed the stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Store writes, sorted by store and key.
    pub writes: Vec<StoreWrite>,
    /// Emitted events as (type, payload), in emission order.
    pub events: Vec<(String, String)>,
}

/// The realm changed between the evaluation's reads and its commit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("state conflict: a value the policy read changed while it ran")]
pub struct Conflict {
    /// What the evaluation would have changed; nothing of it was applied.
    pub discarded: StateChanges,
}

/// Why a commit was refused; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommitError {
    /// The realm changed since the evaluation read it.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The journal did not take the commit.
    #[error("{error}")]
    Journal {
        /// Why.
        error: super::JournalError,
        /// What the evaluation would have changed.
        discarded: StateChanges,
    },
}

impl Transaction {
    /// A transaction on `state`, in `realm`.
    pub fn new(state: Arc<UnifiedState>, realm: &str) -> Self {
        Self {
            state,
            realm_id: realm.to_owned(),
            realm: None,
            read_version: None,
            reads: Reads::new(),
            writes: BTreeMap::new(),
            events: Vec::new(),
            serialized: false,
        }
    }

    /// The state behind the transaction.
    pub fn state(&self) -> &Arc<UnifiedState> {
        &self.state
    }

    /// The realm it is scoped to.
    pub fn realm_id(&self) -> &str {
        &self.realm_id
    }

    /// Trust of `did` (newcomer if unknown).
    pub fn trust(&self, did: &str) -> TrustVector {
        self.state.trust(did)
    }

    /// Whether `did` holds a credential of `schema`.
    pub fn has_credential(&self, did: &str, schema: &str) -> bool {
        self.state.has_credential(did, schema)
    }

    /// Whether `did` is known.
    pub fn resolve_did(&self, did: &str) -> bool {
        self.state.resolve_did(did)
    }

    /// `key` in `store`: the pending write if there is one, else the committed value.
    pub fn get(&mut self, store: &str, key: &str) -> Option<String> {
        match self.writes.get(store).and_then(|s| s.get(key)) {
            Some(pending) => pending.clone(),
            None => self.committed(store, key),
        }
    }

    /// `key` in `store` as committed, remembering the realm's version.
    fn committed(&mut self, store: &str, key: &str) -> Option<String> {
        let realm = self
            .realm
            .get_or_insert_with(|| self.state.realm(&self.realm_id));
        let stores = realm.read();
        self.read_version.get_or_insert(stores.version);
        if !self.reads.get(store).is_some_and(|keys| keys.contains(key)) {
            self.reads
                .entry(store.to_owned())
                .or_default()
                .insert(key.to_owned());
        }
        stores.stores.get(store)?.get(key).cloned()
    }

    fn buffer(&mut self, store: &str, key: &str, value: Option<String>) {
        self.writes
            .entry(store.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
    }

    /// Buffers `key` = `value` in `store`.
    pub fn put(&mut self, store: &str, key: &str, value: &str) {
        self.buffer(store, key, Some(value.to_owned()));
    }

    /// Buffers the deletion of `key`; returns whether it existed.
    pub fn delete(&mut self, store: &str, key: &str) -> bool {
        let existed = self.get(store, key).is_some();
        self.buffer(store, key, None);
        existed
    }

    /// Buffers an event.
    pub fn emit(&mut self, event_type: &str, payload: &str) {
        self.events
            .push((event_type.to_owned(), payload.to_owned()));
    }

    /// Number of buffered events.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Number of buffered writes.
    pub fn write_count(&self) -> usize {
        self.writes.values().map(BTreeMap::len).sum()
    }

    /// This transaction's commit as a journal records it.
    fn journal_record(
        &self,
        policy_id: &str,
    ) -> Result<Box<serde_json::value::RawValue>, super::JournalError> {
        let preview = self.changes_preview();
        let record = super::CommitRecord {
            realm: &self.realm_id,
            policy_id,
            writes: &preview,
            events: &self.events,
        };
        serde_json::value::to_raw_value(&record)
            .map_err(|e| super::JournalError(format!("cannot serialize the commit: {e}")))
    }

    /// Applies every write and event at once. Refused with [`Conflict`] when
    /// the evaluation read the realm's stores and another commit changed them
    /// since: its decision may rest on stale values.
    pub fn commit(self, policy_id: &str) -> Result<StateChanges, CommitError> {
        let mut sequence = None;
        if !self.writes.is_empty() {
            // Serialized before any lock is taken: the lock is held only to
            // check, hand over and apply.
            let record = match self.state.journal() {
                Some(journal) => match self.journal_record(policy_id) {
                    Ok(record) => Some((journal, record)),
                    Err(error) => {
                        return Err(CommitError::Journal {
                            error,
                            discarded: self.discard(),
                        });
                    }
                },
                None => None,
            };
            // Waits while an evaluation runs alone in the realm (it holds the
            // serial lock from its reads to its commit).
            let serial = (!self.serialized).then(|| self.state.serial(&self.realm_id));
            let _serial = serial.as_ref().map(|s| s.lock());
            let realm = self.state.realm(&self.realm_id);
            let mut stores = realm.write();
            if self
                .read_version
                .is_some_and(|v| !stores.unchanged_since(v, &self.reads))
            {
                drop(stores);
                return Err(CommitError::Conflict(Conflict {
                    discarded: self.discard(),
                }));
            }
            if let Some((journal, record)) = record {
                // Under the realm's lock: the log's order is the order of
                // the commits it replays.
                match journal.record(record) {
                    Ok(seq) => sequence = Some(seq),
                    Err(error) => {
                        drop(stores);
                        return Err(CommitError::Journal {
                            error,
                            discarded: self.discard(),
                        });
                    }
                }
            }
            let mut written = Vec::with_capacity(self.write_count());
            for (store, writes) in &self.writes {
                let entries = stores.stores.entry(store.clone()).or_default();
                for (key, value) in writes {
                    match value {
                        Some(v) => entries.insert(key.clone(), v.clone()),
                        None => entries.remove(key),
                    };
                    written.push((store.clone(), key.clone()));
                }
            }
            stores.changed(written);
        }
        for (event_type, payload) in &self.events {
            self.state.append_event(StateEvent::PolicyEmitted {
                policy_id: policy_id.to_owned(),
                realm_id: self.realm_id.clone(),
                event_type: event_type.clone(),
                payload: payload.clone(),
            });
        }
        let mut changes = self.into_changes(true);
        changes.sequence = sequence;
        Ok(changes)
    }

    /// The buffered writes, flattened, without consuming them.
    fn changes_preview(&self) -> Vec<StoreWrite> {
        self.writes
            .iter()
            .flat_map(|(store, writes)| {
                writes.iter().map(move |(key, value)| StoreWrite {
                    store: store.clone(),
                    key: key.clone(),
                    value: value.clone(),
                })
            })
            .collect()
    }

    /// Marks the transaction as run under the realm's serial lock, which
    /// the caller holds until after the commit.
    pub(crate) fn set_serialized(&mut self) {
        self.serialized = true;
    }

    /// Drops every write and event; returns what was dropped.
    pub fn discard(self) -> StateChanges {
        self.into_changes(false)
    }

    fn into_changes(self, committed: bool) -> StateChanges {
        StateChanges {
            committed,
            sequence: None,
            writes: self
                .writes
                .into_iter()
                .flat_map(|(store, writes)| {
                    writes.into_iter().map(move |(key, value)| StoreWrite {
                        store: store.clone(),
                        key,
                        value,
                    })
                })
                .collect(),
            events: self.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Arc<UnifiedState> {
        let s = UnifiedState::new();
        s.store_put("r", "quota", "alice", "1");
        Arc::new(s)
    }

    #[test]
    fn reads_see_own_writes_and_commit_applies_all() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        assert_eq!(t.get("quota", "alice").as_deref(), Some("1"));
        t.put("quota", "alice", "2");
        t.put("quota", "bob", "1");
        assert_eq!(t.get("quota", "alice").as_deref(), Some("2"));
        assert!(t.delete("quota", "bob"));
        assert!(!t.delete("quota", "carol"));
        t.emit("used", "alice");
        // Nothing is visible before the commit.
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("1"));
        let changes = t.commit("p").unwrap();
        assert!(changes.committed);
        assert_eq!(changes.writes.len(), 3);
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("2"));
        assert_eq!(state.store_get("r", "quota", "bob"), None);
        assert_eq!(state.event_count(), 1);
    }

    #[test]
    fn discard_changes_nothing() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        t.put("quota", "alice", "9");
        t.emit("used", "alice");
        let dropped = t.discard();
        assert!(!dropped.committed);
        assert_eq!(dropped.writes.len(), 1);
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("1"));
        assert_eq!(state.event_count(), 0);
    }

    #[test]
    fn a_commit_on_stale_reads_is_refused() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        let n: u32 = t.get("quota", "alice").unwrap().parse().unwrap();
        t.put("quota", "alice", &(n + 1).to_string());
        state.store_put("r", "quota", "alice", "5"); // another evaluation committed
        let Err(CommitError::Conflict(conflict)) = t.commit("p") else {
            panic!("a stale commit must conflict");
        };
        assert_eq!(conflict.discarded.writes.len(), 1);
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("5"));
    }

    #[test]
    fn commits_to_other_keys_do_not_conflict_and_a_key_read_absent_does() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        let n: u32 = t.get("quota", "alice").unwrap().parse().unwrap();
        assert_eq!(t.get("quota", "carol"), None);
        t.put("quota", "alice", &(n + 1).to_string());
        // Other evaluations commit other keys, and the same key in another store.
        state.store_put("r", "quota", "bob", "7");
        state.store_put("r", "limits", "alice", "3");
        state.store_delete("r", "quota", "dave");
        assert!(t.commit("p").is_ok(), "no value it read changed");
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("2"));

        // A key it read as absent, written since: its decision may rest on that.
        let mut t = Transaction::new(Arc::clone(&state), "r");
        assert_eq!(t.get("quota", "carol"), None);
        t.put("quota", "erin", "1");
        state.store_put("r", "quota", "carol", "1");
        assert!(matches!(t.commit("p"), Err(CommitError::Conflict(_))));
        assert_eq!(state.store_get("r", "quota", "erin"), None);
    }

    #[test]
    fn a_transaction_older_than_the_commits_remembered_conflicts() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        assert_eq!(t.get("quota", "alice").as_deref(), Some("1"));
        t.put("quota", "alice", "2");
        for i in 0..super::super::RECENT_COMMITS {
            state.store_put("r", "quota", &format!("u{i}"), "1");
        }
        // Every commit since its read is still remembered: none wrote alice.
        let mut fresh = Transaction::new(Arc::clone(&state), "r");
        assert_eq!(fresh.get("quota", "alice").as_deref(), Some("1"));
        state.store_put("r", "quota", "one-more", "1");
        // `t` read before the oldest commit remembered: it cannot tell.
        assert!(matches!(t.commit("p"), Err(CommitError::Conflict(_))));
        fresh.put("quota", "alice", "2");
        assert!(fresh.commit("p").is_ok());

        // Commits that write many keys are remembered by keys, not count:
        // one big commit pushes out the small one that came after the read.
        let mut t = Transaction::new(Arc::clone(&state), "r");
        assert_eq!(t.get("quota", "alice").as_deref(), Some("2"));
        t.put("quota", "alice", "3");
        state.store_put("r", "quota", "small", "1");
        let mut big = Transaction::new(Arc::clone(&state), "r");
        for i in 0..=super::super::RECENT_KEYS {
            big.put("bulk", &format!("k{i}"), "1");
        }
        assert!(big.commit("p").is_ok());
        assert!(matches!(t.commit("p"), Err(CommitError::Conflict(_))));
    }

    /// A journal that takes commits until it is told to refuse.
    #[derive(Debug, Default)]
    struct Recorder {
        refuse: std::sync::atomic::AtomicBool,
        seen: parking_lot::Mutex<Vec<String>>,
    }

    impl super::super::Journal for Recorder {
        fn record(
            &self,
            c: Box<serde_json::value::RawValue>,
        ) -> Result<u64, super::super::JournalError> {
            if self.refuse.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(super::super::JournalError("disk full".into()));
            }
            let c: serde_json::Value = serde_json::from_str(c.get()).unwrap();
            let mut seen = self.seen.lock();
            seen.push(format!(
                "{} {}={}",
                c["realm"].as_str().unwrap(),
                c["writes"][0]["key"].as_str().unwrap(),
                c["writes"][0]["value"]
            ));
            Ok(seen.len() as u64)
        }
    }

    #[test]
    fn a_journal_sees_each_commit_before_it_applies_and_can_refuse_it() {
        let state = state();
        let journal = Arc::new(Recorder::default());
        state.set_journal(journal.clone()).unwrap();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        t.put("quota", "alice", "2");
        let changes = t.commit("p").unwrap();
        assert_eq!(changes.sequence, Some(1));
        assert_eq!(*journal.seen.lock(), ["r alice=\"2\""]);
        // Refused by the journal: nothing is applied.
        journal
            .refuse
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut t = Transaction::new(Arc::clone(&state), "r");
        t.put("quota", "alice", "3");
        let Err(CommitError::Journal { error, discarded }) = t.commit("p") else {
            panic!("refused by the journal");
        };
        assert_eq!(error.to_string(), "log unavailable: disk full");
        assert!(!discarded.committed);
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("2"));
    }

    #[test]
    fn blind_writes_never_conflict() {
        let state = state();
        let mut t = Transaction::new(Arc::clone(&state), "r");
        t.put("log", "k", "v");
        state.store_put("r", "quota", "alice", "5");
        assert!(t.commit("p").is_ok());
    }
}
