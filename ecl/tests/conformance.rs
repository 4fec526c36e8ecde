//! The legacy reference's conformance corpus (§8, with §10's corrections).
//!
//! Mode L: compile, then the legacy meter with limit 10 000 and no caller
//! pushed. Mode RP: `run_policy` (caller DID pushed first, budget mode).
//! Mode B: hand-built bytecode in legacy mode. ECL 1.0 source follows the
//! legacy results except where ECL.md changes the language; those cases
//! assert the ECL 1.0 behaviour, and LEGACY-BUG cases also assert the
//! legacy behaviour on the legacy bytecode.

#![allow(clippy::panic)] // helpers panic with the failing source

use erynoa_core::{BudgetLimits, GasLayer};
use erynoa_ecl::bytecode::{OpCode, OpCode::*, TrustDim, Value};
use erynoa_ecl::optimizer::optimize;
use erynoa_ecl::vm::{Execution, Metering, Outcome, RunOptions, StubHost, run};

fn n(x: f64) -> Value {
    Value::Number(x)
}
fn b(x: bool) -> Value {
    Value::Bool(x)
}
fn push(v: Value) -> OpCode {
    PushConst(v)
}
fn pn(x: f64) -> OpCode {
    push(n(x))
}

fn l_mode(code: &[OpCode], host: &mut StubHost, limit: u64) -> Execution {
    run(code, host, RunOptions::legacy(limit))
}

/// Compiles ECL 1.0 source and runs it in mode L on `host`.
fn src_on(src: &str, host: &mut StubHost) -> (Result<Value, String>, u64) {
    let p = erynoa_ecl::compile(src, None).unwrap_or_else(|d| panic!("{src}: {d}"));
    let e = l_mode(&p.code, host, 10_000);
    (outcome(e.result), e.meter_gas)
}

fn src(src: &str) -> (Result<Value, String>, u64) {
    src_on(src, &mut StubHost::new())
}

fn outcome(r: Result<Outcome, erynoa_ecl::vm::VmError>) -> Result<Value, String> {
    match r {
        Ok(Outcome::Return(v)) => Ok(v),
        Ok(Outcome::Deny(reason)) => Err(format!("deny: {reason}")),
        Err(e) => Err(e.to_string()),
    }
}

fn bc(code: &[OpCode]) -> (Result<Value, String>, u64) {
    let e = l_mode(code, &mut StubHost::new(), 10_000);
    (outcome(e.result), e.meter_gas)
}

fn compile_error(src: &str) -> &'static str {
    match erynoa_ecl::compile(src, None) {
        Ok(p) => panic!("{src} compiled to {:?}", p.code),
        Err(d) => d.first_code().unwrap_or("none"),
    }
}

fn rp(code: &[OpCode], host: &mut StubHost) -> (Result<Value, String>, u64) {
    let opts = RunOptions {
        metering: Metering::Budget,
        max_stack_depth: 1024,
        push_caller: true,
    };
    let e = run(code, host, opts);
    (outcome(e.result), host.meter.gas_used())
}

fn alice() -> StubHost {
    StubHost::new().with_caller("did:test:alice")
}

// ---- 8.1 source-level cases ----

#[test]
fn s1_s9_s13_s51_s52_s53_simple_policies() {
    assert_eq!(
        src("\npolicy \"test\" {\n    require true\n}\n"),
        (Ok(b(true)), 10)
    );
    assert_eq!(
        src("\nconst MAX_TRANSFER = 10000\n\npolicy \"test\" {\n require true\n}\n"),
        (Ok(b(true)), 10)
    );
    assert_eq!(src("policy \"t\" { require 5 > 3 }"), (Ok(b(true)), 13));
    assert_eq!(src("policy \"t\" { }"), (Ok(b(true)), 6));
    assert_eq!(
        src("// head\npolicy \"t\" { // c1\n require true // c2\n}\n"),
        (Ok(b(true)), 10)
    );
    assert_eq!(
        src("policy \"t\" { require true require 1 < 2 }"),
        (Ok(b(true)), 17)
    );
    let (file, _) = erynoa_ecl::parse("\npolicy \"test\" {\n    require true\n}\n").unwrap();
    assert_eq!(file.policies().count(), 1);
}

#[test]
fn s2_s8_s10_unbound_names_are_compile_errors_in_ecl_1() {
    // Legacy: `x` became DID("x") and the run failed with
    // `Expected number, got did`.
    assert_eq!(
        compile_error("policy \"test\" {\n require x > 5, \"x must be greater than 5\"\n}"),
        "E0200"
    );
    assert_eq!(
        compile_error(
            "policy \"c\" {\n let max_amount = 1000 * 0.5\n require amount <= max_amount\n}"
        ),
        "E0200"
    );
    assert_eq!(
        compile_error(
            "policy \"c\" {\n if x > 10 {\n emit \"large\"\n } else {\n emit \"small\"\n }\n}"
        ),
        "E0200"
    );
    // The legacy bytecode gives the legacy error.
    let legacy = [push(Value::did("x")), pn(5.0), Gt, Assert];
    assert_eq!(bc(&legacy).0, Err("Expected number, got did".into()));
    // The ECL 1.0 spelling of S8 works.
    let mut host = StubHost::new().with_param("amount", n(400.0));
    assert_eq!(
        src_on(
            "policy \"c\" { let max_amount = 1000 * 0.5  require param(\"amount\") <= max_amount }",
            &mut host
        ),
        // 1000, 0.5, *, "amount", param, load, <=, assert, true, return
        (Ok(b(true)), 1 + 1 + 3 + 1 + 2 + 2 + 2 + 3 + 1 + 5)
    );
}

#[test]
fn s3_s66_s69_expressions_and_the_legacy_optimizer() {
    let p = erynoa_ecl::compile_expr("5 + 3 * 2").unwrap();
    assert_eq!(bc(&p.code), (Ok(n(11.0)), 13));
    assert_eq!(bc(&optimize(&p.code)), (Ok(n(11.0)), 6));
    let p = erynoa_ecl::compile("policy \"t\" { return 2 + 3 }", None).unwrap();
    let opt = optimize(&p.code);
    assert_eq!(opt, [pn(5.0), Return]);
    assert_eq!(bc(&opt), (Ok(n(5.0)), 6));
    // S67 [LEGACY-BUG]: the optimizer jumps over the else branch.
    let p = erynoa_ecl::compile(
        "policy \"t\" { if 1 + 1 == 3 { return 1 } else { return 2 } }",
        None,
    )
    .unwrap();
    assert_eq!(bc(&p.code), (Ok(n(2.0)), 15));
    assert_eq!(bc(&optimize(&p.code)), (Ok(b(true)), 12));
    // S68: peephole removes `+ 0` even from a bool.
    let p = erynoa_ecl::compile("policy \"t\" { return true + 0 }", None).unwrap();
    assert_eq!(bc(&p.code).0, Ok(n(1.0)));
    assert_eq!(bc(&optimize(&p.code)), (Ok(b(true)), 6));
    // S69. `&&` short-circuits in ECL 1.0: AndThen + ToBool cost what And did.
    let p = erynoa_ecl::compile_expr("5 > 3 && true").unwrap();
    assert_eq!(bc(&optimize(&p.code)), (Ok(b(true)), 12));
    let p = erynoa_ecl::compile_expr("1 +\n 2").unwrap();
    assert_eq!(bc(&optimize(&p.code)), (Ok(n(3.0)), 6));
    assert!(erynoa_ecl::compile_expr("trust_norm([0.8, 0.7])").is_err());
}

#[test]
fn s4_s37_s38_s39_s40_trust_access() {
    assert_eq!(
        src("policy \"trust_check\" {\n require sender.trust.R >= 0.5\n}"),
        (Ok(b(true)), 116)
    );
    assert_eq!(
        src("policy \"t\" { return sender.trust.omega }"),
        (Ok(n(0.5)), 109)
    );
    assert_eq!(
        src("policy \"t\" { return sender.trust.Ω }"),
        (Ok(n(0.5)), 109)
    );
    assert_eq!(
        src(
            "policy \"t\" { return sender.trust.I + sender.trust.C + sender.trust.P + sender.trust.V }"
        ),
        (Ok(n(2.0)), 427)
    );
    let host =
        || StubHost::new().with_trust("did:erynoa:self:alice", [0.8, 0.7, 0.6, 0.5, 0.4, 0.3]);
    assert_eq!(
        src_on(
            "policy \"t\" { return sender.trust.R }",
            &mut host().with_caller("did:test:bob")
        ),
        (Ok(n(0.1)), 109)
    );
    assert_eq!(
        src_on(
            "policy \"t\" { return \"did:erynoa:self:alice\".trust.R }",
            &mut host()
        ),
        (Ok(n(0.8)), 109)
    );
    // The run_policy form of S4 pays one more gas for the pushed caller.
    let p = erynoa_ecl::compile("policy \"t\" { require sender.trust.R >= 0.5 }", None).unwrap();
    let legacy: Vec<OpCode> = p.code.iter().skip(1).cloned().collect();
    let mut h = alice();
    assert_eq!(rp(&legacy, &mut h), (Ok(b(true)), 116));
}

#[test]
fn s5_s6_s7_s45_s46_credential_and_balance_of_the_caller() {
    // S5 legacy: one-argument `credential` underflows in mode L. ECL 1.0
    // checks the caller's credential.
    let legacy = [push(Value::string("kyc-verified")), HasCredential, Assert];
    assert_eq!(bc(&legacy).0, Err("Stack underflow".into()));
    let host = || StubHost::new().with_credential("did:test:alice", "kyc");
    let s6 = "policy \"t\" { require credential(\"kyc\") }";
    assert_eq!(
        src_on(s6, &mut host().with_caller("did:test:alice")),
        (Ok(b(true)), 61)
    );
    let (r, gas) = src_on(s6, &mut host().with_caller("did:test:bob"));
    assert_eq!((r, gas), (Err("Assertion failed".into()), 55));
    // The same through run_policy on the legacy bytecode.
    assert_eq!(
        rp(
            &[
                push(Value::string("kyc")),
                HasCredential,
                Assert,
                push(b(true)),
                Return
            ],
            &mut host().with_caller("did:test:alice")
        ),
        (Ok(b(true)), 61)
    );
    let mut h = host().with_caller("did:test:bob");
    assert_eq!(
        rp(&[push(Value::string("kyc")), HasCredential, Assert], &mut h),
        (Err("Assertion failed".into()), 55)
    );

    let bal = || {
        StubHost::new()
            .with_balance("did:test:alice", 500)
            .with_caller("did:test:alice")
    };
    assert_eq!(
        src_on("policy \"t\" { return balance() }", &mut bal()),
        (Ok(n(500.0)), 56)
    );
    assert_eq!(
        src_on("policy \"t\" { require balance() >= 100 }", &mut bal()),
        (Ok(b(true)), 63)
    );
    assert_eq!(bc(&[GetBalance, Return]).0, Err("Stack underflow".into()));
}

#[test]
fn s14_s41_s42_s43_s44_unknown_fields_and_functions() {
    assert_eq!(
        compile_error("policy \"t\" { require sender.credential(\"kyc-verified\") }"),
        "E0105"
    );
    assert_eq!(
        compile_error("policy \"t\" { require sender.credential }"),
        "E0204"
    );
    let d = erynoa_ecl::compile("policy \"t\" { return sender.trust.r }", None).unwrap_err();
    assert_eq!(d.items[0].code, "E0204");
    assert_eq!(
        d.items[0].help.as_deref(),
        Some("trust dimensions are upper case: `.R`")
    );
    assert_eq!(compile_error("policy \"t\" { return foo(1) }"), "E0201");
    let d = erynoa_ecl::compile("policy \"t\" { return trust_nrm(1) }", None).unwrap_err();
    assert_eq!(
        d.items[0].help.as_deref(),
        Some("did you mean `trust_norm`?")
    );
    // Legacy dropped the call's arguments silently; ECL 1.0 refuses.
    assert_eq!(
        compile_error("policy \"t\" { return sender.trust(5).R }"),
        "E0105"
    );
}

#[test]
fn s15_to_s23_arithmetic_logic_and_equality() {
    assert_eq!(src("policy \"t\" { return 2 + 3 * 4 }"), (Ok(n(14.0)), 13));
    assert_eq!(
        src("policy \"t\" { return (2 + 3) * 4 }"),
        (Ok(n(20.0)), 13)
    );
    assert_eq!(src("policy \"t\" { return -7 % 3 }"), (Ok(n(-1.0)), 13));
    assert_eq!(
        src("policy \"t\" { return 1 / 0 }").0,
        Err("Division by zero".into())
    );
    assert_eq!(
        src("policy \"t\" { return 1 % 0 }").0,
        Err("Modulo by zero".into())
    );
    assert_eq!(src("policy \"t\" { return 1 == true }"), (Ok(b(false)), 9));
    assert_eq!(src("policy \"t\" { return true + 1 }"), (Ok(n(2.0)), 9));
    assert_eq!(
        src("policy \"t\" { return null || true }"),
        (Ok(b(true)), 9)
    );
    // ECL 1.0 short-circuits: `0 && true` stops after the left side.
    assert_eq!(src("policy \"t\" { return 0 && true }"), (Ok(b(false)), 7));
    assert_eq!(
        bc(&[pn(0.0), push(b(true)), And, Return]),
        (Ok(b(false)), 9)
    );
    // S22: a type error ECL 1.0 finds at compile time; the bytecode's text.
    assert_eq!(
        compile_error("policy \"t\" { return \"a\" < \"b\" }"),
        "E0203"
    );
    assert_eq!(
        bc(&[
            push(Value::string("a")),
            push(Value::string("b")),
            Lt,
            Return
        ])
        .0,
        Err("Expected number, got string".into())
    );
    assert_eq!(
        src("policy \"t\" { return \"a\" == \"a\" }"),
        (Ok(b(true)), 9)
    );
    assert_eq!(
        src("policy \"t\" { return sender == \"sender\" }"),
        (Ok(b(false)), 9)
    );
}

#[test]
fn s24_to_s26_require() {
    assert_eq!(
        src("policy \"t\" { require false }"),
        (Err("Assertion failed".into()), 4)
    );
    assert_eq!(
        src("policy \"t\" {\n require 1 > 2, \"too small\"\n}").0,
        Err("Require failed: too small".into())
    );
    assert_eq!(
        src("policy \"t\" { require null }").0,
        Err("Assertion failed".into())
    );
    assert_eq!(src("policy \"t\" { require 1 }"), (Ok(b(true)), 10));
    assert_eq!(
        compile_error("policy \"t\" { require \"x\", \"m\" }"),
        "E0203"
    );
    assert_eq!(
        bc(&[push(Value::string("x")), push(Value::string("m")), Require]).0,
        Err("Expected bool, got string".into())
    );
}

#[test]
fn s27_s28_s29_locals_legacy_bug_fixed_in_ecl_1() {
    // ECL 1.0: real locals, same gas as the legacy Pick code.
    assert_eq!(
        src("policy \"t\" { let a = 1\n let b = 2\n return a < b }"),
        (Ok(b(true)), 13)
    );
    assert_eq!(
        src("policy \"t\" { let a = 3\n return a * 2 + a }"),
        (Ok(n(9.0)), 16)
    );
    assert_eq!(
        src("policy \"t\" { let a = 10\n return a }"),
        (Ok(n(10.0)), 8)
    );
    assert_eq!(
        src("policy \"t\" { let a = 1\n let b = 2\n return a }"),
        (Ok(n(1.0)), 9)
    );
    // [LEGACY-BUG] the legacy compiler's Pick code keeps its legacy result.
    assert_eq!(
        bc(&[pn(1.0), pn(2.0), Pick(1), Pick(0), Lt, Return]),
        (Ok(b(false)), 13)
    );
    assert_eq!(
        bc(&[pn(3.0), Pick(0), pn(2.0), Mul, Pick(0), Add, Return]),
        (Ok(n(12.0)), 16)
    );
    // A `let` in a branch not taken does not shift later names.
    assert_eq!(
        src("policy \"t\" { let a = 1  if false { let z = 9 }  let b = 2  return a < b }").0,
        Ok(b(true))
    );
}

#[test]
fn s30_to_s34_emit_and_control_flow() {
    let mut host = StubHost::new();
    assert_eq!(
        src_on("policy \"t\" { emit \"done\" }", &mut host),
        (Ok(b(true)), 27)
    );
    assert_eq!(host.logs, ["emit:done"]);
    let p = erynoa_ecl::compile(
        "policy \"t\" {\n if 5 > 3 {\n return 1\n } else {\n return 2\n }\n}",
        None,
    )
    .unwrap();
    assert_eq!(
        p.code,
        [
            pn(5.0),
            pn(3.0),
            Gt,
            JumpIfFalse(7),
            pn(1.0),
            Return,
            Jump(9),
            pn(2.0),
            Return,
            push(b(true)),
            Return
        ]
    );
    assert_eq!(bc(&p.code), (Ok(n(1.0)), 12));
    assert_eq!(
        src("policy \"t\" { if false { return 1 } }"),
        (Ok(b(true)), 9)
    );
    assert_eq!(
        src("policy \"t\" { if true { if false { return 1 } else { return 2 } } }"),
        (Ok(n(2.0)), 12)
    );
    assert_eq!(
        compile_error("policy \"t\" { if \"x\" { return 5 } }"),
        "E0203"
    );
    assert_eq!(src("policy \"t\" { if 1 { return 5 } }"), (Ok(n(5.0)), 9));
}

#[test]
fn s35_s36_constants_and_entry_points_fixed_in_ecl_1() {
    // Legacy returned DID("X") and always ran the first policy.
    assert_eq!(
        src("const X = 5\npolicy \"t\" { return X }"),
        (Ok(n(5.0)), 6)
    );
    let two = "policy \"a\" { return 1 }\npolicy \"b\" { return 2 }";
    assert_eq!(src(two), (Ok(n(1.0)), 6));
    let p = erynoa_ecl::compile(two, Some("b")).unwrap();
    assert_eq!(bc(&p.code), (Ok(n(2.0)), 6));
    assert_eq!(
        erynoa_ecl::compile(two, Some("c"))
            .unwrap_err()
            .first_code(),
        Some("E0207")
    );
}

#[test]
fn s47_to_s49_s70_timestamps_operators_and_numbers() {
    assert_eq!(
        src("policy \"t\" { return timestamp() }"),
        (Ok(n(1_700_000_000.0)), 10)
    );
    assert_eq!(
        src("policy \"t\" { return (timestamp)() }"),
        (Ok(n(1_700_000_000.0)), 10)
    );
    assert_eq!(src("policy \"t\" { return 1 < 2 < 3 }"), (Ok(b(true)), 12));
    assert_eq!(src("policy \"t\" { return !1 < 2 }"), (Ok(b(true)), 10));
    assert_eq!(src("policy \"t\" { return 1 == 1 < 2 }"), (Ok(b(true)), 12));
    assert_eq!(src("policy \"t\" { return --5 }"), (Ok(n(5.0)), 8));
    assert_eq!(src("policy \"t\" { return 3 - -2 }"), (Ok(n(5.0)), 10));
    assert_eq!(src("policy \"t\" { return 7 / 2 }"), (Ok(n(3.5)), 12));
    assert_eq!(
        src("policy \"t\" { return 12345678901234567890 }"),
        (Ok(n(1.2345678901234567e19)), 6)
    );
    assert_eq!(
        src("policy \"t\" { return 0.1 + 0.2 == 0.3 }"),
        (Ok(b(false)), 12)
    );
}

#[test]
fn s50_empty_programs() {
    assert_eq!(bc(&[]), (Ok(Value::Null), 0));
    let mut h = alice();
    assert_eq!(rp(&[], &mut h), (Ok(Value::did("did:test:alice")), 1));
    // ECL 1.0: a file without a policy has nothing to run.
    assert_eq!(
        erynoa_ecl::compile("", None).unwrap_err().first_code(),
        Some("E0208")
    );
}

#[test]
fn s51b_s54_to_s62_layout_and_lexical_rules() {
    // Relaxed in ECL 1.0: these parse and run.
    for ok in [
        "policy \"t\" {\n}",
        "policy \"t\" { if true {\n} }",
        "policy \"t\" { require 1 <\n 2 }",
        "policy \"t\" { if true { return 1 }\n else { return 2 } }",
        "policy \"t\" { require true } // end",
        "policy \"t\" { require true; }",
        "policy \"t\" { return \"a\\\"b\" }",
        "policy \"t\" { return [1,2] }",
        "const X = -5 policy \"t\" { return X }",
        "const X = null policy \"t\" { return X }",
    ] {
        erynoa_ecl::compile(ok, None).unwrap_or_else(|d| panic!("{ok}: {d}"));
    }
    assert_eq!(
        src("policy \"t\" { require 1 < // c\n 2 }"),
        (Ok(b(true)), 13)
    );
    // Still errors, with a code.
    for (bad, code) in [
        ("policy t { require true }", "E0100"),
        ("policy \"t\" { let R = 1 }", "E0103"),
        ("policy \"t\" { let omega = 1 }", "E0103"),
        ("policy \"t\" { return 007 }", "E0004"),
        ("policy \"t\" { return .5 }", "E0100"),
        ("policy \"t\" { return 1. }", "E0004"),
        ("policy \"t\" { return x[0] }", "E0200"),
        ("policy \"t\" { emit done }", "E0100"),
        ("policy \"t\" { return }", "E0100"),
        ("policy \"t\" { return \"abc }", "E0002"),
        ("policy \"t\" { return ä }", "E0001"),
        ("policy \"t\" { return true & false }", "E0001"),
    ] {
        assert_eq!(compile_error(bad), code, "{bad}");
    }
}

#[test]
fn s63_s64_s65_gas_limits() {
    let p = erynoa_ecl::compile("policy \"t\" { require true }", None).unwrap();
    let legacy: Vec<OpCode> = p.code.clone();
    let limits = |gas| BudgetLimits {
        gas_limit: gas,
        mana_limit: 1000,
        max_stack_depth: 1024,
        timeout_ms: 5000,
        ..BudgetLimits::default()
    };
    // RP: the caller push makes it 11.
    let mut h = alice().with_limits(limits(11));
    assert_eq!(rp(&legacy, &mut h), (Ok(b(true)), 11));
    let mut h = alice().with_limits(limits(10));
    assert_eq!(rp(&legacy, &mut h), (Err("OutOfGas".into()), 11));
    assert_eq!(h.meter.exhausted().map(|e| e.kind()), Some("out-of-gas"));
    // L: the legacy meter refuses without charging.
    assert_eq!(
        outcome(l_mode(&p.code, &mut StubHost::new(), 10).result),
        Ok(b(true))
    );
    let e = l_mode(&p.code, &mut StubHost::new(), 9);
    assert_eq!(
        outcome(e.result),
        Err("Out of gas: needed 5 but only 4 remaining (consumed 5 of 9 limit)".into())
    );
    let p = erynoa_ecl::compile("policy \"t\" { return sender.trust.R }", None).unwrap();
    let e = l_mode(&p.code, &mut StubHost::new(), 100);
    assert_eq!(
        outcome(e.result),
        Err("Out of gas: needed 100 but only 99 remaining (consumed 1 of 100 limit)".into())
    );
}

// ---- 8.2 bytecode-level cases ----

#[test]
fn b1_to_b12_core_opcodes() {
    assert_eq!(bc(&[pn(42.0), Return]), (Ok(n(42.0)), 6));
    assert_eq!(bc(&[pn(5.0), pn(3.0), Add, Return]), (Ok(n(8.0)), 9));
    assert_eq!(
        bc(&[pn(10.0), pn(3.0), Sub, pn(2.0), Mul, Return]),
        (Ok(n(14.0)), 13)
    );
    assert_eq!(
        bc(&[
            pn(5.0),
            pn(3.0),
            Gt,
            JumpIfFalse(6),
            pn(100.0),
            Return,
            pn(200.0),
            Return
        ]),
        (Ok(n(100.0)), 12)
    );
    assert_eq!(
        bc(&[push(b(true)), push(b(false)), And, Return]),
        (Ok(b(false)), 9)
    );
    let tv = Value::TrustVector([0.8, 0.7, 0.6, 0.5, 0.4, 0.3]);
    assert_eq!(
        bc(&[push(tv.clone()), TrustDim(TrustDim::R), Return]),
        (Ok(n(0.8)), 9)
    );
    let half = Value::TrustVector([0.5; 6]);
    assert_eq!(
        bc(&[
            push(half.clone()),
            push(half),
            TrustCombine,
            TrustDim(TrustDim::R),
            Return
        ]),
        (Ok(n(0.75)), 25)
    );
    let mut host =
        StubHost::new().with_trust("did:erynoa:self:alice", [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]);
    let e = l_mode(
        &[
            push(Value::did("did:erynoa:self:alice")),
            LoadTrust,
            TrustDim(TrustDim::R),
            Return,
        ],
        &mut host,
        10_000,
    );
    assert_eq!((outcome(e.result), e.meter_gas), (Ok(n(0.9)), 109));
    assert_eq!(bc(&[pn(1.0), pn(2.0), Add, Return]), (Ok(n(3.0)), 9));
    let e = l_mode(&[pn(1.0), pn(2.0), Add, Return], &mut StubHost::new(), 1);
    assert!(outcome(e.result).unwrap_err().starts_with("Out of gas"));
    assert_eq!(
        bc(&[push(b(true)), Assert, pn(42.0), Return]),
        (Ok(n(42.0)), 10)
    );
    assert_eq!(
        bc(&[push(b(false)), Assert, pn(42.0), Return]).0,
        Err("Assertion failed".into())
    );
    assert_eq!(
        bc(&[pn(10.0), pn(0.0), Div, Return]).0,
        Err("Division by zero".into())
    );
    let mut host = StubHost::new().with_credential("did:erynoa:self:alice", "email-verified");
    let e = l_mode(
        &[
            push(Value::did("did:erynoa:self:alice")),
            push(Value::string("email-verified")),
            HasCredential,
            Return,
        ],
        &mut host,
        10_000,
    );
    assert_eq!((outcome(e.result), e.meter_gas), (Ok(b(true)), 57));
}

#[test]
fn b13_to_b22_math_strings_arrays_time() {
    assert_eq!(bc(&[pn(0.5), Surprisal, Return]), (Ok(n(1.0)), 14));
    assert_eq!(bc(&[pn(0.125), Surprisal, Return]).0, Ok(n(3.0)));
    assert_eq!(
        bc(&[pn(0.0), Surprisal, Return]).0,
        Err("Surprisal requires probability in (0, 1], got 0".into())
    );
    let tv = |t| push(Value::TrustVector(t));
    assert_eq!(
        bc(&[
            tv([0.8, 0.7, 0.9, 0.6, 0.8, 0.7]),
            pn(0.6),
            TrustAboveThreshold,
            Return
        ]),
        (Ok(b(true)), 17)
    );
    assert_eq!(
        bc(&[
            tv([0.8, 0.7, 0.9, 0.5, 0.8, 0.7]),
            pn(0.6),
            TrustAboveThreshold,
            Return
        ])
        .0,
        Ok(b(false))
    );
    assert_eq!(
        bc(&[tv([1.0; 6]), tv([0.0; 6]), TrustDistance, Return]),
        (Ok(n(6f64.sqrt())), 22)
    );
    let s = |x: &str| push(Value::string(x));
    assert_eq!(bc(&[s("Hello"), StrLen, Return]).0, Ok(n(5.0)));
    assert_eq!(bc(&[s("Ω"), StrLen, Return]).0, Ok(n(2.0)));
    assert_eq!(
        bc(&[s("Hello World"), s("World"), StrContains, Return]).0,
        Ok(b(true))
    );
    assert_eq!(bc(&[pn(16.0), MathSqrt, Return]).0, Ok(n(4.0)));
    assert_eq!(
        bc(&[pn(-1.0), MathSqrt, Return]).0,
        Err("sqrt requires non-negative number, got -1".into())
    );
    assert_eq!(
        bc(&[pn(150.0), pn(0.0), pn(100.0), Clamp, Return]).0,
        Ok(n(100.0))
    );
    assert_eq!(
        bc(&[pn(0.0), pn(10.0), pn(0.5), Lerp, Return]).0,
        Ok(n(5.0))
    );
    let arr = |v: Vec<Value>| push(Value::Array(v.into()));
    assert_eq!(
        bc(&[arr(vec![n(1.0), n(2.0), n(3.0)]), ArrayLen, Return]).0,
        Ok(n(3.0))
    );
    let abc = vec![Value::string("a"), Value::string("b"), Value::string("c")];
    assert_eq!(
        bc(&[arr(abc), pn(1.0), ArrayGet, Return]).0,
        Ok(Value::string("b"))
    );
    let roles = vec![
        Value::string("user"),
        Value::string("admin"),
        Value::string("guest"),
    ];
    assert_eq!(
        bc(&[s("admin"), arr(roles), Contains, Return]).0,
        Ok(b(true))
    );
    assert_eq!(
        bc(&[tv([0.8, 0.7, 0.6, 0.5, 0.4, 0.3]), TrustNorm, Return]),
        (Ok(n(0.5499999999999999)), 16)
    );
    let w = |ws: Vec<f64>| arr(ws.into_iter().map(n).collect());
    let t = [0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
    assert_eq!(
        bc(&[
            tv(t),
            w(vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
            TrustWeightedAvg,
            Return
        ]),
        (Ok(n(0.55)), 19)
    );
    assert_eq!(
        bc(&[tv(t), w(vec![0.0; 6]), TrustWeightedAvg, Return]).0,
        Ok(n(0.0))
    );
    // Weights are read as `as_number` reads values: a bool is 1.0 or 0.0.
    let bools = vec![b(true), n(0.0), n(0.0), n(0.0), b(false), n(0.0)];
    assert_eq!(
        bc(&[tv(t), arr(bools), TrustWeightedAvg, Return]),
        (Ok(n(0.8)), 19)
    );
    assert_eq!(
        bc(&[tv(t), w(vec![1.0; 5]), TrustWeightedAvg, Return]).0,
        Err("TrustWeightedAvg requires 6 weights, got 5".into())
    );
    assert_eq!(
        bc(&[
            tv(t),
            arr(vec![Value::string("x"); 6]),
            TrustWeightedAvg,
            Return
        ])
        .0,
        Err("Weight must be a number".into())
    );
    assert_eq!(
        bc(&[
            pn(0.1),
            pn(0.2),
            pn(0.3),
            pn(0.4),
            pn(0.5),
            pn(1.5),
            TrustCreate,
            Return
        ]),
        (Ok(Value::TrustVector([0.1, 0.2, 0.3, 0.4, 0.5, 1.5])), 19)
    );
    assert_eq!(bc(&[pn(2.5), MathRound, Return]).0, Ok(n(3.0)));
    assert_eq!(bc(&[pn(-2.5), MathRound, Return]).0, Ok(n(-3.0)));
    assert_eq!(
        bc(&[arr(vec![n(7.0)]), pn(-1.0), ArrayGet, Return]).0,
        Ok(n(7.0))
    );
    assert_eq!(
        bc(&[arr(vec![n(7.0), n(8.0)]), pn(1.9), ArrayGet, Return]).0,
        Ok(n(8.0))
    );
    assert_eq!(
        bc(&[arr(vec![]), pn(0.0), ArrayGet, Return]).0,
        Err("Array index 0 out of bounds (len: 0)".into())
    );
    assert_eq!(
        bc(&[pn(1_699_999_000.0), TimeSince, Return]),
        (Ok(n(1000.0)), 11)
    );
    assert_eq!(bc(&[pn(1_800_000_000.0), TimeSince, Return]).0, Ok(n(0.0)));
}

#[test]
fn b23_to_b27_calls_halts_and_crashes() {
    assert_eq!(
        bc(&[Call(3, 0), pn(2.0), Return, pn(1.0), Return]),
        (Ok(n(2.0)), 22)
    );
    assert_eq!(bc(&[pn(3.0), Halt, pn(4.0)]), (Ok(n(3.0)), 1));
    assert_eq!(bc(&[Abort]).0, Err("Program aborted".into()));
    assert_eq!(bc(&[pn(9.0), Jump(100)]), (Ok(n(9.0)), 2));
    assert_eq!(
        bc(&[pn(1.0), Log]).0,
        Err("Expected string, got number".into())
    );
    // §10: 52 gas, the program has no Return.
    assert_eq!(
        bc(&[
            push(Value::string("kyc")),
            push(Value::did("x")),
            HasCredential
        ]),
        (Ok(b(false)), 52)
    );
    // B27: the legacy host crashed; here it is an error.
    assert_eq!(
        bc(&[pn(3.0), pn(5.0), pn(1.0), Clamp, Return]).0,
        Err("clamp requires min <= max, got min 5 and max 1".into())
    );
    assert!(
        bc(&[pn(3.0), pn(f64::NAN), pn(1.0), Clamp, Return])
            .0
            .is_err()
    );
}

#[test]
fn signed_zeros_follow_the_legacy_min_max() {
    let z = |x: f64| pn(x);
    let r = bc(&[z(-0.0), z(0.0), Max, Return]).0.unwrap();
    assert!(matches!(r, Value::Number(x) if x == 0.0 && x.is_sign_negative()));
    let r = bc(&[z(0.0), z(-0.0), Min, Return]).0.unwrap();
    assert!(matches!(r, Value::Number(x) if x == 0.0 && x.is_sign_positive()));
    let r = bc(&[push(Value::TrustVector([-0.0; 6])), TrustNorm, Return])
        .0
        .unwrap();
    assert!(matches!(r, Value::Number(x) if x.is_sign_negative()));
    let folded = optimize(&[z(-0.0), z(0.0), Max, Return]);
    assert!(matches!(&folded[0], PushConst(Value::Number(x)) if x.is_sign_negative()));
}

#[test]
fn run_policy_does_not_relocate_jump_targets() {
    let code = [
        pn(5.0),
        pn(3.0),
        Lt,
        JumpIfFalse(6),
        pn(100.0),
        Return,
        pn(200.0),
        Return,
    ];
    assert_eq!(bc(&code).0, Ok(n(200.0)));
    let mut h = alice();
    assert_eq!(rp(&code, &mut h).0, Ok(Value::did("did:test:alice")));
    // [Jump(1)] under run_policy loops until the budget refuses.
    let mut h = alice().with_limits(BudgetLimits {
        gas_limit: 1000,
        ..BudgetLimits::default()
    });
    assert_eq!(rp(&[Jump(1)], &mut h), (Err("OutOfGas".into()), 1001));
}

// ---- 8.3 budget and runner cases ----

#[test]
fn r1_to_r5_budget_mode() {
    let budget = RunOptions {
        metering: Metering::Budget,
        max_stack_depth: 1024,
        push_caller: false,
    };
    let mut h = StubHost::new();
    let e = run(&[pn(1.0), pn(2.0), Add, Return], &mut h, budget);
    assert_eq!((outcome(e.result), h.meter.gas_used()), (Ok(n(3.0)), 9));

    let mut code = Vec::new();
    for _ in 0..50 {
        code.extend([pn(1.0), Pop]);
    }
    code.extend([push(b(true)), Return]);
    let mut h = StubHost::new().with_limits(BudgetLimits {
        gas_limit: 5,
        mana_limit: 1000,
        ..BudgetLimits::default()
    });
    let e = run(&code, &mut h, budget);
    assert_eq!(outcome(e.result), Err("OutOfGas".into()));
    assert_eq!(h.meter.gas_used(), 6);
    assert!(h.meter.exhausted().is_some());

    // R3: max depth 5 lets 6 values on; the 7th instruction fails.
    let mut h = StubHost::new().with_limits(BudgetLimits {
        gas_limit: 100_000,
        max_stack_depth: 5,
        ..BudgetLimits::default()
    });
    let mut code = vec![pn(1.0); 10];
    code.push(Return);
    let e = run(
        &code,
        &mut h,
        RunOptions {
            max_stack_depth: 5,
            ..budget
        },
    );
    assert_eq!(
        (outcome(e.result), h.meter.gas_used()),
        (Err("Stack overflow".into()), 7)
    );

    let mut h = StubHost::new();
    h.meter.charge_mana(100).unwrap();
    let e = run(&[push(b(true)), Return], &mut h, budget);
    assert_eq!((outcome(e.result), h.meter.mana_used()), (Ok(b(true)), 100));

    let mut h = StubHost::new().with_limits(BudgetLimits {
        mana_limit: 10,
        ..BudgetLimits::default()
    });
    assert!(h.meter.charge_mana(11).is_err());
    let e = run(&[push(b(true)), Return], &mut h, budget);
    assert_eq!(
        (outcome(e.result), h.meter.gas_used()),
        (Err("OutOfMana".into()), 0)
    );
}

#[test]
fn r6_r7_r8_layered_gas() {
    let layered = RunOptions {
        metering: Metering::Layered,
        max_stack_depth: 1024,
        push_caller: false,
    };
    let mut h = StubHost::new();
    run(
        &[pn(1.0), pn(2.0), Add, Pop, push(b(true)), Return],
        &mut h,
        layered,
    );
    let l = h.meter.layers();
    assert_eq!((l.compute, l.network, l.storage), (110, 0, 0));

    let mut h = StubHost::new();
    let code = [
        push(Value::did("x")),
        LoadTrust,
        TrustDim(TrustDim::R),
        push(Value::string("m")),
        Log,
        Return,
    ];
    let e = run(&code, &mut h, layered);
    assert_eq!(outcome(e.result), Ok(n(0.5)));
    assert_eq!(h.meter.gas_used(), 22);
    let l = h.meter.layers();
    assert_eq!(
        (l.network, l.compute, l.storage, l.total()),
        (10, 100, 200, 310)
    );

    for (op, want) in [
        (Add, (GasLayer::Compute, 2)),
        (Sub, (GasLayer::Compute, 2)),
        (Mul, (GasLayer::Compute, 3)),
        (Div, (GasLayer::Compute, 5)),
        (pn(1.0), (GasLayer::Compute, 1)),
        (LoadTrust, (GasLayer::Network, 10)),
        (HasCredential, (GasLayer::Network, 5)),
        (ResolveDid, (GasLayer::Network, 5)),
        (Log, (GasLayer::Storage, 2)),
    ] {
        assert_eq!(op.layer_cost(), want, "{op}");
    }
}

#[test]
fn r9_r10_r12_run_policy() {
    let mut h = alice();
    let code = [LoadTrust, TrustDim(TrustDim::R), pn(0.3), Gte, Return];
    assert_eq!(rp(&code, &mut h), (Ok(b(true)), 112));
    let mut code = Vec::new();
    for _ in 0..100 {
        code.extend([pn(1.0), Pop]);
    }
    code.push(Return);
    let mut h = alice().with_limits(BudgetLimits {
        gas_limit: 10,
        ..BudgetLimits::default()
    });
    assert!(rp(&code, &mut h).0.is_err());
    assert!(h.meter.exhausted().is_some());
    // PolicyBuilder: push_sender(alice).require_trust_r(0.5).allow().
    let builder = |did: &str| {
        vec![
            push(Value::did(did)),
            LoadTrust,
            TrustDim(TrustDim::R),
            pn(0.5),
            Gte,
            Assert,
            push(b(true)),
            Return,
        ]
    };
    let host = || StubHost::new().with_trust("did:e:alice", [0.8; 6]);
    assert_eq!(
        l_mode(&builder("did:e:alice"), &mut host(), 10_000).result,
        Ok(Outcome::Return(b(true)))
    );
    assert!(
        l_mode(&builder("did:e:bob"), &mut host(), 10_000)
            .result
            .is_err()
    );
}

#[test]
fn r11_r17_limits() {
    let l = BudgetLimits {
        gas_limit: 100_000,
        mana_limit: 5_000,
        max_stack_depth: 512,
        timeout_ms: 1_000,
        ..BudgetLimits::default()
    };
    assert_eq!(
        (l.gas_limit, l.mana_limit, l.max_stack_depth),
        (100_000, 5_000, 512)
    );
    let gateway = BudgetLimits {
        gas_limit: 50_000,
        mana_limit: 10_000,
        ..BudgetLimits::default()
    };
    let scaled = gateway.with_trust_factor(0.8);
    assert_eq!((scaled.gas_limit, scaled.mana_limit), (45_000, 9_000));
    let scaled = gateway.with_trust_factor(0.1);
    assert_eq!((scaled.gas_limit, scaled.mana_limit), (27_500, 5_500));
}

#[test]
fn r20_the_legacy_meter_refuses_without_charging() {
    // GasMeter(10): 5 fits, then 10 is refused and nothing is charged.
    let code = [
        pn(1.0),
        pn(1.0),
        pn(1.0),
        pn(1.0),
        pn(1.0),
        Call(6, 0),
        Return,
    ];
    let e = l_mode(&code, &mut StubHost::new(), 10);
    assert_eq!(
        outcome(e.result),
        Err("Out of gas: needed 10 but only 5 remaining (consumed 5 of 10 limit)".into())
    );
    assert_eq!(e.meter_gas, 5);
}

/// The gateway's standard policies (§6.4), run as the gateway ran them:
/// `run_policy` with the caller first.
#[test]
fn r13_to_r16_standard_gateway_policies() {
    let r_at_least = |op: OpCode, t: f64| vec![LoadTrust, TrustDim(TrustDim::R), pn(t), op, Return];
    let trusted = |t: f64| {
        StubHost::new()
            .with_trust("did:test:alice", [t; 6])
            .with_caller("did:test:alice")
    };
    // default_entry: R >= 0.3; 112 gas at runtime (estimated 111).
    let entry = r_at_least(Gte, 0.3);
    assert_eq!(entry.iter().map(OpCode::gas_cost).sum::<u64>(), 111);
    assert_eq!(rp(&entry, &mut trusted(0.8)), (Ok(b(true)), 112));
    // With R = 0.1 the caller's trust (known DID) is 0.1: denied.
    assert_eq!(rp(&entry, &mut trusted(0.1)).0, Ok(b(false)));
    // high_trust: R >= 0.7.
    assert_eq!(rp(&r_at_least(Gte, 0.7), &mut trusted(0.8)).0, Ok(b(true)));
    assert_eq!(rp(&r_at_least(Gte, 0.7), &mut trusted(0.5)).0, Ok(b(false)));
    // public: R > 0, newcomers included.
    assert_eq!(rp(&r_at_least(Gt, 0.0), &mut trusted(0.1)).0, Ok(b(true)));
    // verified_users: R >= 0.5 and `email-verified`.
    let verified = vec![
        Dup,
        LoadTrust,
        TrustDim(TrustDim::R),
        pn(0.5),
        Gte,
        Swap,
        push(Value::string("email-verified")),
        HasCredential,
        And,
        Return,
    ];
    assert_eq!(verified.iter().map(OpCode::gas_cost).sum::<u64>(), 166);
    let mut with = trusted(0.8).with_credential("did:test:alice", "email-verified");
    assert_eq!(rp(&verified, &mut with).0, Ok(b(true)));
    assert_eq!(rp(&verified, &mut trusted(0.8)).0, Ok(b(false)));
    // invite_only: the `invited` credential; estimated 56.
    let invite = vec![push(Value::string("invited")), HasCredential, Return];
    assert_eq!(invite.iter().map(OpCode::gas_cost).sum::<u64>(), 56);
    let mut invited = StubHost::new()
        .with_credential("did:test:alice", "invited")
        .with_caller("did:test:alice");
    assert_eq!(rp(&invite, &mut invited).0, Ok(b(true)));
}

#[test]
fn s11_s12_parse_and_lex() {
    // S11: parses with no error diagnostics.
    let (file, _) = erynoa_ecl::parse("policy \"test\" { require true }").expect("parses");
    assert_eq!(file.policies().count(), 1);
    // S12: the tokens include Policy, Require and GtEq.
    use erynoa_ecl::lexer::{Tok, lex};
    let (tokens, _) = lex("policy \"test\" { require x >= 0.5 }").expect("lexes");
    let kinds: Vec<Tok> = tokens.into_iter().map(|t| t.tok).collect();
    for want in [Tok::Policy, Tok::Require, Tok::GtEq] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }
}

/// ECL 1.1: `+` joins texts. A string on either side makes it a join; the
/// other side is converted as `str()` converts it (ToText, 3 gas), a DID
/// is joined as written; `Concat` costs 3 plus 1 per 64 bytes it writes.
#[test]
fn e11_joining_texts() {
    let s = |x: &str| Value::string(x);
    // PushConst 1 + PushConst 1 + ToText 3 + Concat 3 + Return 5.
    assert_eq!(
        src(r#"policy "p" { return "n=" + 2.5 }"#),
        (Ok(s("n=2.5")), 1 + 1 + 3 + 3 + 5)
    );
    assert_eq!(
        src(r#"policy "p" { return 1 + 2 + "x" + true + null }"#).0,
        Ok(s("3xtruenull"))
    );
    assert_eq!(
        src(r#"policy "p" { return "by " + caller }"#).0,
        Ok(s("by did:test:alice"))
    );
    // Numbers format as str() formats them: shortest round trip.
    assert_eq!(
        src(r#"policy "p" { deny "score " + 0.1 * 3 + " is below " + 0.6 }"#).0,
        Err("deny: score 0.30000000000000004 is below 0.6".into())
    );
    // Numbers still add; a trust vector has no text.
    assert_eq!(src(r#"policy "p" { return 1 + 2 }"#).0, Ok(n(3.0)));
    assert_eq!(
        compile_error(r#"policy "p" { return "t" + caller.trust }"#),
        "E0203"
    );
    // One more gas per 64 bytes of the result.
    let a = "a".repeat(100);
    let (v, gas) = bc(&[push(s(&a)), push(s(&a)), Concat, Return]);
    assert_eq!(v, Ok(s(&a.repeat(2))));
    assert_eq!(gas, 1 + 1 + 3 + 200 / 64 + 5);
    // A result over 64 KiB is an error, not a copy.
    let big = "b".repeat(40_000);
    assert_eq!(
        bc(&[push(s(&big)), push(s(&big)), Concat, Return]).0,
        Err("Text too long: 80000 bytes, the limit is 65536".into())
    );
    // Only texts join at run time, with the legacy type error otherwise.
    assert_eq!(
        bc(&[push(s("a")), pn(1.0), Concat, Return]).0,
        Err("Expected string, got number".into())
    );
    // The per-byte gas is charged before the copy: out of gas, not copied.
    let e = l_mode(
        &[push(s(&a)), push(s(&a)), Concat, Return],
        &mut StubHost::new(),
        6,
    );
    assert!(
        matches!(
            e.result,
            Err(erynoa_ecl::vm::VmError::OutOfGas { needed: 3, .. })
        ),
        "{e:?}"
    );
    // Concat is the first ECL 1.1 opcode: the legacy numbering is unchanged.
    assert_eq!(Concat.index(), 75);
    let file = erynoa_ecl::eclc::write(&[push(s("x")), push(s("y")), Concat, Return]);
    assert_eq!(
        erynoa_ecl::eclc::read(&file).expect("reads"),
        [push(s("x")), push(s("y")), Concat, Return]
    );
}
