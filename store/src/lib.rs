//! The durable log: one append-only, hash-chained log in a redb file, the
//! source of truth the in-memory state is a projection of.
//!
//! Every entry has a sequence number, a time, a kind (`commit`: a policy's
//! writes and events; `decision`: who decided what) and a JSON body; it is
//! stored as `hash ‖ bytes` with `hash = SHA-256(previous hash ‖ bytes)`,
//! so changing, removing or reordering any entry breaks every hash after it
//! ([`verify`]). Entries are appended by a writer thread in batches (group
//! commit); a caller that must not be answered before its entry is durable
//! waits for it ([`Log::wait_durable`]).
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

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use erynoa_host::{CommitRecord, Journal, JournalError, UnifiedState};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// `sequence → hash ‖ canonical bytes`.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");

/// The log file in a data directory.
pub const FILE: &str = "erynoa.redb";

/// Entries that may wait for the writer before appends are refused.
const QUEUE: usize = 65_536;

/// How long an append waits for room in the queue before it is refused.
const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// When an entry is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Each batch is fsynced before its entries count as written: an
    /// answered decision survives a power cut.
    Immediate,
    /// Batches are written without fsync and fsynced every `ms`
    /// milliseconds: a power cut loses at most the last `ms` of entries (a
    /// process crash loses none: the OS has them).
    Batched {
        /// The fsync interval.
        ms: u64,
    },
}

/// One log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its position, from 1, without gaps.
    pub seq: u64,
    /// When it was appended, Unix milliseconds.
    pub time_ms: u64,
    /// `commit` or `decision`.
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
    /// The writer could not make the entry durable in time, or stopped.
    #[error("log unavailable: {0}")]
    Unavailable(String),
}

fn redb_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Redb {
        path: path.display().to_string(),
        message: e.to_string(),
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

fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the writer thread and the appenders share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when entries are queued, and when the queue has room.
    changed: Condvar,
    /// Signalled when `durable` grows.
    durable_changed: Condvar,
}

struct Queue {
    pending: VecDeque<Entry>,
    next_seq: u64,
    /// The last entry written, and its hash.
    written: (u64, [u8; 32]),
    /// The highest sequence number on disk (fsynced in immediate mode).
    durable: u64,
    /// Why the writer stopped, if it did.
    failed: Option<String>,
    closing: bool,
}

/// An open log: appends go through a writer thread.
pub struct Log {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Shared with the writer: readers in this process use their own read
    /// transactions (redb lets no other process open the file).
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("path", &self.path).finish()
    }
}

/// The last entry's sequence number and hash.
fn head(db: &Database, path: &Path) -> Result<(u64, [u8; 32]), StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let table = match read.open_table(LOG) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, [0; 32])),
        Err(e) => return Err(redb_error(path, e)),
    };
    match table.last().map_err(|e| redb_error(path, e))? {
        Some((seq, value)) => {
            let value = value.value();
            let hash: [u8; 32] =
                value
                    .get(..32)
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(|| StoreError::Entry {
                        seq: seq.value(),
                        message: "shorter than its hash".into(),
                    })?;
            Ok((seq.value(), hash))
        }
        None => Ok((0, [0; 32])),
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path, durability: Durability) -> Result<Log, StoreError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Dir {
            path: dir.display().to_string(),
            error,
        })?;
        let path = dir.join(FILE);
        let db = Arc::new(Database::create(&path).map_err(|e| redb_error(&path, e))?);
        let (last, prev) = head(&db, &path)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                next_seq: last + 1,
                written: (last, prev),
                durable: last,
                failed: None,
                closing: false,
            }),
            changed: Condvar::new(),
            durable_changed: Condvar::new(),
        });
        let writer = {
            let shared = shared.clone();
            let path = path.clone();
            let db = db.clone();
            std::thread::Builder::new()
                .name("erynoa-log".into())
                .spawn(move || write_loop(&db, &path, &shared, prev, durability))
                .map_err(|error| StoreError::Dir {
                    path: dir.display().to_string(),
                    error,
                })?
        };
        Ok(Log {
            shared,
            writer: Some(writer),
            db,
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.shared.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an entry whose body is `body` serialized; returns its
    /// sequence number (see [`Log::append_raw`]).
    pub fn append(&self, kind: &str, body: &impl Serialize) -> Result<u64, StoreError> {
        let raw = serde_json::value::to_raw_value(body).map_err(|e| StoreError::Entry {
            seq: 0,
            message: format!("cannot serialize: {e}"),
        })?;
        self.append_raw(kind, raw)
    }

    /// Queues an entry; returns its sequence number. Waits (at most a
    /// second) for room when the writer is behind, then refuses: an entry
    /// is never dropped after it was accepted.
    pub fn append_raw(
        &self,
        kind: &str,
        body: Box<serde_json::value::RawValue>,
    ) -> Result<u64, StoreError> {
        self.push(kind, body, QUEUE_WAIT)
    }

    /// Queues an entry, waiting at most `wait` for room.
    fn push(
        &self,
        kind: &str,
        body: Box<serde_json::value::RawValue>,
        wait: Duration,
    ) -> Result<u64, StoreError> {
        let mut q = self.lock();
        let deadline = Instant::now() + wait;
        while q.pending.len() >= QUEUE && q.failed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "the log writer is behind ({QUEUE} entries queued); try again"
                )));
            }
            q = self
                .shared
                .changed
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if let Some(why) = &q.failed {
            return Err(StoreError::Unavailable(why.clone()));
        }
        let seq = q.next_seq;
        q.next_seq += 1;
        q.pending.push_back(Entry {
            seq,
            time_ms: now_ms(),
            kind: kind.to_owned(),
            body,
        });
        self.shared.changed.notify_all();
        Ok(seq)
    }

    /// Waits until entry `seq` is durable (on disk; fsynced in immediate
    /// mode), for at most `timeout`.
    pub fn wait_durable(&self, seq: u64, timeout: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + timeout;
        let mut q = self.lock();
        while q.durable < seq {
            if let Some(why) = &q.failed {
                return Err(StoreError::Unavailable(why.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "entry {seq} was not written within {} ms",
                    timeout.as_millis()
                )));
            }
            q = self
                .shared
                .durable_changed
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }

    /// The last entry written and its hash (hex): what `GET /v1/log/head`
    /// shows and `erynoa log verify` must reach.
    pub fn head(&self) -> (u64, String) {
        let q = self.lock();
        (q.written.0, hex(&q.written.1))
    }

    /// Up to `limit` written entries from `since` on, with their hashes:
    /// reading the log while this process has it open.
    pub fn entries(&self, since: u64, limit: usize) -> Result<Vec<(Entry, String)>, StoreError> {
        collect(|f| each_in(&self.db, &self.path, since, f), limit)
    }

    /// Entries waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.lock().pending.len()
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.lock().closing = true;
        self.shared.changed.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer: takes what is queued, chains and writes it in one redb
/// transaction, then publishes how far the log is durable.
fn write_loop(
    db: &Database,
    path: &Path,
    shared: &Shared,
    mut prev: [u8; 32],
    durability: Durability,
) {
    let mut last_sync = Instant::now();
    let mut unsynced: Option<u64> = None;
    loop {
        let batch: Vec<Entry> = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            while q.pending.is_empty() && !q.closing {
                let wait = match (durability, unsynced) {
                    (Durability::Batched { ms }, Some(_)) => Duration::from_millis(ms),
                    _ => Duration::from_secs(3600),
                };
                let (next, timeout) = shared
                    .changed
                    .wait_timeout(q, wait)
                    .unwrap_or_else(|p| p.into_inner());
                q = next;
                if timeout.timed_out() {
                    break;
                }
            }
            if q.pending.is_empty() && q.closing && unsynced.is_none() {
                return;
            }
            if let (Durability::Batched { ms }, false) = (durability, q.closing) {
                // Nobody waits for these: let a bigger batch gather (up to
                // the fsync interval) so one transaction writes many, and
                // sleep rather than wake on every append.
                drop(q);
                std::thread::sleep(Duration::from_millis(ms.min(5)));
                q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            }
            q.pending.drain(..).collect()
        };
        shared.changed.notify_all();
        let sync = match durability {
            Durability::Immediate => true,
            Durability::Batched { ms } => {
                batch.is_empty() || last_sync.elapsed() >= Duration::from_millis(ms)
            }
        };
        let result = write_batch(db, path, &batch, &mut prev, sync);
        let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => {
                if let Some(last) = batch.last() {
                    q.written = (last.seq, prev);
                }
                let top = batch.last().map(|e| e.seq).or(unsynced);
                if sync {
                    if let Some(top) = top.max(unsynced) {
                        q.durable = q.durable.max(top);
                    }
                    unsynced = None;
                    last_sync = Instant::now();
                } else if let Some(top) = top {
                    unsynced = Some(top);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the log writer stopped");
                q.failed = Some(e.to_string());
            }
        }
        shared.durable_changed.notify_all();
        if q.failed.is_some() || (q.closing && q.pending.is_empty() && unsynced.is_none()) {
            return;
        }
    }
}

fn write_batch(
    db: &Database,
    path: &Path,
    batch: &[Entry],
    prev: &mut [u8; 32],
    sync: bool,
) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(|e| redb_error(path, e))?;
    txn.set_durability(if sync {
        redb::Durability::Immediate
    } else {
        redb::Durability::None
    });
    let mut hash = *prev;
    {
        let mut table = txn.open_table(LOG).map_err(|e| redb_error(path, e))?;
        for entry in batch {
            let bytes = serde_json::to_vec(entry).map_err(|e| StoreError::Entry {
                seq: entry.seq,
                message: e.to_string(),
            })?;
            hash = chain(&hash, &bytes);
            let mut value = Vec::with_capacity(32 + bytes.len());
            value.extend_from_slice(&hash);
            value.extend_from_slice(&bytes);
            table
                .insert(entry.seq, value.as_slice())
                .map_err(|e| redb_error(path, e))?;
        }
    }
    txn.commit().map_err(|e| redb_error(path, e))?;
    *prev = hash;
    Ok(())
}

/// Commits are journaled as `commit` entries.
impl Journal for Log {
    fn record(&self, commit: &CommitRecord<'_>) -> Result<u64, JournalError> {
        let body = serde_json::value::to_raw_value(commit)
            .map_err(|e| JournalError(format!("cannot serialize the commit: {e}")))?;
        // Called under the realm's write lock: a full queue refuses at once
        // rather than stall every commit of the realm while it drains.
        self.push("commit", body, Duration::ZERO)
            .map_err(|e| match e {
                // JournalError says "log unavailable" itself.
                StoreError::Unavailable(why) => JournalError(why),
                other => JournalError(other.to_string()),
            })
    }
}

/// An operator's change to the state (admin API, `erynoa state import`):
/// logged as an `operator` entry, applied after it is durable, replayed
/// like a commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum OperatorChange {
    /// Sets a DID's trust vector.
    SetTrust {
        /// The DID.
        did: String,
        /// R, I, C, P, V, Ω, each in [0, 1].
        trust: [f64; 6],
    },
    /// Grants a credential.
    Grant {
        /// The DID.
        did: String,
        /// The credential's schema.
        schema: String,
    },
    /// Takes a credential away.
    Revoke {
        /// The DID.
        did: String,
        /// The credential's schema.
        schema: String,
    },
}

impl OperatorChange {
    /// Applies the change to `state`.
    pub fn apply(&self, state: &UnifiedState) -> Result<(), String> {
        match self {
            OperatorChange::SetTrust { did, trust } => state
                .set_trust(did, erynoa_host::TrustVector::from_array(*trust))
                .map_err(|e| e.to_string()),
            OperatorChange::Grant { did, schema } => {
                state.grant_credential(did, schema);
                Ok(())
            }
            OperatorChange::Revoke { did, schema } => {
                state.revoke_credential(did, schema);
                Ok(())
            }
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Entries that verified, in order from the first.
    pub entries: u64,
    /// The last good entry's hash, hex.
    pub head: String,
    /// The first entry that does not verify, and why.
    pub broken: Option<(u64, String)>,
}

/// Opens the log in `dir` for reading only.
fn open_read(dir: &Path) -> Result<(Database, PathBuf), StoreError> {
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

/// Walks the chain from the first entry: every sequence number follows the
/// one before, every hash is `SHA-256(previous hash ‖ bytes)`, every entry
/// parses. Stops at the first that does not.
pub fn verify(dir: &Path) -> Result<Report, StoreError> {
    let mut report = Report {
        entries: 0,
        head: hex(&[0; 32]),
        broken: None,
    };
    each(dir, |seq, hash, bytes| {
        let expected_seq = report.entries + 1;
        let prev = prev_hash(&report.head);
        let problem = if seq != expected_seq {
            Some(format!(
                "expected entry {expected_seq} here: entries {expected_seq}..{} are missing",
                seq - 1
            ))
        } else if chain(&prev, bytes) != hash {
            Some("its hash does not match its bytes and the entry before it".into())
        } else {
            match serde_json::from_slice::<Entry>(bytes) {
                Ok(e) if e.seq == seq => None,
                Ok(e) => Some(format!("it says it is entry {}", e.seq)),
                Err(e) => Some(format!("it does not parse: {e}")),
            }
        };
        match problem {
            Some(why) => {
                report.broken = Some((expected_seq.min(seq), why));
                false
            }
            None => {
                report.entries = seq;
                report.head = hex(&hash);
                true
            }
        }
    })?;
    Ok(report)
}

fn prev_hash(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = hex_text
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// Calls `f(seq, hash, bytes)` for each stored entry in order, until it
/// returns false.
fn each(dir: &Path, f: impl FnMut(u64, [u8; 32], &[u8]) -> bool) -> Result<(), StoreError> {
    let (db, path) = open_read(dir)?;
    each_in(&db, &path, 0, f)
}

/// [`each`] on an open database, from entry `since` on.
fn each_in(
    db: &Database,
    path: &Path,
    since: u64,
    mut f: impl FnMut(u64, [u8; 32], &[u8]) -> bool,
) -> Result<(), StoreError> {
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let table = match read.open_table(LOG) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(redb_error(path, e)),
    };
    for item in table.range(since..).map_err(|e| redb_error(path, e))? {
        let (seq, value) = item.map_err(|e| redb_error(path, e))?;
        let (seq, value) = (seq.value(), value.value());
        let Some(hash) = value.get(..32).and_then(|h| <[u8; 32]>::try_from(h).ok()) else {
            return Err(StoreError::Entry {
                seq,
                message: "shorter than its hash".into(),
            });
        };
        if !f(seq, hash, &value[32..]) {
            break;
        }
    }
    Ok(())
}

/// Parses stored entries, at most `limit`, with their hashes.
fn collect(
    each: impl FnOnce(&mut dyn FnMut(u64, [u8; 32], &[u8]) -> bool) -> Result<(), StoreError>,
    limit: usize,
) -> Result<Vec<(Entry, String)>, StoreError> {
    let mut out = Vec::new();
    let mut bad = None;
    each(&mut |seq, hash, bytes| {
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

/// The entries from `since` (a sequence number) on, parsed, with their
/// hashes, of the log in `dir` (not open in another process).
pub fn entries(dir: &Path, since: u64) -> Result<Vec<(Entry, String)>, StoreError> {
    let (db, path) = open_read(dir)?;
    collect(|f| each_in(&db, &path, since, f), usize::MAX)
}

/// Applies one stored entry to `state` if it changes it.
fn apply_entry(seq: u64, bytes: &[u8], state: &UnifiedState) -> Result<(), StoreError> {
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
    #[derive(Deserialize)]
    struct Stored<'a> {
        kind: &'a str,
        #[serde(borrow)]
        body: &'a serde_json::value::RawValue,
    }
    let bad = |message: String| StoreError::Entry { seq, message };
    let entry: Stored<'_> =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("does not parse: {e}")))?;
    match entry.kind {
        "operator" => {
            let change: OperatorChange = serde_json::from_str(entry.body.get())
                .map_err(|e| bad(format!("not an operator change: {e}")))?;
            change.apply(state).map_err(bad)
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
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Applies every `commit` and `operator` entry of the log in `dir` to `state`, in order:
/// the projection the log is the source of. Returns how many entries were read.
pub fn replay(dir: &Path, state: &UnifiedState) -> Result<u64, StoreError> {
    if !dir.join(FILE).is_file() {
        return Ok(0);
    }
    // Streamed: a long log is never held in memory whole.
    let mut read = 0;
    let mut failed = None;
    each(dir, |seq, _, bytes| {
        read = seq;
        match apply_entry(seq, bytes, state) {
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
    Ok(read)
}
