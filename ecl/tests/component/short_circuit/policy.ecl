// Short circuits and nested branches.
policy "short_circuit" {
    let t = caller.trust
    if t.R > 0.9 || (t.I > 0.5 && t.C > 0.5) {
        allow
    } else if t.P < 0.1 {
        deny "low prestige"
    } else {
        return !(t.V < 0.2)
    }
}
