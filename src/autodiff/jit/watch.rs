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
}

impl Watch {
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
