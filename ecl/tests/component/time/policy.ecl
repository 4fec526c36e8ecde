// The clock: now and the time since a parameter.
policy "time" {
    require now() > 0
    require time_since(param("issued")) < 3600, "token expired"
    allow
}
