//! ECL's back ends against each other and against Rust: the legacy VM, the
//! ECL component and the Rust component on the same workloads (trivial,
//! host-call heavy, arithmetic heavy), each evaluation with a fresh state
//! session and, for components, a fresh instance.
//!
//! Run: `cargo xtask build-guests && cargo bench -p erynoa-benches --bench ecl`

#![allow(
    clippy::panic,
    missing_docs,
    reason = "a benchmark binary: criterion macros, missing guests abort it"
)]

mod common;
use common::{STATE, guest};

use std::fmt::Write;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use erynoa_host::{
    BudgetLimits, ComponentEngine, ExecutionMode, Policy, Request, Trust, UnifiedState, Value,
};

/// Rounds of the arithmetic workload; the Rust guest uses the same.
const ROUNDS: u32 = 200;

/// The ECL version of each workload of `tests/guests/workloads`.
fn workloads() -> Vec<(&'static str, String)> {
    let mut hostcalls = String::from("policy \"hostcalls\" {\n");
    for _ in 0..10 {
        hostcalls.push_str("    require caller.trust.R > 0 && credential(\"kyc\"), \"no\"\n");
    }
    hostcalls.push_str("    allow\n}\n");
    let mut arith = String::from("policy \"arith\" {\n    let x0 = param(\"n\")\n");
    for i in 1..=ROUNDS {
        let p = i - 1;
        let _ = writeln!(
            arith,
            "    let x{i} = x{p} * 1.0001 + {i} % 7 - x{p} / 3 + ({i} * 0.5 - x{p}) / 4"
        );
    }
    let _ = writeln!(
        arith,
        "    require x{ROUNDS} > 0, \"negative\"\n    allow\n}}"
    );
    // Parameter-heavy: 100 parameters read once each, about 150
    // arithmetic operations (the sum of w_k * x_k * y_k over 50 pairs).
    let mut params = String::from("policy \"params\" {\n");
    for k in 1..=PAIRS {
        let _ = writeln!(
            params,
            "    let s{k} = {} * param(\"x{k}\") * param(\"y{k}\")",
            f64::from(k) / 100.0
        );
    }
    let sum: Vec<String> = (1..=PAIRS).map(|k| format!("s{k}")).collect();
    let _ = writeln!(
        params,
        "    require {} > 0, \"negative\"\n    allow\n}}",
        sum.join(" + ")
    );
    vec![
        ("trivial", "policy \"trivial\" { allow }\n".to_owned()),
        ("hostcalls", hostcalls),
        ("arith", arith),
        ("params", params),
    ]
}

/// Pairs of parameters of the parameter-heavy workload.
const PAIRS: u32 = 50;

fn backends(c: &mut Criterion) {
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    let rust = engine
        .load_component("workloads", &guest("workloads"))
        .expect("load");
    let state = Arc::new(UnifiedState::from_json(STATE).expect("state"));
    let limits = BudgetLimits::default();
    for (name, source) in workloads() {
        let mut request = Request::builder("did:erynoa:self:alice", "finance")
            .action(name)
            .param("n", Value::Number(3.0));
        if name == "params" {
            for k in 1..=PAIRS {
                request = request
                    .param(format!("x{k}"), Value::Number(f64::from(k)))
                    .param(format!("y{k}"), Value::Number(2.0));
            }
        }
        let request = request.build();
        let vm = engine
            .load_ecl(name, &source, None, ExecutionMode::Legacy)
            .expect("vm");
        let component = engine
            .load_ecl(name, &source, None, ExecutionMode::Wasm)
            .expect("component");
        let auto = engine
            .load_ecl(name, &source, None, ExecutionMode::Auto)
            .expect("auto");
        let mut engines: Vec<(&str, &dyn Policy)> = vec![
            ("ecl-vm", &*vm),
            ("ecl-component", &*component),
            ("ecl-auto", &*auto),
        ];
        // The Rust guest has the first three workloads.
        if name != "params" {
            engines.push(("rust-component", &rust));
        }
        let mut g = c.benchmark_group(format!("ecl/{name}"));
        for (label, policy) in engines {
            let answer = policy.evaluate(&state, &request, limits);
            assert!(answer.is_allowed(), "{label} {name}: {:?}", answer.reason);
            eprintln!("{name:>9} {label:<15} gas {:>6}", answer.gas_used);
            g.bench_function(label, |b| {
                b.iter(|| policy.evaluate(&state, &request, limits))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, backends);
criterion_main!(benches);
