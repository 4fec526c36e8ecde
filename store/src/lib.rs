//! The durable log: one append-only, hash-chained log in a redb file, the
//! source of truth the in-memory state is a projection of.
//!
//! Every entry has a sequence number, a time, a kind (`commit`: a policy's
//! writes and events; `decision`: who decided what; `operator`: an
//! operator's change; `checkpoint`: a snapshot was taken) and a JSON body;
//! it is stored as `hash ‖ bytes` with `hash = SHA-256(previous hash ‖
//! bytes)`, so changing, removing or reordering any entry breaks every hash
//! after it ([`verify`]). Entries are appended by a writer thread in batches
//! (group commit); a caller that must not be answered before its entry is
//! durable waits for it ([`Log::wait_durable`]).
//!
//! A [checkpoint](Checkpoint) stores the projection as it stands after one
//! entry, and a later `checkpoint` entry puts its digest into the chain. A
//! restart starts from the newest checkpoint ([`restore`]); the entries it
//! covers can be archived and removed ([`compact`]) and the chain still
//! verifies from it.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("erynoa-store-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let log = erynoa_store::Log::open(&dir, erynoa_store::Durability::Immediate)?;
//! let seq = log.append("decision", &serde_json::json!({"effect": "allow"}))?;
//! log.wait_durable(seq, std::time::Duration::from_secs(5))?;
//! drop(log);
//! let report = erynoa_store::verify(&dir)?;
//! assert_eq!((report.entries, report.broken), (1, None));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod decision;
mod export;
mod log;
mod operator;
mod read;

use std::path::Path;
use std::time::SystemTime;

use redb::TableDefinition;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

pub use checkpoint::{Checkpoint, Compacted, Report, Restored, compact, rebuild, restore, verify};
pub use decision::{Gas, Masking, PolicyRecord, decision_entry};
pub use export::{export_line, verify_export};
pub use log::{Durability, Log, Options};
pub use operator::{ImportError, OperatorChange, parse_changes};
pub use read::entries;

/// `last sequence of a run of entries → the entries`, each `sequence (u64,
/// little endian) ‖ hash ‖ length (u32, little endian) ‖ canonical bytes`.
/// The writer stores a batch in values of up to [`BATCH_VALUE`] bytes: one
/// B-tree insert per hundred entries or so, not one per entry.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");

/// Where the first format kept one entry per value: a file that has it is
/// refused rather than read as empty.
const FIRST_FORMAT: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// Most bytes of entries in one stored value (unless one entry is longer).
/// Just under 64 KiB: redb gives a value a region of the next power of two
/// up, so bigger values waste up to half their size, and smaller ones cost
/// more inserts.
const BATCH_VALUE: usize = (64 << 10) - 512;

/// `covered sequence → checkpoint` (JSON, [`Checkpoint`]).
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// `covered sequence → the projection there` ([`UnifiedState::snapshot`](erynoa_host::UnifiedState::snapshot)).
const SNAPSHOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshots");

/// The log file in a data directory.
pub const FILE: &str = "erynoa.redb";

/// One log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its position, from 1, without gaps.
    pub seq: u64,
    /// When it was appended, Unix milliseconds.
    pub time_ms: u64,
    /// `commit`, `decision`, `operator` or `checkpoint`.
    pub kind: String,
    /// What it records: JSON, kept as written (serialized once, by the
    /// appender, off the writer thread).
    pub body: Box<serde_json::value::RawValue>,
}

/// What went wrong with the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory.
    #[error("data directory `{path}`: {error}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// redb refused (a corrupt file, a file locked by another process, a
    /// full disk).
    #[error("log `{path}`: {message}")]
    Redb {
        /// The file.
        path: String,
        /// redb's message.
        message: String,
    },
    /// An entry that is not what this log writes.
    #[error("log entry {seq}: {message}")]
    Entry {
        /// Its sequence number.
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// A log file written by an earlier erynoa, one entry per stored value.
    #[error(
        "log `{path}` is in the first format (one entry per value), which this erynoa does not \
         read: export it with the erynoa that wrote it (`erynoa log export`)"
    )]
    Format {
        /// The file.
        path: String,
    },
    /// A checkpoint that cannot be used.
    #[error("checkpoint after entry {covers}: {message}")]
    Checkpoint {
        /// The last entry it covers.
        covers: u64,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint was asked of a log that has none to start from.
    #[error(
        "the log has no checkpoint to start from: its data directory was never opened with its \
         state (run `erynoa serve --data` or `erynoa run --data` on it once)"
    )]
    NoCheckpoint,
    /// The fixture given is not the one the data directory started from.
    #[error(
        "the data directory started from another state fixture ({started}); this one is {given}. \
         Its state lives in the log now: start without a fixture, or from an empty data directory"
    )]
    OtherFixture {
        /// The fingerprint the checkpoints carry.
        started: String,
        /// The fingerprint of the fixture given.
        given: String,
    },
    /// The writer could not make the entry durable in time, or stopped.
    #[error("log unavailable: {0}")]
    Unavailable(String),
    /// Writing an archive or reading an export.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
}

fn redb_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Redb {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A table of the log file, if it was ever written.
fn open_table(
    read: &redb::ReadTransaction,
    path: &Path,
    table: TableDefinition<'static, u64, &'static [u8]>,
) -> Result<Option<redb::ReadOnlyTable<u64, &'static [u8]>>, StoreError> {
    match read.open_table(table) {
        Ok(t) => Ok(Some(t)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(redb_error(path, e)),
    }
}

/// Refuses a file in the first format (one entry per value, before
/// batches): reading it as this format would find no entries.
fn check_format(db: &redb::Database, path: &Path) -> Result<(), StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    match open_table(&read, path, FIRST_FORMAT)? {
        Some(_) => Err(StoreError::Format {
            path: path.display().to_string(),
        }),
        None => Ok(()),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn chain(prev: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(prev);
    h.update(bytes);
    h.finalize().into()
}

/// The 32 bytes `text` spells in hex, if it does.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}
