//! Checkpoints: the projection stored after an entry and confirmed by the
//! chain; restoring from them, verifying through them, compacting to them.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use erynoa_host::UnifiedState;
use redb::{Database, ReadableTable};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::read::{self, apply_entry, each_in, open_read, replay_range};
use crate::{
    CHECKPOINTS, LOG, SNAPSHOTS, StoreError, chain, export, log, now_ms, open_table, redb_error,
    unhex,
};

/// A stored projection: the state after entry `covers`. Its record is the
/// body of the `checkpoint` entry that confirms it, so the chain vouches
/// for its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The last entry it covers (0: none, the state the directory started
    /// from).
    pub covers: u64,
    /// That entry's hash, hex (zeros for 0): the entry after it chains
    /// from this.
    pub hash: String,
    /// [`UnifiedState::digest`] of the projection there.
    pub digest: String,
    /// `sha256:` of the snapshot of the fixture the data directory started
    /// from.
    pub fixture: String,
    /// When it was taken, Unix milliseconds.
    pub time_ms: u64,
}

/// A state's identity as a fixture: clock included, unlike its digest.
pub(crate) fn fingerprint(state: &UnifiedState) -> String {
    let hash: [u8; 32] = sha2::Sha256::digest(state.snapshot().as_bytes()).into();
    format!("sha256:{}", hex::encode(hash))
}

/// The first checkpoint of a data directory: `state` after entry `covers`,
/// started from the fixture with fingerprint `fixture`.
pub(crate) fn first(
    state: &UnifiedState,
    covers: u64,
    hash: &[u8; 32],
    fixture: String,
) -> Checkpoint {
    Checkpoint {
        covers,
        hash: hex::encode(hash),
        digest: state.digest(),
        fixture,
        time_ms: now_ms(),
    }
}

fn parse(covers: u64, bytes: &[u8]) -> Result<Checkpoint, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Checkpoint {
        covers,
        message: format!("its record does not parse: {e}"),
    })
}

/// Every stored checkpoint, by the entry it covers.
fn all(db: &Database, path: &Path) -> Result<BTreeMap<u64, Checkpoint>, StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let mut out = BTreeMap::new();
    if let Some(table) = open_table(&read, path, CHECKPOINTS)? {
        for item in table.iter().map_err(|e| redb_error(path, e))? {
            let (covers, record) = item.map_err(|e| redb_error(path, e))?;
            out.insert(covers.value(), parse(covers.value(), record.value())?);
        }
    }
    Ok(out)
}

/// The newest stored checkpoint.
pub(crate) fn newest(db: &Database, path: &Path) -> Result<Option<Checkpoint>, StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let Some(table) = open_table(&read, path, CHECKPOINTS)? else {
        return Ok(None);
    };
    match table.last().map_err(|e| redb_error(path, e))? {
        Some((covers, record)) => Ok(Some(parse(covers.value(), record.value())?)),
        None => Ok(None),
    }
}

/// The projection `checkpoint` stores, checked against its digest.
fn load(db: &Database, path: &Path, checkpoint: &Checkpoint) -> Result<UnifiedState, StoreError> {
    let bad = |message: String| StoreError::Checkpoint {
        covers: checkpoint.covers,
        message,
    };
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let table = open_table(&read, path, SNAPSHOTS)?;
    let stored = match &table {
        Some(t) => t.get(checkpoint.covers).map_err(|e| redb_error(path, e))?,
        None => None,
    };
    let stored = stored.ok_or_else(|| bad("its snapshot is missing".into()))?;
    let text = std::str::from_utf8(stored.value())
        .map_err(|e| bad(format!("its snapshot is not UTF-8: {e}")))?;
    let state = UnifiedState::from_json(text)
        .map_err(|e| bad(format!("its snapshot does not read: {e}")))?;
    let digest = state.digest();
    if digest != checkpoint.digest {
        return Err(bad(format!(
            "its snapshot's digest is {digest}, its record says {}",
            checkpoint.digest
        )));
    }
    Ok(state)
}

/// Stores a checkpoint and its snapshot in one transaction.
pub(crate) fn store(
    db: &Database,
    path: &Path,
    checkpoint: &Checkpoint,
    snapshot: &str,
) -> Result<(), StoreError> {
    let record = serde_json::to_vec(checkpoint).map_err(|e| StoreError::Checkpoint {
        covers: checkpoint.covers,
        message: e.to_string(),
    })?;
    let txn = db.begin_write().map_err(|e| redb_error(path, e))?;
    {
        let mut records = txn
            .open_table(CHECKPOINTS)
            .map_err(|e| redb_error(path, e))?;
        records
            .insert(checkpoint.covers, record.as_slice())
            .map_err(|e| redb_error(path, e))?;
        let mut snapshots = txn.open_table(SNAPSHOTS).map_err(|e| redb_error(path, e))?;
        snapshots
            .insert(checkpoint.covers, snapshot.as_bytes())
            .map_err(|e| redb_error(path, e))?;
    }
    txn.commit().map_err(|e| redb_error(path, e))
}

/// Checkpoints the entries up to `until`: the newest checkpoint's state,
/// then the entries after it. Returns the newest checkpoint and whether it
/// was just taken (not if it already covered `until`).
pub(crate) fn take(
    db: &Database,
    path: &Path,
    until: u64,
) -> Result<(Checkpoint, bool), StoreError> {
    let base = newest(db, path)?.ok_or(StoreError::NoCheckpoint)?;
    if base.covers >= until {
        return Ok((base, false));
    }
    let state = load(db, path, &base)?;
    let (covers, hash) = match replay_range(db, path, base.covers + 1, until, &state)? {
        Some((seq, hash)) => (seq, hex::encode(hash)),
        None => (base.covers, base.hash.clone()),
    };
    if covers == base.covers {
        return Ok((base, false));
    }
    let taken = Checkpoint {
        covers,
        hash,
        digest: state.digest(),
        fixture: base.fixture,
        time_ms: now_ms(),
    };
    store(db, path, &taken, &state.snapshot())?;
    Ok((taken, true))
}

/// A state rebuilt from a data directory.
#[derive(Debug)]
pub struct Restored {
    /// The projection after the last entry.
    pub state: UnifiedState,
    /// The checkpoint it started from, if the directory has one.
    pub checkpoint: Option<Checkpoint>,
    /// The fingerprint of the fixture the directory started from.
    pub fixture: String,
    /// Entries replayed after the checkpoint.
    pub replayed: u64,
}

pub(crate) fn restore_in(
    db: &Database,
    path: &Path,
    fixture: Option<UnifiedState>,
) -> Result<Restored, StoreError> {
    let checkpoint = newest(db, path)?;
    let (state, fingerprint_of_start) = match &checkpoint {
        Some(c) => {
            if let Some(given) = fixture.as_ref().map(fingerprint)
                && given != c.fixture
            {
                return Err(StoreError::OtherFixture {
                    started: c.fixture.clone(),
                    given,
                });
            }
            (load(db, path, c)?, c.fixture.clone())
        }
        None => {
            let start = fixture.unwrap_or_default();
            let f = fingerprint(&start);
            (start, f)
        }
    };
    let since = checkpoint.as_ref().map_or(0, |c| c.covers) + 1;
    let last = replay_range(db, path, since, u64::MAX, &state)?;
    Ok(Restored {
        state,
        checkpoint,
        fixture: fingerprint_of_start,
        replayed: last.map_or(0, |(seq, _)| seq + 1 - since),
    })
}

/// Rebuilds the state of the data directory in `dir` (not open in another
/// process) as a restart does: its newest checkpoint, then the entries
/// after it. Without a checkpoint it starts from `fixture`, or the empty
/// state; with one, a `fixture` given must be the one it started from.
pub fn restore(dir: &Path, fixture: Option<UnifiedState>) -> Result<Restored, StoreError> {
    let (db, path) = open_read(dir)?;
    restore_in(&db, &path, fixture)
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first entry stored (after a compaction, the one after the
    /// checkpoint the log starts from).
    pub first: u64,
    /// The last entry that verified (the number of entries, for a log
    /// never compacted).
    pub entries: u64,
    /// Its hash, hex.
    pub head: String,
    /// Checkpoints whose snapshot, digest and hash matched the replay.
    pub checkpoints: u64,
    /// The digest of the state replayed through the last verified entry.
    pub digest: String,
    /// The first entry that does not verify, and why.
    pub broken: Option<(u64, String)>,
}

/// Walks the chain from the first stored entry, and rebuilds the state on
/// the way: every sequence number follows the one before, every hash is
/// `SHA-256(previous hash ‖ bytes)`, every entry parses and applies, every
/// checkpoint passed has the digest the replay reaches, and every
/// `checkpoint` entry confirms a stored checkpoint. Stops at the first
/// entry that does not verify; returns the state up to the entry before.
pub fn rebuild(dir: &Path) -> Result<(Report, UnifiedState), StoreError> {
    let (db, path) = open_read(dir)?;
    let checkpoints = all(&db, &path)?;
    let start = read::first(&db, &path)?.map_or(0, |f| f - 1);
    let mut report = Report {
        first: start + 1,
        entries: start,
        head: hex::encode([0; 32]),
        checkpoints: 0,
        digest: String::new(),
        broken: None,
    };
    // What the replay reached at each checkpoint passed: digest and hash.
    let mut reached: HashMap<u64, (String, String)> = HashMap::new();
    let (state, mut prev) = match checkpoints.get(&start) {
        Some(c) => match (load(&db, &path, c), unhex(&c.hash)) {
            (Ok(state), Some(hash)) => {
                report.checkpoints += 1;
                report.head = c.hash.clone();
                reached.insert(start, (c.digest.clone(), c.hash.clone()));
                (state, hash)
            }
            (Err(e), _) => {
                report.broken = Some((start + 1, e.to_string()));
                return Ok((report, UnifiedState::new()));
            }
            (_, None) => {
                report.broken = Some((
                    start + 1,
                    format!("the checkpoint after entry {start} names no hash"),
                ));
                return Ok((report, UnifiedState::new()));
            }
        },
        None if start == 0 => (UnifiedState::new(), [0; 32]),
        None => {
            report.broken = Some((
                1,
                format!("entries 1..{start} are missing and no checkpoint covers them"),
            ));
            return Ok((report, UnifiedState::new()));
        }
    };
    let walked = each_in(&db, &path, start + 1, |seq, hash, bytes| {
        let expected = report.entries + 1;
        let problem = if seq != expected {
            Some(format!(
                "expected entry {expected} here: entries {expected}..{} are missing",
                seq - 1
            ))
        } else if chain(&prev, bytes) != hash {
            Some("its hash does not match its bytes and the entry before it".into())
        } else {
            match apply_entry(seq, bytes, &state) {
                Err(e) => Some(e.to_string()),
                Ok(stored) if stored.seq != seq => {
                    Some(format!("it says it is entry {}", stored.seq))
                }
                Ok(stored) if stored.kind == "checkpoint" => {
                    match serde_json::from_str::<Checkpoint>(stored.body.get()) {
                        Err(e) => Some(format!("not a checkpoint: {e}")),
                        Ok(c) => match reached.get(&c.covers) {
                            Some((digest, hash)) if *digest == c.digest && *hash == c.hash => None,
                            Some((digest, _)) => Some(format!(
                                "it confirms the checkpoint after entry {} with digest {}, \
                                 but the log replays to {digest} there",
                                c.covers, c.digest
                            )),
                            None if c.covers < start => None,
                            None => Some(format!(
                                "it confirms a checkpoint after entry {} that is not stored",
                                c.covers
                            )),
                        },
                    }
                }
                Ok(_) => None,
            }
        };
        let problem = problem.or_else(|| {
            let c = checkpoints.get(&seq)?;
            let digest = state.digest();
            if let Err(e) = load(&db, &path, c) {
                Some(e.to_string())
            } else if c.hash != hex::encode(hash) {
                Some(format!(
                    "the checkpoint after it names hash {}, its hash is {}",
                    c.hash,
                    hex::encode(hash)
                ))
            } else if c.digest != digest {
                Some(format!(
                    "the checkpoint after it has digest {}, the log replays to {digest}",
                    c.digest
                ))
            } else {
                report.checkpoints += 1;
                reached.insert(seq, (digest, c.hash.clone()));
                None
            }
        });
        match problem {
            Some(why) => {
                report.broken = Some((expected.min(seq), why));
                false
            }
            None => {
                report.entries = seq;
                report.head = hex::encode(hash);
                prev = hash;
                true
            }
        }
    });
    match walked {
        // A damaged batch is a break in the chain like any other.
        Err(StoreError::Entry { message, .. }) if report.broken.is_none() => {
            report.broken = Some((report.entries + 1, message));
        }
        other => other?,
    }
    report.digest = state.digest();
    Ok((report, state))
}

/// [`rebuild`], for its report: `erynoa log verify`.
pub fn verify(dir: &Path) -> Result<Report, StoreError> {
    rebuild(dir).map(|(report, _)| report)
}

/// What [`compact`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The checkpoint the log now starts from.
    pub checkpoint: Checkpoint,
    /// Entries removed (archived first when asked).
    pub removed: u64,
    /// The first entry kept.
    pub first: u64,
}

/// Whether a `checkpoint` entry after `covers` confirms the checkpoint
/// after `covers`.
fn confirmed(db: &Database, path: &Path, covers: u64) -> Result<bool, StoreError> {
    #[derive(Deserialize)]
    struct Covers {
        covers: u64,
    }
    let mut found = false;
    each_in(db, path, covers + 1, |_, _, bytes| {
        if let Ok(stored) = serde_json::from_slice::<crate::read::Stored<'_>>(bytes)
            && stored.kind == "checkpoint"
            && serde_json::from_str::<Covers>(stored.body.get()).is_ok_and(|c| c.covers == covers)
        {
            found = true;
        }
        !found
    })?;
    Ok(found)
}

/// Checkpoints the log in `dir` at its head, then removes the entries
/// before the newest confirmed checkpoint that leaves at least `keep`
/// entries, and every older checkpoint; with `archive`, writes them there
/// first (export lines, see [`export_line`](crate::export_line)), fsynced.
/// The chain then verifies from that checkpoint. The log must not be open
/// in another process.
pub fn compact(dir: &Path, keep: u64, archive: Option<&Path>) -> Result<Compacted, StoreError> {
    let compacted = {
        let log = log::Log::open(dir, log::Durability::Immediate)?;
        let newest = log.checkpoint()?;
        let (head, _) = log.head();
        let db = log.database();
        let path = log.path();
        let checkpoints = all(db, path)?;
        let mut cut = None;
        for (covers, c) in checkpoints.range(..=head.saturating_sub(keep)).rev() {
            if confirmed(db, path, *covers)? {
                cut = Some(c.clone());
                break;
            }
        }
        let first = read::first(db, path)?.unwrap_or(head + 1);
        let Some(cut) = cut.filter(|c| c.covers >= first) else {
            return Ok(Compacted {
                checkpoint: newest,
                removed: 0,
                first,
            });
        };
        if let Some(file) = archive {
            write_archive(db, path, file, first, cut.covers)?;
        }
        let txn = db.begin_write().map_err(|e| redb_error(path, e))?;
        {
            let mut entries = txn.open_table(LOG).map_err(|e| redb_error(path, e))?;
            entries
                .retain_in(..=cut.covers, |_, _| false)
                .map_err(|e| redb_error(path, e))?;
            // The batch the cut falls in keeps what comes after it.
            let straddling = match entries
                .range(cut.covers + 1..)
                .map_err(|e| redb_error(path, e))?
                .next()
            {
                Some(item) => {
                    let (last, value) = item.map_err(|e| redb_error(path, e))?;
                    let (last, value) = (last.value(), value.value());
                    let kept = read::tail_from(last, value, cut.covers + 1)?;
                    (kept.len() < value.len()).then(|| (last, kept.to_vec()))
                }
                None => None,
            };
            if let Some((last, kept)) = straddling {
                entries
                    .insert(last, kept.as_slice())
                    .map_err(|e| redb_error(path, e))?;
            }
            for table in [CHECKPOINTS, SNAPSHOTS] {
                txn.open_table(table)
                    .map_err(|e| redb_error(path, e))?
                    .retain_in(..cut.covers, |_, _| false)
                    .map_err(|e| redb_error(path, e))?;
            }
        }
        txn.commit().map_err(|e| redb_error(path, e))?;
        Compacted {
            removed: cut.covers + 1 - first,
            first: cut.covers + 1,
            checkpoint: cut,
        }
    };
    // Give the freed pages back to the file system.
    let path = dir.join(crate::FILE);
    let mut db = Database::create(&path).map_err(|e| redb_error(&path, e))?;
    db.compact().map_err(|e| redb_error(&path, e))?;
    Ok(compacted)
}

/// Writes entries `first..=last` as export lines to a new file, fsynced.
fn write_archive(
    db: &Database,
    path: &Path,
    file: &Path,
    first: u64,
    last: u64,
) -> Result<(), StoreError> {
    let io = |error: std::io::Error| StoreError::Io {
        path: file.display().to_string(),
        error,
    };
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(io)?;
    let mut out = std::io::BufWriter::new(out);
    let mut failed = None;
    each_in(db, path, first, |seq, hash, bytes| {
        if seq > last {
            return false;
        }
        let line = serde_json::from_slice::<crate::Entry>(bytes)
            .map_err(|e| StoreError::Entry {
                seq,
                message: e.to_string(),
            })
            .and_then(|e| {
                writeln!(out, "{}", export::export_line(&e, &hex::encode(hash))).map_err(io)
            });
        match line {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let out = out.into_inner().map_err(|e| io(e.into_error()))?;
    out.sync_all().map_err(io)?;
    Ok(())
}
