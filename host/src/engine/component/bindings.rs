//! Types and export calls generated from `wit/` by wasmtime's `bindgen!`.
//!
//! Imports are linked by hand in `linker.rs` rather than through the
//! generated traits: each host call needs the `Store` to settle fuel.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "policy-component",
});
