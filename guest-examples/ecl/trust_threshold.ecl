// Allows callers whose reliability is at least 0.5: the ECL version of
// guest-examples/trust-threshold.
const MIN_RELIABILITY = 0.5

policy "trust-threshold" {
    require caller.trust.R >= MIN_RELIABILITY, "reliability is below 0.5"
    allow
}
