use serde::{Deserialize, Serialize};

/// Six-dimensional trust of a DID; every dimension is in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustVector {
    /// Reliability: behaviour history.
    pub r: f64,
    /// Integrity: consistency of statements.
    pub i: f64,
    /// Competence: proof of ability.
    pub c: f64,
    /// Prestige: external attestation.
    pub p: f64,
    /// Vigilance: anomaly detection.
    pub v: f64,
    /// Omega: axiom fidelity.
    #[serde(alias = "Ω")]
    pub omega: f64,
}

impl TrustVector {
    /// What a DID the host does not know gets: 0.1 in every dimension.
    pub const NEWCOMER: TrustVector = TrustVector::splat(0.1);

    /// The same value in every dimension.
    pub const fn splat(x: f64) -> Self {
        Self {
            r: x,
            i: x,
            c: x,
            p: x,
            v: x,
            omega: x,
        }
    }

    /// The dimensions in legacy index order R, I, C, P, V, Ω.
    pub const fn to_array(self) -> [f64; 6] {
        [self.r, self.i, self.c, self.p, self.v, self.omega]
    }

    /// A vector from dimensions in legacy index order R, I, C, P, V, Ω.
    pub const fn from_array(t: [f64; 6]) -> Self {
        Self {
            r: t[0],
            i: t[1],
            c: t[2],
            p: t[3],
            v: t[4],
            omega: t[5],
        }
    }

    /// The arithmetic mean of the six dimensions, summed left to right from
    /// −0.0 as the legacy `TrustNorm` opcode does; what `trust.trust-norm`
    /// returns.
    pub fn mean(&self) -> f64 {
        self.to_array().iter().fold(-0.0, |acc, x| acc + x) / 6.0
    }

    /// `Σ wᵢ·xᵢ / Σ wᵢ`, or 0 when the weights sum to 0 or less (the legacy
    /// `TrustWeightedAvg`).
    ///
    /// ```
    /// use erynoa_core::TrustVector;
    /// let tv = TrustVector { r: 1.0, ..TrustVector::splat(0.0) };
    /// assert_eq!(tv.weighted(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]), 0.5);
    /// ```
    pub fn weighted(&self, weights: &[f64; 6]) -> f64 {
        // Sums start from −0.0, as std's `Sum` does, spelled out so compiled
        // ECL can do exactly the same.
        let total = weights.iter().fold(-0.0, |acc, w| acc + w);
        if total <= 0.0 {
            return 0.0;
        }
        self.to_array()
            .iter()
            .zip(weights)
            .fold(-0.0, |acc, (x, w)| acc + x * w)
            / total
    }

    /// The first dimension outside [0, 1] (NaN included), by name, if any.
    pub fn out_of_range(&self) -> Option<(&'static str, f64)> {
        const NAMES: [&str; 6] = ["r", "i", "c", "p", "v", "omega"];
        NAMES
            .into_iter()
            .zip(self.to_array())
            .find(|(_, x)| !(0.0..=1.0).contains(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_is_the_legacy_trust_norm() {
        let tv = TrustVector {
            r: 0.8,
            i: 0.7,
            c: 0.6,
            p: 0.5,
            v: 0.4,
            omega: 0.3,
        };
        assert_eq!(tv.mean(), 0.5499999999999999);
    }

    #[test]
    fn range_check_names_the_dimension() {
        let tv = TrustVector {
            c: 1.5,
            ..TrustVector::NEWCOMER
        };
        assert_eq!(tv.out_of_range(), Some(("c", 1.5)));
        assert_eq!(TrustVector::NEWCOMER.out_of_range(), None);
        assert!(
            TrustVector {
                r: f64::NAN,
                ..TrustVector::NEWCOMER
            }
            .out_of_range()
            .is_some()
        );
    }

    #[test]
    fn weights_that_sum_to_nothing_give_zero() {
        assert_eq!(TrustVector::splat(0.9).weighted(&[0.0; 6]), 0.0);
    }
}
