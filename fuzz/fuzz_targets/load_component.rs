//! The whole admission and load path on hostile bytes: arbitrary bytes, the
//! same bytes signed by a trusted key, and a valid policy with bytes flipped
//! and signed again. Never a panic, never a hang; whatever loads evaluates
//! to an answer under a small budget.

#![no_main]

use std::sync::{Arc, OnceLock};

use erynoa_host::{
    BudgetLimits, ComponentEngine, EngineConfig, Policy, Request, Trust, TrustStore, UnifiedState,
};
use erynoa_sign::{SigningKey, keys, sign};
use libfuzzer_sys::fuzz_target;

struct Setup {
    engine: ComponentEngine,
    key: SigningKey,
    valid: Vec<u8>,
    state: Arc<UnifiedState>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let key = SigningKey::from_bytes(&[9; 32]);
        let line = keys::public_key_openssh(&key.verifying_key(), "fuzz");
        let store = TrustStore::from_toml(&format!(
            "[[key]]\nname = \"fuzz\"\npublic_key = \"{line}\"\ncapabilities = \
             [\"trust\", \"identity\", \"state\", \"budget\", \"context\", \"events\", \"self-metering\"]\n"
        ))
        .expect("trust store");
        let config = EngineConfig {
            // The sanitizer's shadow memory and the pool's reservations do not mix.
            pooling: false,
            max_functions: 2_000,
            ..EngineConfig::default()
        };
        let engine = ComponentEngine::new(config)
            .expect("engine")
            .with_trust(Trust::Store(store));
        let program = erynoa_ecl::compile(
            include_str!("../../guest-examples/ecl/quota.ecl"),
            None,
        )
        .expect("ECL");
        let valid = erynoa_ecl::component::compile(&program).expect("component");
        let state = Arc::new(
            UnifiedState::from_json(r#"{"trust": {"did:erynoa:self:alice": 0.9}}"#).expect("state"),
        );
        Setup {
            engine,
            key,
            valid,
            state,
        }
    })
}

fn load_and_run(s: &Setup, bytes: &[u8]) {
    let Ok(policy) = s.engine.load_component("fuzz", bytes) else {
        return;
    };
    let limits = BudgetLimits {
        gas_limit: 200_000,
        timeout_ms: 50,
        ..BudgetLimits::default()
    };
    let request = Request::builder("did:erynoa:self:alice", "r").build();
    let e = policy.evaluate(&s.state, &request, limits);
    // A policy may deny without a reason (the contract's `option<string>`,
    // ECL's `return false`); when the host denies, it always says why.
    if let Some(failure) = &e.failure {
        assert!(!e.is_allowed(), "{e:?}");
        assert_eq!(e.reason, Some(failure.to_string()), "{e:?}");
    }
    // Fails closed: only an allow applies its changes.
    assert!(e.is_allowed() || !e.changes.committed, "{e:?}");
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    // Arbitrary bytes, unsigned: refused before anything is compiled.
    assert!(s.engine.load_component("fuzz", data).is_err());
    // The same bytes signed by the trusted key: through the compiler.
    if let Ok(signed) = sign(data, &s.key) {
        load_and_run(s, &signed);
    }
    // A valid policy with bytes changed, then signed.
    let mut mutated = s.valid.clone();
    for pair in data.chunks_exact(3).take(8) {
        let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % mutated.len();
        mutated[at] ^= pair[2].max(1);
    }
    if let Ok(signed) = sign(&mutated, &s.key) {
        load_and_run(s, &signed);
    }
});
