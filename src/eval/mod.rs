//! The evaluator: name resolution to slots (`resolve`, producing the plain
//! data of `ir`), compilation of that IR to Rust closures (`compile`), and the
//! runtime those closures call into (`interp`).
pub mod compile;
pub mod interp;
pub mod ir;
pub mod module;
pub mod resolve;

pub use interp::{Interp, INTERRUPTED};
