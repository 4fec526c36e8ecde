//! Bad input gets a clear, specific error and loses nothing.

use erynoa_host::{LoadError, Request, UnifiedState};

use crate::{engine, guest_bytes};

fn load_err(bytes: &[u8]) -> LoadError {
    match engine().load_component("bad", bytes) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    }
}

#[test]
fn bytes_that_are_not_wasm() {
    let e = load_err(b"#!/bin/sh\necho policy\n");
    assert!(matches!(e, LoadError::NotWasm { .. }));
    assert_eq!(
        e.to_string(),
        "not a WebAssembly binary: missing the `\\0asm` magic number"
    );
}

#[test]
fn a_core_module_instead_of_a_component() {
    let module = wat::parse_str("(module (func (export \"evaluate\")))").expect("wat");
    let e = load_err(&module);
    assert!(matches!(e, LoadError::CoreModule));
    assert!(e.to_string().contains("wasm32-wasip2"));
}

#[test]
fn a_truncated_component() {
    let bytes = guest_bytes("trust_threshold");
    let e = load_err(&bytes[..bytes.len() / 2]);
    assert!(matches!(e, LoadError::Compile { .. }), "{e}");
    // The cause is kept whole, as the source of the error.
    let cause = std::error::Error::source(&e).map(ToString::to_string);
    assert!(cause.is_some_and(|c| !c.is_empty()), "{e:?}");
}

#[test]
fn a_component_of_another_world() {
    let other = wat::parse_str(
        r#"(component
            (core module $m (func (export "hello") (result i32) i32.const 7))
            (core instance $i (instantiate $m))
            (func (export "hello") (result u32) (canon lift (core func $i "hello"))))"#,
    )
    .expect("wat");
    let e = load_err(&other);
    assert_eq!(
        e.to_string(),
        "component does not export `erynoa:ecl/policy@0.1.0`: it implements another world (exports: hello)"
    );
}

#[test]
fn a_component_importing_what_the_host_does_not_serve() {
    let foreign = wat::parse_str(
        r#"(component
            (import "acme:net/http@1.0.0" (instance (export "get" (func (param "url" string) (result string))))))"#,
    )
    .expect("wat");
    let e = load_err(&foreign);
    assert!(
        matches!(&e, LoadError::UnsupportedImport { name } if name == "acme:net/http@1.0.0"),
        "{e}"
    );
}

#[test]
fn malformed_request_json() {
    for (text, expected) in [
        (
            "",
            "invalid request JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            r#"{"caller": 7}"#,
            "invalid request JSON: invalid type: integer `7`, expected a string at line 1 column 12",
        ),
        (
            r#"{"caller": "bob"}"#,
            "request caller `bob` is not a DID (expected `did:<method>:<id>`)",
        ),
    ] {
        assert_eq!(
            Request::from_json(text)
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            expected
        );
    }
}

#[test]
fn malformed_state_json() {
    for (text, expected) in [
        (
            "{",
            "invalid state JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            r#"{"trust": {"did:e:a": -0.5}}"#,
            "invalid state: trust of `did:e:a`: dimension `r` is -0.5, expected a number in [0, 1]",
        ),
    ] {
        assert_eq!(
            UnifiedState::from_json(text)
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            expected
        );
    }
    let path = std::env::temp_dir().join(format!("erynoa-state-{}.json", std::process::id()));
    std::fs::write(&path, r#"[{"caller": "did:e:a"}]"#).expect("temp file");
    let in_file = UnifiedState::from_file(&path)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        in_file,
        format!(
            "in state file `{}`: invalid state: expected a JSON object with `trust`, `identities`, \
             `stores` and `clock`, found an array",
            path.display()
        )
    );
    let missing = UnifiedState::from_file("/nonexistent/state.json")
        .map(|_| ())
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read state file `/nonexistent/state.json`")
    );
}

#[test]
fn a_policy_export_of_the_wrong_shape() {
    // Exports `erynoa:ecl/policy@0.1.0`, but `evaluate` takes nothing.
    let wrong = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $p (export "evaluate" (func $f)) (export "metadata" (func $f)))
            (export "erynoa:ecl/policy@0.1.0" (instance $p)))"#,
    )
    .expect("wat");
    let e = load_err(&wrong);
    assert!(matches!(e, LoadError::ExportMismatch { .. }), "{e}");
    assert!(
        e.to_string().starts_with(
            "component exports `erynoa:ecl/policy` with signatures this host does not expect"
        ),
        "{e}"
    );
}
