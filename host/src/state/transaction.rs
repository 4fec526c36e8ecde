use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use super::{RealmStores, StateEvent, UnifiedState};
use crate::TrustVector;

/// One evaluation's access to [`UnifiedState`], scoped to its realm: reads
/// see the committed state and the evaluation's own buffered writes; writes
/// and events are buffered until the decision, then committed at once or
/// discarded.
///
/// Remembers the realm version of its first store read, so that a commit can
/// refuse writes based on reads another evaluation has since invalidated.
#[derive(Debug)]
pub struct Transaction {
    state: Arc<UnifiedState>,
    realm_id: String,
    realm: Option<Arc<RwLock<RealmStores>>>,
    read_version: Option<u64>,
    /// store -> key -> new value (`None` deletes). Nested so lookups borrow.
    writes: BTreeMap<String, BTreeMap<String, Option<String>>>,
    events: Vec<(String, String)>,
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
    /// Store writes, sorted by store and key.
    pub writes: Vec<StoreWrite>,
    /// Emitted events as (type, payload), in emission order.
    pub events: Vec<(String, String)>,
}

/// The realm changed between the evaluation's reads and its commit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("state conflict: the realm's stores changed while the policy ran")]
pub struct Conflict {
    /// What the evaluation would have changed; nothing of it was applied.
    pub discarded: StateChanges,
}

impl Transaction {
    /// A transaction on `state`, in `realm`.
    pub fn new(state: Arc<UnifiedState>, realm: &str) -> Self {
        Self {
            state,
            realm_id: realm.to_owned(),
            realm: None,
            read_version: None,
            writes: BTreeMap::new(),
            events: Vec::new(),
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

    /// Applies every write and event at once. Refused with [`Conflict`] when
    /// the evaluation read the realm's stores and another commit changed them
    /// since: its decision may rest on stale values.
    pub fn commit(self, policy_id: &str) -> Result<StateChanges, Conflict> {
        if !self.writes.is_empty() {
            let realm = self.state.realm(&self.realm_id);
            let mut stores = realm.write();
            if self.read_version.is_some_and(|v| v != stores.version) {
                drop(stores);
                return Err(Conflict {
                    discarded: self.discard(),
                });
            }
            stores.version += 1;
            for (store, writes) in &self.writes {
                let entries = stores.stores.entry(store.clone()).or_default();
                for (key, value) in writes {
                    match value {
                        Some(v) => entries.insert(key.clone(), v.clone()),
                        None => entries.remove(key),
                    };
                }
            }
        }
        for (event_type, payload) in &self.events {
            self.state.append_event(StateEvent::PolicyEmitted {
                policy_id: policy_id.to_owned(),
                realm_id: self.realm_id.clone(),
                event_type: event_type.clone(),
                payload: payload.clone(),
            });
        }
        Ok(self.into_changes(true))
    }

    /// Drops every write and event; returns what was dropped.
    pub fn discard(self) -> StateChanges {
        self.into_changes(false)
    }

    fn into_changes(self, committed: bool) -> StateChanges {
        StateChanges {
            committed,
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
        let conflict = t.commit("p").unwrap_err();
        assert_eq!(conflict.discarded.writes.len(), 1);
        assert_eq!(state.store_get("r", "quota", "alice").as_deref(), Some("5"));
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
