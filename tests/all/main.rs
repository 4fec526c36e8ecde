//! End-to-end tests: real components built by `cargo xtask build-guests`,
//! loaded into a real engine. One binary, a module per behaviour.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod bad_input;
mod cache;
mod containment;
mod ecl_backends;
mod examples;
mod signing;
mod transactions;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use erynoa_host::{
    BudgetLimits, ComponentEngine, ComponentPolicy, Evaluation, Policy, Request, Trust,
    UnifiedState,
};

/// A caller with trust and a `kyc` credential in the fixtures.
pub const ALICE: &str = "did:erynoa:self:alice";
/// A caller with low trust in the fixtures.
pub const BOB: &str = "did:erynoa:self:bob";

/// One engine for the whole test binary, as a server would have.
pub fn engine() -> &'static ComponentEngine {
    static ENGINE: OnceLock<ComponentEngine> = OnceLock::new();
    // These tests are about running policies; `signing.rs` covers admission.
    ENGINE.get_or_init(|| {
        ComponentEngine::new(Default::default())
            .expect("engine")
            .with_trust(Trust::AllowUnsigned)
    })
}

/// The bytes of a guest built by `cargo xtask build-guests`.
pub fn guest_bytes(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/guests/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first: `cargo xtask build-guests`",
            path.display()
        )
    })
}

/// Loads a built guest under its own name.
pub fn load(name: &str) -> ComponentPolicy {
    engine()
        .load_component(name, &guest_bytes(name))
        .expect("example loads")
}

/// A state from a JSON fixture.
pub fn state(json: &str) -> Arc<UnifiedState> {
    Arc::new(UnifiedState::from_json(json).expect("fixture"))
}

/// Evaluates with the default budget.
pub fn eval(policy: &ComponentPolicy, state: &Arc<UnifiedState>, request: &Request) -> Evaluation {
    policy.evaluate(state, request, BudgetLimits::default())
}
