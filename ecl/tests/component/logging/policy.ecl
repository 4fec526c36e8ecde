// Logging and the realm.
policy "logging" {
    log("deciding")
    require realm == "finance", "wrong realm"
    allow
}
