//! What does wasmtime itself cost per fresh instance, on the host's engine
//! configuration, as a component grows: an empty component, one core module,
//! a 64 KiB memory, an 8 KiB data segment, then the example policies. Store,
//! instantiation and drop (the return to the pool) only; nothing is called.
//!
//! Run: `cargo xtask build-guests && cargo bench -p erynoa-benches --bench floor`

#![allow(
    clippy::panic,
    missing_docs,
    reason = "a benchmark binary: criterion macros, missing guests abort it"
)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use erynoa_host::ComponentEngine;
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

fn shapes() -> Vec<(&'static str, Vec<u8>)> {
    let wat = |text: &str| wat::parse_str(text).unwrap_or_else(|e| panic!("{e}"));
    let data = "x".repeat(8 << 10);
    let guest = |name: &str| {
        let path = format!(
            "{}/../target/guests/{name}.wasm",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask build-guests` first"))
    };
    vec![
        ("empty-component", wat("(component)")),
        (
            "one-core-module",
            wat(
                r#"(component (core module $m (func (export "f"))) (core instance (instantiate $m)))"#,
            ),
        ),
        (
            "one-page-memory",
            wat("(component (core module $m (memory 1)) (core instance (instantiate $m)))"),
        ),
        (
            "memory-and-8k-data",
            wat(&format!(
                r#"(component (core module $m (memory 1) (data (i32.const 1024) "{data}")) (core instance (instantiate $m)))"#
            )),
        ),
        ("trust_threshold", guest("trust_threshold")),
        ("kyc_score", guest("kyc_score")),
    ]
}

fn floor(c: &mut Criterion) {
    let host = ComponentEngine::new(Default::default()).expect("engine");
    let engine = host.wasmtime();
    let mut g = c.benchmark_group("floor");
    for (name, bytes) in shapes() {
        let component = Component::new(engine, &bytes).expect("compile");
        let mut linker: Linker<()> = Linker::new(engine);
        linker
            .define_unknown_imports_as_traps(&component)
            .expect("stub imports");
        let pre = linker.instantiate_pre(&component).expect("link");
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut store = Store::new(engine, ());
                store.set_fuel(1_000_000).expect("fuel");
                store.set_epoch_deadline(1_000);
                pre.instantiate(&mut store).expect("instantiate");
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = floor
}
criterion_main!(benches);
