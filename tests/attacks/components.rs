//! Hostile components, written as core wasm in WAT and made into components
//! of the `erynoa:ecl` world (or of a world that also imports WASI).

/// The contract.
const WIT: &str = include_str!("../../wit/erynoa.wit");

/// A core module with the `erynoa:ecl/policy` exports: `metadata`, a bump
/// `cabi_realloc`, and `evaluate`, which runs `body` and then allows.
/// `imports` and `extra` (memories, functions, data) go into the module.
pub fn policy_module(imports: &str, extra: &str, body: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  {extra}
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "attack")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (local.get $p))
  (func (export "erynoa:ecl/policy@0.1.0#metadata") (result i32)
    (i32.store (i32.const 32) (i32.const 16))
    (i32.store (i32.const 36) (i32.const 6))
    (i32.store (i32.const 40) (i32.const 16))
    (i32.store (i32.const 44) (i32.const 6))
    (i32.const 32))
  (func (export "erynoa:ecl/policy@0.1.0#evaluate")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    {body}
    ;; ok(decision {{ effect: allow, reason: none }})
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.const 64))
)"#
    )
}

/// `core_wat` as a component of the `erynoa:ecl` policy world.
pub fn component(core_wat: &str) -> Vec<u8> {
    let core = wat::parse_str(core_wat).expect("core WAT");
    erynoa_ecl::component::componentize(core).expect("componentize")
}

/// `core_wat` as a component of a world that also imports
/// `wasi:clocks/monotonic-clock@0.2.0` (`now: func() -> u64`).
pub fn component_with_wasi_clock(core_wat: &str) -> Vec<u8> {
    let wasi = "package wasi:clocks@0.2.0;\n\
                interface monotonic-clock { now: func() -> u64; }";
    let world = "package attack:wasi-user;\n\
                 world policy-with-clock {\n\
                   import wasi:clocks/monotonic-clock@0.2.0;\n\
                   export erynoa:ecl/policy@0.1.0;\n\
                 }";
    encode(
        core_wat,
        &[("wasi.wit", wasi), ("world.wit", world)],
        "attack:wasi-user/policy-with-clock",
    )
}

fn encode(core_wat: &str, more_wit: &[(&str, &str)], world: &str) -> Vec<u8> {
    let mut core = wat::parse_str(core_wat).expect("core WAT");
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_str("erynoa.wit", WIT).expect("erynoa WIT");
    let mut package = None;
    for (name, text) in more_wit {
        package = Some(resolve.push_str(name, text).expect("WIT"));
    }
    let package = package.expect("a world package");
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("world");
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed");
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .expect("module")
        .encode()
        .expect("encode")
}

/// `component` with a custom section appended.
pub fn with_section(mut component: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    use wasm_encoder::ComponentSection as _;
    wasm_encoder::CustomSection {
        name: name.into(),
        data: data.into(),
    }
    .append_to_component(&mut component);
    component
}

/// Spins forever.
pub fn spin() -> Vec<u8> {
    component(&policy_module("", "", "(loop $l (br $l))"))
}

/// Declares that it meters itself, imports the budget as it must, and then
/// spins forever without reporting any gas.
pub fn self_metered_spin() -> Vec<u8> {
    let core = policy_module(
        r#"(import "erynoa:ecl/budget@0.1.0" "gas-left" (func $gas_left (result i64)))"#,
        "",
        "(drop (call $gas_left)) (loop $l (br $l))",
    );
    with_section(component(&core), "erynoa:metering", b"self")
}

/// Compares two 6 MiB strings with the prelude's `eq-ignore-case`, forever.
/// It needs no capability.
pub fn prelude_burner(self_metered: bool) -> Vec<u8> {
    let mib6 = 6 << 20;
    let budget = if self_metered {
        r#"(import "erynoa:ecl/budget@0.1.0" "gas-left" (func $gas_left (result i64)))"#
    } else {
        ""
    };
    let core = policy_module(
        &format!(
            r#"(import "erynoa:ecl/prelude@0.1.0" "eq-ignore-case" (func $eq (param i32 i32 i32 i32) (result i32)))
               {budget}"#
        ),
        "",
        &format!(
            r#"(drop (memory.grow (i32.const 200)))
               (global.set $heap (i32.const 13500000))
               (loop $l
                 (drop (call $eq (i32.const 65536) (i32.const {mib6}) (i32.const 6400000) (i32.const {mib6})))
                 (br $l))"#
        ),
    );
    let c = component(&core);
    if self_metered {
        with_section(c, "erynoa:metering", b"self")
    } else {
        c
    }
}

/// Four memories in four core instances, each grown by `pages`
/// pages of 64 KiB and written to on every page (so it is really resident).
/// Written as a component by hand: wit-component makes one memory.
pub fn four_memories(pages: u32) -> Vec<u8> {
    let grow = r#"(core module $Grow
      (memory (export "memory") 1)
      (func (export "grow") (param $pages i32)
        (local $i i32)
        (if (i32.lt_s (memory.grow (local.get $pages)) (i32.const 0)) (then unreachable))
        (loop $l
          (i32.store8 (i32.mul (local.get $i) (i32.const 65536)) (i32.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $pages))))))"#;
    // The main module's own memory is the fourth; its pages start above
    // the first, which holds the policy's data.
    let main = policy_module(
        r#"(import "g1" "grow" (func $g1 (param i32)))
           (import "g2" "grow" (func $g2 (param i32)))
           (import "g3" "grow" (func $g3 (param i32)))"#,
        r#"(func $grow (param $pages i32)
             (local $i i32)
             (if (i32.lt_s (memory.grow (local.get $pages)) (i32.const 0)) (then unreachable))
             (loop $l
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (i32.store8 (i32.mul (local.get $i) (i32.const 65536)) (i32.const 1))
               (br_if $l (i32.lt_u (local.get $i) (local.get $pages)))))"#,
        &format!("(call $g1 (i32.const {pages})) (call $g2 (i32.const {pages})) (call $g3 (i32.const {pages})) (call $grow (i32.const {pages}))"),
    )
    .replacen("(module", "(core module $Main", 1);
    let wat = format!(
        r#"(component
  {grow}
  {main}
  (core instance $i1 (instantiate $Grow))
  (core instance $i2 (instantiate $Grow))
  (core instance $i3 (instantiate $Grow))
  (core instance $m (instantiate $Main
    (with "g1" (instance $i1)) (with "g2" (instance $i2))
    (with "g3" (instance $i3))))
  (type $value' (variant (case "null") (case "boolean" bool) (case "number" f64) (case "text" string) (case "did" string)))
  (export $value "value" (type $value'))
  (type $param' (record (field "name" string) (field "value" $value)))
  (export $param "param" (type $param'))
  (type $request' (record (field "caller" string) (field "realm" string) (field "action" string) (field "resource" string) (field "params" (list $param))))
  (export $request "request" (type $request'))
  (type $effect' (enum "allow" "deny"))
  (export $effect "effect" (type $effect'))
  (type $decision' (record (field "effect" $effect) (field "reason" (option string))))
  (export $decision "decision" (type $decision'))
  (type $code' (enum "not-found" "invalid-argument" "limit-exceeded" "internal"))
  (export $code "error-code" (type $code'))
  (type $error' (record (field "code" $code) (field "message" string)))
  (export $error "error" (type $error'))
  (type $info' (record (field "name" string) (field "version" string)))
  (export $info "policy-info" (type $info'))
  (func $metadata (result $info)
    (canon lift (core func $m "erynoa:ecl/policy@0.1.0#metadata") (memory (core memory $m "memory")) (realloc (core func $m "cabi_realloc"))))
  (func $evaluate (param "request" $request) (result (result $decision (error $error)))
    (canon lift (core func $m "erynoa:ecl/policy@0.1.0#evaluate") (memory (core memory $m "memory")) (realloc (core func $m "cabi_realloc"))))
  (instance $policy
    (export "request" (type $request))
    (export "decision" (type $decision))
    (export "error" (type $error))
    (export "policy-info" (type $info))
    (export "metadata" (func $metadata))
    (export "evaluate" (func $evaluate)))
  (export "erynoa:ecl/policy@0.1.0" (instance $policy))
)"#
    );
    wat::parse_str(&wat).expect("component WAT")
}

/// Reads the monotonic clock through WASI.
pub fn wasi_clock_reader() -> Vec<u8> {
    component_with_wasi_clock(&policy_module(
        r#"(import "wasi:clocks/monotonic-clock@0.2.0" "now" (func $now (result i64)))"#,
        "",
        "(drop (call $now))",
    ))
}

/// `functions` empty functions: cheap to send, costly to compile.
pub fn many_functions(functions: usize) -> Vec<u8> {
    component(&policy_module("", &"(func)".repeat(functions), ""))
}
