//! dp: a small, expression-oriented language in which every function can be
//! differentiated. The pipeline: `syntax` (logos lexer, LALRPOP parser) →
//! `eval::resolve` (names to slots, giving the plain-data IR of `eval::ir`) →
//! `eval::compile` (the IR compiled to Rust closures, run by `eval::interp`)
//! → `builtins` and the differentiable primitives of `prim` (over the
//! `dp_tensor` kernels), with `autodiff` recording and replaying them; every
//! error is a `diagnostics::Diagnostic`. `docs/architecture.md` has the map.
pub mod autodiff;
pub mod builtins;
pub mod cli_io;
pub mod diagnostics;
pub mod eval;
pub mod files;
pub mod hints;
pub mod ops;
pub mod output;
pub mod prim;
pub mod progress;
pub mod repl;
pub mod repl_time;
pub mod stdlib;
pub mod syntax;
pub mod value;

pub use diagnostics::Diagnostic;
pub use eval::Interp;
pub use output::SharedBuffer;
pub use value::Value;
