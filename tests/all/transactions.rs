//! Writes and events are all-or-nothing: committed on allow, discarded otherwise.

use std::sync::Arc;

use erynoa_host::{BudgetLimits, Policy, Request, StateEvent};

use crate::{ALICE, eval, load, state};

fn emitted(s: &erynoa_host::UnifiedState) -> usize {
    s.events()
        .iter()
        .filter(|e| matches!(e, StateEvent::PolicyEmitted { .. }))
        .count()
}

#[test]
fn a_deny_discards_writes_and_events() {
    let p = load("hostile");
    let s = state("{}");
    let e = eval(
        &p,
        &s,
        &Request::builder(ALICE, "r")
            .action("write-then-deny")
            .build(),
    );
    assert!(!e.is_allowed());
    assert!(!e.changes.committed);
    assert_eq!(e.changes.writes.len(), 1, "the discarded write is reported");
    assert_eq!(s.store_get("r", "s", "k"), None);
    assert_eq!(emitted(&s), 0);
}

#[test]
fn a_trap_discards_writes() {
    let p = load("hostile");
    let s = state("{}");
    let e = eval(
        &p,
        &s,
        &Request::builder(ALICE, "r")
            .action("write-then-trap")
            .build(),
    );
    assert_eq!(e.failure.as_ref().map(|f| f.kind()), Some("trap"), "{e:?}");
    assert_eq!(s.store_get("r", "s", "k"), None);
}

#[test]
fn running_out_of_budget_discards_writes() {
    let p = load("quota");
    let s = state("{}");
    // Enough gas to start, not enough to finish.
    let limits = BudgetLimits {
        gas_limit: 2_000,
        ..BudgetLimits::default()
    };
    let e = p.evaluate(&s, &Request::builder(ALICE, "r").build(), limits);
    assert_eq!(
        e.failure.as_ref().map(|f| f.kind()),
        Some("out-of-gas"),
        "{e:?}"
    );
    assert_eq!(s.store_get("r", "quota", ALICE), None);
    assert_eq!(emitted(&s), 0);
}

#[test]
fn an_allow_commits_writes_and_events_together() {
    let p = load("quota");
    let s = state("{}");
    let e = eval(&p, &s, &Request::builder(ALICE, "r").build());
    assert!(e.changes.committed);
    assert_eq!(e.changes.writes.len(), 1);
    assert_eq!(e.changes.events.len(), 1);
    assert_eq!(s.store_get("r", "quota", ALICE).as_deref(), Some("1"));
    assert_eq!(emitted(&s), 1);
}

#[test]
fn concurrent_quota_evaluations_never_lose_a_count() {
    // Two threads race on one caller's count. Each allowed evaluation must
    // be counted exactly once: the final count equals the number of allows.
    let p = Arc::new(load("quota"));
    let s = state("{}");
    let req = Request::builder(ALICE, "r")
        .param("limit", erynoa_host::Value::Number(1e9))
        .build();
    let allowed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (p, s, req) = (Arc::clone(&p), Arc::clone(&s), req.clone());
                scope.spawn(move || (0..100).filter(|_| eval(&p, &s, &req).is_allowed()).count())
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    let count: usize = s
        .store_get("r", "quota", ALICE)
        .expect("count")
        .parse()
        .expect("number");
    assert_eq!(count, allowed);
    assert!(
        allowed > 150,
        "conflicts are retried, not denied wholesale ({allowed} of 200)"
    );
}

/// A hot key: four threads, two policies (the Rust quota and the ECL one on
/// the VM), one counter. Contention alone must never deny: after the
/// optimistic attempts an evaluation runs alone in its realm.
#[test]
fn a_hot_key_never_turns_an_allow_into_a_conflict() {
    let rust: Arc<dyn Policy> = Arc::new(load("quota"));
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../guest-examples/ecl/quota.ecl"
    ))
    .expect("ecl quota");
    let ecl: Arc<dyn Policy> = Arc::new(
        erynoa_host::BytecodeEngine::new(erynoa_host::Trust::AllowUnsigned)
            .load_source("quota", &source, None)
            .expect("loads"),
    );
    let s = state("{}");
    let req = Request::builder(ALICE, "r")
        .param("limit", erynoa_host::Value::Number(1e9))
        .build();
    let (allowed, conflicts): (usize, usize) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let p = if t % 2 == 0 {
                    rust.clone()
                } else {
                    ecl.clone()
                };
                let (s, req) = (Arc::clone(&s), req.clone());
                scope.spawn(move || {
                    let mut counts = (0, 0);
                    for _ in 0..500 {
                        let e = p.evaluate(&s, &req, BudgetLimits::default());
                        if e.is_allowed() {
                            counts.0 += 1;
                        } else if e.failure.as_ref().map(|f| f.kind()) == Some("conflict") {
                            counts.1 += 1;
                        }
                    }
                    counts
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(conflicts, 0, "contention denied {conflicts} of 2000");
    assert_eq!(allowed, 2000);
    let count: usize = s
        .store_get("r", "quota", ALICE)
        .expect("count")
        .parse()
        .expect("number");
    assert_eq!(count, allowed);
}
