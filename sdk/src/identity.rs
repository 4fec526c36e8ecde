//! Identities and credentials (`erynoa:ecl/identity`).

use crate::{Result, backend};

/// Whether `did` holds a credential of `schema`. Costs 5 network gas.
pub fn has_credential(did: &str, schema: &str) -> Result<bool> {
    backend::has_credential(did, schema)
}

/// Whether `did` is a known identity. Costs 5 network gas.
pub fn resolve(did: &str) -> Result<bool> {
    backend::resolve_did(did)
}
