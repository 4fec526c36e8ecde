//! What a component must be before it is compiled and linked: a component
//! (not a core module), within the engine's size limits, importing only
//! `erynoa:ecl` interfaces it was granted, in a version this host serves,
//! and exporting the policy interface.

use erynoa_ecl::component::MAX_STACK_SECTION;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{EngineConfig, METERING_SECTION};
use crate::engine::LoadError;
use crate::trust_store::{Admission, Capability};

/// Tells bytes that are not wasm, and core modules, from components before
/// the compiler sees them, so the error says what the file is.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
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

/// What a component compiled from ECL declares about itself in custom
/// sections (under its signature, like everything else in it).
#[derive(Debug, Default)]
pub(super) struct Declared {
    /// `erynoa:metering = self`: it charges its own gas.
    pub(super) self_metered: bool,
    /// `erynoa:max-stack`: the deepest operand stack it can reach.
    pub(super) max_stack: Option<u32>,
}

/// Bounds what compiling `bytes` may cost, before the compiler sees them,
/// and reads what the component declares about itself.
pub(super) fn inspect(bytes: &[u8], config: &EngineConfig) -> Result<Declared, LoadError> {
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
pub(super) fn check_self_metering(admission: Option<&Admission>) -> Result<(), LoadError> {
    match admission {
        Some(a) if !a.capabilities.contains(&Capability::SelfMetering) => {
            Err(LoadError::SelfMeteringNotGranted {
                signers: signer_names(a),
            })
        }
        _ => Ok(()),
    }
}

pub(super) fn signer_names(a: &Admission) -> String {
    if a.signers.is_empty() {
        return format!("digest {}", a.digest);
    }
    let names: Vec<&str> = a.signers.iter().map(|(name, _)| name.as_str()).collect();
    names.join(", ")
}

/// The `erynoa:ecl` version this host serves; any 0.1.x is compatible.
pub(super) const SERVED_VERSION: &str = "0.1.0";

/// What an import or export name refers to.
pub(super) enum Interface<'a> {
    /// `erynoa:ecl/<name>@<version>`.
    Erynoa { name: &'a str, version: &'a str },
    /// `wasi:*`.
    Wasi,
    /// Anything else.
    Other,
}

pub(super) fn interface(full: &str) -> Interface<'_> {
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

pub(super) fn check_version(name: &str, version: &str) -> Result<(), LoadError> {
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
pub(super) fn check_world(
    engine: &Engine,
    component: &Component,
) -> Result<Vec<String>, LoadError> {
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
pub(super) fn check_grants(imports: &[String], admission: &Admission) -> Result<(), LoadError> {
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
