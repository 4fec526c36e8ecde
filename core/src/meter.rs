use serde::{Deserialize, Serialize};

use crate::BudgetLimits;

/// The layers gas is accounted in, with the legacy `MultiGas` prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GasLayer {
    /// Host calls that need external data (trust, identity). Price 1.
    Network,
    /// Instructions. Price 10.
    Compute,
    /// Persistence and logging. Price 100.
    Storage,
    /// Per-realm quota. Price 50.
    Realm,
}

impl GasLayer {
    /// Gas units recorded on this layer per unit consumed.
    pub const fn price(self) -> u64 {
        match self {
            GasLayer::Network => 1,
            GasLayer::Compute => 10,
            GasLayer::Storage => 100,
            GasLayer::Realm => 50,
        }
    }
}

/// Priced gas per layer: what each layer cost, `amount × price`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerTotals {
    /// Network gas.
    pub network: u64,
    /// Compute gas.
    pub compute: u64,
    /// Storage gas.
    pub storage: u64,
    /// Realm gas.
    pub realm: u64,
}

impl LayerTotals {
    /// Sum over all layers.
    pub fn total(&self) -> u64 {
        self.network
            .saturating_add(self.compute)
            .saturating_add(self.storage)
            .saturating_add(self.realm)
    }

    fn slot(&mut self, layer: GasLayer) -> &mut u64 {
        match layer {
            GasLayer::Network => &mut self.network,
            GasLayer::Compute => &mut self.compute,
            GasLayer::Storage => &mut self.storage,
            GasLayer::Realm => &mut self.realm,
        }
    }
}

/// Why an evaluation ran out of budget. Every exhaustion is a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Exhaustion {
    /// More gas was needed than the limit allows.
    #[error("out-of-gas: used {used} of {limit} gas")]
    OutOfGas {
        /// Gas used including the refused charge.
        used: u64,
        /// The gas limit.
        limit: u64,
    },
    /// More mana was needed than the limit allows.
    #[error("out-of-mana: used {used} of {limit} mana")]
    OutOfMana {
        /// Mana used including the refused charge.
        used: u64,
        /// The mana limit.
        limit: u64,
    },
    /// The wall-clock deadline passed.
    #[error("timeout: deadline of {limit_ms} ms passed")]
    Timeout {
        /// The deadline in milliseconds.
        limit_ms: u64,
    },
    /// The guest tried to grow its memory beyond the cap.
    #[error("memory: guest asked for {requested} bytes, limit is {limit}")]
    Memory {
        /// Bytes the guest asked for.
        requested: u64,
        /// The memory cap in bytes.
        limit: u64,
    },
    /// The guest's call stack or the VM's operand stack overflowed.
    #[error("stack: stack overflow")]
    StackOverflow,
}

impl Exhaustion {
    /// The short, stable name of the reason: `out-of-gas`, `out-of-mana`,
    /// `timeout`, `memory` or `stack`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Exhaustion::OutOfGas { .. } => "out-of-gas",
            Exhaustion::OutOfMana { .. } => "out-of-mana",
            Exhaustion::Timeout { .. } => "timeout",
            Exhaustion::Memory { .. } => "memory",
            Exhaustion::StackOverflow => "stack",
        }
    }
}

/// Accounts the gas and mana of one evaluation.
///
/// Charges follow the legacy `ECLVMBudget`: the amount is added even when it
/// crosses the limit (so `gas_used` shows what was asked for), reaching the
/// limit exactly is fine, and the first exhaustion is sticky: every later
/// charge is refused with the same reason.
#[derive(Debug, Clone)]
pub struct Meter {
    limits: BudgetLimits,
    gas_used: u64,
    mana_used: u64,
    layers: LayerTotals,
    exhausted: Option<Exhaustion>,
}

impl Meter {
    /// A fresh meter for one evaluation.
    pub fn new(limits: BudgetLimits) -> Self {
        Self {
            limits,
            gas_used: 0,
            mana_used: 0,
            layers: LayerTotals::default(),
            exhausted: None,
        }
    }

    /// The limits this meter enforces.
    pub fn limits(&self) -> &BudgetLimits {
        &self.limits
    }

    /// Charges `amount` gas on `layer`: `amount` against the gas limit,
    /// `amount × price` recorded on the layer.
    pub fn charge_gas(&mut self, layer: GasLayer, amount: u64) -> Result<(), Exhaustion> {
        if let Some(e) = self.exhausted {
            return Err(e);
        }
        self.gas_used = self.gas_used.saturating_add(amount);
        if self.gas_used > self.limits.gas_limit {
            return Err(self.exhaust(Exhaustion::OutOfGas {
                used: self.gas_used,
                limit: self.limits.gas_limit,
            }));
        }
        let slot = self.layers.slot(layer);
        *slot = slot.saturating_add(amount.saturating_mul(layer.price()));
        Ok(())
    }

    /// Records `amount` gas on `layer` for work that has already run, even
    /// past the limit or after an exhaustion: the instructions a guest ran
    /// before it was stopped are reported, never hidden by the stop.
    pub fn record_ran(&mut self, layer: GasLayer, amount: u64) {
        self.gas_used = self.gas_used.saturating_add(amount);
        let slot = self.layers.slot(layer);
        *slot = slot.saturating_add(amount.saturating_mul(layer.price()));
    }

    /// Charges `amount` mana.
    pub fn charge_mana(&mut self, amount: u64) -> Result<(), Exhaustion> {
        if let Some(e) = self.exhausted {
            return Err(e);
        }
        self.mana_used = self.mana_used.saturating_add(amount);
        if self.mana_used > self.limits.mana_limit {
            return Err(self.exhaust(Exhaustion::OutOfMana {
                used: self.mana_used,
                limit: self.limits.mana_limit,
            }));
        }
        Ok(())
    }

    /// Records `reason` as the exhaustion unless one is already recorded, and
    /// returns the one that stands.
    pub fn exhaust(&mut self, reason: Exhaustion) -> Exhaustion {
        *self.exhausted.get_or_insert(reason)
    }

    /// The exhaustion that ended the evaluation, if any.
    pub fn exhausted(&self) -> Option<Exhaustion> {
        self.exhausted
    }

    /// Gas used so far (raw amounts, all layers).
    pub fn gas_used(&self) -> u64 {
        self.gas_used
    }

    /// Gas left before the limit.
    pub fn gas_remaining(&self) -> u64 {
        self.limits.gas_limit.saturating_sub(self.gas_used)
    }

    /// Mana used so far.
    pub fn mana_used(&self) -> u64 {
        self.mana_used
    }

    /// Priced gas per layer.
    pub fn layers(&self) -> &LayerTotals {
        &self.layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(gas: u64, mana: u64) -> Meter {
        Meter::new(BudgetLimits {
            gas_limit: gas,
            mana_limit: mana,
            ..BudgetLimits::default()
        })
    }

    #[test]
    fn layers_record_priced_gas_while_the_limit_counts_raw_amounts() {
        // The legacy reference's MultiGas example: LoadTrust, TrustDim, Log, ...
        let mut m = meter(1_000, 10);
        for (layer, n) in [
            (GasLayer::Compute, 1),
            (GasLayer::Network, 10),
            (GasLayer::Compute, 3),
            (GasLayer::Compute, 1),
            (GasLayer::Storage, 2),
            (GasLayer::Compute, 5),
        ] {
            m.charge_gas(layer, n).unwrap();
        }
        assert_eq!(m.gas_used(), 22);
        let l = m.layers();
        assert_eq!((l.network, l.compute, l.storage), (10, 100, 200));
        assert_eq!(l.total(), 310);
    }

    #[test]
    fn reaching_the_limit_is_fine_crossing_it_is_sticky() {
        let mut m = meter(10, 10);
        m.charge_gas(GasLayer::Compute, 10).unwrap();
        assert_eq!(
            m.charge_gas(GasLayer::Compute, 1),
            Err(Exhaustion::OutOfGas {
                used: 11,
                limit: 10
            })
        );
        // A refused charge is not recorded on its layer.
        assert_eq!(m.layers().compute, 100);
        // Sticky: mana is refused with the gas reason too.
        assert_eq!(
            m.charge_mana(1),
            Err(Exhaustion::OutOfGas {
                used: 11,
                limit: 10
            })
        );
        assert_eq!(m.mana_used(), 0);
    }

    #[test]
    fn mana_exhaustion_names_mana() {
        let mut m = meter(10, 3);
        m.charge_mana(3).unwrap();
        let e = m.charge_mana(1).unwrap_err();
        assert_eq!(e.kind(), "out-of-mana");
        assert_eq!(e.to_string(), "out-of-mana: used 4 of 3 mana");
    }

    #[test]
    fn first_exhaustion_wins() {
        let mut m = meter(10, 10);
        m.exhaust(Exhaustion::Timeout { limit_ms: 5 });
        assert_eq!(m.exhaust(Exhaustion::StackOverflow).kind(), "timeout");
    }
}
