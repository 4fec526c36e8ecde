//! Compiled components on disk, integrity-checked before they are used.
//!
//! `Component::deserialize` trusts its input to be code wasmtime produced:
//! given anything else, it can run arbitrary code. So every artifact is
//! stored with an HMAC-SHA256 under a key only this host holds, over the
//! component's digest, the engine's compatibility hash and the artifact.
//! A file whose MAC does not verify (tampered, truncated, written by another
//! host or engine) is deleted and the component compiled again; it is never
//! deserialized.
//!
//! The cache directory is treated as hostile too: the key lives outside it
//! (whoever can write the key can forge entries), the directory is refused
//! if others may write to it, entries are opened without following links,
//! must be regular files and are read only up to a bound, and new entries
//! are written to a fresh temporary file that no link can redirect.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;
const MAC_LEN: usize = 32;
const KEY_LEN: usize = 32;
/// Largest cache entry read: far above any compiled policy (a few MiB),
/// far below what a planted `/dev/zero` or sparse file would cost.
const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// Where compiled components are kept, and the key that vouches for them.
#[derive(Clone)]
pub(crate) struct CompiledCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
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

/// A cache directory or key that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("compiled cache `{path}`: {reason}")]
pub struct CacheError {
    path: String,
    reason: String,
}

impl CacheError {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }
}

impl CompiledCache {
    /// Opens (creating if needed, mode 0700) a cache in `dir`, vouched for
    /// by the key in `key_file` (created with random bytes, mode 0600, if
    /// missing).
    pub(crate) fn open(dir: &Path, key_file: &Path, engine: &Engine) -> Result<Self, CacheError> {
        create_private_dir(dir).map_err(|e| CacheError::new(dir, format!("cannot create: {e}")))?;
        check_dir(dir)?;
        let key = read_or_create_key(dir, key_file)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..16]);
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
        let digest = hex::encode(Sha256::digest(bytes));
        let path = self.path(&digest);
        match read_entry(&path) {
            Ok(Some(file)) => {
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
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(path = %path.display(), "cache entry refused ({reason}); replacing it");
                let _ = std::fs::remove_file(&path);
            }
        }
        let component = Component::new(engine, bytes)?;
        match component.serialize() {
            Ok(artifact) => {
                let mac = self.mac(&digest, &artifact).finalize().into_bytes();
                if let Err(e) = self.store(&path, &mac, &artifact) {
                    tracing::warn!(path = %path.display(), "cannot store compiled component: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot serialize compiled component: {e:#}"),
        }
        Ok(component)
    }

    /// Writes an entry to a new temporary file (never an existing one, never
    /// through a link) and renames it into place, so a reader never sees
    /// half a file and nothing planted in the directory is written through.
    fn store(&self, path: &Path, mac: &[u8], artifact: &[u8]) -> std::io::Result<()> {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            hex::encode(suffix)
        ));
        let written = create_new_private(&tmp).and_then(|mut file| {
            file.write_all(mac)?;
            file.write_all(artifact)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// The artifact in `file`, if its MAC verifies.
    fn verified<'a>(&self, digest: &str, file: &'a [u8]) -> Option<&'a [u8]> {
        let (mac, artifact) = file.split_at_checked(MAC_LEN)?;
        self.mac(digest, artifact).verify_slice(mac).ok()?;
        Some(artifact)
    }
}

/// Opens `path` for reading without following a link and without blocking
/// (a FIFO would otherwise hang the open), and checks that it is a regular
/// file of at most `max` bytes.
fn open_regular(path: &Path, max: u64) -> std::io::Result<Option<(File, u64)>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the limit of {max}",
            meta.len()
        )));
    }
    Ok(Some((file, meta.len())))
}

/// A cache entry's bytes, `None` if there is none.
fn read_entry(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_regular(path, MAX_ENTRY_BYTES)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // Bounded even if the file grows while it is read.
    file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(std::io::Error::other("grew past the limit while read"));
    }
    Ok(Some(bytes))
}

/// Reads the MAC key, or creates it if it does not exist. It must be a
/// regular file of exactly the key's length, outside the cache, owned by
/// this user and readable by no one else.
fn read_or_create_key(dir: &Path, key_file: &Path) -> Result<[u8; KEY_LEN], CacheError> {
    let err = |reason: String| CacheError::new(key_file, reason);
    // Where the key is or would be created: its nearest existing ancestor
    // (its directory may not exist yet, and would be created in the cache).
    let mut existing = key_file.parent().unwrap_or(Path::new("."));
    while !existing.as_os_str().is_empty() && !existing.exists() {
        existing = existing.parent().unwrap_or(Path::new("."));
    }
    if existing.as_os_str().is_empty() {
        existing = Path::new(".");
    }
    let inside = match (dir.canonicalize(), existing.canonicalize()) {
        (Ok(cache), Ok(at)) => at.starts_with(cache),
        // The cache directory exists (it was just created): not knowing
        // where the key lives is refused, not assumed safe.
        _ => true,
    };
    if inside {
        return Err(err(format!(
            "the cache key must live outside the cache directory `{}`: whoever can write the cache could replace it",
            dir.display()
        )));
    }
    match open_regular(key_file, KEY_LEN as u64 * 4) {
        Ok(Some((file, _))) => {
            check_private(&file).map_err(&err)?;
            let mut key = Vec::new();
            file.take(KEY_LEN as u64 + 1)
                .read_to_end(&mut key)
                .map_err(|e| err(format!("cannot read: {e}")))?;
            <[u8; KEY_LEN]>::try_from(key.as_slice()).map_err(|_| {
                err(format!(
                    "must hold exactly {KEY_LEN} bytes, it has {}",
                    key.len()
                ))
            })
        }
        Ok(None) => {
            let mut key = [0u8; KEY_LEN];
            getrandom::fill(&mut key).map_err(|e| err(format!("no random key: {e}")))?;
            if let Some(parent) = key_file.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)
                    .map_err(|e| err(format!("cannot create its directory: {e}")))?;
            }
            create_new_private(key_file)
                .and_then(|mut f| f.write_all(&key).and_then(|()| f.sync_all()))
                .map_err(|e| err(format!("cannot create: {e}")))?;
            tracing::info!(path = %key_file.display(), "created the compiled cache's key");
            Ok(key)
        }
        Err(e) => Err(err(format!("refused: {e}"))),
    }
}

/// Refuses a key that another user owns or that anyone else may read or write.
fn check_private(file: &File) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(format!(
                "owned by uid {}, not by this user (uid {me})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "mode {:o} lets others read or write it; it must be 0600 (chmod 600)",
                meta.mode() & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Refuses a cache directory that others may write to (they could plant
/// entries and links), or that is not a directory.
fn check_dir(dir: &Path) -> Result<(), CacheError> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| CacheError::new(dir, format!("cannot stat: {e}")))?;
    if !meta.is_dir() {
        return Err(CacheError::new(
            dir,
            "not a directory (a link to one is refused too)",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(CacheError::new(
                dir,
                format!("owned by uid {}, not by this user (uid {me})", meta.uid()),
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(CacheError::new(
                dir,
                format!(
                    "mode {:o} lets others write to it; it must not be group- or world-writable (chmod 700)",
                    meta.mode() & 0o777
                ),
            ));
        }
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path`, failing if anything (a file, a link) is already there.
fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    options.open(path)
}
