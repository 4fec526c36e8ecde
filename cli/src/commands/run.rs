//! `erynoa run`: evaluate requests with policies.

use std::sync::Arc;

use anyhow::Context;
use erynoa_host::{
    BudgetLimits, ComponentEngine, Evaluation, HostCallRecord, Policy, PolicySource, Request, Tape,
    Trust, TrustStore, UnifiedState,
};

use erynoa_host::json::{MAX_INPUT_BYTES, read_text_file};

use crate::args::{PolicyArgs, RunArgs};
use crate::output::{self, ExitStatus, Format};

/// Policies loaded and checked, with the state and requests to run them on.
pub(super) struct Inputs {
    /// The state fixture's path, to start a policy from it again.
    state_path: Option<std::path::PathBuf>,
    pub state: Arc<UnifiedState>,
    pub requests: Vec<Request>,
    pub policies: Vec<Arc<dyn Policy>>,
    pub limits: BudgetLimits,
}

impl Inputs {
    /// Reads the state and requests, and loads every policy as the trust
    /// store (or `--allow-unsigned`) permits.
    pub fn load(args: &PolicyArgs) -> anyhow::Result<Self> {
        let state = match &args.state {
            // The state's errors name the file themselves.
            Some(path) => UnifiedState::from_file(path)?,
            None => UnifiedState::new(),
        };
        let text = read_text_file(&args.request, MAX_INPUT_BYTES)
            .with_context(|| format!("cannot read request file `{}`", args.request.display()))?;
        let requests = Request::many_from_json(&text)
            .with_context(|| format!("in `{}`", args.request.display()))?;
        if requests.is_empty() {
            anyhow::bail!("`{}` holds no requests", args.request.display());
        }

        let trust = match &args.trust_store {
            Some(path) => Trust::Store(TrustStore::from_file(path)?),
            None => {
                eprintln!(
                    "warning: --allow-unsigned: loading policies WITHOUT checking their signatures"
                );
                Trust::AllowUnsigned
            }
        };
        let mut engine = ComponentEngine::new(Default::default())?.with_trust(trust.clone());
        if let Some(dir) = &args.cache {
            let key = match &args.cache_key {
                Some(key) => key.clone(),
                None => default_cache_key()?,
            };
            engine = engine.with_cache(dir, key)?;
        }
        let mut policies: Vec<Arc<dyn Policy>> = Vec::new();
        for spec in &args.policies {
            policies.push(PolicySource::parse(spec)?.load(&engine, args.entry.as_deref())?);
        }

        let limits = BudgetLimits {
            gas_limit: args.budget.gas,
            mana_limit: args.budget.mana,
            timeout_ms: args.budget.timeout_ms,
            memory_limit_bytes: args.budget.memory_mib << 20,
            ..BudgetLimits::default()
        };
        Ok(Self {
            state_path: args.state.clone(),
            state: Arc::new(state),
            requests,
            policies,
            limits,
        })
    }

    /// The state as the fixture file has it, independent of `self.state`.
    pub fn fresh_state(&self) -> anyhow::Result<UnifiedState> {
        Ok(match &self.state_path {
            Some(path) => UnifiedState::from_file(path)?,
            None => UnifiedState::new(),
        })
    }
}

/// Where the compiled cache's key lives unless `--cache-key` says: with the
/// user's configuration, outside any cache directory.
fn default_cache_key() -> anyhow::Result<std::path::PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(|home| std::path::PathBuf::from(home).join(".config"))
            .context("--cache needs --cache-key FILE: neither XDG_CONFIG_HOME nor HOME is set")?,
    };
    Ok(config.join("erynoa").join("cache.key"))
}

pub fn execute(args: RunArgs, format: Format) -> anyhow::Result<ExitStatus> {
    let mut inputs = Inputs::load(&args.inputs)?;
    let limits = inputs.limits;
    // The log closes (and flushes) when the last state holding it drops.
    let log = match &args.data {
        Some(dir) => {
            let fixture = match &inputs.state_path {
                Some(_) => Some(inputs.fresh_state()?),
                None => None,
            };
            let (log, state) =
                erynoa_store::Log::open_state(dir, erynoa_store::Durability::Immediate, fixture)?;
            let log = Arc::new(log);
            // A fresh state has no journal yet.
            let _ = state.set_journal(log.clone());
            inputs.state = Arc::new(state);
            Some(log)
        }
        None => None,
    };
    let mut last_logged = None;
    let replay: Option<Vec<Recorded>> = match &args.replay {
        Some(path) => {
            let text = read_text_file(path, MAX_INPUT_BYTES)
                .with_context(|| format!("cannot read recording `{}`", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("`{}` is not a recording", path.display()))?,
            )
        }
        None => None,
    };
    let mut recorded: Vec<Recorded> = Vec::new();
    let mut divergences = 0;
    let mut results: Vec<(&Request, Evaluation)> = Vec::new();
    // Every state evaluated against: one, or one per policy.
    let mut states: Vec<Arc<UnifiedState>> = Vec::new();
    for policy in &inputs.policies {
        let state = if args.state_per_policy {
            Arc::new(inputs.fresh_state()?)
        } else {
            Arc::clone(&inputs.state)
        };
        for request in &inputs.requests {
            let index = results.len();
            let tape = match (&replay, &args.record) {
                (Some(rec), _) => {
                    Tape::replay(rec.get(index).map(|r| r.calls.clone()).unwrap_or_default())
                }
                (None, Some(_)) => Tape::Record(Vec::new()),
                (None, None) => Tape::Off,
            };
            let (evaluation, tape) = policy.evaluate_taped(&state, request, limits, tape);
            if let Some(rec) = &replay {
                let mut found = tape.divergences();
                match rec.get(index) {
                    Some(r) if r.policy != evaluation.policy_id => found.insert(
                        0,
                        format!(
                            "recorded for policy `{}`, run with `{}`",
                            r.policy, evaluation.policy_id
                        ),
                    ),
                    None => found.insert(0, "not in the recording".to_owned()),
                    Some(_) => {}
                }
                for d in &found {
                    eprintln!(
                        "replay: evaluation {} ({}, {}): {d}",
                        index + 1,
                        evaluation.policy_id,
                        request.caller()
                    );
                }
                divergences += found.len();
            }
            if args.record.is_some() {
                recorded.push(Recorded {
                    policy: evaluation.policy_id.clone(),
                    caller: request.caller().to_owned(),
                    realm: request.realm().to_owned(),
                    action: request.action().to_owned(),
                    calls: tape.recorded(),
                });
            }
            if let Some(log) = &log {
                last_logged = Some(log_decision(log, policy.as_ref(), request, &evaluation)?);
            }
            results.push((request, evaluation));
        }
        if args.state_per_policy || states.is_empty() {
            states.push(state);
        }
    }
    if let (Some(log), Some(seq)) = (&log, last_logged) {
        log.wait_durable(seq, std::time::Duration::from_secs(30))?;
    }
    if let Some(path) = &args.events {
        let mut text = String::new();
        for event in states.iter().flat_map(|s| s.events()) {
            text.push_str(&serde_json::to_string(&event)?);
            text.push('\n');
        }
        std::fs::write(path, text)
            .with_context(|| format!("cannot write events `{}`", path.display()))?;
    }
    if let Some(path) = &args.record {
        let text = serde_json::to_string_pretty(&recorded)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write recording `{}`", path.display()))?;
    }

    let single = results.len() == 1;
    if format == Format::Json {
        output::print_json(&results)?;
    } else if let [(_, evaluation)] = results.as_slice() {
        output::print_evaluation(evaluation);
    } else {
        output::print_table(&results);
    }
    if let Some(path) = &args.replay {
        let count = replay.as_ref().map_or(0, Vec::len);
        if divergences > 0 || count != results.len() {
            eprintln!(
                "replay of `{}`: {divergences} divergence(s); {count} evaluation(s) recorded, {} run",
                path.display(),
                results.len()
            );
            return Ok(ExitStatus::CheckFailed);
        }
        eprintln!("replay of `{}`: every host call matched", path.display());
    }
    Ok(match results.first() {
        Some((_, e)) if single && !e.is_allowed() => ExitStatus::Deny,
        _ => ExitStatus::Success,
    })
}

/// One evaluation's host calls, as `--record` writes them.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Recorded {
    policy: String,
    caller: String,
    realm: String,
    action: String,
    calls: Vec<HostCallRecord>,
}

/// Logs one decision as the service does, under a fresh decision id.
fn log_decision(
    log: &erynoa_store::Log,
    policy: &dyn Policy,
    request: &Request,
    evaluation: &Evaluation,
) -> anyhow::Result<u64> {
    let info = policy.info();
    let digest = info.admission.as_ref().map(|a| a.digest.as_str());
    let who = erynoa_store::PolicyRecord::of(&info.id, info, digest);
    let id = uuid::Uuid::now_v7().to_string();
    let body = erynoa_store::decision_entry(&id, who, request, evaluation, None)?;
    Ok(log.append_raw("decision", body)?)
}
