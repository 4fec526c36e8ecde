//! Attacks by a plugin author: a component signed with a trusted key that
//! tries to run longer, use more, or do more than its budget allows.

use std::time::{Duration, Instant};

use erynoa_host::{BudgetLimits, ComponentEngine, Policy, PolicyEngine, Trust};

use crate::components::{
    four_memories, many_functions, prelude_burner, self_metered_spin, spin, wasi_clock_reader,
};
use crate::{Bound, engine, evaluate, kind, load, one_at_a_time, signed, store_with};

const SECOND: Duration = Duration::from_secs(1);

fn bound(within: Duration) -> Bound {
    Bound {
        within,
        memory_mib: 32,
    }
}

#[test]
fn the_deadline_holds_after_the_engine_is_dropped() {
    let _one = one_at_a_time();
    // As `erynoa run` and `erynoa bench` do: the engine goes, the policy stays.
    let policy = load(&engine(""), &spin()).expect("loads");
    let limits = BudgetLimits {
        gas_limit: 10_000_000_000,
        timeout_ms: 100,
        ..BudgetLimits::default()
    };
    let e = evaluate(&*policy, limits, bound(SECOND));
    assert_eq!(kind(&e), "timeout", "{e:?}");
    // What ran before the deadline is reported, not hidden by the stop.
    assert!(e.gas_used > 1_000_000, "{e:?}");
}

#[test]
fn self_metering_needs_its_own_grant() {
    let _one = one_at_a_time();
    let refused = load(&engine(r#""budget""#), &self_metered_spin())
        .map(|_| ())
        .expect_err("refused");
    assert!(refused.contains("not granted `self-metering`"), "{refused}");
}

#[test]
fn a_self_metered_guest_that_reports_nothing_is_stopped_by_fuel() {
    let _one = one_at_a_time();
    let policy = load(
        &engine(r#""budget", "self-metering""#),
        &self_metered_spin(),
    )
    .expect("loads");
    // 1M gas is at most 1M + 16 × 1M wasm instructions: well under a second.
    let e = evaluate(&*policy, BudgetLimits::default(), bound(SECOND));
    assert_eq!(kind(&e), "out-of-gas", "{e:?}");
    // The instructions it ran show in its gas, though it reported none.
    assert!(e.gas_used >= 1_000_000, "{e:?}");

    // Under a deadline shorter than its safety net, the deadline stops it,
    // and the gas says what ran.
    let limits = BudgetLimits {
        gas_limit: 10_000_000_000,
        timeout_ms: 100,
        ..BudgetLimits::default()
    };
    let e = evaluate(&*policy, limits, bound(SECOND));
    assert_eq!(kind(&e), "timeout", "{e:?}");
    assert!(e.gas_used > 100_000, "{e:?}");
}

#[test]
fn wasi_is_not_served() {
    let _one = one_at_a_time();
    let refused = load(&engine(""), &wasi_clock_reader())
        .map(|_| ())
        .expect_err("refused");
    assert!(
        refused.starts_with(
            "component imports `wasi:clocks/monotonic-clock@0.2.0`: this host serves no WASI"
        ),
        "{refused}"
    );
    // Unsigned development loads refuse it too: nothing serves it.
    let dev = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    assert!(dev.load("dev", &wasi_clock_reader()).is_err());
}

#[test]
fn prelude_calls_pay_for_their_arguments() {
    let _one = one_at_a_time();
    // No capability needed, and each call hashes 12 MiB of strings: the
    // calls must run out of gas, long before the deadline.
    let limits = BudgetLimits {
        timeout_ms: 1_000,
        ..BudgetLimits::default()
    };
    let policy = load(&engine(""), &prelude_burner(false)).expect("loads");
    let e = evaluate(&*policy, limits, bound(SECOND));
    assert_eq!(kind(&e), "out-of-gas", "{e:?}");

    // Self-metered, its gas must stay the VM's: the work is paid from its
    // fuel safety net instead, which runs out as fast.
    let policy = load(
        &engine(r#""budget", "self-metering""#),
        &prelude_burner(true),
    )
    .expect("loads");
    let e = evaluate(&*policy, limits, bound(SECOND));
    assert_eq!(kind(&e), "out-of-gas", "{e:?}");
}

#[test]
fn the_memory_cap_holds_for_the_whole_instance() {
    let _one = one_at_a_time();
    let policy = load(&engine(""), &four_memories(959)).expect("loads");
    // Four memories of 60 MiB each under a 64 MiB cap: refused as a whole.
    let limits = BudgetLimits {
        gas_limit: 100_000_000,
        memory_limit_bytes: 64 << 20,
        ..BudgetLimits::default()
    };
    let e = evaluate(
        &*policy,
        limits,
        Bound {
            within: SECOND,
            memory_mib: 64 + 16,
        },
    );
    assert_eq!(kind(&e), "memory", "{e:?}");

    // Four of 3 MiB fit in 16 MiB together.
    let small = load(&engine(""), &four_memories(48)).expect("loads");
    let e = evaluate(&*small, BudgetLimits::default(), bound(SECOND));
    assert!(e.is_allowed(), "{e:?}");
}

#[test]
fn a_component_too_costly_to_compile_is_refused_first() {
    let _one = one_at_a_time();
    let bomb = signed(&many_functions(25_000));
    let started = Instant::now();
    let refused = engine("")
        .load_component("bomb", &bomb)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(started.elapsed() < SECOND, "took {:?}", started.elapsed());
    assert!(
        refused.starts_with("component has 2")
            && refused.ends_with("functions; this engine's limit is 20000 (see `EngineConfig`)"),
        "{refused}"
    );
}

#[test]
fn junk_signatures_cost_little_and_say_little() {
    let _one = one_at_a_time();
    use erynoa_sign::{SignatureData, SignatureEntry, SignedHashes};
    // 16 sets of 1,024 signatures with no key id: each would be tried against
    // every trusted key.
    let junk = SignatureData {
        signed_hashes: (0..16)
            .map(|i| SignedHashes {
                hashes: vec![[i as u8; 32]],
                signatures: (0..1024)
                    .map(|_| SignatureEntry {
                        key_id: Vec::new(),
                        signature: vec![7; 64],
                    })
                    .collect(),
            })
            .collect(),
    };
    let component = spin();
    let mut bytes = component[..8].to_vec();
    use wasm_encoder::ComponentSection as _;
    wasm_encoder::CustomSection {
        name: "signature".into(),
        data: junk.encode().into(),
    }
    .append_to_component(&mut bytes);
    bytes.extend_from_slice(&component[8..]);
    let started = Instant::now();
    let refused = engine("")
        .load_component("junk", &bytes)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );
    assert!(refused.len() < 300, "{} bytes: {refused}", refused.len());
    assert!(refused.contains("more than 32 signatures"), "{refused}");
}

#[test]
fn a_policy_id_pinned_to_a_digest_or_signer_takes_nothing_else() {
    let _one = one_at_a_time();
    let good = signed(&spin());
    let other = signed(&four_memories(1));
    let admitted = engine("")
        .load_component("free", &good)
        .expect("loads")
        .info()
        .admission
        .as_ref()
        .expect("admitted")
        .digest
        .clone();
    let pinned = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::Store(store_with(
            "",
            &format!("[[policy]]\nid = \"kyc\"\ndigests = [\"{admitted}\"]\n"),
        )));
    assert!(pinned.load_component("kyc", &good).is_ok());
    let refused = pinned
        .load_component("kyc", &other)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        refused.contains("policy `kyc` is pinned in the trust store"),
        "{refused}"
    );
    // Other ids are not pinned.
    assert!(pinned.load_component("other", &other).is_ok());

    let by_signer = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::Store(store_with(
            "",
            "[[policy]]\nid = \"kyc\"\nsigners = [\"mallory\"]\n",
        )));
    assert!(by_signer.load_component("kyc", &other).is_ok());
}
