//! The payload of a `signature` section, read strictly: every length must
//! frame exactly, counts are bounded, and nothing may trail.

use crate::SignError;
use crate::binary::{read_varuint32, write_varuint32};

pub(crate) const SPEC_VERSION: u8 = 0x01;
pub(crate) const CONTENT_TYPE: u8 = 0x01;
pub(crate) const HASH_SHA256: u8 = 0x01;
pub(crate) const ALG_ED25519: u8 = 0x01;
/// Bounds from the reference implementation; more is refused, not read.
/// Most hash sets, and hashes in one set, a signature section may hold.
const MAX_HASHES: u32 = 16;
/// Most signatures a section may hold over all its sets: each may be checked
/// against every trusted key, so their number bounds the work of a refusal.
const MAX_SIGNATURES: u32 = 32;

/// The signatures a component carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureData {
    /// Sets of hashes, each with the signatures over it.
    pub signed_hashes: Vec<SignedHashes>,
}

/// Hashes and the signatures over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHashes {
    /// SHA-256 hashes; one for a signature over the whole component.
    pub hashes: Vec<[u8; 32]>,
    /// Signatures over the hashes.
    pub signatures: Vec<SignatureEntry>,
}

/// One signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// Identifies the public key; may be empty.
    pub key_id: Vec<u8>,
    /// The Ed25519 signature (64 bytes).
    pub signature: Vec<u8>,
}

fn garbled(reason: impl Into<String>) -> SignError {
    SignError::Garbled {
        reason: reason.into(),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, SignError> {
        let (v, n) = read_varuint32(self.bytes)
            .ok_or_else(|| garbled(format!("bad number in {}", self.what)))?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    fn byte(&mut self, expected: u8, name: &str) -> Result<(), SignError> {
        match self.bytes.split_first() {
            Some((&b, rest)) if b == expected => {
                self.bytes = rest;
                Ok(())
            }
            Some((&b, _)) => Err(garbled(format!(
                "unsupported {name} {b:#04x} (expected {expected:#04x})"
            ))),
            None => Err(garbled(format!("{} ends before its {name}", self.what))),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SignError> {
        if n > self.bytes.len() {
            return Err(garbled(format!("{} is truncated", self.what)));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn sized(&mut self) -> Result<&'a [u8], SignError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn end(&self) -> Result<(), SignError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(garbled(format!(
                "{} has {} trailing bytes",
                self.what,
                self.bytes.len()
            )))
        }
    }
}

impl SignatureData {
    /// Reads a `signature` section's payload (or a detached signature).
    pub fn decode(bytes: &[u8]) -> Result<Self, SignError> {
        let mut r = Reader {
            bytes,
            what: "the signature header",
        };
        r.byte(SPEC_VERSION, "specification version")?;
        r.byte(CONTENT_TYPE, "content type")?;
        r.byte(HASH_SHA256, "hash function")?;
        let sets = r.u32()?;
        if sets > MAX_HASHES {
            return Err(garbled(format!("{sets} hash sets (at most {MAX_HASHES})")));
        }
        let mut signed_hashes = Vec::new();
        let mut total_signatures = 0u32;
        for _ in 0..sets {
            let mut s = Reader {
                bytes: r.sized()?,
                what: "a signed hash set",
            };
            let count = s.u32()?;
            if count > MAX_HASHES {
                return Err(garbled(format!("{count} hashes (at most {MAX_HASHES})")));
            }
            let mut hashes = Vec::new();
            for _ in 0..count {
                let mut hash = [0; 32];
                hash.copy_from_slice(s.take(32)?);
                hashes.push(hash);
            }
            let count = s.u32()?;
            total_signatures = total_signatures.saturating_add(count);
            if total_signatures > MAX_SIGNATURES {
                return Err(garbled(format!(
                    "more than {MAX_SIGNATURES} signatures (at least {total_signatures})"
                )));
            }
            let mut signatures = Vec::new();
            for _ in 0..count {
                let mut e = Reader {
                    bytes: s.sized()?,
                    what: "a signature",
                };
                let key_id = e.sized()?.to_vec();
                e.byte(ALG_ED25519, "signature algorithm")?;
                let signature = e.sized()?.to_vec();
                e.end()?;
                signatures.push(SignatureEntry { key_id, signature });
            }
            s.end()?;
            signed_hashes.push(SignedHashes { hashes, signatures });
        }
        r.end()?;
        Ok(Self { signed_hashes })
    }

    /// Writes the payload of a `signature` section.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![SPEC_VERSION, CONTENT_TYPE, HASH_SHA256];
        write_varuint32(&mut out, self.signed_hashes.len() as u32);
        for set in &self.signed_hashes {
            let mut s = Vec::new();
            write_varuint32(&mut s, set.hashes.len() as u32);
            for h in &set.hashes {
                s.extend_from_slice(h);
            }
            write_varuint32(&mut s, set.signatures.len() as u32);
            for sig in &set.signatures {
                let mut e = Vec::new();
                write_varuint32(&mut e, sig.key_id.len() as u32);
                e.extend_from_slice(&sig.key_id);
                e.push(ALG_ED25519);
                write_varuint32(&mut e, sig.signature.len() as u32);
                e.extend_from_slice(&sig.signature);
                write_varuint32(&mut s, e.len() as u32);
                s.extend(e);
            }
            write_varuint32(&mut out, s.len() as u32);
            out.extend(s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SignatureData {
        SignatureData {
            signed_hashes: vec![SignedHashes {
                hashes: vec![[3; 32]],
                signatures: vec![
                    SignatureEntry {
                        key_id: b"first".to_vec(),
                        signature: vec![9; 64],
                    },
                    SignatureEntry {
                        key_id: vec![],
                        signature: vec![8; 64],
                    },
                ],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let bytes = sample().encode();
        assert_eq!(SignatureData::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert!(
                SignatureData::decode(&bytes[..n]).is_err(),
                "truncated to {n}"
            );
        }
        assert!(SignatureData::decode(&[&bytes[..], &[0]].concat()).is_err());
    }

    #[test]
    fn unsupported_identifiers_are_named() {
        let mut bytes = sample().encode();
        bytes[2] = 0x02;
        assert_eq!(
            SignatureData::decode(&bytes).unwrap_err().to_string(),
            "garbled signature section: unsupported hash function 0x02 (expected 0x01)"
        );
    }
}
