//! The component engine: policies as WebAssembly components on wasmtime.

pub(crate) mod bindings;
pub(crate) mod cache;
mod linker;
mod policy;
mod store;
mod ticker;
mod world;

pub use self::policy::ComponentPolicy;
use self::policy::POLICY_INTERFACE;
use self::ticker::Ticker;
use self::world::{
    Declared, check_grants, check_header, check_self_metering, check_world, inspect,
};

/// The custom section by which a component (compiled ECL) declares that it
/// charges its own gas through `budget.consume-gas`, per basic block, so
/// its fuel is not charged again. Signed components have it under their
/// signature; its loader must grant `budget`.
pub use erynoa_ecl::component::METERING_SECTION;

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use self::bindings::PolicyComponentPre;
use self::store::{HostState, Metering};
use crate::engine::{LoadError, PolicyEngine};
use crate::evaluation::{Policy, PolicyInfo};
use crate::state::PolicyType;
use crate::trust_store::{Admission, Trust};

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

/// An engine could not be created; the cause is wasmtime's.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the wasm engine")]
pub struct EngineError(#[source] crate::engine::BoxError);

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
#[derive(Clone)]
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
        linker::add_to_linker(&mut linker).map_err(|e| EngineError(e.into()))?;
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
        // Before the signature is hashed: an oversized component costs nothing.
        if bytes.len() > self.inner.config.max_component_bytes {
            return Err(LoadError::TooLarge {
                what: "bytes",
                found: bytes.len() as u64,
                limit: self.inner.config.max_component_bytes as u64,
            });
        }
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
        let component = compiled.map_err(|e| LoadError::Compile { source: e.into() })?;
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
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Instantiate { source: e.into() })?;
        let pre = PolicyComponentPre::new(instance_pre)
            .map_err(|e| LoadError::ExportMismatch { source: e.into() })?;
        let evaluate = component
            .get_export_index(None, POLICY_INTERFACE)
            .and_then(|policy| component.get_export_index(Some(&policy), "evaluate"))
            .ok_or_else(|| LoadError::ExportMismatch {
                source: format!("no `evaluate` function in `{POLICY_INTERFACE}`").into(),
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
    Engine::new(&c).map_err(|e| EngineError(e.into()))
}

#[cfg(test)]
mod tests {
    use super::world::check_header;

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
