//! One evaluation's view of the world: the request, state, buffered writes
//! and meter, with every host call a policy can make.

use std::sync::Arc;
use std::time::Instant;

use erynoa_core::calls::{check_did, check_event, check_store_key, check_value};
use erynoa_core::{BudgetLimits, Exhaustion, GasLayer, HostCall, Meter, Rejected, TrustVector};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::Request;
use crate::state::{Transaction, UnifiedState};

pub use super::tape::{HostCallRecord, Tape};

/// Most log lines kept per evaluation; later ones are dropped.
pub const MAX_LOG_LINES: u32 = 64;
/// Longest log line kept, in bytes; longer ones are cut.
pub const MAX_LOG_BYTES: usize = 1024;

/// Severity of a policy's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Tracing.
    Trace,
    /// Debugging.
    Debug,
    /// Information.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

/// A host call that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The budget ran out: the evaluation ends.
    Exhausted(Exhaustion),
    /// The policy passed something wrong; it gets this error back and goes on.
    Rejected(Rejected),
}

impl From<Exhaustion> for CallError {
    fn from(e: Exhaustion) -> Self {
        CallError::Exhausted(e)
    }
}

impl From<Rejected> for CallError {
    fn from(e: Rejected) -> Self {
        CallError::Rejected(e)
    }
}

/// The state of one evaluation. Engines hand it to the policy's host calls.
#[derive(Debug)]
pub struct Session {
    policy_id: Arc<str>,
    request: Request,
    transaction: Transaction,
    meter: Meter,
    started: Instant,
    timestamp: u64,
    log_lines: u32,
    tape: Tape,
}

impl Session {
    pub(crate) fn new(
        policy_id: Arc<str>,
        state: &Arc<UnifiedState>,
        request: &Request,
        limits: BudgetLimits,
    ) -> Self {
        let timestamp = request
            .timestamp()
            .or(state.clock())
            .unwrap_or_else(unix_now);
        Self {
            policy_id,
            transaction: Transaction::new(Arc::clone(state), request.realm()),
            request: request.clone(),
            meter: Meter::new(limits),
            started: Instant::now(),
            timestamp,
            log_lines: 0,
            tape: Tape::Off,
        }
    }

    pub(crate) fn with_tape(mut self, tape: Tape) -> Self {
        self.tape = tape;
        self
    }

    /// The session of an evaluation that holds its realm's serial lock.
    pub(crate) fn serialized(mut self) -> Self {
        self.transaction.set_serialized();
        self
    }

    pub(crate) fn take_tape(&mut self) -> Tape {
        std::mem::take(&mut self.tape)
    }

    /// Runs the host call `live`, recording it, or answering it from the
    /// recording (the live call still runs, to charge the same gas and
    /// buffer the same writes; its answer is replaced by the recorded one).
    fn taped<T: Serialize + DeserializeOwned>(
        &mut self,
        interface: &str,
        function: &str,
        args: impl FnOnce() -> Json,
        live: impl FnOnce(&mut Self) -> Result<T, CallError>,
    ) -> Result<T, CallError> {
        // Off, the common case, builds nothing: this is every host call.
        if matches!(self.tape, Tape::Off) {
            return live(self);
        }
        let args = args();
        let (gas, mana) = (self.meter.gas_used(), self.meter.mana_used());
        let result = live(self);
        let gas = self.meter.gas_used() - gas;
        let mana = self.meter.mana_used() - mana;
        match &mut self.tape {
            Tape::Off => result,
            Tape::Record(calls) => {
                calls.push(HostCallRecord {
                    interface: interface.to_owned(),
                    function: function.to_owned(),
                    args,
                    result: encode(&result),
                    gas,
                    mana,
                });
                result
            }
            Tape::Replay {
                calls,
                next,
                divergences,
            } => {
                let Some(recorded) = calls.get(*next) else {
                    divergences.push(format!(
                        "call {}: `{interface}.{function}` with {args} is not in the recording",
                        *next + 1
                    ));
                    *next += 1;
                    return result;
                };
                if recorded.interface != interface
                    || recorded.function != function
                    || recorded.args != args
                {
                    divergences.push(format!(
                        "call {}: the run called `{interface}.{function}` with {args}; the recording has `{}.{}` with {}",
                        *next + 1, recorded.interface, recorded.function, recorded.args
                    ));
                    *next += 1;
                    return result;
                }
                *next += 1;
                if matches!(result, Err(CallError::Exhausted(_))) {
                    return result;
                }
                match decode::<T>(&recorded.result) {
                    Some(answer) => answer,
                    None => {
                        divergences.push(format!(
                            "call {}: the recorded result {} of `{interface}.{function}` does not fit",
                            *next, recorded.result
                        ));
                        result
                    }
                }
            }
        }
    }

    /// The policy being evaluated.
    pub fn policy_id(&self) -> &str {
        &self.policy_id
    }

    /// The request being decided.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The meter of this evaluation.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The meter, to charge instructions.
    pub fn meter_mut(&mut self) -> &mut Meter {
        &mut self.meter
    }

    /// When the evaluation started.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub(crate) fn into_parts(self) -> (Transaction, Meter) {
        (self.transaction, self.meter)
    }

    /// Fails with [`Exhaustion::Timeout`] once the deadline has passed.
    pub fn check_deadline(&mut self) -> Result<(), Exhaustion> {
        let limit_ms = self.meter.limits().timeout_ms;
        if self.started.elapsed().as_millis() > u128::from(limit_ms) {
            return Err(self.meter.exhaust(Exhaustion::Timeout { limit_ms }));
        }
        Ok(())
    }

    fn charge(&mut self, call: HostCall) -> Result<(), Exhaustion> {
        let (layer, gas) = call.gas();
        self.meter.charge_gas(layer, gas)?;
        match call.mana() {
            0 => Ok(()),
            mana => self.meter.charge_mana(mana),
        }
    }

    /// `trust.get-trust`.
    pub fn get_trust(&mut self, did: &str) -> Result<TrustVector, CallError> {
        self.taped(
            "trust",
            "get-trust",
            || json!([did]),
            |s| {
                s.charge(HostCall::GetTrust)?;
                check_did(did)?;
                Ok(s.transaction.trust(did))
            },
        )
    }

    /// `trust.trust-norm`.
    pub fn trust_norm(&mut self, tv: &TrustVector) -> Result<f64, Exhaustion> {
        let result = self.taped(
            "trust",
            "trust-norm",
            || json!([tv]),
            |s| {
                s.charge(HostCall::TrustNorm)?;
                Ok(tv.mean())
            },
        );
        only_exhausted(result, || tv.mean())
    }

    /// `identity.has-credential`.
    pub fn has_credential(&mut self, did: &str, schema: &str) -> Result<bool, CallError> {
        self.taped(
            "identity",
            "has-credential",
            || json!([did, schema]),
            |s| {
                s.charge(HostCall::HasCredential)?;
                check_did(did)?;
                Ok(s.transaction.has_credential(did, schema))
            },
        )
    }

    /// `identity.resolve-did`.
    pub fn resolve_did(&mut self, did: &str) -> Result<bool, CallError> {
        self.taped(
            "identity",
            "resolve-did",
            || json!([did]),
            |s| {
                s.charge(HostCall::ResolveDid)?;
                check_did(did)?;
                Ok(s.transaction.resolve_did(did))
            },
        )
    }

    /// `state.store-get`.
    pub fn store_get(&mut self, store: &str, key: &str) -> Result<Option<String>, CallError> {
        self.taped(
            "state",
            "store-get",
            || json!([store, key]),
            |s| {
                s.charge(HostCall::StoreGet)?;
                check_store_key(store, key)?;
                Ok(s.transaction.get(store, key))
            },
        )
    }

    /// `state.store-put`.
    pub fn store_put(&mut self, store: &str, key: &str, value: &str) -> Result<(), CallError> {
        self.taped(
            "state",
            "store-put",
            || json!([store, key, value]),
            |s| {
                s.charge(HostCall::StorePut { bytes: value.len() })?;
                check_store_key(store, key)?;
                check_value(value)?;
                s.transaction.put(store, key, value);
                Ok(())
            },
        )
    }

    /// `state.store-delete`.
    pub fn store_delete(&mut self, store: &str, key: &str) -> Result<bool, CallError> {
        self.taped(
            "state",
            "store-delete",
            || json!([store, key]),
            |s| {
                s.charge(HostCall::StoreDelete)?;
                check_store_key(store, key)?;
                Ok(s.transaction.delete(store, key))
            },
        )
    }

    /// `budget.consume-gas`.
    pub fn consume_gas(&mut self, layer: GasLayer, amount: u64) -> Result<(), Exhaustion> {
        let result = self.taped(
            "budget",
            "consume-gas",
            || json!([layer, amount]),
            |s| Ok(s.meter.charge_gas(layer, amount)?),
        );
        only_exhausted(result, || ())
    }

    /// `budget.consume-mana`.
    pub fn consume_mana(&mut self, amount: u64) -> Result<(), Exhaustion> {
        let result = self.taped(
            "budget",
            "consume-mana",
            || json!([amount]),
            |s| Ok(s.meter.charge_mana(amount)?),
        );
        only_exhausted(result, || ())
    }

    /// `context.timestamp`: fixed for the whole evaluation.
    pub fn timestamp(&mut self) -> Result<u64, Exhaustion> {
        let result = self.taped(
            "context",
            "timestamp",
            || json!([]),
            |s| {
                s.charge(HostCall::Timestamp)?;
                Ok(s.timestamp)
            },
        );
        let now = self.timestamp;
        only_exhausted(result, || now)
    }

    /// The evaluation time, without charging for it.
    pub fn evaluation_time(&self) -> u64 {
        self.timestamp
    }

    /// `context.log`: kept lines go to the host's log under the target `erynoa::guest`.
    pub fn log(&mut self, level: LogLevel, message: &str) -> Result<(), Exhaustion> {
        let result = self.taped(
            "context",
            "log",
            || json!([message]),
            |s| {
                s.charge(HostCall::Log)?;
                Ok(())
            },
        );
        only_exhausted(result, || ())?;
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return Ok(());
        }
        let message = printable(truncate(message, MAX_LOG_BYTES));
        let policy = &*self.policy_id;
        match level {
            LogLevel::Trace => tracing::trace!(target: "erynoa::guest", policy, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "erynoa::guest", policy, "{message}"),
            LogLevel::Info => tracing::info!(target: "erynoa::guest", policy, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "erynoa::guest", policy, "{message}"),
            LogLevel::Error => tracing::error!(target: "erynoa::guest", policy, "{message}"),
        }
        Ok(())
    }

    /// `events.emit-event`.
    pub fn emit_event(&mut self, event_type: &str, payload: &str) -> Result<(), CallError> {
        self.taped(
            "events",
            "emit-event",
            || json!([event_type, payload]),
            |s| {
                s.charge(HostCall::EmitEvent {
                    bytes: payload.len(),
                })?;
                check_event(event_type, payload, s.transaction.event_count())?;
                s.transaction.emit(event_type, payload);
                Ok(())
            },
        )
    }
}

fn encode<T: Serialize>(result: &Result<T, CallError>) -> Json {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(CallError::Rejected(r)) => json!({ "err": {
            "code": erynoa_core::ErrorCode::from(r.code).as_str(),
            "message": r.message,
        }}),
        Err(CallError::Exhausted(e)) => json!({ "exhausted": e.kind() }),
    }
}

fn decode<T: DeserializeOwned>(recorded: &Json) -> Option<Result<T, CallError>> {
    if let Some(ok) = recorded.get("ok") {
        return serde_json::from_value(ok.clone()).ok().map(Ok);
    }
    let err = recorded.get("err")?;
    let code = match err.get("code")?.as_str()?.parse().ok()? {
        erynoa_core::ErrorCode::InvalidArgument => erynoa_core::RejectCode::InvalidArgument,
        erynoa_core::ErrorCode::LimitExceeded => erynoa_core::RejectCode::LimitExceeded,
        // A call is only ever rejected with these two.
        erynoa_core::ErrorCode::NotFound | erynoa_core::ErrorCode::Internal => return None,
    };
    let message = err.get("message")?.as_str()?.to_owned();
    Some(Err(CallError::Rejected(Rejected { code, message })))
}

fn only_exhausted<T>(
    result: Result<T, CallError>,
    fallback: impl FnOnce() -> T,
) -> Result<T, Exhaustion> {
    match result {
        Ok(v) => Ok(v),
        Err(CallError::Exhausted(e)) => Err(e),
        // Only a doctored recording rejects a call that cannot be rejected.
        Err(CallError::Rejected(_)) => Ok(fallback()),
    }
}

/// `s` with every control character (newlines, escapes, ANSI sequences'
/// introducer) escaped as `\n`, `\u{1b}`, ...: a policy's reason or log line
/// printed this way cannot forge lines in a terminal or a log.
///
/// ```
/// assert_eq!(erynoa_host::printable("ok\n\x1b[32mallow"), "ok\\n\\u{1b}[32mallow");
/// assert_eq!(erynoa_host::printable("plain ü"), "plain ü");
/// ```
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let end = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s.get(..end).unwrap_or_default()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use erynoa_core::RejectCode;

    fn session(state: UnifiedState, gas: u64) -> Session {
        let limits = BudgetLimits {
            gas_limit: gas,
            ..BudgetLimits::default()
        };
        let req = Request::builder("did:e:alice", "r").timestamp(42).build();
        Session::new("p".into(), &Arc::new(state), &req, limits)
    }

    #[test]
    fn host_calls_charge_their_layer() {
        let mut s = session(UnifiedState::new(), 1000);
        s.get_trust("did:e:alice").unwrap();
        s.has_credential("did:e:alice", "kyc").unwrap();
        s.log(LogLevel::Info, "hi").unwrap();
        assert_eq!(s.timestamp().unwrap(), 42);
        let layers = s.meter().layers();
        assert_eq!(
            (layers.network, layers.storage, layers.compute),
            (15, 200, 10)
        );
        assert_eq!(s.meter().gas_used(), 18);
    }

    #[test]
    fn bad_arguments_are_rejected_and_still_cost_gas() {
        let mut s = session(UnifiedState::new(), 1000);
        let err = s.get_trust("alice").unwrap_err();
        assert!(matches!(
            err,
            CallError::Rejected(Rejected {
                code: RejectCode::InvalidArgument,
                ..
            })
        ));
        assert_eq!(s.meter().gas_used(), 10);
        assert!(matches!(
            s.store_put("", "k", "v"),
            Err(CallError::Rejected(_))
        ));
        let big = "x".repeat(erynoa_core::calls::MAX_VALUE_BYTES + 1);
        assert!(matches!(
            s.store_put("s", "k", &big),
            Err(CallError::Rejected(Rejected {
                code: RejectCode::LimitExceeded,
                ..
            }))
        ));
    }

    #[test]
    fn running_out_is_an_exhaustion() {
        let mut s = session(UnifiedState::new(), 12);
        s.get_trust("did:e:a").unwrap();
        assert_eq!(
            s.has_credential("did:e:a", "kyc"),
            Err(CallError::Exhausted(Exhaustion::OutOfGas {
                used: 15,
                limit: 12
            }))
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
