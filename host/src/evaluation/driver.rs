//! The evaluation driver every engine shares: transaction, retries on
//! conflict, event log, metrics and tracing.

use std::sync::Arc;
use std::time::Instant;

use erynoa_core::BudgetLimits;

use super::{Decision, Effect, Evaluation, Failure, Policy, Run};
use crate::Request;
use crate::evaluation::{Session, Tape};
use crate::state::{CommitError, StateEvent, UnifiedState};

/// How often an evaluation whose reads went stale is run again. Policies are
/// deterministic functions of their inputs, so a rerun is always safe.
const MAX_ATTEMPTS: u32 = 4;

pub(crate) fn evaluate<P: Policy + ?Sized>(
    policy: &P,
    state: &Arc<UnifiedState>,
    request: &Request,
    limits: BudgetLimits,
    mut tape: Tape,
) -> (Evaluation, Tape) {
    let info = policy.info();
    // A signer's budget cap bounds whatever the caller asks for.
    let limits = match info.admission.as_ref().and_then(|a| a.budget) {
        Some(cap) => limits.min(cap),
        None => limits,
    };
    let span = tracing::info_span!("evaluate", policy = %info.id, realm = request.realm(), action = request.action());
    let _enter = span.enter();
    let started = Instant::now();
    let policy_id: Arc<str> = Arc::from(info.id.as_str());

    // Optimistic attempts first; then, so that contention alone never
    // denies, one run alone in the realm: the serial lock makes every other
    // commit there wait, so its commit cannot conflict. Policies are
    // deterministic, so a rerun decides as the first run would have on the
    // same state.
    let mut attempt = 1;
    let mut serial = None;
    let (decision, meter, changes) = loop {
        // Held from the run's first read to its commit (dropped with the loop body).
        let lock: Option<Arc<parking_lot::Mutex<()>>> = serial.clone();
        let held = lock.as_ref().map(|lock| lock.lock());
        let mut session =
            Session::new(Arc::clone(&policy_id), state, request, limits).with_tape(tape.rewound());
        if held.is_some() {
            session = session.serialized();
        }
        let Run {
            mut session,
            outcome,
        } = policy.run(session);
        tape = session.take_tape();
        let (transaction, meter) = session.into_parts();
        match outcome {
            Ok(d) if d.effect == Effect::Allow => match transaction.commit(&info.id) {
                Ok(changes) => break (Ok(d), meter, changes),
                Err(CommitError::Conflict(conflict)) if held.is_none() => {
                    tracing::debug!(attempt, "{conflict}; running the policy again");
                    attempt += 1;
                    if attempt == MAX_ATTEMPTS {
                        serial = Some(state.serial(request.realm()));
                    }
                }
                Err(CommitError::Conflict(conflict)) => {
                    break (
                        Err(Failure::Conflict { attempts: attempt }),
                        meter,
                        conflict.discarded,
                    );
                }
                // Never applied without its log entry: fail closed.
                Err(CommitError::Journal { error, discarded }) => {
                    break (
                        Err(Failure::Host {
                            message: error.to_string(),
                        }),
                        meter,
                        discarded,
                    );
                }
            },
            other => break (other, meter, transaction.discard()),
        }
    };
    let (effect, reason, failure) = match decision {
        Ok(Decision { effect, reason }) => (effect, reason, None),
        Err(f) => (Effect::Deny, Some(f.to_string()), Some(f)),
    };
    let duration = started.elapsed();
    let evaluation = Evaluation {
        policy_id: info.id.clone(),
        effect,
        reason,
        failure,
        gas_used: meter.gas_used(),
        gas: *meter.layers(),
        mana_used: meter.mana_used(),
        duration,
        changes,
    };
    record(state, request, policy, &evaluation);
    (evaluation, tape)
}

fn record<P: Policy + ?Sized>(state: &UnifiedState, request: &Request, policy: &P, e: &Evaluation) {
    let duration_us = u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX);
    let passed = e.is_allowed();
    let realm = request.realm();
    state.append_event(StateEvent::PolicyEvaluated {
        policy_id: e.policy_id.clone(),
        realm_id: (!realm.is_empty()).then(|| realm.to_owned()),
        passed,
        policy_type: policy.info().policy_type,
        gas_used: e.gas_used,
        mana_used: e.mana_used,
        duration_us,
        admission: policy.info().admission.clone(),
    });
    state.metrics().record(
        &e.policy_id,
        realm,
        passed,
        e.gas_used,
        e.mana_used,
        duration_us,
    );
    tracing::info!(
        decision = if passed { "allow" } else { "deny" },
        reason = %crate::printable(e.reason.as_deref().unwrap_or("")),
        failure = e.failure.as_ref().map_or("", Failure::kind),
        gas = e.gas_used,
        mana = e.mana_used,
        duration_us,
        "evaluated"
    );
}
