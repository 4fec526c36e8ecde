//! Events (`erynoa:ecl/events`), applied only if the policy allows.

use crate::{Result, backend};

/// Emits an event of `event_type`. Costs 10 storage gas, and 1 mana plus 1
/// per 100 bytes of payload. Payloads are at most 16 KiB, 256 events per evaluation.
pub fn emit(event_type: &str, payload: &str) -> Result<()> {
    backend::emit_event(event_type, payload)
}
