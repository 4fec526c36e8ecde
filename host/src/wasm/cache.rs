//! Compiled components on disk, integrity-checked before they are used.
//!
//! `Component::deserialize` trusts its input to be code wasmtime produced:
//! given anything else, it can run arbitrary code. So every artifact is
//! stored with an HMAC-SHA256 under a key only this host holds, over the
//! component's digest, the engine's compatibility hash and the artifact.
//! A file whose MAC does not verify (tampered, truncated, written by another
//! host or engine) is deleted and the component compiled again; it is never
//! deserialized.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;
const KEY_FILE: &str = "cache.key";
const MAC_LEN: usize = 32;

/// Where compiled components are kept, and the key that vouches for them.
#[derive(Clone)]
pub(crate) struct CompiledCache {
    dir: PathBuf,
    key: [u8; 32],
    engine_hash: String,
}

impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Feeds `Hash` output into SHA-256, so the engine hash is stable across
/// processes (std's hashers promise no such thing).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        0 // unused: the digest is read with `finalize`
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cache directory that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("compiled cache `{path}`: {reason}")]
pub struct CacheError {
    path: String,
    reason: String,
}

impl CompiledCache {
    /// Opens (creating if needed) a cache in `dir`, with its MAC key in
    /// `dir/cache.key` (created with 32 random bytes, mode 0600, if missing).
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, CacheError> {
        let err = |reason: String| CacheError {
            path: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create: {e}")))?;
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read(&key_path) {
            Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                err(format!(
                    "{KEY_FILE} must hold exactly 32 bytes, it has {}",
                    bytes.len()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| err(format!("no random key: {e}")))?;
                write_private(&key_path, &key)
                    .map_err(|e| err(format!("cannot write {KEY_FILE}: {e}")))?;
                key
            }
            Err(e) => return Err(err(format!("cannot read {KEY_FILE}: {e}"))),
        };
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex(&hasher.0.finalize()[..16]);
        Ok(Self {
            dir: dir.to_owned(),
            key,
            engine_hash,
        })
    }

    fn mac(&self, digest: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(digest.as_bytes());
        mac.update(self.engine_hash.as_bytes());
        mac.update(artifact);
        mac
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", self.engine_hash))
    }

    /// The compiled component for `bytes`: from the cache if a verified
    /// entry exists, else compiled (and stored).
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<Component> {
        let digest = hex(&Sha256::digest(bytes));
        let path = self.path(&digest);
        if let Ok(file) = std::fs::read(&path) {
            match self.verified(&digest, &file) {
                Some(artifact) => {
                    // SAFETY: the artifact carries a valid MAC under this host's key over
                    // this component's digest and this engine's compatibility hash, so it
                    // is exactly what `Component::serialize` produced here for these bytes.
                    #[expect(
                        unsafe_code,
                        reason = "deserializing a MAC-verified artifact of our own"
                    )]
                    match unsafe { Component::deserialize(engine, artifact) } {
                        Ok(component) => {
                            tracing::debug!(digest, "loaded from the verified cache");
                            return Ok(component);
                        }
                        Err(e) => tracing::warn!(
                            digest,
                            "verified cache entry did not load ({e:#}); recompiling"
                        ),
                    }
                }
                None => tracing::warn!(
                    path = %path.display(),
                    "cache entry failed its integrity check (tampered or foreign); discarding it, never loading it"
                ),
            }
            let _ = std::fs::remove_file(&path);
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(artifact) => {
                let mac = self.mac(&digest, &artifact).finalize().into_bytes();
                let mut file = Vec::with_capacity(MAC_LEN + artifact.len());
                file.extend_from_slice(&mac);
                file.extend_from_slice(&artifact);
                // Written aside and renamed, so a reader never sees half a file.
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                if let Err(e) =
                    std::fs::write(&tmp, &file).and_then(|()| std::fs::rename(&tmp, &path))
                {
                    tracing::warn!(path = %path.display(), "cannot store compiled component: {e}");
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            Err(e) => tracing::warn!("cannot serialize compiled component: {e:#}"),
        }
        Ok(component)
    }

    /// The artifact in `file`, if its MAC verifies.
    fn verified<'a>(&self, digest: &str, file: &'a [u8]) -> Option<&'a [u8]> {
        let (mac, artifact) = file.split_at_checked(MAC_LEN)?;
        self.mac(digest, artifact).verify_slice(mac).ok()?;
        Some(artifact)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
