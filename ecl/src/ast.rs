//! The syntax tree of an ECL file.

use std::ops::Range;

use crate::bytecode::TrustDim;

/// Byte range in the source.
pub type Span = Range<usize>;

/// A whole file: constants and policies in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The items, in order.
    pub items: Vec<Item>,
}

impl File {
    /// The policies, in order.
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.items.iter().filter_map(|i| match i {
            Item::Policy(p) => Some(p),
            Item::Const(_) => None,
        })
    }
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `const NAME = literal`.
    Const(Const),
    /// `policy "name" { ... }`.
    Policy(Policy),
}

/// A compile-time constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Const {
    /// Its name.
    pub name: String,
    /// Its value: a literal, possibly negated.
    pub value: Expr,
    /// Where it is.
    pub span: Span,
}

/// A policy: an entry point.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// Its statements.
    pub body: Block,
    /// Where it is.
    pub span: Span,
}

/// Statements between braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// Where the closing brace is.
    pub close: Span,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `require cond [, "message"]`.
    Require(Expr, Option<String>),
    /// `let name = expr`.
    Let(String, Span, Expr),
    /// `emit "event"` (legacy: logs `emit:event`).
    Emit(String),
    /// `return expr`.
    Return(Expr),
    /// `allow`.
    Allow,
    /// `deny ["reason"]`.
    Deny(Option<Expr>),
    /// `if cond { } [else if ... | else { }]`.
    If(Expr, Block, Option<Else>),
    /// A call made for its effect, e.g. `log("x")`.
    Expr(Expr),
}

/// What follows `else`.
#[derive(Debug, Clone, PartialEq)]
pub enum Else {
    /// `else { ... }`.
    Block(Block),
    /// `else if ...`.
    If(Box<Stmt>),
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`.
    Null,
    /// `true`, `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Str(String),
    /// A name: a local, a constant, `caller`/`sender` or `realm`.
    Name(String),
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `-a`, `!a`.
    Unary(UnOp, Box<Expr>),
    /// `f(args)`.
    Call(String, Span, Vec<Expr>),
    /// `x.trust`, or another field (an error the checker explains).
    Field(Box<Expr>, String, Span),
    /// `x.R` etc.
    Dim(Box<Expr>, TrustDim),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `(e)`, kept for the formatter.
    Paren(Box<Expr>),
}

/// Binary operators, by precedence (lowest first): `||`, `&&`, comparisons
/// and `in` (one level, left-associative), `+ -`, `* / %`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    /// Binding strength: higher binds tighter.
    pub const fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq
            | BinOp::Neq
            | BinOp::Lt
            | BinOp::Lte
            | BinOp::Gt
            | BinOp::Gte
            | BinOp::In => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        }
    }

    /// How source writes it.
    pub const fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Neq => "!=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-`.
    Neg,
    /// `!`.
    Not,
}
