//! Budgets, gas layers and host-call costs shared by every Erynoa policy engine.
//!
//! A policy evaluation runs under [`BudgetLimits`]: gas, mana, a wall-clock
//! timeout, a stack depth and a memory cap. A [`Meter`] accounts one
//! evaluation: gas charged on a [`GasLayer`] goes against the gas limit at its
//! raw amount and is recorded per layer at the layer's price (the legacy
//! `MultiGas` model), mana goes against the mana limit. The first limit hit
//! is sticky and becomes the deny reason.
//!
//! ```
//! use erynoa_budget::{BudgetLimits, Exhaustion, GasLayer, Meter};
//!
//! let limits = BudgetLimits { gas_limit: 15, ..BudgetLimits::default() };
//! let mut meter = Meter::new(limits);
//! meter.charge_gas(GasLayer::Network, 10).unwrap();
//! assert_eq!(meter.layers().network, 10); // network costs 1 per unit
//! let err = meter.charge_gas(GasLayer::Compute, 6).unwrap_err();
//! assert_eq!(err, Exhaustion::OutOfGas { used: 16, limit: 15 });
//! ```

mod costs;
mod limits;
mod meter;

pub use costs::HostCall;
pub use limits::BudgetLimits;
pub use meter::{Exhaustion, GasLayer, LayerTotals, Meter};
