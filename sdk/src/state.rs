//! Key-value stores of the request's realm (`erynoa:ecl/state`).
//!
//! Reads see the policy's own earlier writes. Writes are applied only if the
//! policy allows; a deny, an error or a trap discards them.

use crate::{Result, backend};

/// The value of `key` in `store`. Costs 5 storage gas.
pub fn get(store: &str, key: &str) -> Result<Option<String>> {
    backend::store_get(store, key)
}

/// Sets `key` in `store`. Costs 10 storage gas plus 1 per started KiB, and
/// 1 mana plus 1 per 100 bytes. Values are at most 64 KiB.
pub fn put(store: &str, key: &str, value: &str) -> Result<()> {
    backend::store_put(store, key, value)
}

/// Removes `key` from `store`; returns whether it was there. Costs 5 storage gas.
pub fn delete(store: &str, key: &str) -> Result<bool> {
    backend::store_delete(store, key)
}
