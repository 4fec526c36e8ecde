//! Assembling the core module: the imports a program needs, the runtime
//! helpers, `metadata` and `evaluate`, the memory, globals and data.

use std::collections::BTreeMap;

use wasm_encoder::ValType::{self, I32};
use wasm_encoder::{
    CodeSection, ConstExpr, DataSection, EntityType, ExportKind, ExportSection, FunctionSection,
    GlobalSection, GlobalType, ImportSection, Instruction as Ins, MemorySection, MemoryType,
    Module, TypeSection,
};

use super::emit::*;
use super::imports::HostImport;
use super::layout::*;
use super::runtime::*;
use super::translate::Translator;
use super::{Compiled, ComponentError};
use crate::compile::Program;

/// The hand-written functions every module carries (`runtime`), and the
/// two exports; in this order, at [`Index::helper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Helper {
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
    ChargeGas,
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
    StrCmp,
    Metadata,
    Evaluate,
}

pub(crate) const HELPERS: [Helper; 25] = [
    Helper::Alloc,
    Helper::Realloc,
    Helper::StrEq,
    Helper::StrContains,
    Helper::TvEq,
    Helper::AnyEq,
    Helper::Box,
    Helper::Flush,
    Helper::OogOne,
    Helper::OogTable,
    Helper::ChargeGas,
    Helper::FailType,
    Helper::AnyNum,
    Helper::AnyBool,
    Helper::AnyText,
    Helper::AnyTv,
    Helper::AnyArr,
    Helper::Param,
    Helper::FmtU64,
    Helper::Concat,
    Helper::HostErr,
    Helper::Contains,
    Helper::StrCmp,
    Helper::Metadata,
    Helper::Evaluate,
];

/// Where the imports and helpers are in the module's function index space.
pub(crate) struct Index {
    imports: BTreeMap<HostImport, u32>,
    /// Every helper is in every module, in the order of [`HELPERS`].
    first_helper: u32,
}

impl Index {
    /// The function index of `import`. Only the imports the program's
    /// instructions need are in the module: asking for another is a bug in
    /// this compiler, reported as an error rather than a bad index.
    pub(crate) fn import(&self, import: HostImport) -> Compiled<u32> {
        self.imports.get(&import).copied().ok_or_else(|| {
            ComponentError::Encode(format!(
                "the translation calls `{import:?}`, which no instruction declared it needs"
            ))
        })
    }

    /// Whether the module imports `import`.
    pub(crate) fn has(&self, import: HostImport) -> bool {
        self.imports.contains_key(&import)
    }

    /// The function index of `helper`.
    pub(crate) fn helper(&self, helper: Helper) -> u32 {
        self.first_helper + helper as u32
    }
}

pub(crate) fn core_module(program: &Program) -> Result<Vec<u8>, ComponentError> {
    let mut needed: Vec<HostImport> = vec![HostImport::GasLeft, HostImport::ConsumeGas];
    for op in &program.code {
        needed.extend_from_slice(HostImport::needed_by(op));
    }
    needed.sort();
    needed.dedup();
    let imports: BTreeMap<HostImport, u32> = needed
        .iter()
        .enumerate()
        .map(|(i, imp)| (*imp, i as u32))
        .collect();
    let idx = Index {
        imports,
        first_helper: needed.len() as u32,
    };
    let mut data = Data::default();
    let tables = Tables {
        type_names: data.string_table(&TYPE_NAMES),
        expected: data.string_table(&EXPECTED),
    };

    let mut bodies: Vec<FunctionBody> = Vec::new();
    for h in HELPERS {
        bodies.push(match h {
            Helper::Alloc => alloc(),
            Helper::Realloc => realloc(&idx),
            Helper::StrEq => str_eq(),
            Helper::StrContains => str_contains(&idx),
            Helper::TvEq => tv_eq(),
            Helper::AnyEq => any_eq(&idx),
            Helper::Box => boxed(&idx),
            Helper::Flush => flush(&idx)?,
            Helper::OogOne => oog_one(&idx)?,
            Helper::OogTable => oog_table(&idx),
            Helper::ChargeGas => charge_gas(&idx),
            Helper::FailType => fail_type(),
            Helper::AnyNum => any_num(&idx),
            Helper::AnyBool => any_bool(&idx),
            Helper::AnyText => any_text(&idx),
            Helper::AnyTv => any_ptr(&idx, T_TRUST, E_TRUST),
            Helper::AnyArr => any_ptr(&idx, T_ARRAY, E_ARRAY),
            Helper::Param => param(&idx),
            Helper::FmtU64 => fmt_u64(&idx),
            Helper::Concat => concat(&idx),
            Helper::HostErr => host_err(),
            Helper::Contains => array_contains(&idx),
            Helper::StrCmp => str_cmp(),
            Helper::Metadata => metadata(&mut data, &program.name),
            Helper::Evaluate => Translator::new(program, &idx, &mut data, &tables).evaluate()?,
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
        ValType::I64, // error at
    ] {
        let init = match t {
            ValType::I64 => ConstExpr::i64_const(0),
            _ => ConstExpr::i32_const(0),
        };
        globals.global(g(t), &init);
    }
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export(
        "cabi_realloc",
        ExportKind::Func,
        idx.helper(Helper::Realloc),
    );
    exports.export(
        "erynoa:ecl/policy@0.1.0#metadata",
        ExportKind::Func,
        idx.helper(Helper::Metadata),
    );
    exports.export(
        "erynoa:ecl/policy@0.1.0#evaluate",
        ExportKind::Func,
        idx.helper(Helper::Evaluate),
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

pub(crate) struct Tables {
    pub(crate) type_names: i32,
    pub(crate) expected: i32,
}

/// `metadata() -> policy-info`: the policy's name and `ecl-1.0`.
pub(crate) fn metadata(data: &mut Data, name: &str) -> FunctionBody {
    let mut b = FunctionBody::new(&[], &[I32]);
    let n = data.string(name);
    let v = data.string("ecl-1.0");
    for (i, s) in [n, v].into_iter().enumerate() {
        let off = (i * 8) as u64;
        b.all([
            Ins::I32Const(META),
            Ins::I32Const((s >> 32) as i32),
            Ins::I32Store(mem(off, 2)),
            Ins::I32Const(META),
            Ins::I32Const(s as i32),
            Ins::I32Store(mem(off + 4, 2)),
        ]);
    }
    b.i(Ins::I32Const(META));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Index::helper` finds a helper by its discriminant.
    #[test]
    fn helpers_are_listed_in_declaration_order() {
        for (i, helper) in HELPERS.iter().enumerate() {
            assert_eq!(*helper as usize, i, "{helper:?}");
        }
    }
}
