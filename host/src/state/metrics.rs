use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use dashmap::DashMap;
use serde::Serialize;

/// Execution counters, updated by every evaluation.
#[derive(Debug, Default)]
pub struct Metrics {
    all: AtomicCounters,
    per_realm: DashMap<String, AtomicCounters>,
    per_policy: DashMap<String, AtomicCounters>,
}

#[derive(Debug, Default)]
struct AtomicCounters {
    executed: AtomicU64,
    passed: AtomicU64,
    denied: AtomicU64,
    gas: AtomicU64,
    mana: AtomicU64,
    duration_us: AtomicU64,
}

impl AtomicCounters {
    fn record(&self, passed: bool, gas: u64, mana: u64, duration_us: u64) {
        self.executed.fetch_add(1, Relaxed);
        if passed { &self.passed } else { &self.denied }.fetch_add(1, Relaxed);
        self.gas.fetch_add(gas, Relaxed);
        self.mana.fetch_add(mana, Relaxed);
        self.duration_us.fetch_add(duration_us, Relaxed);
    }

    fn load(&self) -> Counters {
        let executed = self.executed.load(Relaxed);
        let duration = self.duration_us.load(Relaxed);
        Counters {
            executed,
            passed: self.passed.load(Relaxed),
            denied: self.denied.load(Relaxed),
            gas_total: self.gas.load(Relaxed),
            mana_total: self.mana.load(Relaxed),
            avg_duration_us: if executed == 0 {
                0.0
            } else {
                duration as f64 / executed as f64
            },
        }
    }
}

/// Counters of one scope (all policies, one realm or one policy).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Evaluations.
    pub executed: u64,
    /// Evaluations that allowed.
    pub passed: u64,
    /// Evaluations that denied, for any reason.
    pub denied: u64,
    /// Gas used in total.
    pub gas_total: u64,
    /// Mana used in total.
    pub mana_total: u64,
    /// Average wall-clock duration in microseconds.
    pub avg_duration_us: f64,
}

/// A copy of all counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Over all evaluations.
    pub all: Counters,
    /// Per realm, sorted by realm.
    pub per_realm: Vec<(String, Counters)>,
    /// Per policy id, sorted by id.
    pub per_policy: Vec<(String, Counters)>,
}

impl Metrics {
    pub(crate) fn record(
        &self,
        policy_id: &str,
        realm: &str,
        passed: bool,
        gas: u64,
        mana: u64,
        duration_us: u64,
    ) {
        self.all.record(passed, gas, mana, duration_us);
        for (map, key) in [(&self.per_realm, realm), (&self.per_policy, policy_id)] {
            match map.get(key) {
                Some(c) => c.record(passed, gas, mana, duration_us),
                None => {
                    map.entry(key.to_owned())
                        .or_default()
                        .record(passed, gas, mana, duration_us)
                }
            }
        }
    }

    /// Counters over all evaluations.
    pub fn all(&self) -> Counters {
        self.all.load()
    }

    /// Counters of one policy id.
    pub fn policy(&self, policy_id: &str) -> Counters {
        self.per_policy
            .get(policy_id)
            .map(|c| c.load())
            .unwrap_or_default()
    }

    /// Counters of one realm.
    pub fn realm(&self, realm: &str) -> Counters {
        self.per_realm
            .get(realm)
            .map(|c| c.load())
            .unwrap_or_default()
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let sorted = |map: &DashMap<String, AtomicCounters>| {
            let mut v: Vec<_> = map
                .iter()
                .map(|e| (e.key().clone(), e.value().load()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        MetricsSnapshot {
            all: self.all(),
            per_realm: sorted(&self.per_realm),
            per_policy: sorted(&self.per_policy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_scope_and_averages_duration() {
        let m = Metrics::default();
        m.record("p", "r1", true, 10, 1, 100);
        m.record("p", "r2", false, 30, 0, 300);
        let all = m.all();
        assert_eq!(
            (
                all.executed,
                all.passed,
                all.denied,
                all.gas_total,
                all.mana_total
            ),
            (2, 1, 1, 40, 1)
        );
        assert_eq!(all.avg_duration_us, 200.0);
        assert_eq!(m.realm("r1").executed, 1);
        assert_eq!(m.policy("p").executed, 2);
        assert_eq!(m.policy("other"), Counters::default());
        assert_eq!(m.snapshot().per_realm.len(), 2);
    }
}
