//! The compiled cache: a verified entry saves compiling; anything that fails
//! its integrity check is discarded and recompiled, never loaded. The cache
//! directory is hostile ground: its key lives elsewhere, and links, special
//! files and huge files planted in it are refused or replaced.

use std::path::{Path, PathBuf};

use erynoa_host::{ComponentEngine, Policy, Request, Trust};

use crate::{ALICE, guest_bytes, state};

/// A fresh base directory; the cache is `base/cache`, its key `base/config/cache.key`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erynoa-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

fn key(base: &Path) -> PathBuf {
    base.join("config/cache.key")
}

fn open(dir: &Path, key: &Path) -> Result<ComponentEngine, String> {
    ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned)
        .with_cache(dir, key)
        .map_err(|e| e.to_string())
}

fn engine(base: &Path) -> ComponentEngine {
    open(&base.join("cache"), &key(base)).expect("cache")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn entry(base: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(base.join("cache"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().expect("one entry")
}

fn loads_and_works(engine: &ComponentEngine) {
    let p = engine
        .load_component("t", &guest_bytes("trust_threshold"))
        .expect("load");
    let s = state(r#"{"trust": {"did:erynoa:self:alice": 0.9}}"#);
    assert!(
        p.evaluate(
            &s,
            &Request::builder(ALICE, "r").build(),
            Default::default()
        )
        .is_allowed()
    );
}

#[test]
fn a_verified_entry_is_reused() {
    let dir = scratch("reuse");
    let e = engine(&dir);
    loads_and_works(&e);
    let path = entry(&dir);
    let written = std::fs::read(&path).expect("entry");
    loads_and_works(&engine(&dir)); // a new engine, same key
    assert_eq!(
        std::fs::read(&path).expect("entry"),
        written,
        "reused, not rewritten"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tampered_truncated_or_foreign_entries_are_replaced_never_used() {
    let dir = scratch("tamper");
    loads_and_works(&engine(&dir));
    let path = entry(&dir);
    let good = std::fs::read(&path).expect("entry");

    let mut tampered = good.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x40;
    for bad in [tampered, good[..16].to_vec(), Vec::new()] {
        std::fs::write(&path, &bad).expect("write");
        loads_and_works(&engine(&dir));
        assert_eq!(
            std::fs::read(&path).expect("entry"),
            good,
            "recompiled and stored again"
        );
    }

    // Another host's key: its entries do not verify here.
    std::fs::remove_file(key(&dir)).expect("old key");
    std::fs::write(key(&dir), [7u8; 32]).expect("key");
    set_mode(&key(&dir), 0o600);
    loads_and_works(&engine(&dir));
    assert_ne!(
        std::fs::read(&path).expect("entry"),
        good,
        "re-MACed under the new key"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_cache_key_is_refused() {
    let base = scratch("badkey");
    std::fs::create_dir_all(base.join("config")).expect("dir");
    let cache = base.join("cache");
    std::fs::write(key(&base), b"short").expect("key");
    set_mode(&key(&base), 0o600);
    let e = open(&cache, &key(&base)).expect_err("refused");
    assert!(e.ends_with("must hold exactly 32 bytes, it has 5"), "{e}");

    // Readable by others: whoever reads it can forge entries.
    std::fs::write(key(&base), [1u8; 32]).expect("key");
    set_mode(&key(&base), 0o644);
    let e = open(&cache, &key(&base)).expect_err("refused");
    assert!(e.contains("mode 644 lets others read or write it"), "{e}");

    // A key inside the cache: anyone who can write the cache could replace it.
    std::fs::create_dir_all(&cache).expect("cache");
    set_mode(&cache, 0o700);
    let e = open(&cache, &cache.join("cache.key")).expect_err("refused");
    assert!(e.contains("must live outside the cache directory"), "{e}");
    // Also in a directory of the cache that does not exist yet.
    let e = open(&cache, &cache.join("keys/cache.key")).expect_err("refused");
    assert!(e.contains("must live outside the cache directory"), "{e}");
    assert!(!cache.join("keys").exists());

    // A device or a link to one as the key is not read.
    std::fs::remove_file(key(&base)).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", key(&base)).expect("link");
    let e = open(&cache, &key(&base)).expect_err("refused");
    assert!(e.contains("refused"), "{e}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_cache_directory_others_may_write_is_refused() {
    let base = scratch("shared");
    let cache = base.join("cache");
    std::fs::create_dir_all(&cache).expect("dir");
    set_mode(&cache, 0o777);
    let e = open(&cache, &key(&base)).expect_err("refused");
    assert!(e.contains("lets others write to it"), "{e}");
    set_mode(&cache, 0o700);
    assert!(open(&cache, &key(&base)).is_ok());
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn links_fifos_and_devices_planted_as_entries_are_replaced_not_followed() {
    let base = scratch("planted");
    loads_and_works(&engine(&base));
    let path = entry(&base);
    let good = std::fs::read(&path).expect("entry");

    // A link at the entry's name to a file the host must not touch.
    let victim = base.join("victim");
    std::fs::write(&victim, b"precious").expect("victim");
    for target in [victim.as_path(), Path::new("/dev/zero")] {
        std::fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(target, &path).expect("link");
        loads_and_works(&engine(&base));
        assert!(
            !std::fs::symlink_metadata(&path)
                .expect("entry")
                .is_symlink()
        );
        assert_eq!(std::fs::read(&path).expect("entry"), good);
    }
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");

    // A FIFO would hang a plain open; it is refused and replaced.
    std::fs::remove_file(&path).expect("rm");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    loads_and_works(&engine(&base));
    assert_eq!(std::fs::read(&path).expect("entry"), good);
    let _ = std::fs::remove_dir_all(&base);
}
