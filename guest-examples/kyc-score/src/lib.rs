//! Allows a caller who holds a `kyc` credential and whose trust, weighted for
//! finance, scores at least 0.6.

use erynoa_sdk::prelude::*;

/// The credential the caller must hold.
pub const CREDENTIAL: &str = "kyc";
/// The lowest weighted trust score that is allowed.
pub const MIN_SCORE: f64 = 0.6;
/// Finance weights of R, I, C, P, V, Ω (the legacy `ContextType::Finance`).
pub const WEIGHTS: [f64; 6] = [0.25, 0.25, 0.15, 0.15, 0.10, 0.10];

/// Credential check combined with a weighted trust score.
pub struct KycScore;

impl Policy for KycScore {
    const NAME: &'static str = "kyc-score";
    const VERSION: &'static str = "1.0.0";

    fn evaluate(request: &Request) -> Result<Decision> {
        let caller = request.caller();
        if !identity::has_credential(caller, CREDENTIAL)? {
            return Ok(Decision::deny(format!(
                "caller has no `{CREDENTIAL}` credential"
            )));
        }
        let score = trust::get(caller)?.weighted(&WEIGHTS);
        Ok(if score >= MIN_SCORE {
            Decision::allow_because(format!("kyc and trust score {score:.2}"))
        } else {
            Decision::deny(format!("trust score {score:.2} is below {MIN_SCORE}"))
        })
    }
}

erynoa_sdk::policy!(KycScore);

#[cfg(test)]
mod tests {
    use super::*;
    use erynoa_sdk::testing::TestHost;

    const ALICE: &str = "did:erynoa:self:alice";

    fn req() -> Request {
        Request::new(ALICE, "finance").with_action("transfer")
    }

    #[test]
    fn allows_with_credential_and_score() {
        let out = TestHost::new()
            .trust(ALICE, TrustVector::splat(0.8))
            .credential(ALICE, "kyc")
            .evaluate::<KycScore>(&req());
        assert!(out.is_allowed());
        assert_eq!(out.reason(), Some("kyc and trust score 0.80"));
    }

    #[test]
    fn denies_without_credential_before_reading_trust() {
        let out = TestHost::new()
            .trust(ALICE, TrustVector::splat(0.9))
            .evaluate::<KycScore>(&req());
        assert_eq!(out.reason(), Some("caller has no `kyc` credential"));
        assert_eq!(out.gas_used, 5, "only the credential lookup is charged");
    }

    #[test]
    fn denies_a_low_score_with_the_score() {
        let tv = TrustVector {
            r: 0.9,
            i: 0.3,
            c: 0.5,
            p: 0.5,
            v: 0.5,
            omega: 0.5,
        };
        let out = TestHost::new()
            .trust(ALICE, tv)
            .credential(ALICE, "kyc")
            .evaluate::<KycScore>(&req());
        // 0.25*0.9 + 0.25*0.3 + 0.15*0.5 + 0.15*0.5 + 0.1*0.5 + 0.1*0.5 = 0.55
        assert_eq!(out.reason(), Some("trust score 0.55 is below 0.6"));
    }
}
