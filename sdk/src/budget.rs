//! The policy's own budget (`erynoa:ecl/budget`), to degrade gracefully.

use crate::{GasLayer, backend};

/// Gas and mana used and allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Gas used so far.
    pub gas_used: u64,
    /// Gas allowed.
    pub gas_limit: u64,
    /// Mana used so far.
    pub mana_used: u64,
    /// Mana allowed.
    pub mana_limit: u64,
}

impl Budget {
    /// Gas left.
    pub fn gas_left(&self) -> u64 {
        self.gas_limit.saturating_sub(self.gas_used)
    }

    /// Mana left.
    pub fn mana_left(&self) -> u64 {
        self.mana_limit.saturating_sub(self.mana_used)
    }
}

/// The budget now. Free.
pub fn remaining() -> Budget {
    backend::remaining()
}

/// Charges `amount` gas on `layer`. Running out ends the evaluation as a deny.
pub fn consume_gas(layer: GasLayer, amount: u64) {
    backend::consume_gas(layer, amount)
}

/// Charges `amount` mana. Running out ends the evaluation as a deny.
pub fn consume_mana(amount: u64) {
    backend::consume_mana(amount)
}
