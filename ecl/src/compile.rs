//! The checker and the lowering to bytecode, in one pass: names are
//! resolved, arity and the types that are known at compile time are checked,
//! and each policy becomes a bytecode program.

use std::collections::HashMap;

use crate::ast::*;
use crate::bytecode::{OpCode, Value};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::parser::strip_parens;
use crate::source_map::SourceMap;

/// The static type of an expression. `Any` is only known at run time
/// (request parameters, stored values, array elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// `null`.
    Null,
    /// A bool.
    Bool,
    /// A number.
    Number,
    /// Text.
    Str,
    /// A DID.
    Did,
    /// A trust vector.
    Trust,
    /// An array.
    Array,
    /// Known at run time only.
    Any,
    /// No value: a call made for its effect.
    Nothing,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "a bool",
            Ty::Number => "a number",
            Ty::Str => "a string",
            Ty::Did => "a DID",
            Ty::Trust => "a trust vector",
            Ty::Array => "an array",
            Ty::Any => "a value",
            Ty::Nothing => "nothing",
        }
    }
}

/// A policy compiled to bytecode.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The policy's name.
    pub name: String,
    /// Its code. Jump targets are absolute indices into it.
    pub code: Vec<OpCode>,
    /// How many local slots it uses.
    pub locals: u16,
    /// The deepest the operand stack gets.
    pub max_stack: usize,
    /// Where each instruction came from, for programs compiled from source.
    pub source_map: Option<SourceMap>,
}

impl Program {
    /// The program with its locations naming `file` (the default is
    /// `<source>`).
    pub fn in_file(mut self, file: &str) -> Self {
        if let Some(map) = &mut self.source_map {
            map.set_file(file);
        }
        self
    }

    /// The message of a run-time fault at instruction `at`: located when
    /// the program has a source map, `message` alone otherwise.
    pub fn fault(&self, at: Option<usize>, message: &str) -> String {
        match (&self.source_map, at) {
            (Some(map), Some(at)) => map.fault(at, message),
            _ => message.to_owned(),
        }
    }

    /// Whether any instruction satisfies `f`.
    pub fn uses(&self, f: impl Fn(&OpCode) -> bool) -> bool {
        self.code.iter().any(f)
    }
}

/// Deepest operand stack a compiled policy may need; the VM's default limit
/// is 1024, so compiled policies never overflow it.
pub const MAX_STACK: usize = 1000;

/// Compiles policy `entry` (default: the first) of `src`.
///
/// ```
/// use erynoa_ecl::bytecode::Value;
/// use erynoa_ecl::vm::{run, Outcome, RunOptions, StubHost};
///
/// let p = erynoa_ecl::compile("policy \"t\" { let a = 3  return a * 2 + a }", None).unwrap();
/// let done = run(&p.code, &mut StubHost::new(), RunOptions::legacy(10_000));
/// assert_eq!(done.result, Ok(Outcome::Return(Value::Number(9.0))));
/// ```
pub fn compile(src: &str, entry: Option<&str>) -> Result<Program, Diagnostics> {
    let (file, _) = crate::parser::parse(src)?;
    lower(&file, entry, Some(src))
}

/// Checks every policy of `src`; returns them all compiled.
pub fn check(src: &str) -> Result<Vec<Program>, Diagnostics> {
    let (file, _) = crate::parser::parse(src)?;
    let consts = constants(&file)?;
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in file.policies() {
        if let Some(first) = seen.insert(&p.name, p.span.clone()) {
            let (line, _) = crate::diagnostic::line_col(src, first.start);
            errors.push(
                Diagnostic::new(
                    "E0205",
                    p.span.start..p.span.start + 6,
                    format!("policy `{}` is defined twice", p.name),
                )
                .label("second definition")
                .help(format!("the first is on line {line}; rename one")),
            );
            continue;
        }
        match Lowering::new(&consts, Some(src)).policy(p) {
            Ok(prog) => out.push(prog),
            Err(d) => errors.extend(d),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics { items: errors })
    }
}

/// Compiles policy `entry` (default: the first) of a parsed file.
///
/// Without the source text it has no [`SourceMap`]: use [`compile`] for
/// programs whose run-time faults should say where they happened.
pub fn compile_file(file: &File, entry: Option<&str>) -> Result<Program, Diagnostics> {
    lower(file, entry, None)
}

fn lower(file: &File, entry: Option<&str>, source: Option<&str>) -> Result<Program, Diagnostics> {
    let consts = constants(file)?;
    let policy = match entry {
        None => file.policies().next().ok_or_else(|| {
            Diagnostic::new("E0208", 0..0, "the file has no policy")
                .help("add `policy \"name\" { ... }`")
        })?,
        Some(name) => file.policies().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<String> = file.policies().map(|p| format!("`{}`", p.name)).collect();
            Diagnostic::new("E0207", 0..0, format!("no policy named `{name}`")).help(
                if names.is_empty() {
                    "the file has no policy".to_owned()
                } else {
                    format!("the file defines {}", names.join(", "))
                },
            )
        })?,
    };
    Lowering::new(&consts, source)
        .policy(policy)
        .map_err(|items| Diagnostics { items })
}

/// Compiles one expression followed by `Return` (the REPL's `eval`).
pub fn compile_expr(src: &str) -> Result<Program, Diagnostics> {
    let e = crate::parser::parse_expr(src)?;
    let consts = HashMap::new();
    let mut l = Lowering::new(&consts, Some(src));
    let ty = l.expr(&e)?;
    l.value(ty, &e.span)?;
    l.emit(OpCode::Return);
    Ok(l.finish("expression".into()))
}

fn constants(file: &File) -> Result<HashMap<String, (Value, Ty)>, Diagnostic> {
    let mut out = HashMap::new();
    for item in &file.items {
        let Item::Const(c) = item else { continue };
        let v = match &c.value.kind {
            ExprKind::Null => (Value::Null, Ty::Null),
            ExprKind::Bool(b) => (Value::Bool(*b), Ty::Bool),
            ExprKind::Number(n) => (Value::Number(*n), Ty::Number),
            ExprKind::Str(s) => (Value::string(s), Ty::Str),
            ExprKind::Unary(UnOp::Neg, inner) => match inner.kind {
                ExprKind::Number(n) => (Value::Number(-n), Ty::Number),
                _ => continue,
            },
            _ => continue,
        };
        if out.insert(c.name.clone(), v).is_some() {
            return Err(Diagnostic::new(
                "E0205",
                c.span.clone(),
                format!("constant `{}` is defined twice", c.name),
            ));
        }
    }
    Ok(out)
}

/// Built-in functions and the argument counts they take.
pub const BUILTINS: &[(&str, &[usize])] = &[
    ("load_trust", &[1]),
    ("trust_norm", &[1]),
    ("trust_combine", &[2]),
    ("trust_above_threshold", &[2]),
    ("trust_distance", &[2]),
    ("trust_weighted_avg", &[2]),
    ("trust_vector", &[6]),
    ("has_credential", &[2]),
    ("credential", &[1, 2]),
    ("resolve_did", &[1]),
    ("get_balance", &[1]),
    ("balance", &[0, 1]),
    ("now", &[0]),
    ("timestamp", &[0]),
    ("time_since", &[1]),
    ("abs", &[1]),
    ("sqrt", &[1]),
    ("floor", &[1]),
    ("ceil", &[1]),
    ("round", &[1]),
    ("min", &[2]),
    ("max", &[2]),
    ("clamp", &[3]),
    ("lerp", &[3]),
    ("surprisal", &[1]),
    ("str_len", &[1]),
    ("str_contains", &[2]),
    ("str_eq_ignore_case", &[2]),
    ("len", &[1]),
    ("contains", &[2]),
    ("log", &[1]),
    ("param", &[1]),
    ("store_get", &[2]),
    ("store_put", &[3]),
    ("store_delete", &[2]),
    ("emit_event", &[2]),
    ("did", &[1]),
    ("str", &[1]),
    ("num", &[1]),
];

struct Lowering<'c> {
    consts: &'c HashMap<String, (Value, Ty)>,
    /// The source text, when known: the program then gets a source map.
    source: Option<&'c str>,
    code: Vec<OpCode>,
    /// The source range of each instruction of `code`.
    spans: Vec<Span>,
    /// The range of the expression or statement being lowered.
    here: Span,
    scopes: Vec<HashMap<String, (u16, Ty)>>,
    locals: u16,
    depth: usize,
    max_depth: usize,
    /// Errors of statements so far; lowering goes on after one, so that an
    /// author sees every error of a file, not only the first.
    errors: Vec<Diagnostic>,
}

/// Most errors reported for one policy: past that, the rest are usually
/// consequences of the first.
pub const MAX_ERRORS: usize = 20;

/// Growth-only edit distance for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < name.len().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn type_error(span: &Span, expected: &str, found: Ty) -> Diagnostic {
    Diagnostic::new(
        "E0203",
        span.clone(),
        format!("expected {expected}, found {}", found.describe()),
    )
    .label(format!("this is {}", found.describe()))
}

impl<'c> Lowering<'c> {
    fn new(consts: &'c HashMap<String, (Value, Ty)>, source: Option<&'c str>) -> Self {
        Self {
            consts,
            source,
            code: Vec::new(),
            spans: Vec::new(),
            here: 0..0,
            scopes: vec![HashMap::new()],
            locals: 0,
            depth: 0,
            max_depth: 0,
            errors: Vec::new(),
        }
    }

    fn finish(self, name: String) -> Program {
        Program {
            name,
            source_map: self.source.map(|src| SourceMap::new(src, &self.spans)),
            code: self.code,
            locals: self.locals,
            max_stack: self.max_depth,
        }
    }

    fn emit(&mut self, op: OpCode) -> usize {
        let (pops, pushes) = stack_effect(&op);
        self.depth = self.depth.saturating_sub(pops) + pushes;
        self.max_depth = self.max_depth.max(self.depth);
        self.code.push(op);
        self.spans.push(self.here.clone());
        self.code.len() - 1
    }

    fn patch(&mut self, at: usize) {
        let here = self.code.len();
        if let Some(
            OpCode::Jump(t) | OpCode::JumpIfFalse(t) | OpCode::AndThen(t) | OpCode::OrElse(t),
        ) = self.code.get_mut(at)
        {
            *t = here;
        }
    }

    fn policy(mut self, p: &Policy) -> Result<Program, Vec<Diagnostic>> {
        self.block(&p.body).map_err(|d| vec![d])?;
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        self.emit(OpCode::PushConst(Value::Bool(true)));
        self.emit(OpCode::Return);
        if self.max_depth > MAX_STACK {
            return Err(vec![
                Diagnostic::new(
                    "E0209",
                    p.span.start..p.span.start + 6,
                    format!(
                        "policy `{}` needs a stack of {} values; the limit is {MAX_STACK}",
                        p.name, self.max_depth
                    ),
                )
                .help("split large array literals or expressions with `let`"),
            ]);
        }
        Ok(self.finish(p.name.clone()))
    }

    /// Lowers each statement of `b`. A statement with an error is recorded
    /// and skipped (its code dropped, a `let` declared as known only at run
    /// time, so that later uses do not fail again) and the next one lowered,
    /// up to [`MAX_ERRORS`].
    fn block(&mut self, b: &Block) -> Result<(), Diagnostic> {
        self.scopes.push(HashMap::new());
        for s in &b.stmts {
            if self.errors.len() >= MAX_ERRORS {
                break;
            }
            let (code, depth) = (self.code.len(), self.depth);
            if let Err(d) = self.stmt(s) {
                self.errors.push(d);
                self.code.truncate(code);
                self.spans.truncate(code);
                self.depth = depth;
                if let StmtKind::Let(name, ..) = &s.kind
                    && let Some(scope) = self.scopes.last_mut()
                {
                    scope.insert(name.clone(), (0, Ty::Any));
                }
            }
        }
        self.scopes.pop();
        Ok(())
    }

    fn value(&self, ty: Ty, span: &Span) -> Result<(), Diagnostic> {
        if ty == Ty::Nothing {
            return Err(
                Diagnostic::new("E0203", span.clone(), "this call has no value")
                    .label("returns nothing"),
            );
        }
        Ok(())
    }

    fn want(&mut self, e: &Expr, kind: Want) -> Result<Ty, Diagnostic> {
        let ty = self.expr(e)?;
        let ok = matches!(ty, Ty::Any)
            || match kind {
                Want::Number => matches!(ty, Ty::Number | Ty::Bool),
                Want::Bool => matches!(ty, Ty::Bool | Ty::Null | Ty::Number),
                Want::Text | Want::Did => matches!(ty, Ty::Str | Ty::Did),
                Want::Trust => ty == Ty::Trust,
                Want::Array => ty == Ty::Array,
                Want::Value => ty != Ty::Nothing,
            };
        if !ok {
            let mut d = type_error(&e.span, kind.describe(), ty);
            if kind == Want::Text && ty == Ty::Number {
                d = d.help("convert it with `str(...)`");
            } else if kind == Want::Number && matches!(ty, Ty::Str) {
                d = d.help("convert it with `num(...)`");
            } else if kind == Want::Bool && matches!(ty, Ty::Str | Ty::Did) {
                d = d.help("compare it, e.g. `x == \"...\"`");
            }
            return Err(d);
        }
        Ok(ty)
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), Diagnostic> {
        let outer = std::mem::replace(&mut self.here, s.span.clone());
        let done = self.stmt_here(s);
        self.here = outer;
        done
    }

    fn stmt_here(&mut self, s: &Stmt) -> Result<(), Diagnostic> {
        match &s.kind {
            StmtKind::Require(c, msg) => {
                self.want(c, Want::Bool)?;
                match msg {
                    None => self.emit(OpCode::Assert),
                    Some(m) => {
                        self.emit(OpCode::PushConst(Value::string(m)));
                        self.emit(OpCode::Require)
                    }
                };
            }
            StmtKind::Let(name, span, e) => {
                let ty = self.want(e, Want::Value)?;
                if matches!(name.as_str(), "caller" | "sender" | "realm") {
                    return Err(Diagnostic::new(
                        "E0206",
                        span.clone(),
                        format!("`{name}` is a built-in name"),
                    )
                    .label("cannot be redefined"));
                }
                let slot = self.locals;
                self.locals = self.locals.checked_add(1).ok_or_else(|| {
                    Diagnostic::new("E0209", span.clone(), "too many variables in one policy")
                })?;
                self.emit(OpCode::StoreLocal(slot));
                if let Some(scope) = self.scopes.last_mut() {
                    scope.insert(name.clone(), (slot, ty));
                }
            }
            StmtKind::Emit(ev) => {
                self.emit(OpCode::PushConst(Value::string(&format!("emit:{ev}"))));
                self.emit(OpCode::Log);
            }
            StmtKind::Return(e) => {
                self.want(e, Want::Value)?;
                self.emit(OpCode::Return);
            }
            StmtKind::Allow => {
                self.emit(OpCode::PushConst(Value::Bool(true)));
                self.emit(OpCode::Return);
            }
            StmtKind::Deny(None) => {
                self.emit(OpCode::PushConst(Value::Bool(false)));
                self.emit(OpCode::Return);
            }
            StmtKind::Deny(Some(reason)) => {
                self.want(reason, Want::Text)?;
                self.emit(OpCode::Deny);
            }
            StmtKind::If(c, then, els) => {
                self.want(c, Want::Bool)?;
                let jif = self.emit(OpCode::JumpIfFalse(0));
                self.block(then)?;
                match els {
                    None => self.patch(jif),
                    Some(els) => {
                        let jump = self.emit(OpCode::Jump(0));
                        self.patch(jif);
                        match els {
                            Else::Block(b) => self.block(b)?,
                            Else::If(s) => {
                                self.scopes.push(HashMap::new());
                                self.stmt(s)?;
                                self.scopes.pop();
                            }
                        }
                        self.patch(jump);
                    }
                }
            }
            StmtKind::Expr(e) => {
                if self.expr(e)? != Ty::Nothing {
                    self.emit(OpCode::Pop);
                }
            }
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<(u16, Ty)> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn name(&mut self, name: &str, span: &Span) -> Result<Ty, Diagnostic> {
        if let Some((slot, ty)) = self.lookup(name) {
            self.emit(OpCode::LoadLocal(slot));
            return Ok(ty);
        }
        if let Some((v, ty)) = self.consts.get(name) {
            self.emit(OpCode::PushConst(v.clone()));
            return Ok(*ty);
        }
        match name {
            "caller" | "sender" => {
                self.emit(OpCode::LoadCaller);
                return Ok(Ty::Did);
            }
            "realm" => {
                self.emit(OpCode::LoadRealm);
                return Ok(Ty::Str);
            }
            _ => {}
        }
        let d = Diagnostic::new("E0200", span.clone(), format!("unknown name `{name}`"))
            .label("not defined");
        if BUILTINS.iter().any(|(n, _)| *n == name) {
            return Err(d.help(format!("`{name}` is a function: call it, `{name}(...)`")));
        }
        let locals: Vec<String> = self.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
        let candidates = locals
            .iter()
            .map(String::as_str)
            .chain(self.consts.keys().map(String::as_str))
            .chain(["caller", "sender", "realm"]);
        Err(match closest(name, candidates) {
            Some(c) => d.help(format!("did you mean `{c}`?")),
            None => d.help(format!(
                "request parameters are read with `param(\"{name}\")`; DIDs are written `did(\"did:...\")`"
            )),
        })
    }

    /// Lowers `e`; its instructions map to its range.
    fn expr(&mut self, e: &Expr) -> Result<Ty, Diagnostic> {
        let outer = std::mem::replace(&mut self.here, e.span.clone());
        let ty = self.expr_here(e);
        self.here = outer;
        ty
    }

    fn expr_here(&mut self, e: &Expr) -> Result<Ty, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Null => {
                self.emit(OpCode::PushConst(Value::Null));
                Ty::Null
            }
            ExprKind::Bool(b) => {
                self.emit(OpCode::PushConst(Value::Bool(*b)));
                Ty::Bool
            }
            ExprKind::Number(n) => {
                self.emit(OpCode::PushConst(Value::Number(*n)));
                Ty::Number
            }
            ExprKind::Str(s) => {
                self.emit(OpCode::PushConst(Value::string(s)));
                Ty::Str
            }
            ExprKind::Name(n) => self.name(n, &e.span)?,
            ExprKind::Paren(inner) => self.expr(inner)?,
            ExprKind::Array(items) => {
                for item in items {
                    self.want(item, Want::Value)?;
                }
                let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
                self.emit(OpCode::MakeArray(n));
                Ty::Array
            }
            ExprKind::Unary(op, operand) => match op {
                UnOp::Neg => {
                    self.want(operand, Want::Number)?;
                    self.emit(OpCode::Neg);
                    Ty::Number
                }
                UnOp::Not => {
                    self.want(operand, Want::Bool)?;
                    self.emit(OpCode::Not);
                    Ty::Bool
                }
            },
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r)?,
            ExprKind::Dim(v, d) => {
                self.want(v, Want::Trust)?;
                self.emit(OpCode::TrustDim(*d));
                Ty::Number
            }
            ExprKind::Field(obj, field, span) => {
                if field == "trust" {
                    self.want(obj, Want::Did)?;
                    self.emit(OpCode::LoadTrust);
                    return Ok(Ty::Trust);
                }
                let d = Diagnostic::new("E0204", span.clone(), format!("unknown field `{field}`"))
                    .label("no such field");
                return Err(match field.as_str() {
                    "r" | "i" | "c" | "p" | "v" => d.help(format!(
                        "trust dimensions are upper case: `.{}`",
                        field.to_uppercase()
                    )),
                    "credential" => d.help("write `credential(did, \"schema\")`"),
                    _ => d.help("fields are `.trust` on a DID, and `.R .I .C .P .V .omega` on a trust vector"),
                });
            }
            ExprKind::Index(arr, index) => {
                self.want(arr, Want::Array)?;
                self.want(index, Want::Number)?;
                self.emit(OpCode::ArrayGet);
                Ty::Any
            }
            ExprKind::Call(name, span, args) => self.call(name, span, args, &e.span)?,
        })
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr) -> Result<Ty, Diagnostic> {
        let arith = |op| match op {
            BinOp::Add => Some(OpCode::Add),
            BinOp::Sub => Some(OpCode::Sub),
            BinOp::Mul => Some(OpCode::Mul),
            BinOp::Div => Some(OpCode::Div),
            BinOp::Mod => Some(OpCode::Mod),
            _ => None,
        };
        if op == BinOp::Add {
            return self.add(l, r);
        }
        if let Some(code) = arith(op) {
            self.want(l, Want::Number)?;
            self.want(r, Want::Number)?;
            self.emit(code);
            return Ok(Ty::Number);
        }
        match op {
            BinOp::Eq | BinOp::Neq => {
                self.want(l, Want::Value)?;
                self.want(r, Want::Value)?;
                self.emit(if op == BinOp::Eq {
                    OpCode::Eq
                } else {
                    OpCode::Neq
                });
            }
            BinOp::Lt | BinOp::Lte | BinOp::Gt | BinOp::Gte => {
                self.want(l, Want::Number)?;
                self.want(r, Want::Number)?;
                self.emit(match op {
                    BinOp::Lt => OpCode::Lt,
                    BinOp::Lte => OpCode::Lte,
                    BinOp::Gt => OpCode::Gt,
                    _ => OpCode::Gte,
                });
            }
            BinOp::And | BinOp::Or => {
                self.want(l, Want::Bool)?;
                let jump = self.emit(if op == BinOp::And {
                    OpCode::AndThen(0)
                } else {
                    OpCode::OrElse(0)
                });
                self.want(r, Want::Bool)?;
                self.emit(OpCode::ToBool);
                // The short-circuit path pushed its bool; the stack matches.
                self.patch(jump);
            }
            BinOp::In => {
                self.want(l, Want::Value)?;
                self.want(r, Want::Array)?;
                self.emit(OpCode::Contains);
            }
            _ => {}
        }
        Ok(Ty::Bool)
    }

    /// `l + r`: numbers add; if either side is a string, both are joined
    /// as text, the other side converted as `str()` converts it.
    fn add(&mut self, l: &Expr, r: &Expr) -> Result<Ty, Diagnostic> {
        if !self.is_text(l) && !self.is_text(r) {
            self.want(l, Want::Number)?;
            self.want(r, Want::Number)?;
            self.emit(OpCode::Add);
            return Ok(Ty::Number);
        }
        let lt = self.expr(l)?;
        self.text_operand(l, lt)?;
        let rt = self.expr(r)?;
        self.text_operand(r, rt)?;
        self.emit(OpCode::Concat);
        Ok(Ty::Str)
    }

    /// Whether `e` is a string at compile time, without lowering it: a
    /// literal, `str(...)`, `realm`, a name bound to one, or a join.
    fn is_text(&self, e: &Expr) -> bool {
        match &strip_parens(e).kind {
            ExprKind::Str(_) => true,
            ExprKind::Call(name, _, _) => name == "str",
            ExprKind::Binary(BinOp::Add, l, r) => self.is_text(l) || self.is_text(r),
            ExprKind::Name(name) => match (self.lookup(name), self.consts.get(name.as_str())) {
                (Some((_, ty)), _) => ty == Ty::Str,
                (None, Some((_, ty))) => *ty == Ty::Str,
                (None, None) => name == "realm",
            },
            _ => false,
        }
    }

    /// Converts the operand of a join just lowered (of type `ty`) to text.
    fn text_operand(&mut self, e: &Expr, ty: Ty) -> Result<(), Diagnostic> {
        match ty {
            // A DID is joined as written, without a conversion.
            Ty::Str | Ty::Did => {}
            Ty::Trust | Ty::Array | Ty::Nothing => {
                self.value(ty, &e.span)?;
                return Err(type_error(&e.span, "a value `str()` can show", ty).help(
                    "a trust vector or an array has no text: join one of its numbers, \
                     e.g. `caller.trust.R`",
                ));
            }
            _ => {
                self.emit(OpCode::ToText);
            }
        }
        Ok(())
    }

    fn call(
        &mut self,
        name: &str,
        span: &Span,
        args: &[Expr],
        whole: &Span,
    ) -> Result<Ty, Diagnostic> {
        use OpCode as O;
        let Some((_, arities)) = BUILTINS.iter().find(|(n, _)| *n == name) else {
            let d = Diagnostic::new("E0201", span.clone(), format!("unknown function `{name}`"))
                .label("not a built-in");
            return Err(match closest(name, BUILTINS.iter().map(|(n, _)| *n)) {
                Some(c) => d.help(format!("did you mean `{c}`?")),
                None => d.help("the built-ins are listed in docs/ecl.md"),
            });
        };
        if !arities.contains(&args.len()) {
            let takes = arities
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(Diagnostic::new(
                "E0202",
                whole.clone(),
                format!("`{name}` takes {takes} argument(s), got {}", args.len()),
            )
            .label("wrong number of arguments"));
        }
        let ops = |l: &mut Self, wants: &[Want], op: OpCode| -> Result<(), Diagnostic> {
            for (a, w) in args.iter().zip(wants) {
                l.want(a, *w)?;
            }
            l.emit(op);
            Ok(())
        };
        use Want::*;
        let ty = match (name, args.len()) {
            ("load_trust", _) => (ops(self, &[Did], O::LoadTrust)?, Ty::Trust).1,
            ("trust_norm", _) => (ops(self, &[Trust], O::TrustNorm)?, Ty::Number).1,
            ("trust_combine", _) => (ops(self, &[Trust, Trust], O::TrustCombine)?, Ty::Trust).1,
            ("trust_above_threshold", _) => {
                (
                    ops(self, &[Trust, Number], O::TrustAboveThreshold)?,
                    Ty::Bool,
                )
                    .1
            }
            ("trust_distance", _) => (ops(self, &[Trust, Trust], O::TrustDistance)?, Ty::Number).1,
            ("trust_weighted_avg", _) => {
                (ops(self, &[Trust, Array], O::TrustWeightedAvg)?, Ty::Number).1
            }
            ("trust_vector", _) => (ops(self, &[Number; 6], O::TrustCreate)?, Ty::Trust).1,
            ("has_credential" | "credential", 2) => {
                (ops(self, &[Did, Text], O::HasCredential)?, Ty::Bool).1
            }
            ("credential", _) => {
                self.emit(O::LoadCaller);
                (ops(self, &[Text], O::HasCredential)?, Ty::Bool).1
            }
            ("resolve_did", _) => (ops(self, &[Did], O::ResolveDid)?, Ty::Bool).1,
            ("get_balance" | "balance", 1) => (ops(self, &[Did], O::GetBalance)?, Ty::Number).1,
            ("balance", _) => {
                self.emit(O::LoadCaller);
                (ops(self, &[], O::GetBalance)?, Ty::Number).1
            }
            ("now" | "timestamp", _) => (ops(self, &[], O::GetTimestamp)?, Ty::Number).1,
            ("time_since", _) => (ops(self, &[Number], O::TimeSince)?, Ty::Number).1,
            ("abs", _) => (ops(self, &[Number], O::MathAbs)?, Ty::Number).1,
            ("sqrt", _) => (ops(self, &[Number], O::MathSqrt)?, Ty::Number).1,
            ("floor", _) => (ops(self, &[Number], O::MathFloor)?, Ty::Number).1,
            ("ceil", _) => (ops(self, &[Number], O::MathCeil)?, Ty::Number).1,
            ("round", _) => (ops(self, &[Number], O::MathRound)?, Ty::Number).1,
            ("min", _) => (ops(self, &[Number, Number], O::Min)?, Ty::Number).1,
            ("max", _) => (ops(self, &[Number, Number], O::Max)?, Ty::Number).1,
            ("clamp", _) => (ops(self, &[Number; 3], O::Clamp)?, Ty::Number).1,
            ("lerp", _) => (ops(self, &[Number; 3], O::Lerp)?, Ty::Number).1,
            ("surprisal", _) => (ops(self, &[Number], O::Surprisal)?, Ty::Number).1,
            ("str_len", _) => (ops(self, &[Text], O::StrLen)?, Ty::Number).1,
            ("str_contains", _) => (ops(self, &[Text, Text], O::StrContains)?, Ty::Bool).1,
            ("str_eq_ignore_case", _) => {
                (ops(self, &[Text, Text], O::StrEqIgnoreCase)?, Ty::Bool).1
            }
            ("len", _) => {
                let ty = self.expr(&args[0])?;
                match ty {
                    Ty::Str | Ty::Did => self.emit(O::StrLen),
                    Ty::Array => self.emit(O::ArrayLen),
                    other => {
                        return Err(type_error(&args[0].span, "a string or an array", other)
                            .help("for a value known only at run time use `str_len(...)`"));
                    }
                };
                Ty::Number
            }
            ("contains", _) => (ops(self, &[Value, Array], O::Contains)?, Ty::Bool).1,
            ("log", _) => (ops(self, &[Text], O::Log)?, Ty::Nothing).1,
            ("param", _) => (ops(self, &[Text], O::LoadParam)?, Ty::Any).1,
            ("store_get", _) => (ops(self, &[Text, Text], O::StoreGet)?, Ty::Any).1,
            ("store_put", _) => (ops(self, &[Text, Text, Text], O::StorePut)?, Ty::Nothing).1,
            ("store_delete", _) => (ops(self, &[Text, Text], O::StoreDelete)?, Ty::Bool).1,
            ("emit_event", _) => (ops(self, &[Text, Text], O::EmitEvent)?, Ty::Nothing).1,
            ("str", _) => {
                let ty = self.want(&args[0], Value)?;
                if matches!(ty, Ty::Trust | Ty::Array) {
                    return Err(type_error(
                        &args[0].span,
                        "a number, bool, string or DID",
                        ty,
                    ));
                }
                self.emit(O::ToText);
                Ty::Str
            }
            ("num", _) => (ops(self, &[Text], O::ToNumber)?, Ty::Number).1,
            ("did", _) => {
                let ExprKind::Str(s) = &strip_parens(&args[0]).kind else {
                    return Err(Diagnostic::new(
                        "E0203",
                        args[0].span.clone(),
                        "`did(...)` takes a string literal",
                    )
                    .help("a string is accepted wherever a DID is expected"));
                };
                if !erynoa_core::is_did(s) {
                    return Err(Diagnostic::new(
                        "E0203",
                        args[0].span.clone(),
                        format!("`{s}` is not a DID"),
                    )
                    .help("a DID reads `did:<method>:<id>`, e.g. `did:erynoa:self:alice`"));
                }
                self.emit(O::PushConst(crate::bytecode::Value::did(s)));
                Ty::Did
            }
            _ => {
                return Err(Diagnostic::new(
                    "E0202",
                    whole.clone(),
                    format!("cannot call `{name}` like this"),
                ));
            }
        };
        Ok(ty)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Number,
    Bool,
    Text,
    Did,
    Trust,
    Array,
    Value,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Number => "a number",
            Want::Bool => "a bool",
            Want::Text => "a string",
            Want::Did => "a DID or a string",
            Want::Trust => "a trust vector",
            Want::Array => "an array",
            Want::Value => "a value",
        }
    }
}

/// Values an instruction pops and pushes on its fall-through path.
pub fn stack_effect(op: &OpCode) -> (usize, usize) {
    use OpCode::*;
    match op {
        PushConst(_) | LoadCaller | LoadRealm | LoadLocal(_) | GetTimestamp => (0, 1),
        Pop | StoreLocal(_) | JumpIfFalse(_) | JumpIfTrue(_) | Assert | Log | AndThen(_)
        | OrElse(_) => (1, 0),
        Dup => (1, 2),
        Swap => (2, 2),
        Pick(n) => (usize::from(*n) + 1, usize::from(*n) + 2),
        Add | Sub | Mul | Div | Mod | Min | Max | Eq | Neq | Gt | Gte | Lt | Lte | And | Or
        | TrustCombine | TrustAboveThreshold | TrustWeightedAvg | TrustDistance | HasCredential
        | StrEqIgnoreCase | StrContains | Contains | ArrayGet | StoreGet | StoreDelete => (2, 1),
        Require | EmitEvent => (2, 0),
        StorePut => (3, 0),
        Neg | Not | TrustDim(_) | TrustNorm | LoadTrust | ResolveDid | GetBalance | Surprisal
        | StrLen | MathAbs | MathSqrt | MathFloor | MathCeil | MathRound | TimeSince | ArrayLen
        | LoadParam | ToBool | ToText | ToNumber => (1, 1),
        Concat => (2, 1),
        TrustCreate => (6, 1),
        Clamp | Lerp => (3, 1),
        MakeArray(n) => (*n as usize, 1),
        Jump(_) | Call(..) | Return | Halt | Abort | Deny => (0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(src: &str) -> Vec<&'static str> {
        match check(src) {
            Ok(_) => Vec::new(),
            Err(d) => d.items.iter().map(|d| d.code).collect(),
        }
    }

    #[test]
    fn every_error_of_a_file_is_reported_once() {
        let src = "policy \"p\" {\n let a = amout + 1\n require a > 1\n require foo(1)\n require caller.trust.r > 0.5\n allow\n}\n\
                   policy \"q\" { require nope }";
        // `a` failed, so it is declared for the lines after it: no cascade.
        assert_eq!(codes(src), ["E0200", "E0201", "E0204", "E0200"]);
    }

    #[test]
    fn errors_are_capped_per_policy() {
        let body: String = (0..50).map(|i| format!("require x{i}\n")).collect();
        assert_eq!(
            codes(&format!("policy \"p\" {{\n{body}}}")).len(),
            MAX_ERRORS
        );
    }
}
