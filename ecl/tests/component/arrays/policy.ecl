// Arrays: literals, indexing, length, membership.
policy "arrays" {
    let roles = ["admin", "ops", "dev"]
    require len(roles) == 3
    require roles[1] == "ops"
    require "dev" in roles, "not a developer"
    allow
}
