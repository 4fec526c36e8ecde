//! ECL on either back end: the [`ExecutionMode`] that picks one, loading
//! source as a component, and the compiled policy that keeps its bytecode
//! for budgets only the VM can honour exactly.

use std::sync::Arc;

use super::LoadError;
use super::bytecode::{BytecodeEngine, BytecodePolicy};
use super::component::{ComponentEngine, ComponentPolicy};
use crate::evaluation::{Policy, PolicyInfo, Run, Session};
use crate::trust_store::Capability;

/// Which back end runs an ECL policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    /// The legacy VM, the built-in engine: nothing to compile, the fastest
    /// start, about as fast as a component on small policies.
    Legacy,
    /// The policy compiled to a component: fresh isolated instance per
    /// request, several times faster on arithmetic-heavy policies. An
    /// evaluation whose budget allows a smaller operand stack than the
    /// program's deepest runs on the VM, which stops at the exact instruction.
    Wasm,
    /// The back end whose estimated cost ([`Cost`]) is lower: the
    /// component's instructions are about eight times cheaper, but a fresh
    /// instance, each parameter it reads and each host call cost it more
    /// than they cost the VM.
    #[default]
    Auto,
}

/// What [`ExecutionMode::Auto`] estimates a program costs on each back end,
/// in nanoseconds, from counts of what it does. The rates are the `ecl`
/// bench's on this project's machine (`docs/benchmarks.md`): about 40 ns an
/// instruction on the VM and 5 compiled; a fresh instance about 5 µs; a
/// parameter read about 150 ns compiled (the canonical ABI copies every
/// request parameter into the instance) against a map lookup on the VM;
/// a host call about 700 ns compiled (it settles the gas first) against
/// about 300 ns on the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Estimated nanoseconds on the legacy VM.
    pub vm_ns: u64,
    /// Estimated nanoseconds as a compiled component.
    pub component_ns: u64,
}

impl Cost {
    /// The estimate for `program`, every instruction counted once.
    ///
    /// ```
    /// let program = erynoa_ecl::compile(r#"policy "p" { allow }"#, None)?;
    /// let cost = erynoa_host::Cost::of(&program);
    /// assert!(cost.vm_ns < cost.component_ns);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(program: &erynoa_ecl::Program) -> Self {
        use erynoa_ecl::bytecode::OpCode;
        let instructions = program.code.len() as u64;
        let params = program
            .code
            .iter()
            .filter(|op| matches!(op, OpCode::LoadParam))
            .count() as u64;
        let host_calls = program.code.iter().filter(|op| op.is_host_call()).count() as u64;
        Cost {
            vm_ns: 40 * instructions + 300 * host_calls,
            component_ns: 5_000 + 5 * instructions + 150 * params + 700 * host_calls,
        }
    }
}

impl ExecutionMode {
    /// The back end this mode picks for `program`.
    pub fn resolve(self, program: &erynoa_ecl::Program) -> ExecutionMode {
        match self {
            ExecutionMode::Auto => {
                let cost = Cost::of(program);
                if cost.component_ns < cost.vm_ns {
                    ExecutionMode::Wasm
                } else {
                    ExecutionMode::Legacy
                }
            }
            other => other,
        }
    }
}

impl ComponentEngine {
    /// Loads policy `entry` (default: the first) of ECL `source` on the back
    /// end `mode` picks. The source is admitted like any unsigned file (its
    /// digest pinned in the trust store, or `Trust::AllowUnsigned`); the
    /// component compiled from it carries that admission.
    ///
    /// ```
    /// use erynoa_host::{ComponentEngine, ExecutionMode, PolicyEngine, Trust};
    /// let engine = ComponentEngine::new(Default::default())?.with_trust(Trust::AllowUnsigned);
    /// let policy = engine.load_ecl("p", r#"policy "p" { allow }"#, None, ExecutionMode::Wasm)?;
    /// assert_eq!(policy.info().engine, "component");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_ecl(
        &self,
        id: &str,
        source: &str,
        entry: Option<&str>,
        mode: ExecutionMode,
    ) -> Result<Arc<dyn Policy>, LoadError> {
        let vm = BytecodeEngine::new(self.trust().clone());
        let mut admission = vm.admit(id, source.as_bytes())?;
        let program = super::bytecode::compile(id, source, entry)?;
        match mode.resolve(&program) {
            ExecutionMode::Wasm => {
                let wasm =
                    erynoa_ecl::component::compile(&program).map_err(|e| LoadError::Invalid {
                        reason: e.to_string(),
                    })?;
                let max_stack = program.max_stack;
                let on_vm = vm.finish(id, program, false, admission.clone())?;
                if let Some(a) = &mut admission {
                    // The host's own compiler, not the author, imports the
                    // budget and reports the policy's gas itself.
                    a.capabilities.insert(Capability::Budget);
                    a.capabilities.insert(Capability::SelfMetering);
                }
                Ok(Arc::new(CompiledEcl {
                    component: self.load_admitted(id, &wasm, admission)?,
                    on_vm,
                    max_stack,
                }))
            }
            _ => Ok(Arc::new(vm.finish(id, program, false, admission)?)),
        }
    }
}

/// ECL compiled to a component, with its bytecode beside it for budgets
/// whose operand-stack limit is below the program's deepest stack: the VM
/// fails at the exact instruction, which compiled code (unchecked, because
/// its depth is bounded at compile time) cannot. Both back ends decide
/// alike, so which one ran is not visible in the evaluation.
struct CompiledEcl {
    component: ComponentPolicy,
    on_vm: BytecodePolicy,
    max_stack: usize,
}

impl Policy for CompiledEcl {
    fn info(&self) -> &PolicyInfo {
        self.component.info()
    }

    fn run(&self, session: Session) -> Run {
        let stack_limit = session.meter().limits().max_stack_depth as usize;
        if stack_limit < self.max_stack {
            self.on_vm.run(session)
        } else {
            // The stack limit was just checked against the program's depth.
            self.component.run_instance(session)
        }
    }
}
