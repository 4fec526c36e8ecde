//! The open log: appends, the writer thread, durability, live checkpoints.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use erynoa_host::{Journal, JournalError, UnifiedState};
use redb::Database;
use serde::Serialize;

use crate::checkpoint::{self, Checkpoint, Restored};
use crate::{
    BATCH_VALUE, Entry, FILE, LOG, StoreError, chain, now_ms, open_table, read, redb_error,
};

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

/// How a log is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// When entries are on disk.
    pub durability: Durability,
    /// Take a checkpoint in the background whenever this many entries were
    /// written since the last one (`None`: only when asked,
    /// [`Log::checkpoint`]).
    pub checkpoint_every: Option<u64>,
}

impl From<Durability> for Options {
    fn from(durability: Durability) -> Options {
        Options {
            durability,
            checkpoint_every: None,
        }
    }
}

/// What the writer thread, the appenders and a checkpointer share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when entries are queued while the writer waits for them,
    /// and when the log closes.
    work: Condvar,
    /// Signalled when the writer took entries while appenders wait for room.
    room: Condvar,
    /// Signalled when `durable` grows.
    durable_changed: Condvar,
    db: Arc<Database>,
    path: PathBuf,
    checkpoint_every: Option<u64>,
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
    /// Set when the log is dropped: no new checkpoint starts.
    draining: bool,
    /// The writer waits on `work`: an append must wake it. (Waking it
    /// otherwise costs every append a futex syscall.)
    writer_idle: bool,
    /// Appenders waiting on `room`.
    waiting_for_room: usize,
    /// Batches made durable (fsynced), since the log was opened.
    syncs: u64,
    /// The last entry the newest checkpoint covers.
    checkpointed: u64,
    /// A background checkpoint, while one runs.
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
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
            q.waiting_for_room += 1;
            q = self
                .room
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            q.waiting_for_room -= 1;
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
        if q.writer_idle {
            self.work.notify_one();
        }
        Ok(seq)
    }

    /// Checkpoints what is written: the snapshot is stored first, then a
    /// `checkpoint` entry puts its digest into the chain.
    fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let until = self.lock().written.0;
        let (taken, fresh) = checkpoint::take(&self.db, &self.path, until)?;
        if fresh {
            self.confirm(&taken)?;
        }
        let mut q = self.lock();
        q.checkpointed = q.checkpointed.max(taken.covers);
        Ok(taken)
    }

    /// Appends the `checkpoint` entry that puts a stored checkpoint into
    /// the chain, and waits until it is durable.
    fn confirm(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let body = serde_json::value::to_raw_value(checkpoint).map_err(|e| StoreError::Entry {
            seq: 0,
            message: format!("cannot serialize the checkpoint: {e}"),
        })?;
        let seq = self.push("checkpoint", body, QUEUE_WAIT)?;
        self.wait_durable(seq, Duration::from_secs(30))
    }

    fn wait_durable(&self, seq: u64, timeout: Duration) -> Result<(), StoreError> {
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
                .durable_changed
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }
}

/// An open log: appends go through a writer thread.
pub struct Log {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("path", &self.shared.path)
            .finish()
    }
}

/// The last entry's sequence number and hash.
pub(crate) fn head(db: &Database, path: &Path) -> Result<(u64, [u8; 32]), StoreError> {
    use redb::ReadableTable as _;
    let read = db.begin_read().map_err(|e| redb_error(path, e))?;
    let Some(table) = open_table(&read, path, LOG)? else {
        return Ok((0, [0; 32]));
    };
    let Some((last, value)) = table.last().map_err(|e| redb_error(path, e))? else {
        return Ok((0, [0; 32]));
    };
    let mut head = (0, [0; 32]);
    for record in read::records(last.value(), value.value()) {
        let record = record?;
        head = (record.seq, record.hash);
    }
    Ok(head)
}

impl Log {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path, options: impl Into<Options>) -> Result<Log, StoreError> {
        let options = options.into();
        std::fs::create_dir_all(dir).map_err(|error| StoreError::Dir {
            path: dir.display().to_string(),
            error,
        })?;
        let path = dir.join(FILE);
        let db = Arc::new(Database::create(&path).map_err(|e| redb_error(&path, e))?);
        crate::check_format(&db, &path)?;
        let (last, prev) = head(&db, &path)?;
        let checkpointed = checkpoint::newest(&db, &path)?.map_or(0, |c| c.covers);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                next_seq: last + 1,
                written: (last, prev),
                durable: last,
                failed: None,
                closing: false,
                draining: false,
                writer_idle: false,
                waiting_for_room: 0,
                syncs: 0,
                checkpointed,
                checkpointer: None,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            durable_changed: Condvar::new(),
            db,
            path,
            checkpoint_every: options.checkpoint_every,
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("erynoa-log".into())
                .spawn(move || write_loop(&shared, prev, options.durability))
                .map_err(|error| StoreError::Dir {
                    path: dir.display().to_string(),
                    error,
                })?
        };
        Ok(Log {
            shared,
            writer: Some(writer),
        })
    }

    /// Opens the log in `dir` and rebuilds the state it is the source of:
    /// the newest checkpoint, then every entry after it (see [`restore`](crate::restore)).
    ///
    /// A data directory opened for the first time is checkpointed at once
    /// with `fixture` (or the empty state) and what its log holds, so that
    /// from then on it holds its whole state; a `fixture` given later must
    /// be the same one ([`StoreError::OtherFixture`]).
    ///
    /// ```
    /// use erynoa_store::{Durability, Log};
    /// let dir = std::env::temp_dir().join(format!("erynoa-store-state-doc-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let fixture = erynoa_host::UnifiedState::from_json(r#"{"identities": {"did:e:a": ["kyc"]}}"#)?;
    /// let (log, state) = Log::open_state(&dir, Durability::Immediate, Some(fixture))?;
    /// assert!(state.has_credential("did:e:a", "kyc"));
    /// drop(log);
    /// // The fixture is in the data directory now.
    /// let (_, state) = Log::open_state(&dir, Durability::Immediate, None)?;
    /// assert!(state.has_credential("did:e:a", "kyc"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_state(
        dir: &Path,
        options: impl Into<Options>,
        fixture: Option<UnifiedState>,
    ) -> Result<(Log, UnifiedState), StoreError> {
        let log = Log::open(dir, options)?;
        let Restored {
            state,
            checkpoint,
            fixture,
            ..
        } = checkpoint::restore_in(&log.shared.db, &log.shared.path, fixture)?;
        if checkpoint.is_none() {
            let (covers, hash) = log.shared.lock().written;
            let first = checkpoint::first(&state, covers, &hash, fixture);
            checkpoint::store(&log.shared.db, &log.shared.path, &first, &state.snapshot())?;
            log.shared.confirm(&first)?;
            log.shared.lock().checkpointed = covers;
        }
        Ok((log, state))
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
        self.shared.push(kind, body, QUEUE_WAIT)
    }

    /// Waits until entry `seq` is durable (on disk; fsynced in immediate
    /// mode), for at most `timeout`.
    pub fn wait_durable(&self, seq: u64, timeout: Duration) -> Result<(), StoreError> {
        self.shared.wait_durable(seq, timeout)
    }

    /// Checkpoints every entry written so far (nothing if the newest
    /// checkpoint covers them): the newest checkpoint's snapshot, then the
    /// entries after it, folded into a fresh projection (the live state is
    /// not touched), stored, and confirmed by a `checkpoint` entry; returns
    /// once that entry is durable.
    pub fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        self.shared.checkpoint()
    }

    /// The last entry written and its hash (hex): what `GET /v1/log/head`
    /// shows and `erynoa log verify` must reach.
    pub fn head(&self) -> (u64, String) {
        let q = self.shared.lock();
        (q.written.0, hex::encode(q.written.1))
    }

    /// Up to `limit` written entries from `since` on, with their hashes:
    /// reading the log while this process has it open.
    pub fn entries(&self, since: u64, limit: usize) -> Result<Vec<(Entry, String)>, StoreError> {
        read::collect(&self.shared.db, &self.shared.path, since, limit)
    }

    /// Why the writer stopped, if it did (a full disk, an I/O error): from
    /// then on every append is refused.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Batches made durable (fsynced) since the log was opened: with the
    /// entries written, how many entries share an fsync (group commit).
    pub fn syncs(&self) -> u64 {
        self.shared.lock().syncs
    }

    /// Entries waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub(crate) fn database(&self) -> &Database {
        &self.shared.db
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // A running checkpoint still appends its entry: let it, but start
        // no other.
        let checkpointer = {
            let mut q = self.shared.lock();
            q.draining = true;
            q.checkpointer.take()
        };
        if let Some(c) = checkpointer {
            let _ = c.join();
        }
        self.shared.lock().closing = true;
        self.shared.work.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Starts a background checkpoint when enough entries were written since
/// the last one and none runs.
fn maybe_checkpoint(shared: &Arc<Shared>, q: &mut Queue) {
    let Some(every) = shared.checkpoint_every else {
        return;
    };
    if q.draining || q.written.0 < q.checkpointed.saturating_add(every) {
        return;
    }
    if q.checkpointer.as_ref().is_some_and(|c| !c.is_finished()) {
        return;
    }
    let worker = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("erynoa-checkpoint".into())
        .spawn(move || match worker.checkpoint() {
            Ok(c) => tracing::info!(covers = c.covers, digest = %c.digest, "checkpoint taken"),
            Err(e) => tracing::error!(error = %e, "checkpoint failed; the log goes on without it"),
        });
    match spawned {
        Ok(handle) => {
            // A finished one's handle is replaced; joining it cannot block.
            if let Some(done) = q.checkpointer.replace(handle) {
                let _ = done.join();
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot start a checkpoint"),
    }
}

/// The writer: takes what is queued, chains and writes it in one redb
/// transaction, then publishes how far the log is durable.
fn write_loop(shared: &Arc<Shared>, mut prev: [u8; 32], durability: Durability) {
    let mut last_sync = Instant::now();
    let mut unsynced: Option<u64> = None;
    let mut buf = Vec::new();
    loop {
        let batch: Vec<Entry> = {
            let mut q = shared.lock();
            while q.pending.is_empty() && !q.closing {
                let wait = match (durability, unsynced) {
                    (Durability::Batched { ms }, Some(_)) => Duration::from_millis(ms),
                    _ => Duration::from_secs(3600),
                };
                q.writer_idle = true;
                let (next, timeout) = shared
                    .work
                    .wait_timeout(q, wait)
                    .unwrap_or_else(|p| p.into_inner());
                q = next;
                q.writer_idle = false;
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
                q = shared.lock();
            }
            if q.waiting_for_room > 0 {
                shared.room.notify_all();
            }
            q.pending.drain(..).collect()
        };
        let sync = match durability {
            Durability::Immediate => true,
            Durability::Batched { ms } => {
                batch.is_empty() || last_sync.elapsed() >= Duration::from_millis(ms)
            }
        };
        let result = write_batch(&shared.db, &shared.path, &batch, &mut prev, sync, &mut buf);
        let mut q = shared.lock();
        match result {
            Ok(()) => {
                if let Some(last) = batch.last() {
                    q.written = (last.seq, prev);
                }
                let top = batch.last().map(|e| e.seq).or(unsynced);
                if sync {
                    if let Some(top) = top.max(unsynced) {
                        q.durable = q.durable.max(top);
                        q.syncs += 1;
                    }
                    unsynced = None;
                    last_sync = Instant::now();
                } else if let Some(top) = top {
                    unsynced = Some(top);
                }
                maybe_checkpoint(shared, &mut q);
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

/// Writes `batch` in one redb transaction, in values of at most
/// [`BATCH_VALUE`] bytes (or one entry), serialized into `buf`, which is
/// kept between batches so that the writer does not allocate per entry.
fn write_batch(
    db: &Database,
    path: &Path,
    batch: &[Entry],
    prev: &mut [u8; 32],
    sync: bool,
    buf: &mut Vec<u8>,
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
        buf.clear();
        let mut prev_seq = 0;
        for entry in batch {
            let bad = |message: String| StoreError::Entry {
                seq: entry.seq,
                message,
            };
            // seq ‖ hash ‖ length ‖ bytes: the hash and the length are
            // known once the bytes are written after them.
            let start = buf.len();
            buf.extend_from_slice(&entry.seq.to_le_bytes());
            buf.extend_from_slice(&[0; 36]);
            serde_json::to_writer(&mut *buf, entry).map_err(|e| bad(e.to_string()))?;
            let bytes = &buf[start + 44..];
            let len = u32::try_from(bytes.len()).map_err(|_| {
                bad(format!(
                    "{} bytes is more than an entry may hold",
                    bytes.len()
                ))
            })?;
            hash = chain(&hash, bytes);
            buf[start + 8..start + 40].copy_from_slice(&hash);
            buf[start + 40..start + 44].copy_from_slice(&len.to_le_bytes());
            if buf.len() > BATCH_VALUE && start > 0 {
                // The entries before this one fill a value; it starts the next.
                table
                    .insert(prev_seq, &buf[..start])
                    .map_err(|e| redb_error(path, e))?;
                buf.copy_within(start.., 0);
                buf.truncate(buf.len() - start);
            }
            prev_seq = entry.seq;
        }
        if !buf.is_empty() {
            table
                .insert(prev_seq, buf.as_slice())
                .map_err(|e| redb_error(path, e))?;
        }
    }
    txn.commit().map_err(|e| redb_error(path, e))?;
    *prev = hash;
    Ok(())
}

/// Commits are journaled as `commit` entries.
impl Journal for Log {
    fn record(&self, body: Box<serde_json::value::RawValue>) -> Result<u64, JournalError> {
        // Called under the realm's write lock: a full queue refuses at once
        // rather than stall every commit of the realm while it drains.
        self.shared
            .push("commit", body, Duration::ZERO)
            .map_err(|e| match e {
                // JournalError says "log unavailable" itself.
                StoreError::Unavailable(why) => JournalError(why),
                other => JournalError(other.to_string()),
            })
    }
}
