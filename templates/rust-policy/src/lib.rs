//! {{project-name}}: allows callers with reliability of at least 0.5 and a
//! `kyc` credential.

use erynoa_sdk::prelude::*;

/// The least reliability a caller needs.
pub const MIN_RELIABILITY: f64 = 0.5;

pub struct MyPolicy;

impl Policy for MyPolicy {
    const NAME: &'static str = "{{project-name}}";
    const VERSION: &'static str = "0.1.0";

    fn evaluate(request: &Request) -> Result<Decision> {
        let caller = request.caller();
        if trust::get(caller)?.r < MIN_RELIABILITY {
            return Ok(Decision::deny("reliability is below 0.5"));
        }
        if !identity::has_credential(caller, "kyc")? {
            return Ok(Decision::deny("caller has no `kyc` credential"));
        }
        Ok(Decision::allow())
    }
}

erynoa_sdk::policy!(MyPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use erynoa_sdk::testing::TestHost;

    const ALICE: &str = "did:erynoa:self:alice";

    #[test]
    fn trusted_caller_with_kyc_is_allowed() {
        let mut host = TestHost::new()
            .trust(ALICE, TrustVector::splat(0.9))
            .credential(ALICE, "kyc");
        assert!(host.evaluate::<MyPolicy>(&Request::new(ALICE, "finance")).is_allowed());
    }

    #[test]
    fn untrusted_caller_is_denied_with_the_reason() {
        let mut host = TestHost::new().trust(ALICE, TrustVector::splat(0.2));
        let outcome = host.evaluate::<MyPolicy>(&Request::new(ALICE, "finance"));
        assert_eq!(outcome.reason(), Some("reliability is below 0.5"));
    }
}
