//! Trust vectors of DIDs (`erynoa:ecl/trust`).

use crate::{Result, TrustVector, backend};

/// The trust vector of `did`; an unknown DID has [`TrustVector::NEWCOMER`].
/// Costs 10 network gas. Fails if `did` is not a DID.
pub fn get(did: &str) -> Result<TrustVector> {
    backend::get_trust(did)
}

/// The mean of the six dimensions, computed by the host. Costs 10 compute
/// gas; [`TrustVector::mean`] gives the same number for free.
pub fn norm(tv: TrustVector) -> f64 {
    backend::trust_norm(tv)
}
