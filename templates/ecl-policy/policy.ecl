// {{project-name}}: allows callers with reliability of at least 0.5 and a
// `kyc` credential.
const MIN_RELIABILITY = 0.5

policy "{{project-name}}" {
    require caller.trust.R >= MIN_RELIABILITY, "reliability is below 0.5"
    require credential("kyc"), "caller has no `kyc` credential"
    allow
}
