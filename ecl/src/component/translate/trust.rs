//! Trust vectors: dimensions, norms, combinations, thresholds, weighted averages.

use wasm_encoder::Instruction as Ins;
use wasm_encoder::ValType::{F64, I32};

use super::Translator;
use crate::bytecode::OpCode;
use crate::component::Compiled;
use crate::component::layout::*;

impl Translator<'_> {
    /// Trust vectors: dimensions, norms, combinations, thresholds, weighted averages.
    pub(super) fn trust(&mut self, at: usize, cost: u64) -> Compiled {
        use OpCode as O;
        let op = &self.code[at];
        match op {
            O::TrustDim(d) => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_ptr(t, Kind::Trust, at)?;
                self.b.i(Ins::F64Load(mem(d.index() as u64 * 8, 3)));
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::TrustNorm => {
                let t = self.pop(at)?;
                let charged = self.charge_if_boxed(&[t], cost);
                self.coerce_ptr(t, Kind::Trust, at)?;
                let p = self.scratch(I32);
                self.b.all([Ins::LocalSet(p), Ins::F64Const((-0.0).into())]);
                for d in 0..6u64 {
                    self.b
                        .all([Ins::LocalGet(p), Ins::F64Load(mem(d * 8, 3)), Ins::F64Add]);
                }
                self.b.all([Ins::F64Const(6.0.into()), Ins::F64Div]);
                self.stack.push(Kind::Num);
                self.charge_unless(charged, cost);
            }
            O::TrustCombine | O::TrustDistance => {
                let charged = self.charge_if_top_boxed(2, cost);
                self.two(at, |g, t, at| {
                    g.coerce_ptr(t, Kind::Trust, at)?;
                    Ok(I32)
                })?;
                let (a, b) = (self.scratch(I32), self.scratch(I32));
                self.b.all([Ins::LocalSet(b), Ins::LocalSet(a)]);
                if matches!(op, O::TrustCombine) {
                    let out = self.alloc_tv();
                    for d in 0..6u64 {
                        let m = mem(d * 8, 3);
                        self.b.all([
                            Ins::LocalGet(out),
                            Ins::F64Const(1.0.into()),
                            Ins::F64Const(1.0.into()),
                            Ins::LocalGet(a),
                            Ins::F64Load(m),
                            Ins::F64Sub,
                            Ins::F64Const(1.0.into()),
                            Ins::LocalGet(b),
                            Ins::F64Load(m),
                            Ins::F64Sub,
                            Ins::F64Mul,
                            Ins::F64Sub,
                            Ins::F64Store(m),
                        ]);
                    }
                    self.b.i(Ins::LocalGet(out));
                    self.stack.push(Kind::Trust);
                } else {
                    let diff = self.scratch(F64);
                    self.b.i(Ins::F64Const((-0.0).into()));
                    for d in 0..6u64 {
                        let m = mem(d * 8, 3);
                        self.b.all([
                            Ins::LocalGet(a),
                            Ins::F64Load(m),
                            Ins::LocalGet(b),
                            Ins::F64Load(m),
                            Ins::F64Sub,
                            Ins::LocalTee(diff),
                            Ins::LocalGet(diff),
                            Ins::F64Mul,
                            Ins::F64Add,
                        ]);
                    }
                    self.b.i(Ins::F64Sqrt);
                    self.stack.push(Kind::Num);
                }
                self.charge_unless(charged, cost);
            }
            O::TrustCreate => {
                let mut types = Vec::new();
                for _ in 0..6 {
                    types.push(self.pop(at)?);
                }
                let charged = self.charge_if_boxed(&types, cost);
                // ω is on top: coerce and store from the last dimension down.
                let vals: Vec<u32> = (0..6).map(|_| self.scratch(F64)).collect();
                for (k, t) in types.iter().enumerate() {
                    self.coerce_num(*t, at)?;
                    self.b.i(Ins::LocalSet(vals[5 - k]));
                }
                let out = self.alloc_tv();
                for (d, v) in vals.iter().enumerate() {
                    self.b.all([
                        Ins::LocalGet(out),
                        Ins::LocalGet(*v),
                        Ins::F64Store(mem(d as u64 * 8, 3)),
                    ]);
                }
                self.b.i(Ins::LocalGet(out));
                self.stack.push(Kind::Trust);
                self.charge_unless(charged, cost);
            }
            O::TrustAboveThreshold => {
                let tt = self.pop(at)?;
                let tv = self.pop(at)?;
                let charged = self.charge_if_boxed(&[tt, tv], cost);
                self.coerce_num(tt, at)?;
                let th = self.scratch(F64);
                self.b.i(Ins::LocalSet(th));
                self.coerce_ptr(tv, Kind::Trust, at)?;
                let p = self.scratch(I32);
                self.b.all([Ins::LocalSet(p), Ins::I32Const(1)]);
                for d in 0..6u64 {
                    self.b.all([
                        Ins::LocalGet(p),
                        Ins::F64Load(mem(d * 8, 3)),
                        Ins::LocalGet(th),
                        Ins::F64Ge,
                        Ins::I32And,
                    ]);
                }
                self.stack.push(Kind::Bool);
                self.charge_unless(charged, cost);
            }
            O::TrustWeightedAvg => {
                let tw = self.pop(at)?;
                let tv = self.pop(at)?;
                self.charge_one(cost);
                self.coerce_ptr(tw, Kind::Arr, at)?;
                let w = self.scratch(I32);
                self.b.i(Ins::LocalSet(w));
                self.coerce_ptr(tv, Kind::Trust, at)?;
                let p = self.scratch(I32);
                self.b.i(Ins::LocalSet(p));
                self.weighted_avg(w, p);
                self.stack.push(Kind::Num);
            }
            _ => unreachable!("dispatched by `op`"),
        }
        Ok(())
    }
}
