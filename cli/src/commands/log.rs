//! `erynoa log` and `erynoa state`: what a data directory's log holds.

use erynoa_host::{UnifiedState, printable};

use crate::args::{LogCommand, StateCommand};
use crate::output::{ExitStatus, Format};

pub fn execute(command: LogCommand, format: Format) -> anyhow::Result<ExitStatus> {
    match command {
        LogCommand::Verify { data } => {
            let report = erynoa_store::verify(&data)?;
            match report.broken {
                None => {
                    println!("{} entries, head {}", report.entries, report.head);
                    Ok(ExitStatus::Success)
                }
                Some((seq, why)) => {
                    println!(
                        "entry {seq} breaks the chain: {why}\n{} entries verify before it, head {}",
                        report.entries, report.head
                    );
                    Ok(ExitStatus::CheckFailed)
                }
            }
        }
        LogCommand::Tail {
            data,
            since,
            policy,
        } => {
            for (entry, hash) in erynoa_store::entries(&data, since)? {
                let body: serde_json::Value = serde_json::from_str(entry.body.get())?;
                if let Some(p) = &policy
                    && body["policy"]["id"].as_str() != Some(p.as_str())
                {
                    continue;
                }
                if format == Format::Json {
                    println!("{}", line(&entry, &hash));
                } else {
                    println!(
                        "{:>8}  {}  {:<8}  {}",
                        entry.seq,
                        entry.time_ms,
                        entry.kind,
                        printable(&summary(&body))
                    );
                }
            }
            Ok(ExitStatus::Success)
        }
        LogCommand::Export { data } => {
            for (entry, hash) in erynoa_store::entries(&data, 0)? {
                println!("{}", line(&entry, &hash));
            }
            Ok(ExitStatus::Success)
        }
    }
}

fn line(entry: &erynoa_store::Entry, hash: &str) -> serde_json::Value {
    serde_json::json!({
        "seq": entry.seq,
        "time_ms": entry.time_ms,
        "kind": entry.kind,
        "hash": hash,
        "body": entry.body,
    })
}

/// One line for people: a decision's policy, effect and reason; a commit's
/// realm and writes.
fn summary(body: &serde_json::Value) -> String {
    if let Some(effect) = body["effect"].as_str() {
        return format!(
            "{} {} {} {}",
            body["policy"]["id"].as_str().unwrap_or("?"),
            body["request"]["caller"].as_str().unwrap_or("?"),
            effect,
            body["reason"].as_str().unwrap_or("")
        );
    }
    let writes = body["writes"].as_array().map_or(0, Vec::len);
    format!(
        "{} {} wrote {writes}",
        body["policy_id"].as_str().unwrap_or("?"),
        body["realm"].as_str().unwrap_or("?")
    )
}

pub fn state(command: StateCommand) -> anyhow::Result<ExitStatus> {
    match command {
        StateCommand::Digest { data, state } => {
            let projection = match &state {
                Some(path) => UnifiedState::from_file(path)?,
                None => UnifiedState::new(),
            };
            let read = erynoa_store::replay(&data, &projection)?;
            println!("{}  ({read} entries replayed)", projection.digest());
            Ok(ExitStatus::Success)
        }
    }
}
