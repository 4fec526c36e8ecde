//! Allows each caller a number of actions per realm, counted in the realm's
//! `quota` store, and emits a `quota.used` event for each one.

use erynoa_sdk::prelude::*;

/// The store the counts live in.
pub const STORE: &str = "quota";
/// Actions per caller when the request has no `limit` parameter.
pub const DEFAULT_LIMIT: f64 = 3.0;

/// A stateful per-caller quota.
pub struct Quota;

impl Policy for Quota {
    const NAME: &'static str = "quota";
    const VERSION: &'static str = "1.0.0";

    fn evaluate(request: &Request) -> Result<Decision> {
        let caller = request.caller();
        let limit = match request.param("limit") {
            None => DEFAULT_LIMIT,
            Some(_) => request.number("limit")?,
        };
        let used: u64 = match state::get(STORE, caller)? {
            None => 0,
            Some(text) => text.parse().map_err(|_| {
                Error::new(
                    ErrorCode::Internal,
                    format!("quota count `{text}` is not a number"),
                )
            })?,
        };
        if used as f64 >= limit {
            return Ok(Decision::deny(format!(
                "quota of {limit} used up ({used} used)"
            )));
        }
        let now = used + 1;
        state::put(STORE, caller, &now.to_string())?;
        events::emit(
            "quota.used",
            &format!(r#"{{"caller":"{caller}","used":{now}}}"#),
        )?;
        Ok(Decision::allow_because(format!("{now} of {limit} used")))
    }
}

erynoa_sdk::policy!(Quota);

#[cfg(test)]
mod tests {
    use super::*;
    use erynoa_sdk::testing::TestHost;

    const ALICE: &str = "did:erynoa:self:alice";

    #[test]
    fn counts_up_to_the_limit_then_denies() {
        let mut host = TestHost::new();
        let req = Request::new(ALICE, "finance");
        for n in 1..=3 {
            let out = host.evaluate::<Quota>(&req);
            assert!(out.is_allowed(), "call {n}");
            assert_eq!(
                host.store("finance", STORE, ALICE),
                Some(n.to_string().as_str())
            );
        }
        let out = host.evaluate::<Quota>(&req);
        assert_eq!(out.reason(), Some("quota of 3 used up (3 used)"));
        assert!(!out.committed);
        assert_eq!(host.events().len(), 3);
        assert_eq!(
            host.events()[2],
            (
                "quota.used".into(),
                format!(r#"{{"caller":"{ALICE}","used":3}}"#)
            )
        );
    }

    #[test]
    fn realms_count_separately() {
        let mut host = TestHost::new().with_store("finance", STORE, ALICE, "3");
        assert!(
            !host
                .evaluate::<Quota>(&Request::new(ALICE, "finance"))
                .is_allowed()
        );
        assert!(
            host.evaluate::<Quota>(&Request::new(ALICE, "social"))
                .is_allowed()
        );
    }

    #[test]
    fn a_limit_parameter_overrides_the_default() {
        let mut host = TestHost::new().with_store("finance", STORE, ALICE, "3");
        let req = Request::new(ALICE, "finance").with_param("limit", Value::Number(10.0));
        assert!(host.evaluate::<Quota>(&req).is_allowed());
        let bad = Request::new(ALICE, "finance").with_param("limit", Value::Text("ten".into()));
        assert!(
            host.evaluate::<Quota>(&bad)
                .reason()
                .is_some_and(|r| r.contains("`limit`"))
        );
    }

    #[test]
    fn a_corrupt_count_is_an_error_and_writes_nothing() {
        let mut host = TestHost::new().with_store("finance", STORE, ALICE, "lots");
        let out = host.evaluate::<Quota>(&Request::new(ALICE, "finance"));
        assert_eq!(
            out.reason(),
            Some("policy error (Internal): quota count `lots` is not a number")
        );
        assert_eq!(host.store("finance", STORE, ALICE), Some("lots"));
    }
}
