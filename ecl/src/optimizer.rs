//! The legacy optimizer, as it behaved: the legacy CLI ran it on every
//! `run` and `eval`, so reproducing a legacy CLI result needs it.
//!
//! Up to three rounds of constant folding, peephole and dead-code
//! elimination, stopping after a round that left the length unchanged.
//! **Legacy bug kept**: folding and peephole delete instructions without
//! remapping jump targets, so optimized branches can land elsewhere. Where
//! the legacy code then panicked (a stale target past the end), this one
//! maps the target to the end of the program. ECL 1.0 does not optimize.

use crate::bytecode::{OpCode, Value};
use crate::vm::{legacy_max, legacy_min};

/// Optimizes `code` the legacy way.
///
/// ```
/// use erynoa_ecl::bytecode::{OpCode::*, Value::Number};
/// let code = [PushConst(Number(2.0)), PushConst(Number(3.0)), Add, Return];
/// assert_eq!(erynoa_ecl::optimizer::optimize(&code), [PushConst(Number(5.0)), Return]);
/// ```
pub fn optimize(code: &[OpCode]) -> Vec<OpCode> {
    let mut code = code.to_vec();
    for _ in 0..3 {
        let before = code.len();
        code = dead_code(&peephole(&fold(&code)));
        if code.len() == before {
            break;
        }
    }
    code
}

fn fold(code: &[OpCode]) -> Vec<OpCode> {
    use OpCode::*;
    let mut out = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        if let (Some(PushConst(a)), Some(PushConst(b)), Some(op)) =
            (code.get(i), code.get(i + 1), code.get(i + 2))
        {
            let folded = match (a, b, op) {
                (Value::Number(a), Value::Number(b), _) => match op {
                    Add => Some(Value::Number(a + b)),
                    Sub => Some(Value::Number(a - b)),
                    Mul => Some(Value::Number(a * b)),
                    Div if *b != 0.0 => Some(Value::Number(a / b)),
                    Mod if *b != 0.0 => Some(Value::Number(a % b)),
                    Min => Some(Value::Number(legacy_min(*a, *b))),
                    Max => Some(Value::Number(legacy_max(*a, *b))),
                    _ => None,
                },
                (Value::Bool(a), Value::Bool(b), And) => Some(Value::Bool(*a && *b)),
                (Value::Bool(a), Value::Bool(b), Or) => Some(Value::Bool(*a || *b)),
                _ => None,
            };
            if let Some(v) = folded {
                out.push(PushConst(v));
                i += 3;
                continue;
            }
        }
        match (code.get(i), code.get(i + 1)) {
            (Some(PushConst(Value::Number(a))), Some(Neg)) => {
                out.push(PushConst(Value::Number(-a)));
                i += 2;
            }
            (Some(PushConst(Value::Bool(a))), Some(Not)) => {
                out.push(PushConst(Value::Bool(!a)));
                i += 2;
            }
            (Some(op), _) => {
                out.push(op.clone());
                i += 1;
            }
            (None, _) => break,
        }
    }
    out
}

fn peephole(code: &[OpCode]) -> Vec<OpCode> {
    use OpCode::*;
    let mut out = Vec::with_capacity(code.len());
    let mut i = 0;
    while i < code.len() {
        let pair = match (&code[i], code.get(i + 1)) {
            (PushConst(_), Some(Pop))
            | (Dup, Some(Pop))
            | (Not, Some(Not))
            | (Neg, Some(Neg))
            | (Swap, Some(Swap))
            | (PushConst(Value::Bool(true)), Some(JumpIfFalse(_)))
            | (PushConst(Value::Bool(false)), Some(JumpIfTrue(_))) => true,
            (PushConst(Value::Number(z)), Some(Add)) => *z == 0.0,
            (PushConst(Value::Number(one)), Some(Mul)) => *one == 1.0,
            _ => false,
        };
        if pair {
            i += 2;
            continue;
        }
        if code[i] != Jump(i + 1) {
            out.push(code[i].clone());
        }
        i += 1;
    }
    out
}

fn dead_code(code: &[OpCode]) -> Vec<OpCode> {
    use OpCode::*;
    let mut reachable = vec![false; code.len()];
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        if i >= code.len() || reachable[i] {
            continue;
        }
        reachable[i] = true;
        match &code[i] {
            Jump(t) => work.push(*t),
            JumpIfFalse(t) | JumpIfTrue(t) | Call(t, _) | AndThen(t) | OrElse(t) => {
                work.push(*t);
                work.push(i + 1);
            }
            Return | Halt | Abort | Deny => {}
            _ => work.push(i + 1),
        }
    }
    // new_index[old] = kept instructions before `old`.
    let mut new_index = Vec::with_capacity(code.len() + 1);
    let mut kept = 0;
    for &r in &reachable {
        new_index.push(kept);
        kept += usize::from(r);
    }
    let remap = |t: usize| new_index.get(t).copied().unwrap_or(kept);
    code.iter()
        .zip(&reachable)
        .filter(|(_, r)| **r)
        .map(|(op, _)| match op {
            Jump(t) => Jump(remap(*t)),
            JumpIfFalse(t) => JumpIfFalse(remap(*t)),
            JumpIfTrue(t) => JumpIfTrue(remap(*t)),
            Call(t, n) => Call(remap(*t), *n),
            AndThen(t) => AndThen(remap(*t)),
            OrElse(t) => OrElse(remap(*t)),
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpCode::*;

    fn n(x: f64) -> OpCode {
        PushConst(Value::Number(x))
    }

    #[test]
    fn the_legacy_optimizer_test_facts() {
        assert_eq!(optimize(&[n(2.0), n(3.0), Add, Return]), [n(5.0), Return]);
        assert_eq!(optimize(&[n(4.0), n(5.0), Mul, Return]), [n(20.0), Return]);
        assert_eq!(
            optimize(&[n(2.0), n(3.0), Add, n(4.0), Mul, Return]),
            [n(20.0), Return]
        );
        let t = |b| PushConst(Value::Bool(b));
        assert_eq!(
            optimize(&[t(true), t(false), And, Return]),
            [t(false), Return]
        );
        assert_eq!(optimize(&[n(5.0), Neg, Return]), [n(-5.0), Return]);
        assert_eq!(optimize(&[n(1.0), Pop, n(2.0), Return]), [n(2.0), Return]);
        assert_eq!(optimize(&[t(true), Not, Not, Return]), [t(true), Return]);
        assert_eq!(optimize(&[n(5.0), Neg, Neg, Return]), [n(5.0), Return]);
        assert_eq!(optimize(&[n(5.0), n(0.0), Add, Return]), [n(5.0), Return]);
        assert_eq!(
            optimize(&[n(1.0), Return, n(2.0), Return]),
            [n(1.0), Return]
        );
        assert_eq!(
            optimize(&[n(2.0), n(3.0), Add, n(1.0), Mul, Return]),
            [n(5.0), Return]
        );
    }

    #[test]
    fn a_stale_target_past_the_end_does_not_panic() {
        // Legacy: `if 1 + 1 + 1 + 1 == 3 { return 1 }` panicked in DCE.
        let p =
            crate::compile("policy \"t\" { if 1 + 1 + 1 + 1 == 3 { return 1 } }", None).unwrap();
        let out = optimize(&p.code);
        assert!(
            out.iter()
                .all(|op| op.target().is_none_or(|t| t <= out.len()))
        );
    }
}
