// A `kyc` credential and a weighted trust score of at least 0.6: the ECL
// version of guest-examples/kyc-score.
const MIN_SCORE = 0.6

policy "kyc-score" {
    require credential("kyc"), "caller has no `kyc` credential"
    // Reliability and integrity weigh most, as in the finance context.
    let score = trust_weighted_avg(caller.trust, [0.25, 0.25, 0.15, 0.15, 0.1, 0.1])
    require score >= MIN_SCORE, "trust score is below 0.6"
    allow
}
