// Trust vectors: create, combine, distance, norm, thresholds, weights.
policy "trust_vectors" {
    let mine = caller.trust
    let floor = trust_vector(0.1, 0.1, 0.1, 0.1, 0.1, 0.1)
    let both = trust_combine(mine, floor)
    require trust_distance(mine, floor) >= 0
    require trust_norm(both) >= 0
    require trust_above_threshold(both, 0.05)
    require trust_weighted_avg(mine, [1, 1, 1, 1, 1, 1]) >= 0
    allow
}
