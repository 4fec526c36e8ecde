//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.

mod demo;
mod docs;
mod guests;
mod loadtest;

use std::process::{Command, ExitCode};
use std::time::Instant;

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  setup          install the wasm guest toolchain if it is missing (idempotent)
  build-guests   build every guest policy into a component under target/guests/
  demo           build the guests and the CLI, evaluate sample requests, then serve them over HTTP
  loadtest       start `erynoa serve` on the demo policies and drive it at fixed rates (open loop)
  test           build the guests, run every test, check the templates and the book, then `fuzz`
  templates      make a project from each template, build and test it (part of `test`)
  book           check the docs' links and includes, then build the book (installing mdbook if missing)
  fuzz           run each fuzz target for FUZZ_SECONDS (default 60), installing cargo-fuzz if missing
  ci             what CI runs: fmt check, clippy, then `test`
";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "setup" => guests::Toolchain::ensure().map(|_| ()),
        "build-guests" => guests::build_all().map(|_| ()),
        "demo" => demo::demo(),
        "loadtest" => loadtest::loadtest(
            std::env::var("LOADTEST_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(3000),
        ),
        "test" => test(),
        "templates" => templates(),
        "fuzz" => fuzz(),
        "book" => book(),
        "ci" => ci(),
        "" | "help" | "-h" | "--help" => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown task `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a step and its duration when done.
pub(crate) fn step<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let out = f()?;
    eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(out)
}

/// Runs `cmd`, failing with its description when it does not succeed.
pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test() -> Result<(), String> {
    guests::build_all()?;
    step(
        "running every test (release: the tests drive real wasmtime)",
        || run(cargo().args(["test", "--workspace", "--release"])),
    )?;
    templates()?;
    book()?;
    // The service end to end, briefly: no request may fail at any rate.
    step("a short load test of erynoa serve (300 ms a rate)", || {
        loadtest::loadtest(300)
    })?;
    fuzz()
}

/// Checks that every relative link and include in the docs names a file
/// that exists (for the pages the book includes from `docs/`, from both
/// places they are read), then builds the book with mdbook.
fn book() -> Result<(), String> {
    let root = guests::workspace_root();
    step("book: links and includes", || {
        let broken = docs::broken_links(&root.join("docs"))?;
        if broken.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "broken links in the docs:\n  {}",
                broken.join("\n  ")
            ))
        }
    })?;
    let has_mdbook = Command::new("mdbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_mdbook {
        step("installing mdbook (once, a few minutes)", || {
            run(cargo().args(["install", "--locked", "mdbook", "--version", "^0.4"]))
        })?;
    }
    step("book: mdbook build docs/book", || {
        let out = Command::new("mdbook")
            .args(["build", "docs/book"])
            .current_dir(&root)
            .output()
            .map_err(|e| format!("cannot run mdbook: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        // mdbook reports a missing include as an error but may still exit 0.
        if !out.status.success() || log.contains("ERROR") {
            return Err(format!("mdbook build failed:\n{log}"));
        }
        Ok(())
    })
}

/// Makes a project from each template as an author would (`erynoa new`),
/// builds it, runs its unit and policy tests, and evaluates it in the host.
fn templates() -> Result<(), String> {
    let root = guests::workspace_root();
    step("building the erynoa CLI (release)", || {
        run(cargo().args(["build", "--release", "-p", "erynoa", "--quiet"]))
    })?;
    let dir = root.join("target/template-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let erynoa = || {
        let mut cmd = Command::new(root.join("target/release/erynoa"));
        cmd.current_dir(&dir);
        cmd
    };
    step(
        "templates: the ECL project, its policy tests on both back ends",
        || {
            run(erynoa().args(["new", "ecl-check", "--template", "ecl"]))?;
            run(erynoa().args(["ecl", "check", "ecl-check/policy.ecl"]))?;
            run(erynoa().args(["test", "ecl-check/policy.test.toml"]))?;
            run(erynoa().args([
                "run",
                "--allow-unsigned",
                "-p",
                "ecl-check/policy.ecl@wasm",
                "-s",
                "ecl-check/state.json",
                "-r",
                "ecl-check/request.json",
            ]))
        },
    )?;
    step(
        "templates: the Rust project, its unit tests, component and policy tests",
        || {
            run(erynoa().args(["new", "rust-check", "--template", "rust"]))?;
            let manifest = dir.join("rust-check/Cargo.toml");
            run(cargo()
                .arg("test")
                .arg("--manifest-path")
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", root.join("target/template-tests")))?;
            let wasm = guests::build_project(&manifest, "rust_check")?;
            run(erynoa()
                .args(["test", "rust-check/policy.test.toml", "--policy"])
                .arg(&wasm))?;
            run(erynoa()
                .args(["run", "--allow-unsigned", "-p"])
                .arg(&wasm)
                .args([
                    "-s",
                    "rust-check/state.json",
                    "-r",
                    "rust-check/request.json",
                ]))
        },
    )?;
    let has_cargo_generate = cargo()
        .args(["generate", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_generate {
        eprintln!("==> templates: cargo-generate is not installed; skipped comparing with it");
        return Ok(());
    }
    step(
        "templates: cargo generate makes the same Rust project as erynoa new",
        || {
            let sdk = root.join("sdk");
            let sdk = sdk.to_string_lossy();
            run(cargo()
                .current_dir(&dir)
                .args(["generate", "--path"])
                .arg(root.join("templates/rust-policy"))
                .args([
                    "--name",
                    "generated",
                    "--silent",
                    "--vcs",
                    "none",
                    "--define",
                ])
                .arg(format!("sdk_path={sdk}")))?;
            run(erynoa()
                .args(["new", "expected", "--template", "rust", "--sdk"])
                .arg(sdk.as_ref()))?;
            for file in [
                "Cargo.toml",
                "src/lib.rs",
                "policy.test.toml",
                "state.json",
                "request.json",
                "README.md",
            ] {
                let read = |project: &str| {
                    std::fs::read_to_string(dir.join(project).join(file))
                        .map(|t| t.replace(project, "NAME"))
                        .map_err(|e| format!("{project}/{file}: {e}"))
                };
                if read("generated")? != read("expected")? {
                    return Err(format!("cargo generate and erynoa new differ in {file}"));
                }
            }
            Ok(())
        },
    )
}

/// Fuzz targets in `fuzz/`, each run for a bounded time.
const FUZZ_TARGETS: [&str; 5] = [
    "signature_section",
    "ecl_front",
    "ecl_compile",
    "load_component",
    "decision_lowering",
];

fn fuzz() -> Result<(), String> {
    let has_cargo_fuzz = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        step("installing cargo-fuzz (once, about a minute)", || {
            run(cargo().args(["install", "--locked", "cargo-fuzz"]))
        })?;
    }
    let seconds = std::env::var("FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    let root = guests::workspace_root();
    for target in FUZZ_TARGETS {
        // New inputs go to the first directory (not committed); the second
        // holds every input a past run failed on, so each is tried first.
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let regressions = root.join("fuzz/regressions").join(target);
        step(&format!("fuzzing {target} for {seconds} s"), || {
            // cargo-fuzz passes -Z flags; this lets a stable toolchain take them.
            // No sanitizer: the targets are safe Rust (and wasmtime), where
            // AddressSanitizer finds little, and it would build wasmtime
            // twice as slowly and run its compiler a third as fast.
            run(cargo()
                .current_dir(&root)
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", "--sanitizer", "none", target])
                .arg(&corpus)
                .args(regressions.is_dir().then_some(&regressions))
                .args(["--", &format!("-max_total_time={seconds}")]))
        })?;
    }
    Ok(())
}

fn ci() -> Result<(), String> {
    step("cargo fmt --check", || {
        run(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    step("cargo clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--release",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    test()
}
