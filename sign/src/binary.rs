//! Just enough of the WebAssembly binary format to find sections: the
//! preamble, then `id: u8, size: varuint32, payload` until the end. Nothing
//! inside a section is interpreted but a custom section's name.

use crate::SignError;

/// One top-level section, by byte range in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    /// Section id; 0 is a custom section.
    pub id: u8,
    /// Where the section starts (its id byte).
    pub start: usize,
    /// Where its payload starts.
    pub payload: usize,
    /// One past its last byte.
    pub end: usize,
}

impl Section {
    /// A custom section's name and the data after it; `None` for other sections.
    pub fn custom<'a>(&self, bytes: &'a [u8]) -> Result<Option<(&'a str, &'a [u8])>, SignError> {
        if self.id != 0 {
            return Ok(None);
        }
        let payload = bytes
            .get(self.payload..self.end)
            .ok_or_else(|| malformed("section out of bounds"))?;
        let (len, n) =
            read_varuint32(payload).ok_or_else(|| malformed("custom section name length"))?;
        let name = payload
            .get(n..n + len as usize)
            .ok_or_else(|| malformed("custom section name runs past the section"))?;
        let name =
            std::str::from_utf8(name).map_err(|_| malformed("custom section name is not UTF-8"))?;
        Ok(Some((name, &payload[n + len as usize..])))
    }
}

pub(crate) const PREAMBLE_LEN: usize = 8;
/// The only preambles accepted. The signature format does not cover the
/// preamble, so anything else is refused rather than trusted unsigned.
const PREAMBLES: [&[u8; 8]; 2] = [b"\0asm\x0d\0\x01\0", b"\0asm\x01\0\0\0"];

fn malformed(what: &str) -> SignError {
    SignError::Malformed {
        reason: what.to_owned(),
    }
}

/// Splits `bytes` into its top-level sections, refusing anything that is not
/// a well-framed WebAssembly module or component.
pub(crate) fn sections(bytes: &[u8]) -> Result<Vec<Section>, SignError> {
    if bytes.get(..4) != Some(b"\0asm") {
        return Err(malformed("missing the `\\0asm` magic number"));
    }
    match bytes.get(..PREAMBLE_LEN) {
        None => return Err(malformed("truncated header")),
        Some(p) if !PREAMBLES.iter().any(|k| &k[..] == p) => {
            return Err(malformed(&format!(
                "unknown version or layer {:02x?}",
                &p[4..]
            )));
        }
        Some(_) => {}
    }
    let mut sections = Vec::new();
    let mut at = PREAMBLE_LEN;
    while at < bytes.len() {
        let id = bytes[at];
        let (size, n) = bytes
            .get(at + 1..)
            .and_then(read_varuint32)
            .ok_or_else(|| malformed(&format!("bad section size at byte {}", at + 1)))?;
        let payload = at + 1 + n;
        let end = payload
            .checked_add(size as usize)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                malformed(&format!(
                    "section at byte {at} runs past the end of the file"
                ))
            })?;
        sections.push(Section {
            id,
            start: at,
            payload,
            end,
        });
        at = end;
    }
    Ok(sections)
}

/// LEB128 varuint32: the value and how many bytes it took. At most 5 bytes,
/// and the fifth may only carry the top 4 bits.
pub(crate) fn read_varuint32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        if i == 4 && b > 0x0f {
            return None;
        }
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

pub(crate) fn write_varuint32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom section: id 0, size, name, data.
pub(crate) fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    write_varuint32(&mut payload, name.len() as u32);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut out = vec![0];
    write_varuint32(&mut out, payload.len() as u32);
    out.extend_from_slice(&payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varuint32_round_trips_and_rejects_overlong() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_varuint32(&mut out, v);
            assert_eq!(read_varuint32(&out), Some((v, out.len())));
        }
        assert_eq!(read_varuint32(&[0x80, 0x80, 0x80, 0x80, 0x10]), None);
        assert_eq!(read_varuint32(&[0x80]), None);
    }

    #[test]
    fn sections_are_framed_or_refused() {
        let mut bin = b"\0asm\x0d\0\x01\0".to_vec();
        bin.extend(custom_section("hello", b"xyz"));
        let s = sections(&bin).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].custom(&bin).unwrap(), Some(("hello", &b"xyz"[..])));
        assert!(sections(&bin[..bin.len() - 1]).is_err());
        assert!(sections(b"\0asm").is_err());
        assert!(sections(b"nope").is_err());
    }
}
