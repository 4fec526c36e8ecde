//! The attack suite: hostile components written by hand (core wasm in WAT,
//! made into components with the `erynoa:ecl` world), signed in the test
//! with a key the host trusts, and hostile operator input. Each attack must
//! be refused with a reason that names it, or stopped within a stated time
//! and a stated growth of the process's resident memory.
//!
//! The attacks run one at a time (a lock), so that each one's time and peak
//! memory are its own.

#![allow(clippy::panic, reason = "test helpers fail the test by panicking")]

mod components;
mod host;
mod input;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use erynoa_host::{
    BudgetLimits, ComponentEngine, Evaluation, Policy, Request, Trust, TrustStore, UnifiedState,
};
use erynoa_sign::{SigningKey, keys};

/// The caller of every request.
pub const CALLER: &str = "did:erynoa:self:mallory";

/// Serializes the attacks: time and peak memory are measured per process.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The key the attacker signs with; the host trusts it.
pub fn attacker() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// A trust store trusting [`attacker`] with `capabilities` (TOML list items).
pub fn store(capabilities: &str) -> TrustStore {
    store_with(capabilities, "")
}

/// [`store`] with more TOML after the key.
pub fn store_with(capabilities: &str, more: &str) -> TrustStore {
    let line = keys::public_key_openssh(&attacker().verifying_key(), "mallory");
    TrustStore::from_toml(&format!(
        "[[key]]\nname = \"mallory\"\npublic_key = \"{line}\"\ncapabilities = [{capabilities}]\n\n{more}"
    ))
    .expect("trust store")
}

/// An engine trusting the attacker with `capabilities`.
pub fn engine(capabilities: &str) -> ComponentEngine {
    ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::Store(store(capabilities)))
}

/// `component`, signed by the attacker.
pub fn signed(component: &[u8]) -> Vec<u8> {
    erynoa_sign::sign(component, &attacker()).expect("sign")
}

/// Loads `component` signed by the attacker into `engine`, or the refusal.
pub fn load(engine: &ComponentEngine, component: &[u8]) -> Result<Arc<dyn Policy>, String> {
    engine
        .load_component("attack", &signed(component))
        .map(|p| Arc::new(p) as Arc<dyn Policy>)
        .map_err(|e| e.to_string())
}

/// What an attack may cost the host.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    /// Wall-clock time until the evaluation is answered.
    pub within: Duration,
    /// Growth of the process's peak resident memory, in MiB.
    pub memory_mib: u64,
}

/// Evaluates one request with `policy` under `limits` and checks the bound.
pub fn evaluate(policy: &dyn Policy, limits: BudgetLimits, bound: Bound) -> Evaluation {
    let state = Arc::new(UnifiedState::new());
    let request = Request::builder(CALLER, "realm").action("attack").build();
    let before = reset_peak_rss();
    let started = Instant::now();
    let e = policy.evaluate(&state, &request, limits);
    let took = started.elapsed();
    let grew = peak_rss_kib().saturating_sub(before) >> 10;
    assert!(
        took <= bound.within,
        "stopped after {took:?}, allowed {:?}: {e:?}",
        bound.within
    );
    assert!(
        grew <= bound.memory_mib,
        "peak resident memory grew by {grew} MiB, allowed {} MiB: {e:?}",
        bound.memory_mib
    );
    e
}

/// The failure kind of an evaluation, or `none`.
pub fn kind(e: &Evaluation) -> &'static str {
    e.failure.as_ref().map_or("none", |f| f.kind())
}

/// Resets the kernel's peak-RSS mark to the current RSS and returns it, in KiB.
fn reset_peak_rss() -> u64 {
    // Writing 5 to clear_refs resets VmHWM (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
