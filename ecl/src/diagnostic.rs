//! Compile errors: a code, a position, a message, a label and a suggestion,
//! printed like rustc's.

use std::fmt;
use std::ops::Range;

/// One problem in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// A stable code, e.g. `E0200`; `docs/ecl.md` lists them all.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where: byte offsets into the source.
    pub span: Range<usize>,
    /// A short note at the marker.
    pub label: String,
    /// How to fix it, when we know.
    pub help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code,
            label: String::new(),
            message,
            span,
            help: None,
        }
    }

    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// 1-based line and column (in characters) of the start of the span.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }

    /// Renders the diagnostic against its source, rustc style:
    ///
    /// ```text
    /// error[E0200]: unknown name `amout`
    ///  --> policy.ecl:3:13
    ///   |
    /// 3 |     require amout > 5
    ///   |             ^^^^^ not defined
    ///   |
    ///   = help: did you mean `amount`?
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        Rendered {
            d: self,
            file,
            source,
        }
        .to_string()
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct Rendered<'a> {
    d: &'a Diagnostic,
    file: &'a str,
    source: &'a str,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Rendered { d, file, source } = self;
        let (line, col) = d.line_col(source);
        let start = floor_boundary(source, d.span.start);
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let end = floor_boundary(source, d.span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "error[{}]: {}", d.code, d.message)?;
        writeln!(f, "{pad}--> {file}:{line}:{col}")?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{line} | {text}")?;
        let marker_pad: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let label = if d.label.is_empty() {
            String::new()
        } else {
            format!(" {}", d.label)
        };
        writeln!(f, "{pad} | {marker_pad}{}{label}", "^".repeat(width))?;
        if let Some(help) = &d.help {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The diagnostics of one failed compile, with the source they point into.
///
/// Implements [`miette::Diagnostic`], so applications that render with
/// miette get labels and help; [`Diagnostics::render`] prints them rustc style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The problems, in source order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// All diagnostics rendered against `source`, separated by blank lines.
    pub fn render(&self, file: &str, source: &str) -> String {
        self.items
            .iter()
            .map(|d| d.render(file, source))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The first diagnostic's code.
    pub fn first_code(&self) -> Option<&'static str> {
        self.items.first().map(|d| d.code)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.items.as_slice() {
            [] => f.write_str("no diagnostics"),
            [one] => write!(f, "error[{}]: {}", one.code, one.message),
            [first, rest @ ..] => write!(
                f,
                "error[{}]: {} (and {} more)",
                first.code,
                first.message,
                rest.len()
            ),
        }
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self { items: vec![d] }
    }
}

impl miette::Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.first_code()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.items
            .first()
            .and_then(|d| d.help.as_ref())
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(self.items.iter().map(|d| {
            miette::LabeledSpan::new(
                Some(d.label.clone()),
                d.span.start,
                d.span.end.saturating_sub(d.span.start),
            )
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_source_and_marker() {
        let src = "policy \"p\" {\n    require amout > 5\n}\n";
        let d = Diagnostic::new("E0200", 25..30, "unknown name `amout`")
            .label("not defined")
            .help("did you mean `amount`?");
        assert_eq!(d.line_col(src), (2, 13));
        assert_eq!(
            d.render("p.ecl", src),
            "error[E0200]: unknown name `amout`\n --> p.ecl:2:13\n  |\n2 |     require amout > 5\n  |             ^^^^^ not defined\n  |\n  = help: did you mean `amount`?\n"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("\"Ω\" x", 5), (1, 5));
        assert_eq!(line_col("abc", 99), (1, 4));
    }
}
