// Ways to deny: require with and without a message, deny, return.
policy "reasons" {
    require caller.trust.I >= 0.1
    if param("blocked") == true {
        deny "blocked"
    }
    return param("ok") == true
}
