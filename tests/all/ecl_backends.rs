//! ECL's two back ends agree: the legacy VM (the built-in engine) and the
//! compiled component give the same decision, reason, failure, gas per
//! layer, mana and state changes for the same policy, state and request.

use std::sync::Arc;

use erynoa_host::{
    BudgetLimits, BytecodeEngine, Evaluation, Policy, Request, Trust, UnifiedState, Value,
};

use super::{ALICE, BOB, engine};

pub const FIXTURE: &str = r#"{
    "trust": {
        "did:erynoa:self:alice": {"r": 0.9, "i": 0.8, "c": 0.7, "p": 0.6, "v": 0.5, "omega": 0.4},
        "did:erynoa:self:bob": 0.2
    },
    "identities": {"did:erynoa:self:alice": ["kyc", "email-verified"]},
    "stores": {"finance": {"quota": {"did:erynoa:self:alice": "2"}}}
}"#;

/// Runs `src` on both back ends and returns (vm, component).
pub fn both(
    src: &str,
    state: &str,
    request: &Request,
    limits: BudgetLimits,
) -> (Evaluation, Evaluation) {
    let program =
        erynoa_ecl::compile(src, None).unwrap_or_else(|d| panic!("{}", d.render("t.ecl", src)));
    let vm = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_source("p", src, None)
        .expect("vm loads");
    let wasm = erynoa_ecl::component::compile(&program).unwrap_or_else(|e| panic!("{src}: {e}"));
    let component = engine()
        .load_component("p", &wasm)
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    let s1 = Arc::new(UnifiedState::from_json(state).expect("fixture"));
    let s2 = Arc::new(UnifiedState::from_json(state).expect("fixture"));
    (
        vm.evaluate(&s1, request, limits),
        component.evaluate(&s2, request, limits),
    )
}

/// Asserts both back ends agree on everything a user sees.
pub fn agree(src: &str, state: &str, request: &Request, limits: BudgetLimits) -> Evaluation {
    let (vm, wasm) = both(src, state, request, limits);
    let show = |e: &Evaluation| {
        format!(
            "{:?} {:?} {:?} gas={} layers={:?} mana={} changes={:?}",
            e.effect, e.reason, e.failure, e.gas_used, e.gas, e.mana_used, e.changes
        )
    };
    assert_eq!(show(&vm), show(&wasm), "\n{src}");
    vm
}

fn alice() -> Request {
    Request::builder(ALICE, "finance")
        .action("transfer")
        .param("amount", Value::Number(250.0))
        .param("note", Value::Text("hi".into()))
        .param("flag", Value::Bool(true))
        .param("to", Value::Did(BOB.into()))
        .build()
}

fn run(src: &str) -> Evaluation {
    agree(src, FIXTURE, &alice(), BudgetLimits::default())
}

#[test]
fn trust_credentials_and_decisions() {
    let e = run(r#"policy "t" { require caller.trust.R >= 0.5, "low trust"  allow }"#);
    assert!(e.is_allowed());
    let e = run(r#"policy "t" { require load_trust(param("to")).R >= 0.5, "low trust" }"#);
    assert_eq!(e.reason.as_deref(), Some("low trust"));
    let e = run(
        r#"policy "t" { require credential("kyc") && has_credential(caller, "email-verified") }"#,
    );
    assert!(e.is_allowed());
    let e = run(r#"policy "t" { if !credential("admin") { deny "not an admin" } }"#);
    assert_eq!(e.reason.as_deref(), Some("not an admin"));
    run(r#"policy "t" { return trust_norm(caller.trust) > 0.6 }"#);
    run(r#"policy "t" { require resolve_did(param("to")) || false }"#);
    run(r#"policy "t" { return balance() == 0 }"#);
    run(r#"policy "t" { require trust_above_threshold(caller.trust, 0.45) }"#);
    run(
        r#"policy "t" { return trust_distance(caller.trust, load_trust(did("did:erynoa:self:bob"))) > 0.5 }"#,
    );
    run(r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 0, 0, 0, 0, 1]) > 0.6 }"#);
    run(
        r#"policy "t" { return trust_combine(caller.trust, trust_vector(0.5, 0.5, 0.5, 0.5, 0.5, 0.5)).omega > 0.6 }"#,
    );
}

#[test]
fn arithmetic_params_locals_and_control_flow() {
    run(r#"policy "t" { let a = 3  let b = a * 2 + a  return b == 9 }"#);
    run(
        r#"policy "t" { let x = param("amount")  if x > 1000 { deny "too much" } else if x > 100 { return x % 7 == 5 } else { allow } }"#,
    );
    run(r#"policy "t" { return param("missing") == null && param("flag") }"#);
    run(
        r#"policy "t" { return min(1, 2) + max(-0, 0) + clamp(5, 0, 3) + lerp(0, 10, 0.5) + abs(-2) + round(2.5) + floor(1.5) + ceil(1.2) == 17 }"#,
    );
    run(r#"policy "t" { return sqrt(16) == 4 && surprisal(0.125) == 3 }"#);
    run(
        r#"policy "t" { return str_len(param("note")) == 2 && str_contains("hello", "ell") && str_eq_ignore_case("ÄB", "äb") }"#,
    );
    run(
        r#"policy "t" { return "admin" in ["user", "admin"] && len([1, 2, 3]) == 3 && [1, "a"][1] == "a" }"#,
    );
    run(r#"policy "t" { return time_since(now() - 100) == 100 }"#);
    run(
        r#"policy "t" { return num(str(param("amount"))) == 250 && str(1.5) == "1.5" && str(true) == "true" }"#,
    );
    run(r#"policy "t" { return realm == "finance" && caller == did("did:erynoa:self:alice") }"#);
}

#[test]
fn state_events_and_logs() {
    let src = r#"policy "quota" {
        let used = store_get("quota", caller)
        let n = if_null(used)
        store_put("quota", caller, str(n + 1))
        emit_event("quota.used", str(n + 1))
        log("counted")
        emit "done"
        allow
    }"#;
    let src = src.replace("if_null(used)", "num(str(used))");
    let e = run(&src);
    assert!(e.is_allowed());
    let e = run(
        r#"policy "t" { let existed = store_delete("quota", caller)  store_put("quota", "x", "1")  return !existed }"#,
    );
    assert!(!e.is_allowed());
}

#[test]
fn runtime_errors_fail_closed_alike() {
    for src in [
        r#"policy "t" { return 1 / (param("amount") - 250) }"#,
        r#"policy "t" { return param("amount") % 0 == 1 }"#,
        r#"policy "t" { return param("note") + 1 > 0 }"#,
        r#"policy "t" { return sqrt(-param("amount")) > 0 }"#,
        r#"policy "t" { return surprisal(param("amount")) > 0 }"#,
        r#"policy "t" { return clamp(1, param("amount"), 0) > 0 }"#,
        r#"policy "t" { return [1, 2][param("amount")] == 1 }"#,
        r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 2]) > 0 }"#,
        r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 2, 3, 4, 5, "x"]) > 0 }"#,
        r#"policy "t" { return num(param("note")) > 0 }"#,
        r#"policy "t" { return str([1][0] == 1) == "true" && str(param("to")) == "x" }"#,
        r#"policy "t" { return load_trust("not-a-did").R > 0 }"#,
        r#"policy "t" { return param("amount") }"#,
        r#"policy "t" { return "text" }"#,
        r#"policy "t" { require param("note") }"#,
        r#"policy "t" { deny param("amount") }"#,
    ] {
        let e = run(src);
        assert!(!e.is_allowed(), "{src}");
    }
}

#[test]
fn running_out_of_gas_stops_at_the_same_instruction() {
    let src = r#"policy "t" {
        let a = param("amount") * 2 + 1 - 3 * 4
        require caller.trust.R > 0.1
        let b = a + a + a + a + a + a + a + a
        require b > 0, "negative"
        allow
    }"#;
    for gas in 0..80 {
        let limits = BudgetLimits {
            gas_limit: gas,
            ..BudgetLimits::default()
        };
        agree(src, FIXTURE, &alice(), limits);
    }
    let e = agree(
        src,
        FIXTURE,
        &Request::builder(BOB, "finance").build(),
        BudgetLimits::default(),
    );
    assert!(!e.is_allowed());
}
