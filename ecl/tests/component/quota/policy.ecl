// State and events: read, write, delete, emit; number and text conversions.
policy "quota" {
    let stored = store_get("quota", caller)
    if stored == null {
        store_put("quota", caller, "1")
        emit_event("quota.used", "1")
        allow
    }
    let used = num(stored)
    require used < 3, "quota used up"
    store_put("quota", caller, str(used + 1))
    let gone = store_delete("quota", "stale")
    allow
}
