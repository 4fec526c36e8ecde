//! The second back end: a compiled policy straight to a WebAssembly
//! component of the `erynoa:ecl` world.
//!
//! The bytecode the front end produced is translated instruction by
//! instruction into typed wasm (numbers are `f64`, bools `i32`, strings a
//! packed `i64` of pointer and length, trust vectors and arrays pointers,
//! values known only at run time a pointer to a tagged box), with `if`
//! blocks where the bytecode branches. There is no interpreter in the
//! output: each ECL operation is a few wasm instructions.
//!
//! **Gas is the VM's, exactly.** The generated code reads the gas left at
//! the start, keeps it in a global, and charges every instruction's legacy
//! layer cost: runs of instructions that cannot fail are charged together,
//! anything that can fail, branch or call the host is charged alone, and
//! when the budget would run out inside a run the code finds the exact
//! instruction and charges the host just as the VM would have. Compute gas
//! is flushed to the host through `budget.consume-gas` before every host
//! call and at the end; host calls charge their own layers in the host.
//! The component carries an `erynoa:metering = self` section so the host
//! does not charge its fuel again.

use std::borrow::Cow;

use wasm_encoder::{ComponentSection as _, CustomSection};

use self::module::core_module;
use crate::compile::Program;

/// The WIT contract the component implements.
const WIT: &str = include_str!("../../../wit/erynoa.wit");
/// The host reads this section to know the component charges its own gas.
pub const METERING_SECTION: &str = "erynoa:metering";
/// The deepest operand stack the policy can reach (a little-endian `u32`).
/// The compiled code does not check the stack as it runs, so the host
/// checks a budget's stack limit against this before it runs the policy.
pub const MAX_STACK_SECTION: &str = "erynoa:max-stack";

/// Why a program cannot become a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    /// Hand-written bytecode the wasm back end does not translate (only the
    /// ECL compiler's output is supported; run other bytecode on the VM).
    #[error("instruction {index} (`{op}`) is not supported by the wasm back end: {why}")]
    Unsupported {
        /// Where.
        index: usize,
        /// The instruction.
        op: String,
        /// Why.
        why: &'static str,
    },
    /// wit-component refused the module: a bug in this back end.
    #[error("cannot build the component: {0}")]
    Encode(String),
}

/// Compiles `program` into a component implementing `erynoa:ecl/policy`,
/// importing only the interfaces it uses.
///
/// ```
/// let program = erynoa_ecl::compile("policy \"p\" { require caller.trust.R >= 0.5 }", None)?;
/// let wasm = erynoa_ecl::component::compile(&program)?;
/// assert_eq!(&wasm[..4], b"\0asm");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compile(program: &Program) -> Result<Vec<u8>, ComponentError> {
    let core = core_module(program)?;
    let mut component = componentize(core)?;
    let max_stack = u32::try_from(program.max_stack)
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    for (name, data) in [
        (METERING_SECTION, &b"self"[..]),
        (MAX_STACK_SECTION, &max_stack[..]),
    ] {
        let section = CustomSection {
            name: Cow::Borrowed(name),
            data: Cow::Borrowed(data),
        };
        section.append_to_component(&mut component);
    }
    Ok(component)
}

/// The core module `compile` makes into a component: what each ECL
/// construct becomes, for reading (`wasm-tools print`, the golden tests in
/// `ecl/tests/component/`).
///
/// ```
/// let program = erynoa_ecl::compile("policy \"p\" { allow }", None)?;
/// let core = erynoa_ecl::component::core(&program)?;
/// assert_eq!(&core[4..8], [1, 0, 0, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn core(program: &Program) -> Result<Vec<u8>, ComponentError> {
    core_module(program)
}

/// Makes a core module into a component of the `erynoa:ecl` policy world:
/// its imports must be `erynoa:ecl` functions in the canonical ABI, and it
/// must export `memory`, `cabi_realloc` and the `erynoa:ecl/policy@0.1.0`
/// functions. The compiler uses it; so do tests and fuzzers that write
/// policies (hostile ones too) by hand.
///
/// ```
/// let core = wat::parse_str(r#"(module
///   (memory (export "memory") 1)
///   (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
///   (func (export "erynoa:ecl/policy@0.1.0#metadata") (result i32) (i32.const 0))
///   (func (export "erynoa:ecl/policy@0.1.0#evaluate")
///     (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 64)))"#)?;
/// let component = erynoa_ecl::component::componentize(core)?;
/// assert_eq!(&component[4..8], [0x0d, 0, 1, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn componentize(mut core: Vec<u8>) -> Result<Vec<u8>, ComponentError> {
    let encode = |e: anyhow::Error| ComponentError::Encode(format!("{e:#}"));
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("erynoa.wit", WIT).map_err(encode)?;
    let world = resolve
        .select_world(&[package], Some("policy-component"))
        .map_err(encode)?;
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(encode)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .map_err(encode)?
        .encode()
        .map_err(encode)
}

mod emit;
mod imports;
mod layout;
mod module;
mod runtime;
mod translate;

/// What the compiler's steps return.
type Compiled<X = ()> = Result<X, ComponentError>;

#[cfg(test)]
mod tests {
    use wasmparser::{Instance, Parser, Payload};

    /// The component's imports, and how many core instances it creates by
    /// instantiating a module (export bags cost nothing at run time).
    fn shape(src: &str) -> (Vec<String>, usize) {
        let program = crate::compile(src, None).expect("checks");
        let wasm = super::compile(&program).expect("compiles");
        let (mut imports, mut instantiated) = (Vec::new(), 0);
        for payload in Parser::new(0).parse_all(&wasm) {
            match payload.expect("valid") {
                Payload::ComponentImportSection(s) => {
                    // Skips the imports of the nested component that
                    // re-exports `policy` with its types.
                    for import in s {
                        let name = import.expect("import").name.name;
                        if name.starts_with("erynoa:") {
                            imports.push(name.to_owned());
                        }
                    }
                }
                Payload::InstanceSection(s) => {
                    for instance in s {
                        if matches!(instance.expect("instance"), Instance::Instantiate { .. }) {
                            instantiated += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        (imports, instantiated)
    }

    #[test]
    fn imports_only_the_interfaces_the_policy_uses() {
        let (imports, _) = shape(r#"policy "p" { allow }"#);
        assert_eq!(
            imports,
            ["erynoa:ecl/types@0.1.0", "erynoa:ecl/budget@0.1.0"]
        );
        let (imports, _) = shape(r#"policy "p" { require caller.trust.R >= 0.5 }"#);
        assert!(
            imports.contains(&"erynoa:ecl/trust@0.1.0".to_owned()),
            "{imports:?}"
        );
        assert!(!imports.iter().any(|i| i.contains("state")), "{imports:?}");
    }

    /// A fresh instance costs wasmtime per core instance (docs/benchmarks.md),
    /// and wit-component adds a shim and a fixup instance for any import that
    /// needs the guest's memory. A policy that only meters itself needs none.
    #[test]
    fn a_policy_without_host_calls_is_one_core_instance() {
        assert_eq!(
            shape(r#"policy "p" { let x = 2 * 21 require x == 42 }"#).1,
            1
        );
        // A host call that passes a string does need the shim.
        assert_eq!(
            shape(r#"policy "p" { require caller.trust.R >= 0.5 }"#).1,
            3
        );
    }
}
