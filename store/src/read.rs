//! Reading stored entries: in order, parsed, applied to a projection.

use std::path::{Path, PathBuf};

use erynoa_host::UnifiedState;
use redb::Database;
use serde::Deserialize;

use crate::operator::OperatorChange;
use crate::{Entry, FILE, LOG, StoreError, hex, open_table, redb_error};

/// Opens the log in `dir` for reading only.
pub(crate) fn open_read(dir: &Path) -> Result<(Database, PathBuf), StoreError> {
    let path = dir.join(FILE);
    if !path.is_file() {
        return Err(StoreError::Dir {
            path: dir.display().to_string(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, format!("no {FILE} here")),
        });
    }
    let db = Database::open(&path).map_err(|e| redb_error(&path, e))?;
    Ok((db, path))
}

/// Calls `f(seq, hash, bytes)` for each stored entry from `since` on, in
/// order, until it returns false.
pub(crate) fn each_in(
    db: &Database,
    path: &Path,
    since: u64,
    mut f: impl FnMut(u64, [u8; 32], &[u8]) -> bool,
) -> Result<(), StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let Some(table) = open_table(&read, path, LOG)? else {
        return Ok(());
    };
    for item in table.range(since..).map_err(|e| redb_error(path, e))? {
        let (seq, value) = item.map_err(|e| redb_error(path, e))?;
        let (seq, value) = (seq.value(), value.value());
        let (hash, bytes) = split(seq, value)?;
        if !f(seq, hash, bytes) {
            break;
        }
    }
    Ok(())
}

/// A stored value's hash and entry bytes.
pub(crate) fn split(seq: u64, value: &[u8]) -> Result<([u8; 32], &[u8]), StoreError> {
    match value.get(..32).and_then(|h| <[u8; 32]>::try_from(h).ok()) {
        Some(hash) => Ok((hash, &value[32..])),
        None => Err(StoreError::Entry {
            seq,
            message: "shorter than its hash".into(),
        }),
    }
}

/// Parses stored entries, at most `limit`, with their hashes.
pub(crate) fn collect(
    db: &Database,
    path: &Path,
    since: u64,
    limit: usize,
) -> Result<Vec<(Entry, String)>, StoreError> {
    let mut out = Vec::new();
    let mut bad = None;
    each_in(db, path, since, |seq, hash, bytes| {
        match serde_json::from_slice::<Entry>(bytes) {
            Ok(e) => out.push((e, hex(&hash))),
            Err(e) => {
                bad = Some(StoreError::Entry {
                    seq,
                    message: e.to_string(),
                });
                return false;
            }
        }
        out.len() < limit
    })?;
    match bad {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Up to `limit` entries from `since` (a sequence number) on, parsed, with
/// their hashes, of the log in `dir` (not open in another process).
pub fn entries(dir: &Path, since: u64, limit: usize) -> Result<Vec<(Entry, String)>, StoreError> {
    let (db, path) = open_read(dir)?;
    collect(&db, &path, since, limit)
}

/// A stored entry, its body left unparsed.
#[derive(Deserialize)]
pub(crate) struct Stored<'a> {
    pub(crate) seq: u64,
    pub(crate) kind: &'a str,
    #[serde(borrow)]
    pub(crate) body: &'a serde_json::value::RawValue,
}

/// Applies one stored entry to `state` if it changes it (`commit` and
/// `operator` entries); returns the entry, parsed enough to look at.
pub(crate) fn apply_entry<'a>(
    seq: u64,
    bytes: &'a [u8],
    state: &UnifiedState,
) -> Result<Stored<'a>, StoreError> {
    #[derive(Deserialize)]
    struct Write {
        store: String,
        key: String,
        value: Option<String>,
    }
    #[derive(Deserialize)]
    struct Commit {
        realm: String,
        writes: Vec<Write>,
    }
    let bad = |message: String| StoreError::Entry { seq, message };
    let entry: Stored<'_> =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("does not parse: {e}")))?;
    match entry.kind {
        "operator" => {
            let change: OperatorChange = serde_json::from_str(entry.body.get())
                .map_err(|e| bad(format!("not an operator change: {e}")))?;
            change.apply(state).map_err(bad)?;
        }
        "commit" => {
            let commit: Commit = serde_json::from_str(entry.body.get())
                .map_err(|e| bad(format!("not a commit: {e}")))?;
            for w in commit.writes {
                match w.value {
                    Some(v) => state.store_put(&commit.realm, &w.store, &w.key, &v),
                    None => {
                        state.store_delete(&commit.realm, &w.store, &w.key);
                    }
                }
            }
        }
        _ => {}
    }
    Ok(entry)
}

/// Applies the entries from `since` to `until` (inclusive) to `state`;
/// returns the last one read and its hash.
pub(crate) fn replay_range(
    db: &Database,
    path: &Path,
    since: u64,
    until: u64,
    state: &UnifiedState,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    // Streamed: a long log is never held in memory whole.
    let mut last = None;
    let mut failed = None;
    let mut next = since;
    each_in(db, path, since, |seq, hash, bytes| {
        if seq > until {
            return false;
        }
        if seq != next {
            failed = Some(StoreError::Entry {
                seq: next,
                message: format!("missing: the log goes on at entry {seq}"),
            });
            return false;
        }
        next += 1;
        match apply_entry(seq, bytes, state) {
            Ok(_) => {
                last = Some((seq, hash));
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(last),
    }
}
