//! `jit(f)`: the extended graph as a program. The first call of a jitted
//! function for a given [`Signature`] of its arguments traces `f` (see
//! [`super::traced`]), optimises the graph and keeps it as a plan; later
//! calls with that signature run the plan on the new arguments — primitives
//! only, no interpreter, no re-recording of backward passes.
//!
//! A plan never changes what a program computes. Where the traced code read
//! a traced value to decide something (`if loss > 1`, `int(n)`), the plan
//! checks that value when it runs (a guard) and a call that would go
//! another way is traced again; a function whose trace cannot be repeated —
//! it prints, writes files, uses the global random generator, assigns a
//! global, reads the elements of a traced tensor, returns a function, or
//! keeps being traced anew — runs without jit from then on, and `dp` says
//! once why, naming the line. Plans also remember the module globals the
//! trace read, and apply only while those hold the same values.

pub mod fuse;
mod native;
mod plan;
pub mod profile;
mod program;
mod result;
mod sharing;
pub mod signature;
pub mod watch;

use super::traced::{Leaves, TracedGraph};
use crate::diagnostics::R;
use crate::eval::Interp;
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::{Closure, Value};
use plan::{Plan, Refusal, Run};
pub use program::{MemoryPlan, Program};
use signature::Signature;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
pub use watch::Watch;

/// The memory plan a plan of `g` runs with (see [`MemoryPlan`]), for `dp
/// graph --optimized`; `None` where no plan can run `g` (a derivative rule
/// written in dp, a value differentiated outside the graph).
pub fn memory_plan(g: &crate::autodiff::capture::Extended) -> Option<MemoryPlan> {
    plan::check_nodes(g).ok().map(|()| Program::new(g).memory_plan(g))
}

/// Plans kept per jitted function; a function traced more often than this
/// (its arguments' signature or a guard keeps changing) runs without jit.
const MAX_TRACES: usize = 8;

/// A jitted function: `f`, its plans, and whether it gave up on jit.
pub struct Jitted {
    f: Value,
    name: String,
    /// Say why when giving up (not under `DP_JIT=all`, which jits every
    /// function and must print exactly what the program prints).
    explain: bool,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    plans: Vec<Rc<Plan>>,
    /// The signatures traced so far (the first `MAX_TRACES`).
    traced: Vec<Signature>,
    traces: usize,
    replays: usize,
    off: bool,
}

/// Why no plan ran a call: the global whose new value made a plan not
/// apply, the guard that came out differently (and whether it read a key).
#[derive(Default)]
struct Miss {
    global: Option<String>,
    diverged: Option<(Span, bool)>,
}

/// How a jitted function has run so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls that traced a plan.
    pub traces: usize,
    /// Calls that ran a plan.
    pub replays: usize,
    /// Whether it gave up on jit.
    pub off: bool,
}

impl Jitted {
    /// `jit(f)` for `f` named `name`.
    pub fn new(f: Value, name: String, explain: bool) -> Rc<Jitted> {
        Rc::new(Jitted {
            f,
            name,
            explain,
            state: RefCell::default(),
        })
    }

    /// Calls the jitted function: runs a plan for these arguments, or
    /// traces one, or calls `f` itself when no plan can apply.
    pub fn call(&self, it: &mut Interp, args: Args) -> R<Value> {
        // Inside another jit's trace, `f` is simply part of that trace.
        // `debug_nans(true)` checks every adjoint as a backward pass runs,
        // which a plan does not do.
        // `dp graph` waiting for its first gradient sees the one inside `f`.
        if self.state.borrow().off || !it.jit_watch.is_empty() || it.diff.debug_nans() || it.diff.capture_armed() {
            return call_unjitted(it, &self.f, args);
        }
        // The plans for these arguments, with their inputs (collected while
        // the arguments are matched against each plan's signature).
        let mut plans: Vec<(Rc<Plan>, Vec<Value>)> = Vec::new();
        for p in self.state.borrow().plans.iter() {
            if let Some(inputs) = p.inputs_if_admitted(&args) {
                plans.push((p.clone(), inputs));
            }
        }
        let mut miss = Miss::default();
        for (p, inputs) in plans {
            if let Some(g) = p.changed_global() {
                miss.global.get_or_insert_with(|| g.name());
                continue;
            }
            match p.run_inputs(&inputs) {
                Ok(Run::Done(v)) => {
                    self.state.borrow_mut().replays += 1;
                    return Ok(v);
                }
                Ok(Run::Diverged(span, key)) => miss.diverged = Some((span, key)),
                // A step that fails (int arithmetic overflowing) knows its
                // position but not the calls `f` made to reach it: `f`
                // traced afresh fails there as plain code does, every call
                // frame named.
                Err(_) => {}
            }
        }
        let Some(signature) = Signature::of(&args) else {
            // Arguments being differentiated or batched (no plan admits
            // them): `f` runs under that transformation as it would without jit.
            return call_unjitted(it, &self.f, args);
        };
        self.trace(it, signature, args, miss)
    }

    /// Traces `f` on `args`, keeps the plan (or gives up on jit) and returns
    /// the call's result.
    fn trace(&self, it: &mut Interp, signature: Signature, args: Args, miss: Miss) -> R<Value> {
        let (traces, ints, keys) = {
            let mut s = self.state.borrow_mut();
            s.traces += 1;
            // Ints and keys that change from call to call (a step count, a
            // fresh key per step) are inputs of the plan once a call differed
            // from an earlier one in their values only.
            let (ints, keys) = s
                .traced
                .iter()
                .filter_map(|t| t.changed_values(&signature))
                .fold((false, false), |(i, k), (ti, tk)| (i || ti, k || tk));
            if s.traced.len() < MAX_TRACES {
                s.traced.push(signature.clone());
            }
            (s.traces, ints, keys)
        };
        if traces > MAX_TRACES {
            let why = match (miss.global, miss.diverged) {
                (Some(name), _) => format!(
                    "the global `{name}` it reads held a different value at each of {MAX_TRACES} calls \
                     (a plan keeps the values of the globals it reads; pass `{name}` as an argument instead)"
                ),
                (None, Some((span, true))) => format!(
                    "the random key it uses at {} other than to draw numbers or make keys (comparing, \
                     formatting or passing it to another builtin) was a different one at each of {} calls",
                    it.sources.location(span),
                    MAX_TRACES
                ),
                (None, Some((span, false))) => format!(
                    "the value it branches on at {} came out differently for the arguments of {} calls",
                    it.sources.location(span),
                    MAX_TRACES
                ),
                (None, None) => format!(
                    "it was traced for {MAX_TRACES} different argument signatures (bools and strings among the \
                     arguments are part of a signature, as are the shapes of tensors, ints that decide \
                     something: a loop count, an index, a shape, random keys used other than to draw, and \
                     which function each function argument is: a closure made anew for each call is a new one)"
                ),
            };
            self.give_up(why);
            return call_unjitted(it, &self.f, args);
        }
        let leaves = Leaves {
            keywords: true,
            ints,
            keys,
            ..Leaves::default()
        };
        let (traced, watch) = match self.trace_once(it, args.clone(), leaves) {
            // A trace with int or key inputs that stopped before a side
            // effect, or failed before any (where plain ints would not, say),
            // is done again with plain ints and keys: the call's result is that trace's.
            (r, w) if (ints || keys) && (w.aborted || (r.is_err() && w.effect.is_none())) => {
                let plain = Leaves {
                    ints: false,
                    keys: false,
                    ..leaves
                };
                self.trace_once(it, args, plain)
            }
            done => done,
        };
        let traced = traced?;
        let result = traced.result.clone();
        match Plan::new(traced, watch, signature) {
            Ok(plan) => self.state.borrow_mut().plans.push(Rc::new(plan)),
            Err(Refusal { what, at, because }) => {
                let mut why = what;
                if let Some(span) = at {
                    why.push_str(&format!(" at {}", it.sources.location(span)));
                }
                if !because.is_empty() {
                    why.push_str(&format!(" ({because})"));
                }
                self.give_up(why);
            }
        }
        Ok(result)
    }

    /// One trace of `f` on `args`, with what it was seen to do.
    fn trace_once(&self, it: &mut Interp, args: Args, leaves: Leaves) -> (R<TracedGraph>, Watch) {
        it.jit_watch.push(Watch::new(leaves.ints, leaves.keys));
        if matches!(self.f, Value::Func(_)) {
            it.jit_skip_next = true;
        }
        // The trace applies primitives where plain code would not (scalar
        // arithmetic of traced values): the expression they are attributed
        // to, which later reports name, is the caller's again afterwards.
        let span = it.diff.span();
        let traced = super::traced::trace_call(it, &self.f, self.name.clone(), args, leaves);
        it.diff.set_span(span);
        it.jit_skip_next = false;
        let watch = it.jit_watch.pop().unwrap_or_default();
        (traced, watch)
    }

    /// How it has run so far.
    pub fn stats(&self) -> Stats {
        let s = self.state.borrow();
        Stats {
            traces: s.traces,
            replays: s.replays,
            off: s.off,
        }
    }

    /// From now on `f` runs without jit; says why once.
    fn give_up(&self, why: String) {
        let mut s = self.state.borrow_mut();
        s.off = true;
        s.plans.clear();
        if self.explain {
            eprintln!("note: jit({}) runs without jit from here on: {why}", self.name);
        }
    }
}

/// Calls `f` without routing it through `DP_JIT=all` again.
fn call_unjitted(it: &mut Interp, f: &Value, args: Args) -> R<Value> {
    if matches!(f, Value::Func(_)) {
        it.jit_skip_next = true;
    }
    let r = it.call(f, args);
    it.jit_skip_next = false;
    r
}

/// The jitted form of every dp function, for `DP_JIT=all` (which runs the
/// golden suite and the conformance programs through plans).
#[derive(Default)]
pub struct JitAll {
    by_closure: HashMap<*const Closure, Rc<Jitted>>,
}

/// Jitted functions kept by `DP_JIT=all` before it starts afresh (lambdas
/// made in a loop are new closures each time).
const MAX_JIT_ALL: usize = 4096;

impl JitAll {
    /// The jitted form of `c`.
    pub fn of(&mut self, c: &Rc<Closure>) -> Rc<Jitted> {
        if self.by_closure.len() >= MAX_JIT_ALL {
            self.by_closure.clear();
        }
        // The entry holds `c`, so its address is not reused while it is a key.
        self.by_closure
            .entry(Rc::as_ptr(c))
            .or_insert_with(|| Jitted::new(Value::Func(c.clone()), c.proto.name.to_string(), explain_all()))
            .clone()
    }
}

impl JitAll {
    /// The totals over every function jitted so far (since the last start afresh).
    pub fn stats(&self) -> Stats {
        self.by_closure.values().fold(Stats::default(), |a, j| {
            let s = j.stats();
            Stats {
                traces: a.traces + s.traces,
                replays: a.replays + s.replays,
                off: a.off || s.off,
            }
        })
    }
}

/// The environment variable that jits every call (`DP_JIT=all`).
pub const JIT_ENV: &str = "DP_JIT";

/// Whether `DP_JIT=all` is set: every call of a dp function goes through jit.
pub fn all_from_env() -> bool {
    std::env::var(JIT_ENV).is_ok_and(|v| v.trim() == "all")
}

/// Checks a `DP_JIT` setting, if there is one: `all` (jit every call) or
/// `off` (the default). `Err` names the variable, the value and the
/// accepted ones; any other value was silently taken as `off`.
pub fn check_jit_setting() -> Result<(), String> {
    dp_tensor::check_setting(
        JIT_ENV,
        |v| matches!(v, "all" | "off"),
        "is not a jit mode (write all, or off)",
    )
}

/// Whether `DP_JIT=all` explains each function it stops jitting (set
/// `DP_JIT_EXPLAIN`): off by default, as output must not change.
fn explain_all() -> bool {
    std::env::var_os("DP_JIT_EXPLAIN").is_some()
}
