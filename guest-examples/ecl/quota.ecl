// A per-caller quota in the realm store: allows `limit` requests (request
// parameter, default 3), counts each allowed one and emits an event. The
// ECL version of guest-examples/quota.
const DEFAULT_LIMIT = 3

policy "quota" {
    let stored = store_get("quota", caller)
    if stored == null {
        require param("limit") == null || param("limit") > 0, "quota used up"
        store_put("quota", caller, "1")
        emit_event("quota.used", "1")
        allow
    }
    let used = num(stored)
    if param("limit") == null {
        require used < DEFAULT_LIMIT, "quota used up"
    } else {
        require used < param("limit"), "quota used up"
    }
    store_put("quota", caller, str(used + 1))
    emit_event("quota.used", str(used + 1))
    allow
}
