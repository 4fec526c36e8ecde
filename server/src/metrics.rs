//! `GET /metrics`: the service's counters in the Prometheus text format.
//!
//! | Metric | Labels |
//! |---|---|
//! | `erynoa_evaluations_total` | `policy`, `effect`, `failure` (a failure kind or `none`) |
//! | `erynoa_evaluation_duration_seconds` (histogram) | `policy` |
//! | `erynoa_evaluation_gas` (histogram) | `policy` |
//! | `erynoa_policy_loads_total` | `policy` (or `trust-store`), `result` (`loaded`, `refused`, `activated`, `deactivated`, `removed`) |
//! | `erynoa_policy_active_info` (1 per active version) | `policy`, `digest` |
//! | `erynoa_queue_depth` | |
//! | `erynoa_log_queue_depth` | |
//! | `erynoa_log_wait_seconds` (histogram) | |
//! | `erynoa_log_entries` (the head's sequence number) | |
//! | `erynoa_log_fsyncs` (since start) | |
//! | `erynoa_rejected_total` | `reason` (`saturated`) |
//! | `erynoa_build_info` | `version` |

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::catalog::Active;

type Labels = Vec<(&'static str, String)>;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    evaluations: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    gas: Family<Labels, Histogram, fn() -> Histogram>,
    loads: Family<Labels, Counter>,
    active: Family<Labels, Gauge>,
    /// The versions `active` reports, to reset them when they change.
    shown: Mutex<Vec<Labels>>,
    /// Requests waiting for an evaluation slot.
    pub queue_depth: Gauge,
    /// Log entries waiting for the log writer.
    pub log_queue_depth: Gauge,
    /// Time answers waited for their log entries to be durable.
    pub log_wait: Histogram,
    /// The log's last entry.
    pub log_entries: Gauge,
    /// Batches fsynced since start.
    pub log_fsyncs: Gauge,
    rejected: Family<Labels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 10 µs to about 10 s.
    Histogram::new(exponential_buckets(0.000_01, 2.0, 21))
}

fn gas_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10.0, 4.0, 12))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("erynoa");
        let evaluations = Family::<Labels, Counter>::default();
        registry.register(
            "evaluations",
            "Evaluations by policy, effect and failure kind",
            evaluations.clone(),
        );
        let latency: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "evaluation_duration_seconds",
            "Time to evaluate one request, by policy",
            latency.clone(),
        );
        let gas: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(gas_histogram);
        registry.register(
            "evaluation_gas",
            "Gas used per evaluation, by policy",
            gas.clone(),
        );
        let loads = Family::<Labels, Counter>::default();
        registry.register(
            "policy_loads",
            "Policy loads and reloads by result",
            loads.clone(),
        );
        let active = Family::<Labels, Gauge>::default();
        registry.register(
            "policy_active_info",
            "The active version of each policy (1), by digest",
            active.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Requests waiting for an evaluation slot",
            queue_depth.clone(),
        );
        let log_queue_depth = Gauge::default();
        registry.register(
            "log_queue_depth",
            "Log entries waiting for the log writer",
            log_queue_depth.clone(),
        );
        let log_wait = latency_histogram();
        registry.register(
            "log_wait_seconds",
            "Time an answer waited for its decision to be durable in the log (immediate mode)",
            log_wait.clone(),
        );
        let log_entries = Gauge::default();
        registry.register(
            "log_entries",
            "The sequence number of the log's last entry",
            log_entries.clone(),
        );
        let log_fsyncs = Gauge::default();
        registry.register(
            "log_fsyncs",
            "Log batches fsynced since the service started (entries per fsync: group commit)",
            log_fsyncs.clone(),
        );
        let rejected = Family::<Labels, Counter>::default();
        registry.register(
            "rejected",
            "Requests answered 503 without an evaluation",
            rejected.clone(),
        );
        let build = Family::<Labels, Gauge>::default();
        build
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_owned())])
            .set(1);
        registry.register("build_info", "The service's build", build);
        Metrics {
            registry,
            evaluations,
            latency,
            gas,
            loads,
            active,
            shown: Mutex::new(Vec::new()),
            queue_depth,
            log_queue_depth,
            log_wait,
            log_entries,
            log_fsyncs,
            rejected,
        }
    }
}

impl Metrics {
    /// Counts one evaluation.
    pub fn evaluation(&self, policy: &str, e: &erynoa_host::Evaluation) {
        let effect = match e.effect {
            erynoa_host::Effect::Allow => "allow",
            erynoa_host::Effect::Deny => "deny",
        };
        let failure = e.failure.as_ref().map_or("none", |f| f.kind());
        self.evaluations
            .get_or_create(&vec![
                ("policy", policy.to_owned()),
                ("effect", effect.to_owned()),
                ("failure", failure.to_owned()),
            ])
            .inc();
        let by_policy = vec![("policy", policy.to_owned())];
        self.latency
            .get_or_create(&by_policy)
            .observe(e.duration.as_secs_f64());
        self.gas
            .get_or_create(&by_policy)
            .observe(e.gas_used as f64);
    }

    /// Counts a load, reload or refusal.
    pub fn load(&self, policy: &str, result: &'static str) {
        self.loads
            .get_or_create(&vec![
                ("policy", policy.to_owned()),
                ("result", result.to_owned()),
            ])
            .inc();
    }

    /// Counts a request turned away.
    pub fn rejected(&self, reason: &'static str) {
        self.rejected
            .get_or_create(&vec![("reason", reason.to_owned())])
            .inc();
    }

    /// Shows `active` as the active versions.
    pub fn set_active(&self, active: &Active) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        for labels in shown.drain(..) {
            self.active.remove(&labels);
        }
        for (id, v) in active {
            let labels = vec![("policy", id.clone()), ("digest", v.digest.clone())];
            self.active.get_or_create(&labels).set(1);
            shown.push(labels);
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            tracing::error!("the metrics could not be encoded");
        }
        out
    }
}
