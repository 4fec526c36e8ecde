//! A guest that returns arbitrary bytes as its `evaluate` result: any
//! discriminant, effect, reason pointer, length or encoding. The host must
//! turn each into a decision or a deny that says why, never a panic.

#![no_main]

use std::sync::{Arc, OnceLock};

use erynoa_host::{
    BudgetLimits, ComponentEngine, ComponentPolicy, EngineConfig, Policy, Request, Trust,
    UnifiedState,
};
use libfuzzer_sys::fuzz_target;

/// Decodes the request's action (hex) to address 64 and returns the i32 at
/// 64 as its result pointer: the fuzzer chooses the pointer and the bytes.
const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 8192))
  (data (i32.const 16) "fuzz")
  (func (export "erynoa:ecl/policy@0.1.0#metadata") (result i32)
    (i32.store (i32.const 32) (i32.const 16)) (i32.store (i32.const 36) (i32.const 4))
    (i32.store (i32.const 40) (i32.const 16)) (i32.store (i32.const 44) (i32.const 4))
    (i32.const 32))
  (func $nibble (param $c i32) (result i32)
    (if (result i32) (i32.ge_u (local.get $c) (i32.const 97))
      (then (i32.sub (local.get $c) (i32.const 87)))
      (else (i32.sub (local.get $c) (i32.const 48)))))
  (func (export "erynoa:ecl/policy@0.1.0#evaluate")
    (param i32 i32 i32 i32) (param $action i32) (param $len i32) (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $len)))
        (i32.store8
          (i32.add (i32.const 64) (i32.shr_u (local.get $i) (i32.const 1)))
          (i32.or
            (i32.shl (call $nibble (i32.load8_u (i32.add (local.get $action) (local.get $i)))) (i32.const 4))
            (call $nibble (i32.load8_u (i32.add (local.get $action) (i32.add (local.get $i) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $l)))
    (i32.load (i32.const 64)))
)"#;

fn policy() -> &'static (ComponentPolicy, Arc<UnifiedState>) {
    static POLICY: OnceLock<(ComponentPolicy, Arc<UnifiedState>)> = OnceLock::new();
    POLICY.get_or_init(|| {
        let config = EngineConfig {
            pooling: false,
            ..EngineConfig::default()
        };
        let engine = ComponentEngine::new(config)
            .expect("engine")
            .with_trust(Trust::AllowUnsigned);
        let core = wat::parse_str(GUEST).expect("WAT");
        let component = erynoa_ecl::component::componentize(core).expect("component");
        let policy = engine.load_component("fuzz", &component).expect("load");
        (policy, Arc::new(UnifiedState::new()))
    })
}

fuzz_target!(|data: &[u8]| {
    let (policy, state) = policy();
    let hex: String = data.iter().take(4096).map(|b| format!("{b:02x}")).collect();
    let request = Request::builder("did:erynoa:self:fuzz", "r")
        .action(hex)
        .build();
    let e = policy.evaluate(state, &request, BudgetLimits::default());
    match &e.failure {
        None => assert!(e.reason.as_ref().is_none_or(|r| r.len() <= 4096)),
        Some(f) => assert!(!f.to_string().is_empty()),
    }
});
