//! ECL's two back ends agree: the legacy VM (the built-in engine) and the
//! compiled component give the same decision, reason, failure, gas per
//! layer, mana and state changes for the same policy, state and request.

use std::sync::Arc;

use erynoa_host::{
    BudgetLimits, BytecodeEngine, Evaluation, ExecutionMode, HostCallRecord, Policy, Request, Tape,
    Trust, UnifiedState, Value,
};

use super::{ALICE, BOB, engine};

/// The clock is fixed: with the real one, `now()` differs between the two
/// runs whenever they straddle a second.
pub const FIXTURE: &str = r#"{
    "clock": 1700000000,
    "trust": {
        "did:erynoa:self:alice": {"r": 0.9, "i": 0.8, "c": 0.7, "p": 0.6, "v": 0.5, "omega": 0.4},
        "did:erynoa:self:bob": 0.2
    },
    "identities": {"did:erynoa:self:alice": ["kyc", "email-verified"]},
    "stores": {"finance": {"quota": {"did:erynoa:self:alice": "2"}}}
}"#;

/// Runs `src` on both back ends, checks they made the same host calls
/// with the same results, and returns (vm, component).
pub fn both(
    src: &str,
    state: &str,
    request: &Request,
    limits: BudgetLimits,
) -> (Evaluation, Evaluation) {
    let program = erynoa_ecl::compile(src, None)
        .unwrap_or_else(|d| panic!("{}", d.render("t.ecl", src)))
        .in_file("p");
    let vm = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_source("p", src, None)
        .expect("vm loads");
    let wasm = erynoa_ecl::component::compile(&program).unwrap_or_else(|e| panic!("{src}: {e}"));
    let component = engine()
        .load_component("p", &wasm)
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    let s1 = Arc::new(UnifiedState::from_json(state).expect("fixture"));
    let s2 = Arc::new(UnifiedState::from_json(state).expect("fixture"));
    let (a, calls_a) = vm.evaluate_taped(&s1, request, limits, Tape::Record(Vec::new()));
    let (b, calls_b) = component.evaluate_taped(&s2, request, limits, Tape::Record(Vec::new()));
    assert_eq!(
        host_calls(calls_a),
        host_calls(calls_b),
        "host calls differ\n{src}"
    );
    (a, b)
}

/// The host calls a policy made, in order, without the compiled code's
/// own gas reports (the VM's instructions are charged by the VM itself).
pub fn host_calls(tape: Tape) -> Vec<HostCallRecord> {
    tape.recorded()
        .into_iter()
        .filter(|c| c.interface != "budget")
        .collect()
}

/// Everything a user sees of an evaluation, but its duration.
fn show(e: &Evaluation) -> String {
    format!(
        "{:?} {:?} {:?} gas={} layers={:?} mana={} changes={:?}",
        e.effect, e.reason, e.failure, e.gas_used, e.gas, e.mana_used, e.changes
    )
}

/// Asserts both back ends agree on everything a user sees.
pub fn agree(src: &str, state: &str, request: &Request, limits: BudgetLimits) -> Evaluation {
    let (vm, wasm) = both(src, state, request, limits);
    assert_eq!(show(&vm), show(&wasm), "\n{src}");
    vm
}

fn alice() -> Request {
    Request::builder(ALICE, "finance")
        .action("transfer")
        .param("amount", Value::Number(250.0))
        .param("note", Value::Text("hi".into()))
        .param("flag", Value::Bool(true))
        .param("to", Value::Did(BOB.into()))
        .build()
}

fn run(src: &str) -> Evaluation {
    agree(src, FIXTURE, &alice(), BudgetLimits::default())
}

#[test]
fn trust_credentials_and_decisions() {
    let e = run(r#"policy "t" { require caller.trust.R >= 0.5, "low trust"  allow }"#);
    assert!(e.is_allowed());
    let e = run(r#"policy "t" { require load_trust(param("to")).R >= 0.5, "low trust" }"#);
    assert_eq!(e.reason.as_deref(), Some("low trust"));
    let e = run(
        r#"policy "t" { require credential("kyc") && has_credential(caller, "email-verified") }"#,
    );
    assert!(e.is_allowed());
    let e = run(r#"policy "t" { if !credential("admin") { deny "not an admin" } }"#);
    assert_eq!(e.reason.as_deref(), Some("not an admin"));
    run(r#"policy "t" { return trust_norm(caller.trust) > 0.6 }"#);
    run(r#"policy "t" { require resolve_did(param("to")) || false }"#);
    run(r#"policy "t" { return balance() == 0 }"#);
    run(r#"policy "t" { require trust_above_threshold(caller.trust, 0.45) }"#);
    run(
        r#"policy "t" { return trust_distance(caller.trust, load_trust(did("did:erynoa:self:bob"))) > 0.5 }"#,
    );
    run(r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 0, 0, 0, 0, 1]) > 0.6 }"#);
    run(
        r#"policy "t" { return trust_combine(caller.trust, trust_vector(0.5, 0.5, 0.5, 0.5, 0.5, 0.5)).omega > 0.6 }"#,
    );
}

#[test]
fn arithmetic_params_locals_and_control_flow() {
    run(r#"policy "t" { let a = 3  let b = a * 2 + a  return b == 9 }"#);
    run(
        r#"policy "t" { let x = param("amount")  if x > 1000 { deny "too much" } else if x > 100 { return x % 7 == 5 } else { allow } }"#,
    );
    run(r#"policy "t" { return param("missing") == null && param("flag") }"#);
    run(
        r#"policy "t" { return min(1, 2) + max(-0, 0) + clamp(5, 0, 3) + lerp(0, 10, 0.5) + abs(-2) + round(2.5) + floor(1.5) + ceil(1.2) == 17 }"#,
    );
    run(r#"policy "t" { return sqrt(16) == 4 && surprisal(0.125) == 3 }"#);
    run(
        r#"policy "t" { return str_len(param("note")) == 2 && str_contains("hello", "ell") && str_eq_ignore_case("ÄB", "äb") }"#,
    );
    run(
        r#"policy "t" { return "admin" in ["user", "admin"] && len([1, 2, 3]) == 3 && [1, "a"][1] == "a" }"#,
    );
    let e = run(
        r#"policy "t" { return [1, "a"] == [1, "a"] && !([1, 2] == [1, 3]) && [[1]] == [[1]] }"#,
    );
    assert!(e.is_allowed(), "{e:?}");
    run(r#"policy "t" { return time_since(now() - 100) == 100 }"#);
    run(
        r#"policy "t" { return num(str(param("amount"))) == 250 && str(1.5) == "1.5" && str(true) == "true" }"#,
    );
    run(r#"policy "t" { return realm == "finance" && caller == did("did:erynoa:self:alice") }"#);
}

#[test]
fn state_events_and_logs() {
    let src = r#"policy "quota" {
        let used = store_get("quota", caller)
        let n = if_null(used)
        store_put("quota", caller, str(n + 1))
        emit_event("quota.used", str(n + 1))
        log("counted")
        emit "done"
        allow
    }"#;
    let src = src.replace("if_null(used)", "num(str(used))");
    let e = run(&src);
    assert!(e.is_allowed());
    let e = run(
        r#"policy "t" { let existed = store_delete("quota", caller)  store_put("quota", "x", "1")  return !existed }"#,
    );
    assert!(!e.is_allowed());
}

#[test]
fn runtime_errors_fail_closed_alike() {
    for src in [
        r#"policy "t" { return 1 / (param("amount") - 250) }"#,
        r#"policy "t" { return param("amount") % 0 == 1 }"#,
        r#"policy "t" { return param("note") + 1 > 0 }"#,
        r#"policy "t" { return sqrt(-param("amount")) > 0 }"#,
        r#"policy "t" { return surprisal(param("amount")) > 0 }"#,
        r#"policy "t" { return clamp(1, param("amount"), 0) > 0 }"#,
        r#"policy "t" { return [1, 2][param("amount")] == 1 }"#,
        r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 2]) > 0 }"#,
        r#"policy "t" { return trust_weighted_avg(caller.trust, [1, 2, 3, 4, 5, "x"]) > 0 }"#,
        r#"policy "t" { return num(param("note")) > 0 }"#,
        r#"policy "t" { return str([1][0] == 1) == "true" && str(param("to")) == "x" }"#,
        r#"policy "t" { return load_trust("not-a-did").R > 0 }"#,
        r#"policy "t" { return param("amount") }"#,
        r#"policy "t" { return "text" }"#,
        r#"policy "t" { require param("note") }"#,
        r#"policy "t" { deny param("amount") }"#,
    ] {
        let e = run(src);
        assert!(!e.is_allowed(), "{src}");
    }
}

#[test]
fn a_host_call_with_a_wrong_argument_costs_what_ran_before_it() {
    // The instructions before the call are paid for even though the
    // argument's type check fails before the host is called: `"x"` 1,
    // `param` 2 and `"kyc"` 1; `"who"` 1 and `param` 2. Compiled code
    // reported 0 for both before it charged the run first.
    let state = r#"{"trust": {"did:erynoa:self:alice": 0.9}}"#;
    let request = Request::builder(ALICE, "r")
        .param("x", Value::Number(5.0))
        .param("who", Value::Number(5.0))
        .build();
    for (src, gas) in [
        (
            r#"policy "t" { require has_credential(param("x"), "kyc") }"#,
            4,
        ),
        (
            r#"policy "t" { require load_trust(param("who")).R > 0 }"#,
            3,
        ),
        (r#"policy "t" { log(param("x"))  allow }"#, 3),
        (
            r#"policy "t" { store_put("s", "k", param("x"))  allow }"#,
            5,
        ),
    ] {
        let e = agree(src, state, &request, BudgetLimits::default());
        assert_eq!(
            e.failure.as_ref().map(|f| f.kind()),
            Some("policy-fault"),
            "{src}"
        );
        assert_eq!(e.gas_used, gas, "{src}");
    }
}

#[test]
fn bool_weights_count_as_one_and_zero_on_both_back_ends() {
    let state = r#"{"trust": {"did:erynoa:self:alice": {"r": 0.8, "i": 0.7, "c": 0.6, "p": 0.5, "v": 0.4, "omega": 0.3}}}"#;
    let request = Request::builder(ALICE, "r").build();
    let e = agree(
        r#"policy "t" { return trust_weighted_avg(caller.trust, [true, 0, 0, 0, false, 0]) == 0.8 }"#,
        state,
        &request,
        BudgetLimits::default(),
    );
    assert!(e.is_allowed(), "{e:?}");
    let e = agree(
        r#"policy "t" { return trust_weighted_avg(caller.trust, [true, 0, 0, 0, null, 0]) > 0 }"#,
        state,
        &request,
        BudgetLimits::default(),
    );
    assert_eq!(
        e.reason.as_deref(),
        Some(
            "policy fault: p:1:21: trust_weighted_avg(caller.trust, [true, 0, 0, 0…: \
             Weight must be a number"
        )
    );
}

/// A fault in a policy compiled from source says where it happened, with
/// the legacy text after it, on both back ends; legacy bytecode keeps the
/// legacy text alone.
#[test]
fn runtime_faults_name_the_file_line_column_and_expression() {
    let src = "policy \"kyc\" {\n    let limit = 10\n    require param(\"missing\") * 2 < limit\n    allow\n}";
    let e = agree(src, "{}", &alice(), BudgetLimits::default());
    assert_eq!(
        e.failure.map(|f| f.to_string()).as_deref(),
        Some("policy fault: p:3:13: param(\"missing\") * 2: Expected number, got null")
    );
    let bytecode = erynoa_ecl::compile(src, None).expect("compiles").code;
    let eclc = erynoa_ecl::eclc::write(&bytecode);
    let legacy = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_eclc("kyc", &eclc)
        .expect("loads");
    let state = Arc::new(UnifiedState::default());
    let e = legacy.evaluate(&state, &alice(), BudgetLimits::default());
    assert_eq!(
        e.failure.map(|f| f.to_string()).as_deref(),
        Some("policy fault: Expected number, got null")
    );
}

#[test]
fn running_out_of_gas_stops_at_the_same_instruction() {
    let src = r#"policy "t" {
        let a = param("amount") * 2 + 1 - 3 * 4
        require caller.trust.R > 0.1
        let b = a + a + a + a + a + a + a + a
        require b > 0, "negative"
        allow
    }"#;
    for gas in 0..80 {
        let limits = BudgetLimits {
            gas_limit: gas,
            ..BudgetLimits::default()
        };
        agree(src, FIXTURE, &alice(), limits);
    }
    let e = agree(
        src,
        FIXTURE,
        &Request::builder(BOB, "finance").build(),
        BudgetLimits::default(),
    );
    assert!(!e.is_allowed());
}

/// A budget's operand-stack limit below what a policy needs: the VM stops
/// at the instruction where the stack outgrows it. Compiled code does not
/// check its stack, so `load_ecl` runs such evaluations on the VM (they
/// agree exactly), and a bare compiled component refuses them up front.
#[test]
fn a_tight_operand_stack_limit_decides_alike() {
    let src = r#"policy "t" {
        require caller.trust.R >= 0.1
        let x = 1 + (2 * (3 + (4 * (5 + 6))))
        require x > 0
        allow
    }"#;
    let program = erynoa_ecl::compile(src, None).expect("compiles");
    let depth = u32::try_from(program.max_stack).expect("small");
    let vm = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_source("p", src, None)
        .expect("vm loads");
    let compiled = engine()
        .load_ecl("p", src, None, ExecutionMode::Wasm)
        .expect("compiles and loads");
    let wasm = erynoa_ecl::component::compile(&program).expect("compiles");
    let bare = engine().load_component("p", &wasm).expect("loads");
    let run = |p: &dyn Policy, limits| {
        let state = Arc::new(UnifiedState::from_json(FIXTURE).expect("fixture"));
        p.evaluate(&state, &alice(), limits)
    };
    for limit in 0..=depth + 1 {
        let limits = BudgetLimits {
            max_stack_depth: limit,
            ..BudgetLimits::default()
        };
        let on_vm = run(&vm, limits);
        assert_eq!(
            show(&on_vm),
            show(&run(&*compiled, limits)),
            "limit {limit}"
        );
        let alone = run(&bare, limits);
        if limit < depth {
            assert_eq!(alone.failure.as_ref().map(|f| f.kind()), Some("stack"));
            assert_eq!(alone.gas_used, 0, "refused before it ran");
        } else {
            assert!(on_vm.is_allowed(), "limit {limit}: {on_vm:?}");
            assert_eq!(show(&on_vm), show(&alone), "limit {limit}");
        }
    }
    let starved = run(
        &vm,
        BudgetLimits {
            max_stack_depth: 1,
            ..BudgetLimits::default()
        },
    );
    assert_eq!(starved.failure.map(|f| f.kind()), Some("stack"));
}

#[test]
fn a_malformed_max_stack_section_is_refused_at_load() {
    let program = erynoa_ecl::compile(r#"policy "p" { allow }"#, None).expect("compiles");
    let mut wasm = erynoa_ecl::component::compile(&program).expect("compiles");
    // A custom section (id 0) named `erynoa:max-stack` holding 3 bytes.
    let name = erynoa_ecl::component::MAX_STACK_SECTION.as_bytes();
    wasm.extend([0, (1 + name.len() + 3) as u8, name.len() as u8]);
    wasm.extend(name);
    wasm.extend([1, 2, 3]);
    let err = engine()
        .load_component("p", &wasm)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("holds 3 bytes, not a 4-byte depth"), "{err}");
}

/// Random ECL programs: statements and typed expressions over the
/// request, trust, identity, state and events, from a seed.
mod generate {
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed ^ 0x9e37_79b9_7f4a_7c15)
        }
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    pub struct Program {
        rng: Rng,
        nums: Vec<String>,
        bools: Vec<String>,
        texts: Vec<String>,
        next_local: usize,
    }

    impl Program {
        pub fn new(seed: u64) -> Self {
            Self {
                rng: Rng::new(seed),
                nums: Vec::new(),
                bools: Vec::new(),
                texts: Vec::new(),
                next_local: 0,
            }
        }

        pub fn source(&mut self) -> String {
            let n = 2 + self.rng.below(6);
            let body = self.block(3, n);
            format!("policy \"generated\" {{\n{body}}}\n")
        }

        fn block(&mut self, depth: usize, n: usize) -> String {
            let (nums, bools, texts) = (self.nums.len(), self.bools.len(), self.texts.len());
            let mut out = String::new();
            for _ in 0..n {
                out.push_str(&self.stmt(depth));
                out.push('\n');
            }
            // Names declared in a block end with it.
            self.nums.truncate(nums);
            self.bools.truncate(bools);
            self.texts.truncate(texts);
            out
        }

        fn stmt(&mut self, depth: usize) -> String {
            match self.rng.below(if depth == 0 { 11 } else { 13 }) {
                // Joined texts: bound (so that they can double), denied with, logged.
                11 => {
                    let name = format!("t{}", self.next_local);
                    self.next_local += 1;
                    let s = format!("let {name} = {}", self.text(2));
                    self.texts.push(name);
                    s
                }
                12 => match self.rng.below(2) {
                    0 => format!("deny {}", self.text(2)),
                    _ => format!("log({})", self.text(2)),
                },
                0 | 1 => {
                    let name = format!("n{}", self.next_local);
                    self.next_local += 1;
                    let s = format!("let {name} = {}", self.num(2));
                    self.nums.push(name);
                    s
                }
                2 => {
                    let name = format!("b{}", self.next_local);
                    self.next_local += 1;
                    let s = format!("let {name} = {}", self.boolean(2));
                    self.bools.push(name);
                    s
                }
                3 => format!("require {}", self.boolean(2)),
                4 => format!("require {}, \"r{}\"", self.boolean(2), self.rng.below(9)),
                5 => match self.rng.below(4) {
                    0 => "allow".to_owned(),
                    1 => format!("deny \"d{}\"", self.rng.below(9)),
                    2 => "deny".to_owned(),
                    _ => format!("return {}", self.boolean(2)),
                },
                // Host calls whose argument may have the wrong type: the
                // instructions before are paid for before the coercion fails.
                6 => match self.rng.below(5) {
                    0 => "log(param(\"wrong\"))".to_owned(),
                    1 => "store_put(\"s\", param(\"wrong\"), \"v\")".to_owned(),
                    2 => "emit_event(param(\"wrong\"), \"p\")".to_owned(),
                    3 => "let gone = store_delete(\"s\", param(\"wrong\"))".to_owned(),
                    _ => format!("log(str({}))", self.num(1)),
                },
                7 => format!(
                    "store_put(\"s\", \"k{}\", str({}))",
                    self.rng.below(3),
                    self.num(1)
                ),
                8 => format!("emit_event(\"e\", str({}))", self.boolean(1)),
                9 => {
                    let cond = self.boolean(2);
                    let n = 1 + self.rng.below(3);
                    format!("if {cond} {{\n{}}}", self.block(depth - 1, n))
                }
                _ => {
                    let cond = self.boolean(2);
                    let (n, m) = (1 + self.rng.below(3), 1 + self.rng.below(3));
                    let then = self.block(depth - 1, n);
                    format!(
                        "if {cond} {{\n{then}}} else {{\n{}}}",
                        self.block(depth - 1, m)
                    )
                }
            }
        }

        fn num(&mut self, depth: usize) -> String {
            let leaf = depth == 0 || self.rng.below(3) == 0;
            if leaf {
                let choice = self.rng.below(if self.nums.is_empty() { 13 } else { 15 });
                return match choice {
                    9 => "time_since(now() - 60)".to_owned(),
                    10 => format!(
                        "load_trust(param(\"wrong\")).{}",
                        self.rng.pick(&["R", "omega"])
                    ),
                    // Weights that are bools (1.0 or 0.0), numbers or null.
                    11 => format!(
                        "trust_weighted_avg(caller.trust, [{}, {}, 1, 0, {}, {}])",
                        self.rng.pick(&["true", "false", "null", "0.5"]),
                        self.rng.pick(&["true", "false", "2"]),
                        self.rng.pick(&["true", "false"]),
                        self.rng.pick(&["1", "param(\"flag\")"]),
                    ),
                    0 | 1 => format!("{}", self.rng.below(20) as f64 / 4.0 - 1.0),
                    2 => "param(\"amount\")".to_owned(),
                    3 => "param(\"n\")".to_owned(),
                    4 => format!(
                        "caller.trust.{}",
                        self.rng.pick(&["R", "I", "C", "P", "V", "omega"])
                    ),
                    5 => "trust_norm(load_trust(param(\"to\")))".to_owned(),
                    6 => "str_len(param(\"note\"))".to_owned(),
                    7 => "num(store_get(\"s\", \"k0\"))".to_owned(),
                    8 => format!("len([1, {}, \"x\"])", self.rng.below(5)),
                    12 => format!("str_len({})", self.text(1)),
                    _ => self.nums[self.rng.below(self.nums.len())].clone(),
                };
            }
            let d = depth - 1;
            match self.rng.below(10) {
                0..=4 => format!(
                    "({} {} {})",
                    self.num(d),
                    self.rng.pick(&["+", "-", "*", "/", "%"]),
                    self.num(d)
                ),
                5 => format!(
                    "{}({}, {})",
                    self.rng.pick(&["min", "max"]),
                    self.num(d),
                    self.num(d)
                ),
                6 => format!(
                    "{}({})",
                    self.rng
                        .pick(&["abs", "floor", "ceil", "round", "sqrt", "-"]),
                    self.num(d)
                ),
                7 => format!("clamp({}, {}, {})", self.num(d), self.num(d), self.num(d)),
                8 => format!("lerp({}, {}, {})", self.num(d), self.num(d), self.num(d)),
                _ => format!("[{}, {}][{}]", self.num(d), self.num(d), self.num(d)),
            }
        }

        /// A text, a string at compile time: `+` with a string on either side joins, converting a
        /// number, bool, null or a run-time value as `str()` does; `big`
        /// is long enough that joins pay gas per byte and some go over the
        /// limit.
        fn text(&mut self, depth: usize) -> String {
            let leaf = depth == 0 || self.rng.below(3) == 0;
            if leaf {
                let choice = self.rng.below(if self.texts.is_empty() { 7 } else { 9 });
                return match choice {
                    0 => format!("\"t{}\"", self.rng.below(9)),
                    1 => format!("str({})", self.num(1)),
                    2 => "str(param(\"note\"))".to_owned(),
                    3 => "(\"\" + param(\"wrong\"))".to_owned(),
                    4 => self.rng.pick(&["realm", "(\"by \" + caller)"]).to_owned(),
                    5 => "(param(\"big\") + \"\")".to_owned(),
                    6 => "(\"\" + store_get(\"s\", \"k1\"))".to_owned(),
                    _ => self.texts[self.rng.below(self.texts.len())].clone(),
                };
            }
            let d = depth - 1;
            match self.rng.below(4) {
                0 => format!("({} + {})", self.text(d), self.text(d)),
                1 => format!("({} + {})", self.text(d), self.num(d)),
                2 => format!("({} + {})", self.num(d), self.text(d)),
                _ => format!("({} + {})", self.text(d), self.boolean(d)),
            }
        }

        fn boolean(&mut self, depth: usize) -> String {
            let leaf = depth == 0 || self.rng.below(3) == 0;
            if leaf {
                let choice = self.rng.below(if self.bools.is_empty() { 9 } else { 11 });
                return match choice {
                    7 => "has_credential(param(\"wrong\"), \"kyc\")".to_owned(),
                    8 => "resolve_did(param(\"wrong\"))".to_owned(),
                    0 => self.rng.pick(&["true", "false", "null"]).to_owned(),
                    1 => format!("credential(\"{}\")", self.rng.pick(&["kyc", "admin"])),
                    2 => "has_credential(param(\"to\"), \"kyc\")".to_owned(),
                    3 => "resolve_did(param(\"to\"))".to_owned(),
                    4 => "param(\"flag\")".to_owned(),
                    5 => format!(
                        "trust_above_threshold(caller.trust, {})",
                        self.rng.below(10) as f64 / 10.0
                    ),
                    6 => "str_contains(param(\"note\"), \"i\")".to_owned(),
                    _ => self.bools[self.rng.below(self.bools.len())].clone(),
                };
            }
            let d = depth - 1;
            match self.rng.below(6) {
                0 | 1 => format!(
                    "({} {} {})",
                    self.num(d),
                    self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]),
                    self.num(d)
                ),
                2 => format!("({} && {})", self.boolean(d), self.boolean(d)),
                3 => format!("({} || {})", self.boolean(d), self.boolean(d)),
                4 => format!("!{}", self.boolean(d)),
                _ => format!("({} in [1, 2, {}])", self.num(d), self.num(d)),
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("ECL_EQUIVALENCE_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        ..Default::default()
    })]

    /// Generated programs give the same decision, reason, failure, gas per
    /// layer, mana, changes and sequence of host calls (with arguments,
    /// results and gas) on both back ends, for several requests and gas
    /// limits each (so runs out of gas at many different points).
    #[test]
    fn generated_programs_agree(seed in proptest::prelude::any::<u64>()) {
        let src = generate::Program::new(seed).source();
        let program = erynoa_ecl::compile(&src, None).unwrap_or_else(|d| panic!("{}\n{src}", d.render("g.ecl", &src))).in_file("g");
        let vm = BytecodeEngine::new(Trust::AllowUnsigned).load_source("g", &src, None).expect("vm loads");
        let wasm = erynoa_ecl::component::compile(&program).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let component = engine().load_component("g", &wasm).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let mut rng = generate::Rng::new(seed.rotate_left(17));
        let wrong = [
            Value::Number(5.0),
            Value::Bool(true),
            Value::Did(BOB.into()),
            Value::Text("k".into()),
        ];
        for ((amount, caller), wrong) in [(250.0, ALICE), (0.0, BOB), (-3.5, ALICE), (f64::NAN, BOB)].into_iter().zip(wrong) {
            let request = Request::builder(caller, "finance")
                .param("wrong", wrong)
                .param("amount", Value::Number(amount))
                .param("n", Value::Text("7".into()))
                .param("note", Value::Text("hi".into()))
                .param("big", Value::Text("b".repeat(20_000)))
                .param("flag", Value::Bool(amount > 0.0))
                .param("to", Value::Did(ALICE.into()))
                .build();
            let gas = [1_000_000, 1_000_000, 1_000_000, 1_000_000, 50, 120, 300, 500][rng.below(8)];
            let limits = BudgetLimits { gas_limit: gas, ..BudgetLimits::default() };
            let s1 = Arc::new(UnifiedState::from_json(FIXTURE).expect("fixture"));
            let s2 = Arc::new(UnifiedState::from_json(FIXTURE).expect("fixture"));
            let (a, calls_a) = vm.evaluate_taped(&s1, &request, limits, Tape::Record(Vec::new()));
            let (b, calls_b) = component.evaluate_taped(&s2, &request, limits, Tape::Record(Vec::new()));
            let (calls_a, calls_b) = (host_calls(calls_a), host_calls(calls_b));
            proptest::prop_assert_eq!(calls_a, calls_b, "host calls differ\n{}\namount {} gas {}", src, amount, gas);
            let show = |e: &Evaluation| format!(
                "{:?} {:?} {:?} gas={} layers={:?} mana={} changes={:?}",
                e.effect, e.reason, e.failure, e.gas_used, e.gas, e.mana_used, e.changes
            );
            proptest::prop_assert_eq!(show(&a), show(&b), "\n{}\namount {} gas {}", src, amount, gas);
        }
    }
}

#[test]
fn writes_commit_on_allow_and_vanish_on_deny_on_both() {
    let src = r#"policy "t" {
        store_put("quota", "k", "1")
        emit_event("e", "p")
        require param("amount") > 100, "too small"
        allow
    }"#;
    let allowed = run(src);
    assert!(allowed.changes.committed);
    assert_eq!(allowed.changes.writes.len(), 1);
    assert_eq!(allowed.changes.events.len(), 1);
    let small = Request::builder(ALICE, "finance")
        .param("amount", Value::Number(5.0))
        .build();
    let denied = agree(src, FIXTURE, &small, BudgetLimits::default());
    assert!(!denied.changes.committed);
    assert_eq!(denied.reason.as_deref(), Some("too small"));
}

#[test]
fn legacy_bytecode_runs_with_run_policy_semantics_in_the_host() {
    use erynoa_ecl::bytecode::{OpCode::*, TrustDim, Value as V};
    // The gateway's default entry: caller's R >= 0.3, caller pushed first.
    let code = [
        LoadTrust,
        TrustDim(TrustDim::R),
        PushConst(V::Number(0.3)),
        Gte,
        Return,
    ];
    let bytes = erynoa_ecl::eclc::write(&code);
    let policy = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_eclc("entry", &bytes)
        .expect("loads");
    let state = Arc::new(UnifiedState::from_json(FIXTURE).expect("fixture"));
    let allowed = policy.evaluate(&state, &alice(), BudgetLimits::default());
    assert!(allowed.is_allowed());
    // 1 (pushed caller) + 10 (network) + 3 + 1 + 2 + 5.
    assert_eq!(allowed.gas_used, 22);
    let bob = Request::builder(BOB, "finance").build();
    assert!(
        !policy
            .evaluate(&state, &bob, BudgetLimits::default())
            .is_allowed()
    );
    // A program that does not return a bool is an error, fail-closed.
    let bytes = erynoa_ecl::eclc::write(&[PushConst(V::Number(1.0)), Return]);
    let policy = BytecodeEngine::new(Trust::AllowUnsigned)
        .load_eclc("n", &bytes)
        .expect("loads");
    let e = policy.evaluate(&state, &alice(), BudgetLimits::default());
    assert_eq!(
        e.reason.as_deref(),
        Some("policy fault: policy returned number, not a bool")
    );
}

#[test]
fn unpinned_or_ungranted_ecl_never_runs() {
    let src = r#"policy "t" { require caller.trust.R > 0.5 }"#;
    let engine = BytecodeEngine::new(Trust::Store(erynoa_host::TrustStore::default()));
    let err = engine.load_source("t", src, None).expect_err("not pinned");
    assert!(err.to_string().contains("is not pinned"), "{err}");
    let toml = format!(
        "[[component]]\ndigest = \"{}\"\ncapabilities = [\"identity\"]\n",
        erynoa_host::digest(src.as_bytes())
    );
    let store = erynoa_host::TrustStore::from_toml(&toml).expect("store");
    let err = BytecodeEngine::new(Trust::Store(store))
        .load_source("t", src, None)
        .expect_err("trust not granted");
    assert!(err.to_string().contains("not granted `trust`"), "{err}");
}
