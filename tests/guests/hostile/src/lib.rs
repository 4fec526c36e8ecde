//! Misbehaves as the request's action says. Built only for the host's tests.

#![allow(missing_docs)]

use erynoa_sdk::prelude::*;

pub struct Hostile;

#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == u64::MAX {
        0
    } else {
        recurse(std::hint::black_box(n + 1)) + 1
    }
}

/// Keeps its state in wasm locals (no shadow-stack frame): only wasmtime's
/// native stack grows. The rotate after the call keeps LLVM from turning the
/// recursion into a loop.
#[inline(never)]
fn recurse_native(n: u64) -> u64 {
    if n == u64::MAX {
        0
    } else {
        recurse_native(n.wrapping_add(1)).rotate_left(1) ^ n
    }
}

impl Policy for Hostile {
    const NAME: &'static str = "hostile";
    const VERSION: &'static str = "0.0.1";

    fn evaluate(request: &Request) -> Result<Decision> {
        match request.action() {
            "loop" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => Ok(Decision::deny(recurse(0).to_string())),
            "recurse-native" => Ok(Decision::deny(recurse_native(0).to_string())),
            "panic" => panic!("hostile policy panicked on purpose"),
            "huge-reason" => Ok(Decision::deny("x".repeat(1 << 20))),
            "flood" => loop {
                context::log(context::Level::Info, "flood");
            },
            "spin-host" => loop {
                let _ = trust::get(request.caller());
            },
            "write-then-deny" => {
                state::put("s", "k", "written")?;
                events::emit("e", "")?;
                Ok(Decision::deny("denied after writing"))
            }
            "write-then-trap" => {
                state::put("s", "k", "written")?;
                unreachable!("trap after writing")
            }
            "clock" => Ok(Decision::allow_because(context::timestamp().to_string())),
            other => Ok(Decision::allow_because(format!("unknown action `{other}`"))),
        }
    }
}

erynoa_sdk::policy!(Hostile);
