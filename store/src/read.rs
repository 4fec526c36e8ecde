//! Reading stored entries: in order, parsed, applied to a projection.

use std::path::{Path, PathBuf};

use erynoa_host::UnifiedState;
use redb::Database;
use serde::Deserialize;

use crate::operator::OperatorChange;
use crate::{Entry, FILE, LOG, StoreError, open_table, redb_error};

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
    crate::check_format(&db, &path)?;
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
    // A batch is keyed by its last entry: the first batch from `since` on
    // holds `since` if anything does.
    for item in table.range(since..).map_err(|e| redb_error(path, e))? {
        let (last, value) = item.map_err(|e| redb_error(path, e))?;
        for record in records(last.value(), value.value()) {
            let Record { seq, hash, bytes } = record?;
            if seq >= since && !f(seq, hash, bytes) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One stored entry.
pub(crate) struct Record<'a> {
    pub(crate) seq: u64,
    pub(crate) hash: [u8; 32],
    pub(crate) bytes: &'a [u8],
}

/// The entries of the batch stored under `last`:
/// in increasing order, ending on `last`; a value that breaks that is an
/// error naming the batch.
pub(crate) fn records(
    last: u64,
    value: &[u8],
) -> impl Iterator<Item = Result<Record<'_>, StoreError>> {
    let mut rest = value;
    let mut prev: Option<u64> = None;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        if rest.is_empty() {
            return match prev {
                Some(p) if p == last => None,
                _ => {
                    failed = true;
                    Some(Err(bad_batch(last, "it does not end on its last entry")))
                }
            };
        }
        let record = split_record(rest).and_then(|(record, tail)| {
            if prev.is_some_and(|p| record.seq <= p) || record.seq > last {
                return None;
            }
            rest = tail;
            prev = Some(record.seq);
            Some(record)
        });
        if record.is_none() {
            failed = true;
        }
        Some(record.ok_or_else(|| bad_batch(last, "an entry in it is cut short or out of order")))
    })
}

/// The part of the batch stored under `last` from entry `since` on (what
/// compaction keeps of a batch it cuts).
pub(crate) fn tail_from(last: u64, value: &[u8], since: u64) -> Result<&[u8], StoreError> {
    let mut rest = value;
    while let Some((record, tail)) = split_record(rest) {
        if record.seq >= since {
            return Ok(rest);
        }
        rest = tail;
    }
    Err(bad_batch(last, &format!("entry {since} is not in it")))
}

/// The first record in `value`, and what follows it.
fn split_record(value: &[u8]) -> Option<(Record<'_>, &[u8])> {
    let (seq, value) = value.split_first_chunk::<8>()?;
    let (hash, value) = value.split_first_chunk::<32>()?;
    let (len, value) = value.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let bytes = value.get(..len)?;
    let record = Record {
        seq: u64::from_le_bytes(*seq),
        hash: *hash,
        bytes,
    };
    Some((record, &value[len..]))
}

fn bad_batch(last: u64, why: &str) -> StoreError {
    StoreError::Entry {
        seq: last,
        message: format!("the stored batch ending at entry {last} is damaged: {why}"),
    }
}

/// The first stored entry's sequence number, if any.
pub(crate) fn first(db: &Database, path: &Path) -> Result<Option<u64>, StoreError> {
    let mut found = None;
    each_in(db, path, 0, |seq, _, _| {
        found = Some(seq);
        false
    })?;
    Ok(found)
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
            Ok(e) => out.push((e, hex::encode(hash))),
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
