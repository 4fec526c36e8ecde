//! `erynoa log` and `erynoa state`: what a data directory's log holds.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use erynoa_host::printable;
use erynoa_store::{Entry, Report};

use crate::args::{LogCommand, Since, StateCommand};
use crate::output::{ExitStatus, Format};

pub fn execute(command: LogCommand, format: Format) -> anyhow::Result<ExitStatus> {
    match command {
        LogCommand::Verify { data, export } => {
            let report = match (data, export) {
                (Some(dir), _) => erynoa_store::verify(&dir)?,
                (None, Some(file)) => {
                    let opened = std::fs::File::open(&file)
                        .with_context(|| format!("cannot read `{}`", file.display()))?;
                    erynoa_store::verify_export(std::io::BufReader::new(opened))?
                }
                (None, None) => {
                    anyhow::bail!("name a data directory (--data) or an export (--export)")
                }
            };
            Ok(print_report(&report))
        }
        LogCommand::Tail {
            data,
            admin,
            token_file,
            since,
            policy,
            follow,
        } => {
            let source = match (data, admin) {
                (Some(dir), _) => Source::Dir(dir),
                (None, Some(url)) => Source::Admin(Admin::new(&url, token_file.as_deref())?),
                (None, None) => {
                    anyhow::bail!("name a data directory (--data) or a service (--admin)")
                }
            };
            tail(&source, since, policy.as_deref(), follow, format)
        }
        LogCommand::Export { data } => {
            let mut out = std::io::stdout().lock();
            let mut since = 0;
            // In pages, so a long log is never held in memory whole.
            loop {
                let page = erynoa_store::entries(&data, since, 10_000)?;
                let Some((last, _)) = page.last() else { break };
                since = last.seq + 1;
                for (entry, hash) in &page {
                    writeln!(out, "{}", erynoa_store::export_line(entry, hash))?;
                }
            }
            Ok(ExitStatus::Success)
        }
        LogCommand::Compact {
            data,
            keep,
            archive,
        } => {
            let done = erynoa_store::compact(&data, keep, archive.as_deref())?;
            if done.removed == 0 {
                println!(
                    "nothing removed: the log starts at entry {}; checkpoint after entry {} taken",
                    done.first, done.checkpoint.covers
                );
            } else {
                println!(
                    "{} entries removed{}; the log starts at entry {}, from the checkpoint after entry {} (digest {})",
                    done.removed,
                    archive
                        .map(|a| format!(" (archived in {})", a.display()))
                        .unwrap_or_default(),
                    done.first,
                    done.checkpoint.covers,
                    done.checkpoint.digest
                );
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// Prints what `verify` found; exit 3 when the chain is broken.
fn print_report(report: &Report) -> ExitStatus {
    let count = (report.entries + 1).saturating_sub(report.first);
    let from = if report.first > 1 {
        format!(
            " (entries {}..{}, from the checkpoint after entry {})",
            report.first,
            report.entries,
            report.first - 1
        )
    } else {
        String::new()
    };
    match &report.broken {
        None => {
            println!("{count} entries, head {}{from}", report.head);
            if !report.digest.is_empty() {
                println!(
                    "{} checkpoints match the replay; state digest {}",
                    report.checkpoints, report.digest
                );
            }
            ExitStatus::Success
        }
        Some((seq, why)) => {
            println!(
                "entry {seq} breaks the chain: {why}\n{count} entries verify before it, head {}",
                report.head
            );
            ExitStatus::CheckFailed
        }
    }
}

enum Source {
    Dir(std::path::PathBuf),
    Admin(Admin),
}

impl Source {
    /// Up to 1,000 entries from `since` on.
    fn page(&self, since: u64) -> anyhow::Result<Vec<(Entry, String)>> {
        match self {
            Source::Dir(dir) => erynoa_store::entries(dir, since, 1000).map_err(|e| {
                if matches!(e, erynoa_store::StoreError::Redb { .. }) {
                    anyhow::anyhow!(
                        "{e}\n(a running service holds its log: follow it with --admin URL)"
                    )
                } else {
                    e.into()
                }
            }),
            Source::Admin(admin) => admin.entries(since),
        }
    }
}

fn tail(
    source: &Source,
    since: Since,
    policy: Option<&str>,
    follow: bool,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let (mut next, not_before) = match since {
        Since::Seq(seq) => (seq, 0),
        Since::TimeMs(ms) => (0, ms),
    };
    let mut out = std::io::stdout().lock();
    loop {
        let page = source.page(next)?;
        let full = page.len() >= 1000;
        for (entry, hash) in &page {
            next = entry.seq + 1;
            if entry.time_ms < not_before {
                continue;
            }
            let body: serde_json::Value = serde_json::from_str(entry.body.get())?;
            if let Some(p) = policy {
                let of = body["policy"]["id"].as_str().or(body["policy_id"].as_str());
                if of != Some(p) {
                    continue;
                }
            }
            if format == Format::Json {
                writeln!(out, "{}", erynoa_store::export_line(entry, hash))?;
            } else {
                writeln!(
                    out,
                    "{:>8}  {}  {:<10}  {}",
                    entry.seq,
                    entry.time_ms,
                    entry.kind,
                    printable(&summary(&body))
                )?;
            }
        }
        out.flush()?;
        if full {
            continue;
        }
        if !follow {
            return Ok(ExitStatus::Success);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A running service's admin listener, over plain HTTP/1.1.
struct Admin {
    addr: String,
    token: Option<String>,
}

impl Admin {
    fn new(url: &str, token_file: Option<&Path>) -> anyhow::Result<Admin> {
        let addr = url
            .strip_prefix("http://")
            .with_context(|| format!("`{url}`: --admin takes an http:// URL (HOST:PORT)"))?
            .trim_end_matches('/')
            .to_owned();
        let token = token_file
            .map(|f| {
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read token file `{}`", f.display()))
                    .map(|t| t.trim().to_owned())
            })
            .transpose()?;
        Ok(Admin { addr, token })
    }

    fn entries(&self, since: u64) -> anyhow::Result<Vec<(Entry, String)>> {
        let mut stream = std::net::TcpStream::connect(&self.addr)
            .with_context(|| format!("cannot reach the admin listener at {}", self.addr))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /v1/log/entries?since={since}&limit=1000 HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr
        )?;
        let mut reader = std::io::BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status)?;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
        }
        let mut body = String::new();
        reader.take(64 << 20).read_to_string(&mut body)?;
        anyhow::ensure!(
            status.split_whitespace().nth(1) == Some("200"),
            "{}: {}",
            status.trim(),
            body.trim()
        );
        #[derive(serde::Deserialize)]
        struct Line {
            seq: u64,
            time_ms: u64,
            kind: String,
            hash: String,
            body: Box<serde_json::value::RawValue>,
        }
        let lines: Vec<Line> = serde_json::from_str(&body).with_context(|| {
            format!("the service's answer is not a list of entries: {body:.200}")
        })?;
        Ok(lines
            .into_iter()
            .map(|l| {
                (
                    Entry {
                        seq: l.seq,
                        time_ms: l.time_ms,
                        kind: l.kind,
                        body: l.body,
                    },
                    l.hash,
                )
            })
            .collect())
    }
}

/// One line for people: a decision's policy, caller, effect and reason; an
/// operator's change; a checkpoint; a commit's policy, realm and writes.
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
    if let Some(digest) = body["digest"].as_str() {
        return format!("after entry {} {digest}", body["covers"]);
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
        StateCommand::Import { data, file } => {
            let text = erynoa_host::json::read_text_file(&file, erynoa_host::json::MAX_INPUT_BYTES)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let changes = erynoa_store::parse_changes(&text)
                .map_err(|e| anyhow::anyhow!("{}:{}: {}", file.display(), e.line, e.message))?;
            let log = erynoa_store::Log::open(&data, erynoa_store::Durability::Immediate)?;
            let mut last = 0;
            for change in &changes {
                last = log.append("operator", change)?;
            }
            log.wait_durable(last, Duration::from_secs(30))?;
            println!("{} changes logged, up to entry {last}", changes.len());
            Ok(ExitStatus::Success)
        }
        StateCommand::Get { data, did } => {
            let projection = erynoa_store::restore(&data, None)?.state;
            let t = projection.trust(&did);
            let answer = serde_json::json!({
                "did": did,
                "trust": {"r": t.r, "i": t.i, "c": t.c, "p": t.p, "v": t.v, "omega": t.omega},
                "credentials": projection.credentials(&did),
            });
            println!("{answer}");
            Ok(ExitStatus::Success)
        }
        StateCommand::Digest { data } => {
            let restored = erynoa_store::restore(&data, None)?;
            let from = restored
                .checkpoint
                .map(|c| format!("the checkpoint after entry {}, then ", c.covers))
                .unwrap_or_default();
            println!(
                "{}  ({from}{} entries replayed)",
                restored.state.digest(),
                restored.replayed
            );
            Ok(ExitStatus::Success)
        }
        StateCommand::Rebuild { data } => {
            let (report, rebuilt) = erynoa_store::rebuild(&data)?;
            if report.broken.is_some() {
                return Ok(print_report(&report));
            }
            let restarted = erynoa_store::restore(&data, None)?.state.digest();
            let digest = rebuilt.digest();
            println!(
                "{digest}  (entries {}..{} replayed, {} checkpoints matched)",
                report.first, report.entries, report.checkpoints
            );
            if restarted != digest {
                println!("a restart rebuilds {restarted} instead");
                return Ok(ExitStatus::CheckFailed);
            }
            Ok(ExitStatus::Success)
        }
        StateCommand::Export { data } => {
            println!("{}", erynoa_store::restore(&data, None)?.state.snapshot());
            Ok(ExitStatus::Success)
        }
    }
}
