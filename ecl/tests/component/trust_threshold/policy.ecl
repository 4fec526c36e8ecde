// One host call and a comparison.
policy "trust_threshold" {
    require caller.trust.R >= 0.5, "reliability below 0.5"
    allow
}
