//! Admission: nothing unsigned, tampered, revoked or ungranted is compiled
//! or run, and each refusal says what and why.

use erynoa_host::{
    Capability, ComponentEngine, LoadError, Policy, Request, StateEvent, Trust, TrustStore,
};
use erynoa_sign::{SigningKey, keys};

use crate::{ALICE, guest_bytes, state};

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn store(entries: &[(&str, &SigningKey, &str)], revoked: &[&SigningKey]) -> TrustStore {
    let mut toml = String::new();
    for (name, key, caps) in entries {
        let line = keys::public_key_openssh(&key.verifying_key(), name);
        toml.push_str(&format!(
            "[[key]]\nname = \"{name}\"\npublic_key = \"{line}\"\ncapabilities = [{caps}]\n\n"
        ));
    }
    let ids: Vec<String> = revoked
        .iter()
        .map(|k| format!("\"{}\"", erynoa_sign::key_id(&k.verifying_key())))
        .collect();
    toml = format!("revoked = [{}]\n\n{toml}", ids.join(", "));
    TrustStore::from_toml(&toml).expect("trust store")
}

fn engine(store: TrustStore) -> ComponentEngine {
    ComponentEngine::new(Default::default())
        .expect("engine")
        .with_trust(Trust::Store(store))
}

fn signed(name: &str, by: &SigningKey) -> Vec<u8> {
    erynoa_sign::sign(&guest_bytes(name), by).expect("sign")
}

fn refusal(engine: &ComponentEngine, bytes: &[u8]) -> String {
    match engine.load_component("p", bytes) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

const KYC_CAPS: &str = r#""trust", "identity""#;

#[test]
fn a_signed_granted_component_loads_and_runs() {
    let ops = key(1);
    let engine = engine(store(&[("ops", &ops, KYC_CAPS)], &[]));
    let policy = engine
        .load_component("kyc", &signed("kyc_score", &ops))
        .expect("load");
    let admission = policy.info().admission.clone().expect("admitted");
    assert_eq!(admission.signers[0].0, "ops");
    assert!(admission.digest.starts_with("sha256:"));
    let s = state(
        r#"{"trust": {"did:erynoa:self:alice": 0.9}, "identities": {"did:erynoa:self:alice": ["kyc"]}}"#,
    );
    assert!(
        policy
            .evaluate(
                &s,
                &Request::builder(ALICE, "r").build(),
                Default::default()
            )
            .is_allowed()
    );
    // The decision's log entry names the signed bytes and who signed them.
    let logged = s.events().into_iter().find_map(|e| match e {
        StateEvent::PolicyEvaluated { admission, .. } => admission,
        StateEvent::PolicyEmitted { .. } => None,
    });
    assert_eq!(logged, Some(admission));
}

#[test]
fn the_default_engine_loads_nothing() {
    let engine = ComponentEngine::new(Default::default()).expect("engine");
    let e = refusal(&engine, &signed("kyc_score", &key(1)));
    assert_eq!(
        e,
        "refused before compiling: no signature verifies with a trusted key (signed by key ids: \
         d5a7fa4e1f80b24eb8f6bcf0)"
            .replace(
                "d5a7fa4e1f80b24eb8f6bcf0",
                &erynoa_sign::key_id(&key(1).verifying_key()).to_string()
            )
    );
}

#[test]
fn every_refusal_names_its_reason() {
    let (ops, rogue, old) = (key(1), key(2), key(3));
    let engine = engine(store(
        &[("ops", &ops, KYC_CAPS), ("old", &old, KYC_CAPS)],
        &[&old],
    ));
    let good = signed("kyc_score", &ops);

    assert!(refusal(&engine, &guest_bytes("kyc_score")).contains("unsigned"));
    // Bytes the compiler would reject are refused for their signature first:
    // nothing is compiled before it is admitted.
    let junk = b"\0asm\x0d\0\x01\0\x99\x03abc";
    assert_eq!(
        refusal(&engine, junk),
        "refused before compiling: unsigned: the component has no `signature` section and no detached signature was given"
    );
    assert!(
        refusal(&engine, &signed("kyc_score", &rogue))
            .contains("no signature verifies with a trusted key")
    );
    assert!(
        refusal(&engine, &signed("kyc_score", &old))
            .starts_with("refused before compiling: signed only by revoked keys")
    );

    let mut changed = good.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    assert!(refusal(&engine, &changed).contains("the component was changed after signing"));

    let payload = good
        .windows(9)
        .position(|w| w == b"signature")
        .expect("section")
        + 9;
    let mut garbled = good.clone();
    garbled[payload] = 0x07; // the spec version byte
    assert!(
        refusal(&engine, &garbled)
            .contains("garbled signature section: unsupported specification version 0x07")
    );

    let second = [&good[..], &[0, 10, 9][..], b"signature"].concat();
    assert!(refusal(&engine, &second).contains("conflicting signatures: two `signature` sections"));
}

#[test]
fn imports_beyond_the_grant_are_refused_by_name() {
    let ops = key(1);
    let engine = engine(store(&[("ops", &ops, r#""trust""#)], &[]));
    let e = engine
        .load_component("kyc", &signed("kyc_score", &ops))
        .map(|_| ())
        .expect_err("refused");
    assert!(
        matches!(
            &e,
            LoadError::NotGranted {
                capability: Capability::Identity,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "component imports `erynoa:ecl/identity@0.1.0`, but its signers (ops) are not granted `identity`"
    );
}

#[test]
fn a_digest_entry_grants_one_component_more() {
    let ops = key(1);
    let bytes = signed("kyc_score", &ops);
    let digest = format!(
        "sha256:{}",
        erynoa_sign::verify(&bytes, None, &[ops.verifying_key()])
            .expect("v")
            .digest_hex()
    );
    let toml = format!(
        "[[key]]\nname = \"ops\"\npublic_key = \"{}\"\ncapabilities = [\"trust\"]\n\n[[component]]\ndigest = \"{digest}\"\ncapabilities = [\"identity\"]\n",
        keys::public_key_openssh(&ops.verifying_key(), "ops")
    );
    let engine = engine(TrustStore::from_toml(&toml).expect("store"));
    assert!(engine.load_component("kyc", &bytes).is_ok());
}

#[test]
fn a_signers_budget_cap_bounds_every_evaluation() {
    let ops = key(1);
    let toml = format!(
        "[[key]]\nname = \"ops\"\npublic_key = \"{}\"\ncapabilities = [\"trust\"]\nbudget = {{ gas_limit = 50 }}\n",
        keys::public_key_openssh(&ops.verifying_key(), "ops")
    );
    let engine = engine(TrustStore::from_toml(&toml).expect("store"));
    let policy = engine
        .load_component("t", &signed("trust_threshold", &ops))
        .expect("load");
    let e = policy.evaluate(
        &state("{}"),
        &Request::builder(ALICE, "r").build(),
        Default::default(),
    );
    assert_eq!(
        e.failure.as_ref().map(|f| f.kind()),
        Some("out-of-gas"),
        "{e:?}"
    );
}

#[test]
fn another_wit_version_is_refused_naming_both() {
    let ops = key(1);
    let engine = engine(store(&[("ops", &ops, r#""trust""#)], &[]));
    let other = wat::parse_str(
        r#"(component (import "erynoa:ecl/trust@0.2.0" (instance (export "trust-norm" (func (result f64))))))"#,
    )
    .expect("wat");
    let e = engine
        .load_component("v", &erynoa_sign::sign(&other, &ops).expect("sign"))
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(
        e.to_string(),
        "component uses `erynoa:ecl/trust` version 0.2.0; this host serves version 0.1.0 (any 0.1.x loads)"
    );
}

#[test]
fn trust_store_mistakes_are_named() {
    let err = |t: &str| {
        TrustStore::from_toml(t)
            .map(|_| ())
            .expect_err("refused")
            .to_string()
    };
    assert!(
        err("[[key]]\nname = \"x\"\npublic_key = \"nope\"")
            .starts_with("invalid trust store: key `x`: not an Ed25519 public key")
    );
    assert!(
        err(
            "[[key]]\nname = \"x\"\npublic_key = \"ssh-ed25519 AAAA\"\ncapabilities = [\"network\"]"
        )
        .contains("unknown variant `network`")
    );
    assert!(
        err("[[component]]\ndigest = \"md5:00\"")
            .contains("is not `sha256:` followed by 64 hex digits")
    );
    let line = keys::public_key_openssh(&key(1).verifying_key(), "");
    assert!(err(&format!("[[key]]\nname = \"a\"\npublic_key = \"{line}\"\n[[key]]\nname = \"b\"\npublic_key = \"{line}\"")).contains("keys `a` and `b` are the same key"));
}

#[test]
fn a_signature_over_other_bytes_is_refused() {
    let ops = key(1);
    let engine = engine(store(&[("ops", &ops, KYC_CAPS)], &[]));
    let other = erynoa_sign::signature_payload(&signed("trust_threshold", &ops)).expect("payload");
    let e = engine
        .load_component_detached("kyc", &guest_bytes("kyc_score"), Some(&other))
        .map(|_| ())
        .expect_err("refused");
    assert!(
        e.to_string()
            .contains("the component was changed after signing"),
        "{e}"
    );
}

#[test]
fn no_byte_of_a_signed_example_can_change() {
    // Every byte of the signature section and every 37th byte after it,
    // each with a low and a high bit flipped, through the real load path.
    let ops = key(1);
    let engine = engine(store(&[("ops", &ops, KYC_CAPS)], &[]));
    let good = signed("kyc_score", &ops);
    assert!(engine.load_component("kyc", &good).is_ok());
    let section_end = good
        .windows(9)
        .position(|w| w == b"signature")
        .expect("section")
        + 9
        + 140;
    let positions = (0..section_end.min(good.len())).chain((section_end..good.len()).step_by(37));
    let mut checked = 0;
    for at in positions {
        for bit in [0x01, 0x80] {
            let mut flipped = good.clone();
            flipped[at] ^= bit;
            assert!(
                engine.load_component("kyc", &flipped).is_err(),
                "byte {at} bit {bit:#04x} accepted"
            );
            checked += 1;
        }
    }
    assert!(checked > 2_000, "{checked}");
}
