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
use std::time::Instant;

use super::{Done, Schedule, finish, open_loop, requests, summarize};
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

pub(super) fn execute(args: LoadtestArgs, format: Format) -> anyhow::Result<ExitStatus> {
    let addr = args.url.trim_start_matches("grpc://").trim_end_matches('/');
    let endpoint = format!("http://{addr}");
    let checks: Vec<CheckRequest> = requests(&args)?.iter().map(check_of).collect();
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
                let schedule = Schedule {
                    first,
                    interval,
                    warmup,
                    duration,
                };
                drive(&runtime, client, &checks, schedule)
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
    let report = summarize(&args, 1, start + warmup, duration, dones)?;
    finish(&report, format)
}

/// One connection sending `checks` in turn. An answer with code OK or
/// PERMISSION_DENIED is a decision; anything else an error.
fn drive(
    runtime: &tokio::runtime::Runtime,
    mut client: AuthorizationClient<tonic::transport::Channel>,
    checks: &[CheckRequest],
    schedule: Schedule,
) -> anyhow::Result<Done> {
    open_loop(schedule, |k| {
        let check = checks[k as usize % checks.len()].clone();
        let code = match runtime.block_on(client.check(check)) {
            Ok(r) => r.into_inner().status.map_or(-1, |s| s.code),
            Err(_) => -1,
        };
        Ok(code == 0 || code == 7)
    })
}
