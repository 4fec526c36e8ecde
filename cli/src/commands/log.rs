//! `erynoa log` and `erynoa state`: what a data directory's log holds.

use anyhow::Context as _;
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

/// One line for people: a decision's policy, caller, effect and reason; an
/// operator's change; a commit's policy, realm and writes.
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
    if let Some(op) = body["op"].as_str() {
        return format!(
            "{op} {} {}",
            body["did"].as_str().unwrap_or("?"),
            body.get("schema")
                .or(body.get("trust"))
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    let writes = body["writes"].as_array().map_or(0, Vec::len);
    format!(
        "{} {} wrote {writes}",
        body["policy_id"].as_str().unwrap_or("?"),
        body["realm"].as_str().unwrap_or("?")
    )
}

/// The state a log rebuilds over an optional fixture.
fn rebuilt(
    data: &std::path::Path,
    state: Option<&std::path::Path>,
) -> anyhow::Result<(UnifiedState, u64)> {
    let projection = match state {
        Some(path) => UnifiedState::from_file(path)?,
        None => UnifiedState::new(),
    };
    let read = erynoa_store::replay(data, &projection)?;
    Ok((projection, read))
}

pub fn state(command: StateCommand) -> anyhow::Result<ExitStatus> {
    match command {
        StateCommand::Import { data, file } => {
            let text = erynoa_host::json::read_text_file(&file, erynoa_host::json::MAX_INPUT_BYTES)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            // Every change is checked on a scratch state before any is logged.
            let scratch = UnifiedState::new();
            let mut changes = Vec::new();
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                erynoa_host::json::check_unique_keys(line)
                    .with_context(|| format!("{}:{}", file.display(), n + 1))?;
                let change: erynoa_store::OperatorChange = serde_json::from_str(line)
                    .with_context(|| format!("{}:{}", file.display(), n + 1))?;
                let did = match &change {
                    erynoa_store::OperatorChange::SetTrust { did, .. }
                    | erynoa_store::OperatorChange::Grant { did, .. }
                    | erynoa_store::OperatorChange::Revoke { did, .. } => did,
                };
                anyhow::ensure!(
                    erynoa_core::is_did(did),
                    "{}:{}: `{}` is not a DID",
                    file.display(),
                    n + 1,
                    printable(did)
                );
                change
                    .apply(&scratch)
                    .map_err(|e| anyhow::anyhow!("{}:{}: {e}", file.display(), n + 1))?;
                changes.push(change);
            }
            let log = erynoa_store::Log::open(&data, erynoa_store::Durability::Immediate)?;
            let mut last = 0;
            for change in &changes {
                last = log.append("operator", change)?;
            }
            log.wait_durable(last, std::time::Duration::from_secs(30))?;
            println!("{} changes logged, up to entry {last}", changes.len());
            Ok(ExitStatus::Success)
        }
        StateCommand::Get { data, state, did } => {
            let (projection, _) = rebuilt(&data, state.as_deref())?;
            let t = projection.trust(&did);
            let answer = serde_json::json!({
                "did": did,
                "trust": {"r": t.r, "i": t.i, "c": t.c, "p": t.p, "v": t.v, "omega": t.omega},
                "credentials": projection.credentials(&did),
            });
            println!("{answer}");
            Ok(ExitStatus::Success)
        }
        StateCommand::Digest { data, state } => {
            let (projection, read) = rebuilt(&data, state.as_deref())?;
            println!("{}  ({read} entries replayed)", projection.digest());
            Ok(ExitStatus::Success)
        }
    }
}
