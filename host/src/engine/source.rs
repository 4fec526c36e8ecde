//! Where a policy comes from, as operators name it: a component (`.wasm`),
//! ECL source (`.ecl`, with `@legacy`, `@wasm` or `@auto` for the back end)
//! or legacy bytecode (`.eclc`). The CLI and the service load through it,
//! so a file means the same everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::bytecode::BytecodeEngine;
use crate::engine::compiled_ecl::ExecutionMode;
use crate::engine::component::ComponentEngine;
use crate::engine::{LoadError, Policy, PolicyEngine};
use crate::json::{MAX_INPUT_BYTES, read_file};

/// A policy file and how to run it.
///
/// ```
/// use erynoa_host::{ExecutionMode, PolicySource};
/// let source = PolicySource::parse("policies/kyc.ecl@wasm")?;
/// assert_eq!(source, PolicySource::Ecl { path: "policies/kyc.ecl".into(), mode: ExecutionMode::Wasm });
/// assert_eq!(source.id(), "kyc.ecl@wasm");
/// assert_eq!(PolicySource::parse("kyc.wasm")?.id(), "kyc");
/// # Ok::<(), erynoa_host::SourceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A signed component.
    Component(PathBuf),
    /// ECL source, on the back end `mode` picks.
    Ecl {
        /// The file.
        path: PathBuf,
        /// The back end.
        mode: ExecutionMode,
    },
    /// Legacy `.eclc` bytecode, on the VM.
    Bytecode(PathBuf),
}

/// A policy file that could not be named, read or loaded. The cause (the
/// I/O error, the [`LoadError`]) is the error's source: print the chain
/// (`{:#}` with anyhow) to see it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `@mode` on a file that is not ECL source.
    #[error("`@{mode}` picks an ECL back end; `{path}` is not an .ecl file")]
    ModeOnNonEcl {
        /// The mode given.
        mode: String,
        /// The file.
        path: String,
    },
    /// The file could not be read.
    #[error("cannot read policy `{path}`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// ECL source that is not UTF-8.
    #[error("ECL source `{path}` is not UTF-8")]
    NotUtf8 {
        /// The file.
        path: String,
    },
    /// The policy could not be loaded.
    #[error("cannot load policy `{path}`")]
    Load {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: LoadError,
    },
}

impl PolicySource {
    /// Names a policy file: `.ecl` optionally with `@legacy`, `@wasm` or
    /// `@auto` (default), `.eclc`, and anything else as a component. An `@`
    /// followed by anything else is part of the file name.
    pub fn parse(spec: impl AsRef<Path>) -> Result<Self, SourceError> {
        let spec = spec.as_ref();
        let text = spec.to_string_lossy();
        let (path, mode) = match text.rsplit_once('@') {
            Some((path, mode @ ("legacy" | "wasm" | "auto"))) => {
                if !path.ends_with(".ecl") {
                    return Err(SourceError::ModeOnNonEcl {
                        mode: mode.to_owned(),
                        path: path.to_owned(),
                    });
                }
                let mode = match mode {
                    "legacy" => ExecutionMode::Legacy,
                    "wasm" => ExecutionMode::Wasm,
                    _ => ExecutionMode::Auto,
                };
                (PathBuf::from(path), Some(mode))
            }
            _ => (spec.to_owned(), None),
        };
        Ok(match path.extension().and_then(|e| e.to_str()) {
            Some("ecl") => PolicySource::Ecl {
                path,
                mode: mode.unwrap_or_default(),
            },
            Some("eclc") => PolicySource::Bytecode(path),
            _ => PolicySource::Component(path),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            PolicySource::Component(path)
            | PolicySource::Bytecode(path)
            | PolicySource::Ecl { path, .. } => path,
        }
    }

    /// The id the policy is loaded under: a component's file stem, an ECL
    /// or bytecode file's name, with `@legacy` or `@wasm` when a back end
    /// was picked.
    pub fn id(&self) -> String {
        let path = self.path();
        let part = match self {
            PolicySource::Component(_) => path.file_stem(),
            _ => path.file_name(),
        };
        let name = part.map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        match self {
            PolicySource::Ecl {
                mode: ExecutionMode::Legacy,
                ..
            } => format!("{name}@legacy"),
            PolicySource::Ecl {
                mode: ExecutionMode::Wasm,
                ..
            } => format!("{name}@wasm"),
            _ => name,
        }
    }

    /// Reads the file and loads it with `engine` (whose trust settings
    /// admit it): policy `entry` of ECL source (default: the first).
    pub fn load(
        &self,
        engine: &ComponentEngine,
        entry: Option<&str>,
    ) -> Result<Arc<dyn Policy>, SourceError> {
        let path = self.path();
        let shown = || path.display().to_string();
        let bytes = read_file(path, MAX_INPUT_BYTES).map_err(|error| SourceError::Read {
            path: shown(),
            error,
        })?;
        self.load_bytes(engine, &self.id(), &bytes, entry)
    }

    /// Loads the file's contents, already read, under `id` (what the trust
    /// store's `[[policy]]` pins and the decisions name): a service reads a
    /// file once and loads exactly the bytes whose digest it reports.
    pub fn load_bytes(
        &self,
        engine: &ComponentEngine,
        id: &str,
        bytes: &[u8],
        entry: Option<&str>,
    ) -> Result<Arc<dyn Policy>, SourceError> {
        let shown = || self.path().display().to_string();
        let loaded = match self {
            PolicySource::Ecl { mode, .. } => {
                let source = std::str::from_utf8(bytes)
                    .map_err(|_| SourceError::NotUtf8 { path: shown() })?;
                engine.load_ecl(id, source, entry, *mode)
            }
            PolicySource::Bytecode(_) => BytecodeEngine::new(engine.trust().clone())
                .load_eclc(id, bytes)
                .map(|p| Arc::new(p) as Arc<dyn Policy>),
            PolicySource::Component(_) => engine.load(id, bytes),
        };
        loaded.map_err(|error| SourceError::Load {
            path: shown(),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_modes() {
        let parse = |s: &str| PolicySource::parse(s).unwrap();
        assert_eq!(
            parse("a/k.ecl"),
            PolicySource::Ecl {
                path: "a/k.ecl".into(),
                mode: ExecutionMode::Auto
            }
        );
        assert_eq!(parse("a/k.ecl").id(), "k.ecl");
        assert_eq!(parse("k.ecl@legacy").id(), "k.ecl@legacy");
        assert_eq!(parse("k.eclc"), PolicySource::Bytecode("k.eclc".into()));
        assert_eq!(parse("mail@host.wasm").id(), "mail@host");
        assert_eq!(
            PolicySource::parse("k.wasm@wasm").unwrap_err().to_string(),
            "`@wasm` picks an ECL back end; `k.wasm` is not an .ecl file"
        );
    }
}
