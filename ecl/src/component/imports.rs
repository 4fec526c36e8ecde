//! The `erynoa:ecl` functions a compiled policy may import, their
//! canonical-ABI signatures, and which instructions need which.

use wasm_encoder::ValType;

use crate::bytecode::OpCode;

// ---- Imports ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum HostImport {
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

impl HostImport {
    pub(crate) fn spec(self) -> (&'static str, &'static str, Vec<ValType>, Vec<ValType>) {
        use ValType::{F64, I32, I64};
        let (module, name, params, results): (_, _, &[ValType], &[ValType]) = match self {
            HostImport::GasLeft => ("budget", "gas-left", &[], &[I64]),
            HostImport::ConsumeGas => ("budget", "consume-gas", &[I32, I64], &[]),
            HostImport::GetTrust => ("trust", "get-trust", &[I32, I32, I32], &[]),
            HostImport::HasCredential => ("identity", "has-credential", &[I32; 5], &[]),
            HostImport::ResolveDid => ("identity", "resolve-did", &[I32; 3], &[]),
            HostImport::StoreGet => ("state", "store-get", &[I32; 5], &[]),
            HostImport::StorePut => ("state", "store-put", &[I32; 7], &[]),
            HostImport::StoreDelete => ("state", "store-delete", &[I32; 5], &[]),
            HostImport::Timestamp => ("context", "timestamp", &[], &[I64]),
            HostImport::Log => ("context", "log", &[I32; 3], &[]),
            HostImport::EmitEvent => ("events", "emit-event", &[I32; 5], &[]),
            HostImport::FormatNumber => ("prelude", "format-number", &[F64, I32], &[]),
            HostImport::ParseNumber => ("prelude", "parse-number", &[I32; 3], &[]),
            HostImport::Log2 => ("prelude", "log2", &[F64], &[F64]),
            HostImport::Fmod => ("prelude", "fmod", &[F64, F64], &[F64]),
            HostImport::EqIgnoreCase => ("prelude", "eq-ignore-case", &[I32; 4], &[I32]),
        };
        (module, name, params.to_vec(), results.to_vec())
    }

    /// Imports an instruction needs, beyond the budget's.
    pub(crate) fn needed_by(op: &OpCode) -> &'static [HostImport] {
        match op {
            OpCode::LoadTrust => &[HostImport::GetTrust],
            OpCode::HasCredential => &[HostImport::HasCredential],
            OpCode::ResolveDid => &[HostImport::ResolveDid],
            OpCode::StoreGet => &[HostImport::StoreGet],
            OpCode::StorePut => &[HostImport::StorePut],
            OpCode::StoreDelete => &[HostImport::StoreDelete],
            OpCode::GetTimestamp | OpCode::TimeSince => &[HostImport::Timestamp],
            OpCode::Log => &[HostImport::Log],
            OpCode::EmitEvent => &[HostImport::EmitEvent],
            OpCode::MathSqrt | OpCode::Clamp | OpCode::ToText => &[HostImport::FormatNumber],
            OpCode::Surprisal => &[HostImport::FormatNumber, HostImport::Log2],
            OpCode::ToNumber => &[HostImport::ParseNumber],
            OpCode::Mod => &[HostImport::Fmod],
            OpCode::StrEqIgnoreCase => &[HostImport::EqIgnoreCase],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The imports an instruction makes are in the interface the host
    /// grants it by (`OpCode::interface`), apart from the budget, which
    /// compiled code always imports, and the pure prelude.
    #[test]
    fn imports_agree_with_the_interfaces_granted() {
        use OpCode::*;
        for op in [
            LoadTrust,
            HasCredential,
            ResolveDid,
            GetBalance,
            StoreGet,
            StorePut,
            StoreDelete,
            GetTimestamp,
            TimeSince,
            Log,
            EmitEvent,
            MathSqrt,
            Clamp,
            ToText,
            Surprisal,
            ToNumber,
            Mod,
            StrEqIgnoreCase,
        ] {
            for import in HostImport::needed_by(&op) {
                let (interface, ..) = import.spec();
                if interface != "prelude" && interface != "budget" {
                    assert_eq!(Some(interface), op.interface(), "{op:?}");
                }
            }
        }
    }
}
