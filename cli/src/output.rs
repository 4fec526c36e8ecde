//! How results are shown: text for people, JSON for programs.

use std::io::Write;
use std::process::ExitCode;

use erynoa_host::{Evaluation, Request, StateChanges, printable};
use serde::Serialize;

/// The exit status of `erynoa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Allowed, or the command succeeded.
    Success,
    /// Something went wrong.
    Error,
    /// The single evaluated request was denied.
    Deny,
    /// A check failed: a signature did not verify, a policy test or an ECL
    /// check failed, a file is not formatted, a replay diverged.
    CheckFailed,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs: JSON on stdout.
    Json,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(match s {
            ExitStatus::Success => 0,
            ExitStatus::Error => 1,
            ExitStatus::Deny => 2,
            ExitStatus::CheckFailed => 3,
        })
    }
}

/// Logs go to stderr so that stdout stays clean for results.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn decision(e: &Evaluation) -> &'static str {
    if e.is_allowed() { "allow" } else { "deny" }
}

fn changes(c: &StateChanges) -> String {
    if c.writes.is_empty() && c.events.is_empty() {
        return "none".into();
    }
    let mut parts: Vec<String> = c
        .writes
        .iter()
        .map(|w| match &w.value {
            Some(v) => format!("{}/{} = {v:?}", printable(&w.store), printable(&w.key)),
            None => format!("{}/{} deleted", printable(&w.store), printable(&w.key)),
        })
        .collect();
    parts.extend(
        c.events
            .iter()
            .map(|(t, p)| format!("event {} {}", printable(t), printable(p))),
    );
    let verdict = if c.committed {
        "committed"
    } else {
        "discarded"
    };
    format!("{verdict}: {}", parts.join("; "))
}

/// One evaluation, one field a line.
pub fn print_evaluation(e: &Evaluation) {
    let g = &e.gas;
    println!("policy    {}", printable(&e.policy_id));
    println!("decision  {}", decision(e));
    println!(
        "reason    {}",
        printable(e.reason.as_deref().unwrap_or("-"))
    );
    if let Some(f) = &e.failure {
        println!("failure   {}", f.kind());
    }
    println!(
        "gas       {} (priced by layer: network {}, compute {}, storage {}, realm {})",
        e.gas_used, g.network, g.compute, g.storage, g.realm
    );
    println!("mana      {}", e.mana_used);
    println!("duration  {} µs", e.duration.as_micros());
    println!("changes   {}", changes(&e.changes));
}

/// Many evaluations as a table.
pub fn print_table(results: &[(&Request, Evaluation)]) {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|(r, e)| {
            vec![
                printable(&e.policy_id).into_owned(),
                printable(r.caller().rsplit(':').next().unwrap_or_default()).into_owned(),
                printable(r.realm()).into_owned(),
                decision(e).to_owned(),
                printable(e.reason.as_deref().unwrap_or("-")).into_owned(),
                e.gas_used.to_string(),
                e.mana_used.to_string(),
                format!("{:.1}", e.duration.as_secs_f64() * 1e6),
            ]
        })
        .collect();
    let header = [
        "POLICY", "CALLER", "REALM", "DECISION", "REASON", "GAS", "MANA", "µs",
    ];
    print_rows(&header, &rows, 5);
}

/// A table with a header: columns from `first_number` on hold numbers and
/// are right-aligned, the others left-aligned.
pub fn print_rows(header: &[&str], rows: &[Vec<String>], first_number: usize) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                if i >= first_number {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[derive(Serialize)]
struct JsonResult<'a> {
    caller: &'a str,
    realm: &'a str,
    action: &'a str,
    #[serde(flatten)]
    evaluation: &'a Evaluation,
}

/// Every evaluation as JSON: an object for one, an array for several.
pub fn print_json(results: &[(&Request, Evaluation)]) -> anyhow::Result<()> {
    let items: Vec<JsonResult<'_>> = results
        .iter()
        .map(|(r, e)| JsonResult {
            caller: r.caller(),
            realm: r.realm(),
            action: r.action(),
            evaluation: e,
        })
        .collect();
    match items.as_slice() {
        [one] => print_json_value(one),
        many => print_json_value(&many),
    }
}

/// `value` as pretty JSON on stdout.
pub fn print_json_value(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
