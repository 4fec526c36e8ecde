//! Unit-test policies natively, with plain `cargo test` and no wasm.
//!
//! [`TestHost`] plays the host: it holds trust vectors, credentials and
//! stores in memory, charges host calls the gas the real host charges,
//! buffers writes and events, and applies them only when the policy allows.
//! Instructions cost nothing natively; only host calls are metered.
//!
//! ```
//! use erynoa_sdk::prelude::*;
//! use erynoa_sdk::testing::TestHost;
//!
//! struct Counter;
//! impl Policy for Counter {
//!     const NAME: &'static str = "counter";
//!     const VERSION: &'static str = "0.1.0";
//!     fn evaluate(req: &Request) -> Result<Decision> {
//!         let n: u32 = state::get("hits", req.caller())?.map_or(0, |v| v.parse().unwrap_or(0));
//!         state::put("hits", req.caller(), &(n + 1).to_string())?;
//!         Ok(Decision::allow())
//!     }
//! }
//!
//! let mut host = TestHost::new();
//! let req = Request::new("did:erynoa:self:alice", "realm");
//! host.evaluate::<Counter>(&req);
//! host.evaluate::<Counter>(&req);
//! assert_eq!(host.store("realm", "hits", "did:erynoa:self:alice"), Some("2"));
//! ```

#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use erynoa_core::calls::{check_did, check_event, check_store_key, check_value};
use erynoa_core::{BudgetLimits, Exhaustion, HostCall, Meter};

use crate::context::Level;
use crate::{Decision, GasLayer, Policy, Request, Result, TrustVector};

/// An in-memory stand-in for the Erynoa host.
#[derive(Debug, Clone)]
pub struct TestHost {
    trust: HashMap<String, TrustVector>,
    credentials: HashMap<String, BTreeSet<String>>,
    /// (realm, store) -> key -> value
    stores: BTreeMap<(String, String), BTreeMap<String, String>>,
    events: Vec<(String, String)>,
    limits: BudgetLimits,
    timestamp: u64,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The policy's decision, or why there was none: the policy's error, an
    /// exhausted budget (`out-of-gas: ...`) or a panic (`panic: ...`).
    pub result: std::result::Result<Decision, String>,
    /// Writes as (store, key, value or `None` for a delete), sorted.
    pub writes: Vec<(String, String, Option<String>)>,
    /// Events as (type, payload).
    pub events: Vec<(String, String)>,
    /// Whether writes and events were applied (the decision was allow).
    pub committed: bool,
    /// Lines the policy logged.
    pub logs: Vec<(Level, String)>,
    /// Gas charged by host calls.
    pub gas_used: u64,
    /// Mana charged.
    pub mana_used: u64,
}

impl Outcome {
    /// Whether the request was allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(&self.result, Ok(d) if d.is_allowed())
    }

    /// The deny or allow reason, or the failure.
    pub fn reason(&self) -> Option<&str> {
        match &self.result {
            Ok(d) => d.reason(),
            Err(e) => Some(e),
        }
    }
}

impl TestHost {
    /// No trust (everyone a newcomer), no credentials, empty stores, default
    /// budget, clock at 1,700,000,000.
    pub fn new() -> Self {
        Self {
            trust: HashMap::new(),
            credentials: HashMap::new(),
            stores: BTreeMap::new(),
            events: Vec::new(),
            limits: BudgetLimits::default(),
            timestamp: 1_700_000_000,
        }
    }

    /// Gives `did` a trust vector.
    #[must_use]
    pub fn trust(mut self, did: &str, tv: TrustVector) -> Self {
        self.trust.insert(did.to_owned(), tv);
        self.credentials.entry(did.to_owned()).or_default();
        self
    }

    /// Gives `did` a credential of `schema`.
    #[must_use]
    pub fn credential(mut self, did: &str, schema: &str) -> Self {
        self.credentials
            .entry(did.to_owned())
            .or_default()
            .insert(schema.to_owned());
        self
    }

    /// Sets `key` in `store` of `realm`.
    #[must_use]
    pub fn with_store(mut self, realm: &str, store: &str, key: &str, value: &str) -> Self {
        self.stores
            .entry((realm.to_owned(), store.to_owned()))
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the gas limit.
    #[must_use]
    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.limits.gas_limit = gas;
        self
    }

    /// Sets the mana limit.
    #[must_use]
    pub fn mana_limit(mut self, mana: u64) -> Self {
        self.limits.mana_limit = mana;
        self
    }

    /// Sets the evaluation clock.
    #[must_use]
    pub fn clock(mut self, unix_seconds: u64) -> Self {
        self.timestamp = unix_seconds;
        self
    }

    /// A value in a store, as committed.
    pub fn store(&self, realm: &str, store: &str, key: &str) -> Option<&str> {
        self.stores
            .get(&(realm.to_owned(), store.to_owned()))?
            .get(key)
            .map(String::as_str)
    }

    /// Events committed so far, as (type, payload).
    pub fn events(&self) -> &[(String, String)] {
        &self.events
    }

    /// Evaluates `P` on `request` the way the host would.
    pub fn evaluate<P: Policy>(&mut self, request: &Request) -> Outcome {
        let session = Session {
            host: self.clone(),
            request: request.clone(),
            meter: Meter::new(self.limits),
            writes: BTreeMap::new(),
            events: Vec::new(),
            logs: Vec::new(),
        };
        quiet_exhaustion_panics();
        SESSION.with(|s| *s.borrow_mut() = Some(session));
        let ran = catch_unwind(AssertUnwindSafe(|| P::evaluate(request)));
        let Some(session) = SESSION.with(|s| s.borrow_mut().take()) else {
            unreachable!("the session is only taken here")
        };
        let result = match ran {
            Ok(Ok(decision)) => Ok(decision),
            Ok(Err(e)) => Err(format!("policy error ({:?}): {}", e.code, e.message)),
            Err(panic) => Err(match panic.downcast::<Exhaustion>() {
                Ok(exhausted) => exhausted.to_string(),
                Err(panic) => format!("panic: {}", panic_message(&*panic)),
            }),
        };
        let committed = matches!(&result, Ok(d) if d.is_allowed());
        let writes: Vec<_> = session
            .writes
            .into_iter()
            .map(|((store, key), value)| (store, key, value))
            .collect();
        if committed {
            for (store, key, value) in &writes {
                let entries = self
                    .stores
                    .entry((request.realm().to_owned(), store.clone()))
                    .or_default();
                match value {
                    Some(v) => entries.insert(key.clone(), v.clone()),
                    None => entries.remove(key),
                };
            }
            self.events.extend(session.events.iter().cloned());
        }
        Outcome {
            result,
            writes,
            events: session.events,
            committed,
            logs: session.logs,
            gas_used: session.meter.gas_used(),
            mana_used: session.meter.mana_used(),
        }
    }
}

/// Running out of budget unwinds out of the policy (as the host's trap ends
/// it); the default hook would print each one as if it were a bug.
fn quiet_exhaustion_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Exhaustion>() {
                previous(info);
            }
        }));
    });
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

struct Session {
    host: TestHost,
    request: Request,
    meter: Meter,
    writes: BTreeMap<(String, String), Option<String>>,
    events: Vec<(String, String)>,
    logs: Vec<(Level, String)>,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

#[expect(
    clippy::panic,
    reason = "ends the evaluation, as the host's trap does; caught in `evaluate`"
)]
fn with_session<R>(f: impl FnOnce(&mut Session) -> std::result::Result<R, Exhaustion>) -> R {
    let result = SESSION.with(|s| match s.borrow_mut().as_mut() {
        Some(session) => Ok(f(session)),
        None => Err(()),
    });
    match result {
        Ok(Ok(r)) => r,
        Ok(Err(exhausted)) => std::panic::panic_any(exhausted),
        Err(()) => panic!(
            "erynoa-sdk host calls need a host: run the policy through `testing::TestHost::evaluate`"
        ),
    }
}

fn charge(s: &mut Session, call: HostCall) -> std::result::Result<(), Exhaustion> {
    let (layer, gas) = call.gas();
    s.meter.charge_gas(layer, gas)?;
    match call.mana() {
        0 => Ok(()),
        mana => s.meter.charge_mana(mana),
    }
}

/// The native side of every host call. A refused argument is charged first,
/// as the host charges it, then handed back to the policy as an error.
pub(crate) mod backend {
    use super::*;
    use crate::Budget;

    /// Charges `call`, then runs `f`, whose refusal the policy gets back.
    fn host_call<R>(
        call: HostCall,
        f: impl FnOnce(&mut Session) -> std::result::Result<R, erynoa_core::Rejected>,
    ) -> Result<R> {
        with_session(|s| {
            charge(s, call)?;
            Ok(f(s).map_err(Into::into))
        })
    }

    pub(crate) fn get_trust(did: &str) -> Result<TrustVector> {
        host_call(HostCall::GetTrust, |s| {
            check_did(did)?;
            Ok(s.host
                .trust
                .get(did)
                .copied()
                .unwrap_or(TrustVector::NEWCOMER))
        })
    }

    pub(crate) fn trust_norm(tv: TrustVector) -> f64 {
        with_session(|s| charge(s, HostCall::TrustNorm).map(|()| tv.mean()))
    }

    pub(crate) fn has_credential(did: &str, schema: &str) -> Result<bool> {
        host_call(HostCall::HasCredential, |s| {
            check_did(did)?;
            Ok(s.host
                .credentials
                .get(did)
                .is_some_and(|c| c.contains(schema)))
        })
    }

    pub(crate) fn resolve_did(did: &str) -> Result<bool> {
        host_call(HostCall::ResolveDid, |s| {
            check_did(did)?;
            Ok(s.host.credentials.contains_key(did))
        })
    }

    fn lookup(s: &Session, store: &str, key: &str) -> Option<String> {
        if let Some(pending) = s.writes.get(&(store.to_owned(), key.to_owned())) {
            return pending.clone();
        }
        s.host
            .store(s.request.realm(), store, key)
            .map(str::to_owned)
    }

    pub(crate) fn store_get(store: &str, key: &str) -> Result<Option<String>> {
        host_call(HostCall::StoreGet, |s| {
            check_store_key(store, key)?;
            Ok(lookup(s, store, key))
        })
    }

    pub(crate) fn store_put(store: &str, key: &str, value: &str) -> Result<()> {
        host_call(HostCall::StorePut { bytes: value.len() }, |s| {
            check_store_key(store, key)?;
            check_value(value)?;
            s.writes
                .insert((store.to_owned(), key.to_owned()), Some(value.to_owned()));
            Ok(())
        })
    }

    pub(crate) fn store_delete(store: &str, key: &str) -> Result<bool> {
        host_call(HostCall::StoreDelete, |s| {
            check_store_key(store, key)?;
            let existed = lookup(s, store, key).is_some();
            s.writes.insert((store.to_owned(), key.to_owned()), None);
            Ok(existed)
        })
    }

    pub(crate) fn consume_gas(layer: GasLayer, amount: u64) {
        with_session(|s| s.meter.charge_gas(layer, amount))
    }

    pub(crate) fn consume_mana(amount: u64) {
        with_session(|s| s.meter.charge_mana(amount))
    }

    pub(crate) fn remaining() -> Budget {
        with_session(|s| {
            Ok(Budget {
                gas_used: s.meter.gas_used(),
                gas_limit: s.meter.limits().gas_limit,
                mana_used: s.meter.mana_used(),
                mana_limit: s.meter.limits().mana_limit,
            })
        })
    }

    pub(crate) fn gas_left() -> u64 {
        with_session(|s| Ok(s.meter.gas_remaining()))
    }

    pub(crate) fn caller() -> String {
        with_session(|s| Ok(s.request.caller().to_owned()))
    }

    pub(crate) fn realm() -> String {
        with_session(|s| Ok(s.request.realm().to_owned()))
    }

    pub(crate) fn timestamp() -> u64 {
        with_session(|s| charge(s, HostCall::Timestamp).map(|()| s.host.timestamp))
    }

    pub(crate) fn log(level: Level, message: &str) {
        with_session(|s| {
            charge(s, HostCall::Log)?;
            s.logs.push((level, message.to_owned()));
            Ok(())
        })
    }

    pub(crate) fn emit_event(event_type: &str, payload: &str) -> Result<()> {
        host_call(
            HostCall::EmitEvent {
                bytes: payload.len(),
            },
            |s| {
                check_event(event_type, payload, s.events.len())?;
                s.events.push((event_type.to_owned(), payload.to_owned()));
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{budget, events, state, trust};

    struct Spender;
    impl Policy for Spender {
        const NAME: &'static str = "spender";
        const VERSION: &'static str = "0.0.0";
        fn evaluate(req: &Request) -> Result<Decision> {
            trust::get(req.caller())?;
            state::put("s", "k", "v")?;
            events::emit("spent", "")?;
            if req.action() == "deny" {
                return Ok(Decision::deny("asked to"));
            }
            budget::consume_gas(GasLayer::Compute, 1_000);
            Ok(Decision::allow())
        }
    }

    #[test]
    fn gas_matches_the_host_cost_table() {
        let mut host = TestHost::new().gas_limit(10_000);
        let out = host.evaluate::<Spender>(&Request::new("did:e:a", "r"));
        assert!(out.is_allowed());
        // get-trust 10, store-put 10 + 1 per started KiB, emit-event 10, then 1,000.
        assert_eq!(out.gas_used, 10 + 11 + 10 + 1_000);
        assert_eq!(out.mana_used, 2);
    }

    #[test]
    fn deny_discards_writes_and_events() {
        let mut host = TestHost::new();
        let out = host.evaluate::<Spender>(&Request::new("did:e:a", "r").with_action("deny"));
        assert!(!out.committed);
        assert_eq!(out.writes.len(), 1);
        assert_eq!(host.store("r", "s", "k"), None);
        assert!(host.events().is_empty());
    }

    #[test]
    fn exhaustion_is_a_failure_not_a_crash() {
        let mut host = TestHost::new().gas_limit(100);
        let out = host.evaluate::<Spender>(&Request::new("did:e:a", "r"));
        assert!(!out.is_allowed());
        assert_eq!(out.reason(), Some("out-of-gas: used 1031 of 100 gas"));
        assert_eq!(host.store("r", "s", "k"), None);
    }

    #[test]
    fn bad_dids_are_errors_the_policy_sees() {
        let mut host = TestHost::new();
        let out = host.evaluate::<Spender>(&Request::new("alice", "r"));
        assert_eq!(
            out.reason(),
            Some(
                "policy error (InvalidArgument): `alice` is not a DID (expected `did:<method>:<id>`)"
            )
        );
    }
}
