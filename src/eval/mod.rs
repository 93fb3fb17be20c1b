//! The evaluator: name resolution to slots, then a tree walk over the IR.
pub mod arith;
pub mod compile;
pub mod index;
pub mod interp;
pub mod ir;
pub mod module;
pub mod resolve;

pub use interp::{Interp, INTERRUPTED};
