//! The log on real files: group commit in both durability modes, a chain
//! that names the first entry tampered with or missing, and a replay that
//! rebuilds the live state exactly.

#![allow(clippy::panic, clippy::unwrap_used)] // tests fail loudly

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use erynoa_host::{Transaction, UnifiedState};
use erynoa_store::{Durability, Log, verify};
use redb::ReadableTable as _;

/// The log table: batches keyed by their last entry, each entry stored as
/// `seq ‖ hash ‖ length ‖ bytes` (little endian).
const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("entries");

/// One stored entry, as the tests take a batch apart to tamper with it.
struct Stored {
    seq: u64,
    hash: [u8; 32],
    bytes: Vec<u8>,
}

fn decode(mut value: &[u8]) -> Vec<Stored> {
    let mut out = Vec::new();
    while !value.is_empty() {
        let seq = u64::from_le_bytes(value[..8].try_into().unwrap());
        let hash = value[8..40].try_into().unwrap();
        let len = u32::from_le_bytes(value[40..44].try_into().unwrap()) as usize;
        out.push(Stored {
            seq,
            hash,
            bytes: value[44..44 + len].to_vec(),
        });
        value = &value[44 + len..];
    }
    out
}

fn encode(entries: &[Stored]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.seq.to_le_bytes());
        out.extend_from_slice(&e.hash);
        out.extend_from_slice(&u32::try_from(e.bytes.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&e.bytes);
    }
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erynoa-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn fill(dir: &std::path::Path, durability: Durability, n: u64) {
    let log = Arc::new(Log::open(dir, durability).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..n / 4 {
                    let seq = log
                        .append("decision", &serde_json::json!({"thread": t, "i": i}))
                        .unwrap();
                    if i % 50 == 0 {
                        log.wait_durable(seq, Duration::from_secs(10)).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn concurrent_appends_make_one_gapless_chain_in_both_modes() {
    for (name, durability) in [
        ("immediate", Durability::Immediate),
        ("batched", Durability::Batched { ms: 5 }),
    ] {
        let dir = scratch(name);
        fill(&dir, durability, 2000);
        // Reopened, the log goes on where it stopped.
        fill(&dir, durability, 400);
        let report = verify(&dir).unwrap();
        assert_eq!((report.entries, &report.broken), (2400, &None), "{name}");
        assert_eq!(report.head.len(), 64);
    }
}

/// Rewrites the batch that holds entry `seq` with `f`, stored again under
/// its (new) last entry, or removed if `f` leaves it empty.
fn tamper(dir: &std::path::Path, seq: u64, f: impl FnOnce(&mut Vec<Stored>)) {
    let db = redb::Database::open(dir.join(erynoa_store::FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(TABLE).unwrap();
        let (last, mut entries) = {
            let (last, value) = table.range(seq..).unwrap().next().unwrap().unwrap();
            (last.value(), decode(value.value()))
        };
        assert!(
            entries.iter().any(|e| e.seq == seq),
            "entry {seq} is stored"
        );
        f(&mut entries);
        table.remove(last).unwrap();
        if let Some(new_last) = entries.last() {
            table
                .insert(new_last.seq, encode(&entries).as_slice())
                .unwrap();
        }
    }
    txn.commit().unwrap();
}

#[test]
fn verify_names_the_first_changed_or_missing_entry() {
    let dir = scratch("tamper");
    fill(&dir, Durability::Immediate, 40);
    // One byte of entry 17's JSON changed, its stored hash kept.
    tamper(&dir, 17, |entries| {
        let e = entries.iter_mut().find(|e| e.seq == 17).unwrap();
        let at = e.bytes.len() - 3;
        e.bytes[at] ^= 1;
    });
    let report = verify(&dir).unwrap();
    assert_eq!(report.entries, 16);
    let (seq, why) = report.broken.unwrap();
    assert_eq!(seq, 17, "{why}");
    assert!(why.contains("hash"), "{why}");

    // An entry removed: the gap is named.
    let dir = scratch("gap");
    fill(&dir, Durability::Immediate, 40);
    tamper(&dir, 23, |entries| entries.retain(|e| e.seq != 23));
    let report = verify(&dir).unwrap();
    let (seq, why) = report.broken.unwrap();
    assert_eq!((report.entries, seq), (22, 23), "{why}");
    assert!(why.contains("missing"), "{why}");

    // One byte flipped in the file itself, in an entry's bytes. The file
    // also holds stale copies of pages (redb copies on write), so the byte
    // is flipped in every copy of that entry: one of them is the live one.
    let dir = scratch("flip");
    fill(&dir, Durability::Immediate, 40);
    let file = dir.join(erynoa_store::FILE);
    let mut bytes = std::fs::read(&file).unwrap();
    let marker = br#""i":7,"thread":2}"#;
    let copies: Vec<usize> = bytes
        .windows(marker.len())
        .enumerate()
        .filter_map(|(at, w)| (w == marker).then_some(at))
        .collect();
    assert!(!copies.is_empty(), "an entry's bytes are in the file");
    for at in copies {
        bytes[at + 4] = b'8';
    }
    std::fs::write(&file, &bytes).unwrap();
    match verify(&dir) {
        // redb may see the damage first; it names the file.
        Err(e) => assert!(e.to_string().contains(erynoa_store::FILE), "{e}"),
        Ok(report) => {
            let (seq, why) = report.broken.expect("a flipped byte is found");
            assert!(why.contains("hash"), "{seq}: {why}");
        }
    }

    // A stored batch cut short, its last entry shorter than its length
    // says: named as damage where the chain stops, not a panic.
    let dir = scratch("cut-short");
    fill(&dir, Durability::Immediate, 40);
    let file = dir.join(erynoa_store::FILE);
    {
        let db = redb::Database::open(&file).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(TABLE).unwrap();
            let (last, mut value) = {
                let (k, v) = table.range(31..).unwrap().next().unwrap().unwrap();
                (k.value(), v.value().to_vec())
            };
            let at = value.len() - 1;
            value.truncate(at);
            table.insert(last, value.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let report = verify(&dir).unwrap();
    let (seq, why) = report.broken.unwrap();
    assert!(seq >= 31 && report.entries == seq - 1, "{seq}: {why}");
    assert!(why.contains("damaged"), "{why}");

    // A corrupt file is an error that names it, not a panic.
    let dir = scratch("garbage");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(erynoa_store::FILE), vec![0x5a; 8192]).unwrap();
    let e = verify(&dir).unwrap_err().to_string();
    assert!(e.contains(erynoa_store::FILE), "{e}");
}

#[test]
fn a_replay_of_the_log_rebuilds_the_live_state() {
    let dir = scratch("replay");
    let live_digest = {
        let live = Arc::new(UnifiedState::new());
        let log = Arc::new(Log::open(&dir, Durability::Batched { ms: 2 }).unwrap());
        live.set_journal(log.clone()).unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _ in 0..3000 {
            let realm = format!("r{}", next(3));
            let mut t = Transaction::new(live.clone(), &realm);
            for _ in 0..1 + next(3) {
                let (store, key) = (format!("s{}", next(2)), format!("k{}", next(20)));
                if next(4) == 0 {
                    t.delete(&store, &key);
                } else {
                    t.put(&store, &key, &next(1000).to_string());
                }
            }
            if next(5) == 0 {
                t.discard();
            } else {
                t.commit("p").unwrap();
            }
        }
        live.digest()
        // Dropping the state drops its journal: the log flushes and closes.
    };
    let restored = erynoa_store::restore(&dir, None).unwrap();
    assert!(restored.replayed > 2000, "{}", restored.replayed);
    assert_eq!(restored.state.digest(), live_digest);
    let report = verify(&dir).unwrap();
    assert_eq!((report.broken, report.digest), (None, live_digest));
}

/// A data directory opened with its state: a fixture and operator changes,
/// then commits, with a checkpoint every 100 entries.
fn busy_directory(name: &str, commits: u64) -> (PathBuf, String) {
    let dir = scratch(name);
    let fixture = UnifiedState::from_json(
        r#"{"clock": 9, "trust": {"did:e:a": 0.5}, "stores": {"finance": {"quota": {"did:e:a": "7"}}}}"#,
    )
    .unwrap();
    let options = erynoa_store::Options {
        durability: Durability::Batched { ms: 2 },
        checkpoint_every: Some(100),
    };
    let (log, state) = Log::open_state(&dir, options, Some(fixture)).unwrap();
    assert_eq!(
        state.store_get("finance", "quota", "did:e:a").as_deref(),
        Some("7")
    );
    let log = Arc::new(log);
    let state = Arc::new(state);
    state.set_journal(log.clone()).unwrap();
    let change = erynoa_store::OperatorChange::Grant {
        did: "did:e:a".into(),
        schema: "kyc".into(),
    };
    log.append("operator", &change).unwrap();
    change.apply(&state).unwrap();
    for i in 0..commits {
        let mut t = Transaction::new(state.clone(), "finance");
        t.put("quota", &format!("did:e:u{}", i % 37), &i.to_string());
        t.commit("quota").unwrap();
        let seq = log
            .append("decision", &serde_json::json!({"i": i}))
            .unwrap();
        if i % 50 == 0 {
            // Many batches, as a service writes them, not one at the end.
            log.wait_durable(seq, Duration::from_secs(10)).unwrap();
        }
    }
    let digest = state.digest();
    drop(state);
    drop(log);
    (dir, digest)
}

#[test]
fn checkpoints_are_taken_as_the_log_grows_and_a_restart_starts_from_the_newest() {
    let (dir, live) = busy_directory("checkpoints", 600);
    let restored = erynoa_store::restore(&dir, None).unwrap();
    assert_eq!(restored.state.digest(), live);
    assert_eq!(
        restored.state.clock(),
        Some(9),
        "the fixture's clock is kept"
    );
    let from = restored.checkpoint.expect("a checkpoint was taken").covers;
    assert!(
        from >= 1000,
        "the newest checkpoint covers most of 1,200 entries: {from}"
    );
    assert!(restored.replayed < 200, "{}", restored.replayed);
    // The full walk passes every checkpoint and reaches the same digest.
    let report = verify(&dir).unwrap();
    assert_eq!(report.broken, None);
    assert!(report.checkpoints >= 5, "{report:?}");
    assert_eq!(report.digest, live);

    // The directory holds its fixture now: the same one is accepted,
    // another is refused and named.
    let same = UnifiedState::from_json(
        r#"{"clock": 9, "trust": {"did:e:a": 0.5}, "stores": {"finance": {"quota": {"did:e:a": "7"}}}}"#,
    )
    .unwrap();
    assert!(erynoa_store::restore(&dir, Some(same)).is_ok());
    let other = UnifiedState::from_json(r#"{"trust": {"did:e:a": 0.6}}"#).unwrap();
    let e = erynoa_store::restore(&dir, Some(other))
        .unwrap_err()
        .to_string();
    assert!(e.contains("another state fixture"), "{e}");
}

const SNAPSHOTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("snapshots");

#[test]
fn a_tampered_checkpoint_is_named_and_refused() {
    let (dir, _) = busy_directory("tampered-checkpoint", 300);
    let newest = erynoa_store::restore(&dir, None)
        .unwrap()
        .checkpoint
        .unwrap()
        .covers;
    {
        let db = redb::Database::open(dir.join(erynoa_store::FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(SNAPSHOTS).unwrap();
            let text =
                String::from_utf8(table.get(newest).unwrap().unwrap().value().to_vec()).unwrap();
            let changed = text.replacen("\"7\"", "\"1000\"", 1);
            table.insert(newest, changed.as_bytes()).unwrap();
        }
        txn.commit().unwrap();
    }
    let e = erynoa_store::restore(&dir, None).unwrap_err().to_string();
    assert!(
        e.contains(&format!("checkpoint after entry {newest}")) && e.contains("digest"),
        "{e}"
    );
    let (seq, why) = verify(&dir).unwrap().broken.unwrap();
    assert_eq!(seq, newest, "{why}");
}

#[test]
fn compaction_keeps_a_chain_that_verifies_and_an_archive_that_verifies_alone() {
    let (dir, live) = busy_directory("compact", 600);
    let before = verify(&dir).unwrap();
    let archive = dir.join("archive.jsonl");
    let done = erynoa_store::compact(&dir, 150, Some(&archive)).unwrap();
    assert!(done.removed > 900, "{done:?}");
    assert_eq!(done.first, done.checkpoint.covers + 1);

    let after = verify(&dir).unwrap();
    assert_eq!(after.broken, None, "{after:?}");
    assert_eq!(after.first, done.first);
    assert!(
        after.entries > before.entries,
        "a checkpoint entry was appended"
    );
    assert!(after.entries - after.first + 1 >= 150, "{after:?}");
    assert_eq!(after.digest, live);
    assert_eq!(
        erynoa_store::restore(&dir, None).unwrap().state.digest(),
        live
    );
    // The archive is the removed entries, and it verifies from entry 1 to
    // the hash the kept log starts from.
    let text = std::fs::read_to_string(&archive).unwrap();
    let report = erynoa_store::verify_export(text.as_bytes()).unwrap();
    assert_eq!(
        (report.first, report.entries, &report.broken),
        (1, done.checkpoint.covers, &None)
    );
    assert_eq!(report.head, done.checkpoint.hash);
    // An archive is never overwritten.
    let e = erynoa_store::compact(&dir, 0, Some(&archive))
        .unwrap_err()
        .to_string();
    assert!(e.contains("archive.jsonl"), "{e}");
    // Compacting again to nothing left is fine, and still verifies.
    erynoa_store::compact(&dir, 0, None).unwrap();
    let last = verify(&dir).unwrap();
    assert_eq!((last.broken, last.digest), (None, live));
}

#[test]
fn an_export_names_a_changed_byte_and_a_removed_line() {
    let (dir, _) = busy_directory("export", 100);
    let lines: Vec<String> = erynoa_store::entries(&dir, 0, usize::MAX)
        .unwrap()
        .iter()
        .map(|(e, h)| erynoa_store::export_line(e, h))
        .collect();
    let whole = lines.join("\n");
    let good = erynoa_store::verify_export(whole.as_bytes()).unwrap();
    assert_eq!((good.entries, &good.broken), (lines.len() as u64, &None));

    let mut flipped = lines.clone();
    // One digit of its time changed.
    let at = flipped[40].find("\"time_ms\":").unwrap() + 10;
    let digit = flipped[40].as_bytes()[at];
    flipped[40].replace_range(at..=at, if digit == b'1' { "2" } else { "1" });
    let report = erynoa_store::verify_export(flipped.join("\n").as_bytes()).unwrap();
    let (seq, why) = report.broken.unwrap();
    assert_eq!(seq, 41, "{why}");
    assert!(why.contains("line 41") && why.contains("hash"), "{why}");

    let mut gap = lines.clone();
    gap.remove(60);
    let report = erynoa_store::verify_export(gap.join("\n").as_bytes()).unwrap();
    let (seq, why) = report.broken.unwrap();
    assert_eq!((report.entries, seq), (60, 61), "{why}");
    assert!(why.contains("entries 61..61 are missing"), "{why}");

    // Bytes that are not text are named too.
    let mut bytes = lines[..3].join("\n").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    let report = erynoa_store::verify_export(bytes.as_slice()).unwrap();
    assert_eq!(report.broken, Some((4, "line 4 is not UTF-8".to_owned())));

    // A segment from the middle verifies from its first entry on.
    let tail = lines[50..].join("\n");
    let report = erynoa_store::verify_export(tail.as_bytes()).unwrap();
    assert_eq!((report.first, report.broken), (51, None));
}

#[test]
fn a_log_never_opened_with_its_state_cannot_be_checkpointed_and_says_how_to_fix_it() {
    let dir = scratch("no-checkpoint");
    let log = Log::open(&dir, Durability::Immediate).unwrap();
    log.append("decision", &serde_json::json!({"i": 1}))
        .unwrap();
    let e = log.checkpoint().unwrap_err().to_string();
    assert!(
        e.contains("no checkpoint to start from") && e.contains("--data"),
        "{e}"
    );
    drop(log);
    let e = erynoa_store::compact(&dir, 0, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no checkpoint to start from"), "{e}");
}

#[test]
fn big_batches_are_stored_in_several_values_and_read_back_whole() {
    let dir = scratch("big-batches");
    let log = Log::open(&dir, Durability::Batched { ms: 50 }).unwrap();
    // About 4 MiB queued at once: one batch, many stored values.
    let filler = "x".repeat(64 * 1024);
    let mut last = 0;
    for i in 0..64 {
        last = log
            .append("decision", &serde_json::json!({"i": i, "filler": filler}))
            .unwrap();
    }
    log.wait_durable(last, Duration::from_secs(10)).unwrap();
    drop(log);
    let values = {
        let db = redb::Database::open(dir.join(erynoa_store::FILE)).unwrap();
        let read = db.begin_read().unwrap();
        read.open_table(TABLE).unwrap().iter().unwrap().count()
    };
    assert!(values > 1, "{values} values");
    let report = verify(&dir).unwrap();
    assert_eq!((report.entries, report.broken), (64, None));
    let entries = erynoa_store::entries(&dir, 30, 5).unwrap();
    let seqs: Vec<u64> = entries.iter().map(|(e, _)| e.seq).collect();
    assert_eq!(seqs, [30, 31, 32, 33, 34]);
}

#[test]
fn a_log_in_the_first_format_is_refused_not_read_as_empty() {
    let dir = scratch("first-format");
    std::fs::create_dir_all(&dir).unwrap();
    {
        let db = redb::Database::create(dir.join(erynoa_store::FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        let old: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("log");
        txn.open_table(old)
            .unwrap()
            .insert(1, &[0u8; 40][..])
            .unwrap();
        txn.commit().unwrap();
    }
    let e = Log::open(&dir, Durability::Immediate)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("first format") && e.contains("erynoa log export"),
        "{e}"
    );
    let e = verify(&dir).unwrap_err().to_string();
    assert!(e.contains("first format"), "{e}");
}
