use serde::{Deserialize, Serialize};

/// The limits one evaluation runs under.
///
/// The defaults are the legacy system's (`ECLVMBudgetLimits::default`), plus a
/// memory cap of 16 MiB for wasm guests: a policy needs a few hundred KiB; 16 MiB
/// leaves room for large requests and stops a growth bomb long before it
/// hurts the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetLimits {
    /// Gas for instructions and host calls together. Default 1,000,000.
    pub gas_limit: u64,
    /// Mana for writes and events. Default 10,000.
    pub mana_limit: u64,
    /// Operand stack depth of the legacy VM. Default 1024.
    pub max_stack_depth: u32,
    /// Wall-clock deadline in milliseconds. Default 5,000.
    pub timeout_ms: u64,
    /// Linear memory a wasm guest may grow to, in bytes. Default 16 MiB.
    pub memory_limit_bytes: u64,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        Self {
            gas_limit: 1_000_000,
            mana_limit: 10_000,
            max_stack_depth: 1024,
            timeout_ms: 5_000,
            memory_limit_bytes: 16 << 20,
        }
    }
}

impl BudgetLimits {
    /// Each field at the lower of the two: a cap applied to what a caller
    /// asks for.
    ///
    /// ```
    /// use erynoa_core::BudgetLimits;
    /// let cap = BudgetLimits { gas_limit: 100, timeout_ms: 50_000, ..BudgetLimits::default() };
    /// let asked = BudgetLimits { timeout_ms: 20, ..BudgetLimits::default() };
    /// let limits = asked.min(cap);
    /// assert_eq!((limits.gas_limit, limits.timeout_ms), (100, 20));
    /// ```
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        Self {
            gas_limit: self.gas_limit.min(other.gas_limit),
            mana_limit: self.mana_limit.min(other.mana_limit),
            max_stack_depth: self.max_stack_depth.min(other.max_stack_depth),
            timeout_ms: self.timeout_ms.min(other.timeout_ms),
            memory_limit_bytes: self.memory_limit_bytes.min(other.memory_limit_bytes),
        }
    }

    /// Scales gas and mana by the caller's trust, as the legacy gateway did:
    /// `limit * (0.5 + 0.5 * clamp(trust, 0, 1))`, rounded down.
    ///
    /// ```
    /// use erynoa_core::BudgetLimits;
    /// let l = BudgetLimits { gas_limit: 50_000, ..BudgetLimits::default() }.with_trust_factor(0.8);
    /// assert_eq!((l.gas_limit, l.mana_limit), (45_000, 9_000));
    /// ```
    #[must_use]
    pub fn with_trust_factor(self, trust: f64) -> Self {
        let factor = 0.5 + 0.5 * trust.clamp(0.0, 1.0);
        let scale = |n: u64| (n as f64 * factor).floor() as u64;
        Self {
            gas_limit: scale(self.gas_limit),
            mana_limit: scale(self.mana_limit),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_legacy_reference() {
        let l = BudgetLimits::default();
        assert_eq!(l.gas_limit, 1_000_000);
        assert_eq!(l.mana_limit, 10_000);
        assert_eq!(l.max_stack_depth, 1024);
        assert_eq!(l.timeout_ms, 5_000);
    }

    #[test]
    fn trust_factor_scales_gas_and_mana_only() {
        let base = BudgetLimits {
            gas_limit: 50_000,
            ..BudgetLimits::default()
        };
        let l = base.with_trust_factor(0.1);
        assert_eq!((l.gas_limit, l.mana_limit), (27_500, 5_500));
        assert_eq!(l.timeout_ms, base.timeout_ms);
        assert_eq!(base.with_trust_factor(7.0).gas_limit, 50_000);
    }

    #[test]
    fn partial_json_keeps_the_other_defaults() {
        let l: BudgetLimits = serde_json::from_str(r#"{"gas_limit": 5}"#).unwrap();
        assert_eq!(l.gas_limit, 5);
        assert_eq!(l.mana_limit, 10_000);
        assert!(serde_json::from_str::<BudgetLimits>(r#"{"gas": 5}"#).is_err());
    }
}
