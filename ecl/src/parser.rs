//! Tokens to a syntax tree: recursive descent, one token of lookahead.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Comment, Tok, Token, lex};

/// Deepest nesting of expressions and blocks the parser accepts; deeper
/// input is refused instead of exhausting the stack.
pub const MAX_NESTING: usize = 128;

/// Parses a whole file.
///
/// ```
/// let (file, _comments) = erynoa_ecl::parse("policy \"p\" { require caller.trust.R >= 0.5 }").unwrap();
/// assert_eq!(file.policies().next().unwrap().name, "p");
/// ```
pub fn parse(src: &str) -> Result<(File, Vec<Comment>), Diagnostic> {
    let (tokens, comments) = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        blocks: 0,
    };
    let file = p.file()?;
    Ok((file, comments))
}

/// Parses one expression (the REPL's input).
pub fn parse_expr(src: &str) -> Result<Expr, Diagnostic> {
    let (tokens, _) = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        blocks: 0,
    };
    let e = p.expr()?;
    p.expect(&Tok::Eof, "the end of the expression")?;
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Levels of nesting open: expressions and blocks.
    depth: usize,
    /// Of those, blocks.
    blocks: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
            .span
            .clone()
    }

    fn prev_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .map_or(0, |i| self.tokens[i].span.end)
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos.min(self.tokens.len() - 1)].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&self, expected: &str) -> Diagnostic {
        let found = self.peek().describe();
        Diagnostic::new(
            "E0100",
            self.span(),
            format!("expected {expected}, found {found}"),
        )
        .label(format!("expected {expected}"))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Token, Diagnostic> {
        if self.peek() == tok {
            Ok(self.bump())
        } else {
            Err(self.error(what))
        }
    }

    /// One more level of expression nesting.
    fn nest(&mut self) -> Result<(), Diagnostic> {
        self.deeper()
    }

    /// One more level of block nesting: a block, or a link of an
    /// `else if` chain (undone with [`Parser::unnest_block`]).
    fn nest_block(&mut self) -> Result<(), Diagnostic> {
        self.blocks += 1;
        self.deeper()
    }

    fn unnest_block(&mut self) {
        self.blocks -= 1;
        self.depth -= 1;
    }

    fn deeper(&mut self) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth <= MAX_NESTING {
            return Ok(());
        }
        // Say what the author can change: mostly blocks, or an expression.
        let help = if self.blocks * 2 >= self.depth {
            "nest fewer blocks: leave early with `require` or `deny`, or join conditions with `&&`"
        } else {
            "split the expression with `let`, e.g. `let part = a + b` and then `part + c`"
        };
        Err(Diagnostic::new(
            "E0101",
            self.span(),
            format!("nested more than {MAX_NESTING} levels deep"),
        )
        .help(help))
    }

    fn file(&mut self) -> Result<File, Diagnostic> {
        let mut items = Vec::new();
        loop {
            while self.eat(&Tok::Semi) {}
            match self.peek() {
                Tok::Eof => return Ok(File { items }),
                Tok::Const => items.push(Item::Const(self.constant()?)),
                Tok::Policy => items.push(Item::Policy(self.policy()?)),
                _ => return Err(self.error("`policy` or `const`")),
            }
        }
    }

    fn constant(&mut self) -> Result<Const, Diagnostic> {
        let start = self.bump().span.start;
        let (name, _) = self.name("a constant name")?;
        self.expect(&Tok::Assign, "`=`")?;
        let value = self.expr()?;
        let literal = match &value.kind {
            ExprKind::Null | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Str(_) => true,
            ExprKind::Unary(UnOp::Neg, inner) => matches!(inner.kind, ExprKind::Number(_)),
            _ => false,
        };
        if !literal {
            return Err(Diagnostic::new(
                "E0102",
                value.span.clone(),
                "a constant must be a literal",
            )
            .label("not a literal")
            .help("constants are numbers, strings, `true`, `false` or `null`"));
        }
        Ok(Const {
            name,
            span: start..value.span.end,
            value,
        })
    }

    fn name(&mut self, what: &str) -> Result<(String, Span), Diagnostic> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Ident(n) => {
                self.bump();
                Ok((n, span))
            }
            Tok::Dim(d) => Err(Diagnostic::new(
                "E0103",
                span,
                format!("`{}` is reserved for the trust dimension", d.name()),
            )
            .label("reserved")
            .help("pick another name, e.g. in lower case")),
            _ => Err(self.error(what)),
        }
    }

    fn policy(&mut self) -> Result<Policy, Diagnostic> {
        let start = self.bump().span.start;
        let name = match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                s
            }
            Tok::Ident(n) => {
                return Err(
                    Diagnostic::new("E0100", self.span(), "a policy's name is a string")
                        .label("not a string")
                        .help(format!("write `policy \"{n}\"`")),
                );
            }
            _ => return Err(self.error("the policy's name as a string")),
        };
        let body = self.block()?;
        Ok(Policy {
            name,
            span: start..body.close.end,
            body,
        })
    }

    fn block(&mut self) -> Result<Block, Diagnostic> {
        self.expect(&Tok::LBrace, "`{`")?;
        self.nest_block()?;
        let mut stmts = Vec::new();
        loop {
            while self.eat(&Tok::Semi) {}
            if *self.peek() == Tok::RBrace {
                let close = self.bump().span;
                self.unnest_block();
                return Ok(Block { stmts, close });
            }
            if *self.peek() == Tok::Eof {
                return Err(self.error("`}`"));
            }
            stmts.push(self.stmt()?);
        }
    }

    fn stmt(&mut self) -> Result<Stmt, Diagnostic> {
        let start = self.span().start;
        let kind = match self.peek().clone() {
            Tok::Require => {
                self.bump();
                let cond = self.expr()?;
                let msg = if self.eat(&Tok::Comma) {
                    match self.peek().clone() {
                        Tok::Str(s) => {
                            self.bump();
                            Some(s)
                        }
                        _ => return Err(self.error("the message as a string")),
                    }
                } else {
                    None
                };
                StmtKind::Require(cond, msg)
            }
            Tok::Let => {
                self.bump();
                let (name, span) = self.name("a variable name")?;
                self.expect(&Tok::Assign, "`=`")?;
                StmtKind::Let(name, span, self.expr()?)
            }
            Tok::Emit => {
                self.bump();
                match self.peek().clone() {
                    Tok::Str(s) => {
                        self.bump();
                        StmtKind::Emit(s)
                    }
                    _ => {
                        return Err(self
                            .error("the event name as a string")
                            .help("write `emit \"event\"`, or `emit_event(type, payload)`"));
                    }
                }
            }
            Tok::Return => {
                self.bump();
                StmtKind::Return(self.expr()?)
            }
            Tok::Allow => {
                self.bump();
                StmtKind::Allow
            }
            Tok::Deny => {
                let end = self.bump().span.end;
                // A reason starts on the same line: `deny` alone ends there.
                let reason = self.starts_expr() && self.same_line(end);
                StmtKind::Deny(if reason { Some(self.expr()?) } else { None })
            }
            Tok::If => return self.if_stmt(),
            _ if self.starts_expr() => {
                let e = self.expr()?;
                if !matches!(e.kind, ExprKind::Call(..)) {
                    return Err(Diagnostic::new(
                        "E0104",
                        e.span.clone(),
                        "an expression on its own does nothing",
                    )
                    .label("value not used")
                    .help("use `require`, `return`, or `let`"));
                }
                StmtKind::Expr(e)
            }
            _ => return Err(self.error("a statement")),
        };
        Ok(Stmt {
            kind,
            span: start..self.prev_end(),
        })
    }

    fn starts_expr(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Number(_)
                | Tok::Str(_)
                | Tok::Ident(_)
                | Tok::True
                | Tok::False
                | Tok::Null
                | Tok::LParen
                | Tok::LBracket
                | Tok::Minus
                | Tok::Bang
        )
    }

    fn if_stmt(&mut self) -> Result<Stmt, Diagnostic> {
        let start = self.bump().span.start;
        // An `if` nests one level, through its block, as the author wrote it.
        let cond = self.expr()?;
        let then = self.block()?;
        let els = if self.eat(&Tok::Else) {
            if *self.peek() == Tok::If {
                // Each link of an `else if` chain nests the tree one level.
                self.nest_block()?;
                let chained = self.if_stmt()?;
                self.unnest_block();
                Some(Else::If(Box::new(chained)))
            } else {
                Some(Else::Block(self.block()?))
            }
        } else {
            None
        };
        Ok(Stmt {
            kind: StmtKind::If(cond, then, els),
            span: start..self.prev_end(),
        })
    }

    fn expr(&mut self) -> Result<Expr, Diagnostic> {
        self.nest()?;
        let e = self.binary(1)?;
        self.depth -= 1;
        Ok(e)
    }

    fn binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::OrOr => BinOp::Or,
            Tok::AndAnd => BinOp::And,
            Tok::EqEq => BinOp::Eq,
            Tok::NotEq => BinOp::Neq,
            Tok::Lt => BinOp::Lt,
            Tok::LtEq => BinOp::Lte,
            Tok::Gt => BinOp::Gt,
            Tok::GtEq => BinOp::Gte,
            Tok::In => BinOp::In,
            Tok::Plus => BinOp::Add,
            Tok::Minus => BinOp::Sub,
            Tok::Star => BinOp::Mul,
            Tok::Slash => BinOp::Div,
            Tok::Percent => BinOp::Mod,
            _ => return None,
        })
    }

    fn binary(&mut self, min: u8) -> Result<Expr, Diagnostic> {
        let mut left = self.unary()?;
        // `a + b + c` nests to the left: each operator adds a level to the
        // tree that every later pass walks recursively, so each counts
        // until the chain ends, as a nested right operand would.
        let mut chain = 0;
        while let Some(op) = self.binop().filter(|op| op.precedence() >= min) {
            self.bump();
            self.nest()?;
            chain += 1;
            let right = self.binary(op.precedence() + 1)?;
            left = Expr {
                span: left.span.start..right.span.end,
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
            };
        }
        self.depth -= chain;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        let op = match self.peek() {
            Tok::Minus => UnOp::Neg,
            Tok::Bang => UnOp::Not,
            _ => return self.postfix(),
        };
        let start = self.bump().span.start;
        self.nest()?;
        let operand = self.unary()?;
        self.depth -= 1;
        Ok(Expr {
            span: start..operand.span.end,
            kind: ExprKind::Unary(op, Box::new(operand)),
        })
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.atom()?;
        loop {
            match self.peek() {
                Tok::LParen if self.same_line(e.span.end) => {
                    let callee = match strip_parens(&e).kind.clone() {
                        ExprKind::Name(n) => n,
                        _ => {
                            return Err(Diagnostic::new(
                                "E0105",
                                self.span(),
                                "only named functions can be called",
                            )
                            .label("call of something that is not a function name")
                            .help("built-ins are called by name, e.g. `load_trust(did)` or `credential(did, \"kyc\")`"));
                        }
                    };
                    self.bump();
                    let args = self.list(&Tok::RParen)?;
                    e = Expr {
                        span: e.span.start..self.prev_end(),
                        kind: ExprKind::Call(callee, e.span.clone(), args),
                    };
                }
                Tok::LBracket if self.same_line(e.span.end) => {
                    self.bump();
                    let index = self.expr()?;
                    self.expect(&Tok::RBracket, "`]`")?;
                    e = Expr {
                        span: e.span.start..self.prev_end(),
                        kind: ExprKind::Index(Box::new(e), Box::new(index)),
                    };
                }
                Tok::Dot => {
                    self.bump();
                    let span = self.span();
                    e = match self.peek().clone() {
                        Tok::Dim(d) => {
                            self.bump();
                            Expr {
                                span: e.span.start..span.end,
                                kind: ExprKind::Dim(Box::new(e), d),
                            }
                        }
                        Tok::Ident(f) => {
                            self.bump();
                            Expr {
                                span: e.span.start..span.end,
                                kind: ExprKind::Field(Box::new(e), f, span),
                            }
                        }
                        _ => return Err(self.error("a field name")),
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// Whether no newline separates byte `end` from the next token, so a
    /// `(` or `[` on the next line starts a new statement instead.
    fn same_line(&self, end: usize) -> bool {
        !self.src[end..self.span().start].contains('\n')
    }

    fn list(&mut self, close: &Tok) -> Result<Vec<Expr>, Diagnostic> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.expr()?);
            if !self.eat(&Tok::Comma) {
                self.expect(close, &format!("`,` or {}", close.describe()))?;
                return Ok(items);
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, Diagnostic> {
        let span = self.span();
        let kind = match self.peek().clone() {
            Tok::Number(n) => ExprKind::Number(n),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::Null => ExprKind::Null,
            Tok::Ident(n) => ExprKind::Name(n),
            Tok::LParen => {
                self.bump();
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                return Ok(Expr {
                    span: span.start..self.prev_end(),
                    kind: ExprKind::Paren(Box::new(inner)),
                });
            }
            Tok::LBracket => {
                self.bump();
                let items = self.list(&Tok::RBracket)?;
                return Ok(Expr {
                    span: span.start..self.prev_end(),
                    kind: ExprKind::Array(items),
                });
            }
            Tok::Dot => {
                return Err(self
                    .error("an expression")
                    .help("numbers start with a digit: write `0.5`"));
            }
            _ => return Err(self.error("an expression")),
        };
        self.bump();
        Ok(Expr { kind, span })
    }
}

/// `e` without enclosing parentheses.
pub fn strip_parens(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => strip_parens(inner),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(src: &str) -> &'static str {
        parse(src).map(|_| "ok").unwrap_or_else(|d| d.code)
    }

    #[test]
    fn ecl_1_relaxes_the_legacy_layout_rules() {
        for src in [
            "policy \"t\" {\n}",
            "policy \"t\" { require 1 <\n 2 }",
            "policy \"t\" { if true { return 1 }\n else { return 2 } }",
            "policy \"t\" { require true } // end",
            "policy \"t\" { require true; }",
            "policy \"t\" { if a { } else if b { } else { } }",
            "const X = -5 const Y = null policy \"t\" { return [1, 2][0] }",
            "policy \"t\" { require f(\n 1,\n 2,\n) }",
            "",
        ] {
            assert_eq!(code(src), "ok", "{src}");
        }
    }

    #[test]
    fn errors_name_what_was_expected() {
        let d = parse("policy t { }").unwrap_err();
        assert_eq!(d.code, "E0100");
        assert_eq!(d.help.as_deref(), Some("write `policy \"t\"`"));
        assert_eq!(code("policy \"t\" { let R = 1 }"), "E0103");
        assert_eq!(code("policy \"t\" { emit done }"), "E0100");
        assert_eq!(code("policy \"t\" { return }"), "E0100");
        assert_eq!(code("policy \"t\" { 1 + 2 }"), "E0104");
        assert_eq!(code("policy \"t\" { return x.trust(5).R }"), "E0105");
        assert_eq!(code("const X = 1 + 2"), "E0102");
        // `deny` alone at the end of a line; the next line is a statement.
        let (file, _) = parse("policy \"t\" { deny\n log(\"x\") }").unwrap();
        let p = file.policies().next().unwrap();
        assert!(matches!(p.body.stmts[0].kind, StmtKind::Deny(None)));
        let deep = format!(
            "policy \"t\" {{ return {}1{} }}",
            "(".repeat(500),
            ")".repeat(500)
        );
        assert_eq!(code(&deep), "E0101");
    }

    #[test]
    fn nested_ifs_count_once_each() {
        let nested = |n: usize| {
            format!(
                "policy \"t\" {{ {} allow {} }}",
                "if true { ".repeat(n),
                "}".repeat(n)
            )
        };
        assert_eq!(code(&nested(100)), "ok");
        let deep = parse(&nested(200)).unwrap_err();
        assert_eq!(deep.code, "E0101");
        assert!(
            deep.help
                .as_deref()
                .unwrap_or("")
                .contains("nest fewer blocks")
        );
        // A long `else if` chain is bounded too.
        let chain = format!(
            "policy \"t\" {{ if false {{ }} {} allow }}",
            "else if false { } ".repeat(300)
        );
        assert_eq!(code(&chain), "E0101");
    }

    #[test]
    fn long_operator_chains_are_bounded_like_nesting() {
        // `1 + 1 + ...` nests to the left, one tree level per operator.
        let chain = |n: usize| format!("policy \"t\" {{ require {}1 > 0 }}", "1 + ".repeat(n));
        assert_eq!(code(&chain(100)), "ok");
        assert_eq!(code(&chain(10_000)), "E0101");
        // Both shapes at once: a chain of nested chains.
        let mixed = format!(
            "policy \"t\" {{ require {} > 0 }}",
            "(1 + ".repeat(100) + "1" + &")".repeat(100)
        );
        assert_eq!(code(&mixed), "E0101");
        let mixed_ok = format!(
            "policy \"t\" {{ require {} > 0 }}",
            "(1 + ".repeat(40) + "1" + &")".repeat(40)
        );
        assert_eq!(code(&mixed_ok), "ok");
    }

    #[test]
    fn precedence_matches_legacy() {
        let e = parse_expr("1 == 1 < 2").unwrap();
        // One comparison level, left-associative: (1 == 1) < 2.
        match e.kind {
            ExprKind::Binary(BinOp::Lt, l, _) => {
                assert!(matches!(l.kind, ExprKind::Binary(BinOp::Eq, ..)))
            }
            other => panic!("{other:?}"),
        }
        let e = parse_expr("true || false && false").unwrap();
        assert!(matches!(e.kind, ExprKind::Binary(BinOp::Or, ..)));
        assert!(parse_expr("1 +\n 2").is_ok());
    }
}
