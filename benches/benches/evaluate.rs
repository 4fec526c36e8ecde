//! Compile, instantiate and evaluate the example policies (a) trust-threshold
//! and (b) kyc-score, with a fresh instance per evaluation; and throughput on
//! 1 and 2 threads sharing one engine.
//!
//! Run: `cargo xtask build-guests && cargo bench -p erynoa-benches`

#![allow(
    clippy::panic,
    missing_docs,
    reason = "a benchmark binary: criterion macros, missing guests abort it"
)]

mod common;
use common::{STATE, guest};

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use erynoa_host::{
    BudgetLimits, ComponentEngine, ComponentPolicy, Policy, Request, Trust, UnifiedState,
};

const EXAMPLES: [&str; 2] = ["trust_threshold", "kyc_score"];

struct Fixture {
    policy: ComponentPolicy,
    state: Arc<UnifiedState>,
    request: Request,
}

fn fixture(engine: &ComponentEngine, name: &str) -> Fixture {
    Fixture {
        policy: engine.load_component(name, &guest(name)).expect("load"),
        state: Arc::new(UnifiedState::from_json(STATE).expect("state")),
        request: Request::builder("did:erynoa:self:alice", "finance")
            .action("transfer")
            .build(),
    }
}

fn compile(c: &mut Criterion) {
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for name in EXAMPLES {
        let bytes = guest(name);
        g.bench_function(name, |b| {
            b.iter(|| engine.load_component(name, &bytes).expect("load"))
        });
    }
}

fn instantiate(c: &mut Criterion) {
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    let mut g = c.benchmark_group("instantiate");
    for name in EXAMPLES {
        let f = fixture(&engine, name);
        g.bench_function(name, |b| b.iter(|| f.policy.probe().expect("instantiate")));
    }
}

fn evaluate(c: &mut Criterion) {
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    let mut g = c.benchmark_group("evaluate-fresh-instance");
    for name in EXAMPLES {
        let f = fixture(&engine, name);
        assert!(
            f.policy
                .evaluate(&f.state, &f.request, BudgetLimits::default())
                .is_allowed()
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                f.policy
                    .evaluate(&f.state, &f.request, BudgetLimits::default())
            })
        });
    }
}

/// Evaluations per second with `threads` threads sharing one engine and policy.
fn throughput(c: &mut Criterion) {
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    let mut g = c.benchmark_group("throughput");
    g.throughput(Throughput::Elements(1));
    for name in EXAMPLES {
        let f = Arc::new(fixture(&engine, name));
        for threads in [1u64, 2] {
            g.bench_with_input(
                BenchmarkId::new(name, format!("{threads}-threads")),
                &threads,
                |b, &threads| {
                    b.iter_custom(|iters| {
                        let per_thread = iters.div_ceil(threads);
                        let started = Instant::now();
                        std::thread::scope(|s| {
                            for _ in 0..threads {
                                let f = Arc::clone(&f);
                                s.spawn(move || {
                                    for _ in 0..per_thread {
                                        f.policy.evaluate(
                                            &f.state,
                                            &f.request,
                                            BudgetLimits::default(),
                                        );
                                    }
                                });
                            }
                        });
                        // Time per evaluation across all threads: lower is more throughput.
                        let total = started.elapsed();
                        Duration::from_secs_f64(
                            total.as_secs_f64() * iters as f64 / (per_thread * threads) as f64,
                        )
                    });
                },
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = evaluate, instantiate, throughput, compile
}
criterion_main!(benches);
