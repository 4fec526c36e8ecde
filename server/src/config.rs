//! `erynoa.toml`: what the service listens on, where its policies, trust
//! store and state are, and its limits. Unknown keys are errors that name
//! the key; [`DEFAULT_CONFIG`] is the commented default
//! (`erynoa serve --print-config`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use erynoa_host::BudgetLimits;
use serde::Deserialize;

/// The commented default configuration. It parses to [`Config::default`].
pub const DEFAULT_CONFIG: &str = r#"# erynoa serve configuration. Paths are relative to this file.
# Every key is optional; this file lists the defaults.

# Decisions: POST /v1/decide/{policy}, GET /v1/policies, /health, /ready, /metrics.
listen = "127.0.0.1:8181"

# Admin: rollback, activate, reload. Every request needs the bearer token
# in `admin_token_file` (a file of mode 0600); without one the listener
# answers 401 to everything. Remove the key to serve no admin API.
admin_listen = "127.0.0.1:8182"
# admin_token_file = "admin.token"

# Signed components (NAME.wasm) and pinned ECL (NAME.ecl on the back end
# `Auto` picks, NAME.legacy.ecl on the VM, NAME.wasm.ecl compiled): the
# policy's id is NAME. Changes are picked up within a second; write a new
# version to a temporary name and rename it into place.
policies = "policies"

# Keys, grants and pins: what may run. Reloaded on change; a store that
# does not parse leaves the previous one in force.
trust_store = "trust.toml"

# The state policies read: a JSON fixture (trust vectors, credentials,
# stores). Without one the state starts empty. With `data`, the fixture is
# copied into the data directory the first time; later starts must name the
# same fixture or none.
# state = "state.json"

# The durable log: every state change and every decision, hash-chained, in
# DATA/erynoa.redb; the state is rebuilt from it at start (from the newest
# checkpoint). Without it the state lives in memory only.
# data = "data"
# `immediate`: a decision is fsynced before it is answered (group commit
# shares fsyncs between concurrent requests). `batched`: answered once
# queued; written within about 5 ms and fsynced every `batch_ms`. A crash
# of the process can lose the last few milliseconds of answered decisions
# and their changes (still queued); a power cut, the last `batch_ms` more.
durability = "immediate"
batch_ms = 10
# A checkpoint (the whole state, confirmed in the chain) is taken in the
# background every this many entries, so that a restart replays at most
# about this many. 0: only `erynoa log compact` takes them.
checkpoint_every = 100000

# How often the policy directory and the trust store are checked, in ms.
scan_interval_ms = 250

# Versions of each policy kept, compiled, for rollback.
keep_versions = 5

# Largest request body, in bytes (413 above).
body_limit_bytes = 1048576

# Evaluations that run at once (0: one per CPU), and how many more may wait
# for a slot before the service answers 503 with Retry-After.
concurrency = 0
queue = 1024

# Longest a request may wait for a slot, in ms (then 503).
queue_timeout_ms = 1000

# After SIGTERM or SIGINT: how long requests in flight may take to finish, in ms.
grace_period_ms = 10000

# Envoy external authorization over gRPC. Remove `listen` to serve none.
[ext_authz]
listen = "127.0.0.1:9191"
# The header carrying the caller's DID.
caller_header = "x-erynoa-caller"
# The realm of every check, unless `realm_header` names a header present.
realm = "default"
# realm_header = "x-erynoa-realm"
# Headers passed to the policy as string parameters (lower case).
param_headers = []
# The policy deciding paths no route matches (none: such checks are denied).
# policy = "gateway"
# Path prefixes and their policies; the longest matching prefix wins.
# [[ext_authz.routes]]
# prefix = "/payments/"
# policy = "kyc"

# Request parameters the decision log leaves out, or keeps only as a
# sha256 digest of their value (the entry's request_digest is of the
# whole request either way).
[log_masking]
drop_params = []
hash_params = []

# TLS on the HTTP listeners (rustls), each optional; files are reloaded
# when they change. `client_ca` makes clients present a certificate (mTLS).
# [tls.decisions]
# cert = "server.crt"
# key = "server.key"
# [tls.admin]
# cert = "admin.crt"
# key = "admin.key"
# client_ca = "operators-ca.pem"

# The budget of each evaluation.
[budget]
gas_limit = 1000000
mana_limit = 10000
max_stack_depth = 1024
timeout_ms = 5000
memory_limit_bytes = 16777216
"#;

/// The service's configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The decision API's address.
    pub listen: Option<SocketAddr>,
    /// The admin API's address.
    pub admin_listen: Option<SocketAddr>,
    /// The admin bearer token's file.
    pub admin_token_file: Option<PathBuf>,
    /// The policy directory.
    pub policies: PathBuf,
    /// The trust store.
    pub trust_store: PathBuf,
    /// The state fixture, if any.
    pub state: Option<PathBuf>,
    /// The data directory of the durable log, if any.
    pub data: Option<PathBuf>,
    /// When a logged decision may be answered.
    pub durability: LogDurability,
    /// In `batched` mode, how often the log is fsynced, in ms.
    pub batch_ms: u64,
    /// Entries between background checkpoints (0: none).
    pub checkpoint_every: u64,
    /// Request parameters kept out of the decision log.
    pub log_masking: Masking,
    /// How often files are checked, in ms.
    pub scan_interval_ms: u64,
    /// Versions kept per policy.
    pub keep_versions: usize,
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Evaluations at once; 0 is one per CPU.
    pub concurrency: usize,
    /// Requests that may wait for a slot.
    pub queue: usize,
    /// Longest wait for a slot, in ms.
    pub queue_timeout_ms: u64,
    /// Shutdown grace period, in ms.
    pub grace_period_ms: u64,
    /// Each evaluation's budget.
    pub budget: Budget,
    /// Envoy ext_authz.
    pub ext_authz: crate::ext_authz::ExtAuthzConfig,
    /// TLS on the HTTP listeners.
    pub tls: TlsListeners,
}

/// TLS per HTTP listener; a listener without it speaks plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListeners {
    /// The decision listener's.
    pub decisions: Option<crate::tls::TlsConfig>,
    /// The admin listener's.
    pub admin: Option<crate::tls::TlsConfig>,
}

pub use erynoa_store::Masking;

/// `durability` in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogDurability {
    /// Every decision is durable before it is answered.
    #[default]
    Immediate,
    /// Decisions are answered once written; fsynced every `batch_ms`.
    Batched,
}

/// [`BudgetLimits`] as the file spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // the fields of `BudgetLimits`
pub struct Budget {
    pub gas_limit: u64,
    pub mana_limit: u64,
    pub max_stack_depth: u32,
    pub timeout_ms: u64,
    pub memory_limit_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        let d = BudgetLimits::default();
        Budget {
            gas_limit: d.gas_limit,
            mana_limit: d.mana_limit,
            max_stack_depth: d.max_stack_depth,
            timeout_ms: d.timeout_ms,
            memory_limit_bytes: d.memory_limit_bytes,
        }
    }
}

impl From<Budget> for BudgetLimits {
    fn from(b: Budget) -> Self {
        BudgetLimits {
            gas_limit: b.gas_limit,
            mana_limit: b.mana_limit,
            max_stack_depth: b.max_stack_depth,
            timeout_ms: b.timeout_ms,
            memory_limit_bytes: b.memory_limit_bytes,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8181))),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8182))),
            admin_token_file: None,
            policies: "policies".into(),
            trust_store: "trust.toml".into(),
            state: None,
            data: None,
            durability: LogDurability::Immediate,
            batch_ms: 10,
            checkpoint_every: 100_000,
            log_masking: Masking::default(),
            scan_interval_ms: 250,
            keep_versions: 5,
            body_limit_bytes: 1 << 20,
            concurrency: 0,
            queue: 1024,
            queue_timeout_ms: 1000,
            grace_period_ms: 10_000,
            budget: Budget::default(),
            ext_authz: crate::ext_authz::ExtAuthzConfig::default(),
            tls: TlsListeners::default(),
        }
    }
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// The file is not a valid configuration (an unknown key is named).
    #[error("`{path}` is not a valid configuration: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, where.
        message: String,
    },
    /// A value that cannot work.
    #[error("{0}")]
    Value(String),
}

/// Longest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads `path`; relative paths in it are taken from its directory.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("erynoa-config-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("erynoa.toml"), "policies = \"p\"\nlisten = \"127.0.0.1:9000\"\n")?;
    /// let config = erynoa_server::Config::from_file(&dir.join("erynoa.toml"))?;
    /// assert_eq!(config.policies, dir.join("p"));
    /// std::fs::write(dir.join("bad.toml"), "polices = \"p\"\n")?;
    /// let error = erynoa_server::Config::from_file(&dir.join("bad.toml")).unwrap_err();
    /// assert!(error.to_string().contains("unknown field `polices`"), "{error}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = erynoa_host::json::read_text_file(path, MAX_CONFIG_BYTES).map_err(|error| {
            ConfigError::Read {
                path: shown.clone(),
                error,
            }
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: shown,
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve(base);
        Ok(config)
    }

    /// Makes relative paths relative to `base`.
    pub fn resolve(&mut self, base: &Path) {
        for p in [&mut self.policies, &mut self.trust_store] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let tls = [&mut self.tls.decisions, &mut self.tls.admin]
            .into_iter()
            .flatten()
            .flat_map(|t| [Some(&mut t.cert), Some(&mut t.key), t.client_ca.as_mut()])
            .flatten();
        for p in [&mut self.state, &mut self.admin_token_file, &mut self.data]
            .into_iter()
            .flatten()
            .chain(tls)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Value(m.to_owned()));
        if self.listen.is_none() && self.admin_listen.is_none() && self.ext_authz.listen.is_none() {
            return bad(
                "no listener is set (`listen`, `admin_listen`, `ext_authz.listen`): nothing to serve",
            );
        }
        if self.keep_versions == 0 {
            return bad("`keep_versions` must be at least 1 (the active version)");
        }
        if self.scan_interval_ms == 0 || self.scan_interval_ms > 60_000 {
            return bad("`scan_interval_ms` must be between 1 and 60000");
        }
        if self.body_limit_bytes == 0 {
            return bad("`body_limit_bytes` must be at least 1");
        }
        Ok(())
    }

    /// Evaluations at once: `concurrency`, or one per CPU.
    pub fn slots(&self) -> usize {
        if self.concurrency > 0 {
            return self.concurrency;
        }
        std::thread::available_parallelism().map_or(2, usize::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_is_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG).expect("parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = toml::from_str::<Config>("[budget]\ngas = 5\n").expect_err("unknown");
        assert!(e.to_string().contains("unknown field `gas`"), "{e}");
        let e = toml::from_str::<Config>("listen = \"localhost\"\n").expect_err("address");
        assert!(e.to_string().contains("listen"), "{e}");
        let c: Config = toml::from_str("keep_versions = 0\n").expect("parses");
        assert!(c.validate().is_err());
    }
}
