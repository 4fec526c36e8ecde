//! The compiled cache: a verified entry saves compiling; anything that fails
//! its integrity check is discarded and recompiled, never loaded.

use std::path::{Path, PathBuf};

use erynoa_host::{ComponentEngine, Policy, Request, Trust};

use crate::{ALICE, guest_bytes, state};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erynoa-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn engine(dir: &Path) -> ComponentEngine {
    ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned)
        .with_cache(dir)
        .expect("cache")
}

fn entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
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
    std::fs::write(dir.join("cache.key"), [7u8; 32]).expect("key");
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
    let dir = scratch("badkey");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("cache.key"), b"short").expect("key");
    let e = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_cache(&dir)
        .map(|_| ())
        .expect_err("refused");
    assert!(
        e.to_string()
            .ends_with("cache.key must hold exactly 32 bytes, it has 5"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
