//! `trace(f)(args...)`: runs `f` once with the float and tensor leaves of
//! its arguments as the inputs of a recording level (see
//! [`super::capture`]) and returns the graph of everything it computed —
//! with the adjoint nodes of every `grad`, `vjp` or `jacrev` inside it, so a
//! traced gradient function gives the lecture's extended graph. The graph is
//! a value: it prints as the lecture's table, and `graph_dot`,
//! `graph_stats` and `optimize` take it.

use super::capture::{AdjointRef, Extended};
use super::graph;
use super::trace::{self, node_at, trace_input};
use crate::diagnostics::{Diagnostic, ErrorKind, SourceMap, R};
use crate::eval::Interp;
use crate::value::native::Args;
use crate::value::object::Object;
use crate::value::tree::{self, is_array_leaf};
use crate::value::Value;
use std::any::Any;
use std::rc::Rc;

/// A traced graph, as a dp value (`graph` type).
#[derive(Debug)]
pub struct TracedGraph {
    /// The traced function's name, for the printed header.
    pub name: String,
    /// The graph.
    pub graph: Extended,
    /// The sources its nodes point into (a copy: the graph outlives the call).
    pub sources: SourceMap,
    /// Which optimisation passes produced it from the trace (empty: as traced).
    pub optimized: Vec<String>,
    /// The traced function's result, whose float and tensor leaves are the
    /// graph's outputs in order: [`TracedGraph::run`] gives results of this structure.
    pub result: Value,
    /// Which arguments were made inputs (and so which result leaves are outputs).
    pub leaves: Leaves,
    /// The traced call's positional arguments with every input leaf
    /// replaced by `0.0`: the other leaves (ints, strings, bools,
    /// functions) are constants of the graph, which a later run must give
    /// again (see [`TracedGraph::changed_argument`]).
    pub traced_args: Vec<Value>,
}

/// Which leaves of the arguments a trace makes inputs of its graph, beyond
/// the positional float and tensor leaves (which always are). `trace(f)`
/// takes the default; `jit` plans take keyword arguments' leaves too, and
/// int and key leaves when their value changes from call to call (see `autodiff::jit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leaves {
    /// The float and tensor leaves of keyword arguments.
    pub keywords: bool,
    /// Int leaves.
    pub ints: bool,
    /// Random keys.
    pub keys: bool,
    /// Int leaves of the result are outputs even without int or key
    /// inputs: the trace computed one (`argmax(x)` of a traced `x`). Set
    /// by the trace itself, from its result.
    pub computed_ints: bool,
}

impl Leaves {
    /// Whether `x`, a leaf of the arguments, is an input.
    pub fn takes(self, x: &Value) -> bool {
        is_array_leaf(x)
            || (self.ints && matches!(x.peek(), Value::Int(_)))
            || (self.keys && matches!(x.peek(), Value::Key(_)))
    }

    /// Whether `x`, a leaf of the result, is an output: an int or key leaf
    /// too once ints or keys are inputs, as it may be computed from them
    /// (`t + 1`, `fold_in(k, t)`, `key_split(k)[0]`, `key_randint(k, (), 0, 9)`).
    pub fn gives(self, x: &Value) -> bool {
        is_array_leaf(x)
            || ((self.ints || self.keys) && matches!(x.peek(), Value::Int(_) | Value::Key(_)))
            || (self.computed_ints && matches!(x.peek(), Value::Int(_)))
    }

    /// `x` as an input value: ints and keys stay as they are, other numbers become floats.
    pub fn input(self, x: &Value) -> Value {
        match x {
            Value::Int(_) if self.ints => x.clone(),
            Value::Key(_) if self.keys => x.clone(),
            _ => crate::ops::num(x),
        }
    }

    /// The graph's inputs in `args`: the leaves this takes, in order.
    pub fn inputs_of(self, args: &Args) -> R<Vec<Value>> {
        let mut inputs = Vec::new();
        let kw = args.kw.iter().map(|(_, v)| v).filter(|_| self.keywords);
        for a in args.pos.iter().chain(kw) {
            tree::for_each_leaf(a, &mut |x| {
                if self.takes(x) {
                    inputs.push(self.input(x));
                }
            })?;
        }
        Ok(inputs)
    }
}

impl TracedGraph {
    /// The graph as a value.
    pub fn into_value(self) -> Value {
        Value::Object(Rc::new(self))
    }

    /// The graph in a value, if it holds one.
    pub fn of(v: &Value) -> Option<&TracedGraph> {
        match v.peek() {
            Value::Object(o) => o.as_any().downcast_ref::<TracedGraph>(),
            _ => None,
        }
    }

    /// Runs the graph on new arguments (of the structure and shapes it was
    /// traced with) and returns a result of the traced function's structure.
    pub fn run(&self, args: &[Value]) -> R<Value> {
        match super::replay::replay(&self.graph, &Self::inputs_of(args)?)? {
            super::replay::Replay::Done(outputs) => self.result_from(outputs),
            super::replay::Replay::Diverged { node, got } => {
                Err(super::replay::diverged_error(&self.graph, &self.sources, node, &got))
            }
        }
    }

    /// When `args` do not give the graph as many inputs as it has, the
    /// first argument that is (or holds) something other than a float or
    /// tensor, with the report for it: that is the likelier mistake than the
    /// count (`run_graph(g, "a")` gives a string, not zero inputs).
    pub fn foreign_argument(&self, args: &[Value]) -> Option<(usize, Diagnostic)> {
        let wanted = self.graph.inputs.len();
        if Self::inputs_of(args).is_ok_and(|inputs| inputs.len() == wanted) {
            return None;
        }
        let first_foreign = |a: &Value| {
            let mut first = None;
            let walked = tree::for_each_leaf(a, &mut |x| {
                if first.is_none() && !is_array_leaf(x) {
                    first = Some(x.describe());
                }
            });
            walked.ok().and(first)
        };
        let (k, a, leaf) = args
            .iter()
            .enumerate()
            .find_map(|(k, a)| first_foreign(a).map(|leaf| (k, a, leaf)))?;
        let (message, label) = match a.peek() {
            Value::Tuple(_) | Value::Dict(_) => (
                format!(
                    "`run_graph` expects the graph's inputs to be floats or tensors, found {leaf} in a {}",
                    a.type_name()
                ),
                format!("this {} holds {leaf}", a.type_name()),
            ),
            _ => (
                format!("`run_graph` expects the graph's inputs to be floats or tensors, found {leaf}"),
                format!("this is {leaf}"),
            ),
        };
        let d = Diagnostic::new(ErrorKind::Type, message).with_label(label).with_note(format!(
            "the graph has {wanted} input{}: the float and tensor leaves of the arguments, in the order they were traced",
            if wanted == 1 { "" } else { "s" }
        ));
        Some((k, d))
    }

    /// When `args` differ from the traced call's other than in their input
    /// leaves (a different count, structure, int, string, bool or
    /// function), the position of the first that does, with the report for
    /// it: the graph computed with the traced value, so running it on
    /// another would silently give the traced value's answer.
    pub fn changed_argument(&self, args: &[Value]) -> Option<(usize, Diagnostic)> {
        if args.len() != self.traced_args.len() {
            let n = self.traced_args.len();
            let d = Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "`run_graph` was given {} argument{} for a graph traced with {n}",
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                ),
            );
            // The first extra argument, or (too few) the call.
            return Some((if args.len() > n { n } else { usize::MAX - 1 }, d));
        }
        let names = ["the traced argument", "this argument"];
        self.traced_args
            .iter()
            .zip(args)
            .enumerate()
            .find_map(|(k, (traced, given))| {
                let compared = tree::map_many_named(&[traced.clone(), given.clone()], &names, &mut |pair, path| {
                    let (t, g) = (&pair[0], &pair[1]);
                    if self.leaves.takes(t) || crate::autodiff::jit::signature::identical(t.peek(), g.peek()) {
                        return Ok(Value::None);
                    }
                    let at = if path.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", tree::path_string(path))
                    };
                    Err(Diagnostic::new(
                        ErrorKind::Value,
                        format!(
                            "argument {k} of `run_graph`{at} is {}, but the graph was traced with {}: \
                         it computes with the traced value",
                            short_repr(g),
                            short_repr(t)
                        ),
                    )
                    .with_help(
                        "trace the function again for another value, or call `jit(f)`, which traces once per value",
                    ))
                });
                compared.err().map(|d| (k, d))
            })
    }

    /// The graph's inputs in `args`: their float and tensor leaves, in order.
    pub fn inputs_of(args: &[Value]) -> R<Vec<Value>> {
        let mut inputs = Vec::new();
        for a in args {
            tree::for_each_leaf(a, &mut |x| {
                if is_array_leaf(x) {
                    inputs.push(crate::ops::num(x));
                }
            })?;
        }
        Ok(inputs)
    }

    /// The traced function's result with its float and tensor leaves taken
    /// from `outputs` (the graph's outputs, in order).
    pub fn result_from(&self, outputs: Vec<Value>) -> R<Value> {
        let mut next = outputs.into_iter();
        tree::rebuild_leaves(&self.result, &mut |x| {
            if self.leaves.gives(x) {
                next.next().unwrap_or(Value::None)
            } else {
                x.clone()
            }
        })
    }

    /// The one-line summary printed above the table.
    pub fn headline(&self) -> String {
        let g = &self.graph;
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let mut s = format!(
            "graph of {}: {}, {}, {}",
            self.name,
            plural(g.tape.nodes.len(), "node"),
            plural(g.inputs.len(), "input"),
            plural(g.outputs.len(), "output"),
        );
        if !self.optimized.is_empty() {
            s.push_str(&format!(" (optimized: {})", self.optimized.join(", ")));
        }
        s
    }
}

impl Object for TracedGraph {
    fn type_name(&self) -> &'static str {
        "graph"
    }

    fn write_repr(&self, out: &mut String) {
        out.push_str(&self.headline());
        out.push('\n');
        out.push_str(graph::to_table(&self.graph, &self.sources).trim_end());
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Runs `f` on `args` with every float and tensor leaf of the positional
/// arguments (and the other leaves `leaves` takes) an input of a fresh
/// recording level and returns the recorded graph.
/// `v` as `repr` shows it, cut to a length that fits in a message.
fn short_repr(v: &Value) -> String {
    let r = v.repr();
    match r.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &r[..cut]),
        None => r,
    }
}

/// `args` with every leaf that `leaves` takes as an input replaced by `0.0`.
fn traced_arguments(args: &Args, leaves: Leaves) -> R<Vec<Value>> {
    args.pos
        .iter()
        .map(|a| {
            tree::map_leaves(a, &mut |x, _| {
                Ok(if leaves.takes(x) { Value::Float(0.0) } else { x.clone() })
            })
        })
        .collect()
}

pub fn trace_call(it: &mut Interp, f: &Value, name: String, args: Args, leaves: Leaves) -> R<TracedGraph> {
    let traced_args = traced_arguments(&args, leaves)?;
    let (level, previous) = it.diff.begin_trace();
    let mut inputs = Vec::new();
    let mut call_args = args.clone();
    let wrapped: R<()> = (|| {
        let kw = call_args.kw.iter_mut().map(|(_, v)| v).filter(|_| leaves.keywords);
        for a in call_args.pos.iter_mut().chain(kw) {
            *a = tree::map_leaves(a, &mut |x, _| {
                if leaves.takes(x) {
                    let (t, id) = trace_input(&level, leaves.input(x));
                    inputs.push(id);
                    Ok(t)
                } else {
                    Ok(x.clone())
                }
            })?;
        }
        Ok(())
    })();
    // The result is read while the level records: afterwards its tracers are constants.
    let mut leaves = leaves;
    let result = wrapped.and_then(|()| it.call(f, call_args)).and_then(|out| {
        // An int the trace computed from its inputs must come from the graph.
        tree::map_leaves(&out, &mut |x, _| {
            if matches!(x.peek(), Value::Int(_)) && node_at(x, &level).is_some() {
                leaves.computed_ints = true;
            }
            Ok(Value::None)
        })?;
        let mut outputs = Vec::new();
        let result = tree::map_leaves(&out, &mut |x, _| {
            if leaves.gives(x) {
                outputs.push(match node_at(x, &level) {
                    Some(n) => AdjointRef::Node(n),
                    None => AdjointRef::Const(trace::unwrap_level(x, &level).peek().clone()),
                });
            }
            Ok(trace::unwrap_level(x, &level))
        })?;
        Ok((outputs, result))
    });
    let mut graph = it.diff.end_trace(previous);
    let (outputs, result) = result?;
    graph.outputs = outputs;
    graph.inputs = inputs;
    Ok(TracedGraph {
        name,
        graph,
        sources: it.sources.clone(),
        optimized: Vec::new(),
        result,
        leaves,
        traced_args,
    })
}
