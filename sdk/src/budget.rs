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

/// Gas left. Free, and cheaper than [`remaining`] when the rest is not needed.
///
/// ```
/// use erynoa_sdk::prelude::*;
///
/// struct Careful;
///
/// impl Policy for Careful {
///     const NAME: &'static str = "careful";
///     const VERSION: &'static str = "1.0.0";
///
///     fn evaluate(_: &Request) -> Result<Decision> {
///         Ok(if budget::gas_left() >= 1_000 {
///             Decision::allow()
///         } else {
///             Decision::deny("not enough gas for the full check")
///         })
///     }
/// }
///
/// let request = Request::new("did:erynoa:self:alice", "finance");
/// assert!(testing::TestHost::new().evaluate::<Careful>(&request).is_allowed());
/// let out = testing::TestHost::new().gas_limit(500).evaluate::<Careful>(&request);
/// assert_eq!(out.reason(), Some("not enough gas for the full check"));
/// ```
pub fn gas_left() -> u64 {
    backend::gas_left()
}

/// Charges `amount` gas on `layer`. Running out ends the evaluation as a deny.
pub fn consume_gas(layer: GasLayer, amount: u64) {
    backend::consume_gas(layer, amount)
}

/// Charges `amount` mana. Running out ends the evaluation as a deny.
pub fn consume_mana(amount: u64) {
    backend::consume_mana(amount)
}
