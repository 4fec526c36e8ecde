//! The component engine: policies as WebAssembly components on wasmtime.

pub(crate) mod bindings;
pub(crate) mod cache;
mod linker;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use erynoa_core::{BudgetLimits, Exhaustion, GasLayer};
use erynoa_ecl::component::MAX_STACK_SECTION;
use wasmtime::component::{Component, ComponentExportIndex, Linker, TypedFunc};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap,
};

use self::bindings::erynoa::ecl::types::{self as wit};
use self::bindings::{PolicyComponentIndices, PolicyComponentPre};
use self::store::{FUEL_BASE, FUEL_PER_GAS, HostState, Metering};
use crate::Request;
use crate::engine::{Decision, Effect, Failure, LoadError, Policy, PolicyEngine, PolicyInfo};
use crate::session::Session;
use crate::state::{PolicyType, UnifiedState};
use crate::trust_store::{Admission, Capability, Trust};

/// Longest decision reason a policy may return, in bytes.
pub const MAX_REASON_BYTES: usize = 4096;

/// How the component engine is set up. Every field has a default that suits
/// a 2-core machine serving many small policies.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Use wasmtime's pooling allocator (falls back to on-demand allocation,
    /// with a log line, where the machine refuses the reservation). Default true.
    pub pooling: bool,
    /// Instances that may run at once with pooling. Default 256.
    pub max_instances: u32,
    /// Largest linear memory any guest may have, in bytes; a budget's memory
    /// limit is capped by it. Default 64 MiB.
    pub max_memory_bytes: u64,
    /// Linear memory kept resident between uses of a pool slot, so a fresh
    /// instance does not fault its memory in again. Where the kernel supports
    /// `PAGEMAP_SCAN` (Linux 6.7+), only the pages a guest dirtied are reset,
    /// up to this many bytes; elsewhere the lowest this many bytes are zeroed.
    /// Default 64 KiB.
    pub keep_resident_bytes: usize,
    /// Guest stack size, in bytes. Deeper recursion is a `stack` deny. Default 512 KiB.
    pub max_wasm_stack: usize,
    /// How often the deadline clock ticks. Default 5 ms.
    pub epoch_tick: Duration,
    /// Largest component the engine compiles, in bytes. Default 16 MiB.
    pub max_component_bytes: usize,
    /// Most functions (defined in all its core modules) a component may
    /// have: compile time and memory grow with them. Default 20,000.
    pub max_functions: u32,
    /// Most bytes of function bodies a component may have. Default 8 MiB.
    pub max_code_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pooling: true,
            max_instances: 256,
            max_memory_bytes: 64 << 20,
            keep_resident_bytes: 64 << 10,
            max_wasm_stack: 512 << 10,
            epoch_tick: Duration::from_millis(5),
            max_component_bytes: 16 << 20,
            max_functions: 20_000,
            max_code_bytes: 8 << 20,
        }
    }
}

/// An engine could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the wasm engine: {0}")]
pub struct EngineError(String);

/// Runs policies that are WebAssembly components of the `erynoa:ecl` world.
///
/// One engine serves any number of policies and threads: it compiles each
/// component once, links it once, and gives every evaluation a fresh instance
/// so that nothing leaks between requests.
///
/// ```no_run
/// use std::sync::Arc;
/// use erynoa_host::{BudgetLimits, ComponentEngine, PolicyEngine, Request, UnifiedState};
///
/// let engine = ComponentEngine::new(Default::default())?;
/// let policy = engine.load("trust-threshold", &std::fs::read("trust_threshold.wasm")?)?;
/// let state = Arc::new(UnifiedState::from_file("state.json")?);
/// let request = Request::builder("did:erynoa:self:alice", "finance").action("transfer").build();
/// let answer = policy.evaluate(&state, &request, BudgetLimits::default());
/// println!("{:?}: {:?}", answer.effect, answer.reason);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ComponentEngine {
    inner: Arc<Inner>,
    trust: Trust,
    cache: Option<cache::CompiledCache>,
}

impl std::fmt::Debug for ComponentEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentEngine")
            .field("config", &self.inner.config)
            .field("trust", &self.trust)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// What the engine and every policy it loaded share. The deadline clock
/// lives here, so it ticks as long as any policy that needs it, even after
/// the `ComponentEngine` itself is dropped.
struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    config: EngineConfig,
    _ticker: Ticker,
}

impl ComponentEngine {
    /// Creates the engine and starts its deadline clock.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let engine = build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        linker::add_to_linker(&mut linker).map_err(|e| EngineError(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone(), config.epoch_tick);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                config,
                _ticker: ticker,
            }),
            trust: Trust::default(),
            cache: None,
        })
    }

    /// Decides what this engine loads: by default nothing, until a trust
    /// store with at least one key is given.
    #[must_use]
    pub fn with_trust(mut self, trust: Trust) -> Self {
        if matches!(trust, Trust::AllowUnsigned) {
            tracing::warn!(
                "this engine loads UNSIGNED components with every capability: development only"
            );
        }
        self.trust = trust;
        self
    }

    /// Keeps compiled components in `dir`, each integrity-checked with a MAC
    /// under the key in `key_file` before it is used; a tampered or foreign
    /// entry is discarded and recompiled, never loaded. Signatures are still
    /// verified on every load: the cache only saves compiling.
    ///
    /// The key must live outside the cache (with the host's configuration):
    /// whoever can write it can make the host run native code of their
    /// choosing. It is created (32 random bytes, mode 0600) if missing, and
    /// refused if it is not a regular file owned by this user and readable
    /// by no one else. `dir` is refused if others may write to it.
    pub fn with_cache(
        mut self,
        dir: impl AsRef<std::path::Path>,
        key_file: impl AsRef<std::path::Path>,
    ) -> Result<Self, cache::CacheError> {
        self.cache = Some(cache::CompiledCache::open(
            dir.as_ref(),
            key_file.as_ref(),
            &self.inner.engine,
        )?);
        Ok(self)
    }

    /// The wasmtime engine, e.g. to precompile components.
    pub fn wasmtime(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads a component with an embedded signature; see [`PolicyEngine::load`].
    pub fn load_component(&self, id: &str, bytes: &[u8]) -> Result<ComponentPolicy, LoadError> {
        self.load_component_detached(id, bytes, None)
    }

    /// Loads a component, with a detached signature if given. The signature
    /// is checked before anything is compiled; a refused component is never
    /// compiled or run.
    pub fn load_component_detached(
        &self,
        id: &str,
        bytes: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<ComponentPolicy, LoadError> {
        let span = tracing::info_span!("load", policy = id, bytes = bytes.len());
        let _enter = span.enter();
        check_header(bytes)?;
        let admission = match &self.trust {
            Trust::Store(store) => {
                let admission = store
                    .admit(bytes, signature)
                    .and_then(|a| store.check_policy_id(id, &a).map(|()| a))
                    .map_err(LoadError::Refused)?;
                Some(admission)
            }
            Trust::AllowUnsigned => {
                tracing::warn!(
                    policy = id,
                    "loading without checking signatures (--allow-unsigned)"
                );
                None
            }
        };
        self.load_admitted(id, bytes, admission)
    }

    /// The trust settings of this engine.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Compiles and links a component already admitted: signature-checked
    /// here, or built by the host from admitted ECL source.
    pub(crate) fn load_admitted(
        &self,
        id: &str,
        bytes: &[u8],
        admission: Option<Admission>,
    ) -> Result<ComponentPolicy, LoadError> {
        let started = std::time::Instant::now();
        check_header(bytes)?;
        let Declared {
            self_metered,
            max_stack,
        } = inspect(bytes, &self.inner.config)?;
        if self_metered {
            check_self_metering(admission.as_ref())?;
        }
        let compiled = match &self.cache {
            Some(cache) => cache.get_or_compile(&self.inner.engine, bytes),
            None => Component::new(&self.inner.engine, bytes),
        };
        let component = compiled.map_err(|e| LoadError::Invalid {
            reason: format!("{e:#}"),
        })?;
        let imports = check_world(&self.inner.engine, &component)?;
        if self_metered && !imports.iter().any(|i| i.starts_with("erynoa:ecl/budget@")) {
            return Err(LoadError::Invalid {
                reason: format!(
                    "component declares `{METERING_SECTION}` but does not import erynoa:ecl/budget to charge its gas"
                ),
            });
        }
        if let Some(admission) = &admission {
            check_grants(&imports, admission)?;
        }
        let instance_pre =
            self.inner
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Instantiate {
                    reason: format!("{e:#}"),
                })?;
        let pre = PolicyComponentPre::new(instance_pre).map_err(|e| LoadError::ExportMismatch {
            reason: format!("{e:#}"),
        })?;
        let evaluate = component
            .get_export_index(None, POLICY_INTERFACE)
            .and_then(|policy| component.get_export_index(Some(&policy), "evaluate"))
            .ok_or_else(|| LoadError::ExportMismatch {
                reason: format!("no `evaluate` function in `{POLICY_INTERFACE}`"),
            })?;
        let mut policy = ComponentPolicy {
            inner: Arc::clone(&self.inner),
            pre,
            evaluate,
            max_stack,
            info: PolicyInfo {
                id: id.to_owned(),
                name: String::new(),
                version: String::new(),
                policy_type: PolicyType::Custom,
                engine: "component",
                imports,
                admission: admission.map(Arc::new),
            },
            metering: if self_metered {
                Metering::SelfMetered
            } else {
                Metering::Fuel
            },
        };
        let metadata = policy.metadata()?;
        policy.info.name = metadata.name;
        policy.info.version = metadata.version;
        tracing::info!(
            name = policy.info.name,
            version = policy.info.version,
            compile_ms = started.elapsed().as_millis() as u64,
            "loaded"
        );
        Ok(policy)
    }
}

impl PolicyEngine for ComponentEngine {
    fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<dyn Policy>, LoadError> {
        Ok(Arc::new(self.load_component(id, bytes)?))
    }
}

fn build_engine(config: &EngineConfig) -> Result<Engine, EngineError> {
    let mut c = Config::new();
    c.wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        // A hostile guest can trap on every request; backtraces would make
        // each trap slower and leak nothing useful into deny reasons.
        .wasm_backtrace_max_frames(None)
        .max_wasm_stack(config.max_wasm_stack);
    if config.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances.saturating_mul(4))
            .total_memories(config.max_instances.saturating_mul(2))
            .total_tables(config.max_instances.saturating_mul(2))
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX))
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .linear_memory_keep_resident(config.keep_resident_bytes)
            .table_keep_resident(config.keep_resident_bytes)
            // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), reset only the
            // pages a guest dirtied instead of the whole resident region:
            // 10-15% off a fresh-instance evaluation (docs/benchmarks.md).
            .pagemap_scan(Enabled::Auto);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&c) {
            Ok(engine) => return Ok(engine),
            Err(e) => {
                tracing::warn!(
                    "pooling allocator unavailable ({e:#}); falling back to on-demand allocation"
                );
                c.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            }
        }
    }
    Engine::new(&c).map_err(|e| EngineError(format!("{e:#}")))
}

/// Tells bytes that are not wasm, and core modules, from components before
/// the compiler sees them, so the error says what the file is.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const COMPONENT: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
    const CORE: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
    let not_wasm = |reason: &str| {
        Err(LoadError::NotWasm {
            reason: reason.to_owned(),
        })
    };
    match (bytes.get(..4), bytes.get(4..8)) {
        (Some(b"\0asm"), Some(v)) if v == COMPONENT => Ok(()),
        (Some(b"\0asm"), Some(v)) if v == CORE => Err(LoadError::CoreModule),
        (Some(b"\0asm"), Some(v)) => not_wasm(&format!("unknown wasm version {v:02x?}")),
        (Some(b"\0asm"), None) => not_wasm("truncated header"),
        _ if bytes.is_empty() => not_wasm("the file is empty"),
        _ => not_wasm("missing the `\\0asm` magic number"),
    }
}

/// The custom section by which a component (compiled ECL) declares that it
/// charges its own gas through `budget.consume-gas`, per basic block, so
/// its fuel is not charged again. Signed components have it under their
/// signature; its loader must grant `budget`.
pub use erynoa_ecl::component::METERING_SECTION;

/// What a component compiled from ECL declares about itself in custom
/// sections (under its signature, like everything else in it).
#[derive(Debug, Default)]
struct Declared {
    /// `erynoa:metering = self`: it charges its own gas.
    self_metered: bool,
    /// `erynoa:max-stack`: the deepest operand stack it can reach.
    max_stack: Option<u32>,
}

/// Bounds what compiling `bytes` may cost, before the compiler sees them,
/// and reads what the component declares about itself.
fn inspect(bytes: &[u8], config: &EngineConfig) -> Result<Declared, LoadError> {
    let too_large =
        |what: &'static str, found: u64, limit: u64| LoadError::TooLarge { what, found, limit };
    if bytes.len() > config.max_component_bytes {
        return Err(too_large(
            "bytes",
            bytes.len() as u64,
            config.max_component_bytes as u64,
        ));
    }
    let mut declared = Declared::default();
    let (mut functions, mut code_bytes) = (0u64, 0u64);
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        // A malformed component is refused by the compiler, which says where.
        let Ok(payload) = payload else { break };
        match payload {
            wasmparser::Payload::CodeSectionStart { count, size, .. } => {
                functions = functions.saturating_add(u64::from(count));
                code_bytes = code_bytes.saturating_add(u64::from(size));
                if functions > u64::from(config.max_functions) {
                    return Err(too_large(
                        "functions",
                        functions,
                        u64::from(config.max_functions),
                    ));
                }
                if code_bytes > config.max_code_bytes as u64 {
                    return Err(too_large(
                        "bytes of code",
                        code_bytes,
                        config.max_code_bytes as u64,
                    ));
                }
            }
            wasmparser::Payload::CustomSection(c) => match c.name() {
                METERING_SECTION => declared.self_metered = c.data() == b"self",
                MAX_STACK_SECTION => {
                    let raw = <[u8; 4]>::try_from(c.data()).map_err(|_| LoadError::Invalid {
                        reason: format!(
                            "the `{MAX_STACK_SECTION}` section holds {} bytes, not a 4-byte depth",
                            c.data().len()
                        ),
                    })?;
                    declared.max_stack = Some(u32::from_le_bytes(raw));
                }
                _ => {}
            },
            _ => {}
        }
    }
    Ok(declared)
}

/// A component that reports its own gas is believed only when its signers
/// (or its digest's entry) are granted `self-metering`: any other component
/// could claim it and run uncharged.
fn check_self_metering(admission: Option<&Admission>) -> Result<(), LoadError> {
    match admission {
        Some(a) if !a.capabilities.contains(&Capability::SelfMetering) => {
            Err(LoadError::SelfMeteringNotGranted {
                signers: signer_names(a),
            })
        }
        _ => Ok(()),
    }
}

fn signer_names(a: &Admission) -> String {
    if a.signers.is_empty() {
        return format!("digest {}", a.digest);
    }
    let names: Vec<&str> = a.signers.iter().map(|(name, _)| name.as_str()).collect();
    names.join(", ")
}

/// The `erynoa:ecl` version this host serves; any 0.1.x is compatible.
const SERVED_VERSION: &str = "0.1.0";

/// What an import or export name refers to.
enum Interface<'a> {
    /// `erynoa:ecl/<name>@<version>`.
    Erynoa { name: &'a str, version: &'a str },
    /// `wasi:*`.
    Wasi,
    /// Anything else.
    Other,
}

fn interface(full: &str) -> Interface<'_> {
    if full.starts_with("wasi:") {
        return Interface::Wasi;
    }
    match full
        .strip_prefix("erynoa:ecl/")
        .and_then(|rest| rest.split_once('@'))
    {
        Some((name, version)) => Interface::Erynoa { name, version },
        None => Interface::Other,
    }
}

fn check_version(name: &str, version: &str) -> Result<(), LoadError> {
    if version.starts_with("0.1.") {
        return Ok(());
    }
    Err(LoadError::UnsupportedVersion {
        interface: format!("erynoa:ecl/{name}"),
        found: version.to_owned(),
        served: SERVED_VERSION,
    })
}

/// Every import must be an interface this host serves, in a version it
/// serves, and the policy interface must be exported; otherwise the
/// component implements another world.
fn check_world(engine: &Engine, component: &Component) -> Result<Vec<String>, LoadError> {
    let ty = component.component_type();
    let mut imports = Vec::new();
    for (full, _) in ty.imports(engine) {
        match interface(full) {
            Interface::Wasi => {
                return Err(LoadError::WasiNotServed {
                    name: full.to_owned(),
                });
            }
            Interface::Erynoa { name, version } if Capability::of_interface(name).is_some() => {
                check_version(name, version)?;
            }
            _ => {
                return Err(LoadError::UnsupportedImport {
                    name: full.to_owned(),
                });
            }
        }
        imports.push(full.to_owned());
    }
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    for full in &exports {
        if let Interface::Erynoa {
            name: "policy",
            version,
        } = interface(full)
        {
            check_version("policy", version)?;
            return Ok(imports);
        }
    }
    let exports = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        exports.join(", ")
    };
    Err(LoadError::MissingExport { exports })
}

/// Every import must need only capabilities the component's signers were granted.
fn check_grants(imports: &[String], admission: &Admission) -> Result<(), LoadError> {
    for full in imports {
        let needed = match interface(full) {
            Interface::Erynoa { name, .. } => Capability::of_interface(name).flatten(),
            Interface::Wasi | Interface::Other => None,
        };
        if let Some(capability) = needed.filter(|c| !admission.capabilities.contains(c)) {
            return Err(LoadError::NotGranted {
                interface: full.clone(),
                capability,
                signers: signer_names(admission),
            });
        }
    }
    Ok(())
}

/// The exported interface, as the bindings look it up (wasmtime matches
/// semver-compatible versions).
const POLICY_INTERFACE: &str = "erynoa:ecl/policy@0.1.0";

/// What a policy's `evaluate` export returns.
type EvaluateResult = Result<wit::Decision, wit::Error>;

/// A loaded component, linked and ready to instantiate.
pub struct ComponentPolicy {
    inner: Arc<Inner>,
    pre: PolicyComponentPre<HostState>,
    /// `evaluate`, found once at load; its type is checked then too.
    evaluate: ComponentExportIndex,
    /// The operand stack compiled ECL may need (see [`MAX_STACK_SECTION`]).
    max_stack: Option<u32>,
    info: PolicyInfo,
    metering: Metering,
}

impl ComponentPolicy {
    /// Sets the policy's kind, for metrics and the event log.
    pub fn set_policy_type(&mut self, policy_type: PolicyType) {
        self.info.policy_type = policy_type;
    }

    /// Creates a fresh instance and drops it without calling the policy: a
    /// readiness check, and what the benchmarks time as "instantiate".
    pub fn probe(&self) -> Result<(), Failure> {
        let mut store = self
            .scratch_store()
            .map_err(|failed| Failure::Host { message: failed.1 })?;
        // The same instantiation an evaluation does, without the bindings'
        // per-instance export lookup.
        match self.pre.instance_pre().instantiate(&mut store) {
            Ok(_) => Ok(()),
            Err(e) => Err(failure(store.data_mut(), &e)),
        }
    }

    /// A store over an empty state and request, with the default budget, for
    /// running the policy outside an evaluation (metadata, probes).
    fn scratch_store(&self) -> Result<Store<HostState>, Box<(Session, String)>> {
        let state = Arc::new(UnifiedState::new());
        let request = Request::builder("did:erynoa:host:scratch", "").build();
        let id = Arc::from(self.info.id.as_str());
        self.store(Session::new(id, &state, &request, BudgetLimits::default()))
    }

    /// Instantiates the policy once and reads its metadata. Loading the
    /// instance's exports is where their signatures are checked, so a policy
    /// built against another WIT is refused here, before any request.
    fn metadata(&self) -> Result<wit::PolicyInfo, LoadError> {
        let mut store = self
            .scratch_store()
            .map_err(|failed| LoadError::Instantiate { reason: failed.1 })?;
        let instance = self
            .pre
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|e| LoadError::Instantiate {
                reason: failure(store.data_mut(), &e).to_string(),
            })?;
        let bindings = PolicyComponentIndices::new(self.pre.instance_pre())
            .and_then(|indices| indices.load(&mut store, &instance))
            .map_err(|e| LoadError::ExportMismatch {
                reason: format!("{e:#}"),
            })?;
        bindings
            .erynoa_ecl_policy()
            .call_metadata(&mut store)
            .map_err(|e| LoadError::Metadata {
                reason: failure(store.data_mut(), &e).to_string(),
            })
    }

    /// Instantiates the policy and calls `evaluate` with the session's request.
    fn call_evaluate(&self, store: &mut Store<HostState>) -> wasmtime::Result<EvaluateResult> {
        let instance = self.pre.instance_pre().instantiate(&mut *store)?;
        let func = instance
            .get_func(&mut *store, self.evaluate)
            .ok_or_else(|| wasmtime::Error::msg("the instance has no `evaluate` export"))?;
        // The bindings' own `instantiate` type-checks every export of every
        // instance: about 0.5 us of a 7 us evaluation (docs/benchmarks.md).
        #[allow(unsafe_code, reason = "the type was checked at load, see SAFETY")]
        // SAFETY: `func` is the `evaluate` export of an instance of the same
        // component whose export `metadata()` type-checked at load against
        // these very types (the bindings' `PolicyComponentIndices::load`), and a
        // component's types do not change between instances.
        let evaluate =
            unsafe { TypedFunc::<(&wit::Request,), (EvaluateResult,)>::new_unchecked(func) };
        let request = store.data().session.request().clone();
        let (result,) = evaluate.call(&mut *store, (request.wit(),))?;
        Ok(result)
    }

    /// A fresh store for `session`, fuelled with its remaining gas and armed
    /// with its deadline and memory limit.
    fn store(&self, session: Session) -> Result<Store<HostState>, Box<(Session, String)>> {
        let limits = *session.meter().limits();
        let memory_limit = limits
            .memory_limit_bytes
            .min(self.inner.config.max_memory_bytes);
        let fuel = self.metering.fuel_for(session.meter().gas_remaining());
        let state = HostState::new(session, memory_limit, self.metering);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| s);
        if let Err(e) = store.set_fuel(fuel) {
            return Err(Box::new((store.into_data().session, format!("{e:#}"))));
        }
        store.data_mut().fuel_set = fuel;
        store.data_mut().fuel_initial = fuel;
        let tick_ms = self.inner.config.epoch_tick.as_millis().max(1) as u64;
        store.set_epoch_deadline(limits.timeout_ms.div_ceil(tick_ms) + 1);
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut().stopped_by_deadline = true;
            Err(Trap::Interrupt.into())
        });
        Ok(store)
    }
}

impl Policy for ComponentPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn run(&self, session: Session) -> (Session, Result<Decision, Failure>) {
        let stack_limit = session.meter().limits().max_stack_depth;
        if let Some(needed) = self.max_stack.filter(|&needed| needed > stack_limit) {
            // Compiled ECL cannot stop at the instruction where the VM would,
            // so it does not start: fail closed. `load_ecl` runs such
            // evaluations on the VM instead, which is exact.
            tracing::debug!(
                needed,
                stack_limit,
                "operand stack limit below the policy's depth"
            );
            return (session, Err(Failure::Exhausted(Exhaustion::StackOverflow)));
        }
        let mut store = match self.store(session) {
            Ok(store) => store,
            Err(failed) => {
                let (session, message) = *failed;
                return (session, Err(Failure::Host { message }));
            }
        };
        let result = self.call_evaluate(&mut store);
        let remaining = store.get_fuel().unwrap_or(0);
        let mut data = store.into_data();
        let ran = match data.metering {
            // Stopped inside wasm code by the deadline, the guest's count of
            // instructions since its last call is lost (compiled code keeps
            // it in a register until a call). A run that used up its time
            // is charged its whole gas: never less than what ran.
            _ if data.stopped_by_deadline => data.session.meter().gas_remaining(),
            // What ran since the last host call; never more than the gas left.
            Metering::Fuel => data.fuel_set.saturating_sub(remaining),
            // It reported its own gas as it went. A run cut short (deadline,
            // safety net, trap) reports at least what its fuel shows it ran.
            Metering::SelfMetered if result.is_err() => {
                let spent = data.fuel_initial.saturating_sub(remaining);
                (spent.saturating_sub(FUEL_BASE) / FUEL_PER_GAS)
                    .saturating_sub(data.session.meter().gas_used())
            }
            Metering::SelfMetered => 0,
        };
        // Recorded even after a trap or an exhaustion: the instructions ran.
        data.session.meter_mut().record_ran(GasLayer::Compute, ran);
        let outcome = match result {
            Ok(Ok(decision)) => check_decision(decision),
            Ok(Err(e)) => Err(Failure::PolicyError {
                code: e.code.into(),
                message: e.message,
            }),
            Err(e) => Err(failure(&mut data, &e)),
        };
        (data.session, outcome)
    }
}

fn check_decision(d: wit::Decision) -> Result<Decision, Failure> {
    if let Some(reason) = &d.reason
        && reason.len() > MAX_REASON_BYTES
    {
        return Err(Failure::InvalidDecision {
            message: format!(
                "reason of {} bytes is longer than the limit of {MAX_REASON_BYTES}",
                reason.len()
            ),
        });
    }
    let effect = match d.effect {
        wit::Effect::Allow => Effect::Allow,
        wit::Effect::Deny => Effect::Deny,
    };
    Ok(Decision {
        effect,
        reason: d.reason,
    })
}

/// What ended a call that returned an error: a recorded exhaustion first,
/// then wasmtime's own traps, then anything else as a trap with its message
/// (and the guest's panic message, if it printed one).
fn failure(data: &mut HostState, e: &wasmtime::Error) -> Failure {
    let meter = data.session.meter_mut();
    if let Some(exhausted) = meter.exhausted() {
        return Failure::Exhausted(exhausted);
    }
    let exhausted = match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            let limit = meter.limits().gas_limit;
            Some(Exhaustion::OutOfGas {
                used: limit.saturating_add(1),
                limit,
            })
        }
        Some(Trap::Interrupt) => Some(Exhaustion::Timeout {
            limit_ms: meter.limits().timeout_ms,
        }),
        Some(Trap::StackOverflow) => Some(Exhaustion::StackOverflow),
        _ => None,
    };
    if let Some(exhausted) = exhausted {
        return Failure::Exhausted(meter.exhaust(exhausted));
    }
    let message = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{:#}", e.root_cause()),
    };
    Failure::Trap { message }
}

/// Advances the engine's epoch so that stores past their deadline trap.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("erynoa-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| {
                tracing::error!(
                    "cannot start the deadline clock, deadlines will not interrupt guests: {e}"
                )
            })
            .ok();
        Self { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_names_what_the_bytes_are() {
        let err = |b: &[u8]| check_header(b).unwrap_err().to_string();
        assert_eq!(err(b""), "not a WebAssembly binary: the file is empty");
        assert_eq!(
            err(b"hello world"),
            "not a WebAssembly binary: missing the `\\0asm` magic number"
        );
        assert_eq!(err(b"\0asm"), "not a WebAssembly binary: truncated header");
        assert!(err(b"\0asm\x01\0\0\0").starts_with("a core wasm module, not a component"));
        assert!(err(b"\0asm\x02\0\0\0").contains("unknown wasm version"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
