//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.

mod guests;

use std::process::{Command, ExitCode};
use std::time::Instant;

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  setup          install the wasm guest toolchain if it is missing (idempotent)
  build-guests   build every guest policy into a component under target/guests/
  demo           build the guests and the CLI, then evaluate sample requests
  test           build the guests, then run every test of the workspace
  ci             what CI runs: fmt check, clippy, then `test`
";

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "setup" => guests::Toolchain::ensure().map(|_| ()),
        "build-guests" => guests::build_all().map(|_| ()),
        "demo" => demo(),
        "test" => test(),
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

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn demo() -> Result<(), String> {
    let dir = guests::build_all()?;
    step("building the erynoa CLI (release)", || {
        run(cargo().args(["build", "--release", "-p", "erynoa", "--quiet"]))
    })?;
    let root = guests::workspace_root();
    let policy = |name: &str| dir.join(format!("{name}.wasm")).display().to_string();
    run(Command::new(root.join("target/release/erynoa"))
        .current_dir(&root)
        .args([
            "run",
            "--policy",
            &policy("trust_threshold"),
            "--policy",
            &policy("kyc_score"),
            "--policy",
            &policy("quota"),
            "--state",
            "demo/state.json",
            "--requests",
            "demo/requests.json",
        ]))
}

fn test() -> Result<(), String> {
    guests::build_all()?;
    step(
        "running every test (release: the tests drive real wasmtime)",
        || run(cargo().args(["test", "--workspace", "--release"])),
    )
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
