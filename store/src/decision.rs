//! Decision entries: who decided what, with which code, on which request,
//! and which commit it made.

use std::collections::{BTreeMap, BTreeSet};

use erynoa_host::{Evaluation, Request, Value};
use serde::{Deserialize, Serialize};

/// Which request parameters a decision entry leaves out or hashes
/// (`[log_masking]` in the service's configuration): for secrets and
/// personal data that the policy needs but the log should not keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Masking {
    /// Parameters left out of the logged request.
    pub drop_params: BTreeSet<String>,
    /// Parameters logged as `sha256:` of their JSON value.
    pub hash_params: BTreeSet<String>,
}

impl Masking {
    /// Whether it masks nothing.
    pub fn is_empty(&self) -> bool {
        self.drop_params.is_empty() && self.hash_params.is_empty()
    }
}

/// Gas used, in total and per layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gas {
    /// All of it.
    pub total: u64,
    /// Host calls that reach out.
    pub network: u64,
    /// The policy's own instructions.
    pub compute: u64,
    /// State reads and writes.
    pub storage: u64,
    /// Realm-scoped calls.
    pub realm: u64,
}

impl Gas {
    /// The gas an evaluation used.
    pub fn of(e: &Evaluation) -> Gas {
        Gas {
            total: e.gas_used,
            network: e.gas.network,
            compute: e.gas.compute,
            storage: e.gas.storage,
            realm: e.gas.realm,
        }
    }
}

/// The policy that decided, as its admission names it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRecord<'a> {
    /// The id it was loaded under.
    pub id: &'a str,
    /// The name it gives itself.
    pub name: &'a str,
    /// The version it gives itself.
    pub version: &'a str,
    /// `sha256:` of the admitted bytes; `None` when loaded unsigned
    /// (`erynoa run --allow-unsigned`).
    pub digest: Option<&'a str>,
    /// The trusted signers whose signatures verified.
    pub signers: Vec<&'a str>,
}

impl<'a> PolicyRecord<'a> {
    /// The record of a policy loaded under `id`, admitted as `digest`.
    pub fn of(id: &'a str, info: &'a erynoa_host::PolicyInfo, digest: Option<&'a str>) -> Self {
        PolicyRecord {
            id,
            name: &info.name,
            version: &info.version,
            digest,
            signers: info
                .admission
                .as_ref()
                .map(|a| a.signers.iter().map(|(name, _)| name.as_str()).collect())
                .unwrap_or_default(),
        }
    }
}

/// A request as `erynoa run` reads it: what the log keeps.
#[derive(Serialize)]
struct RequestRecord<'a> {
    caller: &'a str,
    realm: &'a str,
    action: &'a str,
    resource: &'a str,
    params: Params<'a>,
}

/// A request's parameters as logged: those named in `drop_params` left
/// out, those in `hash_params` replaced by `sha256:` of their JSON text.
struct Params<'a> {
    params: &'a BTreeMap<String, Value>,
    mask: Option<&'a Masking>,
}

fn param_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::json!(n),
        Value::Text(t) => serde_json::Value::String(t.clone()),
        Value::Did(d) => serde_json::json!({ "did": d }),
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.params {
            match self.mask {
                Some(m) if m.drop_params.contains(k) => {}
                Some(m) if m.hash_params.contains(k) => {
                    let text = param_json(v).to_string();
                    map.serialize_entry(k, &erynoa_host::digest(text.as_bytes()))?;
                }
                _ => map.serialize_entry(k, &param_json(v))?,
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct DecisionRecord<'a> {
    decision_id: &'a str,
    policy: PolicyRecord<'a>,
    /// `sha256:` of the whole request (before masking), as `request` would
    /// be written without it.
    request_digest: String,
    request: &'a serde_json::value::RawValue,
    effect: erynoa_host::Effect,
    reason: Option<&'a str>,
    failure: Option<&'static str>,
    gas: Gas,
    mana: u64,
    duration_us: u64,
    /// The sequence number of the commit it made, if any.
    commit: Option<u64>,
}

/// The body of one `decision` entry, serialized once, by the caller (off
/// the log's writer thread): `decision_id`, `policy`, `request_digest`
/// (`sha256:` of the whole request, so whoever holds it can show it is the
/// one decided), `request` (masked as `masking` says), `effect`, `reason`,
/// `failure` (its kind), `gas`, `mana`, `duration_us` and `commit` (the
/// sequence number of the commit it made).
///
/// ```
/// use std::sync::Arc;
/// use erynoa_host::{BudgetLimits, BytecodeEngine, Policy, Request, Trust, UnifiedState};
///
/// let engine = BytecodeEngine::new(Trust::AllowUnsigned);
/// let policy = engine.load_source("open", r#"policy "open" { allow }"#, None)?;
/// let request = Request::from_json(r#"{"caller": "did:e:a", "params": {"ssn": "123"}}"#)?;
/// let evaluation = policy.evaluate(&Arc::new(UnifiedState::new()), &request, BudgetLimits::default());
/// let who = erynoa_store::PolicyRecord::of("open", policy.info(), None);
/// let mask = erynoa_store::Masking { hash_params: ["ssn".into()].into(), ..Default::default() };
/// let body = erynoa_store::decision_entry("d-1", who, &request, &evaluation, Some(&mask))?;
/// assert!(body.get().contains(r#""effect":"allow""#) && !body.get().contains("123"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decision_entry(
    decision_id: &str,
    policy: PolicyRecord<'_>,
    request: &Request,
    e: &Evaluation,
    masking: Option<&Masking>,
) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
    let record_of = |mask| RequestRecord {
        caller: request.caller(),
        realm: request.realm(),
        action: request.action(),
        resource: request.resource(),
        params: Params {
            params: request.params(),
            mask,
        },
    };
    let whole = serde_json::value::to_raw_value(&record_of(None))?;
    let request_digest = erynoa_host::digest(whole.get().as_bytes());
    let request = match masking.filter(|m| !m.is_empty()) {
        Some(m) => serde_json::value::to_raw_value(&record_of(Some(m)))?,
        None => whole,
    };
    serde_json::value::to_raw_value(&DecisionRecord {
        decision_id,
        policy,
        request_digest,
        request: &request,
        effect: e.effect,
        reason: e.reason.as_deref(),
        failure: e.failure.as_ref().map(|f| f.kind()),
        gas: Gas::of(e),
        mana: e.mana_used,
        duration_us: u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX),
        commit: e.changes.sequence,
    })
}
