//! `cargo xtask loadtest`: `erynoa serve` on the demo policies, driven by
//! `erynoa loadtest` (open loop, latency from the intended send time) at
//! fixed rates, the batch endpoint, the time from a rollback request to the
//! first decision on the version it activated, the idle memory, and the
//! decisions per second with the durable log in each durability mode
//! against the in-memory state, in the same run.
//! `LOADTEST_MS` sets how long each rate runs (default 3000).

use std::process::Command;
use std::time::Instant;

use crate::demo::{self, Service, post};

/// The single-request rates tried, in decisions per second.
const RATES: [u64; 7] = [1_000, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000];
/// The batch rates tried (100 decisions per request).
const BATCH_RATES: [u64; 3] = [60_000, 100_000, 150_000];
/// The Envoy ext_authz (gRPC) rates tried.
const GRPC_RATES: [u64; 4] = [1_000, 5_000, 10_000, 20_000];

/// Runs every measurement, each rate for `ms` milliseconds.
pub(crate) fn loadtest(ms: u64) -> Result<(), String> {
    let demo = demo::prepare()?;
    let token = demo.dir.join("admin.token");
    write_token(&token)?;
    let service = Service::start(&demo, Some(&token), "")?;
    let result = measure(&demo, &service, ms);
    let stopped = service.stop();
    result.and(stopped)?;
    durability(&demo, ms)
}

fn write_token(path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    let token = format!(
        "loadtest-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(format!("{token:0>24}").as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `field` of the one JSON object `erynoa loadtest --json` printed.
fn field(json: &str, name: &str) -> f64 {
    json.split(&format!("\"{name}\":"))
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

/// `erynoa loadtest --json` against `url`: every request must be answered.
fn drive(
    demo: &demo::Demo,
    requests: &std::path::Path,
    url: &str,
    rate: u64,
    batch: u64,
    connections: u64,
    ms: u64,
) -> Result<String, String> {
    let out = Command::new(demo.root.join("target/release/erynoa"))
        .args([
            "loadtest",
            "--json",
            "--url",
            url,
            "--rate",
            &rate.to_string(),
        ])
        .args([
            "--batch",
            &batch.to_string(),
            "--connections",
            &connections.to_string(),
        ])
        .args(["--duration-ms", &ms.to_string()])
        .arg("-r")
        .arg(requests)
        .output()
        .map_err(|e| format!("cannot run erynoa loadtest: {e}"))?;
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    // Every request must be answered 200, at any rate: saturation shows
    // in the latency, never as lost or failed requests.
    if !out.status.success() || field(&json, "errors") != 0.0 {
        return Err(format!(
            "erynoa loadtest at {rate}/s failed: {json}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(json)
}

/// Decisions per second as fast as 16 connections go (`kyc_score`, which
/// writes nothing, and `quota`, which writes a counter per answer over
/// 1,000 callers), on a fresh service in memory, then with the durable log
/// in `batched` and in `immediate` mode: the ratios are of one run.
fn durability(demo: &demo::Demo, ms: u64) -> Result<(), String> {
    let data = demo.dir.join("service/data");
    let quota_requests = demo.dir.join("quota-requests.json");
    let callers: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"caller": "did:erynoa:self:q{i}", "realm": "finance", "params": {{"limit": 1e12}}}}"#
            )
        })
        .collect();
    std::fs::write(&quota_requests, format!("[{}]", callers.join(",\n")))
        .map_err(|e| format!("cannot write {}: {e}", quota_requests.display()))?;
    let requests = demo.root.join("demo/requests.json");
    let modes = [
        ("in memory", String::new()),
        (
            "batched (fsync every 10 ms)",
            format!("data = \"{}\"\ndurability = \"batched\"\n", data.display()),
        ),
        (
            "immediate",
            format!(
                "data = \"{}\"\ndurability = \"immediate\"\n",
                data.display()
            ),
        ),
    ];
    let mut rows = Vec::new();
    let mut logs = Vec::new();
    for (name, extra) in &modes {
        let _ = std::fs::remove_dir_all(&data);
        let service = Service::start(demo, None, extra)?;
        let run = |policy: &str, requests: &std::path::Path| {
            let url = format!("http://{}/v1/decide/{policy}", service.decisions);
            drive(demo, requests, &url, 40_000, 1, 16, ms).map(|json| field(&json, "achieved"))
        };
        let measured =
            run("kyc_score", &requests).and_then(|k| Ok((k, run("quota", &quota_requests)?)));
        let log = log_metrics(&service.decisions);
        service.stop()?;
        rows.push((name, measured?));
        if let (Some(log), false) = (log?, extra.is_empty()) {
            logs.push((name, log));
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    let (memory_kyc, memory_quota) = rows[0].1;
    println!(
        "\n{:<28} {:>20} {:>20}",
        "state", "kyc_score decisions/s", "quota decisions/s"
    );
    for (name, (kyc, quota)) in &rows {
        println!(
            "{name:<28} {kyc:>12.0} ({:>4.0}%) {quota:>12.0} ({:>4.0}%)",
            100.0 * kyc / memory_kyc,
            100.0 * quota / memory_quota
        );
    }
    for (name, (entries, fsyncs, wait_us)) in &logs {
        let waited = if *wait_us > 0.0 {
            format!("answers waited {wait_us:.0} µs for theirs on average")
        } else {
            "answers do not wait for them".to_owned()
        };
        println!(
            "{name}: {entries:.0} entries in {fsyncs:.0} fsyncs ({:.1} a fsync); {waited}",
            entries / fsyncs.max(1.0)
        );
    }
    Ok(())
}

/// The log's entries, fsyncs and mean wait for durability (µs), from the
/// service's `/metrics`; `None` without a log.
fn log_metrics(addr: &str) -> Result<Option<(f64, f64, f64)>, String> {
    let (_, text) = demo::request(addr, "GET", "/metrics", "", "")?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let (Some(entries), Some(fsyncs)) = (value("erynoa_log_entries"), value("erynoa_log_fsyncs"))
    else {
        return Ok(None);
    };
    let wait = match (
        value("erynoa_log_wait_seconds_sum"),
        value("erynoa_log_wait_seconds_count"),
    ) {
        (Some(sum), Some(count)) if count > 0.0 => 1e6 * sum / count,
        _ => 0.0,
    };
    Ok(Some((entries, fsyncs, wait)))
}

fn measure(demo: &demo::Demo, service: &Service, ms: u64) -> Result<(), String> {
    let rss = std::fs::read_to_string(format!("/proc/{}/status", service.pid()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let requests = demo.root.join("demo/requests.json");
    let drive = |url: String, rate: u64, batch: u64, connections: u64| {
        drive(demo, &requests, &url, rate, batch, connections, ms)
    };
    let mut rows = Vec::new();
    let mut held = 0;
    let url = format!("http://{}/v1/decide/kyc_score", service.decisions);
    for rate in RATES {
        let json = drive(url.clone(), rate, 1, 16)?;
        let p99 = field(&json, "p99_us");
        if p99 <= 1000.0 {
            held = rate;
        }
        rows.push(("kyc_score", rate, json));
    }
    let batch_url = format!("http://{}/v1/decide/kyc_score/batch", service.decisions);
    for rate in BATCH_RATES {
        rows.push((
            "kyc_score, batches of 100",
            rate,
            drive(batch_url.clone(), rate, 100, 4)?,
        ));
    }
    let grpc_url = format!("grpc://{}", service.ext_authz);
    for rate in GRPC_RATES {
        rows.push((
            "ext_authz (gRPC), kyc_score",
            rate,
            drive(grpc_url.clone(), rate, 1, 8)?,
        ));
    }
    println!(
        "\n{:<28} {:>9} {:>10} {:>7} {:>9} {:>9} {:>9}",
        "workload", "asked/s", "answered/s", "errors", "p50 µs", "p99 µs", "p99.9 µs"
    );
    for (name, rate, json) in &rows {
        println!(
            "{name:<28} {rate:>9} {:>10.0} {:>7} {:>9.0} {:>9.0} {:>9.0}",
            field(json, "achieved"),
            field(json, "errors"),
            field(json, "p50_us"),
            field(json, "p99_us"),
            field(json, "p999_us"),
        );
    }
    println!("highest single-request rate held with p99 under 1 ms: {held}/s");
    println!("idle RSS with the demo policies: {rss}");
    rollback(demo, service)
}

/// Installs a second version of `kyc_score`, then alternates between the
/// two with the admin API, timing each switch from the admin request to
/// the first decision that names the version it activated.
fn rollback(demo: &demo::Demo, service: &Service) -> Result<(), String> {
    let token = std::fs::read_to_string(demo.dir.join("admin.token"))
        .map_err(|e| format!("cannot read the token: {e}"))?;
    let auth = format!("Authorization: Bearer {}\r\n", token.trim());
    let request = r#"{"caller": "did:erynoa:self:alice", "realm": "finance"}"#;
    let digest = |body: &str| {
        body.split("\"digest\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_owned()
    };
    let decide = || post(&service.decisions, "/v1/decide/kyc_score", "", request);
    let first = digest(&decide()?.1);
    // The compiled ECL version of the same policy, renamed into place.
    let dir = demo.dir.join("service/policies");
    let tmp = dir.join(".kyc_score.wasm.tmp");
    std::fs::copy(demo.dir.join("ecl_kyc_score.wasm"), &tmp)
        .and_then(|_| std::fs::rename(&tmp, dir.join("kyc_score.wasm")))
        .map_err(|e| format!("cannot install the second version: {e}"))?;
    let started = Instant::now();
    let second = loop {
        let now = digest(&decide()?.1);
        if now != first {
            break now;
        }
        if started.elapsed().as_secs() > 5 {
            return Err("the second version was not picked up within 5 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    println!(
        "a new version renamed into place answered after {} ms",
        started.elapsed().as_millis()
    );
    let mut took = Vec::new();
    for i in 0..200 {
        let target = if i % 2 == 0 { &first } else { &second };
        let t = Instant::now();
        let (status, body) = post(
            &service.admin,
            &format!("/v1/policies/kyc_score/activate?digest={target}"),
            &auth,
            "",
        )?;
        if !status.contains(" 200 ") {
            return Err(format!("activate answered {status}: {body}"));
        }
        let answered = digest(&decide()?.1);
        took.push(t.elapsed().as_secs_f64() * 1e6);
        if &answered != target {
            return Err(format!(
                "after activating {target} the decision came from {answered}"
            ));
        }
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    println!(
        "activate or roll back, to the first decision on that version (200 switches): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
