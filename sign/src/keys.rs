//! Key files: PKCS#8 PEM private keys; public keys as PEM, as an OpenSSH
//! line, or in wasmsign2's compact form.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

/// A key that could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The system's random source failed.
    #[error("cannot generate a key: the system random source failed: {0}")]
    Random(String),
    /// The text or bytes are no key format we read.
    #[error("not an Ed25519 {kind} key: expected {expected}")]
    Unrecognized {
        /// `public` or `private`.
        kind: &'static str,
        /// The formats that are read.
        expected: &'static str,
    },
    /// A key in a known format that does not decode.
    #[error("invalid {kind} key: {reason}")]
    Invalid {
        /// `public` or `private`.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
}

const PUBLIC_FORMATS: &str = "a PEM public key (`BEGIN PUBLIC KEY`), an OpenSSH `ssh-ed25519` line, or a 33-byte wasmsign2 key";
const PRIVATE_FORMATS: &str =
    "a PKCS#8 PEM private key (`BEGIN PRIVATE KEY`) or a 65-byte wasmsign2 key";
const SSH_ED25519: &str = "ssh-ed25519";

/// A new key pair from the system's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The private key as PKCS#8 PEM.
pub fn private_key_pem(key: &SigningKey) -> Result<String, KeyError> {
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|pem| pem.to_string())
        .map_err(|e| KeyError::Invalid {
            kind: "private",
            reason: e.to_string(),
        })
}

/// The public key as PEM (SubjectPublicKeyInfo).
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Invalid {
            kind: "public",
            reason: e.to_string(),
        })
}

/// The public key as an OpenSSH `authorized_keys` line.
///
/// ```
/// let key = erynoa_sign::SigningKey::from_bytes(&[1; 32]).verifying_key();
/// let line = erynoa_sign::keys::public_key_openssh(&key, "ops@example");
/// assert!(line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
/// assert_eq!(erynoa_sign::keys::read_public_key(line.as_bytes()).unwrap(), key);
/// ```
pub fn public_key_openssh(key: &VerifyingKey, comment: &str) -> String {
    let mut blob = Vec::with_capacity(51);
    for field in [SSH_ED25519.as_bytes(), key.as_bytes()] {
        blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
        blob.extend_from_slice(field);
    }
    format!("{SSH_ED25519} {} {comment}", STANDARD.encode(blob))
        .trim_end()
        .to_owned()
}

/// Reads a public key in any format this crate writes, or wasmsign2's.
pub fn read_public_key(bytes: &[u8]) -> Result<VerifyingKey, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        kind: "public",
        reason,
    };
    if bytes.len() == 33 && bytes[0] == 0x01 {
        let raw: [u8; 32] = bytes[1..]
            .try_into()
            .map_err(|_| invalid("length".into()))?;
        return VerifyingKey::from_bytes(&raw).map_err(|e| invalid(e.to_string()));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KeyError::Unrecognized {
            kind: "public",
            expected: PUBLIC_FORMATS,
        })?
        .trim();
    if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        return VerifyingKey::from_public_key_pem(text).map_err(|e| invalid(e.to_string()));
    }
    if let Some(rest) = text.strip_prefix(SSH_ED25519) {
        let encoded = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| invalid("missing key data".into()))?;
        let blob = STANDARD
            .decode(encoded)
            .map_err(|e| invalid(format!("bad base64: {e}")))?;
        return openssh_blob(&blob).ok_or_else(|| invalid("malformed ssh-ed25519 key blob".into()));
    }
    Err(KeyError::Unrecognized {
        kind: "public",
        expected: PUBLIC_FORMATS,
    })
}

fn openssh_blob(blob: &[u8]) -> Option<VerifyingKey> {
    let field = |at: usize| -> Option<(&[u8], usize)> {
        let len = u32::from_be_bytes(blob.get(at..at + 4)?.try_into().ok()?) as usize;
        Some((blob.get(at + 4..at + 4 + len)?, at + 4 + len))
    };
    let (kind, next) = field(0)?;
    let (key, end) = field(next)?;
    if kind != SSH_ED25519.as_bytes() || end != blob.len() {
        return None;
    }
    VerifyingKey::from_bytes(key.try_into().ok()?).ok()
}

/// Reads a private key: PKCS#8 PEM, or wasmsign2's compact form.
pub fn read_private_key(bytes: &[u8]) -> Result<SigningKey, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        kind: "private",
        reason,
    };
    if bytes.len() == 65 && bytes[0] == 0x81 {
        let seed: [u8; 32] = bytes[1..33]
            .try_into()
            .map_err(|_| invalid("length".into()))?;
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes()[..] != bytes[33..] {
            return Err(invalid(
                "its public half does not belong to its secret half".into(),
            ));
        }
        return Ok(key);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KeyError::Unrecognized {
            kind: "private",
            expected: PRIVATE_FORMATS,
        })?
        .trim();
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        return SigningKey::from_pkcs8_pem(text).map_err(|e| invalid(e.to_string()));
    }
    Err(KeyError::Unrecognized {
        kind: "private",
        expected: PRIVATE_FORMATS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_written_format_reads_back() {
        let key = generate().unwrap();
        let public = key.verifying_key();
        assert_eq!(
            read_private_key(private_key_pem(&key).unwrap().as_bytes()).unwrap(),
            key
        );
        assert_eq!(
            read_public_key(public_key_pem(&public).unwrap().as_bytes()).unwrap(),
            public
        );
        assert_eq!(
            read_public_key(public_key_openssh(&public, "").as_bytes()).unwrap(),
            public
        );
        let compact = [&[0x01][..], public.as_bytes()].concat();
        assert_eq!(read_public_key(&compact).unwrap(), public);
        let compact_secret = [&[0x81][..], key.as_bytes(), public.as_bytes()].concat();
        assert_eq!(read_private_key(&compact_secret).unwrap(), key);
    }

    #[test]
    fn wrong_keys_say_what_was_expected() {
        let err = read_public_key(b"hello").unwrap_err().to_string();
        assert!(
            err.starts_with("not an Ed25519 public key: expected a PEM public key"),
            "{err}"
        );
        let key = generate().unwrap();
        let pem = private_key_pem(&key).unwrap();
        assert!(
            read_public_key(pem.as_bytes()).is_err(),
            "a private key is not a public key"
        );
        assert!(
            read_public_key(b"ssh-ed25519 !!!")
                .unwrap_err()
                .to_string()
                .contains("bad base64")
        );
        let mut mismatched = [&[0x81][..], key.as_bytes(), key.verifying_key().as_bytes()].concat();
        mismatched[40] ^= 1;
        assert!(
            read_private_key(&mismatched)
                .unwrap_err()
                .to_string()
                .contains("does not belong")
        );
    }
}
