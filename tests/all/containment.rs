//! Hostile guests end as a deny with the right reason, and the host keeps
//! serving the next request.

use erynoa_host::{BudgetLimits, Effect, Evaluation, Policy, Request};

use crate::{ALICE, engine, eval, load, state};

fn hostile(action: &str, limits: BudgetLimits) -> Evaluation {
    let p = load("hostile");
    let s = state(r#"{"trust": {"did:erynoa:self:alice": 0.9}, "clock": 1700000000}"#);
    let e = p.evaluate(
        &s,
        &Request::builder(ALICE, "r").action(action).build(),
        limits,
    );
    assert_eq!(e.effect, Effect::Deny, "{action}: {e:?}");
    // The same loaded policy serves the next request normally.
    let next = eval(
        &p,
        &s,
        &Request::builder(ALICE, "r").action("nothing").build(),
    );
    assert!(next.is_allowed(), "after {action}: {next:?}");
    e
}

fn kind(e: &Evaluation) -> &'static str {
    e.failure.as_ref().map_or("none", |f| f.kind())
}

#[test]
fn an_infinite_loop_runs_out_of_gas() {
    let e = hostile("loop", BudgetLimits::default());
    assert_eq!(kind(&e), "out-of-gas");
    assert_eq!(
        e.reason.as_deref(),
        Some("out-of-gas: used 1000001 of 1000000 gas")
    );
}

#[test]
fn an_infinite_loop_with_unlimited_gas_hits_the_deadline() {
    let limits = BudgetLimits {
        gas_limit: u64::MAX / 2,
        timeout_ms: 50,
        ..BudgetLimits::default()
    };
    let e = hostile("loop", limits);
    assert_eq!(kind(&e), "timeout");
    assert_eq!(
        e.reason.as_deref(),
        Some("timeout: deadline of 50 ms passed")
    );
}

#[test]
fn a_memory_growth_bomb_hits_the_memory_cap() {
    let limits = BudgetLimits {
        gas_limit: u64::MAX / 2,
        ..BudgetLimits::default()
    };
    let e = hostile("grow", limits);
    assert_eq!(kind(&e), "memory", "{e:?}");
    assert!(
        e.reason
            .as_deref()
            .is_some_and(|r| r.ends_with("limit is 16777216")),
        "{e:?}"
    );
}

#[test]
fn unbounded_recursion_is_contained() {
    // Rust guests keep their frames on a 32 KiB shadow stack in linear
    // memory (see xtask); it runs out before wasmtime's native stack does,
    // and running out of it is an out-of-bounds access below address 0.
    let limits = BudgetLimits {
        gas_limit: u64::MAX / 2,
        ..BudgetLimits::default()
    };
    let e = hostile("recurse", limits);
    assert_eq!(kind(&e), "trap");
    assert_eq!(
        e.reason.as_deref(),
        Some("trap: wasm trap: out of bounds memory access")
    );
}

#[test]
fn recursion_on_the_native_stack_is_a_stack_deny() {
    // Frames that live only in wasm locals use wasmtime's stack, whose
    // overflow is reported as `stack`.
    let limits = BudgetLimits {
        gas_limit: u64::MAX / 2,
        ..BudgetLimits::default()
    };
    let e = hostile("recurse-native", limits);
    assert_eq!(kind(&e), "stack", "{e:?}");
    assert_eq!(e.reason.as_deref(), Some("stack: stack overflow"));
}

#[test]
fn a_panic_is_a_trap() {
    // Guests are built with immediate-abort panics (no WASI, no formatting
    // machinery), so the trap is all the host sees of a panic.
    let e = hostile("panic", BudgetLimits::default());
    assert_eq!(kind(&e), "trap");
    assert_eq!(
        e.reason.as_deref(),
        Some("trap: wasm trap: wasm `unreachable` instruction executed"),
        "{e:?}"
    );
}

#[test]
fn a_huge_reason_is_refused() {
    // Building a 1 MiB string takes more than the default gas: give it room.
    let limits = BudgetLimits {
        gas_limit: 100_000_000,
        ..BudgetLimits::default()
    };
    let e = hostile("huge-reason", limits);
    assert_eq!(kind(&e), "invalid-decision");
    assert_eq!(
        e.reason.as_deref(),
        Some("invalid decision: reason of 1048576 bytes is longer than the limit of 4096")
    );
}

#[test]
fn a_flood_of_host_calls_runs_out_of_gas() {
    for action in ["flood", "spin-host"] {
        let e = hostile(action, BudgetLimits::default());
        assert_eq!(kind(&e), "out-of-gas", "{action}");
        assert!(
            e.gas.network > 0 || e.gas.storage > 0,
            "host calls were charged: {e:?}"
        );
    }
}

#[test]
fn time_is_the_evaluation_time() {
    let p = load("hostile");
    let s = state(r#"{"clock": 1700000000}"#);
    let e = eval(
        &p,
        &s,
        &Request::builder(ALICE, "r").action("clock").build(),
    );
    assert_eq!(e.reason.as_deref(), Some("1700000000"), "{e:?}");
}

#[test]
fn the_engine_survives_every_hostile_guest_in_a_row() {
    let p = load("hostile");
    let s = state("{}");
    let limits = BudgetLimits {
        timeout_ms: 200,
        ..BudgetLimits::default()
    };
    for action in [
        "loop",
        "grow",
        "recurse",
        "panic",
        "huge-reason",
        "flood",
        "nothing",
    ] {
        p.evaluate(
            &s,
            &Request::builder(ALICE, "r").action(action).build(),
            limits,
        );
    }
    assert_eq!(s.metrics().all().executed, 7);
    assert_eq!(s.metrics().all().passed, 1);
    // And a different policy on the same engine still works.
    let t = engine()
        .load_component("t", &crate::guest_bytes("trust_threshold"))
        .expect("load");
    assert!(!eval(&t, &s, &Request::builder(ALICE, "r").build()).is_allowed());
}
