//! The legacy `.eclc` file: bincode 1.x (default options) of the opcode list.
//!
//! A u64 LE count, then per instruction a u32 LE variant index and its
//! operand: f64 as 8 LE bytes, strings and arrays as a u64 LE length and the
//! contents, `usize` as u64 LE, `u8` as one byte, enums as a u32 LE index.
//! Reading is strict: every length is checked against the bytes that are
//! left, nesting is bounded, and trailing bytes are refused.

use std::sync::Arc;

use crate::bytecode::{OpCode, TrustDim, Value};

/// Why bytes are not a valid `.eclc` program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EclcError {
    /// The bytes end in the middle of something.
    #[error("truncated .eclc file: {what} at byte {offset} needs {needed} more bytes")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: usize,
        /// How many bytes were missing.
        needed: usize,
    },
    /// An unknown opcode, value kind or trust dimension.
    #[error("invalid .eclc file: unknown {what} {index} at byte {offset}")]
    Unknown {
        /// Opcode, value or dimension.
        what: &'static str,
        /// The variant index found.
        index: u32,
        /// Where.
        offset: usize,
    },
    /// A bool byte that is neither 0 nor 1, or text that is not UTF-8.
    #[error("invalid .eclc file: {what} at byte {offset}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// Arrays nested deeper than [`MAX_NESTING`].
    #[error("invalid .eclc file: arrays nested deeper than {MAX_NESTING} at byte {offset}")]
    TooDeep {
        /// Where.
        offset: usize,
    },
    /// Bytes after the last instruction.
    #[error("invalid .eclc file: {count} bytes after the last instruction")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// Deepest array nesting a `.eclc` constant may have.
pub const MAX_NESTING: usize = 64;

/// Encodes `code` as a `.eclc` file.
///
/// ```
/// use erynoa_ecl::bytecode::{OpCode, Value};
/// let bytes = erynoa_ecl::eclc::write(&[OpCode::PushConst(Value::Number(1.0)), OpCode::Return]);
/// assert_eq!(bytes.len(), 8 + 4 + 4 + 8 + 4);
/// assert_eq!(erynoa_ecl::eclc::read(&bytes).unwrap().len(), 2);
/// ```
pub fn write(code: &[OpCode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + code.len() * 8);
    out.extend_from_slice(&(code.len() as u64).to_le_bytes());
    for op in code {
        out.extend_from_slice(&op.index().to_le_bytes());
        match op {
            OpCode::PushConst(v) => write_value(&mut out, v),
            OpCode::Pick(n) => out.push(*n),
            OpCode::Call(t, n) => {
                out.extend_from_slice(&(*t as u64).to_le_bytes());
                out.push(*n);
            }
            OpCode::TrustDim(d) => out.extend_from_slice(&(d.index() as u32).to_le_bytes()),
            OpCode::LoadLocal(n) | OpCode::StoreLocal(n) => out.extend_from_slice(&n.to_le_bytes()),
            OpCode::MakeArray(n) => out.extend_from_slice(&n.to_le_bytes()),
            other => {
                if let Some(t) = other.target() {
                    out.extend_from_slice(&(t as u64).to_le_bytes());
                }
            }
        }
    }
    out
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    let index: u32 = match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Did(_) => 4,
        Value::TrustVector(_) => 5,
        Value::Array(_) => 6,
    };
    out.extend_from_slice(&index.to_le_bytes());
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Number(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::String(s) | Value::Did(s) => {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::TrustVector(t) => t
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Value::Array(items) => {
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|i| write_value(out, i));
        }
    }
}

/// Decodes a `.eclc` file.
pub fn read(bytes: &[u8]) -> Result<Vec<OpCode>, EclcError> {
    let mut r = Reader { bytes, pos: 0 };
    let count = r.u64("instruction count")?;
    // Every instruction takes at least 4 bytes: do not trust the count.
    let mut code = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(bytes.len() / 4));
    for _ in 0..count {
        code.push(r.op()?);
    }
    match bytes.len() - r.pos {
        0 => Ok(code),
        count => Err(EclcError::TrailingBytes { count }),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EclcError> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or(EclcError::Truncated {
                what,
                offset: self.pos,
                needed: N - (self.bytes.len() - self.pos).min(N),
            })?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, EclcError> {
        Ok(self.take::<1>(what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, EclcError> {
        Ok(u32::from_le_bytes(self.take(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, EclcError> {
        Ok(u64::from_le_bytes(self.take(what)?))
    }

    fn f64(&mut self) -> Result<f64, EclcError> {
        Ok(f64::from_le_bytes(self.take("number")?))
    }

    fn target(&mut self) -> Result<usize, EclcError> {
        let offset = self.pos;
        usize::try_from(self.u64("jump target")?).map_err(|_| EclcError::Malformed {
            what: "jump target does not fit in memory",
            offset,
        })
    }

    fn text(&mut self) -> Result<Arc<str>, EclcError> {
        let offset = self.pos;
        let len = self.u64("text length")?;
        let left = self.bytes.len() - self.pos;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| EclcError::Truncated {
                what: "text",
                offset,
                needed: usize::try_from(len)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(left),
            })?;
        let raw = &self.bytes[self.pos..self.pos + len];
        let s = std::str::from_utf8(raw).map_err(|_| EclcError::Malformed {
            what: "text is not UTF-8",
            offset: self.pos,
        })?;
        self.pos += len;
        Ok(Arc::from(s))
    }

    fn value(&mut self, depth: usize) -> Result<Value, EclcError> {
        let offset = self.pos;
        if depth > MAX_NESTING {
            return Err(EclcError::TooDeep { offset });
        }
        Ok(match self.u32("value kind")? {
            0 => Value::Null,
            1 => match self.u8("bool")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => {
                    return Err(EclcError::Malformed {
                        what: "bool byte is neither 0 nor 1",
                        offset: self.pos - 1,
                    });
                }
            },
            2 => Value::Number(self.f64()?),
            3 => Value::String(self.text()?),
            4 => Value::Did(self.text()?),
            5 => {
                let mut t = [0.0; 6];
                for x in &mut t {
                    *x = self.f64()?;
                }
                Value::TrustVector(t)
            }
            6 => {
                let len = self.u64("array length")?;
                // Every element takes at least 4 bytes.
                if len > ((self.bytes.len() - self.pos) / 4) as u64 {
                    return Err(EclcError::Truncated {
                        what: "array",
                        offset,
                        needed: 4,
                    });
                }
                let items = (0..len)
                    .map(|_| self.value(depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::Array(items.into())
            }
            index => {
                return Err(EclcError::Unknown {
                    what: "value kind",
                    index,
                    offset,
                });
            }
        })
    }

    fn op(&mut self) -> Result<OpCode, EclcError> {
        let offset = self.pos;
        let index = self.u32("opcode")?;
        Ok(match index {
            0 => OpCode::PushConst(self.value(0)?),
            4 => OpCode::Pick(self.u8("pick depth")?),
            22 => OpCode::Jump(self.target()?),
            23 => OpCode::JumpIfFalse(self.target()?),
            24 => OpCode::JumpIfTrue(self.target()?),
            25 => OpCode::Call(self.target()?, self.u8("argument count")?),
            27 => {
                let at = self.pos;
                let d = self.u32("trust dimension")?;
                OpCode::TrustDim(TrustDim::from_index(d as usize).ok_or(EclcError::Unknown {
                    what: "trust dimension",
                    index: d,
                    offset: at,
                })?)
            }
            62 => OpCode::LoadLocal(u16::from_le_bytes(self.take("local")?)),
            63 => OpCode::StoreLocal(u16::from_le_bytes(self.take("local")?)),
            64 => OpCode::AndThen(self.target()?),
            65 => OpCode::OrElse(self.target()?),
            67 => OpCode::MakeArray(self.u32("array length")?),
            other => OpCode::simple(other).ok_or(EclcError::Unknown {
                what: "opcode",
                index,
                offset,
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_example_byte_for_byte() {
        let bytes = write(&[OpCode::PushConst(Value::Number(1.0)), OpCode::Return]);
        let expected: Vec<u8> = [
            &[2, 0, 0, 0, 0, 0, 0, 0][..],
            &[0, 0, 0, 0],
            &[2, 0, 0, 0],
            &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f],
            &[0x1a, 0, 0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn every_opcode_round_trips() {
        let code = vec![
            OpCode::PushConst(Value::Array(
                vec![
                    Value::Null,
                    Value::Bool(true),
                    Value::string("é"),
                    Value::did("did:x:y"),
                    Value::TrustVector([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
                ]
                .into(),
            )),
            OpCode::Pick(3),
            OpCode::Jump(7),
            OpCode::Call(2, 1),
            OpCode::TrustDim(TrustDim::Omega),
            OpCode::LoadLocal(300),
            OpCode::StoreLocal(1),
            OpCode::AndThen(9),
            OpCode::OrElse(10),
            OpCode::MakeArray(2),
        ];
        let mut all = code.clone();
        all.extend((0..75).filter_map(OpCode::simple));
        assert_eq!(all.len(), 10 + 75 - 12);
        assert_eq!(read(&write(&all)).unwrap(), all);
    }

    #[test]
    fn bad_files_get_precise_errors() {
        assert!(matches!(read(&[1, 0]), Err(EclcError::Truncated { .. })));
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(&1u32.to_le_bytes());
        assert!(matches!(read(&huge), Err(EclcError::Truncated { .. })));
        let mut bad_op = 1u64.to_le_bytes().to_vec();
        bad_op.extend_from_slice(&99u32.to_le_bytes());
        assert_eq!(
            read(&bad_op),
            Err(EclcError::Unknown {
                what: "opcode",
                index: 99,
                offset: 8
            })
        );
        let mut trailing = write(&[OpCode::Return]);
        trailing.push(0);
        assert_eq!(read(&trailing), Err(EclcError::TrailingBytes { count: 1 }));
        let mut bad_bool = write(&[OpCode::PushConst(Value::Bool(true))]);
        let last = bad_bool.len() - 1;
        bad_bool[last] = 2;
        assert!(matches!(read(&bad_bool), Err(EclcError::Malformed { .. })));
        // A string length far beyond the file.
        let mut long = write(&[OpCode::PushConst(Value::string("ab"))]);
        long[16] = 0xff;
        assert!(matches!(read(&long), Err(EclcError::Truncated { .. })));
    }
}
