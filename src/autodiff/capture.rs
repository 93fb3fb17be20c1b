//! Capturing the extended computational graph of one differentiation, for
//! `dp graph`, the REPL's `:graph` and the `graph` view of a program.
//!
//! The capture is itself a reverse-mode level that is never differentiated:
//! when armed, the first differentiation to start gets a *recording level*
//! just outside it. Its inputs (and the seeds of its backward passes) are
//! wrapped as inputs of the recording level, so everything computed from them
//! — the forward pass, and the backward pass too, because derivative rules
//! use the same operations as user code — lands on the recording tape. That
//! tape is the lecture's extended graph. Alongside, the capture notes what
//! only the backward pass knows: which node holds the complete adjoint of
//! which forward node (`v̄2`), which additions sum partial adjoints, and where
//! each backward pass began and ended.

use super::trace::{Level, Tape, TapeGuard, TraceKind};
use crate::syntax::span::Span;
use crate::value::Value;
use std::collections::HashSet;
use std::rc::Rc;

/// A reference to what an adjoint is: a node of the recording tape, or a
/// constant (a seed of 1 is a node; a constant comes from rules that build
/// their result from nothing recorded).
#[derive(Clone, Debug)]
pub enum AdjointRef {
    /// The node of the recording tape holding the adjoint.
    Node(u32),
    /// An adjoint computed from constants only.
    Const(Value),
}

/// "In backward pass `pass`, the adjoint of node `of` is `adjoint`",
/// noted when the backward pass finished accumulating it.
#[derive(Clone, Debug)]
pub struct AdjointNote {
    /// The backward pass (1 for the first one to run).
    pub pass: u32,
    /// The node of the recording tape whose adjoint this is.
    pub of: u32,
    /// The adjoint.
    pub adjoint: AdjointRef,
    /// The recording tape's length when noted (for ordering the table).
    pub at: usize,
}

/// One backward pass seen by the capture.
#[derive(Clone, Debug)]
pub struct Pass {
    /// Numbered in the order the passes began, from 1.
    pub number: u32,
    /// The expression that started the differentiation this pass belongs to.
    pub span: Span,
    /// The recording tape's length when the pass began and ended: the
    /// nodes in between were computed by the backward pass.
    pub begin: usize,
    /// See `begin`.
    pub end: usize,
}

/// The extended graph of one differentiation, as captured.
#[derive(Debug, Default)]
pub struct Extended {
    /// Every node: the forward pass and every backward pass.
    pub tape: Tape,
    /// Which node holds which adjoint, in the order the backward passes completed them.
    pub adjoints: Vec<AdjointNote>,
    /// The backward passes.
    pub passes: Vec<Pass>,
    /// Nodes that sum partial adjoints (a value with several consumers).
    pub sums: HashSet<u32>,
    /// Nodes that seed a backward pass (the output's adjoint, e.g. 1).
    pub seeds: HashSet<u32>,
    /// The inputs the graph is a function of, in order: the arguments of
    /// `trace(f)(...)`, or for a captured differentiation every input that
    /// is not a seed. Other inputs of the tape (values from outside, such as
    /// a closure's tensor entering a `grad` inside a trace) are constants.
    pub inputs: Vec<u32>,
    /// Nodes whose value the traced code read as a plain value to decide
    /// something (`if x > 0`): a graph run again on new inputs checks that
    /// each comes out as recorded, since the code after it depends on it.
    pub guards: HashSet<u32>,
    /// Values of nodes that code outside the primitives read (to convert,
    /// print or index with them), and where: guards too, since what the
    /// code did with them is not in the graph.
    pub reads: Vec<(u32, Span)>,
    /// What the graph computes, in order (a traced function's result
    /// leaves); empty for a captured differentiation, whose results are the
    /// adjoints of its inputs.
    pub outputs: Vec<AdjointRef>,
}

impl Extended {
    /// The nodes among the graph's outputs (constant outputs have none).
    pub fn output_nodes(&self) -> Vec<u32> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                AdjointRef::Node(n) => Some(*n),
                AdjointRef::Const(_) => None,
            })
            .collect()
    }

    /// Completes the graph of a captured differentiation: every input that
    /// is not a seed is a variable input.
    pub fn with_leaf_inputs(mut self) -> Extended {
        if self.inputs.is_empty() {
            self.inputs = (0..self.tape.nodes.len() as u32)
                .filter(|&i| self.tape.nodes[i as usize].op.is_leaf() && !self.seeds.contains(&i))
                .collect();
        }
        self
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Capture::Off => "Capture::Off",
            Capture::Armed => "Capture::Armed",
            Capture::Recording(_) => "Capture::Recording",
            Capture::Done(_) => "Capture::Done",
        })
    }
}

/// The capture's state, held by the differentiation context.
#[derive(Default)]
pub enum Capture {
    /// Not capturing.
    #[default]
    Off,
    /// The next differentiation to start will be captured.
    Armed,
    /// Recording the differentiation whose level is `owner`, until its
    /// first backward pass ends (or the graph is asked for).
    Recording(Box<Recording>),
    /// Finished: the captured graph waits to be taken.
    Done(Box<Extended>),
}

/// A capture in progress.
pub struct Recording {
    record: TapeGuard,
    owner: u32,
    graph: Extended,
    /// Passes still running (innermost last): their index in `graph.passes`.
    open: Vec<usize>,
    /// Where each captured differentiation (by level) was started.
    starts: Vec<(u32, Span)>,
}

impl Capture {
    /// Whether the next differentiation should be captured.
    pub fn is_armed(&self) -> bool {
        matches!(self, Capture::Armed)
    }

    /// Starts recording for the differentiation of level `owner`, with the
    /// recording level (started just before it, so it is outside) `record`.
    pub fn begin(&mut self, record: TapeGuard, owner: u32, span: Span) {
        *self = Capture::Recording(Box::new(Recording {
            record,
            owner,
            graph: Extended::default(),
            open: Vec::new(),
            starts: vec![(owner, span)],
        }));
    }

    /// A differentiation (of level `id`) started at `span` inside the captured one.
    pub fn note_start(&mut self, id: u32, span: Span) {
        if let Capture::Recording(r) = self {
            r.starts.push((id, span));
        }
    }

    /// The recording level, while recording.
    pub fn level(&self) -> Option<Rc<Level>> {
        match self {
            Capture::Recording(r) => Some(r.record.level.clone()),
            _ => None,
        }
    }

    /// Starts recording a trace on the level of `record`: unlike a captured
    /// differentiation it never completes by itself (level ids start at 1,
    /// so owner 0 is no pass's), only when the trace ends.
    pub fn begin_trace(&mut self, record: TapeGuard, span: Span) {
        self.begin(record, 0, span);
    }

    /// Takes the recording out (the caller finishes its level outside any
    /// borrow of the capture and hands the graph back with [`Capture::finished`]).
    pub fn take_recording(&mut self) -> Option<(TapeGuard, Extended)> {
        match std::mem::take(self) {
            Capture::Recording(r) => {
                let Recording { record, graph, .. } = *r;
                Some((record, graph))
            }
            other => {
                *self = other;
                None
            }
        }
    }

    /// Keeps the finished graph.
    pub fn finished(&mut self, graph: Extended) {
        *self = Capture::Done(Box::new(graph));
    }

    /// The captured graph, once complete.
    pub fn take(&mut self) -> Option<Extended> {
        match std::mem::take(self) {
            Capture::Done(g) => Some(*g),
            other => {
                *self = other;
                None
            }
        }
    }

    /// The backward pass of level `level` begins; returns its number.
    pub fn pass_begin(&mut self, level: u32) -> Option<u32> {
        let Capture::Recording(r) = self else { return None };
        let span = r
            .starts
            .iter()
            .rev()
            .find(|(id, _)| *id == level)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let number = r.graph.passes.len() as u32 + 1;
        let at = r.record.level.tape_len();
        r.graph.passes.push(Pass {
            number,
            span,
            begin: at,
            end: at,
        });
        r.open.push(r.graph.passes.len() - 1);
        Some(number)
    }

    /// The backward pass `number` of level `level` ended; true when it was
    /// the captured differentiation's own, which completes the capture.
    pub fn pass_end(&mut self, number: u32, level: u32) -> bool {
        let Capture::Recording(r) = self else { return false };
        let at = r.record.level.tape_len();
        if let Some(k) = r.open.iter().rposition(|&k| r.graph.passes[k].number == number) {
            let k = r.open.remove(k);
            r.graph.passes[k].end = at;
        }
        level == r.owner
    }

    /// In pass `pass`, the adjoint of `value` (a forward value of the
    /// differentiated level, unwrapped by it) is complete and is `adjoint`.
    pub fn note_adjoint(&mut self, pass: u32, value: &Value, adjoint: &Value) {
        let Capture::Recording(r) = self else { return };
        let level = &r.record.level;
        let Some(of) = node_on(value, level) else { return };
        let adjoint = match node_on(adjoint, level) {
            Some(n) => AdjointRef::Node(n),
            None => AdjointRef::Const(adjoint.peek().clone()),
        };
        let at = level.tape_len();
        r.graph.adjoints.push(AdjointNote { pass, of, adjoint, at });
    }

    /// `sum` (a value) is a sum of partial adjoints.
    pub fn note_sum(&mut self, sum: &Value) {
        let Capture::Recording(r) = self else { return };
        if let Some(n) = node_on(sum, &r.record.level) {
            r.graph.sums.insert(n);
        }
    }

    /// Node `node` of the recording level `level` is a guard (see [`Extended::guards`]).
    pub fn note_guard(&mut self, level: u32, node: u32) {
        let Capture::Recording(r) = self else { return };
        if r.record.level.id == level {
            r.graph.guards.insert(node);
        }
    }

    /// Node `node` of the recording level `level` was read by code outside
    /// the primitives at `span` (see [`Extended::reads`]).
    pub fn note_read(&mut self, level: u32, node: u32, span: Span) {
        let Capture::Recording(r) = self else { return };
        if r.record.level.id == level {
            r.graph.guards.insert(node);
            r.graph.reads.push((node, span));
        }
    }

    /// `seed` (a value) is the seed of a backward pass.
    pub fn note_seed(&mut self, seed: &Value) {
        let Capture::Recording(r) = self else { return };
        if let Some(n) = node_on(seed, &r.record.level) {
            r.graph.seeds.insert(n);
        }
    }
}

/// The node of `level`'s tape that produced `v`, looking through the
/// tracers of other levels wrapped around it.
fn node_on(v: &Value, level: &Rc<Level>) -> Option<u32> {
    let mut v = v;
    while let Value::Dual(t) = v {
        if std::ptr::eq(&*t.level, &**level) {
            return match t.kind {
                TraceKind::Reverse(n) => Some(n),
                _ => None,
            };
        }
        v = &t.primal;
    }
    None
}

/// Whether `v` should become an input of the recording `level`: it is not
/// already computed on it, and no level started after it wraps `v` (such a
/// value is an inner differentiation's, built from recorded values).
pub fn is_outside(v: &Value, level: &Level) -> bool {
    match v {
        Value::Dual(t) => t.level.id < level.id,
        _ => true,
    }
}
