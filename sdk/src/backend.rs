//! Where host calls go: the component's imports on wasm, the in-memory
//! [`crate::testing::TestHost`] everywhere else. Both offer the same functions.

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::testing::backend::*;

#[cfg(target_arch = "wasm32")]
pub(crate) use self::wasm::*;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use crate::__private::bindings::erynoa::ecl::{
        budget, context, events, identity, state, trust, types as wit,
    };
    use crate::context::Level;
    use crate::{
        Budget, Decision, Error, ErrorCode, GasLayer, Request, Result, TrustVector, Value,
    };

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

    impl From<wit::Error> for Error {
        fn from(e: wit::Error) -> Self {
            let code = match e.code {
                wit::ErrorCode::NotFound => ErrorCode::NotFound,
                wit::ErrorCode::InvalidArgument => ErrorCode::InvalidArgument,
                wit::ErrorCode::LimitExceeded => ErrorCode::LimitExceeded,
                wit::ErrorCode::Internal => ErrorCode::Internal,
            };
            Error {
                code,
                message: e.message,
            }
        }
    }

    impl From<Error> for wit::Error {
        fn from(e: Error) -> Self {
            let code = match e.code {
                ErrorCode::NotFound => wit::ErrorCode::NotFound,
                ErrorCode::InvalidArgument => wit::ErrorCode::InvalidArgument,
                ErrorCode::LimitExceeded => wit::ErrorCode::LimitExceeded,
                ErrorCode::Internal => wit::ErrorCode::Internal,
            };
            wit::Error {
                code,
                message: e.message,
            }
        }
    }

    impl From<wit::Request> for Request {
        fn from(r: wit::Request) -> Self {
            let mut req = Request::new(r.caller, r.realm)
                .with_action(r.action)
                .with_resource(r.resource);
            for p in r.params {
                let value = match p.value {
                    wit::Value::Null => Value::Null,
                    wit::Value::Boolean(b) => Value::Bool(b),
                    wit::Value::Number(n) => Value::Number(n),
                    wit::Value::Text(s) => Value::Text(s),
                    wit::Value::Did(s) => Value::Did(s),
                };
                req = req.with_param(p.name, value);
            }
            req
        }
    }

    impl From<Decision> for wit::Decision {
        fn from(d: Decision) -> Self {
            let effect = if d.is_allowed() {
                wit::Effect::Allow
            } else {
                wit::Effect::Deny
            };
            wit::Decision {
                effect,
                reason: d.reason().map(str::to_owned),
            }
        }
    }

    pub(crate) fn get_trust(did: &str) -> Result<TrustVector> {
        trust::get_trust(did).map(Into::into).map_err(Into::into)
    }

    pub(crate) fn trust_norm(tv: TrustVector) -> f64 {
        trust::trust_norm(tv.into())
    }

    pub(crate) fn has_credential(did: &str, schema: &str) -> Result<bool> {
        identity::has_credential(did, schema).map_err(Into::into)
    }

    pub(crate) fn resolve_did(did: &str) -> Result<bool> {
        identity::resolve_did(did).map_err(Into::into)
    }

    pub(crate) fn store_get(store: &str, key: &str) -> Result<Option<String>> {
        state::store_get(store, key).map_err(Into::into)
    }

    pub(crate) fn store_put(store: &str, key: &str, value: &str) -> Result<()> {
        state::store_put(store, key, value).map_err(Into::into)
    }

    pub(crate) fn store_delete(store: &str, key: &str) -> Result<bool> {
        state::store_delete(store, key).map_err(Into::into)
    }

    pub(crate) fn consume_gas(layer: GasLayer, amount: u64) {
        let layer = match layer {
            GasLayer::Network => wit::GasLayer::Network,
            GasLayer::Compute => wit::GasLayer::Compute,
            GasLayer::Storage => wit::GasLayer::Storage,
            GasLayer::Realm => wit::GasLayer::Realm,
        };
        budget::consume_gas(layer, amount)
    }

    pub(crate) fn consume_mana(amount: u64) {
        budget::consume_mana(amount)
    }

    pub(crate) fn remaining() -> Budget {
        let b = budget::remaining();
        Budget {
            gas_used: b.gas_used,
            gas_limit: b.gas_limit,
            mana_used: b.mana_used,
            mana_limit: b.mana_limit,
        }
    }

    pub(crate) fn gas_left() -> u64 {
        budget::gas_left()
    }

    pub(crate) fn caller() -> String {
        context::caller()
    }

    pub(crate) fn realm() -> String {
        context::realm()
    }

    pub(crate) fn timestamp() -> u64 {
        context::timestamp()
    }

    pub(crate) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => context::Level::Trace,
            Level::Debug => context::Level::Debug,
            Level::Info => context::Level::Info,
            Level::Warn => context::Level::Warn,
            Level::Error => context::Level::Error,
        };
        context::log(level, message)
    }

    pub(crate) fn emit_event(event_type: &str, payload: &str) -> Result<()> {
        events::emit_event(event_type, payload).map_err(Into::into)
    }
}
