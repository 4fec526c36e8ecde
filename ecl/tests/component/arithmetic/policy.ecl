// Numbers: every operator and math built-in, with their domain errors.
policy "arithmetic" {
    let a = 7
    let b = 2
    let s = a + b - a * b / b % 3
    let m = min(abs(-a), max(floor(1.5), ceil(2.5))) + round(2.5)
    let q = sqrt(16) + surprisal(0.5) + clamp(a, 0, 5) + lerp(0, 10, 0.5)
    return s + m + q > -a
}
