// Identity calls: credentials, DID resolution, balances.
policy "credentials" {
    require credential("kyc"), "no kyc credential"
    require resolve_did(caller), "unknown caller"
    require balance() >= 0
    allow
}
