//! The `erynoa:ecl` host functions, linked once per engine.
//!
//! Every call first settles fuel: what the guest burned since the last call
//! is charged as compute gas, then the call's own cost on its layer, and the
//! store is refuelled with exactly the gas that is left. So instructions and
//! host calls draw from one budget, and the meter is exact at every call.
//! A self-metered component (compiled ECL) charges its instructions itself
//! through `budget.consume-gas`; its fuel is a safety net and not charged.
//!
//! No call works for free: each also pays for its arguments' size beyond
//! [`FREE_ARGUMENT_BYTES`](erynoa_core::calls::FREE_ARGUMENT_BYTES) (in fuel
//! for a self-metered component, so its gas stays the VM's), and each checks
//! the deadline. None blocks. No WASI is served.

use erynoa_core::calls::argument_gas;
use erynoa_core::{ErrorCode, Exhaustion, GasLayer, RejectCode, Rejected, TrustVector};
use wasmtime::component::Linker;
use wasmtime::{Result, StoreContextMut};

use super::bindings::erynoa::ecl::context::Level;
use super::bindings::erynoa::ecl::types::{self as wit};
use super::store::{FUEL_PER_GAS, HostState, Metering};
use crate::evaluation::{CallError, LogLevel, Session};

type Store<'a> = StoreContextMut<'a, HostState>;

/// Charges fuel burned so far as compute gas (unless the component meters
/// itself), then `argument_bytes`' worth of work, and checks the deadline.
fn settle(store: &mut Store<'_>, argument_bytes: usize) -> Result<()> {
    let remaining = store.get_fuel()?;
    let data = store.data_mut();
    let burned = data.fuel.burned(remaining);
    let work = argument_gas(argument_bytes);
    let (compute, fuel_work) = match data.fuel.metering() {
        Metering::Fuel => (burned.saturating_add(work), 0),
        // Its gas must stay the VM's: the work is paid from the safety net.
        Metering::SelfMetered => (0, work.saturating_mul(FUEL_PER_GAS)),
    };
    let session = &mut data.session;
    session
        .meter_mut()
        .charge_gas(GasLayer::Compute, compute)
        .and_then(|()| session.check_deadline())
        .map_err(trap)?;
    if fuel_work > 0 {
        let Some(left) = data.fuel.take(fuel_work) else {
            let limit = data.session.meter().limits().gas_limit;
            return Err(trap(data.session.meter_mut().exhaust(
                Exhaustion::OutOfGas {
                    used: limit.saturating_add(1),
                    limit,
                },
            )));
        };
        store.set_fuel(left)?;
    }
    Ok(())
}

/// Puts the gas that is left back into the store as fuel (a self-metered
/// component's safety net, set once, is not refilled).
fn refuel(store: &mut Store<'_>) -> Result<()> {
    let data = store.data_mut();
    let gas = data.session.meter().gas_remaining();
    if let Some(left) = data.fuel.refill(gas) {
        store.set_fuel(left)?;
    }
    Ok(())
}

/// Runs `f` between settling and refuelling.
fn with_session<R, E>(
    store: &mut Store<'_>,
    argument_bytes: usize,
    f: impl FnOnce(&mut Session) -> Result<R, E>,
) -> Result<Result<R, E>> {
    settle(store, argument_bytes)?;
    let result = f(&mut store.data_mut().session);
    refuel(store)?;
    Ok(result)
}

/// Runs one host call whose arguments are `argument_bytes` long. An
/// exhaustion traps (the meter keeps the reason); a guest error goes back to
/// the guest.
fn call<R>(
    store: &mut Store<'_>,
    argument_bytes: usize,
    f: impl FnOnce(&mut Session) -> Result<R, CallError>,
) -> Result<Result<R, wit::Error>> {
    match with_session(store, argument_bytes, f)? {
        Ok(r) => Ok(Ok(r)),
        Err(CallError::Rejected(e)) => Ok(Err(e.into())),
        Err(CallError::Exhausted(e)) => Err(trap(e)),
    }
}

/// Runs one host call that can fail only by exhaustion, which traps.
fn infallible<R>(
    store: &mut Store<'_>,
    argument_bytes: usize,
    f: impl FnOnce(&mut Session) -> Result<R, Exhaustion>,
) -> Result<R> {
    with_session(store, argument_bytes, f)?.map_err(trap)
}

pub(crate) fn trap(e: Exhaustion) -> wasmtime::Error {
    wasmtime::Error::msg(e.to_string())
}

impl From<Rejected> for wit::Error {
    fn from(e: Rejected) -> Self {
        let code = match e.code {
            RejectCode::InvalidArgument => wit::ErrorCode::InvalidArgument,
            RejectCode::LimitExceeded => wit::ErrorCode::LimitExceeded,
        };
        wit::Error {
            code,
            message: e.message,
        }
    }
}

impl From<wit::ErrorCode> for ErrorCode {
    fn from(code: wit::ErrorCode) -> Self {
        match code {
            wit::ErrorCode::NotFound => ErrorCode::NotFound,
            wit::ErrorCode::InvalidArgument => ErrorCode::InvalidArgument,
            wit::ErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
            wit::ErrorCode::Internal => ErrorCode::Internal,
        }
    }
}

impl From<TrustVector> for wit::TrustVector {
    fn from(t: TrustVector) -> Self {
        wit::TrustVector {
            r: t.r,
            i: t.i,
            c: t.c,
            p: t.p,
            v: t.v,
            omega: t.omega,
        }
    }
}

impl From<wit::TrustVector> for TrustVector {
    fn from(t: wit::TrustVector) -> Self {
        TrustVector {
            r: t.r,
            i: t.i,
            c: t.c,
            p: t.p,
            v: t.v,
            omega: t.omega,
        }
    }
}

fn layer(l: wit::GasLayer) -> GasLayer {
    match l {
        wit::GasLayer::Network => GasLayer::Network,
        wit::GasLayer::Compute => GasLayer::Compute,
        wit::GasLayer::Storage => GasLayer::Storage,
        wit::GasLayer::Realm => GasLayer::Realm,
    }
}

/// Adds every `erynoa:ecl@0.1.0` import to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    linker.instance("erynoa:ecl/types@0.1.0")?;
    let mut trust = linker.instance("erynoa:ecl/trust@0.1.0")?;
    trust.func_wrap("get-trust", |mut s: Store<'_>, (did,): (String,)| {
        Ok((call(&mut s, did.len(), |x| {
            x.get_trust(&did).map(wit::TrustVector::from)
        })?,))
    })?;
    trust.func_wrap(
        "trust-norm",
        |mut s: Store<'_>, (tv,): (wit::TrustVector,)| {
            Ok((infallible(&mut s, 0, |x| x.trust_norm(&tv.into()))?,))
        },
    )?;

    let mut identity = linker.instance("erynoa:ecl/identity@0.1.0")?;
    identity.func_wrap(
        "has-credential",
        |mut s: Store<'_>, (did, schema): (String, String)| {
            Ok((call(&mut s, did.len() + schema.len(), |x| {
                x.has_credential(&did, &schema)
            })?,))
        },
    )?;
    identity.func_wrap("resolve-did", |mut s: Store<'_>, (did,): (String,)| {
        Ok((call(&mut s, did.len(), |x| x.resolve_did(&did))?,))
    })?;

    let mut state = linker.instance("erynoa:ecl/state@0.1.0")?;
    state.func_wrap(
        "store-get",
        |mut s: Store<'_>, (store, key): (String, String)| {
            Ok((call(&mut s, store.len() + key.len(), |x| {
                x.store_get(&store, &key)
            })?,))
        },
    )?;
    state.func_wrap(
        "store-put",
        |mut s: Store<'_>, (store, key, value): (String, String, String)| {
            let bytes = store.len() + key.len() + value.len();
            Ok((call(&mut s, bytes, |x| x.store_put(&store, &key, &value))?,))
        },
    )?;
    state.func_wrap(
        "store-delete",
        |mut s: Store<'_>, (store, key): (String, String)| {
            Ok((call(&mut s, store.len() + key.len(), |x| {
                x.store_delete(&store, &key)
            })?,))
        },
    )?;

    let mut budget = linker.instance("erynoa:ecl/budget@0.1.0")?;
    budget.func_wrap(
        "consume-gas",
        |mut s: Store<'_>, (l, amount): (wit::GasLayer, u64)| {
            infallible(&mut s, 0, |x| x.consume_gas(layer(l), amount))
        },
    )?;
    budget.func_wrap("consume-mana", |mut s: Store<'_>, (amount,): (u64,)| {
        infallible(&mut s, 0, |x| x.consume_mana(amount))
    })?;
    budget.func_wrap("remaining", |mut s: Store<'_>, (): ()| {
        let snapshot = infallible(&mut s, 0, |x| {
            let m = x.meter();
            Ok(wit::BudgetSnapshot {
                gas_used: m.gas_used(),
                gas_limit: m.limits().gas_limit,
                mana_used: m.mana_used(),
                mana_limit: m.limits().mana_limit,
            })
        })?;
        Ok((snapshot,))
    })?;

    budget.func_wrap("gas-left", |mut s: Store<'_>, (): ()| {
        Ok((infallible(&mut s, 0, |x| Ok(x.meter().gas_remaining()))?,))
    })?;

    let mut context = linker.instance("erynoa:ecl/context@0.1.0")?;
    // The request's own strings: copying them out is paid for like an argument.
    context.func_wrap("caller", |mut s: Store<'_>, (): ()| {
        let caller = s.data().session.request().caller().to_owned();
        infallible(&mut s, caller.len(), |_| Ok(()))?;
        Ok((caller,))
    })?;
    context.func_wrap("realm", |mut s: Store<'_>, (): ()| {
        let realm = s.data().session.request().realm().to_owned();
        infallible(&mut s, realm.len(), |_| Ok(()))?;
        Ok((realm,))
    })?;
    context.func_wrap("timestamp", |mut s: Store<'_>, (): ()| {
        Ok((infallible(&mut s, 0, Session::timestamp)?,))
    })?;
    context.func_wrap(
        "log",
        |mut s: Store<'_>, (level, message): (Level, String)| {
            let level = match level {
                Level::Trace => LogLevel::Trace,
                Level::Debug => LogLevel::Debug,
                Level::Info => LogLevel::Info,
                Level::Warn => LogLevel::Warn,
                Level::Error => LogLevel::Error,
            };
            infallible(&mut s, message.len(), |x| x.log(level, &message))
        },
    )?;

    let mut events = linker.instance("erynoa:ecl/events@0.1.0")?;
    events.func_wrap(
        "emit-event",
        |mut s: Store<'_>, (event_type, payload): (String, String)| {
            let bytes = event_type.len() + payload.len();
            Ok((call(&mut s, bytes, |x| {
                x.emit_event(&event_type, &payload)
            })?,))
        },
    )?;

    // Pure functions. They settle like every call (so a loop of them meets
    // the deadline) and pay for large arguments; otherwise they cost only
    // the instructions that call them, as in the VM.
    let mut prelude = linker.instance("erynoa:ecl/prelude@0.1.0")?;
    prelude.func_wrap("format-number", |mut s: Store<'_>, (x,): (f64,)| {
        infallible(&mut s, 0, |_| Ok(()))?;
        let text = erynoa_ecl::vm::text_of(&erynoa_ecl::bytecode::Value::Number(x));
        Ok((text.unwrap_or_default(),))
    })?;
    prelude.func_wrap("parse-number", |mut s: Store<'_>, (text,): (String,)| {
        infallible(&mut s, text.len(), |_| Ok(()))?;
        Ok((erynoa_ecl::vm::number_of(&text).ok(),))
    })?;
    prelude.func_wrap("log2", |mut s: Store<'_>, (x,): (f64,)| {
        infallible(&mut s, 0, |_| Ok(()))?;
        Ok((x.log2(),))
    })?;
    prelude.func_wrap("fmod", |mut s: Store<'_>, (a, b): (f64, f64)| {
        infallible(&mut s, 0, |_| Ok(()))?;
        Ok((a % b,))
    })?;
    prelude.func_wrap(
        "eq-ignore-case",
        |mut s: Store<'_>, (a, b): (String, String)| {
            infallible(&mut s, a.len() + b.len(), |_| Ok(()))?;
            Ok((erynoa_ecl::vm::eq_ignore_case(&a, &b),))
        },
    )?;
    Ok(())
}
