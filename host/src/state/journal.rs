//! The seam a durable log plugs into: every commit that changes state is
//! handed to the [`Journal`] under the realm's write lock, before it is
//! applied, so the log's order is the order the changes were applied in and
//! a replay of the log rebuilds the same stores.

use serde::Serialize;

use super::StoreWrite;

/// A commit about to be applied: the writes of one evaluation in one realm,
/// and the events it emitted.
#[derive(Debug, Clone, Serialize)]
pub struct CommitRecord<'a> {
    /// The realm whose stores change.
    pub realm: &'a str,
    /// The policy whose allow commits them.
    pub policy_id: &'a str,
    /// The writes, sorted by store and key; a `None` value deletes.
    pub writes: &'a [StoreWrite],
    /// The events, as (type, payload), in emission order.
    pub events: &'a [(String, String)],
}

/// Why a journal did not take a commit: the commit is then refused and the
/// evaluation denied, never applied without its log entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log unavailable: {0}")]
pub struct JournalError(pub String);

/// Where commits are recorded before they are applied.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use erynoa_host::{Journal, JournalError, UnifiedState};
/// use serde_json::value::RawValue;
///
/// #[derive(Debug, Default)]
/// struct Memory(Mutex<Vec<String>>);
/// impl Journal for Memory {
///     fn record(&self, commit: Box<RawValue>) -> Result<u64, JournalError> {
///         let mut log = self.0.lock().unwrap();
///         log.push(commit.get().to_owned());
///         Ok(log.len() as u64)
///     }
/// }
/// let state = UnifiedState::new();
/// let journal = Arc::new(Memory::default());
/// state.set_journal(journal.clone());
/// ```
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Records `commit`, a [`CommitRecord`] as JSON; returns its sequence
    /// number in the log. The JSON is written before the realm's locks are
    /// taken; this is called with the realm's write lock held, so it must
    /// not block for long (queue the entry; make it durable elsewhere).
    fn record(&self, commit: Box<serde_json::value::RawValue>) -> Result<u64, JournalError>;
}
