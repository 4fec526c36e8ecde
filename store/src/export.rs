//! Export lines: entries as JSON lines that keep each entry's exact bytes,
//! so an exported segment verifies on its own.

use std::io::{BufRead, Read as _};

use serde::{Deserialize, Serialize};

use crate::checkpoint::Report;
use crate::{Entry, StoreError, chain, unhex};

/// The longest export line read: far above any entry the log writes (a
/// decision's request is at most the service's body limit).
const MAX_LINE: u64 = 64 << 20;

/// An entry as one line: its fields, its hash, and its body exactly as
/// stored.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    seq: u64,
    time_ms: u64,
    kind: &'a str,
    hash: &'a str,
    #[serde(borrow)]
    body: &'a serde_json::value::RawValue,
}

/// One entry as an export line (`erynoa log export`, `log tail --format
/// json`, `compact` archives): `{"seq", "time_ms", "kind", "hash",
/// "body"}`, the body exactly as stored, so [`verify_export`] can recompute
/// every hash.
pub fn export_line(entry: &Entry, hash: &str) -> String {
    let line = Line {
        seq: entry.seq,
        time_ms: entry.time_ms,
        kind: &entry.kind,
        hash,
        body: &entry.body,
    };
    // Numbers, strings and raw JSON always serialize.
    serde_json::to_string(&line).unwrap_or_default()
}

/// Verifies export lines: every sequence number follows the one before and
/// every hash is `SHA-256(previous hash ‖ entry bytes)`. A segment that does
/// not start at entry 1 starts from its first entry's hash, which only the
/// log it came from (or the segment before it) can vouch for.
///
/// ```
/// let text = "not json\n";
/// let report = erynoa_store::verify_export(text.as_bytes()).unwrap();
/// assert!(report.broken.unwrap().1.starts_with("line 1 does not parse"));
/// ```
pub fn verify_export(mut reader: impl BufRead) -> Result<Report, StoreError> {
    let mut report = Report {
        first: 0,
        entries: 0,
        head: hex::encode([0; 32]),
        checkpoints: 0,
        digest: String::new(),
        broken: None,
    };
    let mut prev: Option<[u8; 32]> = None;
    let mut bytes = Vec::new();
    for n in 0.. {
        bytes.clear();
        // Bounded: a file that is one endless line is refused, not read whole.
        let read = reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut bytes)
            .map_err(|error| StoreError::Io {
                path: "the export".into(),
                error,
            })?;
        if read == 0 {
            break;
        }
        let expected = report.entries + 1;
        if bytes.len() as u64 > MAX_LINE {
            report.broken = Some((
                expected,
                format!("line {} is longer than {MAX_LINE} bytes", n + 1),
            ));
            break;
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            report.broken = Some((expected, format!("line {} is not UTF-8", n + 1)));
            break;
        };
        if text.trim().is_empty() {
            continue;
        }
        let line = match serde_json::from_str::<Line<'_>>(text.trim_end()) {
            Ok(line) => line,
            Err(e) => {
                report.broken = Some((expected, format!("line {} does not parse: {e}", n + 1)));
                break;
            }
        };
        if report.first == 0 {
            report.first = line.seq;
            report.entries = line.seq.saturating_sub(1);
            if line.seq == 1 {
                prev = Some([0; 32]);
            }
        }
        let expected = report.entries + 1;
        let entry = Entry {
            seq: line.seq,
            time_ms: line.time_ms,
            kind: line.kind.to_owned(),
            body: line.body.to_owned(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| StoreError::Entry {
            seq: line.seq,
            message: e.to_string(),
        })?;
        let problem = match (unhex(line.hash), prev) {
            _ if line.seq != expected => Some(format!(
                "expected entry {expected} on line {}: entries {expected}..{} are missing",
                n + 1,
                line.seq.saturating_sub(1)
            )),
            (None, _) => Some(format!("line {}: its hash is not 64 hex digits", n + 1)),
            (Some(hash), Some(prev)) if chain(&prev, &bytes) != hash => Some(format!(
                "line {}: its hash does not match its bytes and the entry before it",
                n + 1
            )),
            _ => None,
        };
        match problem {
            Some(why) => {
                report.broken = Some((expected.min(line.seq), why));
                break;
            }
            None => {
                report.entries = line.seq;
                report.head = line.hash.to_owned();
                prev = unhex(line.hash);
            }
        }
    }
    Ok(report)
}
