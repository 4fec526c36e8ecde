//! What the benchmark binaries share: the built guests and the state.

/// Alice's trust and `kyc` credential, for the example policies.
pub const STATE: &str = r#"{"trust": {"did:erynoa:self:alice": {"r": 0.8, "i": 0.7, "c": 0.6, "p": 0.5, "v": 0.4, "omega": 0.3}},
                        "identities": {"did:erynoa:self:alice": ["kyc"]}}"#;

/// The bytes of a guest built by `cargo xtask build-guests`.
pub fn guest(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../target/guests/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run `cargo xtask build-guests` first"))
}
