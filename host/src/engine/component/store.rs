//! What each evaluation's `Store` holds, and the guest's sandbox: one memory
//! cap for the whole instance, and fuel.
//!
//! The host serves no WASI (see `docs/security.md`): a guest reaches the
//! world only through the `erynoa:ecl` functions, each charged and bounded.

use erynoa_core::Exhaustion;
use wasmtime::ResourceLimiter;

use crate::evaluation::Session;

/// Wasm instructions a self-metered component (compiled ECL) may run per
/// unit of gas it reports. Measured over the 3,000-program equivalence
/// corpus and the `ecl` bench workloads, compiled ECL runs at most about 8
/// wasm instructions per unit of VM gas beyond its fixed start-up (typically
/// 4); 16 leaves twice that. A guest that needs more is not the ECL
/// compiler's output and runs out.
pub(crate) const FUEL_PER_GAS: u64 = 16;
/// Instructions a self-metered component may run beyond that in one
/// evaluation: lifting the request (at most about 6,400 in that corpus),
/// finding parameters by name in large requests and walking strings, whose
/// length does not show in the VM's gas. 1,000,000 is about 1 ms of wasm
/// on this project's machine.
pub(crate) const FUEL_BASE: u64 = 1_000_000;
/// Bytes a table element is counted as against the memory cap.
const TABLE_ELEMENT_BYTES: u64 = 16;

/// How an evaluation's instructions are paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metering {
    /// Each wasm instruction is one unit of compute gas, drawn from fuel.
    Fuel,
    /// The component charges its own gas through `budget.consume-gas`
    /// (compiled ECL, granted `self-metering`); fuel is only a safety net of
    /// [`FUEL_PER_GAS`] per unit of gas plus [`FUEL_BASE`], set once.
    SelfMetered,
}

impl Metering {
    /// The fuel to give a store with `gas` left.
    fn fuel_for(self, gas: u64) -> u64 {
        match self {
            Metering::Fuel => gas,
            Metering::SelfMetered => gas.saturating_mul(FUEL_PER_GAS).saturating_add(FUEL_BASE),
        }
    }
}

/// One evaluation's fuel account: what the store was given, the level at
/// the last settle, and how what burns is paid for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fuel {
    metering: Metering,
    initial: u64,
    /// The store's fuel when it was last settled or set.
    level: u64,
}

impl Fuel {
    /// The account of a store with `gas` left; [`Fuel::level`] is what to set.
    pub(crate) fn new(metering: Metering, gas: u64) -> Self {
        let initial = metering.fuel_for(gas);
        Self {
            metering,
            initial,
            level: initial,
        }
    }

    /// How the instructions are paid for.
    pub(crate) fn metering(&self) -> Metering {
        self.metering
    }

    /// The store's fuel as last settled or set.
    pub(crate) fn level(&self) -> u64 {
        self.level
    }

    /// Instructions run since the last settle, the store now holding
    /// `remaining`; that becomes the new level.
    pub(crate) fn burned(&mut self, remaining: u64) -> u64 {
        let burned = self.level.saturating_sub(remaining);
        self.level = remaining;
        burned
    }

    /// Takes `amount` from the level for host work paid in fuel; `None` if
    /// there is not that much left.
    pub(crate) fn take(&mut self, amount: u64) -> Option<u64> {
        self.level = self.level.checked_sub(amount)?;
        Some(self.level)
    }

    /// The fuel to put back after a host call with `gas` left, or `None`
    /// when the safety net of a self-metered component, set once, stays.
    pub(crate) fn refill(&mut self, gas: u64) -> Option<u64> {
        match self.metering {
            Metering::Fuel => {
                self.level = gas;
                Some(gas)
            }
            Metering::SelfMetered => None,
        }
    }

    /// The compute gas to record when the run ends with `remaining` fuel:
    /// what ran since the last host call, or for a self-metered run cut
    /// short (`failed`), at least what its fuel shows it ran beyond the
    /// `reported` gas. A run the deadline stopped is charged `gas_left`,
    /// all of it: the count since the guest's last call is lost.
    pub(crate) fn ran(
        &self,
        remaining: u64,
        failed: bool,
        stopped_by_deadline: bool,
        reported: u64,
        gas_left: u64,
    ) -> u64 {
        match self.metering {
            _ if stopped_by_deadline => gas_left,
            Metering::Fuel => self.level.saturating_sub(remaining),
            Metering::SelfMetered if failed => {
                let spent = self.initial.saturating_sub(remaining);
                (spent.saturating_sub(FUEL_BASE) / FUEL_PER_GAS).saturating_sub(reported)
            }
            Metering::SelfMetered => 0,
        }
    }
}

/// The data of one evaluation's `Store`.
pub(crate) struct HostState {
    pub(crate) session: Session,
    /// What the store was given and what burned since.
    pub(crate) fuel: Fuel,
    /// The deadline stopped the guest inside wasm code.
    pub(crate) stopped_by_deadline: bool,
    /// Bytes of linear memory and tables the whole instance may hold.
    memory_limit: u64,
    /// Bytes the instance holds now, over all its memories and tables.
    memory_used: u64,
}

impl HostState {
    pub(crate) fn new(session: Session, memory_limit: u64, fuel: Fuel) -> Self {
        Self {
            session,
            fuel,
            stopped_by_deadline: false,
            memory_limit,
            memory_used: 0,
        }
    }

    /// Counts `grow` more bytes against the instance's cap, or records the
    /// exhaustion and refuses them.
    fn grow(&mut self, grow: u64) -> wasmtime::Result<bool> {
        let requested = self.memory_used.saturating_add(grow);
        if requested > self.memory_limit {
            let e = self.session.meter_mut().exhaust(Exhaustion::Memory {
                requested,
                limit: self.memory_limit,
            });
            return Err(wasmtime::Error::msg(e.to_string()));
        }
        self.memory_used = requested;
        Ok(true)
    }
}

/// Every memory and table of the instance draws from one cap: a component
/// may have several of each, and a per-memory check would let it hold the
/// cap several times over.
impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow((desired as u64).saturating_sub(current as u64))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let elements = (desired as u64).saturating_sub(current as u64);
        self.grow(elements.saturating_mul(TABLE_ELEMENT_BYTES))
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// Core instances a component may create (wit-component's shims need a few).
pub(crate) const MAX_CORE_INSTANCES: usize = 16;
/// Linear memories a component may define.
pub(crate) const MAX_MEMORIES: usize = 4;
/// Tables a component may define.
pub(crate) const MAX_TABLES: usize = 8;
