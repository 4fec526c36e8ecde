//! How fast a log is written, verified and restarted: `cargo run --release
//! -p erynoa-store --example replay -- [ENTRIES] [EVERY]` writes ENTRIES
//! commit entries (default 1,000,000; one write each, over 10,000 keys,
//! batched mode, a checkpoint every EVERY entries, default 100,000) into a
//! fresh directory, then times a full verify (every hash, every checkpoint,
//! a replay from the first entry) and a restart (the newest checkpoint,
//! then the entries after it).

use std::time::{Duration, Instant};

use erynoa_host::{StoreWrite, UnifiedState};
use erynoa_store::{Durability, Log, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let every: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("erynoa-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options {
        durability: Durability::Batched { ms: 10 },
        checkpoint_every: Some(every),
    };
    let started = Instant::now();
    {
        let (log, _) = Log::open_state(&dir, options, Some(UnifiedState::new()))?;
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
    let (log, state) = Log::open_state(&dir, options, None)?;
    let restarted = started.elapsed();
    let (head, _) = log.head();
    drop(log);
    let from = erynoa_store::restore(&dir, None)?;
    println!(
        "{n} entries ({:.0} MB): written in {:.2} s ({:.0}/s)\n\
         full verify and replay from entry 1: {:.2} s ({:.0} entries/s, {} checkpoints checked, broken: {:?})\n\
         restart (open, newest checkpoint, {} entries after it): {:.3} s, {head} entries, digest equal: {}",
        size as f64 / 1e6,
        wrote.as_secs_f64(),
        n as f64 / wrote.as_secs_f64(),
        verified.as_secs_f64(),
        report.entries as f64 / verified.as_secs_f64(),
        report.checkpoints,
        report.broken,
        from.replayed,
        restarted.as_secs_f64(),
        state.digest() == report.digest,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
