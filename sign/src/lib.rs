//! Ed25519 signatures embedded in WebAssembly components.
//!
//! The format is the WebAssembly tool-conventions signature format (the one
//! `wasmsign2` implements): a custom section named `signature`, first in the
//! binary, holding signatures over the SHA-256 of every byte that follows it.
//! A signed component is one file that stays verifiable wherever it is
//! copied; the same payload also works detached, as a separate file. A
//! component may carry several signatures.
//!
//! ```
//! use erynoa_sign::{sign, verify, SigningKey};
//!
//! let key = SigningKey::from_bytes(&[7; 32]);
//! // A component with one custom section.
//! let component = b"\0asm\x0d\0\x01\0\0\x05\x04name".to_vec();
//! let signed = sign(&component, &key)?;
//! let trusted = [key.verifying_key()];
//! let verified = verify(&signed, None, &trusted)?;
//! assert_eq!(verified.signatures[0].public_key, key.verifying_key());
//! let mut changed = signed.clone();
//! changed[signed.len() - 1] ^= 1;
//! assert!(verify(&changed, None, &trusted).is_err());
//! # Ok::<(), erynoa_sign::SignError>(())
//! ```

mod binary;
mod format;
pub mod keys;
mod sign;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

pub use crate::format::{SignatureData, SignatureEntry, SignedHashes};
pub use crate::keys::KeyError;
pub use crate::sign::{
    KeyId, SignError, Signed, Verified, key_id, sign, signature_payload, verify,
};
