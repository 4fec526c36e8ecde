//! Reading operator and client input strictly: JSON without duplicate keys,
//! files of bounded size.
//!
//! serde_json keeps the last of two equal keys, so `{"caller": "did:a",
//! "caller": "did:b"}` would be read as whoever came last: what a reviewer
//! reads and what the host decides on would differ. Here it is an error that
//! names the key.
//!
//! ```
//! let err = erynoa_host::json::parse(r#"{"caller": "did:e:a", "caller": "did:e:b"}"#).unwrap_err();
//! assert!(err.to_string().contains("duplicate key `caller`"));
//! ```

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Largest request or state file the host reads by default: 64 MiB.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Parses `text` as JSON, refusing an object that has a key twice (at any
/// depth) and anything after the value.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    check_unique_keys(text)?;
    serde_json::from_str(text)
}

/// Refuses `text` if an object in it has a key twice, without building
/// anything: run it before `serde_json::from_str` into a typed struct, which
/// keeps line and column in its own errors.
pub fn check_unique_keys(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_any(UniqueKeys)?;
    de.end()
}

/// Walks a value, remembering each object's keys only while in it.
struct UniqueKeys;

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeysSeed)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if keys.contains(&key) {
                return Err(duplicate(&key));
            }
            map.next_value_seed(UniqueKeysSeed)?;
            keys.push(key);
        }
        Ok(())
    }
}

struct UniqueKeysSeed;

impl<'de> de::DeserializeSeed<'de> for UniqueKeysSeed {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(UniqueKeys)
    }
}

fn duplicate<E: de::Error>(key: &str) -> E {
    let shown: String = key.chars().take(64).flat_map(char::escape_debug).collect();
    E::custom(format!("duplicate key `{shown}`"))
}

/// Reads a text file of at most `max` bytes. Refuses what is not a regular
/// file (a FIFO, a device such as `/dev/zero`) before reading it, and stops
/// at the bound even if the file grows.
pub fn read_text_file(path: &Path, max: u64) -> std::io::Result<String> {
    let bytes = read_file(path, max)?;
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {}", e.utf8_error()),
        )
    })
}

/// Reads a file of at most `max` bytes; see [`read_text_file`].
pub fn read_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO must not hang the open; a regular file ignores the flag.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

fn too_large(found: u64, max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{found} bytes is larger than the limit of {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse(r#"{"a": 1, "b": {"c": 1, "d": 2}}"#).is_ok());
        let err = |t| parse(t).unwrap_err().to_string();
        assert!(err(r#"{"a": 1, "a": 2}"#).starts_with("duplicate key `a`"));
        assert!(err(r#"[{"p": {"x": 1, "x": 1}}]"#).contains("duplicate key `x`"));
        assert!(err(r#"{"a": 1} x"#).contains("trailing characters"));
        assert!(check_unique_keys(r#"[{"a": {"a": 1}, "b": [{"a": 2}]}]"#).is_ok());
        let e = check_unique_keys("{\"p\": {\"x\": 1,\n \"x\": 2}}").unwrap_err();
        assert_eq!(e.to_string(), "duplicate key `x` at line 2 column 4");
    }

    #[test]
    fn values_are_what_serde_json_reads() {
        let text =
            r#"{"n": -1.5, "u": 18446744073709551615, "s": "\u00e9", "z": null, "l": [true]}"#;
        assert_eq!(
            parse(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[cfg(unix)]
    #[test]
    fn special_and_oversized_files_are_refused() {
        let err = read_file(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file");
        let dir = std::env::temp_dir().join(format!("erynoa-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; 2048]).unwrap();
        assert_eq!(
            read_file(&big, 1024).unwrap_err().to_string(),
            "2048 bytes is larger than the limit of 1024 bytes"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
