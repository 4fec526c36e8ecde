//! Each example policy, end to end.

use erynoa_host::{Effect, GasLayer, Policy, PolicyInfo, Request, StateEvent, Value};

use crate::{ALICE, BOB, eval, load, state};

const FIXTURE: &str = r#"{
    "clock": 1700000000,
    "trust": {"did:erynoa:self:alice": {"r": 0.8, "i": 0.7, "c": 0.6, "p": 0.5, "v": 0.4, "omega": 0.3},
              "did:erynoa:self:bob": 0.3},
    "identities": {"did:erynoa:self:alice": ["kyc"], "did:erynoa:self:bob": ["kyc"]}
}"#;

#[test]
fn metadata_and_imports_are_read_at_load() {
    let p = load("trust_threshold");
    let PolicyInfo {
        name,
        version,
        engine,
        imports,
        ..
    } = p.info().clone();
    assert_eq!(
        (name.as_str(), version.as_str(), engine),
        ("trust-threshold", "1.0.0", "component")
    );
    assert!(
        imports.iter().any(|i| i == "erynoa:ecl/trust@0.1.0"),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.starts_with("erynoa:ecl/state")),
        "imports only what it uses: {imports:?}"
    );
}

#[test]
fn trust_threshold_allows_reliable_callers_and_explains_denies() {
    let p = load("trust_threshold");
    let s = state(FIXTURE);
    let allow = eval(&p, &s, &Request::builder(ALICE, "finance").build());
    assert_eq!(allow.effect, Effect::Allow, "{allow:?}");
    assert!(allow.failure.is_none());
    let deny = eval(&p, &s, &Request::builder(BOB, "finance").build());
    assert_eq!(deny.effect, Effect::Deny);
    assert_eq!(
        deny.reason.as_deref(),
        Some("reliability 0.30 is below 0.5")
    );
    assert!(deny.failure.is_none(), "a policy deny is not a failure");
    let newcomer = eval(
        &p,
        &s,
        &Request::builder("did:erynoa:self:carol", "finance").build(),
    );
    assert_eq!(
        newcomer.reason.as_deref(),
        Some("reliability 0.10 is below 0.5")
    );
}

#[test]
fn gas_is_fuel_plus_host_calls_per_layer() {
    let p = load("trust_threshold");
    let e = eval(
        &p,
        &state(FIXTURE),
        &Request::builder(ALICE, "finance").build(),
    );
    // One get-trust: 10 network gas at price 1.
    assert_eq!(e.gas.network, 10);
    assert_eq!(e.gas.storage, 0);
    // Every other unit of gas is an instruction, priced 10 on the compute layer.
    assert!(e.gas.compute > 0);
    assert_eq!(e.gas.compute, (e.gas_used - 10) * GasLayer::Compute.price());
    // Deterministic: the same request costs the same gas.
    let again = eval(
        &p,
        &state(FIXTURE),
        &Request::builder(ALICE, "finance").build(),
    );
    assert_eq!(again.gas_used, e.gas_used);
}

#[test]
fn kyc_score_combines_credential_and_weighted_trust() {
    let p = load("kyc_score");
    let s = state(FIXTURE);
    let alice = eval(&p, &s, &Request::builder(ALICE, "finance").build());
    // 0.25*0.8 + 0.25*0.7 + 0.15*0.6 + 0.15*0.5 + 0.1*0.4 + 0.1*0.3 = 0.61
    assert_eq!(
        (alice.effect, alice.reason.as_deref()),
        (Effect::Allow, Some("kyc and trust score 0.61"))
    );
    let bob = eval(&p, &s, &Request::builder(BOB, "finance").build());
    assert_eq!(bob.reason.as_deref(), Some("trust score 0.30 is below 0.6"));
    let carol = eval(
        &p,
        &s,
        &Request::builder("did:erynoa:self:carol", "finance").build(),
    );
    assert_eq!(
        carol.reason.as_deref(),
        Some("caller has no `kyc` credential")
    );
    assert_eq!(carol.gas.network, 5, "denied before the trust lookup");
}

#[test]
fn quota_counts_in_the_realm_store_and_emits_events() {
    let p = load("quota");
    let s = state(FIXTURE);
    let req = Request::builder(ALICE, "finance").build();
    for n in 1..=3 {
        let e = eval(&p, &s, &req);
        assert!(e.is_allowed(), "call {n}: {e:?}");
        assert!(e.changes.committed);
        assert_eq!(s.store_get("finance", "quota", ALICE), Some(n.to_string()));
        assert!(e.mana_used > 0, "writes and events cost mana");
    }
    let denied = eval(&p, &s, &req);
    assert_eq!(
        denied.reason.as_deref(),
        Some("quota of 3 used up (3 used)")
    );
    assert_eq!(s.store_get("finance", "quota", ALICE).as_deref(), Some("3"));
    // Other realms have their own count; parameters override the limit.
    assert!(eval(&p, &s, &Request::builder(ALICE, "social").build()).is_allowed());
    let raised = Request::builder(ALICE, "finance")
        .param("limit", Value::Number(5.0))
        .build();
    assert!(eval(&p, &s, &raised).is_allowed());

    let emitted: Vec<_> = s
        .events()
        .into_iter()
        .filter_map(|e| match e {
            StateEvent::PolicyEmitted {
                event_type,
                payload,
                realm_id,
                ..
            } => Some((event_type, payload, realm_id)),
            _ => None,
        })
        .collect();
    assert_eq!(emitted.len(), 5);
    assert_eq!(emitted[2].0, "quota.used");
    assert_eq!(emitted[2].1, format!(r#"{{"caller":"{ALICE}","used":3}}"#));
}

#[test]
fn every_evaluation_is_logged_and_counted() {
    let p = load("trust_threshold");
    let s = state(FIXTURE);
    eval(&p, &s, &Request::builder(ALICE, "finance").build());
    eval(&p, &s, &Request::builder(BOB, "finance").build());
    let evaluated: Vec<_> = s
        .events()
        .into_iter()
        .filter_map(|e| match e {
            StateEvent::PolicyEvaluated {
                policy_id,
                passed,
                gas_used,
                realm_id,
                admission,
                ..
            } => {
                assert_eq!(admission, None, "loaded unsigned");
                Some((policy_id, passed, gas_used > 0, realm_id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        evaluated,
        vec![
            ("trust_threshold".into(), true, true, Some("finance".into())),
            (
                "trust_threshold".into(),
                false,
                true,
                Some("finance".into())
            )
        ]
    );
    let m = s.metrics().all();
    assert_eq!((m.executed, m.passed, m.denied), (2, 1, 1));
    assert_eq!(s.metrics().policy("trust_threshold").executed, 2);
    assert_eq!(s.metrics().realm("finance").denied, 1);
}

#[test]
fn instances_are_fresh_per_evaluation() {
    // The same request twice costs exactly the same: nothing (allocator state,
    // globals) carries over from one evaluation to the next.
    let p = load("kyc_score");
    let s = state(FIXTURE);
    let req = Request::builder(ALICE, "finance").build();
    let gas: Vec<u64> = (0..3).map(|_| eval(&p, &s, &req).gas_used).collect();
    assert!(gas.windows(2).all(|w| w[0] == w[1]), "{gas:?}");
}
