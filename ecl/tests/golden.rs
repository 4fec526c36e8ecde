//! Golden tests for the code the compiler generates: each
//! `tests/component/<case>/policy.ecl` with the WAT of its core module in
//! `expected.wat` beside it, so a reader sees what each construct becomes
//! and a change to the output shows in review.
//!
//! After an intended change, re-bless with
//! `ERYNOA_BLESS=1 cargo test -p erynoa-ecl --test golden`.

#![allow(clippy::panic, reason = "a failed comparison fails the test")]

use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/component");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/component")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("policy.ecl").is_file())
        .collect();
    cases.sort();
    cases
}

fn wat_of(case: &Path) -> String {
    let source = std::fs::read_to_string(case.join("policy.ecl")).expect("policy.ecl");
    let program = erynoa_ecl::compile(&source, None)
        .unwrap_or_else(|d| panic!("{}", d.render("policy.ecl", &source)));
    let core = erynoa_ecl::component::core(&program).expect("compiles");
    wasmprinter::print_bytes(&core).expect("prints")
}

/// The first lines where `expected` and `actual` differ, with context.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = first.saturating_sub(3);
    let mut out = format!("first difference at line {}:\n", first + 1);
    for i in from..(first + 8) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out.push_str(&format!(
        "({} lines expected, {} generated)",
        e.len(),
        a.len()
    ));
    out
}

#[test]
fn generated_code_matches_the_golden_files() {
    let bless = std::env::var_os("ERYNOA_BLESS").is_some();
    let mut failed = Vec::new();
    for case in cases() {
        let actual = wat_of(&case);
        let path = case.join("expected.wat");
        if bless {
            std::fs::write(&path, &actual).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            failed.push(format!("{}:\n{}", case.display(), diff(&expected, &actual)));
        }
    }
    assert!(
        failed.is_empty(),
        "generated code changed (re-bless with ERYNOA_BLESS=1 if intended):\n\n{}",
        failed.join("\n\n")
    );
}

#[test]
fn the_cases_use_every_host_import() {
    let all: String = cases().iter().map(|c| wat_of(c)).collect();
    for (interface, function) in [
        ("trust", "get-trust"),
        ("identity", "has-credential"),
        ("identity", "resolve-did"),
        ("state", "store-get"),
        ("state", "store-put"),
        ("state", "store-delete"),
        ("context", "timestamp"),
        ("context", "log"),
        ("events", "emit-event"),
        ("budget", "gas-left"),
        ("budget", "consume-gas"),
        ("prelude", "format-number"),
        ("prelude", "parse-number"),
        ("prelude", "log2"),
        ("prelude", "fmod"),
        ("prelude", "eq-ignore-case"),
    ] {
        let import = format!("(import \"erynoa:ecl/{interface}@0.1.0\" \"{function}\"");
        assert!(
            all.contains(&import),
            "no case imports {interface}.{function}"
        );
    }
    assert!(cases().len() >= 12);
}
