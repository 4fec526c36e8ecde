//! The hand-written functions every compiled policy carries: allocation,
//! strings, boxed values, gas. The translator calls them instead of
//! repeating their code at every instruction.

mod errors;
mod gas;
mod memory;
mod strings;
mod values;

pub(crate) use self::errors::*;
pub(crate) use self::gas::*;
pub(crate) use self::memory::*;
pub(crate) use self::strings::*;
pub(crate) use self::values::*;
