//! The builtin functions, one module per family. Each family registers its
//! functions into the table built by [`all`].

pub mod constants;
pub mod core;
pub mod diff;
pub mod graphs;
pub mod help;
pub mod io;
pub mod plot;
pub mod progress;
pub mod random;
pub mod structure;
pub mod tensor;
pub mod text;
pub mod trees;

use crate::diagnostics::Diagnostic;
use crate::eval::Interp;
pub use crate::value::native::{
    arg_type, bool_arg, declared, float_arg, func_arg, int_arg, native, str_arg, unsized_error, Args, Native, NativeFn,
};
pub use crate::value::signature::{Call, Decl, Signature};
use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers a builtin from its declaration (see [`declared`]).
pub fn register(
    table: &mut HashMap<Rc<str>, Value>,
    decl: Decl,
    body: impl for<'a> Fn(&mut Interp, Call<'a>) -> Result<Value, Diagnostic> + 'static,
) {
    let f = declared(decl, body);
    if let Value::Native(n) = &f {
        table.insert(n.name.clone(), f.clone());
    }
}

/// Every builtin function, by name.
pub fn all() -> HashMap<Rc<str>, Value> {
    let mut t = HashMap::new();
    core::register_all(&mut t);
    text::register_all(&mut t);
    structure::register_all(&mut t);
    trees::register_all(&mut t);
    tensor::register_all(&mut t);
    diff::register_all(&mut t);
    graphs::register_all(&mut t);
    io::register_all(&mut t);
    random::register_all(&mut t);
    // Draws read one key's stream each: under `vmap` they run per example.
    crate::autodiff::per_example::wrap(
        &mut t,
        &[
            "normal",
            "uniform",
            "bernoulli",
            "categorical",
            "choice",
            "permutation",
            "key_permutation",
            "key_randint",
            "key_split",
            "fold_in",
        ],
    );
    progress::register_all(&mut t);
    plot::register_all(&mut t);
    constants::register_all(&mut t);
    // f-strings call `format` under a name programs cannot bind (see `syntax::fstring`).
    if let Some(f) = t.get("format").cloned() {
        t.insert(Rc::from(crate::syntax::fstring::FORMAT_BUILTIN), f);
    }
    t
}
