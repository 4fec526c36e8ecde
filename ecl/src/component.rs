//! The second back end: a compiled policy straight to a WebAssembly
//! component of the `erynoa:ecl` world.
//!
//! The bytecode the front end produced is translated instruction by
//! instruction into typed wasm (numbers are `f64`, bools `i32`, strings a
//! packed `i64` of pointer and length, trust vectors and arrays pointers,
//! values known only at run time a pointer to a tagged box), with `if`
//! blocks where the bytecode branches. There is no interpreter in the
//! output: each ECL operation is a few wasm instructions.
//!
//! **Gas is the VM's, exactly.** The generated code reads the gas left at
//! the start, keeps it in a global, and charges every instruction's legacy
//! layer cost: runs of instructions that cannot fail are charged together,
//! anything that can fail, branch or call the host is charged alone, and
//! when the budget would run out inside a run the code finds the exact
//! instruction and charges the host just as the VM would have. Compute gas
//! is flushed to the host through `budget.consume-gas` before every host
//! call and at the end; host calls charge their own layers in the host.
//! The component carries an `erynoa:metering = self` section so the host
//! does not charge its fuel again.

use std::borrow::Cow;
use std::collections::BTreeMap;

use wasm_encoder::{
    BlockType, CodeSection, ComponentSection as _, ConstExpr, CustomSection, DataSection,
    EntityType, ExportKind, ExportSection, Function, FunctionSection, GlobalSection, GlobalType,
    ImportSection, Instruction as I, MemArg, MemorySection, MemoryType, Module, TypeSection,
    ValType,
};

use crate::bytecode::{OpCode, Value};
use crate::compile::Program;

/// The WIT contract the component implements.
const WIT: &str = include_str!("../../wit/erynoa.wit");
/// The host reads this section to know the component charges its own gas.
pub const METERING_SECTION: &str = "erynoa:metering";
/// The deepest operand stack the policy can reach (a little-endian `u32`).
/// The compiled code does not check the stack as it runs, so the host
/// checks a budget's stack limit against this before it runs the policy.
pub const MAX_STACK_SECTION: &str = "erynoa:max-stack";

/// Why a program cannot become a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    /// Hand-written bytecode the wasm back end does not translate (only the
    /// ECL compiler's output is supported; run other bytecode on the VM).
    #[error("instruction {index} (`{op}`) is not supported by the wasm back end: {why}")]
    Unsupported {
        /// Where.
        index: usize,
        /// The instruction.
        op: String,
        /// Why.
        why: &'static str,
    },
    /// wit-component refused the module: a bug in this back end.
    #[error("cannot build the component: {0}")]
    Encode(String),
}

/// Compiles `program` into a component implementing `erynoa:ecl/policy`,
/// importing only the interfaces it uses.
///
/// ```
/// let program = erynoa_ecl::compile("policy \"p\" { require caller.trust.R >= 0.5 }", None)?;
/// let wasm = erynoa_ecl::component::compile(&program)?;
/// assert_eq!(&wasm[..4], b"\0asm");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn compile(program: &Program) -> Result<Vec<u8>, ComponentError> {
    let core = core_module(program)?;
    let mut component = componentize(core)?;
    let max_stack = u32::try_from(program.max_stack)
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    for (name, data) in [
        (METERING_SECTION, &b"self"[..]),
        (MAX_STACK_SECTION, &max_stack[..]),
    ] {
        let section = CustomSection {
            name: Cow::Borrowed(name),
            data: Cow::Borrowed(data),
        };
        section.append_to_component(&mut component);
    }
    Ok(component)
}

/// Makes a core module into a component of the `erynoa:ecl` policy world:
/// its imports must be `erynoa:ecl` functions in the canonical ABI, and it
/// must export `memory`, `cabi_realloc` and the `erynoa:ecl/policy@0.1.0`
/// functions. The compiler uses it; so do tests and fuzzers that write
/// policies (hostile ones too) by hand.
///
/// ```
/// let core = wat::parse_str(r#"(module
///   (memory (export "memory") 1)
///   (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
///   (func (export "erynoa:ecl/policy@0.1.0#metadata") (result i32) (i32.const 0))
///   (func (export "erynoa:ecl/policy@0.1.0#evaluate")
///     (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 64)))"#)?;
/// let component = erynoa_ecl::component::componentize(core)?;
/// assert_eq!(&component[4..8], [0x0d, 0, 1, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn componentize(mut core: Vec<u8>) -> Result<Vec<u8>, ComponentError> {
    let encode = |e: anyhow::Error| ComponentError::Encode(format!("{e:#}"));
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str("erynoa.wit", WIT).map_err(encode)?;
    let world = resolve
        .select_world(&[package], Some("policy-component"))
        .map_err(encode)?;
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(encode)?;
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .map_err(encode)?
        .encode()
        .map_err(encode)
}

// ---- Memory layout ----

/// Scratch area for results returned by imports (the largest, a trust
/// vector result, is 56 bytes).
const RET: i32 = 64;
/// The `evaluate` result record.
const RES: i32 = 128;
/// The `metadata` result record.
const META: i32 = 160;
/// Where static data starts.
const DATA: u32 = 1024;

/// 2^63: below it an integral f64 converts to i64 exactly.
const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;

/// Box tags: the legacy value kinds.
const T_NULL: i32 = 0;
const T_BOOL: i32 = 1;
const T_NUMBER: i32 = 2;
const T_STRING: i32 = 3;
const T_DID: i32 = 4;
const T_TRUST: i32 = 5;
const T_ARRAY: i32 = 6;
const TYPE_NAMES: [&str; 7] = [
    "null",
    "bool",
    "number",
    "string",
    "did",
    "trust_vector",
    "array",
];

/// What a coercion expected, as the VM's error texts name it.
const E_NUMBER: i32 = 0;
const E_BOOL: i32 = 1;
const E_STRING: i32 = 2;
const E_DID: i32 = 3;
const E_TRUST: i32 = 4;
const E_ARRAY: i32 = 5;
const EXPECTED: [&str; 6] = ["number", "bool", "string", "DID", "TrustVector", "Array"];

/// Error kinds the generated code records in `$err`.
mod err {
    pub const TYPE: i32 = 1;
    pub const DIV_ZERO: i32 = 2;
    pub const MOD_ZERO: i32 = 3;
    pub const SURPRISAL: i32 = 5;
    pub const SQRT: i32 = 6;
    pub const CLAMP: i32 = 7;
    pub const INDEX: i32 = 8;
    pub const WEIGHTS: i32 = 9;
    pub const WEIGHT: i32 = 10;
    pub const NUM: i32 = 11;
    pub const STR: i32 = 12;
    pub const HOST: i32 = 13;
}

/// How the run ended, in `$outcome` (0, the initial value, is allow).
mod outcome {
    pub const DENY: i32 = 1;
    pub const DENY_REASON: i32 = 2;
    pub const ERROR: i32 = 3;
    pub const NOT_BOOL: i32 = 4;
}

// ---- Globals ----
const G_HEAP: u32 = 0;
const G_LEFT: u32 = 1;
const G_PENDING: u32 = 2;
const G_ERR: u32 = 3;
const G_EA: u32 = 4;
const G_EB: u32 = 5;
const G_CALLER: u32 = 6;
const G_REALM: u32 = 7;
const G_PARAMS: u32 = 8;
const G_NPARAMS: u32 = 9;
const G_OUTCOME: u32 = 10;
const G_REASON: u32 = 11;

fn mem(offset: u64, align: u32) -> MemArg {
    MemArg {
        offset,
        align,
        memory_index: 0,
    }
}

/// The static type of a value on the stack; decides its wasm type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    Null,
    Bool,
    Num,
    Str,
    Did,
    Trust,
    Arr,
    Any,
}

impl T {
    fn val(self) -> ValType {
        match self {
            T::Num => ValType::F64,
            T::Str | T::Did => ValType::I64,
            _ => ValType::I32,
        }
    }

    fn tag(self) -> i32 {
        match self {
            T::Null => T_NULL,
            T::Bool => T_BOOL,
            T::Num => T_NUMBER,
            T::Str => T_STRING,
            T::Did => T_DID,
            T::Trust => T_TRUST,
            T::Arr => T_ARRAY,
            T::Any => -1,
        }
    }
}

// ---- Imports ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Imp {
    GasLeft,
    ConsumeGas,
    GetTrust,
    HasCredential,
    ResolveDid,
    StoreGet,
    StorePut,
    StoreDelete,
    Timestamp,
    Log,
    EmitEvent,
    FormatNumber,
    ParseNumber,
    Log2,
    Fmod,
    EqIgnoreCase,
}

impl Imp {
    fn spec(self) -> (&'static str, &'static str, Vec<ValType>, Vec<ValType>) {
        use ValType::{F64, I32, I64};
        let (module, name, params, results): (_, _, &[ValType], &[ValType]) = match self {
            Imp::GasLeft => ("budget", "gas-left", &[], &[I64]),
            Imp::ConsumeGas => ("budget", "consume-gas", &[I32, I64], &[]),
            Imp::GetTrust => ("trust", "get-trust", &[I32, I32, I32], &[]),
            Imp::HasCredential => ("identity", "has-credential", &[I32; 5], &[]),
            Imp::ResolveDid => ("identity", "resolve-did", &[I32; 3], &[]),
            Imp::StoreGet => ("state", "store-get", &[I32; 5], &[]),
            Imp::StorePut => ("state", "store-put", &[I32; 7], &[]),
            Imp::StoreDelete => ("state", "store-delete", &[I32; 5], &[]),
            Imp::Timestamp => ("context", "timestamp", &[], &[I64]),
            Imp::Log => ("context", "log", &[I32; 3], &[]),
            Imp::EmitEvent => ("events", "emit-event", &[I32; 5], &[]),
            Imp::FormatNumber => ("prelude", "format-number", &[F64, I32], &[]),
            Imp::ParseNumber => ("prelude", "parse-number", &[I32; 3], &[]),
            Imp::Log2 => ("prelude", "log2", &[F64], &[F64]),
            Imp::Fmod => ("prelude", "fmod", &[F64, F64], &[F64]),
            Imp::EqIgnoreCase => ("prelude", "eq-ignore-case", &[I32; 4], &[I32]),
        };
        (module, name, params.to_vec(), results.to_vec())
    }

    /// Imports an instruction needs, beyond the budget's.
    fn needed_by(op: &OpCode) -> &'static [Imp] {
        match op {
            OpCode::LoadTrust => &[Imp::GetTrust],
            OpCode::HasCredential => &[Imp::HasCredential],
            OpCode::ResolveDid => &[Imp::ResolveDid],
            OpCode::StoreGet => &[Imp::StoreGet],
            OpCode::StorePut => &[Imp::StorePut],
            OpCode::StoreDelete => &[Imp::StoreDelete],
            OpCode::GetTimestamp | OpCode::TimeSince => &[Imp::Timestamp],
            OpCode::Log => &[Imp::Log],
            OpCode::EmitEvent => &[Imp::EmitEvent],
            OpCode::MathSqrt | OpCode::Clamp | OpCode::ToText => &[Imp::FormatNumber],
            OpCode::Surprisal => &[Imp::FormatNumber, Imp::Log2],
            OpCode::ToNumber => &[Imp::ParseNumber],
            OpCode::Mod => &[Imp::Fmod],
            OpCode::StrEqIgnoreCase => &[Imp::EqIgnoreCase],
            _ => &[],
        }
    }
}

// ---- Helper functions the generated code calls ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum H {
    Alloc,
    Realloc,
    StrEq,
    StrContains,
    TvEq,
    AnyEq,
    Box,
    Flush,
    OogOne,
    OogTable,
    FailType,
    AnyNum,
    AnyBool,
    AnyText,
    AnyTv,
    AnyArr,
    Param,
    FmtU64,
    Concat,
    HostErr,
    Contains,
    Metadata,
    Evaluate,
}

const HELPERS: [H; 23] = [
    H::Alloc,
    H::Realloc,
    H::StrEq,
    H::StrContains,
    H::TvEq,
    H::AnyEq,
    H::Box,
    H::Flush,
    H::OogOne,
    H::OogTable,
    H::FailType,
    H::AnyNum,
    H::AnyBool,
    H::AnyText,
    H::AnyTv,
    H::AnyArr,
    H::Param,
    H::FmtU64,
    H::Concat,
    H::HostErr,
    H::Contains,
    H::Metadata,
    H::Evaluate,
];

/// A function body under construction.
struct Body {
    params: Vec<ValType>,
    results: Vec<ValType>,
    locals: Vec<ValType>,
    ins: Vec<I<'static>>,
}

impl Body {
    fn new(params: &[ValType], results: &[ValType]) -> Self {
        Self {
            params: params.to_vec(),
            results: results.to_vec(),
            locals: Vec::new(),
            ins: Vec::new(),
        }
    }

    fn local(&mut self, t: ValType) -> u32 {
        self.locals.push(t);
        (self.params.len() + self.locals.len() - 1) as u32
    }

    fn i(&mut self, ins: I<'static>) -> &mut Self {
        self.ins.push(ins);
        self
    }

    fn all(&mut self, ins: impl IntoIterator<Item = I<'static>>) -> &mut Self {
        self.ins.extend(ins);
        self
    }

    fn finish(self) -> Function {
        let mut f = Function::new_with_locals_types(self.locals);
        for ins in &self.ins {
            f.instruction(ins);
        }
        f.instruction(&I::End);
        f
    }
}

/// Static data: strings and cost tables.
#[derive(Default)]
struct Data {
    bytes: Vec<u8>,
    strings: BTreeMap<String, u32>,
}

impl Data {
    fn string(&mut self, s: &str) -> i64 {
        let at = match self.strings.get(s) {
            Some(at) => *at,
            None => {
                let at = DATA + self.bytes.len() as u32;
                self.bytes.extend_from_slice(s.as_bytes());
                self.strings.insert(s.to_owned(), at);
                at
            }
        };
        pack(at, s.len() as u32)
    }

    fn align(&mut self, n: usize) {
        while !self.bytes.len().is_multiple_of(n) {
            self.bytes.push(0);
        }
    }

    /// A table of packed strings, 8 bytes each.
    fn string_table(&mut self, items: &[&str]) -> i32 {
        let packed: Vec<i64> = items.iter().map(|s| self.string(s)).collect();
        self.align(8);
        let at = DATA + self.bytes.len() as u32;
        for p in packed {
            self.bytes.extend_from_slice(&p.to_le_bytes());
        }
        at as i32
    }

    fn costs(&mut self, costs: &[u64]) -> i32 {
        self.align(4);
        let at = DATA + self.bytes.len() as u32;
        for c in costs {
            self.bytes
                .extend_from_slice(&u32::try_from(*c).unwrap_or(u32::MAX).to_le_bytes());
        }
        at as i32
    }
}

fn pack(ptr: u32, len: u32) -> i64 {
    (i64::from(ptr) << 32) | i64::from(len)
}

/// Indices of imports and helpers.
struct Index {
    imports: BTreeMap<Imp, u32>,
    helpers: BTreeMap<H, u32>,
}

impl Index {
    fn imp(&self, i: Imp) -> u32 {
        self.imports.get(&i).copied().unwrap_or(u32::MAX)
    }

    fn h(&self, h: H) -> u32 {
        self.helpers.get(&h).copied().unwrap_or(u32::MAX)
    }
}

fn core_module(program: &Program) -> Result<Vec<u8>, ComponentError> {
    let mut needed: Vec<Imp> = vec![Imp::GasLeft, Imp::ConsumeGas];
    for op in &program.code {
        needed.extend_from_slice(Imp::needed_by(op));
    }
    needed.sort();
    needed.dedup();
    let imports: BTreeMap<Imp, u32> = needed
        .iter()
        .enumerate()
        .map(|(i, imp)| (*imp, i as u32))
        .collect();
    let helpers: BTreeMap<H, u32> = HELPERS
        .iter()
        .enumerate()
        .map(|(i, h)| (*h, (needed.len() + i) as u32))
        .collect();
    let idx = Index { imports, helpers };
    let mut data = Data::default();
    let tables = Tables {
        type_names: data.string_table(&TYPE_NAMES),
        expected: data.string_table(&EXPECTED),
    };

    let mut bodies: Vec<Body> = Vec::new();
    for h in HELPERS {
        bodies.push(match h {
            H::Alloc => alloc(),
            H::Realloc => realloc(&idx),
            H::StrEq => str_eq(),
            H::StrContains => str_contains(&idx),
            H::TvEq => tv_eq(),
            H::AnyEq => any_eq(&idx),
            H::Box => boxed(&idx),
            H::Flush => flush(&idx),
            H::OogOne => oog_one(&idx),
            H::OogTable => oog_table(&idx),
            H::FailType => fail_type(),
            H::AnyNum => any_num(&idx),
            H::AnyBool => any_bool(&idx),
            H::AnyText => any_text(&idx),
            H::AnyTv => any_ptr(&idx, T_TRUST, E_TRUST),
            H::AnyArr => any_ptr(&idx, T_ARRAY, E_ARRAY),
            H::Param => param(&idx),
            H::FmtU64 => fmt_u64(&idx),
            H::Concat => concat(&idx),
            H::HostErr => host_err(),
            H::Contains => array_contains(&idx),
            H::Metadata => metadata(&mut data, &program.name),
            H::Evaluate => Gen::new(program, &idx, &mut data, &tables).evaluate()?,
        });
    }

    let mut module = Module::new();
    let mut types = TypeSection::new();
    let mut type_ids: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut type_of = |params: &[ValType], results: &[ValType], types: &mut TypeSection| {
        if let Some(i) = type_ids
            .iter()
            .position(|(p, r)| p == params && r == results)
        {
            return i as u32;
        }
        types.ty().function(params.to_vec(), results.to_vec());
        type_ids.push((params.to_vec(), results.to_vec()));
        (type_ids.len() - 1) as u32
    };
    let mut import_section = ImportSection::new();
    for imp in &needed {
        let (module_name, name, params, results) = imp.spec();
        let t = type_of(&params, &results, &mut types);
        import_section.import(
            &format!("erynoa:ecl/{module_name}@0.1.0"),
            name,
            EntityType::Function(t),
        );
    }
    let mut functions = FunctionSection::new();
    for b in &bodies {
        functions.function(type_of(&b.params, &b.results, &mut types));
    }
    let mut memory = MemorySection::new();
    memory.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    data.align(8);
    let heap_start = DATA + data.bytes.len() as u32;
    let mut globals = GlobalSection::new();
    let g = |t: ValType| GlobalType {
        val_type: t,
        mutable: true,
        shared: false,
    };
    globals.global(g(ValType::I32), &ConstExpr::i32_const(heap_start as i32));
    for t in [
        ValType::I64, // left
        ValType::I64, // pending
        ValType::I32, // err
        ValType::I64, // ea
        ValType::I64, // eb
        ValType::I64, // caller
        ValType::I64, // realm
        ValType::I32, // params
        ValType::I32, // nparams
        ValType::I32, // outcome
        ValType::I64, // reason
    ] {
        let init = match t {
            ValType::I64 => ConstExpr::i64_const(0),
            _ => ConstExpr::i32_const(0),
        };
        globals.global(g(t), &init);
    }
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("cabi_realloc", ExportKind::Func, idx.h(H::Realloc));
    exports.export(
        "erynoa:ecl/policy@0.1.0#metadata",
        ExportKind::Func,
        idx.h(H::Metadata),
    );
    exports.export(
        "erynoa:ecl/policy@0.1.0#evaluate",
        ExportKind::Func,
        idx.h(H::Evaluate),
    );
    let mut code = CodeSection::new();
    for b in bodies {
        code.function(&b.finish());
    }
    let mut data_section = DataSection::new();
    data_section.active(0, &ConstExpr::i32_const(DATA as i32), data.bytes);

    module.section(&types);
    module.section(&import_section);
    module.section(&functions);
    module.section(&memory);
    module.section(&globals);
    module.section(&exports);
    module.section(&code);
    module.section(&data_section);
    Ok(module.finish())
}

struct Tables {
    type_names: i32,
    expected: i32,
}

// ---- Helpers, hand-written ----

use ValType::{F64, I32, I64};

/// `(size, align) -> ptr`: a bump allocator that grows memory as needed.
fn alloc() -> Body {
    let mut b = Body::new(&[I32, I32], &[I32]);
    let ptr = b.local(I32);
    let end = b.local(I32);
    b.all([
        I::GlobalGet(G_HEAP),
        I::LocalGet(1),
        I::I32Add,
        I::I32Const(1),
        I::I32Sub,
        I::I32Const(0),
        I::LocalGet(1),
        I::I32Sub,
        I::I32And,
        I::LocalTee(ptr),
        I::LocalGet(0),
        I::I32Add,
        I::LocalTee(end),
        I::MemorySize(0),
        I::I32Const(16),
        I::I32Shl,
        I::I32GtU,
        I::If(BlockType::Empty),
        I::LocalGet(end),
        I::MemorySize(0),
        I::I32Const(16),
        I::I32Shl,
        I::I32Sub,
        I::I32Const(0xffff),
        I::I32Add,
        I::I32Const(16),
        I::I32ShrU,
        I::MemoryGrow(0),
        I::I32Const(-1),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::Unreachable,
        I::End,
        I::End,
        I::LocalGet(end),
        I::GlobalSet(G_HEAP),
        I::LocalGet(ptr),
    ]);
    b
}

/// `cabi_realloc(old, old_size, align, new_size) -> ptr`.
fn realloc(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I32, I32, I32], &[I32]);
    let new = b.local(I32);
    b.all([
        I::LocalGet(3),
        I::LocalGet(2),
        I::Call(idx.h(H::Alloc)),
        I::LocalSet(new),
        I::LocalGet(0),
        I::If(BlockType::Empty),
        I::LocalGet(new),
        I::LocalGet(0),
        I::LocalGet(1),
        I::LocalGet(3),
        I::LocalGet(1),
        I::LocalGet(3),
        I::I32LtU,
        I::Select,
        I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        I::End,
        I::LocalGet(new),
    ]);
    b
}

/// `while i < bound { body; i += 1 }` with `i` a local; `body` runs two
/// blocks deep (`br 1` in it leaves the loop).
/// With an array's pointer on the stack, the address of its element at the
/// index in local `i`: arrays are an 8-byte header, then 16-byte tagged slots.
fn element_addr(i: u32) -> [I<'static>; 6] {
    [
        I::I32Const(8),
        I::I32Add,
        I::LocalGet(i),
        I::I32Const(16),
        I::I32Mul,
        I::I32Add,
    ]
}

fn count_up(i: u32, bound: I<'static>, body: Vec<I<'static>>) -> Vec<I<'static>> {
    let mut out = vec![
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(i),
        bound,
        I::I32GeU,
        I::BrIf(1),
    ];
    out.extend(body);
    out.extend([
        I::LocalGet(i),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(i),
        I::Br(0),
        I::End,
        I::End,
    ]);
    out
}

/// Pushes the pointer, then the length, of the packed string in `local`.
fn unpack(local: u32) -> [I<'static>; 6] {
    [
        I::LocalGet(local),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalGet(local),
        I::I32WrapI64,
    ]
}

/// Packs `(ptr, len)` on the stack into one `i64`.
fn pack_stack(b: &mut Body) {
    let len = b.local(I32);
    b.all([
        I::LocalSet(len),
        I::I64ExtendI32U,
        I::I64Const(32),
        I::I64Shl,
        I::LocalGet(len),
        I::I64ExtendI32U,
        I::I64Or,
    ]);
}

/// `(a, b) -> bool`: byte equality of two strings.
fn str_eq() -> Body {
    let mut b = Body::new(&[I64, I64], &[I32]);
    let (pa, pb, n, i) = (b.local(I32), b.local(I32), b.local(I32), b.local(I32));
    b.all([
        I::LocalGet(0),
        I::I32WrapI64,
        I::LocalTee(n),
        I::LocalGet(1),
        I::I32WrapI64,
        I::I32Ne,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
        I::LocalGet(0),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalSet(pa),
        I::LocalGet(1),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalSet(pb),
    ]);
    b.all(count_up(
        i,
        I::LocalGet(n),
        vec![
            I::LocalGet(pa),
            I::LocalGet(i),
            I::I32Add,
            I::I32Load8U(mem(0, 0)),
            I::LocalGet(pb),
            I::LocalGet(i),
            I::I32Add,
            I::I32Load8U(mem(0, 0)),
            I::I32Ne,
            I::If(BlockType::Empty),
            I::I32Const(0),
            I::Return,
            I::End,
        ],
    ));
    b.all([I::I32Const(1)]);
    b
}

/// `(haystack, needle) -> bool`: whether `needle` occurs in `haystack`.
fn str_contains(idx: &Index) -> Body {
    let mut b = Body::new(&[I64, I64], &[I32]);
    let (hp, hl, nl, i) = (b.local(I32), b.local(I32), b.local(I32), b.local(I32));
    b.all([
        I::LocalGet(0),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalSet(hp),
        I::LocalGet(0),
        I::I32WrapI64,
        I::LocalSet(hl),
        I::LocalGet(1),
        I::I32WrapI64,
        I::LocalSet(nl),
        I::Block(BlockType::Empty),
        I::Loop(BlockType::Empty),
        I::LocalGet(i),
        I::LocalGet(nl),
        I::I32Add,
        I::LocalGet(hl),
        I::I32GtU,
        I::BrIf(1),
        // Compare the needle with the window at i.
        I::LocalGet(hp),
        I::LocalGet(i),
        I::I32Add,
        I::I64ExtendI32U,
        I::I64Const(32),
        I::I64Shl,
        I::LocalGet(nl),
        I::I64ExtendI32U,
        I::I64Or,
        I::LocalGet(1),
        I::Call(idx.h(H::StrEq)),
        I::If(BlockType::Empty),
        I::I32Const(1),
        I::Return,
        I::End,
        I::LocalGet(i),
        I::I32Const(1),
        I::I32Add,
        I::LocalSet(i),
        I::Br(0),
        I::End,
        I::End,
        I::I32Const(0),
    ]);
    b
}

/// `(a, b) -> bool`: trust vectors equal in every dimension.
fn tv_eq() -> Body {
    let mut b = Body::new(&[I32, I32], &[I32]);
    b.i(I::I32Const(1));
    for d in 0..6u64 {
        b.all([
            I::LocalGet(0),
            I::F64Load(mem(d * 8, 3)),
            I::LocalGet(1),
            I::F64Load(mem(d * 8, 3)),
            I::F64Eq,
            I::I32And,
        ]);
    }
    b
}

/// `(a, b) -> bool`: the legacy structural equality of two boxes.
fn any_eq(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I32], &[I32]);
    let (tag, n, i) = (b.local(I32), b.local(I32), b.local(I32));
    let payload = |box_local: u32| I::LocalGet(box_local);
    b.all([
        I::LocalGet(0),
        I::I32Load(mem(0, 2)),
        I::LocalTee(tag),
        I::LocalGet(1),
        I::I32Load(mem(0, 2)),
        I::I32Ne,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
        // null
        I::LocalGet(tag),
        I::I32Eqz,
        I::If(BlockType::Empty),
        I::I32Const(1),
        I::Return,
        I::End,
        // number
        I::LocalGet(tag),
        I::I32Const(T_NUMBER),
        I::I32Eq,
        I::If(BlockType::Empty),
        payload(0),
        I::F64Load(mem(8, 3)),
        payload(1),
        I::F64Load(mem(8, 3)),
        I::F64Eq,
        I::Return,
        I::End,
        // string, did
        I::LocalGet(tag),
        I::I32Const(T_STRING),
        I::I32Eq,
        I::LocalGet(tag),
        I::I32Const(T_DID),
        I::I32Eq,
        I::I32Or,
        I::If(BlockType::Empty),
        payload(0),
        I::I64Load(mem(8, 3)),
        payload(1),
        I::I64Load(mem(8, 3)),
        I::Call(idx.h(H::StrEq)),
        I::Return,
        I::End,
        // trust vector
        I::LocalGet(tag),
        I::I32Const(T_TRUST),
        I::I32Eq,
        I::If(BlockType::Empty),
        payload(0),
        I::I32Load(mem(8, 2)),
        payload(1),
        I::I32Load(mem(8, 2)),
        I::Call(idx.h(H::TvEq)),
        I::Return,
        I::End,
        // array: same length and equal elements
        I::LocalGet(tag),
        I::I32Const(T_ARRAY),
        I::I32Eq,
        I::If(BlockType::Empty),
        payload(0),
        I::I32Load(mem(8, 2)),
        I::I32Load(mem(0, 2)),
        I::LocalTee(n),
        payload(1),
        I::I32Load(mem(8, 2)),
        I::I32Load(mem(0, 2)),
        I::I32Ne,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
    ]);
    // Element by element: any_eq(&left[i], &right[i]).
    let mut body = vec![payload(0), I::I32Load(mem(8, 2))];
    body.extend(element_addr(i));
    body.extend([payload(1), I::I32Load(mem(8, 2))]);
    body.extend(element_addr(i));
    body.extend([
        I::Call(idx.h(H::AnyEq)),
        I::I32Eqz,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
    ]);
    b.all(count_up(i, I::LocalGet(n), body));
    b.all([
        I::I32Const(1),
        I::Return,
        I::End,
        // bool
        payload(0),
        I::I64Load(mem(8, 3)),
        payload(1),
        I::I64Load(mem(8, 3)),
        I::I64Eq,
    ]);
    b
}

/// `(tag, payload) -> box`.
fn boxed(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I64], &[I32]);
    let p = b.local(I32);
    b.all([
        I::I32Const(16),
        I::I32Const(8),
        I::Call(idx.h(H::Alloc)),
        I::LocalTee(p),
        I::LocalGet(0),
        I::I32Store(mem(0, 2)),
        I::LocalGet(p),
        I::LocalGet(1),
        I::I64Store(mem(8, 3)),
        I::LocalGet(p),
    ]);
    b
}

/// Charges the compute gas not yet charged.
fn flush(idx: &Index) -> Body {
    let mut b = Body::new(&[], &[]);
    b.all([
        I::GlobalGet(G_PENDING),
        I::I64Eqz,
        I::If(BlockType::Empty),
        I::Return,
        I::End,
        I::I32Const(1), // compute
        I::GlobalGet(G_PENDING),
        I::Call(idx.imp(Imp::ConsumeGas)),
        I::I64Const(0),
        I::GlobalSet(G_PENDING),
    ]);
    b
}

/// `(cost)`: the budget cannot pay `cost`; charge what is pending, then
/// the refused amount, which makes the host end the run as the VM would.
fn oog_one(idx: &Index) -> Body {
    let mut b = Body::new(&[I64], &[]);
    b.all([
        I::Call(idx.h(H::Flush)),
        I::I32Const(1),
        I::LocalGet(0),
        I::Call(idx.imp(Imp::ConsumeGas)),
        I::Unreachable,
    ]);
    b
}

/// `(table, n)`: the budget cannot pay a run of `n` instructions whose
/// costs are at `table`: find the first that does not fit and refuse it.
fn oog_table(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I32], &[]);
    let (acc, c, i) = (b.local(I64), b.local(I64), b.local(I32));
    b.all([
        I::Loop(BlockType::Empty),
        I::LocalGet(0),
        I::LocalGet(i),
        I::I32Const(4),
        I::I32Mul,
        I::I32Add,
        I::I64Load32U(mem(0, 2)),
        I::LocalSet(c),
        I::GlobalGet(G_LEFT),
        I::LocalGet(acc),
        I::LocalGet(c),
        I::I64Add,
        I::I64LtS,
        I::If(BlockType::Empty),
        I::GlobalGet(G_PENDING),
        I::LocalGet(acc),
        I::I64Add,
        I::GlobalSet(G_PENDING),
        I::LocalGet(c),
        I::Call(idx.h(H::OogOne)),
        I::End,
        I::LocalGet(acc),
        I::LocalGet(c),
        I::I64Add,
        I::LocalSet(acc),
        I::LocalGet(i),
        I::I32Const(1),
        I::I32Add,
        I::LocalTee(i),
        I::LocalGet(1),
        I::I32LtU,
        I::BrIf(0),
        I::End,
        I::Unreachable,
    ]);
    b
}

/// `(expected, tag)`: records `Expected <expected>, got <tag>`.
fn fail_type() -> Body {
    let mut b = Body::new(&[I32, I32], &[]);
    b.all([
        I::I32Const(err::TYPE),
        I::GlobalSet(G_ERR),
        I::LocalGet(0),
        I::I64ExtendI32U,
        I::GlobalSet(G_EA),
        I::LocalGet(1),
        I::I64ExtendI32U,
        I::GlobalSet(G_EB),
    ]);
    b
}

/// `box -> f64`: numbers, and bools as 1 or 0.
fn any_num(idx: &Index) -> Body {
    let mut b = Body::new(&[I32], &[F64]);
    let tag = b.local(I32);
    b.all([
        I::LocalGet(0),
        I::I32Load(mem(0, 2)),
        I::LocalTee(tag),
        I::I32Const(T_NUMBER),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::F64Load(mem(8, 3)),
        I::Return,
        I::End,
        I::LocalGet(tag),
        I::I32Const(T_BOOL),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::I64Load(mem(8, 3)),
        I::F64ConvertI64U,
        I::Return,
        I::End,
        I::I32Const(E_NUMBER),
        I::LocalGet(tag),
        I::Call(idx.h(H::FailType)),
        I::F64Const(0.0.into()),
    ]);
    b
}

/// `box -> i32`: bools, null as false, numbers as `!= 0`.
fn any_bool(idx: &Index) -> Body {
    let mut b = Body::new(&[I32], &[I32]);
    let tag = b.local(I32);
    b.all([
        I::LocalGet(0),
        I::I32Load(mem(0, 2)),
        I::LocalTee(tag),
        I::I32Const(T_BOOL),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::I64Load(mem(8, 3)),
        I::I64Const(0),
        I::I64Ne,
        I::Return,
        I::End,
        I::LocalGet(tag),
        I::I32Eqz,
        I::If(BlockType::Empty),
        I::I32Const(0),
        I::Return,
        I::End,
        I::LocalGet(tag),
        I::I32Const(T_NUMBER),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::F64Load(mem(8, 3)),
        I::F64Const(0.0.into()),
        I::F64Ne,
        I::Return,
        I::End,
        I::I32Const(E_BOOL),
        I::LocalGet(tag),
        I::Call(idx.h(H::FailType)),
        I::I32Const(0),
    ]);
    b
}

/// `(box, expected) -> i64`: strings and DIDs.
fn any_text(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I32], &[I64]);
    let tag = b.local(I32);
    b.all([
        I::LocalGet(0),
        I::I32Load(mem(0, 2)),
        I::LocalTee(tag),
        I::I32Const(T_STRING),
        I::I32Eq,
        I::LocalGet(tag),
        I::I32Const(T_DID),
        I::I32Eq,
        I::I32Or,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::I64Load(mem(8, 3)),
        I::Return,
        I::End,
        I::LocalGet(1),
        I::LocalGet(tag),
        I::Call(idx.h(H::FailType)),
        I::I64Const(0),
    ]);
    b
}

/// `box -> ptr` for a trust vector or an array.
fn any_ptr(idx: &Index, want: i32, expected: i32) -> Body {
    let mut b = Body::new(&[I32], &[I32]);
    let tag = b.local(I32);
    b.all([
        I::LocalGet(0),
        I::I32Load(mem(0, 2)),
        I::LocalTee(tag),
        I::I32Const(want),
        I::I32Eq,
        I::If(BlockType::Empty),
        I::LocalGet(0),
        I::I32Load(mem(8, 2)),
        I::Return,
        I::End,
        I::I32Const(expected),
        I::LocalGet(tag),
        I::Call(idx.h(H::FailType)),
        I::I32Const(0),
    ]);
    b
}

/// `name -> box`: the request parameter, or null.
fn param(idx: &Index) -> Body {
    let mut b = Body::new(&[I64], &[I32]);
    let (p, i, kind) = (b.local(I32), b.local(I32), b.local(I32));
    b.all([I::GlobalGet(G_PARAMS), I::LocalSet(p)]);
    b.all(count_up(
        i,
        I::GlobalGet(G_NPARAMS),
        vec![
            // param: name (ptr @0, len @4), value: tag @8, payload @16
            I::LocalGet(p),
            I::I32Load(mem(0, 2)),
            I::I64ExtendI32U,
            I::I64Const(32),
            I::I64Shl,
            I::LocalGet(p),
            I::I64Load32U(mem(4, 2)),
            I::I64Or,
            I::LocalGet(0),
            I::Call(idx.h(H::StrEq)),
            I::If(BlockType::Empty),
            I::LocalGet(p),
            I::I32Load8U(mem(8, 0)),
            I::LocalTee(kind),
            // null(0) boolean(1) number(2) text(3) did(4): the box tags.
            I::LocalGet(kind),
            I::I32Const(T_BOOL),
            I::I32Eq,
            I::If(BlockType::Result(I64)),
            I::LocalGet(p),
            I::I64Load8U(mem(16, 0)),
            I::Else,
            I::LocalGet(kind),
            I::I32Const(T_NUMBER),
            I::I32Eq,
            I::If(BlockType::Result(I64)),
            I::LocalGet(p),
            I::I64Load(mem(16, 3)),
            I::Else,
            I::LocalGet(p),
            I::I32Load(mem(16, 2)),
            I::I64ExtendI32U,
            I::I64Const(32),
            I::I64Shl,
            I::LocalGet(p),
            I::I64Load32U(mem(20, 2)),
            I::I64Or,
            I::End,
            I::End,
            I::Call(idx.h(H::Box)),
            I::Return,
            I::End,
            I::LocalGet(p),
            I::I32Const(24),
            I::I32Add,
            I::LocalSet(p),
        ],
    ));
    b.all([I::I32Const(T_NULL), I::I64Const(0), I::Call(idx.h(H::Box))]);
    b
}

/// `u64 -> string`: decimal digits.
fn fmt_u64(idx: &Index) -> Body {
    let mut b = Body::new(&[I64], &[I64]);
    let (buf, at) = (b.local(I32), b.local(I32));
    b.all([
        I::I32Const(20),
        I::I32Const(1),
        I::Call(idx.h(H::Alloc)),
        I::LocalTee(buf),
        I::I32Const(20),
        I::I32Add,
        I::LocalSet(at),
        I::Loop(BlockType::Empty),
        I::LocalGet(at),
        I::I32Const(1),
        I::I32Sub,
        I::LocalTee(at),
        I::LocalGet(0),
        I::I64Const(10),
        I::I64RemU,
        I::I32WrapI64,
        I::I32Const(48),
        I::I32Add,
        I::I32Store8(mem(0, 0)),
        I::LocalGet(0),
        I::I64Const(10),
        I::I64DivU,
        I::LocalTee(0),
        I::I64Eqz,
        I::I32Eqz,
        I::BrIf(0),
        I::End,
        I::LocalGet(at),
        I::LocalGet(buf),
        I::I32Const(20),
        I::I32Add,
        I::LocalGet(at),
        I::I32Sub,
    ]);
    pack_stack(&mut b);
    b
}

/// `(a, b) -> a ++ b`.
fn concat(idx: &Index) -> Body {
    let mut b = Body::new(&[I64, I64], &[I64]);
    let (dst, la, lb) = (b.local(I32), b.local(I32), b.local(I32));
    b.all([
        I::LocalGet(0),
        I::I32WrapI64,
        I::LocalSet(la),
        I::LocalGet(1),
        I::I32WrapI64,
        I::LocalSet(lb),
        I::LocalGet(la),
        I::LocalGet(lb),
        I::I32Add,
        I::I32Const(1),
        I::Call(idx.h(H::Alloc)),
        I::LocalTee(dst),
        I::LocalGet(0),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalGet(la),
        I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        I::LocalGet(dst),
        I::LocalGet(la),
        I::I32Add,
        I::LocalGet(1),
        I::I64Const(32),
        I::I64ShrU,
        I::I32WrapI64,
        I::LocalGet(lb),
        I::MemoryCopy {
            src_mem: 0,
            dst_mem: 0,
        },
        I::LocalGet(dst),
        I::LocalGet(la),
        I::LocalGet(lb),
        I::I32Add,
    ]);
    pack_stack(&mut b);
    b
}

/// `(at)`: records the error a host call returned in the `RET` area: its
/// `error` record is at `RET + at` (the payload offset of the result).
fn host_err() -> Body {
    let mut b = Body::new(&[I32], &[]);
    b.all([
        I::I32Const(err::HOST),
        I::GlobalSet(G_ERR),
        I::LocalGet(0),
        I::I64Load8U(mem(RET as u64, 0)),
        I::GlobalSet(G_EA),
        I::LocalGet(0),
        I::I64Load32U(mem(RET as u64 + 4, 2)),
        I::I64Const(32),
        I::I64Shl,
        I::LocalGet(0),
        I::I64Load32U(mem(RET as u64 + 8, 2)),
        I::I64Or,
        I::GlobalSet(G_EB),
    ]);
    b
}

/// `(box, array) -> bool`: whether an element equals the box.
fn array_contains(idx: &Index) -> Body {
    let mut b = Body::new(&[I32, I32], &[I32]);
    let (n, i) = (b.local(I32), b.local(I32));
    b.all([I::LocalGet(1), I::I32Load(mem(0, 2)), I::LocalSet(n)]);
    // Element by element: any_eq(&array[i], needle).
    let mut body = vec![I::LocalGet(1)];
    body.extend(element_addr(i));
    body.extend([
        I::LocalGet(0),
        I::Call(idx.h(H::AnyEq)),
        I::If(BlockType::Empty),
        I::I32Const(1),
        I::Return,
        I::End,
    ]);
    b.all(count_up(i, I::LocalGet(n), body));
    b.all([I::I32Const(0)]);
    b
}

/// `metadata() -> policy-info`: the policy's name and `ecl-1.0`.
fn metadata(data: &mut Data, name: &str) -> Body {
    let mut b = Body::new(&[], &[I32]);
    let n = data.string(name);
    let v = data.string("ecl-1.0");
    for (i, s) in [n, v].into_iter().enumerate() {
        let off = (i * 8) as u64;
        b.all([
            I::I32Const(META),
            I::I32Const((s >> 32) as i32),
            I::I32Store(mem(off, 2)),
            I::I32Const(META),
            I::I32Const(s as i32),
            I::I32Store(mem(off + 4, 2)),
        ]);
    }
    b.i(I::I32Const(META));
    b
}

// ---- The policy itself ----

/// The translation of one policy into the body of `evaluate`.
struct Gen<'a> {
    code: &'a [OpCode],
    idx: &'a Index,
    data: &'a mut Data,
    tables: &'a Tables,
    b: Body,
    /// Static types of the wasm operand stack of the current block.
    stack: Vec<T>,
    /// Locals of `let` slots: (wasm local, type).
    slots: BTreeMap<u16, (u32, T)>,
    /// Costs of the instructions emitted but not charged yet.
    run: Vec<u64>,
    /// Open blocks inside `$fail`.
    depth: u32,
}

type R<X = ()> = Result<X, ComponentError>;

impl<'a> Gen<'a> {
    fn new(program: &'a Program, idx: &'a Index, data: &'a mut Data, tables: &'a Tables) -> Self {
        Self {
            code: &program.code,
            idx,
            data,
            tables,
            b: Body::new(&[I32; 10], &[I32]),
            stack: Vec::new(),
            slots: BTreeMap::new(),
            run: Vec::new(),
            depth: 0,
        }
    }

    fn unsupported(&self, index: usize, why: &'static str) -> ComponentError {
        ComponentError::Unsupported {
            index,
            op: self
                .code
                .get(index)
                .map_or_else(|| "end".to_owned(), ToString::to_string),
            why,
        }
    }

    fn evaluate(mut self) -> R<Body> {
        // Request: caller, realm, action, resource, params.
        for (global, (ptr, len)) in [(G_CALLER, (0, 1)), (G_REALM, (2, 3))] {
            self.b.all([
                I::LocalGet(ptr),
                I::I64ExtendI32U,
                I::I64Const(32),
                I::I64Shl,
                I::LocalGet(len),
                I::I64ExtendI32U,
                I::I64Or,
                I::GlobalSet(global),
            ]);
        }
        self.b.all([
            I::LocalGet(8),
            I::GlobalSet(G_PARAMS),
            I::LocalGet(9),
            I::GlobalSet(G_NPARAMS),
            // `gas-left` rather than `remaining`: a scalar result lowers
            // without memory, so wit-component adds no shim instance.
            I::Call(self.idx.imp(Imp::GasLeft)),
            I::GlobalSet(G_LEFT),
            I::Block(BlockType::Empty), // $exit
            I::Block(BlockType::Empty), // $fail
        ]);
        let end = self.region(0, self.code.len())?;
        if end != self.code.len() {
            return Err(self.unsupported(end, "control flow the ECL compiler does not emit"));
        }
        // Falling off the end returns the top of the stack, or null.
        self.charge_run();
        match self.stack.pop() {
            Some(t) => self.ret(t),
            None => {
                self.b.all([
                    I::I32Const(outcome::NOT_BOOL),
                    I::GlobalSet(G_OUTCOME),
                    I::I64Const(i64::from(T_NULL)),
                    I::GlobalSet(G_EA),
                    I::Br(1),
                ]);
            }
        }
        self.b.i(I::End); // $fail
        self.b
            .all([I::I32Const(outcome::ERROR), I::GlobalSet(G_OUTCOME)]);
        self.b.i(I::End); // $exit
        self.finish_result();
        Ok(self.b)
    }

    /// Translates instructions `from..to`; returns where it stopped.
    fn region(&mut self, from: usize, to: usize) -> R<usize> {
        let mut at = from;
        while at < to {
            at = self.op(at, to)?;
        }
        Ok(at)
    }

    fn pop(&mut self, at: usize) -> R<T> {
        self.stack
            .pop()
            .ok_or_else(|| self.unsupported(at, "stack underflow"))
    }

    /// Branch to `$fail` if the last call recorded an error.
    fn check_err(&mut self) {
        self.b.all([I::GlobalGet(G_ERR), I::BrIf(self.depth)]);
    }

    /// Charges the run of instructions emitted since the last charge.
    fn charge_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        let cost: u64 = run.iter().sum();
        if cost == 0 {
            return;
        }
        let table = self.data.costs(&run);
        self.b.all([
            I::GlobalGet(G_LEFT),
            I::I64Const(cost as i64),
            I::I64LtS,
            I::If(BlockType::Empty),
            I::I32Const(table),
            I::I32Const(run.len() as i32),
            I::Call(self.idx.h(H::OogTable)),
            I::End,
        ]);
        self.take(cost);
    }

    fn take(&mut self, cost: u64) {
        self.b.all([
            I::GlobalGet(G_LEFT),
            I::I64Const(cost as i64),
            I::I64Sub,
            I::GlobalSet(G_LEFT),
            I::GlobalGet(G_PENDING),
            I::I64Const(cost as i64),
            I::I64Add,
            I::GlobalSet(G_PENDING),
        ]);
    }

    /// Charges one instruction on its own, before it runs.
    fn charge_one(&mut self, cost: u64) {
        self.charge_run();
        if cost == 0 {
            return;
        }
        self.b.all([
            I::GlobalGet(G_LEFT),
            I::I64Const(cost as i64),
            I::I64LtS,
            I::If(BlockType::Empty),
            I::I64Const(cost as i64),
            I::Call(self.idx.h(H::OogOne)),
            I::End,
        ]);
        self.take(cost);
    }

    /// A host call charges its own gas in the host: settle ours first,
    /// and afterwards count what it cost against what is left.
    fn before_host(&mut self) {
        self.charge_run();
        self.b.i(I::Call(self.idx.h(H::Flush)));
    }

    fn after_host(&mut self, cost: u64) {
        self.b.all([
            I::GlobalGet(G_LEFT),
            I::I64Const(cost as i64),
            I::I64Sub,
            I::GlobalSet(G_LEFT),
        ]);
    }

    /// After an import that returned `result<_, error>` in `RET`, its
    /// payload at `RET + at`.
    fn check_host_result(&mut self, at: i32) {
        self.b.all([
            I::I32Const(RET),
            I::I32Load8U(mem(0, 0)),
            I::If(BlockType::Empty),
            I::I32Const(at),
            I::Call(self.idx.h(H::HostErr)),
            I::Br(self.depth + 1),
            I::End,
        ]);
    }

    fn scratch(&mut self, t: ValType) -> u32 {
        self.b.local(t)
    }

    // -- coercions of the value on top of the wasm stack --

    fn coerce_num(&mut self, t: T, at: usize) -> R {
        match t {
            T::Num => {}
            T::Bool => {
                self.b.i(I::F64ConvertI32U);
            }
            T::Any => {
                self.b.i(I::Call(self.idx.h(H::AnyNum)));
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a number")),
        }
        Ok(())
    }

    fn coerce_bool(&mut self, t: T, at: usize) -> R {
        match t {
            T::Bool => {}
            T::Null => {
                self.b.all([I::Drop, I::I32Const(0)]);
            }
            T::Num => {
                self.b.all([I::F64Const(0.0.into()), I::F64Ne]);
            }
            T::Any => {
                self.b.i(I::Call(self.idx.h(H::AnyBool)));
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a bool")),
        }
        Ok(())
    }

    fn coerce_text(&mut self, t: T, expected: i32, at: usize) -> R {
        match t {
            T::Str | T::Did => {}
            T::Any => {
                self.b
                    .all([I::I32Const(expected), I::Call(self.idx.h(H::AnyText))]);
                self.check_err();
            }
            _ => return Err(self.unsupported(at, "operand is not a string")),
        }
        Ok(())
    }

    fn coerce_ptr(&mut self, t: T, want: T, at: usize) -> R {
        if t == want {
            return Ok(());
        }
        if t != T::Any {
            return Err(self.unsupported(at, "operand has the wrong type"));
        }
        let h = if want == T::Trust {
            H::AnyTv
        } else {
            H::AnyArr
        };
        self.b.i(I::Call(self.idx.h(h)));
        self.check_err();
        Ok(())
    }

    /// Boxes the value on top.
    fn box_top(&mut self, t: T) {
        let payload: Vec<I<'static>> = match t {
            T::Any => return,
            T::Null => vec![I::Drop, I::I64Const(0)],
            T::Bool | T::Trust | T::Arr => vec![I::I64ExtendI32U],
            T::Num => vec![I::I64ReinterpretF64],
            T::Str | T::Did => vec![],
        };
        let tmp = self.scratch(I64);
        self.b.all(payload);
        self.b.all([
            I::LocalSet(tmp),
            I::I32Const(t.tag()),
            I::LocalGet(tmp),
            I::Call(self.idx.h(H::Box)),
        ]);
    }

    /// Pops the top two values (b on top), coerces b then a with `f`
    /// (the VM's order), and leaves them a, b on the stack.
    fn two(
        &mut self,
        at: usize,
        mut f: impl FnMut(&mut Self, T, usize) -> R<ValType>,
    ) -> R<(T, T)> {
        let tb = self.pop(at)?;
        let ta = self.pop(at)?;
        let vb = f(self, tb, at)?;
        let keep = self.scratch(vb);
        self.b.i(I::LocalSet(keep));
        f(self, ta, at)?;
        self.b.i(I::LocalGet(keep));
        Ok((ta, tb))
    }

    fn num2(&mut self, at: usize) -> R {
        self.two(at, |g, t, at| {
            g.coerce_num(t, at)?;
            Ok(F64)
        })?;
        Ok(())
    }

    fn fallible(t: &[T]) -> bool {
        t.contains(&T::Any)
    }

    fn push_static(&mut self, v: &Value, at: usize) -> R<T> {
        Ok(match v {
            Value::Null => {
                self.b.i(I::I32Const(0));
                T::Null
            }
            Value::Bool(x) => {
                self.b.i(I::I32Const(i32::from(*x)));
                T::Bool
            }
            Value::Number(n) => {
                self.b.i(I::F64Const((*n).into()));
                T::Num
            }
            Value::String(s) => {
                let p = self.data.string(s);
                self.b.i(I::I64Const(p));
                T::Str
            }
            Value::Did(s) => {
                let p = self.data.string(s);
                self.b.i(I::I64Const(p));
                T::Did
            }
            _ => return Err(self.unsupported(at, "only scalar constants are compiled")),
        })
    }

    /// The run ends: `t` is the returned value on top of the stack.
    fn ret(&mut self, t: T) {
        let exit = self.depth + 1;
        match t {
            T::Bool => {
                self.b.all([
                    I::I32Eqz, // allow = 0, deny = 1
                    I::GlobalSet(G_OUTCOME),
                    I::Br(exit),
                ]);
            }
            T::Any => {
                let bx = self.scratch(I32);
                self.b.all([
                    I::LocalTee(bx),
                    I::I32Load(mem(0, 2)),
                    I::I32Const(T_BOOL),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                    I::LocalGet(bx),
                    I::I64Load(mem(8, 3)),
                    I::I64Eqz,
                    I::GlobalSet(G_OUTCOME),
                    I::Br(exit + 1),
                    I::End,
                    I::LocalGet(bx),
                    I::I64Load32U(mem(0, 2)),
                    I::GlobalSet(G_EA),
                    I::I32Const(outcome::NOT_BOOL),
                    I::GlobalSet(G_OUTCOME),
                    I::Br(exit),
                ]);
            }
            other => {
                self.b.all([
                    I::Drop,
                    I::I64Const(i64::from(other.tag())),
                    I::GlobalSet(G_EA),
                    I::I32Const(outcome::NOT_BOOL),
                    I::GlobalSet(G_OUTCOME),
                    I::Br(exit),
                ]);
            }
        }
    }

    fn deny_with(&mut self, reason: i64) {
        self.b.all([
            I::I64Const(reason),
            I::GlobalSet(G_REASON),
            I::I32Const(outcome::DENY_REASON),
            I::GlobalSet(G_OUTCOME),
            I::Br(self.depth + 1),
        ]);
    }

    fn record_err(&mut self, kind: i32) {
        self.b
            .all([I::I32Const(kind), I::GlobalSet(G_ERR), I::Br(self.depth)]);
    }

    /// Translates the instruction at `at` (and the region it opens);
    /// returns the next instruction to translate.
    fn op(&mut self, at: usize, region_end: usize) -> R<usize> {
        use OpCode as O;
        let op = &self.code[at];
        let (_, cost) = op.layer_cost();
        let plain = |g: &mut Self| g.run.push(cost);
        match op {
            O::PushConst(v) => {
                let t = self.push_static(v, at)?;
                self.stack.push(t);
                plain(self);
            }
            O::LoadCaller => {
                self.b.i(I::GlobalGet(G_CALLER));
                self.stack.push(T::Did);
                plain(self);
            }
            O::LoadRealm => {
                self.b.i(I::GlobalGet(G_REALM));
                self.stack.push(T::Str);
                plain(self);
            }
            O::LoadLocal(n) => {
                let (local, t) = *self
                    .slots
                    .get(n)
                    .ok_or_else(|| self.unsupported(at, "local read before it is set"))?;
                self.b.i(I::LocalGet(local));
                self.stack.push(t);
                plain(self);
            }
            O::StoreLocal(n) => {
                let t = self.pop(at)?;
                let local = match self.slots.get(n) {
                    Some((local, old)) if *old == t => *local,
                    Some(_) => return Err(self.unsupported(at, "a local changes type")),
                    None => {
                        let local = self.scratch(t.val());
                        self.slots.insert(*n, (local, t));
                        local
                    }
                };
                self.b.i(I::LocalSet(local));
                plain(self);
            }
            O::Add | O::Sub | O::Mul => {
                let any = self.stack.iter().rev().take(2).any(|t| *t == T::Any);
                if any {
                    self.charge_one(cost);
                }
                self.num2(at)?;
                self.b.i(match op {
                    O::Add => I::F64Add,
                    O::Sub => I::F64Sub,
                    _ => I::F64Mul,
                });
                self.stack.push(T::Num);
                if !any {
                    plain(self);
                }
            }
            O::Div | O::Mod => {
                self.charge_one(cost);
                self.num2(at)?;
                let (a, b) = (self.scratch(F64), self.scratch(F64));
                self.b.all([
                    I::LocalSet(b),
                    I::LocalSet(a),
                    I::LocalGet(b),
                    I::F64Const(0.0.into()),
                    I::F64Eq,
                    I::If(BlockType::Empty),
                ]);
                self.depth += 1;
                self.record_err(if matches!(op, O::Div) {
                    err::DIV_ZERO
                } else {
                    err::MOD_ZERO
                });
                self.depth -= 1;
                self.b.all([I::End, I::LocalGet(a), I::LocalGet(b)]);
                if matches!(op, O::Div) {
                    self.b.i(I::F64Div);
                } else {
                    self.b.all([I::Drop, I::Drop]);
                    self.fmod(a, b);
                }
                self.stack.push(T::Num);
            }
            O::Neg | O::MathAbs | O::MathFloor | O::MathCeil | O::MathRound => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_num(t, at)?;
                match op {
                    O::Neg => {
                        self.b.i(I::F64Neg);
                    }
                    O::MathAbs => {
                        self.b.i(I::F64Abs);
                    }
                    O::MathFloor => {
                        self.b.i(I::F64Floor);
                    }
                    O::MathCeil => {
                        self.b.i(I::F64Ceil);
                    }
                    _ => self.round(),
                }
                self.stack.push(T::Num);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::Min | O::Max => {
                let any = self.stack.iter().rev().take(2).any(|t| *t == T::Any);
                if any {
                    self.charge_one(cost);
                }
                self.num2(at)?;
                let (a, b) = (self.scratch(F64), self.scratch(F64));
                // Legacy: NaN in a, or b strictly better, gives b; else a.
                self.b.all([
                    I::LocalSet(b),
                    I::LocalSet(a),
                    I::LocalGet(b),
                    I::LocalGet(a),
                    I::LocalGet(a),
                    I::LocalGet(a),
                    I::F64Ne,
                    I::LocalGet(b),
                    I::LocalGet(a),
                    if matches!(op, O::Max) {
                        I::F64Gt
                    } else {
                        I::F64Lt
                    },
                    I::I32Or,
                    I::Select,
                ]);
                self.stack.push(T::Num);
                if !any {
                    plain(self);
                }
            }
            O::Eq | O::Neq => {
                self.equality(at)?;
                if matches!(op, O::Neq) {
                    self.b.i(I::I32Eqz);
                }
                self.stack.push(T::Bool);
                plain(self);
            }
            O::Gt | O::Gte | O::Lt | O::Lte => {
                let any = self.stack.iter().rev().take(2).any(|t| *t == T::Any);
                if any {
                    self.charge_one(cost);
                }
                self.num2(at)?;
                self.b.i(match op {
                    O::Gt => I::F64Gt,
                    O::Gte => I::F64Ge,
                    O::Lt => I::F64Lt,
                    _ => I::F64Le,
                });
                self.stack.push(T::Bool);
                if !any {
                    plain(self);
                }
            }
            O::Not | O::ToBool => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_bool(t, at)?;
                if matches!(op, O::Not) {
                    self.b.i(I::I32Eqz);
                }
                self.stack.push(T::Bool);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::JumpIfFalse(target) => return self.if_else(at, *target, region_end),
            O::AndThen(target) | O::OrElse(target) => {
                let target = *target;
                if target <= at || target > region_end {
                    return Err(self.unsupported(at, "a jump the ECL compiler does not emit"));
                }
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_bool(t, at)?;
                let and = matches!(op, O::AndThen(_));
                let saved = std::mem::take(&mut self.stack);
                self.b.i(I::If(BlockType::Result(I32)));
                self.depth += 1;
                if !and {
                    self.b.all([I::I32Const(1), I::Else]);
                }
                let end = self.region(at + 1, target)?;
                self.charge_run();
                let rhs = self.stack.pop();
                if end != target || rhs != Some(T::Bool) || !self.stack.is_empty() {
                    return Err(
                        self.unsupported(at, "a short circuit the ECL compiler does not emit")
                    );
                }
                if and {
                    self.b.all([I::Else, I::I32Const(0)]);
                }
                self.b.i(I::End);
                self.depth -= 1;
                self.stack = saved;
                self.stack.push(T::Bool);
                return Ok(target);
            }
            O::Return => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.ret(t);
            }
            O::Deny => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(t, E_STRING, at)?;
                self.b.all([
                    I::GlobalSet(G_REASON),
                    I::I32Const(outcome::DENY_REASON),
                    I::GlobalSet(G_OUTCOME),
                    I::Br(self.depth + 1),
                ]);
            }
            O::Assert => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_bool(t, at)?;
                self.b.i(I::I32Eqz);
                self.b.i(I::If(BlockType::Empty));
                self.depth += 1;
                let reason = self.data.string("Assertion failed");
                self.deny_with(reason);
                self.depth -= 1;
                self.b.i(I::End);
            }
            O::Require => {
                let tm = self.pop(at)?;
                let tc = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(tm, E_STRING, at)?;
                let msg = self.scratch(I64);
                self.b.i(I::LocalSet(msg));
                self.coerce_bool(tc, at)?;
                self.b.all([
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                    I::LocalGet(msg),
                    I::GlobalSet(G_REASON),
                    I::I32Const(outcome::DENY_REASON),
                    I::GlobalSet(G_OUTCOME),
                    I::Br(self.depth + 2),
                    I::End,
                ]);
            }
            O::TrustDim(d) => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_ptr(t, T::Trust, at)?;
                self.b.i(I::F64Load(mem(d.index() as u64 * 8, 3)));
                self.stack.push(T::Num);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::TrustNorm => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_ptr(t, T::Trust, at)?;
                let p = self.scratch(I32);
                self.b.all([I::LocalSet(p), I::F64Const((-0.0).into())]);
                for d in 0..6u64 {
                    self.b
                        .all([I::LocalGet(p), I::F64Load(mem(d * 8, 3)), I::F64Add]);
                }
                self.b.all([I::F64Const(6.0.into()), I::F64Div]);
                self.stack.push(T::Num);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::TrustCombine | O::TrustDistance => {
                let any = self.stack.iter().rev().take(2).any(|t| *t == T::Any);
                if any {
                    self.charge_one(cost);
                }
                self.two(at, |g, t, at| {
                    g.coerce_ptr(t, T::Trust, at)?;
                    Ok(I32)
                })?;
                let (a, b) = (self.scratch(I32), self.scratch(I32));
                self.b.all([I::LocalSet(b), I::LocalSet(a)]);
                if matches!(op, O::TrustCombine) {
                    let out = self.alloc_tv();
                    for d in 0..6u64 {
                        let m = mem(d * 8, 3);
                        self.b.all([
                            I::LocalGet(out),
                            I::F64Const(1.0.into()),
                            I::F64Const(1.0.into()),
                            I::LocalGet(a),
                            I::F64Load(m),
                            I::F64Sub,
                            I::F64Const(1.0.into()),
                            I::LocalGet(b),
                            I::F64Load(m),
                            I::F64Sub,
                            I::F64Mul,
                            I::F64Sub,
                            I::F64Store(m),
                        ]);
                    }
                    self.b.i(I::LocalGet(out));
                    self.stack.push(T::Trust);
                } else {
                    let diff = self.scratch(F64);
                    self.b.i(I::F64Const((-0.0).into()));
                    for d in 0..6u64 {
                        let m = mem(d * 8, 3);
                        self.b.all([
                            I::LocalGet(a),
                            I::F64Load(m),
                            I::LocalGet(b),
                            I::F64Load(m),
                            I::F64Sub,
                            I::LocalTee(diff),
                            I::LocalGet(diff),
                            I::F64Mul,
                            I::F64Add,
                        ]);
                    }
                    self.b.i(I::F64Sqrt);
                    self.stack.push(T::Num);
                }
                if !any {
                    plain(self);
                }
            }
            O::TrustCreate => {
                let mut types = Vec::new();
                for _ in 0..6 {
                    types.push(self.pop(at)?);
                }
                let any = Self::fallible(&types);
                if any {
                    self.charge_one(cost);
                }
                // ω is on top: coerce and store from the last dimension down.
                let vals: Vec<u32> = (0..6).map(|_| self.scratch(F64)).collect();
                for (k, t) in types.iter().enumerate() {
                    self.coerce_num(*t, at)?;
                    self.b.i(I::LocalSet(vals[5 - k]));
                }
                let out = self.alloc_tv();
                for (d, v) in vals.iter().enumerate() {
                    self.b.all([
                        I::LocalGet(out),
                        I::LocalGet(*v),
                        I::F64Store(mem(d as u64 * 8, 3)),
                    ]);
                }
                self.b.i(I::LocalGet(out));
                self.stack.push(T::Trust);
                if !any {
                    plain(self);
                }
            }
            O::TrustAboveThreshold => {
                let tt = self.pop(at)?;
                let tv = self.pop(at)?;
                let any = Self::fallible(&[tt, tv]);
                if any {
                    self.charge_one(cost);
                }
                self.coerce_num(tt, at)?;
                let th = self.scratch(F64);
                self.b.i(I::LocalSet(th));
                self.coerce_ptr(tv, T::Trust, at)?;
                let p = self.scratch(I32);
                self.b.all([I::LocalSet(p), I::I32Const(1)]);
                for d in 0..6u64 {
                    self.b.all([
                        I::LocalGet(p),
                        I::F64Load(mem(d * 8, 3)),
                        I::LocalGet(th),
                        I::F64Ge,
                        I::I32And,
                    ]);
                }
                self.stack.push(T::Bool);
                if !any {
                    plain(self);
                }
            }
            O::TrustWeightedAvg => {
                let tw = self.pop(at)?;
                let tv = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_ptr(tw, T::Arr, at)?;
                let w = self.scratch(I32);
                self.b.i(I::LocalSet(w));
                self.coerce_ptr(tv, T::Trust, at)?;
                let p = self.scratch(I32);
                self.b.i(I::LocalSet(p));
                self.weighted_avg(w, p);
                self.stack.push(T::Num);
            }
            O::LoadTrust => {
                let t = self.pop(at)?;
                self.coerce_text(t, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(I::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b
                    .all([I::I32Const(RET), I::Call(self.idx.imp(Imp::GetTrust))]);
                // The trust vector's f64s align the payload to 8.
                self.check_host_result(8);
                let out = self.alloc_tv();
                for d in 0..6u64 {
                    self.b.all([
                        I::LocalGet(out),
                        I::I32Const(RET),
                        I::F64Load(mem(8 + d * 8, 3)),
                        I::F64Store(mem(d * 8, 3)),
                    ]);
                }
                self.b.i(I::LocalGet(out));
                self.after_host(10);
                self.stack.push(T::Trust);
            }
            O::HasCredential => {
                let ts = self.pop(at)?;
                let td = self.pop(at)?;
                self.coerce_text(ts, E_STRING, at)?;
                let schema = self.scratch(I64);
                self.b.i(I::LocalSet(schema));
                self.coerce_text(td, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(I::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b.all(unpack(schema));
                self.b
                    .all([I::I32Const(RET), I::Call(self.idx.imp(Imp::HasCredential))]);
                self.check_host_result(4);
                self.b.all([I::I32Const(RET), I::I32Load8U(mem(4, 0))]);
                self.after_host(5);
                self.stack.push(T::Bool);
            }
            O::ResolveDid => {
                let t = self.pop(at)?;
                self.coerce_text(t, E_DID, at)?;
                let did = self.scratch(I64);
                self.b.i(I::LocalSet(did));
                self.before_host();
                self.b.all(unpack(did));
                self.b
                    .all([I::I32Const(RET), I::Call(self.idx.imp(Imp::ResolveDid))]);
                self.check_host_result(4);
                self.b.all([I::I32Const(RET), I::I32Load8U(mem(4, 0))]);
                self.after_host(5);
                self.stack.push(T::Bool);
            }
            O::GetBalance => {
                // Not a host call: the VM charges network gas and the host
                // keeps no balances, so the balance is 0.
                let t = self.pop(at)?;
                self.before_host();
                self.b.all([
                    I::I32Const(0), // network
                    I::I64Const(5),
                    I::Call(self.idx.imp(Imp::ConsumeGas)),
                ]);
                self.after_host(5);
                self.coerce_text(t, E_DID, at)?;
                self.b.all([I::Drop, I::F64Const(0.0.into())]);
                self.stack.push(T::Num);
            }
            O::GetTimestamp => {
                self.before_host();
                self.b
                    .all([I::Call(self.idx.imp(Imp::Timestamp)), I::F64ConvertI64U]);
                self.after_host(1);
                self.stack.push(T::Num);
            }
            O::TimeSince => {
                // 4 compute gas here; its timestamp call charges the last 1.
                let t = self.pop(at)?;
                self.charge_one(4);
                self.coerce_num(t, at)?;
                let ts = self.scratch(I64);
                let now = self.scratch(I64);
                self.b.all([I::I64TruncSatF64U, I::LocalSet(ts)]);
                self.before_host();
                self.b.all([
                    I::Call(self.idx.imp(Imp::Timestamp)),
                    I::LocalTee(now),
                    I::LocalGet(ts),
                    I::I64Sub,
                    I::I64Const(0),
                    I::LocalGet(now),
                    I::LocalGet(ts),
                    I::I64GtU,
                    I::Select,
                    I::F64ConvertI64U,
                ]);
                self.after_host(1);
                self.stack.push(T::Num);
            }
            O::Log => {
                let t = self.pop(at)?;
                self.coerce_text(t, E_STRING, at)?;
                let msg = self.scratch(I64);
                self.b.i(I::LocalSet(msg));
                self.before_host();
                self.b.i(I::I32Const(2)); // info
                self.b.all(unpack(msg));
                self.b.i(I::Call(self.idx.imp(Imp::Log)));
                self.after_host(2);
            }
            O::StoreGet | O::StoreDelete => {
                let tk = self.pop(at)?;
                let ts = self.pop(at)?;
                self.coerce_text(tk, E_STRING, at)?;
                let key = self.scratch(I64);
                self.b.i(I::LocalSet(key));
                self.coerce_text(ts, E_STRING, at)?;
                let store = self.scratch(I64);
                self.b.i(I::LocalSet(store));
                self.before_host();
                self.b.all(unpack(store));
                self.b.all(unpack(key));
                let get = matches!(op, O::StoreGet);
                let imp = if get { Imp::StoreGet } else { Imp::StoreDelete };
                self.b.all([I::I32Const(RET), I::Call(self.idx.imp(imp))]);
                self.check_host_result(4);
                if get {
                    // option<string>: tag at 4, string at 8 and 12.
                    self.b.all([
                        I::I32Const(RET),
                        I::I32Load8U(mem(4, 0)),
                        I::If(BlockType::Result(I32)),
                        I::I32Const(T_STRING),
                        I::I32Const(RET),
                        I::I64Load32U(mem(8, 2)),
                        I::I64Const(32),
                        I::I64Shl,
                        I::I32Const(RET),
                        I::I64Load32U(mem(12, 2)),
                        I::I64Or,
                        I::Call(self.idx.h(H::Box)),
                        I::Else,
                        I::I32Const(T_NULL),
                        I::I64Const(0),
                        I::Call(self.idx.h(H::Box)),
                        I::End,
                    ]);
                    self.stack.push(T::Any);
                } else {
                    self.b.all([I::I32Const(RET), I::I32Load8U(mem(4, 0))]);
                    self.stack.push(T::Bool);
                }
                self.after_host(5);
            }
            O::StorePut | O::EmitEvent => {
                let put = matches!(op, O::StorePut);
                let count = if put { 3 } else { 2 };
                let mut texts = Vec::new();
                for _ in 0..count {
                    let t = self.pop(at)?;
                    self.coerce_text(t, E_STRING, at)?;
                    let l = self.scratch(I64);
                    self.b.i(I::LocalSet(l));
                    texts.push(l);
                }
                texts.reverse();
                self.before_host();
                for l in &texts {
                    self.b.all(unpack(*l));
                }
                let imp = if put { Imp::StorePut } else { Imp::EmitEvent };
                self.b.all([I::I32Const(RET), I::Call(self.idx.imp(imp))]);
                self.check_host_result(4);
                if put {
                    // storage 10 + 1 per started KiB of the value.
                    let value = texts[2];
                    self.b.all([
                        I::GlobalGet(G_LEFT),
                        I::I64Const(10),
                        I::LocalGet(value),
                        I::I64Const(0xffff_ffff),
                        I::I64And,
                        I::I64Const(1023),
                        I::I64Add,
                        I::I64Const(10),
                        I::I64ShrU,
                        I::I64Add,
                        I::I64Sub,
                        I::GlobalSet(G_LEFT),
                    ]);
                } else {
                    self.after_host(10);
                }
            }
            O::Surprisal | O::MathSqrt => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_num(t, at)?;
                let x = self.scratch(F64);
                self.b.i(I::LocalTee(x));
                let surprisal = matches!(op, O::Surprisal);
                if surprisal {
                    self.b.all([
                        I::F64Const(0.0.into()),
                        I::F64Le,
                        I::LocalGet(x),
                        I::F64Const(1.0.into()),
                        I::F64Gt,
                        I::I32Or,
                    ]);
                } else {
                    self.b.all([I::F64Const(0.0.into()), I::F64Lt]);
                }
                self.b.all([
                    I::If(BlockType::Empty),
                    I::LocalGet(x),
                    I::I64ReinterpretF64,
                    I::GlobalSet(G_EA),
                ]);
                self.depth += 1;
                self.record_err(if surprisal { err::SURPRISAL } else { err::SQRT });
                self.depth -= 1;
                self.b.all([I::End, I::LocalGet(x)]);
                if surprisal {
                    self.b.all([I::Call(self.idx.imp(Imp::Log2)), I::F64Neg]);
                } else {
                    self.b.i(I::F64Sqrt);
                }
                self.stack.push(T::Num);
            }
            O::Clamp => {
                self.charge_one(cost);
                let (tmax, tmin, tv) = (self.pop(at)?, self.pop(at)?, self.pop(at)?);
                let (max, min, v) = (self.scratch(F64), self.scratch(F64), self.scratch(F64));
                for (t, l) in [(tmax, max), (tmin, min), (tv, v)] {
                    self.coerce_num(t, at)?;
                    self.b.i(I::LocalSet(l));
                }
                // !(min <= max), NaN included.
                self.b.all([
                    I::LocalGet(min),
                    I::LocalGet(max),
                    I::F64Le,
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                    I::LocalGet(min),
                    I::I64ReinterpretF64,
                    I::GlobalSet(G_EA),
                    I::LocalGet(max),
                    I::I64ReinterpretF64,
                    I::GlobalSet(G_EB),
                ]);
                self.depth += 1;
                self.record_err(err::CLAMP);
                self.depth -= 1;
                // Rust's clamp: below min becomes min, then above max becomes max.
                self.b.all([
                    I::End,
                    I::LocalGet(min),
                    I::LocalGet(v),
                    I::LocalGet(v),
                    I::LocalGet(min),
                    I::F64Lt,
                    I::Select,
                    I::LocalSet(v),
                    I::LocalGet(max),
                    I::LocalGet(v),
                    I::LocalGet(v),
                    I::LocalGet(max),
                    I::F64Gt,
                    I::Select,
                ]);
                self.stack.push(T::Num);
            }
            O::Lerp => {
                let types: Vec<T> = (0..3).map(|_| self.pop(at)).collect::<R<_>>()?;
                let any = Self::fallible(&types);
                if any {
                    self.charge_one(cost);
                }
                let (t, b, a) = (self.scratch(F64), self.scratch(F64), self.scratch(F64));
                for (ty, l) in types.iter().zip([t, b, a]) {
                    self.coerce_num(*ty, at)?;
                    self.b.i(I::LocalSet(l));
                }
                self.b.all([
                    I::LocalGet(a),
                    I::LocalGet(t),
                    I::LocalGet(b),
                    I::LocalGet(a),
                    I::F64Sub,
                    I::F64Mul,
                    I::F64Add,
                ]);
                self.stack.push(T::Num);
                if !any {
                    plain(self);
                }
            }
            O::StrLen => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_text(t, E_STRING, at)?;
                self.b.all([I::I32WrapI64, I::F64ConvertI32U]);
                self.stack.push(T::Num);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::StrContains | O::StrEqIgnoreCase => {
                let any = self.stack.iter().rev().take(2).any(|t| *t == T::Any);
                if any {
                    self.charge_one(cost);
                }
                self.two(at, |g, t, at| {
                    g.coerce_text(t, E_STRING, at)?;
                    Ok(I64)
                })?;
                if matches!(op, O::StrContains) {
                    self.b.i(I::Call(self.idx.h(H::StrContains)));
                } else {
                    let (x, y) = (self.scratch(I64), self.scratch(I64));
                    self.b.all([I::LocalSet(y), I::LocalSet(x)]);
                    self.b.all(unpack(x));
                    self.b.all(unpack(y));
                    self.b.i(I::Call(self.idx.imp(Imp::EqIgnoreCase)));
                }
                self.stack.push(T::Bool);
                if !any {
                    plain(self);
                }
            }
            O::Contains => {
                let ta = self.pop(at)?;
                let tv = self.pop(at)?;
                let any = ta == T::Any;
                if any {
                    self.charge_one(cost);
                }
                self.coerce_ptr(ta, T::Arr, at)?;
                let arr = self.scratch(I32);
                self.b.i(I::LocalSet(arr));
                self.box_top(tv);
                self.b
                    .all([I::LocalGet(arr), I::Call(self.idx.h(H::Contains))]);
                self.stack.push(T::Bool);
                if !any {
                    plain(self);
                }
            }
            O::ArrayLen => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_ptr(t, T::Arr, at)?;
                self.b.all([I::I32Load(mem(0, 2)), I::F64ConvertI32U]);
                self.stack.push(T::Num);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::ArrayGet => {
                let ti = self.pop(at)?;
                let ta = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_num(ti, at)?;
                let i = self.scratch(I64);
                self.b.all([I::I64TruncSatF64U, I::LocalSet(i)]);
                self.coerce_ptr(ta, T::Arr, at)?;
                let arr = self.scratch(I32);
                self.b.all([
                    I::LocalTee(arr),
                    I::I64Load32U(mem(0, 2)),
                    I::LocalGet(i),
                    I::I64LeU,
                    I::If(BlockType::Empty),
                    I::LocalGet(i),
                    I::GlobalSet(G_EA),
                    I::LocalGet(arr),
                    I::I64Load32U(mem(0, 2)),
                    I::GlobalSet(G_EB),
                ]);
                self.depth += 1;
                self.record_err(err::INDEX);
                self.depth -= 1;
                self.b.all([
                    I::End,
                    I::LocalGet(arr),
                    I::I32Const(8),
                    I::I32Add,
                    I::LocalGet(i),
                    I::I32WrapI64,
                    I::I32Const(16),
                    I::I32Mul,
                    I::I32Add,
                ]);
                self.stack.push(T::Any);
            }
            O::LoadParam => {
                let t = self.pop(at)?;
                if Self::fallible(&[t]) {
                    self.charge_one(cost);
                }
                self.coerce_text(t, E_STRING, at)?;
                self.b.i(I::Call(self.idx.h(H::Param)));
                self.stack.push(T::Any);
                if !Self::fallible(&[t]) {
                    plain(self);
                }
            }
            O::MakeArray(n) => {
                let n = *n as usize;
                let mut types = Vec::with_capacity(n);
                let mut boxes = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = self.pop(at)?;
                    self.box_top(t);
                    let l = self.scratch(I32);
                    self.b.i(I::LocalSet(l));
                    types.push(t);
                    boxes.push(l);
                }
                boxes.reverse();
                let arr = self.scratch(I32);
                self.b.all([
                    I::I32Const(8 + 16 * n as i32),
                    I::I32Const(8),
                    I::Call(self.idx.h(H::Alloc)),
                    I::LocalTee(arr),
                    I::I32Const(n as i32),
                    I::I32Store(mem(0, 2)),
                ]);
                for (k, bx) in boxes.iter().enumerate() {
                    let off = 8 + 16 * k as u64;
                    self.b.all([
                        I::LocalGet(arr),
                        I::LocalGet(*bx),
                        I::I32Load(mem(0, 2)),
                        I::I32Store(mem(off, 2)),
                        I::LocalGet(arr),
                        I::LocalGet(*bx),
                        I::I64Load(mem(8, 3)),
                        I::I64Store(mem(off + 8, 3)),
                    ]);
                }
                self.b.i(I::LocalGet(arr));
                self.stack.push(T::Arr);
                plain(self);
            }
            O::ToText => {
                let t = self.pop(at)?;
                if t == T::Any {
                    self.charge_one(cost);
                }
                self.text_value(t, at)?;
                self.stack.push(T::Str);
                if t != T::Any {
                    plain(self);
                }
            }
            O::ToNumber => {
                let t = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_text(t, E_STRING, at)?;
                let s = self.scratch(I64);
                self.b.i(I::LocalSet(s));
                self.b.all(unpack(s));
                self.b.all([
                    I::I32Const(RET),
                    I::Call(self.idx.imp(Imp::ParseNumber)),
                    I::I32Const(RET),
                    I::I32Load8U(mem(0, 0)),
                    I::I32Eqz,
                    I::If(BlockType::Empty),
                    I::LocalGet(s),
                    I::GlobalSet(G_EB),
                ]);
                self.depth += 1;
                self.record_err(err::NUM);
                self.depth -= 1;
                self.b
                    .all([I::End, I::I32Const(RET), I::F64Load(mem(8, 3))]);
                self.stack.push(T::Num);
            }
            O::Pop => {
                self.pop(at)?;
                self.b.i(I::Drop);
                plain(self);
            }
            _ => {
                return Err(
                    self.unsupported(at, "only the ECL compiler's instructions are compiled")
                );
            }
        }
        Ok(at + 1)
    }

    /// `a % b` (C's `fmod`) for `b != 0`: exactly, with integer division
    /// when both are integers below 2^63, else through the host's `fmod`.
    fn fmod(&mut self, a: u32, b: u32) {
        let small_int = |x: u32| {
            [
                I::LocalGet(x),
                I::F64Trunc,
                I::LocalGet(x),
                I::F64Eq,
                I::LocalGet(x),
                I::F64Abs,
                I::F64Const(TWO_TO_63.into()),
                I::F64Lt,
                I::I32And,
            ]
        };
        self.b.all(small_int(a));
        self.b.all(small_int(b));
        self.b.all([
            I::I32And,
            I::If(BlockType::Result(F64)),
            I::LocalGet(a),
            I::I64TruncF64S,
            I::LocalGet(b),
            I::I64TruncF64S,
            I::I64RemS,
            I::F64ConvertI64S,
            // The remainder has the sign of `a`, zero included.
            I::LocalGet(a),
            I::F64Copysign,
            I::Else,
            I::LocalGet(a),
            I::LocalGet(b),
            I::Call(self.idx.imp(Imp::Fmod)),
            I::End,
        ]);
    }

    /// Rust's `f64::round`: half away from zero.
    fn round(&mut self) {
        let (x, t) = (self.scratch(F64), self.scratch(F64));
        // select(t ± 1, t, |x - t| >= 0.5)
        self.b.all([
            I::LocalTee(x),
            I::F64Trunc,
            I::LocalSet(t),
            I::LocalGet(t),
            I::F64Const(1.0.into()),
            I::LocalGet(x),
            I::F64Copysign,
            I::F64Add,
            I::LocalGet(t),
            I::LocalGet(x),
            I::LocalGet(t),
            I::F64Sub,
            I::F64Abs,
            I::F64Const(0.5.into()),
            I::F64Ge,
            I::Select,
        ]);
    }

    fn alloc_tv(&mut self) -> u32 {
        let out = self.scratch(I32);
        self.b.all([
            I::I32Const(48),
            I::I32Const(8),
            I::Call(self.idx.h(H::Alloc)),
            I::LocalSet(out),
        ]);
        out
    }

    /// `TrustWeightedAvg` over the array in `w` and the vector in `p`.
    fn weighted_avg(&mut self, w: u32, p: u32) {
        let (total, sum, k) = (self.scratch(F64), self.scratch(F64), self.scratch(I32));
        // Six weights, all numbers.
        self.b.all([
            I::LocalGet(w),
            I::I32Load(mem(0, 2)),
            I::I32Const(6),
            I::I32Ne,
            I::If(BlockType::Empty),
            I::LocalGet(w),
            I::I64Load32U(mem(0, 2)),
            I::GlobalSet(G_EA),
        ]);
        self.depth += 1;
        self.record_err(err::WEIGHTS);
        self.depth -= 1;
        self.b.i(I::End);
        self.b.all([
            I::F64Const((-0.0).into()),
            I::LocalSet(total),
            I::F64Const((-0.0).into()),
            I::LocalSet(sum),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(k),
            I::I32Const(6),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(w),
            I::LocalGet(k),
            I::I32Const(16),
            I::I32Mul,
            I::I32Add,
            I::I32Load(mem(8, 2)),
            I::I32Const(T_NUMBER),
            I::I32Ne,
            I::If(BlockType::Empty),
        ]);
        self.depth += 3;
        self.record_err(err::WEIGHT);
        self.depth -= 3;
        self.b.all([
            I::End,
            I::LocalGet(total),
            I::LocalGet(w),
            I::LocalGet(k),
            I::I32Const(16),
            I::I32Mul,
            I::I32Add,
            I::F64Load(mem(16, 3)),
            I::F64Add,
            I::LocalSet(total),
            I::LocalGet(k),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(k),
            I::Br(0),
            I::End,
            I::End,
            I::I32Const(0),
            I::LocalSet(k),
            I::Block(BlockType::Empty),
            I::Loop(BlockType::Empty),
            I::LocalGet(k),
            I::I32Const(6),
            I::I32GeU,
            I::BrIf(1),
            I::LocalGet(sum),
            I::LocalGet(p),
            I::LocalGet(k),
            I::I32Const(8),
            I::I32Mul,
            I::I32Add,
            I::F64Load(mem(0, 3)),
            I::LocalGet(w),
            I::LocalGet(k),
            I::I32Const(16),
            I::I32Mul,
            I::I32Add,
            I::F64Load(mem(16, 3)),
            I::F64Mul,
            I::F64Add,
            I::LocalSet(sum),
            I::LocalGet(k),
            I::I32Const(1),
            I::I32Add,
            I::LocalSet(k),
            I::Br(0),
            I::End,
            I::End,
            I::F64Const(0.0.into()),
            I::LocalGet(sum),
            I::LocalGet(total),
            I::F64Div,
            I::LocalGet(total),
            I::F64Const(0.0.into()),
            I::F64Le,
            I::Select,
        ]);
        // `select(a, b, c)` is `c ? a : b`: 0.0 when the total is <= 0.
    }

    /// `str(x)` for a value of static type `t`.
    fn text_value(&mut self, t: T, at: usize) -> R {
        match t {
            T::Str | T::Did => {}
            T::Num => {
                self.b.all([
                    I::I32Const(RET),
                    I::Call(self.idx.imp(Imp::FormatNumber)),
                    I::I32Const(RET),
                    I::I64Load32U(mem(0, 2)),
                    I::I64Const(32),
                    I::I64Shl,
                    I::I32Const(RET),
                    I::I64Load32U(mem(4, 2)),
                    I::I64Or,
                ]);
            }
            T::Bool => {
                let (yes, no) = (self.data.string("true"), self.data.string("false"));
                self.b.all([
                    I::If(BlockType::Result(I64)),
                    I::I64Const(yes),
                    I::Else,
                    I::I64Const(no),
                    I::End,
                ]);
            }
            T::Null => {
                let null = self.data.string("null");
                self.b.all([I::Drop, I::I64Const(null)]);
            }
            T::Any => {
                // By tag: strings and DIDs as they are, numbers formatted,
                // bools and null spelled, trust vectors and arrays refused.
                let bx = self.scratch(I32);
                let tag = self.scratch(I32);
                let out = self.scratch(I64);
                let (yes, no, null) = (
                    self.data.string("true"),
                    self.data.string("false"),
                    self.data.string("null"),
                );
                self.b.all([
                    I::LocalTee(bx),
                    I::I32Load(mem(0, 2)),
                    I::LocalSet(tag),
                    I::I64Const(null),
                    I::LocalSet(out),
                    I::LocalGet(tag),
                    I::I32Const(T_STRING),
                    I::I32Eq,
                    I::LocalGet(tag),
                    I::I32Const(T_DID),
                    I::I32Eq,
                    I::I32Or,
                    I::If(BlockType::Empty),
                    I::LocalGet(bx),
                    I::I64Load(mem(8, 3)),
                    I::LocalSet(out),
                    I::End,
                    I::LocalGet(tag),
                    I::I32Const(T_BOOL),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                    I::I64Const(yes),
                    I::I64Const(no),
                    I::LocalGet(bx),
                    I::I64Load(mem(8, 3)),
                    I::I32WrapI64,
                    I::Select,
                    I::LocalSet(out),
                    I::End,
                    I::LocalGet(tag),
                    I::I32Const(T_NUMBER),
                    I::I32Eq,
                    I::If(BlockType::Empty),
                    I::LocalGet(bx),
                    I::F64Load(mem(8, 3)),
                    I::I32Const(RET),
                    I::Call(self.idx.imp(Imp::FormatNumber)),
                    I::I32Const(RET),
                    I::I64Load32U(mem(0, 2)),
                    I::I64Const(32),
                    I::I64Shl,
                    I::I32Const(RET),
                    I::I64Load32U(mem(4, 2)),
                    I::I64Or,
                    I::LocalSet(out),
                    I::End,
                    I::LocalGet(tag),
                    I::I32Const(T_TRUST),
                    I::I32GeU,
                    I::If(BlockType::Empty),
                    I::LocalGet(tag),
                    I::I64ExtendI32U,
                    I::GlobalSet(G_EA),
                ]);
                self.depth += 1;
                self.record_err(err::STR);
                self.depth -= 1;
                self.b.all([I::End, I::LocalGet(out)]);
            }
            _ => return Err(self.unsupported(at, "str() of a trust vector or an array")),
        }
        Ok(())
    }

    /// `==` on the top two values (any types); leaves a bool.
    fn equality(&mut self, at: usize) -> R {
        let tb = self.pop(at)?;
        let ta = self.pop(at)?;
        use T::*;
        match (ta, tb) {
            (Num, Num) => {
                self.b.i(I::F64Eq);
            }
            (Bool, Bool) => {
                self.b.i(I::I32Eq);
            }
            (Null, Null) => {
                self.b.all([I::Drop, I::Drop, I::I32Const(1)]);
            }
            (Str, Str) | (Did, Did) => {
                self.b.i(I::Call(self.idx.h(H::StrEq)));
            }
            (Trust, Trust) => {
                self.b.i(I::Call(self.idx.h(H::TvEq)));
            }
            (a, b) if a == Any || b == Any || (a == Arr && b == Arr) => {
                let keep = self.scratch(I32);
                self.box_top(b);
                self.b.i(I::LocalSet(keep));
                self.box_top(a);
                self.b
                    .all([I::LocalGet(keep), I::Call(self.idx.h(H::AnyEq))]);
            }
            _ => {
                // Different kinds are never equal.
                self.b.all([I::Drop, I::Drop, I::I32Const(0)]);
            }
        }
        Ok(())
    }

    /// `if` from `JumpIfFalse(target)` at `at`, with an `else` when the
    /// instruction before `target` is the `Jump` over it.
    fn if_else(&mut self, at: usize, target: usize, region_end: usize) -> R<usize> {
        if target <= at || target > region_end {
            return Err(self.unsupported(at, "a jump the ECL compiler does not emit"));
        }
        let t = self.pop(at)?;
        self.charge_one(2);
        self.coerce_bool(t, at)?;
        let else_end = match self.code.get(target - 1) {
            Some(OpCode::Jump(end)) if target - 1 > at && *end >= target && *end <= region_end => {
                Some(*end)
            }
            _ => None,
        };
        let saved = std::mem::take(&mut self.stack);
        self.b.i(I::If(BlockType::Empty));
        self.depth += 1;
        let then_end = if else_end.is_some() {
            target - 1
        } else {
            target
        };
        let stop = self.region(at + 1, then_end)?;
        if stop != then_end || !self.stack.is_empty() {
            return Err(self.unsupported(at, "a branch that leaves values on the stack"));
        }
        let next = match else_end {
            Some(end) => {
                self.charge_one(1); // the Jump over the else branch
                self.b.i(I::Else);
                let stop = self.region(target, end)?;
                self.charge_run();
                if stop != end || !self.stack.is_empty() {
                    return Err(self.unsupported(at, "a branch that leaves values on the stack"));
                }
                end
            }
            None => {
                self.charge_run();
                target
            }
        };
        self.b.i(I::End);
        self.depth -= 1;
        self.stack = saved;
        Ok(next)
    }

    /// Flushes the gas and writes the `evaluate` result record.
    fn finish_result(&mut self) {
        let idx = self.idx;
        self.b.i(I::Call(idx.h(H::Flush)));
        let store_result = |b: &mut Body, disc: i32, a: i32| {
            b.all([
                I::I32Const(RES),
                I::I32Const(disc),
                I::I32Store8(mem(0, 0)),
                I::I32Const(RES),
                I::I32Const(a),
                I::I32Store8(mem(4, 0)),
                I::I32Const(RES),
                I::I32Const(0),
                I::I32Store8(mem(8, 0)),
            ]);
        };
        let reason_at = |b: &mut Body, off: u64, global: u32| {
            b.all([
                I::I32Const(RES),
                I::GlobalGet(global),
                I::I64Const(32),
                I::I64ShrU,
                I::I64Store32(mem(off, 2)),
                I::I32Const(RES),
                I::GlobalGet(global),
                I::I64Store32(mem(off + 4, 2)),
            ]);
        };
        // allow / deny
        self.b.all([
            I::GlobalGet(G_OUTCOME),
            I::I32Const(outcome::DENY),
            I::I32LeU,
            I::If(BlockType::Empty),
        ]);
        store_result(&mut self.b, 0, 0);
        self.b.all([
            I::I32Const(RES),
            I::GlobalGet(G_OUTCOME),
            I::I32Store8(mem(4, 0)),
            I::I32Const(RES),
            I::Return,
            I::End,
        ]);
        // deny with a reason
        self.b.all([
            I::GlobalGet(G_OUTCOME),
            I::I32Const(outcome::DENY_REASON),
            I::I32Eq,
            I::If(BlockType::Empty),
        ]);
        store_result(&mut self.b, 0, 1);
        self.b
            .all([I::I32Const(RES), I::I32Const(1), I::I32Store8(mem(8, 0))]);
        reason_at(&mut self.b, 12, G_REASON);
        self.b.all([I::I32Const(RES), I::Return, I::End]);
        // an error: code 3 (internal) unless the host gave one.
        self.error_message();
        self.b.i(I::GlobalSet(G_REASON));
        store_result(&mut self.b, 1, 3);
        self.b.all([
            I::GlobalGet(G_ERR),
            I::I32Const(err::HOST),
            I::I32Eq,
            I::If(BlockType::Empty),
            I::I32Const(RES),
            I::GlobalGet(G_EA),
            I::I32WrapI64,
            I::I32Store8(mem(4, 0)),
            I::End,
        ]);
        reason_at(&mut self.b, 8, G_REASON);
        self.b.i(I::I32Const(RES));
    }

    /// Pushes the message of the recorded error (or of a non-bool return)
    /// as a packed string: the VM's texts.
    fn error_message(&mut self) {
        let idx = self.idx;
        let s = |g: &mut Self, text: &str| I::I64Const(g.data.string(text));
        let name = |table: i32, global: u32| {
            [
                I::I32Const(table),
                I::GlobalGet(global),
                I::I32WrapI64,
                I::I32Const(8),
                I::I32Mul,
                I::I32Add,
                I::I64Load(mem(0, 3)),
            ]
        };
        let concat = I::Call(idx.h(H::Concat));
        let fmt_f = |g: &mut Self, global: u32| {
            let has_fmt = g.idx.imports.contains_key(&Imp::FormatNumber);
            if !has_fmt {
                return vec![I::I64Const(g.data.string("?"))];
            }
            vec![
                I::GlobalGet(global),
                I::F64ReinterpretI64,
                I::I32Const(RET),
                I::Call(g.idx.imp(Imp::FormatNumber)),
                I::I32Const(RET),
                I::I64Load32U(mem(0, 2)),
                I::I64Const(32),
                I::I64Shl,
                I::I32Const(RET),
                I::I64Load32U(mem(4, 2)),
                I::I64Or,
            ]
        };
        let fmt_u = |global: u32| [I::GlobalGet(global), I::Call(idx.h(H::FmtU64))];
        // One block per kind, each leaving its message in a local.
        let out = self.scratch(I64);
        let unknown = s(self, "error");
        self.b.all([unknown, I::LocalSet(out)]);
        let case = |g: &mut Self, kind: i32, parts: Vec<I<'static>>| {
            g.b.all([
                I::GlobalGet(G_ERR),
                I::I32Const(kind),
                I::I32Eq,
                I::If(BlockType::Empty),
            ]);
            g.b.all(parts);
            g.b.all([I::LocalSet(out), I::End]);
        };
        let tn = self.tables.type_names;
        let ex = self.tables.expected;
        let mut parts = vec![s(self, "Expected ")];
        parts.extend(name(ex, G_EA));
        parts.push(concat.clone());
        parts.push(s(self, ", got "));
        parts.push(concat.clone());
        parts.extend(name(tn, G_EB));
        parts.push(concat.clone());
        case(self, err::TYPE, parts);
        let p = vec![s(self, "Division by zero")];
        case(self, err::DIV_ZERO, p);
        let p = vec![s(self, "Modulo by zero")];
        case(self, err::MOD_ZERO, p);
        let mut p = vec![s(self, "Surprisal requires probability in (0, 1], got ")];
        p.extend(fmt_f(self, G_EA));
        p.push(concat.clone());
        case(self, err::SURPRISAL, p);
        let mut p = vec![s(self, "sqrt requires non-negative number, got ")];
        p.extend(fmt_f(self, G_EA));
        p.push(concat.clone());
        case(self, err::SQRT, p);
        let mut p = vec![s(self, "clamp requires min <= max, got min ")];
        p.extend(fmt_f(self, G_EA));
        p.push(concat.clone());
        p.push(s(self, " and max "));
        p.push(concat.clone());
        p.extend(fmt_f(self, G_EB));
        p.push(concat.clone());
        case(self, err::CLAMP, p);
        let mut p = vec![s(self, "Array index ")];
        p.extend(fmt_u(G_EA));
        p.push(concat.clone());
        p.push(s(self, " out of bounds (len: "));
        p.push(concat.clone());
        p.extend(fmt_u(G_EB));
        p.push(concat.clone());
        p.push(s(self, ")"));
        p.push(concat.clone());
        case(self, err::INDEX, p);
        let mut p = vec![s(self, "TrustWeightedAvg requires 6 weights, got ")];
        p.extend(fmt_u(G_EA));
        p.push(concat.clone());
        case(self, err::WEIGHTS, p);
        let p = vec![s(self, "Weight must be a number")];
        case(self, err::WEIGHT, p);
        let p = vec![
            s(self, "not a number: "),
            I::GlobalGet(G_EB),
            concat.clone(),
        ];
        case(self, err::NUM, p);
        let mut p = vec![s(
            self,
            "str() takes a number, bool, null, string or DID, got ",
        )];
        p.extend(name(tn, G_EA));
        p.push(concat.clone());
        case(self, err::STR, p);
        let p = vec![I::GlobalGet(G_EB)];
        case(self, err::HOST, p);
        // A return value that is not a bool.
        self.b.all([
            I::GlobalGet(G_OUTCOME),
            I::I32Const(outcome::NOT_BOOL),
            I::I32Eq,
            I::If(BlockType::Empty),
            I::I32Const(0),
            I::GlobalSet(G_ERR),
        ]);
        let mut p = vec![s(self, "policy returned ")];
        p.extend(name(tn, G_EA));
        p.push(concat.clone());
        p.push(s(self, ", not a bool"));
        p.push(concat);
        self.b.all(p);
        self.b.all([I::LocalSet(out), I::End, I::LocalGet(out)]);
    }
}

#[cfg(test)]
mod tests {
    use wasmparser::{Instance, Parser, Payload};

    /// The component's imports, and how many core instances it creates by
    /// instantiating a module (export bags cost nothing at run time).
    fn shape(src: &str) -> (Vec<String>, usize) {
        let program = crate::compile(src, None).expect("checks");
        let wasm = super::compile(&program).expect("compiles");
        let (mut imports, mut instantiated) = (Vec::new(), 0);
        for payload in Parser::new(0).parse_all(&wasm) {
            match payload.expect("valid") {
                Payload::ComponentImportSection(s) => {
                    // Skips the imports of the nested component that
                    // re-exports `policy` with its types.
                    for import in s {
                        let name = import.expect("import").name.name;
                        if name.starts_with("erynoa:") {
                            imports.push(name.to_owned());
                        }
                    }
                }
                Payload::InstanceSection(s) => {
                    for instance in s {
                        if matches!(instance.expect("instance"), Instance::Instantiate { .. }) {
                            instantiated += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        (imports, instantiated)
    }

    #[test]
    fn imports_only_the_interfaces_the_policy_uses() {
        let (imports, _) = shape(r#"policy "p" { allow }"#);
        assert_eq!(
            imports,
            ["erynoa:ecl/types@0.1.0", "erynoa:ecl/budget@0.1.0"]
        );
        let (imports, _) = shape(r#"policy "p" { require caller.trust.R >= 0.5 }"#);
        assert!(
            imports.contains(&"erynoa:ecl/trust@0.1.0".to_owned()),
            "{imports:?}"
        );
        assert!(!imports.iter().any(|i| i.contains("state")), "{imports:?}");
    }

    /// A fresh instance costs wasmtime per core instance (docs/benchmarks.md),
    /// and wit-component adds a shim and a fixup instance for any import that
    /// needs the guest's memory. A policy that only meters itself needs none.
    #[test]
    fn a_policy_without_host_calls_is_one_core_instance() {
        assert_eq!(
            shape(r#"policy "p" { let x = 2 * 21 require x == 42 }"#).1,
            1
        );
        // A host call that passes a string does need the shim.
        assert_eq!(
            shape(r#"policy "p" { require caller.trust.R >= 0.5 }"#).1,
            3
        );
    }
}
