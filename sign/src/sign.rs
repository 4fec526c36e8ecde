//! Signing and verifying whole components.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::binary::{PREAMBLE_LEN, custom_section, sections};
use crate::format::{
    CONTENT_TYPE, HASH_SHA256, SPEC_VERSION, SignatureData, SignatureEntry, SignedHashes,
};

const SIGNATURE_SECTION: &str = "signature";
const DELIMITER_SECTION: &str = "signature_delimiter";
const DOMAIN: &[u8] = b"wasmsig";

/// Why a component could not be signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The bytes are not a well-framed WebAssembly binary.
    #[error("not a well-formed WebAssembly binary: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// There is no signature, embedded or detached.
    #[error(
        "unsigned: the component has no `signature` section and no detached signature was given"
    )]
    Unsigned,
    /// A `signature` section that is not the first section.
    #[error("a `signature` section must be the first section; found one at byte {offset}")]
    SignatureNotFirst {
        /// Where it is.
        offset: usize,
    },
    /// More than one signature: two sections, or a section and a detached signature.
    #[error("conflicting signatures: {what}")]
    Conflicting {
        /// What conflicts.
        what: String,
    },
    /// The signature data cannot be read.
    #[error("garbled signature section: {reason}")]
    Garbled {
        /// What is wrong.
        reason: String,
    },
    /// Signatures over parts of the component (with delimiters) are refused:
    /// a host runs whole components.
    #[error(
        "partial signatures are not accepted: the signature covers {hashes} parts, not the whole component"
    )]
    Partial {
        /// How many part hashes the signature has.
        hashes: usize,
    },
    /// A `signature_delimiter` section: the component is laid out for
    /// signatures over parts of it, which a host that runs whole components
    /// does not accept.
    #[error(
        "a `signature_delimiter` section at byte {offset}: signatures over parts of a component are not accepted, sign the whole component"
    )]
    Delimited {
        /// Where the first delimiter is.
        offset: usize,
    },
    /// The component's bytes are not the ones that were signed.
    #[error(
        "the component was changed after signing: its digest {actual} is not the signed digest"
    )]
    DigestMismatch {
        /// The digest of the bytes as they are, in hex.
        actual: String,
    },
    /// Signatures are present but none verifies with the given keys.
    #[error("no signature verifies with a trusted key (signed by key ids: {key_ids})")]
    NoValidSignature {
        /// The key ids the signatures name, in hex, or `none`.
        key_ids: String,
    },
}

/// How signatures name their key: HMAC-SHA256 keyed with the public key over
/// the text `key_id`, first 12 bytes. This is wasmsign2's default key id, so
/// signatures made by either tool name keys the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 12]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The key id of `key`.
pub fn key_id(key: &VerifyingKey) -> KeyId {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"key_id");
    let digest = mac.finalize().into_bytes();
    let mut id = [0; 12];
    id.copy_from_slice(&digest[..12]);
    KeyId(id)
}

/// One signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The key it verified with.
    pub public_key: VerifyingKey,
    /// That key's id.
    pub key_id: KeyId,
}

/// What verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// SHA-256 of the signed content (every byte after the signature
    /// section): the component's identity, independent of its signatures.
    pub digest: [u8; 32],
    /// The signatures that verified with one of the given keys.
    pub signatures: Vec<Signed>,
    /// Signatures present that no given key verified.
    pub unverified: usize,
}

impl Verified {
    /// The digest in hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// The signed content and the signature data found, if any.
struct Parts<'a> {
    content: &'a [u8],
    embedded: Option<SignatureData>,
}

fn split(bytes: &[u8]) -> Result<Parts<'_>, SignError> {
    let sections = sections(bytes)?;
    let mut embedded = None;
    let mut content_start = PREAMBLE_LEN;
    for (i, s) in sections.iter().enumerate() {
        match s.custom(bytes)? {
            Some((SIGNATURE_SECTION, data)) if i == 0 => {
                embedded = Some(SignatureData::decode(data)?);
                content_start = s.end;
            }
            Some((SIGNATURE_SECTION, _)) if embedded.is_some() => {
                return Err(SignError::Conflicting {
                    what: "two `signature` sections".into(),
                });
            }
            Some((SIGNATURE_SECTION, _)) => {
                return Err(SignError::SignatureNotFirst { offset: s.start });
            }
            Some((DELIMITER_SECTION, _)) => {
                return Err(SignError::Delimited { offset: s.start });
            }
            _ => {}
        }
    }
    Ok(Parts {
        content: &bytes[content_start..],
        embedded,
    })
}

fn message(hashes: &[[u8; 32]]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(DOMAIN.len() + 3 + 32 * hashes.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(&[SPEC_VERSION, CONTENT_TYPE, HASH_SHA256]);
    hashes.iter().for_each(|h| msg.extend_from_slice(h));
    msg
}

/// Signs a component (or core module) with `key`, embedding the signature.
///
/// A component that already carries signatures over the same bytes keeps
/// them and gains one more; a signature by the same key is replaced.
pub fn sign(bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, SignError> {
    let parts = split(bytes)?;
    let digest: [u8; 32] = Sha256::digest(parts.content).into();
    let mut data = parts.embedded.unwrap_or_default();
    if data.signed_hashes.iter().any(|set| set.hashes != [digest]) {
        return Err(SignError::DigestMismatch {
            actual: hex::encode(digest),
        });
    }
    let id = key_id(&key.verifying_key()).0.to_vec();
    let entry = SignatureEntry {
        key_id: id.clone(),
        signature: key.sign(&message(&[digest])).to_vec(),
    };
    match data.signed_hashes.first_mut() {
        Some(set) => {
            set.signatures.retain(|s| s.key_id != id);
            set.signatures.push(entry);
        }
        None => data.signed_hashes.push(SignedHashes {
            hashes: vec![digest],
            signatures: vec![entry],
        }),
    }
    let mut out = bytes[..PREAMBLE_LEN].to_vec();
    out.extend(custom_section(SIGNATURE_SECTION, &data.encode()));
    out.extend_from_slice(parts.content);
    Ok(out)
}

/// The payload of a signed component's `signature` section: its detached
/// signature.
pub fn signature_payload(bytes: &[u8]) -> Result<Vec<u8>, SignError> {
    let sections = sections(bytes)?;
    match sections
        .first()
        .map(|s| s.custom(bytes))
        .transpose()?
        .flatten()
    {
        Some((SIGNATURE_SECTION, data)) => Ok(data.to_vec()),
        _ => Err(SignError::Unsigned),
    }
}

/// Verifies a component against `keys`: its signature (embedded, or
/// `detached`) must cover exactly its bytes and verify with at least one key.
pub fn verify(
    bytes: &[u8],
    detached: Option<&[u8]>,
    keys: &[VerifyingKey],
) -> Result<Verified, SignError> {
    let parts = split(bytes)?;
    let data = match (parts.embedded, detached) {
        (Some(_), Some(_)) => {
            return Err(SignError::Conflicting {
                what: "the component has an embedded signature and a detached one was given too"
                    .into(),
            });
        }
        (Some(data), None) => data,
        (None, Some(detached)) => SignatureData::decode(detached)?,
        (None, None) => return Err(SignError::Unsigned),
    };
    let digest: [u8; 32] = Sha256::digest(parts.content).into();
    let trusted: Vec<(VerifyingKey, KeyId)> = keys.iter().map(|k| (*k, key_id(k))).collect();
    let mut signatures = Vec::new();
    let mut unverified = 0;
    let mut key_ids = Vec::new();
    let mut covers_content = false;
    for set in &data.signed_hashes {
        if set.hashes.len() != 1 {
            return Err(SignError::Partial {
                hashes: set.hashes.len(),
            });
        }
        covers_content |= set.hashes[0] == digest;
        let msg = message(&set.hashes);
        for entry in &set.signatures {
            key_ids.push(if entry.key_id.is_empty() {
                "(none)".to_owned()
            } else {
                hex::encode(&entry.key_id)
            });
            let Ok(signature) = Signature::from_slice(&entry.signature) else {
                unverified += 1;
                continue;
            };
            // The key id is not signed; a signature that names one must be by
            // that key, so that no byte of the section can change unnoticed.
            let by = trusted.iter().find(|(k, id)| {
                (entry.key_id.is_empty() || entry.key_id == id.0)
                    && k.verify_strict(&msg, &signature).is_ok()
            });
            match by {
                Some((k, id)) if set.hashes[0] == digest => {
                    signatures.push(Signed {
                        public_key: *k,
                        key_id: *id,
                    });
                }
                _ => unverified += 1,
            }
        }
    }
    if key_ids.is_empty() {
        return Err(SignError::Unsigned);
    }
    if !signatures.is_empty() {
        return Ok(Verified {
            digest,
            signatures,
            unverified,
        });
    }
    if !covers_content {
        return Err(SignError::DigestMismatch {
            actual: hex::encode(digest),
        });
    }
    // The ids are the signer's to choose: show a few, never all of them.
    const SHOWN: usize = 8;
    let mut shown = key_ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if key_ids.len() > SHOWN {
        shown.push_str(&format!(" and {} more", key_ids.len() - SHOWN));
    }
    Err(SignError::NoValidSignature { key_ids: shown })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn component() -> Vec<u8> {
        [COMPONENT, &custom_section("name", b"policy")[..]].concat()
    }

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn sign_then_verify_names_the_signer_and_digest() {
        let signed = sign(&component(), &key(1)).unwrap();
        let v = verify(
            &signed,
            None,
            &[key(2).verifying_key(), key(1).verifying_key()],
        )
        .unwrap();
        assert_eq!(v.signatures.len(), 1);
        assert_eq!(v.signatures[0].key_id, key_id(&key(1).verifying_key()));
        assert_eq!(
            v.digest,
            <[u8; 32]>::from(Sha256::digest(&component()[PREAMBLE_LEN..]))
        );
        assert_eq!(v.unverified, 0);
    }

    #[test]
    fn several_signers_and_resigning_by_the_same_key() {
        let once = sign(&component(), &key(1)).unwrap();
        let twice = sign(&once, &key(2)).unwrap();
        let again = sign(&twice, &key(1)).unwrap();
        let all = [key(1).verifying_key(), key(2).verifying_key()];
        assert_eq!(verify(&again, None, &all).unwrap().signatures.len(), 2);
        let only_2 = verify(&again, None, &all[1..]).unwrap();
        assert_eq!((only_2.signatures.len(), only_2.unverified), (1, 1));
    }

    #[test]
    fn refusals_say_why() {
        let signed = sign(&component(), &key(1)).unwrap();
        let trusted = [key(1).verifying_key()];
        assert_eq!(
            verify(&component(), None, &trusted),
            Err(SignError::Unsigned)
        );
        assert!(matches!(
            verify(&signed, None, &[key(3).verifying_key()]),
            Err(SignError::NoValidSignature { .. })
        ));
        let mut changed = signed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert!(matches!(
            verify(&changed, None, &trusted),
            Err(SignError::DigestMismatch { .. })
        ));
        let appended = [&signed[..], &custom_section("extra", b"")[..]].concat();
        assert!(matches!(
            verify(&appended, None, &trusted),
            Err(SignError::DigestMismatch { .. })
        ));
        let second = [&signed[..], &custom_section("signature", b"")[..]].concat();
        assert!(matches!(
            verify(&second, None, &trusted),
            Err(SignError::Conflicting { .. })
        ));
        let late = [&component()[..], &custom_section("signature", b"")[..]].concat();
        assert!(matches!(
            verify(&late, None, &trusted),
            Err(SignError::SignatureNotFirst { .. })
        ));
    }

    #[test]
    fn detached_signatures_verify_the_same_bytes() {
        let signed = sign(&component(), &key(1)).unwrap();
        let sections = sections(&signed).unwrap();
        let (_, payload) = sections[0].custom(&signed).unwrap().unwrap();
        let trusted = [key(1).verifying_key()];
        assert!(verify(&component(), Some(payload), &trusted).is_ok());
        assert!(matches!(
            verify(&signed, Some(payload), &trusted),
            Err(SignError::Conflicting { .. })
        ));
    }

    #[test]
    fn no_single_byte_flip_is_accepted() {
        let signed = sign(&component(), &key(1)).unwrap();
        let trusted = [key(1).verifying_key()];
        for i in 0..signed.len() {
            for bit in [0x01, 0x80] {
                let mut flipped = signed.clone();
                flipped[i] ^= bit;
                assert!(
                    verify(&flipped, None, &trusted).is_err(),
                    "byte {i} bit {bit:#x} accepted"
                );
            }
        }
    }
}
