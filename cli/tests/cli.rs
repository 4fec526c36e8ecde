//! The `erynoa` binary as operators use it: exit codes and what it prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn erynoa(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run erynoa")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erynoa-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A small valid component to sign: the preamble and one custom section.
const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0\0\x12\x0berynoa-testpolicy";

#[test]
fn keygen_sign_verify_and_tamper() {
    let dir = scratch("sign");
    std::fs::write(dir.join("c.wasm"), COMPONENT).expect("write");
    assert_eq!(code(&erynoa(&dir, &["keygen", "ops"])), 0);
    let again = erynoa(&dir, &["keygen", "ops"]);
    assert_eq!(code(&again), 1);
    assert!(
        stderr(&again).contains("`ops.key` exists; pass --force"),
        "{}",
        stderr(&again)
    );

    let signed = erynoa(&dir, &["sign", "c.wasm", "-k", "ops.key", "-o", "s.wasm"]);
    assert_eq!(code(&signed), 0, "{}", stderr(&signed));
    for key in ["ops.pub", "ops.pub.pem"] {
        let ok = erynoa(&dir, &["verify", "s.wasm", "-K", key]);
        assert_eq!(code(&ok), 0, "{key}: {}", stdout(&ok));
        assert!(stdout(&ok).contains("verified  s.wasm"));
        assert!(stdout(&ok).contains("digest    sha256:"));
    }

    let mut tampered = std::fs::read(dir.join("s.wasm")).expect("read");
    *tampered.last_mut().expect("byte") ^= 1;
    std::fs::write(dir.join("t.wasm"), tampered).expect("write");
    let bad = erynoa(&dir, &["verify", "t.wasm", "-K", "ops.pub"]);
    assert_eq!(code(&bad), 3);
    assert!(
        stdout(&bad).contains("the component was changed after signing"),
        "{}",
        stdout(&bad)
    );

    assert_eq!(code(&erynoa(&dir, &["keygen", "other"])), 0);
    let unknown = erynoa(&dir, &["verify", "s.wasm", "-K", "other.pub"]);
    assert_eq!(code(&unknown), 3);
    assert!(stdout(&unknown).contains("no signature verifies with a trusted key"));

    let unsigned = erynoa(&dir, &["verify", "c.wasm", "-K", "ops.pub", "--json"]);
    assert_eq!(code(&unsigned), 3);
    assert!(stdout(&unsigned).contains(r#""verified": false"#));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn detached_signatures() {
    let dir = scratch("detached");
    std::fs::write(dir.join("c.wasm"), COMPONENT).expect("write");
    assert_eq!(code(&erynoa(&dir, &["keygen", "ops"])), 0);
    assert_eq!(
        code(&erynoa(
            &dir,
            &["sign", "c.wasm", "-k", "ops.key", "--detached", "c.sig"]
        )),
        0
    );
    let ok = erynoa(
        &dir,
        &["verify", "c.wasm", "-K", "ops.pub", "--signature", "c.sig"],
    );
    assert_eq!(code(&ok), 0, "{}", stdout(&ok));
    assert!(stdout(&ok).contains("the detached signature"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_1_not_the_deny_code() {
    let dir = scratch("usage");
    let o = erynoa(&dir, &["sign", "x.wasm"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(code(&erynoa(&dir, &["--help"])), 0);
    let wrong_key = erynoa(&dir, &["keygen", "k"]);
    assert_eq!(code(&wrong_key), 0);
    std::fs::write(dir.join("c.wasm"), COMPONENT).expect("write");
    let o = erynoa(&dir, &["sign", "c.wasm", "-k", "k.pub", "-o", "out.wasm"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("not an Ed25519 private key"),
        "{}",
        stderr(&o)
    );
}

const POLICY: &str = "// Trusted callers with a kyc credential.\nconst MIN = 0.5\n\npolicy \"kyc\" {\n    require caller.trust.R >= MIN, \"low trust\"\n    require credential(\"kyc\"), \"no kyc\"\n    allow\n}\n";
const STATE: &str = r#"{"trust": {"did:erynoa:self:alice": 0.9, "did:erynoa:self:bob": 0.2}, "identities": {"did:erynoa:self:alice": ["kyc"]}}"#;
const ALICE: &str = r#"{"caller": "did:erynoa:self:alice", "realm": "finance"}"#;
const BOB: &str = r#"{"caller": "did:erynoa:self:bob", "realm": "finance"}"#;

fn ecl_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    for (file, text) in [
        ("kyc.ecl", POLICY),
        ("state.json", STATE),
        ("alice.json", ALICE),
        ("bob.json", BOB),
    ] {
        std::fs::write(dir.join(file), text).expect("write");
    }
    dir
}

#[test]
fn ecl_check_reports_rustc_style_diagnostics() {
    let dir = ecl_dir("check");
    let ok = erynoa(&dir, &["ecl", "check", "kyc.ecl"]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert_eq!(stdout(&ok), "kyc.ecl: ok (`kyc`)\n");
    std::fs::write(
        dir.join("bad.ecl"),
        "policy \"p\" {\n    require amout > 5\n}\n",
    )
    .expect("write");
    let bad = erynoa(&dir, &["ecl", "check", "bad.ecl"]);
    // A diagnostic is a failed check (3), not an error of the tool (1).
    assert_eq!(code(&bad), 3);
    assert_eq!(
        stderr(&bad),
        "error[E0200]: unknown name `amout`\n --> bad.ecl:2:13\n  |\n2 |     require amout > 5\n  |             ^^^^^ not defined\n  |\n  = help: request parameters are read with `param(\"amout\")`; DIDs are written `did(\"did:...\")`\n"
    );
}

#[test]
fn ecl_fmt_checks_and_rewrites() {
    let dir = ecl_dir("fmt");
    let canonical = erynoa(&dir, &["ecl", "fmt", "--check", "kyc.ecl"]);
    assert_eq!(code(&canonical), 0, "{}", stdout(&canonical));
    std::fs::write(dir.join("messy.ecl"), "policy \"p\"{require  1<2;allow}").expect("write");
    assert_eq!(
        code(&erynoa(&dir, &["ecl", "fmt", "--check", "messy.ecl"])),
        3
    );
    assert_eq!(
        code(&erynoa(&dir, &["ecl", "fmt", "--write", "messy.ecl"])),
        0
    );
    let text = std::fs::read_to_string(dir.join("messy.ecl")).expect("read");
    assert_eq!(text, "policy \"p\" {\n    require 1 < 2\n    allow\n}\n");
    assert_eq!(
        code(&erynoa(&dir, &["ecl", "fmt", "--check", "messy.ecl"])),
        0
    );
}

#[test]
fn compile_both_backends_and_run_every_form() {
    let dir = ecl_dir("compile");
    let wasm = erynoa(&dir, &["compile", "kyc.ecl", "-o", "kyc.wasm"]);
    assert_eq!(code(&wasm), 0, "{}", stderr(&wasm));
    assert!(stdout(&wasm).contains("compiled policy `kyc`"));
    let eclc = erynoa(
        &dir,
        &[
            "compile",
            "kyc.ecl",
            "-o",
            "kyc.eclc",
            "--backend",
            "bytecode",
        ],
    );
    assert_eq!(code(&eclc), 0, "{}", stderr(&eclc));
    let listing = erynoa(&dir, &["ecl", "disasm", "kyc.eclc"]);
    assert!(
        stdout(&listing).contains("HasCredential"),
        "{}",
        stdout(&listing)
    );

    for policy in [
        "kyc.wasm",
        "kyc.ecl@legacy",
        "kyc.ecl@wasm",
        "kyc.ecl",
        "kyc.eclc",
    ] {
        for (request, want) in [("alice.json", 0), ("bob.json", 2)] {
            let out = erynoa(
                &dir,
                &[
                    "run",
                    "--allow-unsigned",
                    "-p",
                    policy,
                    "-s",
                    "state.json",
                    "-r",
                    request,
                    "--json",
                ],
            );
            assert_eq!(
                code(&out),
                want,
                "{policy} {request}: {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
    // The same gas on both back ends.
    let gas = |policy: &str| {
        let out = erynoa(
            &dir,
            &[
                "run",
                "--allow-unsigned",
                "-p",
                policy,
                "-s",
                "state.json",
                "-r",
                "alice.json",
                "--json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["gas_used"].as_u64().expect("gas")
    };
    assert_eq!(gas("kyc.ecl@legacy"), gas("kyc.ecl@wasm"));
}

#[test]
fn pinned_ecl_runs_under_a_trust_store_and_unpinned_does_not() {
    let dir = ecl_dir("pin");
    let pin = erynoa(&dir, &["ecl", "pin", "kyc.ecl"]);
    assert_eq!(code(&pin), 0);
    assert!(
        stdout(&pin).contains("capabilities = [\"trust\", \"identity\"]"),
        "{}",
        stdout(&pin)
    );
    std::fs::write(dir.join("trust.toml"), stdout(&pin)).expect("write");
    let run = |policy: &str| {
        let args = ["run", "--trust-store", "trust.toml", "-p", policy];
        erynoa(
            &dir,
            &[&args[..], &["-s", "state.json", "-r", "alice.json"]].concat(),
        )
    };
    for policy in ["kyc.ecl@legacy", "kyc.ecl@wasm"] {
        let out = run(policy);
        assert_eq!(code(&out), 0, "{policy}: {}", stderr(&out));
    }
    // The event log names the exact source that decided: its pinned digest.
    let digest = stdout(&pin)
        .lines()
        .find_map(|l| l.strip_prefix("digest = "))
        .expect("a digest line")
        .trim_matches('"')
        .to_owned();
    let out = erynoa(
        &dir,
        &[
            "run",
            "--trust-store",
            "trust.toml",
            "-p",
            "kyc.ecl@legacy",
            "-p",
            "kyc.ecl@wasm",
            "-s",
            "state.json",
            "-r",
            "alice.json",
            "--events",
            "events.jsonl",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = std::fs::read_to_string(dir.join("events.jsonl")).expect("events written");
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    assert_eq!(events.len(), 2, "{log}");
    for e in &events {
        assert_eq!(e["type"], "policy-evaluated", "{e}");
        assert_eq!(e["admission"]["digest"], digest.as_str(), "{e}");
        assert_eq!(
            e["admission"]["signers"],
            serde_json::json!([]),
            "pinned, not signed"
        );
    }
    std::fs::write(dir.join("kyc.ecl"), POLICY.replace("0.5", "0.1")).expect("write");
    let out = run("kyc.ecl");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("is not pinned"), "{}", stderr(&out));
    // Pinned with fewer capabilities than it needs.
    let narrow = stdout(&erynoa(&dir, &["ecl", "pin", "kyc.ecl"])).replace("\"trust\", ", "");
    std::fs::write(dir.join("trust.toml"), narrow).expect("write");
    let out = run("kyc.ecl");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not granted `trust`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ecl_mistakes_are_clear() {
    let dir = ecl_dir("mistakes");
    let out = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "kyc.wasm@wasm",
            "-r",
            "alice.json",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is not an .ecl file"),
        "{}",
        stderr(&out)
    );
    let out = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "kyc.ecl",
            "--entry",
            "nope",
            "-r",
            "alice.json",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no policy named `nope`"),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.join("junk.eclc"), b"\x01\0\0\0\0\0\0\0\x63\0\0\0").expect("write");
    let out = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "junk.eclc",
            "-r",
            "alice.json",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("unknown opcode 99"),
        "{}",
        stderr(&out)
    );
    let out = erynoa(&dir, &["ecl", "repl"]);
    assert_eq!(code(&out), 0);
}

#[test]
fn record_then_replay_without_the_state() {
    let dir = ecl_dir("replay");
    let run = |policy: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--allow-unsigned",
            "-p",
            policy,
            "-r",
            "alice.json",
            "--json",
        ];
        args.extend_from_slice(extra);
        erynoa(&dir, &args)
    };
    let recorded = run(
        "kyc.ecl@wasm",
        &["-s", "state.json", "--record", "calls.json"],
    );
    assert_eq!(code(&recorded), 0, "{}", stderr(&recorded));
    let calls: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("calls.json")).expect("recording"))
            .expect("json");
    let functions: Vec<&str> = calls[0]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["function"].as_str())
        .filter(|f| *f != "consume-gas")
        .collect();
    assert_eq!(functions, ["get-trust", "has-credential"]);
    assert_eq!(calls[0]["calls"][1]["gas"], 10, "{calls}");

    // Without the state, the recorded answers still allow alice, on either back end.
    for policy in ["kyc.ecl@wasm", "kyc.ecl@legacy"] {
        let replayed = run(policy, &["--replay", "calls.json"]);
        let text = stderr(&replayed);
        // The VM makes no consume-gas calls; only those differ.
        if policy.ends_with("@wasm") {
            assert_eq!(code(&replayed), 0, "{text}");
            assert!(text.contains("every host call matched"), "{text}");
        } else {
            assert_eq!(code(&replayed), 3, "{text}");
            assert!(text.contains("`budget.consume-gas`"), "{text}");
        }
    }
    // A changed policy diverges.
    std::fs::write(
        dir.join("kyc.ecl"),
        POLICY.replace("credential(\"kyc\")", "credential(\"kyc2\")"),
    )
    .expect("write");
    let diverged = run("kyc.ecl@wasm", &["--replay", "calls.json"]);
    assert_eq!(code(&diverged), 3);
    assert!(
        stderr(&diverged).contains("\"kyc2\""),
        "{}",
        stderr(&diverged)
    );
}

#[test]
fn bench_measures_the_decisions_and_gas_that_run_reports() {
    let dir = ecl_dir("bench");
    let run = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "kyc.ecl@legacy",
            "-s",
            "state.json",
            "-r",
            "alice.json",
            "--json",
        ],
    );
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    let run: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("run JSON");
    let gas = run["gas_used"].as_f64().expect("gas_used");

    for (request, allowed) in [("alice.json", true), ("bob.json", false)] {
        let out = erynoa(
            &dir,
            &[
                "bench",
                "--allow-unsigned",
                "-p",
                "kyc.ecl@legacy",
                "-p",
                "kyc.ecl@wasm",
                "-s",
                "state.json",
                "-r",
                request,
                "--threads",
                "2",
                "--duration-ms",
                "150",
                "--warmup-ms",
                "10",
                "--json",
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let reports: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("bench JSON");
        let reports = reports.as_array().expect("one report per policy");
        assert_eq!(reports.len(), 2);
        for r in reports {
            let n = r["evaluations"].as_u64().expect("evaluations");
            assert!(n > 0, "{r}");
            assert_eq!(r["threads"], 2);
            let (yes, no) = (r["allowed"].as_u64(), r["denied"].as_u64());
            assert_eq!(
                (yes, no),
                if allowed {
                    (Some(n), Some(0))
                } else {
                    (Some(0), Some(n))
                }
            );
            assert_eq!(
                r["failures"],
                serde_json::json!({}),
                "a `require` deny is no failure"
            );
            let us: Vec<f64> = ["p50_us", "p90_us", "p99_us", "max_us"]
                .iter()
                .map(|k| r[k].as_f64().expect("latency"))
                .collect();
            assert!(us.windows(2).all(|w| w[0] <= w[1]) && us[0] > 0.0, "{r}");
            if allowed {
                // Same request, same state, same gas: on both back ends.
                assert_eq!(r["mean_gas"].as_f64(), Some(gas), "{r}");
            }
        }
    }

    let text = erynoa(
        &dir,
        &[
            "bench",
            "--allow-unsigned",
            "-p",
            "kyc.ecl",
            "-s",
            "state.json",
            "-r",
            "alice.json",
            "--duration-ms",
            "50",
            "--warmup-ms",
            "0",
        ],
    );
    assert_eq!(code(&text), 0, "{}", stderr(&text));
    assert!(stdout(&text).contains("P99 µs"), "{}", stdout(&text));
}

#[test]
fn bench_refuses_what_it_cannot_measure() {
    let dir = ecl_dir("bench-bad");
    std::fs::write(dir.join("none.json"), "[]").expect("write");
    let base = [
        "bench",
        "--allow-unsigned",
        "-p",
        "kyc.ecl",
        "-s",
        "state.json",
    ];
    for (extra, says) in [
        (&["-r", "alice.json", "--threads", "0"][..], "--threads"),
        (
            &["-r", "alice.json", "--duration-ms", "0"][..],
            "--duration-ms",
        ),
        (&["-r", "none.json"][..], "holds no requests"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let out = erynoa(&dir, &args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

/// Runs `erynoa ecl repl` with `input` on its stdin.
fn repl(input: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .args(["ecl", "repl"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    child.wait_with_output().expect("repl output")
}

#[test]
fn repl_keeps_bindings_between_lines() {
    let out = repl(
        b"1 + 2\nlet a = 20\na * 2 + 2\nconst K = 3\na + K\nlet z = 1 / 0\nz\n:reset\na\n:q\n",
    );
    assert_eq!(code(&out), 0);
    let lines: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split("    (").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "3",
            "a = 20",
            "42",
            "K = 3",
            "23",
            "z = error: 1 / 0: Division by zero"
        ],
        "{}",
        stdout(&out)
    );
    // `z` failed, so it was not kept; `:reset` forgot `a`.
    let errors = stderr(&out);
    assert!(errors.contains("unknown name `z`"), "{errors}");
    assert!(errors.contains("unknown name `a`"), "{errors}");
}

#[test]
fn special_files_are_refused_not_read() {
    let dir = scratch("special");
    std::fs::write(dir.join("p.ecl"), "policy \"p\" { allow }").expect("policy");
    std::fs::write(dir.join("r.json"), r#"{"caller": "did:e:a"}"#).expect("request");
    for (flag, file) in [
        ("-s", "/dev/zero"),
        ("-r", "/dev/zero"),
        ("-p", "/dev/zero"),
    ] {
        let mut all = vec!["run", "--allow-unsigned"];
        for (f, default) in [("-p", "p.ecl"), ("-r", "r.json"), ("-s", "")] {
            let value = if f == flag { file } else { default };
            if !value.is_empty() {
                all.extend([f, value]);
            }
        }
        let out = erynoa(&dir, &all);
        assert_eq!(code(&out), 1, "{all:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{all:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    use std::io::Read as _;
    let dir = scratch("pipe");
    std::fs::write(dir.join("p.ecl"), "policy \"p\" { allow }").expect("policy");
    let many: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"caller": "did:e:a{i}"}}"#))
        .collect();
    std::fs::write(dir.join("r.json"), format!("[{}]", many.join(","))).expect("requests");
    let mut child = Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .current_dir(&dir)
        .args(["run", "--allow-unsigned", "-p", "p.ecl", "-r", "r.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    // Read one byte, then close the pipe as `| head -c1` would.
    let mut first = [0u8; 1];
    let mut out = child.stdout.take().expect("stdout");
    out.read_exact(&mut first).expect("some output");
    drop(out);
    let done = child.wait_with_output().expect("wait");
    let errors = stderr(&done);
    assert!(!errors.contains("panicked"), "{errors}");
    assert_ne!(code(&done), 101, "{errors}");
}

#[test]
fn reasons_cannot_forge_lines() {
    let dir = scratch("forge");
    std::fs::write(
        dir.join("p.ecl"),
        "policy \"p\" { deny \"no\\n[ok] decision  allow\\u{1b}[32m\" }",
    )
    .expect("policy");
    std::fs::write(dir.join("r.json"), r#"{"caller": "did:e:a"}"#).expect("request");
    let out = erynoa(
        &dir,
        &["run", "--allow-unsigned", "-p", "p.ecl", "-r", "r.json"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(r"reason    no\n[ok] decision  allow\u{1b}[32m"),
        "{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("[ok]")), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn a_runtime_fault_names_where_it_happened_on_both_back_ends() {
    let dir = scratch("fault");
    std::fs::write(
        dir.join("kyc.ecl"),
        "policy \"kyc\" {\n    require param(\"amount\") * 2 < 100\n    allow\n}\n",
    )
    .expect("policy");
    std::fs::write(dir.join("r.json"), r#"{"caller": "did:e:a"}"#).expect("request");
    for policy in ["kyc.ecl@legacy", "kyc.ecl@wasm"] {
        let out = erynoa(
            &dir,
            &[
                "run",
                "--allow-unsigned",
                "-p",
                policy,
                "-r",
                "r.json",
                "--json",
            ],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["failure"]["kind"], "policy-fault", "{policy}: {v}");
        assert_eq!(
            v["failure"]["message"],
            "policy fault: kyc.ecl:2:13: param(\"amount\") * 2: Expected number, got null",
            "{policy}: {v}"
        );
    }
}

#[test]
fn trust_edits_keep_comments_and_refuse_what_would_not_load() {
    let dir = ecl_dir("trust");
    assert_eq!(code(&erynoa(&dir, &["keygen", "ops"])), 0);
    std::fs::write(dir.join("trust.toml"), "# ours: keep this\nrevoked = []\n").expect("store");
    let added = erynoa(
        &dir,
        &[
            "trust",
            "add-key",
            "ops",
            "--key",
            "ops.pub",
            "--grant",
            "trust,identity",
        ],
    );
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    let pinned = erynoa(&dir, &["trust", "pin", "kyc.ecl"]);
    assert_eq!(code(&pinned), 0, "{}", stderr(&pinned));
    let text = std::fs::read_to_string(dir.join("trust.toml")).expect("read");
    assert!(text.starts_with("# ours: keep this\n"), "{text}");
    assert!(text.contains("name = \"ops\""), "{text}");
    assert!(text.contains("# kyc.ecl: ECL, policies `kyc`"), "{text}");

    // The edited store loads: the pinned source runs on the VM.
    let run = erynoa(
        &dir,
        &[
            "run",
            "--trust-store",
            "trust.toml",
            "-p",
            "kyc.ecl@legacy",
            "-s",
            "state.json",
            "-r",
            "alice.json",
        ],
    );
    assert_eq!(code(&run), 0, "{}", stderr(&run));

    // Nothing the host would refuse is written.
    let before = std::fs::read_to_string(dir.join("trust.toml")).expect("read");
    let bad = erynoa(&dir, &["trust", "revoke", "no-such-key"]);
    assert_eq!(code(&bad), 1);
    assert!(
        stderr(&bad).contains("revoked entry `no-such-key`"),
        "{}",
        stderr(&bad)
    );
    let twice = erynoa(&dir, &["trust", "add-key", "ops", "--key", "ops.pub"]);
    assert_eq!(code(&twice), 1);
    assert_eq!(
        std::fs::read_to_string(dir.join("trust.toml")).expect("read"),
        before
    );

    // A key can be revoked by its name.
    assert_eq!(code(&erynoa(&dir, &["trust", "revoke", "ops"])), 0);
    let text = std::fs::read_to_string(dir.join("trust.toml")).expect("read");
    assert!(text.contains("revoked = [\"ops\"]"), "{text}");
}

#[test]
fn ecl_that_does_not_compile_says_so_and_failures_read_alike_in_json() {
    let dir = scratch("eclerr");
    std::fs::write(
        dir.join("bad.ecl"),
        "policy \"p\" {\n    require amout > 1\n}\n",
    )
    .expect("bad");
    std::fs::write(
        dir.join("p.ecl"),
        "policy \"p\" { require 1 + 1 + 1 > 0  allow }",
    )
    .expect("p");
    std::fs::write(dir.join("r.json"), r#"{"caller": "did:e:a"}"#).expect("request");
    let out = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "bad.ecl@legacy",
            "-r",
            "r.json",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out)
            .contains("the ECL source does not compile:\nerror[E0200]: unknown name `amout`"),
        "{}",
        stderr(&out)
    );
    // The JSON names a failure as the text output does.
    let out = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "p.ecl@legacy",
            "-r",
            "r.json",
            "--gas",
            "2",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["failure"]["kind"], "out-of-gas", "{v}");
    assert_eq!(
        v["failure"]["message"], "out-of-gas: used 4 of 2 gas",
        "{v}"
    );
}

#[test]
fn repl_runs_statements_and_shows_the_decision() {
    let out = repl(b"let a = 20\nrequire a > 10, \"small\"\nrequire a > 30, \"too small\"\nif a > 5 { deny \"big\" }\nreturn a == 21\nrequire a == null\n:q\n");
    assert_eq!(code(&out), 0);
    let lines: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.split("    (").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "a = 20",
            "allow",
            "deny: too small",
            "deny: big",
            "deny",
            "deny: Assertion failed"
        ],
        "{}",
        stdout(&out)
    );
}

/// One request on a fresh connection; the status line and the body.
fn post(addr: &str, path: &str, body: &str) -> String {
    try_post(addr, path, body).expect("an answer")
}

/// [`post`], or `None` if the server is not there (any more).
fn try_post(addr: &str, path: &str, body: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn serve_answers_rescans_on_sighup_and_stops_on_sigterm() {
    let dir = scratch("serve");
    std::fs::create_dir_all(dir.join("policies")).expect("dir");
    let deny = "policy \"p\" { deny \"closed\" }\n";
    let allow = "policy \"p\" { allow }\n";
    std::fs::write(dir.join("policies/p.ecl"), deny).expect("policy");
    let pin = |text: &str| {
        format!(
            "[[component]]\ndigest = \"{}\"\ncapabilities = []\n",
            erynoa_host::digest(text.as_bytes())
        )
    };
    std::fs::write(dir.join("trust.toml"), pin(deny) + &pin(allow)).expect("store");
    // Scans only when asked: SIGHUP is what picks up the change below.
    std::fs::write(
        dir.join("erynoa.toml"),
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nscan_interval_ms = 60000\n\
         [ext_authz]\nlisten = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    let (mut child, addr) = serve_in(&dir);
    let request = r#"{"caller": "did:e:alice"}"#;
    assert!(post(&addr, "/v1/decide/p", request).contains(r#""effect":"deny""#));

    std::fs::write(dir.join("policies/p.ecl"), allow).expect("new version");
    let pid = i32::try_from(child.id()).expect("pid");
    #[allow(unsafe_code, reason = "sending a signal to our own child")]
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let hup = unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_eq!(hup, 0);
    let start = std::time::Instant::now();
    while !post(&addr, "/v1/decide/p", request).contains(r#""effect":"allow""#) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "SIGHUP did not rescan"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    #[allow(unsafe_code, reason = "sending a signal to our own child")]
    // SAFETY: as above.
    let term = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(term, 0);
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status:?}");
}

/// Starts `erynoa serve` in `dir` with `erynoa.toml`; the child and the
/// decision address it printed.
fn serve_in(dir: &Path) -> (std::process::Child, String) {
    let (child, decisions, _) = serve_with_admin(dir);
    (child, decisions)
}

/// Starts `erynoa serve --config erynoa.toml` in `dir`; returns it and its
/// decisions and admin addresses.
fn serve_with_admin(dir: &Path) -> (std::process::Child, String, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .current_dir(dir)
        .args(["serve", "--config", "erynoa.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("text");
    let address = |after: &str| {
        let addr = first
            .split(after)
            .nth(1)
            .and_then(|rest| rest.split(',').next());
        assert!(addr.is_some(), "no {after} in {first:?}");
        addr.unwrap_or_default().to_owned()
    };
    (
        child,
        address("decisions on http://"),
        address("admin on http://"),
    )
}

#[test]
fn log_tail_follows_a_running_service_through_its_admin_listener() {
    use std::io::BufRead as _;
    let dir = scratch("follow");
    std::fs::create_dir_all(dir.join("policies")).expect("dir");
    let open = "policy \"open\" { allow }\n";
    std::fs::write(dir.join("policies/open.ecl"), open).expect("policy");
    std::fs::write(
        dir.join("trust.toml"),
        format!(
            "[[component]]\ndigest = \"{}\"\n",
            erynoa_host::digest(open.as_bytes())
        ),
    )
    .expect("store");
    std::fs::write(
        dir.join("admin.token"),
        "an-admin-token-of-32-characters!\n",
    )
    .expect("token");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.join("admin.token"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("mode");
    }
    std::fs::write(
        dir.join("erynoa.toml"),
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nadmin_token_file = \"admin.token\"\n\
         data = \"data\"\n[ext_authz]\nlisten = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    let (mut server, decisions, admin) = serve_with_admin(&dir);
    let mut follower = Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .current_dir(&dir)
        .args([
            "--format", "json", "log", "tail", "--follow", "--since", "2",
        ])
        .args([
            "--admin",
            &format!("http://{admin}"),
            "--token-file",
            "admin.token",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("tail");
    let mut lines = std::io::BufReader::new(follower.stdout.take().expect("stdout")).lines();
    // Decisions made after the follower started reach it.
    for i in 0..3 {
        let answer = try_post(
            &decisions,
            "/v1/decide/open",
            &format!(r#"{{"caller": "did:e:f{i}"}}"#),
        )
        .expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = lines.next().expect("a line").expect("text");
        let v: serde_json::Value = serde_json::from_str(&line).expect("an export line");
        seen.push(
            v["body"]["request"]["caller"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(seen, ["did:e:f0", "did:e:f1", "did:e:f2"]);
    follower.kill().expect("stop tail");
    let _ = follower.wait();
    // A wrong token is a clear refusal, not an empty tail.
    std::fs::write(dir.join("wrong.token"), "nope").expect("token");
    let out = erynoa(
        &dir,
        &[
            "log",
            "tail",
            "--admin",
            &format!("http://{admin}"),
            "--token-file",
            "wrong.token",
        ],
    );
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    server.kill().expect("stop");
    let _ = server.wait();
}

#[test]
fn killed_twenty_times_the_log_keeps_every_answered_decision_and_commit() {
    let dir = scratch("crash");
    // Checkpoints often, so that kills land during them too.
    counting_service(&dir, "checkpoint_every = 50\n");
    let mut answered: Vec<String> = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..20 {
        let (mut child, addr) = serve_in(&dir);
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let mut ids = Vec::new();
                    for i in 0..200 {
                        let body = format!(r#"{{"caller": "did:e:c{c}r{round}i{i}"}}"#);
                        let Some(answer) = try_post(&addr, "/v1/decide/count", &body) else {
                            break; // the server is gone
                        };
                        if !answer.starts_with("HTTP/1.1 200") {
                            break;
                        }
                        if answer.contains(r#""effect":"allow""#)
                            && let Some(id) = answer.split(r#""decision_id":""#).nth(1)
                        {
                            ids.push(id[..36].to_owned());
                        }
                    }
                    ids
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20 + next(80)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        for c in clients {
            answered.extend(c.join().unwrap_or_default());
        }
        let verify = erynoa(&dir, &["log", "verify", "--data", "data"]);
        assert_eq!(code(&verify), 0, "round {round}: {}", stdout(&verify));
    }
    assert!(
        answered.len() > 100,
        "only {} decisions answered",
        answered.len()
    );
    // Every answered allow is in the log; the commits count 1, 2, 3, ...
    // in order, across every restart: none lost, none applied twice.
    let export = erynoa(&dir, &["log", "export", "--data", "data"]);
    let mut logged = std::collections::HashSet::new();
    let mut commits = 0u64;
    for line in stdout(&export).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        match v["kind"].as_str() {
            Some("decision") => {
                logged.insert(
                    v["body"]["decision_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            Some("commit") => {
                commits += 1;
                let value = v["body"]["writes"][0]["value"].as_str().unwrap_or_default();
                assert_eq!(value, commits.to_string(), "commit {}", v["seq"]);
            }
            Some("checkpoint") => {}
            other => panic!("unexpected entry kind {other:?}"),
        }
    }
    for id in &answered {
        assert!(
            logged.contains(id),
            "answered decision {id} is not in the log"
        );
    }
    // Checkpoints were taken while the service was killed; the state a
    // restart rebuilds from the newest is the state the whole log replays to.
    let rebuild = erynoa(&dir, &["state", "rebuild", "--data", "data"]);
    assert_eq!(code(&rebuild), 0, "{}", stdout(&rebuild));
    assert!(
        !stdout(&rebuild).contains(" 0 checkpoints matched"),
        "{}",
        stdout(&rebuild)
    );
}

#[test]
fn a_data_directory_that_cannot_be_used_stops_the_start_with_a_reason() {
    let dir = scratch("data-faults");
    std::fs::create_dir_all(dir.join("policies")).expect("dir");
    std::fs::write(dir.join("trust.toml"), "").expect("store");
    let start = |data: &str| {
        Command::new(env!("CARGO_BIN_EXE_erynoa"))
            .current_dir(&dir)
            .args([
                "serve",
                "--policies",
                "policies",
                "--trust-store",
                "trust.toml",
            ])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--data",
                data,
            ])
            .output()
            .expect("run")
    };
    // A corrupt log file: refused at start, named, and left as it was.
    std::fs::create_dir_all(dir.join("corrupt")).expect("dir");
    std::fs::write(dir.join("corrupt/erynoa.redb"), vec![0x5a; 4096]).expect("garbage");
    let out = start("corrupt");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("erynoa.redb"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("corrupt/erynoa.redb")).expect("kept"),
        vec![0x5a; 4096]
    );
    // A data path that is a file, not a directory.
    std::fs::write(dir.join("file"), "x").expect("file");
    let out = start("file");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("data directory `file`"),
        "{}",
        stderr(&out)
    );
    // A log another process holds open: refused, not shared.
    let held = erynoa_store::Log::open(&dir.join("held"), erynoa_store::Durability::Immediate)
        .expect("open");
    let out = start("held");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("erynoa.redb"), "{}", stderr(&out));
    drop(held);
}

#[test]
fn state_import_checks_every_change_before_logging_any() {
    let dir = scratch("import");
    std::fs::write(
        dir.join("bad.jsonl"),
        "{\"op\": \"grant\", \"did\": \"did:e:a\", \"schema\": \"kyc\"}\n\
         {\"op\": \"set-trust\", \"did\": \"did:e:a\", \"trust\": [2, 0, 0, 0, 0, 0]}\n",
    )
    .expect("file");
    let out = erynoa(&dir, &["state", "import", "--data", "data", "bad.jsonl"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("bad.jsonl:2: trust of `did:e:a`"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("data").exists(), "nothing logged");
    std::fs::write(
        dir.join("ok.jsonl"),
        "{\"op\": \"grant\", \"did\": \"did:e:a\", \"schema\": \"kyc\"}\n\
         {\"op\": \"set-trust\", \"did\": \"did:e:a\", \"trust\": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]}\n",
    )
    .expect("file");
    assert_eq!(
        code(&erynoa(
            &dir,
            &["state", "import", "--data", "data", "ok.jsonl"]
        )),
        0
    );
    let got = erynoa(&dir, &["state", "get", "--data", "data", "did:e:a"]);
    let v: serde_json::Value = serde_json::from_slice(&got.stdout).expect("json");
    assert_eq!(
        (&v["credentials"][0], v["trust"]["r"].as_f64()),
        (&serde_json::Value::from("kyc"), Some(0.5))
    );
    let verify = erynoa(&dir, &["log", "verify", "--data", "data"]);
    assert!(
        stdout(&verify).starts_with("2 entries, head "),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn run_with_a_data_directory_keeps_the_state_between_runs() {
    let dir = scratch("run-data");
    std::fs::write(
        dir.join("count.ecl"),
        "policy \"count\" {\n    let n = store_get(\"counts\", \"total\")\n    if n == null {\n        store_put(\"counts\", \"total\", \"1\")\n        deny \"1\"\n    }\n    store_put(\"counts\", \"total\", str(num(n) + 1))\n    deny str(num(n) + 1)\n}\n",
    )
    .expect("policy");
    std::fs::write(dir.join("r.json"), r#"{"caller": "did:e:a"}"#).expect("request");
    // A deny commits nothing: each run's count is the fixture's (none).
    for _ in 0..2 {
        let out = erynoa(
            &dir,
            &[
                "run",
                "--allow-unsigned",
                "-p",
                "count.ecl",
                "-r",
                "r.json",
                "--data",
                "data",
            ],
        );
        assert!(stdout(&out).contains("reason    1"), "{}", stdout(&out));
    }
    std::fs::write(dir.join("count.ecl"), COUNT_ECL).expect("policy");
    for _ in 0..3 {
        let out = erynoa(
            &dir,
            &[
                "run",
                "--allow-unsigned",
                "-p",
                "count.ecl",
                "-r",
                "r.json",
                "--data",
                "data",
            ],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let export = erynoa(&dir, &["log", "export", "--data", "data"]);
    let values: Vec<String> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v["kind"] == "commit")
        .map(|v| {
            v["body"]["writes"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        values,
        ["1", "2", "3"],
        "three allowed runs, counted across processes"
    );
    // Every run's decision is logged too, allow and deny alike, with the
    // policy that made it (unsigned here: no digest).
    let decisions: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v["kind"] == "decision")
        .map(|v| v["body"].clone())
        .collect();
    let effects: Vec<&str> = decisions
        .iter()
        .map(|d| d["effect"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(effects, ["deny", "deny", "allow", "allow", "allow"]);
    assert_eq!(decisions[0]["policy"]["id"], "count.ecl");
    assert!(decisions[0]["policy"]["digest"].is_null());
    assert_eq!(decisions[2]["request"]["caller"], "did:e:a");
    assert!(decisions[2]["commit"].is_u64(), "{}", decisions[2]);
}

#[test]
fn a_compacted_log_verifies_from_its_checkpoint_and_its_archive_alone() {
    let dir = scratch("compact");
    std::fs::write(dir.join("count.ecl"), COUNT_ECL).expect("policy");
    std::fs::write(
        dir.join("r.json"),
        r#"[{"caller": "did:e:a"}, {"caller": "did:e:b"}]"#,
    )
    .expect("requests");
    std::fs::write(
        dir.join("state.json"),
        r#"{"identities": {"did:e:a": ["kyc"]}}"#,
    )
    .expect("fixture");
    let run = || {
        erynoa(
            &dir,
            &[
                "run",
                "--allow-unsigned",
                "-p",
                "count.ecl",
                "-r",
                "r.json",
                "--state",
                "state.json",
                "--data",
                "data",
            ],
        )
    };
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for _ in 0..3 {
        assert_eq!(code(&run()), 0);
    }
    let digest = |dir: &Path| {
        let out = erynoa(dir, &["state", "digest", "--data", "data"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    // Tail: by time, by policy, as export lines.
    let since = time::OffsetDateTime::from_unix_timestamp(started as i64)
        .expect("a time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    let tail = erynoa(
        &dir,
        &[
            "log",
            "tail",
            "--data",
            "data",
            "--since",
            &since,
            "--policy",
            "count.ecl",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&tail), 0, "{}", stderr(&tail));
    let kinds: Vec<String> = stdout(&tail)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["kind"].to_string())
        .collect();
    // Each run logs its commits and its decisions, both named by the policy.
    assert!(
        kinds.iter().any(|k| k == "\"commit\"") && kinds.iter().any(|k| k == "\"decision\""),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .all(|k| k == "\"commit\"" || k == "\"decision\""),
        "{kinds:?}"
    );
    let before = digest(&dir);

    // Another fixture than the one the directory started from is refused.
    std::fs::write(dir.join("other.json"), r#"{"identities": {"did:e:z": []}}"#).expect("other");
    let other = erynoa(
        &dir,
        &[
            "run",
            "--allow-unsigned",
            "-p",
            "count.ecl",
            "-r",
            "r.json",
            "--state",
            "other.json",
            "--data",
            "data",
        ],
    );
    assert_eq!(code(&other), 1);
    assert!(
        stderr(&other).contains("another state fixture"),
        "{}",
        stderr(&other)
    );

    let out = erynoa(
        &dir,
        &[
            "log",
            "compact",
            "--data",
            "data",
            "--keep",
            "1",
            "--archive",
            "old.jsonl",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("entries removed (archived in old.jsonl)"),
        "{}",
        stdout(&out)
    );
    let verify = erynoa(&dir, &["log", "verify", "--data", "data"]);
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("from the checkpoint after entry"),
        "{}",
        stdout(&verify)
    );
    assert!(stdout(&verify).contains(&before), "{}", stdout(&verify));
    assert_eq!(digest(&dir), before, "the state survives compaction");
    let rebuild = erynoa(&dir, &["state", "rebuild", "--data", "data"]);
    assert_eq!(code(&rebuild), 0, "{}", stdout(&rebuild));

    // The archive verifies alone; a line removed from it is named.
    let archived = erynoa(&dir, &["log", "verify", "--export", "old.jsonl"]);
    assert_eq!(code(&archived), 0, "{}", stdout(&archived));
    let text = std::fs::read_to_string(dir.join("old.jsonl")).expect("archive");
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "{text}");
    lines.remove(2);
    std::fs::write(dir.join("gap.jsonl"), lines.join("\n")).expect("gap");
    let gap = erynoa(&dir, &["log", "verify", "--export", "gap.jsonl"]);
    assert_eq!(code(&gap), 3, "{}", stdout(&gap));
    assert!(
        stdout(&gap).starts_with("entry 3 breaks the chain"),
        "{}",
        stdout(&gap)
    );

    // The state exports as a fixture that reads back to the same digest.
    let export = erynoa(&dir, &["state", "export", "--data", "data"]);
    let copy = erynoa_host::UnifiedState::from_json(&stdout(&export)).expect("a fixture");
    assert_eq!(copy.digest(), before);
    assert!(copy.has_credential("did:e:a", "kyc"));

    let later = erynoa(
        &dir,
        &[
            "log",
            "tail",
            "--data",
            "data",
            "--since",
            "2999-01-01T00:00:00Z",
        ],
    );
    assert_eq!((code(&later), stdout(&later)), (0, String::new()));
    let bad = erynoa(
        &dir,
        &["log", "tail", "--data", "data", "--since", "yesterday"],
    );
    assert_eq!(code(&bad), 1);
    assert!(
        stderr(&bad).contains("neither a sequence number nor an RFC 3339 time"),
        "{}",
        stderr(&bad)
    );
}

/// The counting policy and its trust store, with a config serving it from
/// `data` in immediate mode.
/// Counts the allowed decisions in one store key.
const COUNT_ECL: &str = "policy \"count\" {\n    let n = store_get(\"counts\", \"total\")\n    if n == null {\n        store_put(\"counts\", \"total\", \"1\")\n    } else {\n        store_put(\"counts\", \"total\", str(num(n) + 1))\n    }\n    allow\n}\n";

fn counting_service(dir: &Path, extra_config: &str) {
    std::fs::create_dir_all(dir.join("policies")).expect("dir");
    let count = COUNT_ECL;
    std::fs::write(dir.join("policies/count.ecl"), count).expect("policy");
    std::fs::write(
        dir.join("trust.toml"),
        format!(
            "[[component]]\ndigest = \"{}\"\ncapabilities = [\"state\"]\n",
            erynoa_host::digest(count.as_bytes())
        ),
    )
    .expect("store");
    std::fs::write(
        dir.join("erynoa.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\ndata = \"data\"\n\
             durability = \"immediate\"\n{extra_config}[ext_authz]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .expect("config");
}

#[test]
fn a_full_disk_refuses_decisions_keeps_every_answered_one_and_recovers() {
    use std::io::BufRead as _;
    let dir = scratch("disk-full");
    counting_service(&dir, "");
    // A file-size limit just above a fresh log's size: the log fills up
    // after about a thousand decisions, as a full disk would.
    let mut child = Command::new("bash")
        .current_dir(&dir)
        .args([
            "-c",
            &format!(
                "ulimit -f 4200 && exec {} serve --config erynoa.toml",
                env!("CARGO_BIN_EXE_erynoa")
            ),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let first = std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .next()
        .expect("a line")
        .expect("text");
    let addr = first
        .split("decisions on http://")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("an address")
        .to_owned();
    let mut answered = Vec::new();
    let mut refusal = None;
    for i in 0..20_000 {
        let answer = try_post(
            &addr,
            "/v1/decide/count",
            &format!(r#"{{"caller": "did:e:d{i}"}}"#),
        )
        .expect("the service stays up");
        if !answer.starts_with("HTTP/1.1 200") {
            refusal = Some(answer);
            break;
        }
        answered.push(format!("did:e:d{i}"));
    }
    let refusal = refusal.expect("the log fills up");
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    assert!(
        refusal.contains("log unavailable") && refusal.contains("File too large"),
        "{refusal}"
    );
    assert!(answered.len() > 100, "{}", answered.len());
    // Fails closed: the next decision is refused too, and /ready says why.
    let again = try_post(&addr, "/v1/decide/count", r#"{"caller": "did:e:late"}"#).expect("up");
    assert!(again.starts_with("HTTP/1.1 503"), "{again}");
    let ready = {
        use std::io::{Read as _, Write as _};
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            s,
            "GET /ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        text
    };
    assert!(
        ready.starts_with("HTTP/1.1 503") && ready.contains("File too large"),
        "{ready}"
    );
    child.kill().expect("stop");
    let _ = child.wait();

    // What was committed is intact: the chain verifies, every answered
    // decision is logged, and the counter counts exactly them.
    let verify = erynoa(&dir, &["log", "verify", "--data", "data"]);
    assert_eq!(code(&verify), 0, "{}", stdout(&verify));
    let export = erynoa(&dir, &["log", "export", "--data", "data"]);
    let mut callers = std::collections::HashSet::new();
    let mut last_count = 0u64;
    for line in stdout(&export).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        match v["kind"].as_str() {
            Some("decision") => {
                callers.insert(
                    v["body"]["request"]["caller"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            Some("commit") => {
                last_count = v["body"]["writes"][0]["value"]
                    .as_str()
                    .unwrap_or("0")
                    .parse()
                    .expect("a count");
            }
            _ => {}
        }
    }
    assert!(
        answered.iter().all(|c| callers.contains(c)),
        "an answered decision is missing"
    );
    assert!(
        last_count >= answered.len() as u64,
        "{last_count} < {}",
        answered.len()
    );
    // With room again, the service starts and goes on from there.
    let (mut child, addr) = serve_in(&dir);
    let answer = try_post(&addr, "/v1/decide/count", r#"{"caller": "did:e:after"}"#).expect("up");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    child.kill().expect("stop");
    let _ = child.wait();
    assert_eq!(code(&erynoa(&dir, &["log", "verify", "--data", "data"])), 0);
}

/// Makes `dir` read-only: a read-only bind mount when this process may
/// mount (as root, where permissions do not stop writes), else its mode.
/// Returns how to undo it, or `None` if neither works here.
fn read_only(dir: &Path) -> Option<Box<dyn FnOnce()>> {
    let path = dir.to_str().expect("a UTF-8 path").to_owned();
    let mount = |args: &[&str]| {
        Command::new("mount")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    if mount(&["--bind", &path, &path]) {
        if mount(&["-o", "remount,bind,ro", &path]) {
            return Some(Box::new(move || {
                let _ = Command::new("umount").arg(&path).status();
            }));
        }
        let _ = Command::new("umount").arg(&path).status();
    }
    use std::os::unix::fs::PermissionsExt as _;
    let set = |mode| {
        for p in [dir.join("erynoa.redb"), dir.to_path_buf()] {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
        }
    };
    set(0o555);
    if std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("erynoa.redb"))
        .is_err()
    {
        let dir = dir.to_path_buf();
        return Some(Box::new(move || {
            for (p, mode) in [(dir.clone(), 0o755), (dir.join("erynoa.redb"), 0o644)] {
                let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
            }
        }));
    }
    set(0o755);
    None
}

#[test]
fn a_read_only_data_directory_stops_the_start_and_changes_nothing() {
    let dir = scratch("read-only");
    counting_service(&dir, "");
    let (mut child, addr) = serve_in(&dir);
    for i in 0..5 {
        let answer = try_post(
            &addr,
            "/v1/decide/count",
            &format!(r#"{{"caller": "did:e:r{i}"}}"#),
        )
        .expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    child.kill().expect("stop");
    let _ = child.wait();
    let before = std::fs::read(dir.join("data/erynoa.redb")).expect("log");
    let Some(undo) = read_only(&dir.join("data")) else {
        eprintln!("skipped: this process can neither mount nor lose write permission");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_erynoa"))
        .current_dir(&dir)
        .args(["serve", "--config", "erynoa.toml"])
        .output()
        .expect("run");
    undo();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let why = stderr(&out);
    assert!(why.contains("erynoa.redb"), "{why}");
    assert!(
        why.contains("Read-only file system") || why.contains("Permission denied"),
        "{why}"
    );
    assert_eq!(
        std::fs::read(dir.join("data/erynoa.redb")).expect("log"),
        before
    );
    assert_eq!(code(&erynoa(&dir, &["log", "verify", "--data", "data"])), 0);
}
