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
