//! The engines that load policies: components on wasmtime, and ECL and
//! legacy bytecode on the built-in VM (or compiled to components).

pub(crate) mod bytecode;
pub(crate) mod compiled_ecl;
pub(crate) mod component;
pub(crate) mod source;

use std::sync::Arc;

use crate::evaluation::Policy;

/// Loads policies from bytes. The component engine implements it; so does the
/// legacy ECL VM, so both run through the same state, budget and metrics.
pub trait PolicyEngine: Send + Sync {
    /// Checks and prepares `bytes` as the policy `id`. Nothing is run but the
    /// policy's metadata function.
    fn load(&self, id: &str, bytes: &[u8]) -> Result<Arc<dyn Policy>, LoadError>;
}

/// A policy that cannot be loaded. Nothing of it was run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not WebAssembly.
    #[error("not a WebAssembly binary: {reason}")]
    NotWasm {
        /// What is wrong with them.
        reason: String,
    },
    /// A core module where a component is needed.
    #[error(
        "a core wasm module, not a component: build the policy for `wasm32-wasip2` \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// ECL source that does not compile: the compiler's diagnostics, as
    /// `erynoa ecl check` prints them.
    #[error("the ECL source does not compile:\n{diagnostics}")]
    Ecl {
        /// The rendered diagnostics.
        diagnostics: String,
    },
    /// The component breaks a rule of this host (a malformed section, a
    /// self-metering component that does not import the budget).
    #[error("invalid component: {reason}")]
    Invalid {
        /// Which rule.
        reason: String,
    },
    /// The component does not validate or compile; the cause is wasmtime's.
    #[error("the component does not validate or compile")]
    Compile {
        /// The validator's or compiler's error.
        #[source]
        source: BoxError,
    },
    /// The signature check refused the component; it was not compiled.
    #[error("refused before compiling: {0}")]
    Refused(crate::trust_store::AdmissionError),
    /// The component imports an interface its signers were not granted.
    #[error(
        "component imports `{interface}`, but its signers ({signers}) are not granted `{capability}`"
    )]
    NotGranted {
        /// The import.
        interface: String,
        /// The capability it needs.
        capability: crate::trust_store::Capability,
        /// Who signed it.
        signers: String,
    },
    /// The component was built against a version of the contract this host
    /// cannot serve.
    #[error(
        "component uses `{interface}` version {found}; this host serves version {served} (any 0.1.x loads)"
    )]
    UnsupportedVersion {
        /// The interface.
        interface: String,
        /// The version the component wants.
        found: String,
        /// The version this host serves.
        served: &'static str,
    },
    /// The component imports something the host does not provide.
    #[error(
        "component imports `{name}`, which this host does not provide (it serves erynoa:ecl@0.1 and wasi)"
    )]
    UnsupportedImport {
        /// The import's name.
        name: String,
    },
    /// The component imports WASI, which this host does not serve.
    #[error(
        "component imports `{name}`: this host serves no WASI (no clocks, files, random or stdio; see docs/security.md). \
         Log with erynoa:ecl/context.log, read the time with context.timestamp; in Rust, avoid `println!`, \
         `std::time` and `HashMap::new()` (use `BTreeMap`)"
    )]
    WasiNotServed {
        /// The import's name.
        name: String,
    },
    /// The component declares that it reports its own gas without being
    /// granted to.
    #[error(
        "component declares `erynoa:metering = self` (it reports its own gas), but its signers ({signers}) are not granted `self-metering`; grant it only to code from a compiler you trust, such as `erynoa compile`"
    )]
    SelfMeteringNotGranted {
        /// Who signed it.
        signers: String,
    },
    /// Compiling the component would cost more than the engine allows.
    #[error("component has {found} {what}; this engine's limit is {limit} (see `EngineConfig`)")]
    TooLarge {
        /// What is counted: `bytes`, `functions` or `bytes of code`.
        what: &'static str,
        /// How many it has.
        found: u64,
        /// The limit.
        limit: u64,
    },
    /// The component does not export the policy interface.
    #[error(
        "component does not export `erynoa:ecl/policy@0.1.0`: it implements another world (exports: {exports})"
    )]
    MissingExport {
        /// What it exports instead.
        exports: String,
    },
    /// The component exports the policy interface with other signatures
    /// than this host's, e.g. built against a changed copy of the WIT.
    #[error("component exports `erynoa:ecl/policy` with signatures this host does not expect")]
    ExportMismatch {
        /// What differs, as wasmtime found it.
        #[source]
        source: BoxError,
    },
    /// Linking or instantiating failed.
    #[error("cannot instantiate component")]
    Instantiate {
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The policy's metadata function failed.
    #[error("policy metadata failed")]
    Metadata {
        /// Why.
        #[source]
        source: BoxError,
    },
}

/// The cause of a [`LoadError`]: wasmtime's error, or the failure of the
/// policy's own code, kept whole for whoever prints the chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
