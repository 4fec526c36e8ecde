//! Source text to tokens. Comments are kept aside for the formatter.

use std::ops::Range;

use crate::diagnostic::Diagnostic;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Tok {
    Number(f64),
    Str(String),
    Ident(String),
    // Keywords.
    Policy,
    Require,
    Let,
    If,
    Else,
    Return,
    Emit,
    Const,
    True,
    False,
    Null,
    Allow,
    Deny,
    In,
    /// A trust dimension keyword: `R I C P V omega Ω`.
    Dim(crate::bytecode::TrustDim),
    // Operators and delimiters.
    EqEq,
    NotEq,
    LtEq,
    GtEq,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Assign,
    Lt,
    Gt,
    Bang,
    Dot,
    Comma,
    Semi,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Eof,
}

impl Tok {
    /// How the token reads in a message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Number(n) => format!("number `{n}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Dim(d) => format!("`{}`", d.name()),
            Tok::Eof => "end of file".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Policy => "policy",
            Tok::Require => "require",
            Tok::Let => "let",
            Tok::If => "if",
            Tok::Else => "else",
            Tok::Return => "return",
            Tok::Emit => "emit",
            Tok::Const => "const",
            Tok::True => "true",
            Tok::False => "false",
            Tok::Null => "null",
            Tok::Allow => "allow",
            Tok::Deny => "deny",
            Tok::In => "in",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::LtEq => "<=",
            Tok::GtEq => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Assign => "=",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Bang => "!",
            Tok::Dot => ".",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            _ => "?",
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Byte range in the source.
    pub span: Range<usize>,
}

/// A comment and where it is (the formatter keeps them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The whole comment, `//` or `/* */` included.
    pub text: String,
    /// Byte range in the source.
    pub span: Range<usize>,
}

/// Longest source the front end accepts, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// Splits `src` into tokens (ending with [`Tok::Eof`]) and comments.
pub fn lex(src: &str) -> Result<(Vec<Token>, Vec<Comment>), Diagnostic> {
    if src.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::new(
            "E0006",
            0..0,
            format!(
                "source is {} bytes; the limit is {MAX_SOURCE_BYTES}",
                src.len()
            ),
        ));
    }
    let mut tokens = Vec::new();
    let mut comments = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
                comments.push(Comment {
                    text: src[i..end].trim_end().to_owned(),
                    span: i..end,
                });
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..]
                    .find("*/")
                    .map(|n| i + 2 + n + 2)
                    .ok_or_else(|| {
                        Diagnostic::new("E0005", i..i + 2, "unterminated block comment")
                            .label("this comment is never closed")
                            .help("close it with `*/`")
                    })?;
                comments.push(Comment {
                    text: src[i..end].to_owned(),
                    span: i..end,
                });
                i = end;
            }
            b'"' => {
                let (s, end) = string(src, i)?;
                tokens.push(Token {
                    tok: Tok::Str(s),
                    span: start..end,
                });
                i = end;
            }
            b'0'..=b'9' => {
                let (n, end) = number(src, i)?;
                tokens.push(Token {
                    tok: Tok::Number(n),
                    span: start..end,
                });
                i = end;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let end = src[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(src.len(), |n| i + n);
                tokens.push(Token {
                    tok: keyword(&src[i..end]),
                    span: start..end,
                });
                i = end;
            }
            _ if src[i..].starts_with('Ω') => {
                tokens.push(Token {
                    tok: Tok::Dim(crate::bytecode::TrustDim::Omega),
                    span: i..i + 'Ω'.len_utf8(),
                });
                i += 'Ω'.len_utf8();
            }
            _ => {
                let two = src.get(i..i + 2).unwrap_or("");
                let tok2 = match two {
                    "==" => Some(Tok::EqEq),
                    "!=" => Some(Tok::NotEq),
                    "<=" => Some(Tok::LtEq),
                    ">=" => Some(Tok::GtEq),
                    "&&" => Some(Tok::AndAnd),
                    "||" => Some(Tok::OrOr),
                    _ => None,
                };
                if let Some(tok) = tok2 {
                    tokens.push(Token {
                        tok,
                        span: i..i + 2,
                    });
                    i += 2;
                    continue;
                }
                let tok = match c {
                    b'+' => Tok::Plus,
                    b'-' => Tok::Minus,
                    b'*' => Tok::Star,
                    b'/' => Tok::Slash,
                    b'%' => Tok::Percent,
                    b'=' => Tok::Assign,
                    b'<' => Tok::Lt,
                    b'>' => Tok::Gt,
                    b'!' => Tok::Bang,
                    b'.' => Tok::Dot,
                    b',' => Tok::Comma,
                    b';' => Tok::Semi,
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b'{' => Tok::LBrace,
                    b'}' => Tok::RBrace,
                    b'[' => Tok::LBracket,
                    b']' => Tok::RBracket,
                    _ => return Err(unexpected(src, i)),
                };
                tokens.push(Token {
                    tok,
                    span: i..i + 1,
                });
                i += 1;
            }
        }
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: src.len()..src.len(),
    });
    Ok((tokens, comments))
}

fn unexpected(src: &str, i: usize) -> Diagnostic {
    let ch = src[i..].chars().next().unwrap_or('?');
    let d = Diagnostic::new(
        "E0001",
        i..i + ch.len_utf8(),
        format!("unexpected character `{ch}`"),
    )
    .label("not part of ECL");
    match ch {
        '&' => d.help("logical and is `&&`"),
        '|' => d.help("logical or is `||`"),
        '\'' => d.help("strings use double quotes: \"...\""),
        c if c.is_alphabetic() => d.help("names are ASCII letters, digits and `_`"),
        _ => d,
    }
}

fn keyword(word: &str) -> Tok {
    use crate::bytecode::TrustDim;
    match word {
        "policy" => Tok::Policy,
        "require" => Tok::Require,
        "let" => Tok::Let,
        "if" => Tok::If,
        "else" => Tok::Else,
        "return" => Tok::Return,
        "emit" => Tok::Emit,
        "const" => Tok::Const,
        "true" => Tok::True,
        "false" => Tok::False,
        "null" => Tok::Null,
        "allow" => Tok::Allow,
        "deny" => Tok::Deny,
        "in" => Tok::In,
        "R" => Tok::Dim(TrustDim::R),
        "I" => Tok::Dim(TrustDim::I),
        "C" => Tok::Dim(TrustDim::C),
        "P" => Tok::Dim(TrustDim::P),
        "V" => Tok::Dim(TrustDim::V),
        "omega" => Tok::Dim(TrustDim::Omega),
        other => Tok::Ident(other.to_owned()),
    }
}

fn number(src: &str, start: usize) -> Result<(f64, usize), Diagnostic> {
    let b = src.as_bytes();
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = digits(start);
    if b[start] == b'0' && i > start + 1 {
        return Err(
            Diagnostic::new("E0004", start..i, "numbers cannot have leading zeros")
                .help(format!("write `{}`", trimmed_zeros(&src[start..i]))),
        );
    }
    if b.get(i) == Some(&b'.') {
        let frac = digits(i + 1);
        if frac == i + 1 {
            return Err(
                Diagnostic::new("E0004", start..i + 1, "a number cannot end in `.`")
                    .help(format!("write `{}.0`", &src[start..i])),
            );
        }
        i = frac;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp = digits(j);
        if exp == j {
            return Err(Diagnostic::new("E0004", start..j, "exponent has no digits")
                .help("write e.g. `1e3` or `2.5e-2`"));
        }
        i = exp;
    }
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        let end = src[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(src.len(), |n| i + n);
        return Err(Diagnostic::new(
            "E0004",
            start..end,
            format!("malformed number `{}`", &src[start..end]),
        ));
    }
    let n: f64 = src[start..i].parse().map_err(|_| {
        Diagnostic::new(
            "E0004",
            start..i,
            format!("malformed number `{}`", &src[start..i]),
        )
    })?;
    // Rust reads `1e999` as infinity, which no literal can write back.
    if !n.is_finite() {
        return Err(Diagnostic::new(
            "E0004",
            start..i,
            format!("number `{}` is too large", &src[start..i]),
        )
        .help("the largest number is 1.7976931348623157e308"));
    }
    Ok((n, i))
}

fn trimmed_zeros(digits: &str) -> &str {
    match digits.trim_start_matches('0') {
        "" => "0",
        rest => rest,
    }
}

fn string(src: &str, start: usize) -> Result<(String, usize), Diagnostic> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        match c {
            '"' => return Ok((out, at + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or_else(|| unterminated(start))?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' => {
                        let rest = &src[at + 2..];
                        let close = rest.find('}').filter(|_| rest.starts_with('{'));
                        let code = close
                            .and_then(|c| u32::from_str_radix(&rest[1..c], 16).ok())
                            .and_then(char::from_u32);
                        match (close, code) {
                            (Some(c), Some(ch)) => {
                                out.push(ch);
                                for _ in 0..c + 1 {
                                    chars.next();
                                }
                            }
                            _ => {
                                return Err(Diagnostic::new(
                                    "E0003",
                                    at..at + 2,
                                    "invalid unicode escape",
                                )
                                .help("write `\\u{1F600}`: hex digits of a code point in braces"));
                            }
                        }
                    }
                    other => {
                        return Err(Diagnostic::new(
                            "E0003",
                            at..at + 1 + other.len_utf8(),
                            format!("unknown escape `\\{other}`"),
                        )
                        .help("escapes are \\\" \\\\ \\n \\t \\r and \\u{...}"));
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(unterminated(start))
}

fn unterminated(start: usize) -> Diagnostic {
    Diagnostic::new("E0002", start..start + 1, "unterminated string")
        .label("this string is never closed")
        .help("close it with `\"`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().0.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_escapes_and_operators() {
        assert_eq!(
            toks("1e3 2.5 \"a\\\"b\\u{3A9}\" >= && x.R"),
            vec![
                Tok::Number(1000.0),
                Tok::Number(2.5),
                Tok::Str("a\"bΩ".into()),
                Tok::GtEq,
                Tok::AndAnd,
                Tok::Ident("x".into()),
                Tok::Dot,
                Tok::Dim(crate::bytecode::TrustDim::R),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("12345678901234567890"),
            vec![Tok::Number(1.2345678901234567e19), Tok::Eof]
        );
        // Found by the fuzzer: `8e1270` read as infinity, formatted as
        // `inf`, which does not parse back.
        let e = lex("const s = 8e1270").unwrap_err();
        assert_eq!((e.code, e.span.clone()), ("E0004", 10..16));
        assert_eq!(e.message, "number `8e1270` is too large");
        assert_eq!(
            toks("1.7976931348623157e308"),
            vec![Tok::Number(f64::MAX), Tok::Eof]
        );
        assert_eq!(toks("1e-400"), vec![Tok::Number(0.0), Tok::Eof]);
    }

    #[test]
    fn comments_are_kept_aside_and_may_end_the_file() {
        let (t, c) = lex("a // end").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(c[0].text, "// end");
        let (_, c) = lex("/* x */ a").unwrap();
        assert_eq!(c[0].text, "/* x */");
    }

    #[test]
    fn bad_input_has_a_code_and_a_position() {
        for (src, code, at) in [
            ("\"abc", "E0002", 0),
            ("\"a\\q\"", "E0003", 2),
            ("007", "E0004", 0),
            ("1.", "E0004", 0),
            ("1e", "E0004", 0),
            ("1x", "E0004", 0),
            ("a & b", "E0001", 2),
            ("ä", "E0001", 0),
            ("/* x", "E0005", 0),
        ] {
            let d = lex(src).unwrap_err();
            assert_eq!((d.code, d.span.start), (code, at), "{src}");
        }
    }
}
