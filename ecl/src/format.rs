//! The canonical layout of ECL source. Formatting is idempotent and keeps
//! comments (a comment inside an expression moves before its statement).

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::Comment;

/// Formats `src` canonically.
///
/// ```
/// let out = erynoa_ecl::format("policy \"p\"{require caller.trust.R>=0.5;allow}").unwrap();
/// assert_eq!(out, "policy \"p\" {\n    require caller.trust.R >= 0.5\n    allow\n}\n");
/// assert_eq!(erynoa_ecl::format(&out).unwrap(), out);
/// ```
pub fn format(src: &str) -> Result<String, Diagnostic> {
    let (file, comments) = crate::parser::parse(src)?;
    let mut f = Formatter {
        src,
        comments,
        next: 0,
        out: String::new(),
        indent: 0,
    };
    let mut prev_policy = false;
    for (i, item) in file.items.iter().enumerate() {
        let (start, is_policy) = match item {
            Item::Const(c) => (c.span.start, false),
            Item::Policy(p) => (p.span.start, true),
        };
        if i > 0 && (is_policy || prev_policy) {
            f.out.push('\n');
        }
        f.comments_before(start);
        match item {
            Item::Const(c) => {
                f.line(&format!("const {} = {}", c.name, expr(&c.value)));
                f.trailing(c.span.end);
            }
            Item::Policy(p) => {
                f.line_start();
                f.out.push_str(&format!("policy {} ", quote(&p.name)));
                f.block(&p.body);
                f.out.push('\n');
                f.trailing(p.span.end);
            }
        }
        prev_policy = is_policy;
    }
    if !file.items.is_empty() && f.next < f.comments.len() {
        f.out.push('\n');
    }
    f.comments_before(usize::MAX);
    Ok(f.out)
}

struct Formatter<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    next: usize,
    out: String,
    indent: usize,
}

impl Formatter<'_> {
    fn line_start(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    fn line(&mut self, text: &str) {
        self.line_start();
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn comments_before(&mut self, pos: usize) {
        while let Some(c) = self.comments.get(self.next) {
            if c.span.start >= pos {
                break;
            }
            let text = c.text.clone();
            self.line(&text);
            self.next += 1;
        }
    }

    /// A comment on the same line right after byte `end` stays there.
    fn trailing(&mut self, end: usize) {
        let Some(c) = self.comments.get(self.next) else {
            return;
        };
        if c.span.start >= end
            && !self.src[end..c.span.start].contains('\n')
            && !c.text.contains('\n')
        {
            let text = c.text.clone();
            if self.out.ends_with('\n') {
                self.out.pop();
            }
            self.out.push(' ');
            self.out.push_str(&text);
            self.out.push('\n');
            self.next += 1;
        }
    }

    fn block(&mut self, b: &Block) {
        let has_comments = self
            .comments
            .get(self.next)
            .is_some_and(|c| c.span.start < b.close.start);
        if b.stmts.is_empty() && !has_comments {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        self.indent += 1;
        for s in &b.stmts {
            self.comments_before(s.span.start);
            self.stmt(s);
            self.trailing(s.span.end);
        }
        self.comments_before(b.close.start);
        self.indent -= 1;
        self.line_start();
        self.out.push('}');
    }

    fn stmt(&mut self, s: &Stmt) {
        self.line_start();
        match &s.kind {
            StmtKind::Require(c, None) => self.out.push_str(&format!("require {}", expr(c))),
            StmtKind::Require(c, Some(m)) => {
                self.out
                    .push_str(&format!("require {}, {}", expr(c), quote(m)));
            }
            StmtKind::Let(n, _, e) => self.out.push_str(&format!("let {n} = {}", expr(e))),
            StmtKind::Emit(ev) => self.out.push_str(&format!("emit {}", quote(ev))),
            StmtKind::Return(e) => self.out.push_str(&format!("return {}", expr(e))),
            StmtKind::Allow => self.out.push_str("allow"),
            StmtKind::Deny(None) => self.out.push_str("deny"),
            StmtKind::Deny(Some(r)) => self.out.push_str(&format!("deny {}", expr(r))),
            StmtKind::Expr(e) => self.out.push_str(&expr(e)),
            StmtKind::If(..) => self.if_chain(s),
        }
        self.out.push('\n');
    }

    fn if_chain(&mut self, s: &Stmt) {
        let StmtKind::If(c, then, els) = &s.kind else {
            return;
        };
        self.out.push_str(&format!("if {} ", expr(c)));
        self.block(then);
        match els {
            None => {}
            Some(Else::Block(b)) => {
                self.out.push_str(" else ");
                self.block(b);
            }
            Some(Else::If(next)) => {
                self.out.push_str(" else ");
                self.if_chain(next);
            }
        }
    }
}

/// `s` as an ECL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `e` in canonical form; parentheses are kept as written.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Null => "null".into(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Number(n) => n.to_string(),
        ExprKind::Str(s) => quote(s),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Array(items) => format!("[{}]", list(items)),
        ExprKind::Binary(op, l, r) => format!("{} {} {}", expr(l), op.symbol(), expr(r)),
        ExprKind::Unary(UnOp::Neg, x) => format!("-{}", expr(x)),
        ExprKind::Unary(UnOp::Not, x) => format!("!{}", expr(x)),
        ExprKind::Call(name, _, args) => format!("{name}({})", list(args)),
        ExprKind::Field(x, f, _) => format!("{}.{f}", expr(x)),
        ExprKind::Dim(x, d) => format!("{}.{}", expr(x), d.name()),
        ExprKind::Index(x, i) => format!("{}[{}]", expr(x), expr(i)),
        ExprKind::Paren(x) => format!("({})", expr(x)),
    }
}

fn list(items: &[Expr]) -> String {
    items.iter().map(expr).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_is_idempotent() {
        let src = "// head\nconst MAX = 10\npolicy \"a\" { // opening\n  let x = param(\"n\") // why\n  if x > MAX { deny \"too \\\"big\\\"\" } else if x < 0 { deny } else { allow }\n  /* tail */\n}\npolicy \"b\" {}\n// end";
        let once = format(src).unwrap();
        assert_eq!(
            once,
            "// head\nconst MAX = 10\n\npolicy \"a\" {\n    // opening\n    let x = param(\"n\") // why\n    if x > MAX {\n        deny \"too \\\"big\\\"\"\n    } else if x < 0 {\n        deny\n    } else {\n        allow\n    }\n    /* tail */\n}\n\npolicy \"b\" {}\n\n// end\n"
        );
        assert_eq!(format(&once).unwrap(), once);
    }

    #[test]
    fn numbers_and_strings_round_trip() {
        let out =
            format("policy \"p\" { return 1e3 + 0.5 == -(2) && \"\\u{1}\" == \"Ω\" }").unwrap();
        assert_eq!(
            out,
            "policy \"p\" {\n    return 1000 + 0.5 == -(2) && \"\\u{1}\" == \"Ω\"\n}\n"
        );
        assert_eq!(format(&out).unwrap(), out);
    }
}
