//! What each evaluation's `Store` holds, and the guest's sandbox: memory
//! limits and a WASI context that grants nothing.

use std::time::Duration;

use erynoa_core::Exhaustion;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use crate::session::Session;

/// Wasm instructions a self-metered component may run per unit of gas it
/// has left: far above what compiled ECL needs (a few per gas), so only a
/// component that does not meter itself honestly runs out.
pub(crate) const FUEL_PER_GAS: u64 = 10_000;
/// Fuel a self-metered component has beyond that, for the instructions
/// that report its gas (it must be able to say it ran out).
pub(crate) const FUEL_BASE: u64 = 10_000_000;
/// Bytes of a guest's stdout and stderr kept for the host log.
const OUTPUT_CAPTURE_BYTES: usize = 4096;
/// Most table elements a guest may grow a table to.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The data of one evaluation's `Store`.
pub(crate) struct HostState {
    pub(crate) session: Session,
    /// Fuel last put into the store; what is gone since was spent on instructions.
    pub(crate) fuel_set: u64,
    /// The component charges its own gas (compiled ECL): fuel is only a
    /// safety net and is not charged.
    pub(crate) self_metered: bool,
    memory_limit: u64,
    /// Built on the first WASI call: most policies never make one.
    wasi: Option<Wasi>,
    table: ResourceTable,
}

struct Wasi {
    ctx: WasiCtx,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl HostState {
    pub(crate) fn new(session: Session, memory_limit: u64) -> Self {
        Self {
            session,
            fuel_set: 0,
            self_metered: false,
            memory_limit,
            wasi: None,
            table: ResourceTable::new(),
        }
    }

    /// The fuel to give a store with `gas` left: the gas itself, or for a
    /// self-metered component a safety net of [`FUEL_PER_GAS`] times it
    /// plus [`FUEL_BASE`], set once and never refilled.
    pub(crate) fn fuel_for(&self, gas: u64) -> u64 {
        if self.self_metered {
            gas.saturating_mul(FUEL_PER_GAS).saturating_add(FUEL_BASE)
        } else {
            gas
        }
    }

    /// What the guest printed to stderr (a Rust panic prints its message there).
    pub(crate) fn stderr(&self) -> Option<String> {
        let bytes = self.wasi.as_ref()?.stderr.contents();
        (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).trim_end().to_owned())
    }

    /// Sends what the guest printed to the host log.
    pub(crate) fn flush_output(&self) {
        let Some(wasi) = &self.wasi else { return };
        let policy = self.session.policy_id();
        for (stream, pipe) in [("stdout", &wasi.stdout), ("stderr", &wasi.stderr)] {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                tracing::info!(target: "erynoa::guest", policy, stream, "{}", String::from_utf8_lossy(&bytes).trim_end());
            }
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let timestamp = self.session.evaluation_time();
        let wasi = self
            .wasi
            .get_or_insert_with(|| deterministic_wasi(timestamp));
        WasiCtxView {
            ctx: &mut wasi.ctx,
            table: &mut self.table,
        }
    }
}

/// No environment, arguments, directories or network; stdout and stderr are
/// captured for the log; the clocks stand still at the evaluation time and
/// the random source is seeded with a constant, so decisions are
/// reproducible.
fn deterministic_wasi(unix_seconds: u64) -> Wasi {
    use rand::SeedableRng;
    let stdout = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
    let stderr = MemoryOutputPipe::new(OUTPUT_CAPTURE_BYTES);
    let mut b = WasiCtxBuilder::new();
    b.stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(FixedClock(unix_seconds))
        .monotonic_clock(FixedClock(unix_seconds))
        .secure_random(rand::rngs::StdRng::seed_from_u64(0))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(1))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    Wasi {
        ctx: b.build(),
        stdout,
        stderr,
    }
}

struct FixedClock(u64);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let requested = desired as u64;
        if requested > self.memory_limit {
            let e = self.session.meter_mut().exhaust(Exhaustion::Memory {
                requested,
                limit: self.memory_limit,
            });
            return Err(wasmtime::Error::msg(e.to_string()));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
