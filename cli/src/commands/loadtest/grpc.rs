//! `erynoa loadtest --url grpc://HOST:PORT`: the same open loop over
//! Envoy's ext_authz protocol (`envoy.service.auth.v3.Authorization/Check`),
//! one HTTP/2 connection per `--connections`. Each request of the file
//! becomes a check: its caller in `x-erynoa-caller`, its realm in
//! `x-erynoa-realm`, its action as the method and its resource as the path.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use hdrhistogram::Histogram;
use std::time::Instant;

use super::{Report, finish};
use crate::args::LoadtestArgs;
use crate::output::{ExitStatus, Format};

fn check_of(request: &serde_json::Value) -> CheckRequest {
    let text = |key: &str| request.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let mut headers = HashMap::new();
    headers.insert("x-erynoa-caller".to_owned(), text("caller").to_owned());
    if !text("realm").is_empty() {
        headers.insert("x-erynoa-realm".to_owned(), text("realm").to_owned());
    }
    let method = match text("action") {
        "" => "POST",
        action => action,
    };
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: method.to_owned(),
                    path: format!("/{}", text("resource")),
                    headers,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

struct Done {
    latency: Histogram<u64>,
    answered: u64,
    errors: u64,
    last: Option<Instant>,
}

pub(super) fn execute(args: LoadtestArgs, format: Format) -> anyhow::Result<ExitStatus> {
    let addr = args.url.trim_start_matches("grpc://").trim_end_matches('/');
    let endpoint = format!("http://{addr}");
    let text = erynoa_host::json::read_text_file(&args.request, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", args.request.display()))?;
    erynoa_host::Request::many_from_json(&text)
        .with_context(|| format!("in `{}`", args.request.display()))?;
    let checks: Vec<CheckRequest> = match serde_json::from_str::<serde_json::Value>(&text)? {
        serde_json::Value::Array(items) => items.iter().map(check_of).collect(),
        one => vec![check_of(&one)],
    };
    anyhow::ensure!(
        !checks.is_empty(),
        "`{}` holds no requests",
        args.request.display()
    );
    let connections = usize::from(args.connections);
    let interval = Duration::from_secs_f64(connections as f64 / args.rate as f64);
    let warmup = Duration::from_millis(args.warmup_ms);
    let duration = Duration::from_millis(args.duration_ms);
    // One thread and one HTTP/2 connection per `--connections`, timed with
    // the OS's sleep: the async timer's millisecond ticks would show up as
    // latency measured from the intended send time.
    let start = Instant::now() + Duration::from_millis(200);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            let checks = checks.clone();
            let endpoint = endpoint.clone();
            let first = start + interval.mul_f64(c as f64 / connections as f64);
            std::thread::spawn(move || -> anyhow::Result<Done> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the runtime")?;
                let client = runtime
                    .block_on(AuthorizationClient::connect(endpoint.clone()))
                    .with_context(|| format!("cannot connect to {endpoint}"))?;
                drive(&runtime, client, &checks, first, interval, warmup, duration)
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
    let mut latency = Histogram::<u64>::new(3).context("histogram")?;
    let (mut answered, mut errors) = (0, 0);
    let mut last = start + warmup;
    for d in dones {
        latency.add(&d.latency).context("histogram")?;
        answered += d.answered;
        errors += d.errors;
        last = last.max(d.last.unwrap_or(last));
    }
    let took = (last - (start + warmup)).max(duration);
    let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    let report = Report {
        url: args.url.clone(),
        rate: args.rate,
        batch: 1,
        connections,
        duration_ms: args.duration_ms,
        decisions: answered,
        errors,
        achieved: answered as f64 / took.as_secs_f64(),
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        max_us: latency.max() as f64 / 1000.0,
    };
    finish(&report, format)
}

/// One connection: a check every `interval` from `first`. An answer with
/// code OK or PERMISSION_DENIED is a decision; anything else an error.
fn drive(
    runtime: &tokio::runtime::Runtime,
    mut client: AuthorizationClient<tonic::transport::Channel>,
    checks: &[CheckRequest],
    first: Instant,
    interval: Duration,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Done> {
    let mut done = Done {
        latency: Histogram::new(3).context("histogram")?,
        answered: 0,
        errors: 0,
        last: None,
    };
    let measure_from = first + warmup;
    let end = measure_from + duration;
    for k in 0u64.. {
        let intended = first + interval.mul_f64(k as f64);
        if intended >= end {
            break;
        }
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
        }
        let check = checks[k as usize % checks.len()].clone();
        let code = match runtime.block_on(client.check(check)) {
            Ok(r) => r.into_inner().status.map_or(-1, |s| s.code),
            Err(_) => -1,
        };
        if intended >= measure_from {
            done.last = Some(Instant::now());
            if code == 0 || code == 7 {
                done.answered += 1;
                let took = intended.elapsed();
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
