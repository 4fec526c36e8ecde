// Strings: length, search, case-insensitive equality, equality, str().
policy "strings" {
    let name = "Alice"
    require str_len(name) == 5
    require str_contains(name, "lic")
    require str_eq_ignore_case(name, "ALICE")
    require str(true) == "true" && str(1.5) != "x"
    allow
}
