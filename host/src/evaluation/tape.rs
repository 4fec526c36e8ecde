//! Recording every host call of an evaluation, and replaying it.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One host call: what was asked, what came back, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostCallRecord {
    /// The interface, e.g. `trust`.
    pub interface: String,
    /// The function, e.g. `get-trust`.
    pub function: String,
    /// The arguments, in order.
    pub args: Json,
    /// `{"ok": value}`, `{"err": {"code", "message"}}` or `{"exhausted": reason}`.
    pub result: Json,
    /// Gas the call charged (raw amount).
    pub gas: u64,
    /// Mana the call charged.
    pub mana: u64,
}

/// Whether an evaluation's host calls are recorded or replayed.
#[derive(Debug, Clone, Default)]
pub enum Tape {
    /// Neither.
    #[default]
    Off,
    /// Every call is appended.
    Record(Vec<HostCallRecord>),
    /// Calls are answered from `calls`, in order, instead of the state.
    Replay {
        /// The recorded calls.
        calls: Vec<HostCallRecord>,
        /// The next one to answer.
        next: usize,
        /// Where the run did not match the recording.
        divergences: Vec<String>,
    },
}

impl Tape {
    /// A replay of `calls`.
    pub fn replay(calls: Vec<HostCallRecord>) -> Self {
        Tape::Replay {
            calls,
            next: 0,
            divergences: Vec::new(),
        }
    }

    /// The same tape, rewound for another attempt of the same evaluation.
    pub(crate) fn rewound(self) -> Self {
        match self {
            Tape::Off => Tape::Off,
            Tape::Record(_) => Tape::Record(Vec::new()),
            Tape::Replay { calls, .. } => Tape::replay(calls),
        }
    }

    /// What a finished replay found: recorded calls never made count too.
    pub fn divergences(&self) -> Vec<String> {
        match self {
            Tape::Replay {
                calls,
                next,
                divergences,
            } => {
                let mut out = divergences.clone();
                if let Some(first) = calls.get(*next) {
                    out.push(format!(
                        "the recording has {} more call(s), from `{}.{}` on, that the run did not make",
                        calls.len() - next,
                        first.interface,
                        first.function
                    ));
                }
                out
            }
            _ => Vec::new(),
        }
    }

    /// The recorded calls of a recording tape.
    pub fn recorded(self) -> Vec<HostCallRecord> {
        match self {
            Tape::Record(calls) => calls,
            _ => Vec::new(),
        }
    }
}
