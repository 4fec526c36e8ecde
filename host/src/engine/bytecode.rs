//! The built-in fallback engine: ECL source and legacy `.eclc` bytecode run
//! on the legacy VM, through the same [`Session`], budget, transactions,
//! events and metrics as a component.
//!
//! Nothing runs unadmitted: with a trust store, a file loads only if its
//! SHA-256 digest is pinned in a `[[component]]` entry, and only with the
//! capabilities granted there.

use std::collections::BTreeSet;
use std::sync::Arc;

use erynoa_core::{Exhaustion, GasLayer};
use erynoa_ecl::bytecode::{OpCode, Value as VmValue};
use erynoa_ecl::vm::{self, HostError, Metering, Outcome, RunOptions, VmError};
use erynoa_ecl::{Program, SourceMap};

use crate::engine::{LoadError, PolicyEngine};
use crate::evaluation::{CallError, LogLevel, Session};
use crate::evaluation::{Decision, Effect, Failure, Policy, PolicyInfo, Run};
use crate::state::PolicyType;
use crate::trust_store::{Admission, Capability, Trust};

/// Runs ECL source and legacy bytecode on the legacy VM.
///
/// ```
/// use std::sync::Arc;
/// use erynoa_host::{BudgetLimits, BytecodeEngine, Policy, Request, Trust, UnifiedState};
///
/// let engine = BytecodeEngine::new(Trust::AllowUnsigned);
/// let policy = engine.load_source("adult", r#"policy "adult" { require caller.trust.R >= 0.5  allow }"#, None)?;
/// let state = Arc::new(UnifiedState::from_json(r#"{"trust": {"did:erynoa:self:alice": 0.9}}"#)?);
/// let answer = policy.evaluate(&state, &Request::builder("did:erynoa:self:alice", "r").build(), BudgetLimits::default());
/// assert!(answer.is_allowed());
/// assert_eq!(answer.gas_used, 26); // LoadTrust is network 10, the rest compute
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BytecodeEngine {
    trust: Trust,
}

/// A policy on the legacy VM.
#[derive(Debug)]
pub struct BytecodePolicy {
    info: PolicyInfo,
    code: Arc<[OpCode]>,
    /// Where each instruction came from, when compiled from source.
    source_map: Option<SourceMap>,
    /// Legacy `.eclc`: run with `run_policy` semantics (caller pushed first).
    legacy: bool,
}

impl BytecodeEngine {
    /// An engine that admits files as `trust` says.
    pub fn new(trust: Trust) -> Self {
        Self { trust }
    }

    /// Compiles policy `entry` (default: the first) of ECL `source`.
    pub fn load_source(
        &self,
        id: &str,
        source: &str,
        entry: Option<&str>,
    ) -> Result<BytecodePolicy, LoadError> {
        let admission = self.admit(id, source.as_bytes())?;
        let program = compile(id, source, entry)?;
        self.finish(id, program, false, admission)
    }

    /// Reads a legacy `.eclc` file. It runs as the legacy `run_policy` did:
    /// the caller's DID is pushed first, jump targets unchanged.
    pub fn load_eclc(&self, id: &str, bytes: &[u8]) -> Result<BytecodePolicy, LoadError> {
        let admission = self.admit(id, bytes)?;
        let code = erynoa_ecl::eclc::read(bytes).map_err(|e| LoadError::Invalid {
            reason: e.to_string(),
        })?;
        let program = Program {
            name: id.to_owned(),
            code,
            locals: 0,
            max_stack: 0,
            source_map: None,
        };
        self.finish(id, program, true, admission)
    }

    pub(super) fn admit(&self, id: &str, bytes: &[u8]) -> Result<Option<Admission>, LoadError> {
        match &self.trust {
            Trust::AllowUnsigned => {
                tracing::warn!("loading ECL without a pinned digest: development only");
                Ok(None)
            }
            Trust::Store(store) => store
                .admit_pinned(bytes)
                .and_then(|a| store.check_policy_id(id, &a).map(|()| a))
                .map(Some)
                .map_err(LoadError::Refused),
        }
    }

    pub(super) fn finish(
        &self,
        id: &str,
        program: Program,
        legacy: bool,
        admission: Option<Admission>,
    ) -> Result<BytecodePolicy, LoadError> {
        let Program {
            name,
            code,
            source_map,
            ..
        } = program;
        if let Some(a) = &admission {
            check_capabilities(&code, a)?;
        }
        let needs = capabilities(&code);
        let span = tracing::info_span!("load", policy = id, engine = "bytecode");
        let _enter = span.enter();
        tracing::info!(instructions = code.len(), legacy, "loaded");
        Ok(BytecodePolicy {
            info: PolicyInfo {
                id: id.to_owned(),
                name,
                version: if legacy { "legacy" } else { "ecl-1.0" }.to_owned(),
                policy_type: PolicyType::Custom,
                engine: "bytecode",
                imports: needs
                    .iter()
                    .map(|c| format!("erynoa:ecl/{c}@0.1.0"))
                    .collect(),
                admission: admission.map(Arc::new),
            },
            code: code.into(),
            source_map,
            legacy,
        })
    }
}

impl PolicyEngine for BytecodeEngine {
    /// ECL source (UTF-8 text) or a legacy `.eclc` file (which starts with
    /// an 8-byte little-endian count, so it has a NUL byte where text never does).
    fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<dyn Policy>, LoadError> {
        if bytes.starts_with(b"\0asm") {
            return Err(LoadError::Invalid {
                reason: "this is WebAssembly: load it with the component engine".into(),
            });
        }
        if bytes.iter().take(8).any(|&b| b == 0) {
            return Ok(Arc::new(self.load_eclc(id, bytes)?));
        }
        let source = std::str::from_utf8(bytes).map_err(|e| LoadError::Invalid {
            reason: format!("ECL source is not UTF-8: {e}"),
        })?;
        Ok(Arc::new(self.load_source(id, source, None)?))
    }
}

fn check_capabilities(code: &[OpCode], a: &Admission) -> Result<(), LoadError> {
    match capabilities(code)
        .into_iter()
        .find(|c| !a.capabilities.contains(c))
    {
        Some(missing) => Err(LoadError::NotGranted {
            interface: format!("erynoa:ecl/{missing}"),
            capability: missing,
            signers: format!("digest {}", a.digest),
        }),
        None => Ok(()),
    }
}

/// The capabilities a program's instructions need.
pub fn capabilities(code: &[OpCode]) -> BTreeSet<Capability> {
    code.iter()
        .filter_map(OpCode::interface)
        .filter_map(|name| Capability::of_interface(name).flatten())
        .collect()
}

impl BytecodePolicy {
    /// The program it runs.
    pub fn code(&self) -> &[OpCode] {
        &self.code
    }
}

impl Policy for BytecodePolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn run(&self, mut session: Session) -> Run {
        let options = RunOptions {
            metering: Metering::Layered,
            max_stack_depth: session.meter().limits().max_stack_depth as usize,
            push_caller: self.legacy,
        };
        let done = vm::run(&self.code, &mut session, options);
        let outcome = decide(done.result).map_err(|failure| match (failure, &self.source_map) {
            (Failure::PolicyFault { message }, Some(map)) => Failure::PolicyFault {
                message: done
                    .at
                    .map_or(message.clone(), |at| map.fault(at, &message)),
            },
            (other, _) => other,
        });
        Run::new(session, outcome)
    }
}

/// How a VM run becomes a decision. The compiled component follows the
/// same rules, so both back ends decide alike.
pub fn decide(result: Result<Outcome, VmError>) -> Result<Decision, Failure> {
    let deny = |reason: Option<String>| Decision::checked(Effect::Deny, reason);
    match result {
        Ok(Outcome::Return(VmValue::Bool(true))) => Ok(Decision {
            effect: Effect::Allow,
            reason: None,
        }),
        Ok(Outcome::Return(VmValue::Bool(false))) => deny(None),
        Ok(Outcome::Return(other)) => Err(Failure::PolicyFault {
            message: format!(
                "{}{}{}",
                vm::message::RETURNED,
                other.type_name(),
                vm::message::NOT_A_BOOL
            ),
        }),
        Ok(Outcome::Deny(reason)) => deny(Some(reason)),
        Err(VmError::AssertionFailed) => deny(Some("Assertion failed".into())),
        Err(VmError::RequireFailed(message)) => deny(Some(message)),
        Err(VmError::Exhausted(e)) => Err(Failure::Exhausted(e)),
        Err(VmError::StackOverflow) => Err(Failure::Exhausted(Exhaustion::StackOverflow)),
        Err(VmError::Host { code, message }) => Err(Failure::PolicyError { code, message }),
        Err(other) => Err(Failure::PolicyFault {
            message: other.to_string(),
        }),
    }
}

/// Compiles ECL `source`, its faults located in the file `id` names
/// (`kyc.ecl@wasm` is `kyc.ecl`).
pub(super) fn compile(id: &str, source: &str, entry: Option<&str>) -> Result<Program, LoadError> {
    let file = id.rsplit_once('@').map_or(id, |(file, _)| file);
    erynoa_ecl::compile(source, entry)
        .map(|p| p.in_file(file))
        .map_err(|d| LoadError::Ecl {
            diagnostics: d.render(id, source),
        })
}

fn host_error(e: CallError) -> HostError {
    match e {
        CallError::Exhausted(e) => HostError::Exhausted(e),
        CallError::Rejected(r) => HostError::Failed {
            code: r.code.into(),
            message: r.message,
        },
    }
}

impl vm::Host for Session {
    fn caller(&self) -> &str {
        self.request().caller()
    }

    fn realm(&self) -> &str {
        self.request().realm()
    }

    fn param(&self, name: &str) -> VmValue {
        match self.request().param(name) {
            None | Some(erynoa_core::Value::Null) => VmValue::Null,
            Some(erynoa_core::Value::Bool(b)) => VmValue::Bool(*b),
            Some(erynoa_core::Value::Number(n)) => VmValue::Number(*n),
            Some(erynoa_core::Value::Text(s)) => VmValue::string(s),
            Some(erynoa_core::Value::Did(s)) => VmValue::did(s),
        }
    }

    fn get_trust(&mut self, did: &str) -> Result<[f64; 6], HostError> {
        let t = Session::get_trust(self, did).map_err(host_error)?;
        Ok(t.to_array())
    }

    fn has_credential(&mut self, did: &str, schema: &str) -> Result<bool, HostError> {
        Session::has_credential(self, did, schema).map_err(host_error)
    }

    fn resolve_did(&mut self, did: &str) -> Result<bool, HostError> {
        Session::resolve_did(self, did).map_err(host_error)
    }

    /// The host keeps no balances (as the legacy production host); the VM
    /// charged the opcode's network gas.
    fn get_balance(&mut self, _did: &str) -> Result<u64, HostError> {
        Ok(0)
    }

    fn timestamp(&mut self) -> Result<u64, HostError> {
        Ok(Session::timestamp(self)?)
    }

    fn now(&self) -> u64 {
        self.evaluation_time()
    }

    fn log(&mut self, message: &str) -> Result<(), HostError> {
        Ok(Session::log(self, LogLevel::Info, message)?)
    }

    fn store_get(&mut self, store: &str, key: &str) -> Result<Option<String>, HostError> {
        Session::store_get(self, store, key).map_err(host_error)
    }

    fn store_put(&mut self, store: &str, key: &str, value: &str) -> Result<(), HostError> {
        Session::store_put(self, store, key, value).map_err(host_error)
    }

    fn store_delete(&mut self, store: &str, key: &str) -> Result<bool, HostError> {
        Session::store_delete(self, store, key).map_err(host_error)
    }

    fn emit_event(&mut self, event_type: &str, payload: &str) -> Result<(), HostError> {
        Session::emit_event(self, event_type, payload).map_err(host_error)
    }

    fn charge(&mut self, layer: GasLayer, amount: u64) -> Result<(), Exhaustion> {
        self.meter_mut().charge_gas(layer, amount)
    }

    fn charges_calls(&self) -> bool {
        true
    }

    fn check_deadline(&mut self) -> Result<(), Exhaustion> {
        Session::check_deadline(self)
    }
}
