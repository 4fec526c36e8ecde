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

const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("log");

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

/// Rewrites the stored value of entry `seq` with `f`.
fn tamper(dir: &std::path::Path, seq: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let db = redb::Database::open(dir.join(erynoa_store::FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(TABLE).unwrap();
        let mut value = table.get(seq).unwrap().unwrap().value().to_vec();
        f(&mut value);
        table.insert(seq, value.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn verify_names_the_first_changed_or_missing_entry() {
    let dir = scratch("tamper");
    fill(&dir, Durability::Immediate, 40);
    // One byte of entry 17's JSON changed, its stored hash kept.
    tamper(&dir, 17, |v| {
        let at = v.len() - 3;
        v[at] ^= 1;
    });
    let report = verify(&dir).unwrap();
    assert_eq!(report.entries, 16);
    let (seq, why) = report.broken.unwrap();
    assert_eq!(seq, 17, "{why}");
    assert!(why.contains("hash"), "{why}");

    // An entry removed: the gap is named.
    let dir = scratch("gap");
    fill(&dir, Durability::Immediate, 40);
    let db = redb::Database::open(dir.join(erynoa_store::FILE)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(TABLE).unwrap().remove(23).unwrap();
    txn.commit().unwrap();
    drop(db);
    let report = verify(&dir).unwrap();
    let (seq, why) = report.broken.unwrap();
    assert_eq!((report.entries, seq), (22, 23), "{why}");
    assert!(why.contains("missing"), "{why}");

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
    let rebuilt = UnifiedState::new();
    let read = erynoa_store::replay(&dir, &rebuilt).unwrap();
    assert!(read > 2000, "{read}");
    assert_eq!(rebuilt.digest(), live_digest);
    assert_eq!(verify(&dir).unwrap().broken, None);
}
