//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use erynoa_host::{BudgetLimits, Capability};

use crate::output::Format;

impl Cli {
    /// The output format, `--json` included.
    pub fn output_format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// Run policy plugins: signed WebAssembly components of the `erynoa:ecl` world.
#[derive(Debug, Parser)]
#[command(
    name = "erynoa",
    version,
    after_help = "Exit status: 0 allow or success; 1 error (bad input, I/O); 2 deny; 3 a check \
                  failed (verify, test, ecl check, ecl fmt --check, run --replay)."
)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// How to print results: text for people, json for programs.
    #[arg(long, value_enum, global = true, default_value_t = Format::Text)]
    pub format: Format,
    /// Short for `--format json`.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate requests with one or more policies and print the decisions.
    Run(RunArgs),
    /// Measure how fast policies decide: latency percentiles and throughput,
    /// with a state and requests of your own.
    Bench(BenchArgs),
    /// Create an Ed25519 key pair: NAME.key (PKCS#8 PEM), NAME.pub.pem and NAME.pub (OpenSSH).
    Keygen(KeygenArgs),
    /// Sign a component, embedding the signature (or writing it detached).
    Sign(SignArgs),
    /// Verify a component's signature against trusted public keys.
    Verify(VerifyArgs),
    /// Compile an ECL policy to a component (or to legacy-format bytecode).
    Compile(CompileArgs),
    /// Run policy test files: requests, a state, and the expected decisions.
    Test(TestArgs),
    /// Start a policy project from a template (the same files as
    /// `cargo generate --path templates/rust-policy`).
    New(NewArgs),
    /// Work with ECL source: check, format, disassemble, try expressions.
    #[command(subcommand)]
    Ecl(EclCommand),
    /// Edit a trust store: trust a key, pin ECL files, revoke. Comments are
    /// kept, and nothing is written that the host would refuse to load.
    Trust(TrustArgs),
    /// Run the policy decision service: decisions over HTTP, verified hot
    /// reload and rollback, metrics.
    Serve(ServeArgs),
    /// Drive `erynoa serve` at a fixed rate (open loop) and report latency
    /// percentiles from each request's intended send time.
    Loadtest(LoadtestArgs),
    /// Read the durable log of a data directory: verify its chain, tail or
    /// export its entries.
    #[command(subcommand)]
    Log(LogCommand),
    /// The state a data directory's log rebuilds.
    #[command(subcommand)]
    State(StateCommand),
}

/// `erynoa log`.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Walk the hash chain from the first stored entry, replaying the state
    /// and checking every checkpoint on the way; print the number of
    /// entries, the head hash and the state digest, or name the first bad
    /// entry (exit 3). With `--export`, check an exported segment instead.
    Verify {
        /// The data directory.
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "export",
            conflicts_with = "export"
        )]
        data: Option<PathBuf>,
        /// An export or archive (JSON lines from `log export`, `log tail
        /// --format json` or `log compact --archive`).
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
    /// Print entries from `--since` on, one per line (`--format json` for
    /// export lines), from a data directory or from a running service's
    /// admin listener.
    Tail {
        /// The data directory (not open in a running service).
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "admin",
            conflicts_with = "admin"
        )]
        data: Option<PathBuf>,
        /// A running service's admin listener, `http://HOST:PORT`.
        #[arg(long, value_name = "URL")]
        admin: Option<String>,
        /// The admin bearer token's file (with `--admin`).
        #[arg(long, value_name = "FILE", requires = "admin")]
        token_file: Option<PathBuf>,
        /// The first entry to print: a sequence number, or a time (RFC 3339,
        /// `2026-12-07T10:00:00Z`) for the first entry appended at or after it.
        #[arg(long, value_name = "SEQ|TIME", default_value = "1", value_parser = parse_since)]
        since: Since,
        /// Only decisions and commits of this policy.
        #[arg(long, value_name = "ID")]
        policy: Option<String>,
        /// Keep printing entries as they are appended (every 500 ms), until
        /// interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Every stored entry as a JSON line (seq, time, kind, hash, body), the
    /// body exactly as stored: `log verify --export` checks it.
    Export {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Checkpoint the state at the head of the log, then remove the entries
    /// before the newest checkpoint that leaves at least `--keep` entries
    /// (archived first with `--archive`). The chain verifies from that
    /// checkpoint on. The service must not be running on the directory.
    Compact {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Entries to keep at least.
        #[arg(long, value_name = "N")]
        keep: u64,
        /// Write the removed entries here first (a new file; export lines).
        #[arg(long, value_name = "FILE")]
        archive: Option<PathBuf>,
    },
}

/// Where `log tail` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// From this sequence number.
    Seq(u64),
    /// From the first entry appended at or after this Unix time, in ms.
    TimeMs(u64),
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(seq) = text.parse::<u64>() {
        return Ok(Since::Seq(seq));
    }
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("`{text}` is neither a sequence number nor an RFC 3339 time ({e})"))?;
    let ms = time.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms)
        .map(Since::TimeMs)
        .map_err(|_| format!("`{text}` is before 1970"))
}

/// `erynoa state`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// The state a restart rebuilds (the newest checkpoint, then the
    /// entries after it), as its digest.
    Digest {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Replay the whole log from its first entry into a fresh state, check
    /// it against every checkpoint and against the state a restart
    /// rebuilds, and print its digest (exit 3 if anything differs).
    Rebuild {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// The whole state as a state fixture (JSON), which `--state` reads back.
    Export {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
    },
    /// Append operator changes to the log (the service must not be
    /// running on it; use `POST /v1/state/import` then): JSON lines, each
    /// `{"op": "set-trust", "did", "trust": [r, i, c, p, v, omega]}`,
    /// `{"op": "grant", "did", "schema"}` or `{"op": "revoke", "did",
    /// "schema"}`. All are checked before any is appended.
    Import {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The changes (JSON lines).
        file: PathBuf,
    },
    /// A DID's trust vector and credentials as the log rebuilds them.
    Get {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The DID.
        did: String,
    },
}

/// `erynoa loadtest`.
#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// The decision URL, e.g. http://127.0.0.1:8181/v1/decide/kyc (with
    /// `--batch`, the `/batch` URL), or grpc://127.0.0.1:9191 for Envoy
    /// ext_authz checks.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Request file (JSON: one request or an array), sent in turn.
    #[arg(long, short = 'r', value_name = "R.json")]
    pub request: PathBuf,
    /// Decisions per second to ask for.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub rate: u64,
    /// Keep-alive connections, each sending in turn.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: u16,
    /// Requests per batch (send to the `/batch` URL); 1 sends single requests.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch: u16,
    /// How long to measure, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration_ms: u64,
    /// How long to send before measuring, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub warmup_ms: u64,
}

/// `erynoa serve`. Flags override the configuration file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file (`--print-config` writes a commented default).
    #[arg(long, value_name = "ERYNOA.toml")]
    pub config: Option<PathBuf>,
    /// Print the commented default configuration and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Where decisions are answered, e.g. 127.0.0.1:8181.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// The policy directory.
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The trust store.
    #[arg(long, value_name = "TRUST.toml")]
    pub trust_store: Option<PathBuf>,
    /// The state fixture (JSON).
    #[arg(long, value_name = "STATE.json")]
    pub state: Option<PathBuf>,
    /// Where the admin API listens, e.g. 127.0.0.1:8182.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<std::net::SocketAddr>,
    /// The admin bearer token's file (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// The durable log's data directory: the state is rebuilt from it and
    /// every change and decision is appended to it.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// `erynoa trust`.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The trust store to edit (created if missing).
    #[arg(
        long,
        value_name = "TRUST.toml",
        default_value = "trust.toml",
        global = true
    )]
    pub store: PathBuf,
    #[command(subcommand)]
    pub command: TrustCommand,
}

/// `erynoa trust ...`.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a public key to sign policies, with what they may import.
    AddKey {
        /// A name for the key, used in messages, pins and revocations.
        #[arg(value_name = "NAME")]
        name: String,
        /// The public key: OpenSSH line (`NAME.pub`), PEM or wasmsign2's format.
        #[arg(long, value_name = "FILE.pub")]
        key: PathBuf,
        /// Capabilities to grant, comma-separated: trust, identity, state,
        /// budget, context, events, self-metering.
        #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = capability)]
        grant: Vec<Capability>,
    },
    /// Pin ECL sources or .eclc files by digest, so the host may run them.
    Pin {
        /// ECL sources or .eclc files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// Capabilities to grant. Default: exactly what each file needs.
        #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = capability)]
        grant: Option<Vec<Capability>>,
    },
    /// Never accept a key (by name or key id) or a component (by digest) again.
    Revoke {
        /// A key's name, a key id (24 hex digits) or `sha256:<digest>`.
        #[arg(value_name = "ENTRY")]
        entry: String,
    },
}

fn capability(text: &str) -> Result<Capability, String> {
    Capability::ALL
        .into_iter()
        .find(|c| c.to_string() == text)
        .ok_or_else(|| {
            let all: Vec<String> = Capability::ALL.iter().map(ToString::to_string).collect();
            format!("unknown capability `{text}`; one of {}", all.join(", "))
        })
}

/// `erynoa new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The project's name and directory: lower-case letters, digits, `-` and `_`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The language of the policy.
    #[arg(long, value_enum, default_value_t = Template::Rust)]
    pub template: Template,
    /// For Rust: the path of the erynoa-sdk crate. Default: the SDK this
    /// `erynoa` was built from, if it is still there.
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// The project templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A Rust crate on erynoa-sdk.
    Rust,
    /// An ECL policy.
    Ecl,
}

/// `erynoa test`.
#[derive(Debug, Args)]
#[command(after_help = "\
A test file (TOML):
  policy = \"target/guests/my_policy.wasm\"   # or an .ecl file: run on the VM and as a component
  state = \"state.json\"                      # or an inline [state] table; each case starts from it

  [[case]]
  name = \"a trusted caller is allowed\"
  request = { caller = \"did:erynoa:self:alice\", realm = \"finance\", params = { amount = 250 } }
  expect = \"allow\"                          # or \"deny\"
  reason = \"...\"                            # optional: the exact reason
  max_gas = 100                               # optional: a gas ceiling

Paths are relative to the test file. Policies load unsigned unless --trust-store is given.")]
pub struct TestArgs {
    /// Test files.
    #[arg(value_name = "TEST.toml", required = true)]
    pub files: Vec<PathBuf>,
    /// Test this policy instead of the file's `policy`.
    #[arg(long, short = 'p', value_name = "POLICY")]
    pub policy: Option<PathBuf>,
    /// Load policies through this trust store instead of unsigned.
    #[arg(long, value_name = "TRUST.toml")]
    pub trust_store: Option<PathBuf>,
}

/// `erynoa compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The ECL source.
    #[arg(value_name = "FILE.ecl")]
    pub input: PathBuf,
    /// Where to write the component (.wasm) or bytecode (.eclc).
    #[arg(long, short = 'o', value_name = "OUT")]
    pub output: PathBuf,
    /// `wasm`: a component of the erynoa:ecl world, to sign and run anywhere.
    /// `bytecode`: an .eclc file for the built-in VM.
    #[arg(long, value_enum, default_value_t = Backend::Wasm)]
    pub backend: Backend,
    /// The policy to compile. Default: the first in the file.
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,
}

/// The two ECL back ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A WebAssembly component.
    Wasm,
    /// Legacy-format bytecode (.eclc).
    Bytecode,
}

/// `erynoa ecl ...`.
#[derive(Debug, Subcommand)]
pub enum EclCommand {
    /// Check files and print rustc-style diagnostics; exit 3 on any error.
    Check {
        /// ECL sources.
        #[arg(value_name = "FILE.ecl", required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a file in canonical form (idempotent; comments are kept).
    Fmt {
        /// ECL sources.
        #[arg(value_name = "FILE.ecl", required = true)]
        files: Vec<PathBuf>,
        /// Rewrite the files in place.
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// Exit 3 if a file is not formatted; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// List the bytecode of an ECL policy or an .eclc file, with gas.
    Disasm {
        /// ECL source or .eclc bytecode.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The policy to list. Default: the first.
        #[arg(long, value_name = "NAME")]
        entry: Option<String>,
    },
    /// Print the trust-store entry that pins ECL or .eclc files by digest,
    /// with the capabilities they need, to paste into the trust store.
    Pin {
        /// ECL sources or .eclc files.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate expressions line by line against the legacy test host
    /// (trust 0.5, timestamp 1700000000); `:bc EXPR` lists bytecode, `:q` quits.
    Repl,
}

/// `erynoa keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Path prefix of the files to write, e.g. `keys/ops`.
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
    /// Comment in the OpenSSH line. Default: the file name.
    #[arg(long)]
    pub comment: Option<String>,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
}

/// `erynoa sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The component to sign.
    #[arg(value_name = "IN.wasm")]
    pub input: PathBuf,
    /// Private key: PKCS#8 PEM or wasmsign2's format.
    #[arg(long, short = 'k', value_name = "KEY")]
    pub key: PathBuf,
    /// Where to write the signed component.
    #[arg(
        long,
        short = 'o',
        value_name = "OUT.wasm",
        required_unless_present = "detached"
    )]
    pub output: Option<PathBuf>,
    /// Write the signature to this file instead of embedding it.
    #[arg(long, value_name = "SIG")]
    pub detached: Option<PathBuf>,
}

/// `erynoa verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The component to verify.
    #[arg(value_name = "IN.wasm")]
    pub input: PathBuf,
    /// A trusted public key (PEM, OpenSSH line or wasmsign2's format). Repeat for several.
    #[arg(long = "key", short = 'K', value_name = "PUB", required = true)]
    pub keys: Vec<PathBuf>,
    /// A detached signature, for a component without an embedded one.
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
}

/// `erynoa run`.
#[derive(Debug, Args)]
#[command(after_help = "\
A request file holds one request or an array of them:
  {\"caller\": \"did:erynoa:self:alice\", \"realm\": \"finance\", \"action\": \"transfer\",
   \"resource\": \"account:42\", \"params\": {\"amount\": 250, \"to\": {\"did\": \"did:erynoa:self:bob\"}}}

With one policy and one request the exit status is 2 on deny; with several,
a table is printed and the exit status is 0 once all were evaluated.")]
pub struct RunArgs {
    #[command(flatten)]
    pub inputs: PolicyArgs,
    /// Write every host call of every evaluation (interface, function,
    /// arguments, result, gas) to this JSON file.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Answer host calls from a recording instead of the state, and report
    /// where the run differs from it (exit 3 if it does).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Start every policy from the state fixture, instead of one state all
    /// policies write to: to compare engines on the same inputs.
    #[arg(long)]
    pub state_per_policy: bool,
    /// Keep the state in this data directory's durable log: start from its
    /// state (the fixture, the first time), and log this run's commits and
    /// decisions.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["state_per_policy", "replay"])]
    pub data: Option<PathBuf>,
    /// Write the event log to this file after the run, one JSON object a
    /// line: every evaluation with the digest, signers and grants of the
    /// policy that decided it, and the events policies emitted.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
}

/// `erynoa bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Each policy evaluates the requests in turn, on every thread, for the given time,
after a warm-up; each starts from the state fixture, and its allowed writes commit
as they would in production. Latency is one whole evaluation: a fresh instance,
the call, the commit, the event log and the metrics.")]
pub struct BenchArgs {
    #[command(flatten)]
    pub inputs: PolicyArgs,
    /// Threads evaluating at once, sharing the engine, the policy and the state.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// How long to measure each policy, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration_ms: u64,
    /// How long to run each policy before measuring, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub warmup_ms: u64,
}

/// The policies to load, how to trust them, and what to evaluate them on.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// A policy: a component (.wasm), ECL source (.ecl) or legacy bytecode
    /// (.eclc). Repeat for several. For ECL, append `@legacy`, `@wasm` or
    /// `@auto` to pick the back end (default `@auto`).
    #[arg(long = "policy", short = 'p', value_name = "POLICY", required = true)]
    pub policies: Vec<PathBuf>,
    /// For ECL source: the policy to run. Default: the first in the file.
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,
    /// State fixture (JSON: trust, identities, stores, clock). Default: empty.
    #[arg(long, short = 's', value_name = "S.json")]
    pub state: Option<PathBuf>,
    /// Request file (JSON: one request or an array of them).
    #[arg(long, short = 'r', visible_alias = "requests", value_name = "R.json")]
    pub request: PathBuf,
    /// Trust store (TOML): the keys whose signed policies load, the digests of
    /// pinned ECL and bytecode files, and their grants.
    #[arg(
        long,
        value_name = "TRUST.toml",
        required_unless_present = "allow_unsigned"
    )]
    pub trust_store: Option<PathBuf>,
    /// Load policies without checking signatures, with every capability.
    /// For development only; every load is logged as a warning.
    #[arg(long, conflicts_with = "trust_store")]
    pub allow_unsigned: bool,
    /// Keep compiled policies in this directory, each integrity-checked with
    /// the key in --cache-key. Refused if others may write to it.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The compiled cache's key (created, mode 0600, if missing). It must live
    /// outside the cache directory. Default: `$XDG_CONFIG_HOME/erynoa/cache.key`
    /// (or `~/.config/erynoa/cache.key`).
    #[arg(long, value_name = "FILE", requires = "cache")]
    pub cache_key: Option<PathBuf>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// Budget overrides; defaults are `BudgetLimits::default()`, the legacy system's.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Gas per evaluation.
    #[arg(long, value_name = "N", default_value_t = BudgetLimits::default().gas_limit)]
    pub gas: u64,
    /// Mana per evaluation.
    #[arg(long, value_name = "N", default_value_t = BudgetLimits::default().mana_limit)]
    pub mana: u64,
    /// Wall-clock deadline per evaluation, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = BudgetLimits::default().timeout_ms)]
    pub timeout_ms: u64,
    /// Memory cap per evaluation, in MiB (at most 64).
    #[arg(long, value_name = "MiB", default_value_t = BudgetLimits::default().memory_limit_bytes >> 20, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub memory_mib: u64,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
