//! `erynoa test`: policy test files, for Rust components and ECL alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use erynoa_host::{
    BudgetLimits, ComponentEngine, Evaluation, ExecutionMode, Policy, PolicySource, Request, Trust,
    TrustStore, UnifiedState,
};
use serde::Deserialize;

use crate::args::TestArgs;
use crate::output::ExitStatus;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    policy: Option<PathBuf>,
    #[serde(default)]
    state: Option<toml::Value>,
    #[serde(default)]
    gas_limit: Option<u64>,
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    request: toml::Value,
    expect: Expect,
    reason: Option<String>,
    max_gas: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

pub fn execute(args: TestArgs) -> anyhow::Result<ExitStatus> {
    let trust = match &args.trust_store {
        Some(path) => Trust::Store(TrustStore::from_file(path)?),
        None => Trust::AllowUnsigned,
    };
    let engine = ComponentEngine::new(Default::default())?.with_trust(trust);
    let (mut passed, mut failed) = (0, 0);
    for file in &args.files {
        let (p, f) = run_file(&engine, file, args.policy.as_deref())
            .with_context(|| format!("in test file `{}`", file.display()))?;
        passed += p;
        failed += f;
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::CheckFailed
    })
}

fn run_file(
    engine: &ComponentEngine,
    file: &Path,
    policy_override: Option<&Path>,
) -> anyhow::Result<(usize, usize)> {
    let text = erynoa_host::json::read_text_file(file, erynoa_host::json::MAX_INPUT_BYTES)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    let spec: TestFile = toml::from_str(&text)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let policy_path = match (policy_override, &spec.policy) {
        (Some(p), _) => p.to_owned(),
        (None, Some(p)) => base.join(p),
        (None, None) => bail!("no `policy` in the file and no --policy given"),
    };
    let state_json = match &spec.state {
        None => "{}".to_owned(),
        Some(toml::Value::String(path)) => {
            let path = base.join(path);
            erynoa_host::json::read_text_file(&path, erynoa_host::json::MAX_INPUT_BYTES)
                .with_context(|| format!("cannot read state `{}`", path.display()))?
        }
        Some(table) => serde_json::to_string(table)?,
    };
    // Checked once up front, so a bad fixture is one clear error.
    UnifiedState::from_json(&state_json).context("in the state")?;
    let limits = BudgetLimits {
        gas_limit: spec.gas_limit.unwrap_or(BudgetLimits::default().gas_limit),
        ..BudgetLimits::default()
    };
    let name = policy_path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    // ECL runs on both back ends, which must agree.
    let policies: Vec<(String, Arc<dyn Policy>)> = match PolicySource::parse(&policy_path)? {
        PolicySource::Ecl { path, .. } => {
            let mut out = Vec::new();
            for (label, mode) in [("vm", ExecutionMode::Legacy), ("wasm", ExecutionMode::Wasm)] {
                let source = PolicySource::Ecl {
                    path: path.clone(),
                    mode,
                };
                out.push((format!("{name} ({label})"), source.load(engine, None)?));
            }
            out
        }
        other => vec![(name.clone(), other.load(engine, None)?)],
    };

    println!("{}", file.display());
    let (mut passed, mut failed) = (0, 0);
    for (label, policy) in &policies {
        println!("  {label}");
        for case in &spec.cases {
            let request = Request::from_json(&serde_json::to_string(&case.request)?)
                .with_context(|| format!("in the request of `{}`", case.name))?;
            let state = Arc::new(UnifiedState::from_json(&state_json)?);
            let e = policy.evaluate(&state, &request, limits);
            match problem(case, &e) {
                None => {
                    passed += 1;
                    println!(
                        "    ok    {:<40} {:<5} gas {}",
                        case.name,
                        effect(&e),
                        e.gas_used
                    );
                }
                Some(why) => {
                    failed += 1;
                    println!("    FAIL  {:<40} {why}", case.name);
                }
            }
        }
    }
    Ok((passed, failed))
}

fn effect(e: &Evaluation) -> &'static str {
    if e.is_allowed() { "allow" } else { "deny" }
}

/// What is wrong with `e` for `case`, if anything.
fn problem(case: &Case, e: &Evaluation) -> Option<String> {
    let got = if e.is_allowed() {
        Expect::Allow
    } else {
        Expect::Deny
    };
    let reason = e.reason.as_deref().unwrap_or("");
    if got != case.expect {
        return Some(format!(
            "expected {}, got {} ({})",
            if case.expect == Expect::Allow {
                "allow"
            } else {
                "deny"
            },
            effect(e),
            if reason.is_empty() {
                "no reason"
            } else {
                reason
            }
        ));
    }
    if let Some(want) = &case.reason
        && want != reason
    {
        return Some(format!("expected reason {want:?}, got {reason:?}"));
    }
    if let Some(max) = case.max_gas
        && e.gas_used > max
    {
        return Some(format!("used {} gas, ceiling {max}", e.gas_used));
    }
    None
}
