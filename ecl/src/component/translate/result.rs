//! Writing the `evaluate` result: the decision, or the error with the
//! VM's message.

use wasm_encoder::ValType::I64;
use wasm_encoder::{BlockType, Instruction as Ins};

use super::Translator;
use crate::component::Compiled;
use crate::component::emit::*;
use crate::component::imports::HostImport;
use crate::component::layout::*;
use crate::component::module::Helper;
use crate::vm::message;

impl Translator<'_> {
    /// Flushes the gas and writes the `evaluate` result record.
    pub(super) fn finish_result(&mut self) -> Compiled {
        let idx = self.idx;
        self.b.i(Ins::Call(idx.helper(Helper::Flush)));
        let store_result = |b: &mut FunctionBody, disc: i32, a: i32| {
            b.all([
                Ins::I32Const(RES),
                Ins::I32Const(disc),
                Ins::I32Store8(mem(0, 0)),
                Ins::I32Const(RES),
                Ins::I32Const(a),
                Ins::I32Store8(mem(4, 0)),
                Ins::I32Const(RES),
                Ins::I32Const(0),
                Ins::I32Store8(mem(8, 0)),
            ]);
        };
        let reason_at = |b: &mut FunctionBody, off: u64, global: u32| {
            b.all([
                Ins::I32Const(RES),
                Ins::GlobalGet(global),
                Ins::I64Const(32),
                Ins::I64ShrU,
                Ins::I64Store32(mem(off, 2)),
                Ins::I32Const(RES),
                Ins::GlobalGet(global),
                Ins::I64Store32(mem(off + 4, 2)),
            ]);
        };
        // allow / deny
        self.b.all([
            Ins::GlobalGet(global::OUTCOME),
            Ins::I32Const(outcome::DENY),
            Ins::I32LeU,
            Ins::If(BlockType::Empty),
        ]);
        store_result(&mut self.b, 0, 0);
        self.b.all([
            Ins::I32Const(RES),
            Ins::GlobalGet(global::OUTCOME),
            Ins::I32Store8(mem(4, 0)),
            Ins::I32Const(RES),
            Ins::Return,
            Ins::End,
        ]);
        // deny with a reason
        self.b.all([
            Ins::GlobalGet(global::OUTCOME),
            Ins::I32Const(outcome::DENY_REASON),
            Ins::I32Eq,
            Ins::If(BlockType::Empty),
        ]);
        store_result(&mut self.b, 0, 1);
        self.b.all([
            Ins::I32Const(RES),
            Ins::I32Const(1),
            Ins::I32Store8(mem(8, 0)),
        ]);
        reason_at(&mut self.b, 12, global::REASON);
        self.b.all([Ins::I32Const(RES), Ins::Return, Ins::End]);
        // an error: code 3 (internal) unless the host gave one.
        self.error_message()?;
        self.b.i(Ins::GlobalSet(global::REASON));
        store_result(&mut self.b, 1, 3);
        self.b.all([
            Ins::GlobalGet(global::ERROR),
            Ins::I32Const(err::HOST),
            Ins::I32Eq,
            Ins::If(BlockType::Empty),
            Ins::I32Const(RES),
            Ins::GlobalGet(global::ERROR_A),
            Ins::I32WrapI64,
            Ins::I32Store8(mem(4, 0)),
            Ins::End,
        ]);
        reason_at(&mut self.b, 8, global::REASON);
        self.b.i(Ins::I32Const(RES));
        Ok(())
    }

    /// Pushes the message of the recorded error (or of a non-bool return)
    /// as a packed string: the VM's texts.
    pub(super) fn error_message(&mut self) -> Compiled {
        let idx = self.idx;
        let s = |g: &mut Self, text: &str| Ins::I64Const(g.data.string(text));
        let name = |table: i32, global: u32| {
            [
                Ins::I32Const(table),
                Ins::GlobalGet(global),
                Ins::I32WrapI64,
                Ins::I32Const(8),
                Ins::I32Mul,
                Ins::I32Add,
                Ins::I64Load(mem(0, 3)),
            ]
        };
        let concat = Ins::Call(idx.helper(Helper::Concat));
        let fmt_f = |g: &mut Self, global: u32| -> Compiled<Vec<Ins<'static>>> {
            if !g.idx.has(HostImport::FormatNumber) {
                return Ok(vec![Ins::I64Const(g.data.string("?"))]);
            }
            Ok(vec![
                Ins::GlobalGet(global),
                Ins::F64ReinterpretI64,
                Ins::I32Const(RET),
                Ins::Call(g.idx.import(HostImport::FormatNumber)?),
                Ins::I32Const(RET),
                Ins::I64Load32U(mem(0, 2)),
                Ins::I64Const(32),
                Ins::I64Shl,
                Ins::I32Const(RET),
                Ins::I64Load32U(mem(4, 2)),
                Ins::I64Or,
            ])
        };
        let fmt_u = |global: u32| {
            [
                Ins::GlobalGet(global),
                Ins::Call(idx.helper(Helper::FmtU64)),
            ]
        };
        // One block per kind, each leaving its message in a local.
        let out = self.scratch(I64);
        let unknown = s(self, "error");
        self.b.all([unknown, Ins::LocalSet(out)]);
        let case = |g: &mut Self, kind: i32, parts: Vec<Ins<'static>>| {
            g.b.all([
                Ins::GlobalGet(global::ERROR),
                Ins::I32Const(kind),
                Ins::I32Eq,
                Ins::If(BlockType::Empty),
            ]);
            g.b.all(parts);
            g.b.all([Ins::LocalSet(out), Ins::End]);
        };
        let tn = self.tables.type_names;
        let ex = self.tables.expected;
        let mut parts = vec![s(self, message::EXPECTED)];
        parts.extend(name(ex, global::ERROR_A));
        parts.push(concat.clone());
        parts.push(s(self, message::GOT));
        parts.push(concat.clone());
        parts.extend(name(tn, global::ERROR_B));
        parts.push(concat.clone());
        case(self, err::TYPE, parts);
        let p = vec![s(self, message::DIVISION_BY_ZERO)];
        case(self, err::DIV_ZERO, p);
        let p = vec![s(self, message::MODULO_BY_ZERO)];
        case(self, err::MOD_ZERO, p);
        let mut p = vec![s(self, message::SURPRISAL)];
        p.extend(fmt_f(self, global::ERROR_A)?);
        p.push(concat.clone());
        case(self, err::SURPRISAL, p);
        let mut p = vec![s(self, message::SQRT)];
        p.extend(fmt_f(self, global::ERROR_A)?);
        p.push(concat.clone());
        case(self, err::SQRT, p);
        let mut p = vec![s(self, message::CLAMP_MIN)];
        p.extend(fmt_f(self, global::ERROR_A)?);
        p.push(concat.clone());
        p.push(s(self, message::CLAMP_MAX));
        p.push(concat.clone());
        p.extend(fmt_f(self, global::ERROR_B)?);
        p.push(concat.clone());
        case(self, err::CLAMP, p);
        let mut p = vec![s(self, message::INDEX)];
        p.extend(fmt_u(global::ERROR_A));
        p.push(concat.clone());
        p.push(s(self, message::INDEX_LEN));
        p.push(concat.clone());
        p.extend(fmt_u(global::ERROR_B));
        p.push(concat.clone());
        p.push(s(self, message::INDEX_END));
        p.push(concat.clone());
        case(self, err::INDEX, p);
        let mut p = vec![s(self, message::WEIGHTS)];
        p.extend(fmt_u(global::ERROR_A));
        p.push(concat.clone());
        case(self, err::WEIGHTS, p);
        let p = vec![s(self, message::WEIGHT)];
        case(self, err::WEIGHT, p);
        let p = vec![
            s(self, message::NOT_A_NUMBER),
            Ins::GlobalGet(global::ERROR_B),
            concat.clone(),
        ];
        case(self, err::NUM, p);
        let mut p = vec![s(
            self,
            "str() takes a number, bool, null, string or DID, got ",
        )];
        p.extend(name(tn, global::ERROR_A));
        p.push(concat.clone());
        case(self, err::STR, p);
        let mut p = vec![s(self, message::TEXT_TOO_LONG)];
        p.extend(fmt_u(global::ERROR_A));
        p.push(concat.clone());
        p.push(s(self, message::TEXT_LIMIT));
        p.push(concat.clone());
        case(self, err::TEXT_LONG, p);
        let p = vec![Ins::GlobalGet(global::ERROR_B)];
        case(self, err::HOST, p);
        // A fault located by the source map (host errors never are).
        self.b.all([
            Ins::GlobalGet(global::ERROR_AT),
            Ins::I64Eqz,
            Ins::I32Eqz,
            Ins::If(BlockType::Empty),
            Ins::GlobalGet(global::ERROR_AT),
            Ins::LocalGet(out),
            concat.clone(),
            Ins::LocalSet(out),
            Ins::End,
        ]);
        // A return value that is not a bool.
        self.b.all([
            Ins::GlobalGet(global::OUTCOME),
            Ins::I32Const(outcome::NOT_BOOL),
            Ins::I32Eq,
            Ins::If(BlockType::Empty),
            Ins::I32Const(0),
            Ins::GlobalSet(global::ERROR),
        ]);
        let mut p = vec![s(self, message::RETURNED)];
        p.extend(name(tn, global::ERROR_A));
        p.push(concat.clone());
        p.push(s(self, message::NOT_A_BOOL));
        p.push(concat);
        self.b.all(p);
        self.b
            .all([Ins::LocalSet(out), Ins::End, Ins::LocalGet(out)]);
        Ok(())
    }
}
