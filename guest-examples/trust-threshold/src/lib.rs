//! Allows a caller whose reliability (trust dimension R) is at least 0.5.

use erynoa_sdk::prelude::*;

/// The lowest reliability that is allowed.
pub const MIN_RELIABILITY: f64 = 0.5;

/// Allows iff the caller's R >= 0.5.
pub struct TrustThreshold;

impl Policy for TrustThreshold {
    const NAME: &'static str = "trust-threshold";
    const VERSION: &'static str = "1.0.0";

    fn evaluate(request: &Request) -> Result<Decision> {
        let trust = trust::get(request.caller())?;
        Ok(if trust.r >= MIN_RELIABILITY {
            Decision::allow()
        } else {
            Decision::deny(format!(
                "reliability {:.2} is below {MIN_RELIABILITY}",
                trust.r
            ))
        })
    }
}

erynoa_sdk::policy!(TrustThreshold);

#[cfg(test)]
mod tests {
    use super::*;
    use erynoa_sdk::testing::TestHost;

    const ALICE: &str = "did:erynoa:self:alice";

    fn decide(r: f64) -> erynoa_sdk::testing::Outcome {
        let tv = TrustVector {
            r,
            ..TrustVector::splat(0.9)
        };
        TestHost::new()
            .trust(ALICE, tv)
            .evaluate::<TrustThreshold>(&Request::new(ALICE, "finance"))
    }

    #[test]
    fn allows_at_and_above_the_threshold() {
        assert!(decide(0.5).is_allowed());
        assert!(decide(0.93).is_allowed());
    }

    #[test]
    fn denies_below_with_the_value_in_the_reason() {
        let out = decide(0.49);
        assert!(!out.is_allowed());
        assert_eq!(out.reason(), Some("reliability 0.49 is below 0.5"));
    }

    #[test]
    fn newcomers_are_denied() {
        let out = TestHost::new().evaluate::<TrustThreshold>(&Request::new(ALICE, "finance"));
        assert_eq!(out.reason(), Some("reliability 0.10 is below 0.5"));
        assert_eq!(out.gas_used, 10);
    }
}
