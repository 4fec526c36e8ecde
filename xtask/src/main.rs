//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.

mod docs;
mod guests;

use std::process::{Command, ExitCode};
use std::time::Instant;

const HELP: &str = "\
usage: cargo xtask <task>

tasks:
  setup          install the wasm guest toolchain if it is missing (idempotent)
  build-guests   build every guest policy into a component under target/guests/
  demo           build the guests and the CLI, then evaluate sample requests
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
        "demo" => demo(),
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

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn demo() -> Result<(), String> {
    let dir = guests::build_all()?;
    step("building the erynoa CLI (release)", || {
        run(cargo().args(["build", "--release", "-p", "erynoa", "--quiet"]))
    })?;
    let root = guests::workspace_root();
    let erynoa = || {
        let mut cmd = Command::new(root.join("target/release/erynoa"));
        cmd.current_dir(&root);
        cmd
    };
    // A fresh demo key signs the examples, and the host trusts only that key,
    // granting exactly the interfaces the examples import.
    let demo = root.join("target/demo");
    std::fs::create_dir_all(&demo).map_err(|e| format!("cannot create {}: {e}", demo.display()))?;
    let key = demo.join("demo-key");
    run(erynoa()
        .args(["keygen", "--force", "--comment", "erynoa-demo"])
        .arg(&key))?;
    let sign = |input: &std::path::Path, signed: &std::path::Path| {
        run(erynoa()
            .arg("sign")
            .arg(input)
            .arg("-k")
            .arg(demo.join("demo-key.key"))
            .arg("-o")
            .arg(signed))
    };
    let examples = ["trust_threshold", "kyc_score", "quota"];
    let mut policies = Vec::new();
    for name in examples {
        let signed = demo.join(format!("{name}.wasm"));
        sign(&dir.join(format!("{name}.wasm")), &signed)?;
        policies.push(signed);
    }
    // The same policies in ECL: compiled to components and signed like the
    // Rust ones, and run from source on the built-in VM.
    let sources: Vec<_> = examples
        .iter()
        .map(|name| root.join(format!("guest-examples/ecl/{name}.ecl")))
        .collect();
    for (name, source) in examples.iter().zip(&sources) {
        let compiled = demo.join(format!("{name}.ecl.wasm"));
        run(erynoa().arg("compile").arg(source).arg("-o").arg(&compiled))?;
        let signed = demo.join(format!("ecl_{name}.wasm"));
        sign(&compiled, &signed)?;
        policies.push(signed);
    }
    let public = std::fs::read_to_string(demo.join("demo-key.pub"))
        .map_err(|e| format!("cannot read the demo key: {e}"))?;
    let pins = Command::new(root.join("target/release/erynoa"))
        .args(["ecl", "pin"])
        .args(&sources)
        .output()
        .map_err(|e| format!("cannot run erynoa ecl pin: {e}"))?;
    if !pins.status.success() {
        return Err(format!(
            "erynoa ecl pin failed: {}",
            String::from_utf8_lossy(&pins.stderr)
        ));
    }
    let store = demo.join("trust.toml");
    let toml = format!(
        "# Written by `cargo xtask demo`: trust only the demo key, with what the examples import\n\
         # (compiled ECL also imports the budget and reports its own gas: `self-metering`),\n\
         # and pin the ECL sources the built-in VM runs.\n\
         revoked = []\n\n[[key]]\nname = \"demo\"\npublic_key = \"{}\"\n\
         capabilities = [\"trust\", \"identity\", \"state\", \"events\", \"budget\", \"self-metering\"]\n\n{}",
        public.trim(),
        String::from_utf8_lossy(&pins.stdout)
    );
    std::fs::write(&store, toml).map_err(|e| format!("cannot write {}: {e}", store.display()))?;
    let mut cmd = erynoa();
    cmd.arg("run")
        .arg("--trust-store")
        .arg(&store)
        .arg("--state-per-policy");
    for p in &policies {
        cmd.arg("--policy").arg(p);
    }
    for source in &sources {
        let mut spec = source.clone().into_os_string();
        spec.push("@legacy");
        cmd.arg("--policy").arg(spec);
    }
    run(cmd.args([
        "--state",
        "demo/state.json",
        "--requests",
        "demo/requests.json",
    ]))?;
    serve_demo(&root, &demo, &policies, &sources)
}

/// `effect  reason` for each decision of a batch answer (xtask has no JSON
/// parser; the service writes these fields in this order).
fn decisions(body: &str) -> Vec<String> {
    body.split("\"effect\":\"")
        .skip(1)
        .map(|rest| {
            let effect = rest.split('"').next().unwrap_or("?");
            let reason = rest
                .split_once("\"reason\":")
                .map(|(_, r)| r)
                .map_or("", |r| r.split(",\"failure\"").next().unwrap_or(""));
            format!("{effect:<5}  {reason}")
        })
        .collect()
}

/// Ends the demo as an operator would run it: the same signed policies and
/// pinned ECL in a policy directory, `erynoa serve` on free loopback ports,
/// the demo requests sent over HTTP (one batch per policy), then SIGTERM.
fn serve_demo(
    root: &std::path::Path,
    demo: &std::path::Path,
    policies: &[std::path::PathBuf],
    sources: &[std::path::PathBuf],
) -> Result<(), String> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let service = demo.join("service");
    let dir = service.join("policies");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let copy = |from: &std::path::Path, name: String| {
        std::fs::copy(from, dir.join(&name))
            .map(|_| name)
            .map_err(|e| format!("cannot copy {}: {e}", from.display()))
    };
    let mut ids = Vec::new();
    for p in policies {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("policy");
        ids.push(copy(p, format!("{}.wasm", stem.replace('.', "_")))?);
    }
    for s in sources {
        let stem = s.file_stem().and_then(|s| s.to_str()).unwrap_or("policy");
        ids.push(copy(s, format!("vm_{stem}.legacy.ecl"))?);
    }
    let config = service.join("erynoa.toml");
    std::fs::write(
        &config,
        format!(
            "# Written by `cargo xtask demo`.\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
             policies = \"policies\"\ntrust_store = \"../trust.toml\"\nstate = \"{}\"\n",
            root.join("demo/state.json").display()
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    let requests = std::fs::read_to_string(root.join("demo/requests.json"))
        .map_err(|e| format!("cannot read demo/requests.json: {e}"))?;
    println!("==> erynoa serve --config {}", config.display());
    let mut child = Command::new(root.join("target/release/erynoa"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start erynoa serve: {e}"))?;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut first);
    }
    print!("{first}");
    let addr = first
        .split("decisions on http://")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .map(str::to_owned);
    let mut result = match addr {
        Some(addr) => Ok(addr),
        None => Err(format!("erynoa serve did not start: {first:?}")),
    }
    .and_then(|addr| {
        for file in &ids {
            let id = file.split('.').next().unwrap_or(file);
            let mut s = std::net::TcpStream::connect(&addr)
                .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
            let sent = write!(
                s,
                "POST /v1/decide/{id}/batch HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{requests}",
                requests.len()
            );
            let mut answer = String::new();
            sent.and_then(|()| s.read_to_string(&mut answer))
                .map_err(|e| format!("POST /v1/decide/{id}/batch: {e}"))?;
            let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
            let status = head.lines().next().unwrap_or("");
            println!("POST /v1/decide/{id}/batch  ->  {status}");
            for line in decisions(body) {
                println!("    {line}");
            }
            if !status.contains(" 200 ") {
                return Err(format!("the service answered {status} for `{id}`"));
            }
        }
        Ok(())
    });
    // SIGTERM: the service drains and exits 0.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map_err(|e| format!("cannot stop erynoa serve: {e}"))
        .and_then(|_| child.wait().map_err(|e| format!("erynoa serve: {e}")));
    match stopped {
        Ok(status) if status.success() => println!("==> erynoa serve stopped"),
        Ok(status) => result = result.and(Err(format!("erynoa serve exited with {status}"))),
        Err(e) => result = result.and(Err(e)),
    }
    result
}

fn test() -> Result<(), String> {
    guests::build_all()?;
    step(
        "running every test (release: the tests drive real wasmtime)",
        || run(cargo().args(["test", "--workspace", "--release"])),
    )?;
    templates()?;
    book()?;
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
        step(&format!("fuzzing {target} for {seconds} s"), || {
            // cargo-fuzz passes -Z flags; this lets a stable toolchain take them.
            // No sanitizer: the targets are safe Rust (and wasmtime), where
            // AddressSanitizer finds little, and it would build wasmtime
            // twice as slowly and run its compiler a third as fast.
            run(cargo()
                .current_dir(&root)
                .env("RUSTC_BOOTSTRAP", "1")
                .args([
                    "fuzz",
                    "run",
                    "--sanitizer",
                    "none",
                    target,
                    "--",
                    &format!("-max_total_time={seconds}"),
                ]))
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
