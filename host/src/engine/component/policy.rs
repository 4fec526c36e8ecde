//! A loaded component: a fresh instance per evaluation, fuel, deadline and
//! memory cap, and how its result or its trap becomes a decision.

use std::sync::Arc;

use erynoa_core::{BudgetLimits, Exhaustion, GasLayer};
use wasmtime::component::{ComponentExportIndex, TypedFunc};
use wasmtime::{Store, Trap};

use super::Inner;
use super::bindings::erynoa::ecl::types::{self as wit};
use super::bindings::{PolicyComponentIndices, PolicyComponentPre};
use super::store::{Fuel, HostState, Metering};
use crate::Request;
use crate::engine::LoadError;
use crate::evaluation::{Decision, Effect, Failure, Policy, PolicyInfo, Run, Session};
use crate::state::{PolicyType, UnifiedState};

/// The exported interface, as the bindings look it up (wasmtime matches
/// semver-compatible versions).
pub(super) const POLICY_INTERFACE: &str = "erynoa:ecl/policy@0.1.0";

/// What a policy's `evaluate` export returns.
type EvaluateResult = Result<wit::Decision, wit::Error>;

/// A loaded component, linked and ready to instantiate.
pub struct ComponentPolicy {
    pub(super) inner: Arc<Inner>,
    pub(super) pre: PolicyComponentPre<HostState>,
    /// `evaluate`, found once at load; its type is checked then too.
    pub(super) evaluate: ComponentExportIndex,
    /// The operand stack compiled ECL may need (see [`MAX_STACK_SECTION`]).
    pub(super) max_stack: Option<u32>,
    pub(super) info: PolicyInfo,
    pub(super) metering: Metering,
}

impl ComponentPolicy {
    /// Sets the policy's kind, for metrics and the event log.
    pub fn set_policy_type(&mut self, policy_type: PolicyType) {
        self.info.policy_type = policy_type;
    }

    /// Creates a fresh instance and drops it without calling the policy: a
    /// readiness check, and what the benchmarks time as "instantiate".
    pub fn probe(&self) -> Result<(), Failure> {
        let mut store = self.scratch_store().map_err(|unstarted| Failure::Host {
            message: unstarted.reason,
        })?;
        // The same instantiation an evaluation does, without the bindings'
        // per-instance export lookup.
        match self.pre.instance_pre().instantiate(&mut store) {
            Ok(_) => Ok(()),
            Err(e) => Err(failure(store.data_mut(), &e)),
        }
    }

    /// A store over an empty state and request, with the default budget, for
    /// running the policy outside an evaluation (metadata, probes).
    fn scratch_store(&self) -> Result<Store<HostState>, Box<Unstarted>> {
        let state = Arc::new(UnifiedState::new());
        let request = Request::builder("did:erynoa:host:scratch", "").build();
        let id = Arc::from(self.info.id.as_str());
        self.store(Session::new(id, &state, &request, BudgetLimits::default()))
    }

    /// Instantiates the policy once and reads its metadata. Loading the
    /// instance's exports is where their signatures are checked, so a policy
    /// built against another WIT is refused here, before any request.
    pub(super) fn metadata(&self) -> Result<wit::PolicyInfo, LoadError> {
        let mut store = self
            .scratch_store()
            .map_err(|unstarted| LoadError::Instantiate {
                source: unstarted.reason.into(),
            })?;
        let instance = self
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|e| LoadError::Instantiate {
                source: Box::new(failure(store.data_mut(), &e)),
            })?;
        let bindings = PolicyComponentIndices::new(self.pre.instance_pre())
            .and_then(|indices| indices.load(&mut store, &instance))
            .map_err(|e| LoadError::ExportMismatch { source: e.into() })?;
        bindings
            .erynoa_ecl_policy()
            .call_metadata(&mut store)
            .map_err(|e| LoadError::Metadata {
                source: Box::new(failure(store.data_mut(), &e)),
            })
    }

    /// Instantiates the policy and calls `evaluate` with the session's request.
    fn call_evaluate(&self, store: &mut Store<HostState>) -> wasmtime::Result<EvaluateResult> {
        let instance = self.pre.instance_pre().instantiate(&mut *store)?;
        let func = instance
            .get_func(&mut *store, self.evaluate)
            .ok_or_else(|| wasmtime::Error::msg("the instance has no `evaluate` export"))?;
        // The bindings' own `instantiate` type-checks every export of every
        // instance: about 0.5 us of a 7 us evaluation (docs/benchmarks.md).
        #[allow(unsafe_code, reason = "the type was checked at load, see SAFETY")]
        // SAFETY: `func` is the `evaluate` export of an instance of the same
        // component whose export `metadata()` type-checked at load against
        // these very types (the bindings' `PolicyComponentIndices::load`), and a
        // component's types do not change between instances.
        let evaluate =
            unsafe { TypedFunc::<(&wit::Request,), (EvaluateResult,)>::new_unchecked(func) };
        let request = store.data().session.request().clone();
        let (result,) = evaluate.call(&mut *store, (request.wit(),))?;
        Ok(result)
    }

    /// A fresh store for `session`, fuelled with its remaining gas and armed
    /// with its deadline and memory limit.
    fn store(&self, session: Session) -> Result<Store<HostState>, Box<Unstarted>> {
        let limits = *session.meter().limits();
        let memory_limit = limits
            .memory_limit_bytes
            .min(self.inner.config.max_memory_bytes);
        let fuel = Fuel::new(self.metering, session.meter().gas_remaining());
        let state = HostState::new(session, memory_limit, fuel);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| s);
        if let Err(e) = store.set_fuel(fuel.level()) {
            return Err(Box::new(Unstarted {
                session: store.into_data().session,
                reason: format!("{e:#}"),
            }));
        }
        let tick_ms = self.inner.config.epoch_tick.as_millis().max(1) as u64;
        store.set_epoch_deadline(limits.timeout_ms.div_ceil(tick_ms) + 1);
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut().stopped_by_deadline = true;
            Err(Trap::Interrupt.into())
        });
        Ok(store)
    }
}

impl Policy for ComponentPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn run(&self, session: Session) -> Run {
        let stack_limit = session.meter().limits().max_stack_depth;
        if let Some(needed) = self.max_stack.filter(|&needed| needed > stack_limit) {
            // Compiled ECL cannot stop at the instruction where the VM would,
            // so it does not start: fail closed. `load_ecl` runs such
            // evaluations on the VM instead, which is exact.
            tracing::debug!(
                needed,
                stack_limit,
                "operand stack limit below the policy's depth"
            );
            return Run::new(session, Err(Failure::Exhausted(Exhaustion::StackOverflow)));
        }
        self.run_instance(session)
    }
}

/// A store that could not be set up: the session back, and why.
struct Unstarted {
    session: Session,
    reason: String,
}

impl ComponentPolicy {
    /// Runs the policy in a fresh instance, without checking the operand
    /// stack limit against compiled ECL's depth (the caller did).
    pub(crate) fn run_instance(&self, session: Session) -> Run {
        let mut store = match self.store(session) {
            Ok(store) => store,
            Err(unstarted) => {
                let Unstarted { session, reason } = *unstarted;
                return Run::new(session, Err(Failure::Host { message: reason }));
            }
        };
        let result = self.call_evaluate(&mut store);
        let remaining = store.get_fuel().unwrap_or(0);
        let mut data = store.into_data();
        // Stopped inside wasm code by the deadline, the guest's count of
        // instructions since its last call is lost (compiled code keeps it
        // in a register until a call): such a run is charged its whole gas.
        let meter = data.session.meter();
        let ran = data.fuel.ran(
            remaining,
            result.is_err(),
            data.stopped_by_deadline,
            meter.gas_used(),
            meter.gas_remaining(),
        );
        // Recorded even after a trap or an exhaustion: the instructions ran.
        data.session.meter_mut().record_ran(GasLayer::Compute, ran);
        let outcome = match result {
            Ok(Ok(decision)) => check_decision(decision),
            // Compiled ECL (it carries its stack depth) reports its run-time
            // faults as `internal`, as the VM does: they are the policy's.
            Ok(Err(e)) if self.max_stack.is_some() && e.code == wit::ErrorCode::Internal => {
                Err(Failure::PolicyFault { message: e.message })
            }
            Ok(Err(e)) => Err(Failure::PolicyError {
                code: e.code.into(),
                message: e.message,
            }),
            Err(e) => Err(failure(&mut data, &e)),
        };
        Run::new(data.session, outcome)
    }
}

fn check_decision(d: wit::Decision) -> Result<Decision, Failure> {
    let effect = match d.effect {
        wit::Effect::Allow => Effect::Allow,
        wit::Effect::Deny => Effect::Deny,
    };
    Decision::checked(effect, d.reason)
}

/// What ended a call that returned an error: a recorded exhaustion first,
/// then wasmtime's own traps, then anything else as a trap with its message
/// (and the guest's panic message, if it printed one).
fn failure(data: &mut HostState, e: &wasmtime::Error) -> Failure {
    let meter = data.session.meter_mut();
    if let Some(exhausted) = meter.exhausted() {
        return Failure::Exhausted(exhausted);
    }
    let exhausted = match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            let limit = meter.limits().gas_limit;
            Some(Exhaustion::OutOfGas {
                used: limit.saturating_add(1),
                limit,
            })
        }
        Some(Trap::Interrupt) => Some(Exhaustion::Timeout {
            limit_ms: meter.limits().timeout_ms,
        }),
        Some(Trap::StackOverflow) => Some(Exhaustion::StackOverflow),
        _ => None,
    };
    if let Some(exhausted) = exhausted {
        return Failure::Exhausted(meter.exhaust(exhausted));
    }
    let message = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{:#}", e.root_cause()),
    };
    Failure::Trap { message }
}
