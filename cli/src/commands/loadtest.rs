//! `erynoa loadtest`: an open-loop load generator for `erynoa serve`.
//!
//! Requests are sent at a fixed rate over HTTP/1.1 keep-alive connections,
//! each at its intended time; a request's latency is measured from that
//! intended time, not from when it was actually sent, so a server that
//! falls behind shows it in the percentiles instead of silently slowing the
//! generator down (coordinated omission).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::args::LoadtestArgs;

mod grpc;
use crate::output::{self, ExitStatus, Format};

/// What one run measured.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub(super) url: String,
    /// Decisions per second asked for.
    pub(super) rate: u64,
    /// Decisions per request (1, or the batch size).
    pub(super) batch: u64,
    pub(super) connections: usize,
    pub(super) duration_ms: u64,
    /// Decisions answered 200.
    pub(super) decisions: u64,
    /// Requests not answered 200.
    pub(super) errors: u64,
    /// Decisions per second answered.
    pub(super) achieved: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) p999_us: f64,
    pub(super) max_us: f64,
}

pub fn execute(args: LoadtestArgs, format: Format) -> anyhow::Result<ExitStatus> {
    if args.url.starts_with("grpc://") {
        return grpc::execute(args, format);
    }
    let target = Target::parse(&args.url)?;
    let items: Vec<String> = requests(&args)?.iter().map(ToString::to_string).collect();
    let batch = u64::from(args.batch);
    let bodies: Vec<String> = if batch > 1 {
        (0..items.len())
            .map(|i| {
                let group: Vec<&str> = (0..batch as usize)
                    .map(|k| items[(i + k) % items.len()].as_str())
                    .collect();
                format!("[{}]", group.join(","))
            })
            .collect()
    } else {
        items
    };
    let connections = usize::from(args.connections);
    // Requests per second over all connections.
    let per_second = (args.rate / batch).max(1);
    let interval = Duration::from_secs_f64(connections as f64 / per_second as f64);
    let duration = Duration::from_millis(args.duration_ms);
    let warmup = Duration::from_millis(args.warmup_ms);
    let start = Instant::now() + Duration::from_millis(50);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let target = target.clone();
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let offset = interval.mul_f64(c as f64 / connections as f64);
                let schedule = Schedule {
                    first: start + offset,
                    interval,
                    warmup,
                    duration,
                };
                drive(&target, &bodies, schedule)
            })
        })
        .collect();
    let mut dones = Vec::new();
    for w in workers {
        dones.push(
            w.join()
                .map_err(|_| anyhow::anyhow!("a load thread panicked"))??,
        );
    }
    let report = summarize(&args, batch, start + warmup, duration, dones)?;
    finish(&report, format)
}

/// The report of every connection's run, measured from `from` for `duration`.
pub(super) fn summarize(
    args: &LoadtestArgs,
    batch: u64,
    from: Instant,
    duration: Duration,
    dones: Vec<Done>,
) -> anyhow::Result<Report> {
    let connections = dones.len();
    let mut latency = Histogram::<u64>::new(3).context("histogram")?;
    let (mut answered, mut errors) = (0u64, 0u64);
    let mut last = from;
    for done in dones {
        latency.add(&done.latency).context("histogram")?;
        answered += done.answered;
        errors += done.errors;
        last = last.max(done.last.unwrap_or(last));
    }
    // Over the time it took to answer them: a server that fell behind
    // answers fewer per second than were asked for.
    let took = (last - from).max(duration);
    let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(Report {
        url: args.url.clone(),
        rate: args.rate,
        batch,
        connections,
        duration_ms: args.duration_ms,
        decisions: answered * batch,
        errors,
        achieved: (answered * batch) as f64 / took.as_secs_f64(),
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        max_us: latency.max() as f64 / 1000.0,
    })
}

/// The requests of `--request`, checked as the service would check them,
/// then sent as written; at least one.
pub(super) fn requests(args: &LoadtestArgs) -> anyhow::Result<Vec<serde_json::Value>> {
    let path = &args.request;
    let text = erynoa_host::json::read_text_file(path, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    erynoa_host::Request::many_from_json(&text)
        .with_context(|| format!("in `{}`", path.display()))?;
    let items = match serde_json::from_str::<serde_json::Value>(&text)? {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    if items.is_empty() {
        bail!("`{}` holds no requests", path.display());
    }
    Ok(items)
}

/// Prints the report; fails the command if any request was not answered.
pub(super) fn finish(report: &Report, format: Format) -> anyhow::Result<ExitStatus> {
    if format == Format::Json {
        output::print_json_value(report)?;
    } else {
        println!(
            "{} at {}/s ({} per request, {} connections, {} ms): {:.0} decisions/s answered, {} errors\n\
             latency from the intended send time: p50 {:.0} µs  p99 {:.0} µs  p99.9 {:.0} µs  max {:.0} µs",
            report.url,
            report.rate,
            report.batch,
            report.connections,
            report.duration_ms,
            report.achieved,
            report.errors,
            report.p50_us,
            report.p99_us,
            report.p999_us,
            report.max_us
        );
    }
    Ok(if report.errors == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::CheckFailed
    })
}

/// Where to send: `http://HOST:PORT/PATH`.
#[derive(Debug, Clone)]
struct Target {
    addr: std::net::SocketAddr,
    host: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("`{url}`: only http:// URLs are supported"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("`{host}` is not HOST:PORT"))?
            .next()
            .with_context(|| format!("`{host}` resolves to nothing"))?;
        Ok(Target {
            addr,
            host: host.to_owned(),
            path: format!("/{path}"),
        })
    }
}

/// What one connection measured.
pub(super) struct Done {
    latency: Histogram<u64>,
    answered: u64,
    errors: u64,
    /// When the last measured answer arrived.
    last: Option<Instant>,
}

/// When one connection sends: from `first`, every `interval`, measured
/// after `warmup` for `duration`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    pub(super) first: Instant,
    pub(super) interval: Duration,
    pub(super) warmup: Duration,
    pub(super) duration: Duration,
}

/// Calls `send(k)` at each intended time of `schedule`; `send` says whether
/// the answer was one. Latency is from the intended time.
pub(super) fn open_loop(
    schedule: Schedule,
    mut send: impl FnMut(u64) -> anyhow::Result<bool>,
) -> anyhow::Result<Done> {
    let mut done = Done {
        latency: Histogram::new(3).context("histogram")?,
        answered: 0,
        errors: 0,
        last: None,
    };
    let measure_from = schedule.first + schedule.warmup;
    let end = measure_from + schedule.duration;
    for k in 0u64.. {
        let intended = schedule.first + schedule.interval.mul_f64(k as f64);
        if intended >= end {
            break;
        }
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        let answered = send(k)?;
        let took = intended.elapsed();
        if intended >= measure_from {
            done.last = Some(Instant::now());
            if answered {
                done.answered += 1;
                done.latency
                    .record(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX))
                    .context("histogram")?;
            } else {
                done.errors += 1;
            }
        }
    }
    Ok(done)
}

/// One keep-alive connection sending `bodies` in turn.
fn drive(target: &Target, bodies: &[String], schedule: Schedule) -> anyhow::Result<Done> {
    let stream = TcpStream::connect(target.addr)
        .with_context(|| format!("cannot connect to {}", target.addr))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut body = Vec::new();
    open_loop(schedule, |k| {
        let payload = &bodies[k as usize % bodies.len()];
        write!(
            writer,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            target.path,
            target.host,
            payload.len()
        )?;
        Ok(read_response(&mut reader, &mut head, &mut body)? == 200)
    })
}

/// Reads one response with a Content-Length body; its status.
fn read_response(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
    body: &mut Vec<u8>,
) -> anyhow::Result<u16> {
    line.clear();
    reader.read_line(line)?;
    let status: u16 = line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP response: {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            bail!("the connection closed mid-response");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("Content-Length")?;
        }
    }
    body.resize(length, 0);
    reader.read_exact(body)?;
    Ok(status)
}
