//! The benchmark workloads, chosen by the request's action. The ECL
//! versions are in `benches/benches/ecl.rs`; both compute the same.

#![allow(missing_docs)]

use erynoa_sdk::prelude::*;

pub struct Workloads;

/// Rounds of the arithmetic workload.
pub const ROUNDS: u32 = 200;

impl Policy for Workloads {
    const NAME: &'static str = "workloads";
    const VERSION: &'static str = "0.0.1";

    fn evaluate(request: &Request) -> Result<Decision> {
        match request.action() {
            // Ten trust lookups and ten credential checks of the caller.
            "hostcalls" => {
                let caller = request.caller();
                for _ in 0..10 {
                    if trust::get(caller)?.r <= 0.0 || !identity::has_credential(caller, "kyc")? {
                        return Ok(Decision::deny("no"));
                    }
                }
                Ok(Decision::allow())
            }
            // The recurrence of the ECL version, round by round.
            "arith" => {
                let mut x = request.number("n")?;
                for i in 1..=ROUNDS {
                    let i = f64::from(i);
                    x = x * 1.0001 + (i % 7.0) - x / 3.0 + (i * 0.5 - x) / 4.0;
                }
                Ok(if x > 0.0 {
                    Decision::allow()
                } else {
                    Decision::deny("negative")
                })
            }
            _ => Ok(Decision::allow()),
        }
    }
}

erynoa_sdk::policy!(Workloads);
