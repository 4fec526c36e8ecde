//! What every Erynoa engine and the guest SDK share: budgets and gas, what
//! each host call costs and accepts, trust vectors and request values.
//!
//! A policy evaluation runs under [`BudgetLimits`]: gas, mana, a wall-clock
//! timeout, a stack depth and a memory cap. A [`Meter`] accounts one
//! evaluation: gas charged on a [`GasLayer`] goes against the gas limit at its
//! raw amount and is recorded per layer at the layer's price (the legacy
//! `MultiGas` model), mana goes against the mana limit. The first limit hit
//! is sticky and becomes the deny reason.
//!
//! ```
//! use erynoa_core::{BudgetLimits, Exhaustion, GasLayer, Meter};
//!
//! let limits = BudgetLimits { gas_limit: 15, ..BudgetLimits::default() };
//! let mut meter = Meter::new(limits);
//! meter.charge_gas(GasLayer::Network, 10).unwrap();
//! assert_eq!(meter.layers().network, 10); // network costs 1 per unit
//! let err = meter.charge_gas(GasLayer::Compute, 6).unwrap_err();
//! assert_eq!(err, Exhaustion::OutOfGas { used: 16, limit: 15 });
//! ```

pub mod calls;
mod limits;
mod meter;
mod trust;
mod value;

pub use calls::{ErrorCode, HostCall, RejectCode, Rejected, is_did};
pub use limits::BudgetLimits;
pub use meter::{Exhaustion, GasLayer, LayerTotals, Meter};
pub use trust::TrustVector;
pub use value::Value;
