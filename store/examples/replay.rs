//! How fast a log is written and replayed: `cargo run --release -p
//! erynoa-store --example replay -- [ENTRIES]` writes ENTRIES commit entries
//! (default 1,000,000; one write each, over 10,000 keys, batched mode)
//! into a fresh directory, then times `verify` and a replay into an empty
//! state, as a restart does.

use std::time::{Duration, Instant};

use erynoa_host::{StoreWrite, UnifiedState};
use erynoa_store::{Durability, Log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("erynoa-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    {
        let log = Log::open(&dir, Durability::Batched { ms: 10 })?;
        let mut last = 0;
        for i in 0..n {
            let writes = [StoreWrite {
                store: "quota".into(),
                key: format!("did:e:u{}", i % 10_000),
                value: Some((i / 10_000 + 1).to_string()),
            }];
            let record = erynoa_host::CommitRecord {
                realm: "finance",
                policy_id: "quota",
                writes: &writes,
                events: &[],
            };
            last = log.append("commit", &record)?;
        }
        log.wait_durable(last, Duration::from_secs(600))?;
    }
    let wrote = started.elapsed();
    let size = std::fs::metadata(dir.join(erynoa_store::FILE))?.len();
    let started = Instant::now();
    let report = erynoa_store::verify(&dir)?;
    let verified = started.elapsed();
    let started = Instant::now();
    let state = UnifiedState::new();
    let read = erynoa_store::replay(&dir, &state)?;
    let replayed = started.elapsed();
    println!(
        "{n} entries ({:.0} MB): written in {:.2} s ({:.0}/s); verified in {:.2} s ({:.0}/s, broken: {:?}); \
         replayed in {:.2} s ({:.0}/s), {read} read",
        size as f64 / 1e6,
        wrote.as_secs_f64(),
        n as f64 / wrote.as_secs_f64(),
        verified.as_secs_f64(),
        report.entries as f64 / verified.as_secs_f64(),
        report.broken,
        replayed.as_secs_f64(),
        read as f64 / replayed.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
