//! `erynoa bench`: how fast policies decide on this machine, with this state
//! and these requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use erynoa_host::{BudgetLimits, Policy, Request, UnifiedState};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::run::Inputs;
use crate::args::BenchArgs;
use crate::output::{self, ExitStatus, Format};

pub fn execute(args: BenchArgs, format: Format) -> anyhow::Result<ExitStatus> {
    let inputs = Inputs::load(&args.inputs)?;
    let plan = Plan {
        threads: usize::from(args.threads),
        warmup: Duration::from_millis(args.warmup_ms),
        duration: Duration::from_millis(args.duration_ms),
    };
    let mut reports = Vec::new();
    for policy in &inputs.policies {
        // Every policy starts from the fixture: a stateful policy's writes
        // commit as in production, but do not leak into the next policy's run.
        let state = Arc::new(inputs.fresh_state()?);
        let report = plan
            .measure(policy.as_ref(), &state, &inputs.requests, inputs.limits)
            .with_context(|| format!("benchmarking `{}`", policy.info().id))?;
        reports.push(report);
    }
    if format == Format::Json {
        output::print_json_value(&reports)?;
    } else {
        println!(
            "{} ms per policy after {} ms of warm-up, {} thread(s), {} request(s) in turn",
            args.duration_ms,
            args.warmup_ms,
            args.threads,
            inputs.requests.len()
        );
        print_reports(&reports);
    }
    Ok(ExitStatus::Success)
}

/// How long, and on how many threads, each policy runs.
struct Plan {
    threads: usize,
    warmup: Duration,
    duration: Duration,
}

/// What one policy did during its measured run.
#[derive(Debug, Serialize)]
struct Report {
    policy: String,
    threads: usize,
    evaluations: u64,
    seconds: f64,
    evaluations_per_second: f64,
    /// Latency of one whole evaluation (instance, call, commit, event and
    /// metrics), in microseconds.
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    max_us: f64,
    mean_gas: f64,
    allowed: u64,
    denied: u64,
    /// Denies that were failures (out of gas, a trap, ...), by kind.
    failures: BTreeMap<&'static str, u64>,
}

/// One thread's counts; merged after the run.
struct Tally {
    latency_ns: Histogram<u64>,
    gas: u64,
    allowed: u64,
    denied: u64,
    failures: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            // Three significant digits: 0.1% resolution at any latency.
            latency_ns: Histogram::new(3).context("latency histogram")?,
            gas: 0,
            allowed: 0,
            denied: 0,
            failures: BTreeMap::new(),
        })
    }

    fn merge(&mut self, other: Self) -> anyhow::Result<()> {
        self.latency_ns
            .add(&other.latency_ns)
            .context("merging latency histograms")?;
        self.gas += other.gas;
        self.allowed += other.allowed;
        self.denied += other.denied;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        Ok(())
    }
}

impl Plan {
    fn measure(
        &self,
        policy: &dyn Policy,
        state: &Arc<UnifiedState>,
        requests: &[Request],
        limits: BudgetLimits,
    ) -> anyhow::Result<Report> {
        // Warm-up: the pool's slots, the compiled code's pages and the
        // state's maps are hot before anything is measured.
        self.run(policy, state, requests, limits, self.warmup)?;
        let started = Instant::now();
        let tally = self.run(policy, state, requests, limits, self.duration)?;
        let seconds = started.elapsed().as_secs_f64();
        let evaluations = tally.latency_ns.len();
        let us = |q: f64| tally.latency_ns.value_at_quantile(q) as f64 / 1e3;
        Ok(Report {
            policy: policy.info().id.clone(),
            threads: self.threads,
            evaluations,
            seconds,
            evaluations_per_second: evaluations as f64 / seconds,
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            max_us: tally.latency_ns.max() as f64 / 1e3,
            mean_gas: tally.gas as f64 / evaluations.max(1) as f64,
            allowed: tally.allowed,
            denied: tally.denied,
            failures: tally.failures,
        })
    }

    /// Evaluates the requests in turn on every thread for `length`.
    fn run(
        &self,
        policy: &dyn Policy,
        state: &Arc<UnifiedState>,
        requests: &[Request],
        limits: BudgetLimits,
        length: Duration,
    ) -> anyhow::Result<Tally> {
        let deadline = Instant::now() + length;
        let tallies = std::thread::scope(|s| {
            let workers: Vec<_> = (0..self.threads)
                .map(|t| {
                    s.spawn(move || -> anyhow::Result<Tally> {
                        let mut tally = Tally::new()?;
                        // Threads start at different requests, so that they
                        // do not all read and write the same keys in step.
                        for request in requests.iter().cycle().skip(t) {
                            let before = Instant::now();
                            let e = policy.evaluate(state, request, limits);
                            let after = Instant::now();
                            let ns = u64::try_from((after - before).as_nanos()).unwrap_or(u64::MAX);
                            tally
                                .latency_ns
                                .record(ns.max(1))
                                .context("recording a latency")?;
                            tally.gas += e.gas_used;
                            if e.is_allowed() {
                                tally.allowed += 1;
                            } else {
                                tally.denied += 1;
                            }
                            if let Some(f) = &e.failure {
                                *tally.failures.entry(f.kind()).or_default() += 1;
                            }
                            if after >= deadline {
                                break;
                            }
                        }
                        Ok(tally)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))?
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })?;
        let mut total = Tally::new()?;
        for tally in tallies {
            total.merge(tally)?;
        }
        Ok(total)
    }
}

fn print_reports(reports: &[Report]) {
    let header = [
        "POLICY", "EVALS", "EVALS/S", "P50 µs", "P90 µs", "P99 µs", "MAX µs", "GAS", "ALLOW",
        "DENY", "FAILED",
    ];
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.policy.clone(),
                r.evaluations.to_string(),
                format!("{:.0}", r.evaluations_per_second),
                format!("{:.1}", r.p50_us),
                format!("{:.1}", r.p90_us),
                format!("{:.1}", r.p99_us),
                format!("{:.1}", r.max_us),
                format!("{:.0}", r.mean_gas),
                r.allowed.to_string(),
                r.denied.to_string(),
                r.failures.values().sum::<u64>().to_string(),
            ]
        })
        .collect();
    output::print_rows(&header, &rows, 1);
}
