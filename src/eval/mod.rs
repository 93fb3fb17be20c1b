//! The evaluator: name resolution to slots (`resolve`, producing the plain
//! data of `ir`), compilation of that IR to Rust closures (`compile`), and the
//! runtime those closures call into: the session and running programs
//! (`interp`), imports (`imports`), variables and patterns (`bindings`), the
//! calling convention (`calls`) and operator support (`operands`).

pub mod bindings;
pub mod calls;
pub mod compile;
pub mod imports;
pub mod interp;
pub mod ir;
pub mod module;
pub mod operands;
pub mod resolve;

pub use interp::{Interp, INTERRUPTED};
