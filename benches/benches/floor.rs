//! What does wasmtime itself cost per fresh instance, on the host's engine
//! configuration, as a component grows: an empty component, one core module,
//! a 64 KiB memory, an 8 KiB data segment, one host call in two component
//! shapes, then the example policies. Store, instantiation and drop (the
//! return to the pool) only; nothing is called.
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
        // The same host call (a string parameter, so it lowers through the
        // guest's memory) in the shape wit-component gives it, a shim and a
        // fixup instance around the main module, and with the memory in a
        // module of its own that the main module imports. The second shape
        // needs no `realloc`, so it fits only imports that return no strings.
        (
            "host-call-shim-shape",
            wat(r#"(component
  (import "f" (func $f (param "s" string) (result u32)))
  (core module $shim
    (type (func (param i32 i32) (result i32)))
    (table (export "$imports") 1 1 funcref)
    (func (export "0") (param i32 i32) (result i32) local.get 0 local.get 1 i32.const 0 call_indirect (type 0)))
  (core instance $shim_i (instantiate $shim))
  (alias core export $shim_i "0" (core func $indirect))
  (core module $main
    (import "host" "f" (func (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (table 10 10 funcref)
    (func (export "run") (result i32) i32.const 0 i32.const 0 call 0))
  (core instance $main_i (instantiate $main (with "host" (instance (export "f" (func $indirect))))))
  (alias core export $main_i "memory" (core memory $m))
  (alias core export $shim_i "$imports" (core table $t))
  (core func $fl (canon lower (func $f) (memory $m)))
  (core module $fixup
    (type (func (param i32 i32) (result i32)))
    (import "" "0" (func (type 0)))
    (import "" "$imports" (table 1 1 funcref))
    (elem (i32.const 0) func 0))
  (core instance (instantiate $fixup (with "" (instance (export "0" (func $fl)) (export "$imports" (table $t))))))
)"#),
        ),
        (
            "host-call-imported-memory",
            wat(r#"(component
  (import "f" (func $f (param "s" string) (result u32)))
  (core module $mem (memory (export "memory") 1))
  (core instance $mi (instantiate $mem))
  (alias core export $mi "memory" (core memory $m))
  (core func $fl (canon lower (func $f) (memory $m)))
  (core module $main
    (import "env" "memory" (memory 1))
    (import "host" "f" (func (param i32 i32) (result i32)))
    (table 10 10 funcref)
    (func (export "run") (result i32) i32.const 0 i32.const 0 call 0))
  (core instance (instantiate $main (with "env" (instance (export "memory" (memory $m)))) (with "host" (instance (export "f" (func $fl))))))
)"#),
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
