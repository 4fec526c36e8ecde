//! Loading a signed policy: verify its signature, then compile it (cold) or
//! take it from the verified compiled cache (warm), link it and read its
//! metadata.
//!
//! Run: `cargo xtask build-guests && cargo bench -p erynoa-benches --bench load`

#![allow(
    clippy::panic,
    missing_docs,
    reason = "a benchmark binary: criterion macros, missing guests abort it"
)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use erynoa_host::{ComponentEngine, Trust, TrustStore};
use erynoa_sign::{SigningKey, keys};

fn load(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[1; 32]);
    let path = format!(
        "{}/../target/guests/kyc_score.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask build-guests` first"));
    let signed = erynoa_sign::sign(&bytes, &key).expect("sign");
    let store = format!(
        "[[key]]\nname = \"bench\"\npublic_key = \"{}\"\ncapabilities = [\"trust\", \"identity\"]\n",
        keys::public_key_openssh(&key.verifying_key(), "bench")
    );
    let trust = || Trust::Store(TrustStore::from_toml(&store).expect("store"));
    let mut g = c.benchmark_group("load");

    let cold = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(trust());
    g.sample_size(10);
    g.bench_function("verify-and-compile", |b| {
        b.iter(|| cold.load_component("kyc", &signed).expect("load"))
    });

    let dir = std::env::temp_dir().join(format!("erynoa-bench-cache-{}", std::process::id()));
    let warm = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(trust())
        .with_cache(dir.join("cache"), dir.join("cache.key"))
        .expect("cache");
    warm.load_component("kyc", &signed).expect("fill the cache");
    g.sample_size(100);
    g.bench_function("verify-and-load-from-cache", |b| {
        b.iter(|| warm.load_component("kyc", &signed).expect("load"))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = load
}
criterion_main!(benches);
