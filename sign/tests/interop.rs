//! Interoperability with wasmsign2, the reference implementation of the
//! tool-conventions format (fixtures and how they were made: `tests/data/`).

use erynoa_sign::{SignatureData, SigningKey, VerifyingKey, key_id, sign, verify};

const TINY: &[u8] = include_bytes!("data/tiny.wasm");
const SIGNED_BY_WASMSIGN2: &[u8] = include_bytes!("data/tiny.signed-by-wasmsign2.wasm");
const SECRET: &[u8] = include_bytes!("data/wasmsign2-test-only.key");
const PUBLIC: &[u8] = include_bytes!("data/wasmsign2-test-only.pub");

fn keys() -> (SigningKey, VerifyingKey) {
    assert_eq!(
        (SECRET[0], PUBLIC[0]),
        (0x81, 0x01),
        "wasmsign2 key type bytes"
    );
    let seed: [u8; 32] = SECRET[1..33].try_into().expect("seed");
    let public: [u8; 32] = PUBLIC[1..33].try_into().expect("public key");
    let signing = SigningKey::from_bytes(&seed);
    assert_eq!(signing.verifying_key().as_bytes(), &public);
    (signing, VerifyingKey::from_bytes(&public).expect("key"))
}

/// The payload of the first (`signature`) section.
fn signature_data(signed: &[u8]) -> SignatureData {
    // preamble 8, id 1, size (LEB), name length 1, "signature" 9
    let (mut size, mut at) = (0usize, 9);
    for shift in (0..).step_by(7) {
        let b = signed[at];
        size |= usize::from(b & 0x7f) << shift;
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    SignatureData::decode(&signed[at + 1 + 9..at + size]).expect("decode")
}

#[test]
fn we_verify_what_wasmsign2_signed() {
    let (_, public) = keys();
    let v = verify(SIGNED_BY_WASMSIGN2, None, &[public]).expect("wasmsign2's signature verifies");
    assert_eq!(v.signatures.len(), 1);
    // wasmsign2 signs every byte after the signature section: the unsigned file minus its preamble.
    assert_eq!(
        &SIGNED_BY_WASMSIGN2[SIGNED_BY_WASMSIGN2.len() - (TINY.len() - 8)..],
        &TINY[8..]
    );
}

#[test]
fn we_sign_exactly_as_wasmsign2_does() {
    // Ed25519 is deterministic and both tools name the key the same way, so
    // signing the same component with the same key gives the same file.
    let (secret, _) = keys();
    assert_eq!(sign(TINY, &secret).expect("sign"), SIGNED_BY_WASMSIGN2);
}

#[test]
fn key_ids_are_wasmsign2_default_key_ids() {
    let (_, public) = keys();
    let data = signature_data(SIGNED_BY_WASMSIGN2);
    assert_eq!(
        data.signed_hashes[0].signatures[0].key_id,
        key_id(&public).0
    );
}

#[test]
fn we_add_our_signature_beside_wasmsign2s() {
    let (_, public) = keys();
    let ours = SigningKey::from_bytes(&[42; 32]);
    let both = sign(SIGNED_BY_WASMSIGN2, &ours).expect("co-sign");
    let v = verify(&both, None, &[public, ours.verifying_key()]).expect("verify");
    assert_eq!(v.signatures.len(), 2);
}
