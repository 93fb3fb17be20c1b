//! What a jit trace sees besides the primitives it records: the module
//! globals the traced code reads (a plan is valid only while they hold the
//! values it baked in) and the side effects it performs (printing, files,
//! the global random generator, assigning a global), which a plan of
//! primitives cannot repeat, so a function with them runs without jit.

use super::signature::identical;
use crate::eval::module::Module;
use crate::syntax::span::Span;
use crate::value::Value;
use std::collections::HashSet;
use std::rc::Rc;

/// A module global read by traced code, and the value it held.
#[derive(Debug)]
pub struct GlobalRead {
    module: Rc<Module>,
    slot: u32,
    value: Value,
}

impl GlobalRead {
    /// The global's name.
    pub fn name(&self) -> String {
        self.module
            .name_of(self.slot)
            .map_or_else(|| "?".to_string(), |n| n.to_string())
    }

    /// Whether the global still holds the value the trace read.
    pub fn holds(&self) -> bool {
        self.module.get(self.slot).is_some_and(|v| identical(&v, &self.value))
    }
}

/// The observations of one running jit trace.
#[derive(Debug, Default)]
pub struct Watch {
    /// Globals read, each once.
    pub reads: Vec<GlobalRead>,
    seen: HashSet<(usize, u32)>,
    /// The first side effect: what it was, and where.
    pub effect: Option<(String, Span)>,
    /// The trace has int arguments as inputs (see `Leaves::ints`): builtins
    /// get them as plain ints (read: a guard), and a side effect stops the
    /// trace before it happens, to trace again without int inputs.
    pub int_inputs: bool,
    /// The trace has random keys as inputs (see `Leaves::keys`): builtins
    /// other than the keyed random functions get them as plain keys, and
    /// side effects stop the trace as with `int_inputs`.
    pub key_inputs: bool,
    /// The trace was stopped so (see `int_inputs`).
    pub aborted: bool,
}

impl Watch {
    /// A watch for a trace with int and key inputs or without (see
    /// [`Watch::int_inputs`], [`Watch::key_inputs`]).
    pub fn new(int_inputs: bool, key_inputs: bool) -> Watch {
        Watch {
            int_inputs,
            key_inputs,
            ..Watch::default()
        }
    }

    /// Notes that global `slot` of `module` was read as `value`.
    pub fn read(&mut self, module: &Rc<Module>, slot: u32, value: &Value) {
        if self.seen.insert((Rc::as_ptr(module) as usize, slot)) {
            self.reads.push(GlobalRead {
                module: module.clone(),
                slot,
                value: value.clone(),
            });
        }
    }

    /// Notes a side effect (the first one is reported).
    pub fn effect(&mut self, what: String, span: Span) {
        if self.effect.is_none() {
            self.effect = Some((what, span));
        }
    }
}

/// Builtins that take an int input of a jit plan (see [`Watch::int_inputs`])
/// as it is, a traced value: they compute with it through primitives or
/// only pass it on. Every other builtin gets the plain int, read.
pub fn takes_traced_ints(name: &str) -> bool {
    // `key` and `fold_in` record a key made from the int (see `prim::Random`).
    matches!(name, "float" | "type" | "tree_map" | "key" | "fold_in") || is_jitted(name)
}

/// Whether `name` is a jitted function's: inside a trace it runs its dp
/// code as part of the trace (see `Jitted::call`), where builtins read
/// what they read themselves.
fn is_jitted(name: &str) -> bool {
    name.starts_with("jit(")
}

/// Builtins that take a key input of a jit plan (see [`Watch::key_inputs`])
/// as it is, a traced value: the keyed random functions, which record their
/// draws (see `prim::Random`), functions made by `grad` and
/// `value_and_grad`, which pass it on to the differentiated function, and
/// those that only pass it on. Every other builtin gets the plain key, read.
pub fn takes_traced_keys(name: &str) -> bool {
    matches!(
        name,
        "normal"
            | "uniform"
            | "bernoulli"
            | "choice"
            | "permutation"
            | "categorical"
            | "key_split"
            | "fold_in"
            | "key_permutation"
            | "key_randint"
            | "type"
            | "tree_map"
    ) || name.starts_with("grad(")
        || name.starts_with("value_and_grad(")
        || name.starts_with("vmap(")
        || is_jitted(name)
}

/// Whether `v` is a key computed by a running jit trace (a key input of a
/// plan, or a key made from one): a key in a tracer, which plain code never has.
pub fn is_traced_key(v: &Value) -> bool {
    matches!(v, Value::Dual(_)) && matches!(v.peek(), Value::Key(_))
}

/// The arguments of a builtin during a trace with int or key inputs: each
/// traced int leaf (when `ints`) and traced key leaf (when `keys`) read, as
/// a plain int or key.
pub fn settle(args: &mut crate::value::native::Args, ints: bool, keys: bool) -> crate::diagnostics::R<()> {
    use crate::ops::arith::is_traced_int;
    let settle = |v: &mut Value| -> crate::diagnostics::R<()> {
        *v = crate::value::tree::map_leaves(v, &mut |x, _| {
            Ok(if (ints && is_traced_int(x)) || (keys && is_traced_key(x)) {
                x.strip().clone()
            } else {
                x.clone()
            })
        })?;
        Ok(())
    };
    for v in args.pos.iter_mut() {
        settle(v)?;
    }
    for (_, v) in args.kw.iter_mut() {
        settle(v)?;
    }
    Ok(())
}

/// Whether the builtin `name` has an effect a plan cannot repeat: it writes
/// output or files, reads files or clocks, or uses the global random
/// generator, interpreter settings or how jitted functions ran. (Keyed random functions are pure; the
/// keyless forms of `normal`, `uniform`, `bernoulli`, `choice` and
/// `permutation` note their effect themselves, see `builtins::random`.)
pub fn is_effect(name: &str) -> bool {
    matches!(
        name,
        "print"
            | "help"
            | "plot"
            | "hist"
            | "save"
            | "load"
            | "load_csv"
            | "read_text"
            | "seed"
            | "rand"
            | "randn"
            | "randint"
            | "time"
            | "clock"
            | "progress"
            | "print_options"
            | "debug_nans"
            | "jit_stats"
            | "input"
    )
}
