//! Where each instruction of a policy compiled from source came from, so
//! that a run-time fault can say where it happened:
//! `kyc.ecl:4:13: param("amount") * 2: Expected number, got null`.
//!
//! Legacy bytecode (`.eclc`) has no map: its faults keep the legacy text
//! alone, as the legacy VM gave it.

use crate::ast::Span;
use crate::diagnostic::line_col;

/// Longest expression text a location quotes, in characters.
const MAX_EXPR_CHARS: usize = 48;

/// The source position of each instruction of one [`crate::Program`].
///
/// ```
/// let p = erynoa_ecl::compile("policy \"p\" {\n  require param(\"n\") > 1\n}", None)?
///     .in_file("p.ecl");
/// let map = p.source_map.as_ref().unwrap();
/// let gt = p.code.iter().position(|op| *op == erynoa_ecl::bytecode::OpCode::Gt).unwrap();
/// assert_eq!(map.locate(gt).as_deref(), Some("p.ecl:2:11: param(\"n\") > 1"));
/// assert_eq!(map.fault(gt, "Expected number, got null"),
///            "p.ecl:2:11: param(\"n\") > 1: Expected number, got null");
/// # Ok::<(), erynoa_ecl::Diagnostics>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMap {
    file: String,
    /// Per instruction, an index into `spots`.
    entries: Vec<u32>,
    spots: Vec<Spot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Spot {
    line: u32,
    col: u32,
    expr: String,
}

impl SourceMap {
    /// The map of instructions whose source ranges are `spans`.
    pub(crate) fn new(source: &str, spans: &[Span]) -> Self {
        let mut spots: Vec<Spot> = Vec::new();
        let mut last: Option<&Span> = None;
        let entries = spans
            .iter()
            .map(|span| {
                if last != Some(span) {
                    let (line, col) = line_col(source, span.start);
                    spots.push(Spot {
                        line: u32::try_from(line).unwrap_or(u32::MAX),
                        col: u32::try_from(col).unwrap_or(u32::MAX),
                        expr: excerpt(source.get(span.clone()).unwrap_or("")),
                    });
                    last = Some(span);
                }
                u32::try_from(spots.len() - 1).unwrap_or(u32::MAX)
            })
            .collect();
        SourceMap {
            file: "<source>".to_owned(),
            entries,
            spots,
        }
    }

    /// The file name locations start with.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn set_file(&mut self, file: &str) {
        file.clone_into(&mut self.file);
    }

    /// `file:line:col: expression` of instruction `at`.
    pub fn locate(&self, at: usize) -> Option<String> {
        let spot = self.spots.get(*self.entries.get(at)? as usize)?;
        Some(format!(
            "{}:{}:{}: {}",
            self.file, spot.line, spot.col, spot.expr
        ))
    }

    /// The source text of the expression instruction `at` belongs to.
    pub fn expression(&self, at: usize) -> Option<&str> {
        let spot = self.spots.get(*self.entries.get(at)? as usize)?;
        Some(&spot.expr)
    }

    /// The message of a fault at instruction `at`, located: the text both
    /// back ends give.
    pub fn fault(&self, at: usize, message: &str) -> String {
        match self.locate(at) {
            Some(place) => format!("{place}: {message}"),
            None => message.to_owned(),
        }
    }

    /// How many instructions it maps.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it maps no instruction.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The expression's text on one line, shortened.
fn excerpt(text: &str) -> String {
    // Lines are joined, not every space collapsed: a string literal in
    // the expression keeps its text.
    let one_line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if one_line.chars().count() <= MAX_EXPR_CHARS {
        return one_line;
    }
    let mut short: String = one_line.chars().take(MAX_EXPR_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_expression_is_shortened_to_one_line() {
        let text = "a +\n   b + cccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
        let e = excerpt(text);
        assert!(e.starts_with("a + b + ccc"), "{e}");
        assert_eq!(e.chars().count(), MAX_EXPR_CHARS);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn an_instruction_outside_the_map_has_no_location() {
        let map = SourceMap::new("x", std::slice::from_ref(&(0..1)));
        assert_eq!(map.locate(0).as_deref(), Some("<source>:1:1: x"));
        assert_eq!(map.locate(1), None);
        assert_eq!(map.fault(1, "boom"), "boom");
    }
}
