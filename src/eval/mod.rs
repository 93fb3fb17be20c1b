//! The evaluator: name resolution to slots (`resolve`, producing the plain
//! data of `ir`), compilation of that IR to Rust closures (`compile`), and the
//! runtime those closures call into: the session and running programs
//! (`interp`), imports (`imports`), variables and patterns (`bindings`), the
//! calling convention (`calls`), operator support (`operands`) and operands
//! read in place (`places`).

pub mod bindings;
pub mod calls;
pub mod compile;
pub mod imports;
pub mod interp;
pub mod ir;
pub mod module;
pub mod operands;
mod places;
pub mod resolve;

pub use interp::{Interp, INTERRUPTED};
