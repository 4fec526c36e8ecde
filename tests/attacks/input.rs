//! Attacks through what the operator or a client feeds the host: trust
//! stores, requests, state and ECL source.

use erynoa_host::{ComponentEngine, ExecutionMode, Request, Trust, TrustStore, UnifiedState};

use crate::{attacker, one_at_a_time};

fn store_error(toml: &str) -> String {
    TrustStore::from_toml(toml)
        .map(|_| ())
        .expect_err("refused")
        .to_string()
}

fn key_line() -> String {
    erynoa_sign::keys::public_key_openssh(&attacker().verifying_key(), "mallory")
}

#[test]
fn a_revocation_that_names_nothing_is_an_error() {
    let key = format!("[[key]]\nname = \"old\"\npublic_key = \"{}\"\n", key_line());
    let id = erynoa_sign::key_id(&attacker().verifying_key()).to_string();
    for bad in [" ".to_owned() + &id, id[..12].to_owned(), "olld".to_owned()] {
        let e = store_error(&format!("revoked = [\"{bad}\"]\n{key}"));
        assert!(
            e.starts_with(&format!(
                "invalid trust store: revoked entry `{bad}` is not a key id"
            )),
            "{e}"
        );
    }
    // By name, by key id (any case) and by component digest, each revokes.
    for good in [
        "old".to_owned(),
        id.to_ascii_uppercase(),
        format!("sha256:{}", "ab".repeat(32)),
    ] {
        assert!(TrustStore::from_toml(&format!("revoked = [\"{good}\"]\n{key}")).is_ok());
    }
}

#[test]
fn revoking_by_name_or_digest_refuses_the_component() {
    let _one = one_at_a_time();
    let component = crate::signed(&crate::components::spin());
    let key = format!(
        "[[key]]\nname = \"mallory\"\npublic_key = \"{}\"\n",
        key_line()
    );
    let engine = |revoked: &str| {
        ComponentEngine::new(Default::default())
            .expect("engine")
            .with_trust(Trust::Store(
                TrustStore::from_toml(&format!("revoked = [\"{revoked}\"]\n{key}")).expect("store"),
            ))
    };
    let by_name = engine("mallory")
        .load_component("p", &component)
        .map(|_| ())
        .expect_err("revoked")
        .to_string();
    assert!(by_name.contains("signed only by revoked keys"), "{by_name}");

    let admitted = engine(&format!("sha256:{}", "00".repeat(32)))
        .load_component("p", &component)
        .expect("not this digest");
    use erynoa_host::Policy as _;
    let digest = admitted
        .info()
        .admission
        .as_ref()
        .expect("admission")
        .digest
        .clone();
    let by_digest = engine(&digest)
        .load_component("p", &component)
        .map(|_| ())
        .expect_err("revoked")
        .to_string();
    assert!(
        by_digest.contains(&format!("component {digest} is revoked")),
        "{by_digest}"
    );
}

#[test]
fn duplicate_keys_are_refused_in_requests_and_state() {
    let e = Request::from_json(r#"{"caller": "did:e:alice", "caller": "did:e:root"}"#)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("duplicate key `caller`"), "{e}");
    let e = Request::many_from_json(r#"[{"caller": "did:e:a", "params": {"x": 1, "x": 2}}]"#)
        .expect_err("refused")
        .to_string();
    assert!(e.contains("duplicate key `x`"), "{e}");
    let e = UnifiedState::from_json(r#"{"trust": {"did:e:a": 0.1}, "trust": {"did:e:a": 0.9}}"#)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(e.contains("duplicate key `trust`"), "{e}");
}

#[test]
fn control_characters_are_not_part_of_a_did() {
    for caller in [
        "did:e:alice\n[ok] allow",
        "did:e:\u{1b}[31mroot",
        "did:e:a\u{0}",
    ] {
        let json = serde_json::json!({ "caller": caller }).to_string();
        let e = Request::from_json(&json).expect_err("refused").to_string();
        assert!(e.contains("is not a DID"), "{e}");
        // The message shows the caller escaped, on one line.
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e:?}");
    }
}

#[test]
fn a_long_operator_chain_is_refused_not_a_crash() {
    // 10,000 terms (60 KB): every pass over the tree would recurse 10,000 deep.
    let source = format!(
        "policy \"p\" {{ require {}1 > 0 allow }}",
        "1 + ".repeat(10_000)
    );
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    for mode in [ExecutionMode::Legacy, ExecutionMode::Wasm] {
        let e = engine
            .load_ecl("p", &source, None, mode)
            .map(|_| ())
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("E0101") && e.contains("nested more than 128 levels deep"),
            "{e}"
        );
    }
}

#[test]
fn the_deepest_accepted_nesting_compiles_on_a_small_stack() {
    // Test threads have 2 MiB stacks; every pass over the tree recurses.
    let ifs = format!(
        "policy \"p\" {{ {} allow {} }}",
        "if caller.trust.R >= 0 { ".repeat(126),
        "}".repeat(126)
    );
    let sum = format!(
        "policy \"p\" {{ require {}1 > 0 allow }}",
        "1 + ".repeat(120)
    );
    let engine = ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::AllowUnsigned);
    for source in [ifs, sum] {
        for mode in [ExecutionMode::Legacy, ExecutionMode::Wasm] {
            let loaded = engine.load_ecl("p", &source, None, mode);
            assert!(loaded.is_ok(), "{:?}", loaded.err().map(|e| e.to_string()));
        }
    }
}
