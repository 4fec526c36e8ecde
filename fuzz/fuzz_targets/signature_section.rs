//! The signature section parser and verifier on arbitrary input: never a
//! panic, and never an acceptance of bytes the trusted key did not sign.

#![no_main]

use erynoa_sign::{SignatureData, SigningKey, sign, signature_payload, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[1; 32]);
    let trusted = [key.verifying_key()];

    // Arbitrary bytes as a signature payload, a detached signature and a whole binary.
    let _ = SignatureData::decode(data);
    let _ = signature_payload(data);
    let component = b"\0asm\x0d\0\x01\0\0\x05\x04test";
    let _ = verify(component, Some(data), &trusted);
    let _ = verify(data, None, &trusted);

    // Arbitrary bytes appended to, or spliced into, a signed component are never accepted.
    let signed = sign(component, &key).expect("sign a fixed component");
    if !data.is_empty() {
        let appended = [&signed[..], data].concat();
        assert!(
            verify(&appended, None, &trusted).is_err(),
            "accepted appended bytes"
        );
        let at = usize::from(data[0]) % signed.len();
        let mut spliced = signed.clone();
        spliced[at] ^= data.get(1).copied().unwrap_or(1).max(1);
        assert!(
            verify(&spliced, None, &trusted).is_err(),
            "accepted a changed byte at {at}"
        );
    }
});
