//! Levels, tracers and tapes.
//!
//! Each active `grad`/`vjp`/`jvp` call owns one *level*, numbered in the order
//! the calls began, so an inner differentiation always has a higher level than
//! the ones enclosing it. A value being differentiated at level `L` is a
//! [`Tracer`] whose primal may itself be a tracer of a lower (outer) level.
//! A primitive applied to tracers is handled at the highest level present:
//! the arguments are unwrapped by one level, the primitive is applied to the
//! unwrapped values (recursively handling outer levels), and the result is
//! wrapped again — recorded on the level's tape (reverse mode) or paired
//! with its tangent (forward mode). Values of other levels are constants to
//! a level, which is what keeps nested derivatives free of perturbation
//! confusion.

use super::capture::{self, Capture, Extended};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::prim::{apply, Prim};
use crate::syntax::span::Span;
use crate::value::Value;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// How a tracer carries its derivative information.
#[derive(Debug)]
pub enum TraceKind {
    /// Reverse mode: the index of the node that produced the value on its level's tape.
    Reverse(u32),
    /// Forward mode: the tangent (same shape as the primal).
    Forward(Value),
    /// Batched (`vmap`): the primal holds every example, stacked along its
    /// leading axis. The batch axis is always the leading one: `vmap` moves
    /// the axes it is given there once, so no batching rule tracks axes.
    Batched,
}

/// A float or tensor being differentiated at one level.
#[derive(Debug)]
pub struct Tracer {
    /// The level (differentiation call) this tracer belongs to.
    pub level: Rc<Level>,
    /// The value, possibly a tracer of an outer level.
    pub primal: Value,
    /// Node or tangent.
    pub kind: TraceKind,
}

impl Tracer {
    /// Whether code outside the primitives that reads this value must say
    /// so (see [`Tracer::note_read`]): the tracer is a running trace's.
    #[inline(always)]
    pub fn watched(&self) -> bool {
        self.level.records_all.get() || self.level.transposing.get()
    }

    /// Code outside the primitives reads this value, a running trace's: the
    /// trace's graph cannot replay what that code did with it, so its node
    /// becomes a guard (see [`super::capture::Extended::reads`]).
    #[cold]
    #[inline(never)]
    pub fn note_read(&self) {
        if !self.level.active.get() {
            return;
        }
        if self.level.transposing.get() {
            self.level.note_tangent_read();
        }
        if let TraceKind::Reverse(n) = self.kind {
            let ctx = &self.level.ctx;
            let span = ctx.span();
            ctx.capturing(|c| c.note_read(self.level.id, n, span));
        }
    }
}

/// What a recorded node applied.
#[derive(Clone, Debug)]
pub enum Op {
    /// A primitive, differentiated by its own VJP rule.
    Prim(Prim),
    /// A function with a user-defined or recomputing backward pass
    /// (`custom_vjp`, `custom_jvp`, `checkpoint`): one node for the whole call.
    Custom(Rc<Custom>),
    /// Output leaf `k` of the custom node that is this node's only parent:
    /// its adjoint is handed to that node's pullback as cotangent `k`.
    Output(usize),
}

impl Op {
    /// How errors and `dp graph` name the operation.
    pub fn name(&self) -> String {
        match self {
            Op::Prim(p) => p.name(),
            Op::Custom(c) => c.name.clone(),
            Op::Output(k) => format!("output {k}"),
        }
    }

    /// Whether this is an input of the differentiation.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Prim(p) if p.is_leaf())
    }
}

/// The backward pass of a [`Custom`] node: from the cotangent of each
/// output leaf (`None`: zero) to the cotangent of each input (`None`: zero).
pub type Pullback = dyn Fn(&mut Interp, Vec<Option<Value>>) -> Result<Vec<Option<Value>>, Diagnostic>;

/// A call recorded as one node whose backward pass runs dp code
/// (the user's rule, or a recomputation of the function).
pub struct Custom {
    /// For reports and graphs, e.g. `custom_vjp(clip)`.
    pub name: String,
    /// How many output leaves the call has (one [`Op::Output`] node each).
    pub n_out: usize,
    /// The backward pass.
    pub pullback: Box<Pullback>,
}

impl std::fmt::Debug for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} with {} outputs>", self.name, self.n_out)
    }
}

/// One recorded primitive application.
#[derive(Debug)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// Its arguments, unwrapped by this level (outer-level tracers stay, so the backward pass is recorded by them).
    pub inputs: SmallVec<[Value; 2]>,
    /// For each argument, the node that produced it on this tape (`None`: a constant here).
    pub parents: SmallVec<[Option<u32>; 2]>,
    /// The result, unwrapped by this level.
    pub out: Value,
    /// The source expression that applied the primitive.
    pub span: Span,
}

/// The record of one reverse-mode level.
#[derive(Debug, Default)]
pub struct Tape {
    /// The level.
    pub level: u32,
    /// Nodes in the order they were applied (a topological order).
    pub nodes: Vec<Node>,
}

/// The differentiation state of one interpreter: level numbering, the
/// debug-NaN switch, the graph capture of `dp graph` and the source
/// expression currently applying primitives. The interpreter owns it
/// (`Interp::diff`); the levels it starts hold it too, so a primitive applied
/// to a tracer reaches it through the tracer.
#[derive(Debug)]
pub struct DiffCtx {
    next_level: Cell<u32>,
    span: Cell<Span>,
    debug_nans: Cell<bool>,
    /// How many derivative rules (VJPs and JVPs of primitives, written in
    /// Rust) are running: see [`DiffCtx::in_rule`].
    rule_depth: Cell<u32>,
    /// The extended-graph capture of `dp graph` and `:graph`.
    capture: RefCell<Capture>,
}

impl Default for DiffCtx {
    fn default() -> DiffCtx {
        DiffCtx {
            next_level: Cell::new(1),
            span: Cell::new(Span::default()),
            debug_nans: Cell::new(false),
            rule_depth: Cell::new(0),
            capture: RefCell::new(Capture::Off),
        }
    }
}

impl DiffCtx {
    /// Records which source expression is applying primitives (for the nodes it records).
    pub fn set_span(&self, span: Span) {
        self.span.set(span);
    }

    /// The expression currently applying primitives.
    pub fn span(&self) -> Span {
        self.span.get()
    }

    /// Runs `f`, a primitive's derivative rule. A rule only computes with the
    /// scalar masks it makes (`x > 0` in relu's), it never branches on them, so
    /// a trace records such a mask as data flowing into the rule's arithmetic
    /// rather than as a guard: a plan replaying the rule then recomputes the
    /// mask for new inputs instead of retracing whenever it flips.
    fn in_rule<T>(&self, f: impl FnOnce() -> T) -> T {
        self.rule_depth.set(self.rule_depth.get() + 1);
        let r = f();
        self.rule_depth.set(self.rule_depth.get() - 1);
        r
    }

    /// Whether backward passes check every adjoint for nan/inf (`debug_nans(true)`).
    pub fn debug_nans(&self) -> bool {
        self.debug_nans.get()
    }

    /// Turns nan/inf checking of adjoints on or off.
    pub fn set_debug_nans(&self, on: bool) {
        self.debug_nans.set(on);
    }

    /// Arms the capture: the next differentiation to start is recorded with
    /// its backward passes, for [`DiffCtx::take_captured`].
    pub fn start_capture(&self) {
        *self.capture.borrow_mut() = Capture::Armed;
    }

    /// Whether `dp graph` waits for the first differentiation to record
    /// (a jitted function then runs as plain code, so that a `grad` inside
    /// it is the one shown rather than hidden in a plan's trace).
    pub fn capture_armed(&self) -> bool {
        self.capture.try_borrow().is_ok_and(|c| matches!(*c, Capture::Armed))
    }

    /// The captured extended graph: complete once the captured
    /// differentiation's backward pass ended, or as far as it got.
    pub fn take_captured(&self) -> Option<Extended> {
        self.finish_capture();
        self.capture.borrow_mut().take().map(Extended::with_leaf_inputs)
    }

    /// Starts a trace (`trace(f)(...)`): a recording level, on which
    /// everything computed from the values made its inputs (with
    /// [`trace_input`]) is recorded, together with the adjoint notes of every
    /// backward pass run meanwhile. Returns the level and the capture state
    /// to hand back to [`DiffCtx::end_trace`] (a trace inside `dp graph`'s
    /// capture suspends it).
    pub fn begin_trace(self: &Rc<Self>) -> (Rc<Level>, Capture) {
        let record = new_tape(self);
        record.level.records_all.set(true);
        let level = record.level.clone();
        let mut c = self.capture.borrow_mut();
        let previous = std::mem::take(&mut *c);
        c.begin_trace(record, self.span());
        (level, previous)
    }

    /// Ends the trace begun by [`DiffCtx::begin_trace`] and returns its
    /// graph (inputs and outputs left for the caller to fill in).
    pub fn end_trace(&self, previous: Capture) -> Extended {
        let taken = self.capture.borrow_mut().take_recording();
        *self.capture.borrow_mut() = previous;
        match taken {
            Some((record, mut graph)) => {
                graph.tape = record.finish();
                graph
            }
            None => Extended::default(),
        }
    }

    /// Runs `f` on the capture while one is being recorded.
    fn capturing<T>(&self, f: impl FnOnce(&mut Capture) -> T) -> Option<T> {
        let mut c = self.capture.try_borrow_mut().ok()?;
        matches!(*c, Capture::Recording(_)).then(|| f(&mut c))
    }

    /// Completes a running capture: its recording level ends and the graph is kept.
    fn finish_capture(&self) {
        let taken = match self.capture.try_borrow_mut() {
            Ok(mut c) => c.take_recording(),
            Err(_) => None,
        };
        if let Some((record, mut graph)) = taken {
            graph.tape = record.finish();
            self.capture.borrow_mut().finished(graph);
        }
    }

    /// A seed of the backward pass of level `level`, made an input of the
    /// recording level so the pass's computations are recorded from it.
    fn capture_seed(&self, seed: Value, level: u32) -> Value {
        let seed = self.capture_input(seed, level);
        self.capturing(|c| c.note_seed(&seed));
        seed
    }

    /// `value`, made an input of the recording level if a capture is running
    /// and it comes from outside (see [`capture::is_outside`]).
    fn capture_input(&self, value: Value, level: u32) -> Value {
        let rec = self.capture.try_borrow().ok().and_then(|c| c.level());
        match rec {
            Some(rec) if rec.id != level && capture::is_outside(&value, &rec) => push_leaf(&rec, value).0,
            _ => value,
        }
    }

    /// A fresh level, numbered higher than every level started before.
    fn new_level(self: &Rc<Self>, tape: Option<Tape>, batch: Option<usize>) -> Rc<Level> {
        // Level numbers are never reused: a tracer that escaped its differentiation
        // (e.g. captured by a returned closure) must not be mistaken for a tracer
        // of a later one. A u32 allows four billion differentiation calls.
        let id = self.next_level.get();
        self.next_level.set(id.wrapping_add(1));
        Rc::new(Level {
            id,
            active: Cell::new(true),
            tape: tape.map(RefCell::new),
            batch,
            records_all: Cell::new(false),
            transposing: Cell::new(false),
            tangent_read: Cell::new(None),
            ctx: self.clone(),
        })
    }
}

/// One differentiation call (`grad`, `jvp`, ...): its number, whether it is
/// still running and, in reverse mode, its tape. Tracers point to their level.
#[derive(Debug)]
pub struct Level {
    /// Levels are numbered in the order their calls began: inner ones are higher.
    pub id: u32,
    /// False once the call has returned: its tracers are constants from then on.
    active: Cell<bool>,
    /// The tape of a reverse-mode level (`None`: forward or batch mode).
    tape: Option<RefCell<Tape>>,
    /// The batch size of a `vmap` level (`None`: a differentiation level).
    batch: Option<usize>,
    /// A `trace` level: it records everything computed from its inputs,
    /// also what no differentiation needs (comparisons, masks, `floor`,
    /// `stop_gradient`), so its tape is the whole computation.
    records_all: Cell<bool>,
    /// A tape transposing a `custom_jvp` rule (see [`Level::start_transposing`]).
    transposing: Cell<bool>,
    /// Where such a rule first read a value computed from its tangents.
    tangent_read: Cell<Option<Span>>,
    ctx: Rc<DiffCtx>,
}

/// Starts recording a reverse-mode level; the tape stays active until [`TapeGuard`] drops.
/// When the capture is armed, a recording level starts just outside it first.
pub fn start_tape(ctx: &Rc<DiffCtx>) -> TapeGuard {
    let armed = ctx.capture.try_borrow().is_ok_and(|c| c.is_armed());
    let record = armed.then(|| new_tape(ctx));
    let guard = new_tape(ctx);
    if let Some(record) = record {
        ctx.capture.borrow_mut().begin(record, guard.level.id, ctx.span());
    } else {
        ctx.capturing(|c| c.note_start(guard.level.id, ctx.span()));
    }
    guard
}

fn new_tape(ctx: &Rc<DiffCtx>) -> TapeGuard {
    let level = ctx.new_level(Some(Tape::default()), None);
    // Invariant: a reverse-mode level has a tape.
    if let Some(t) = &level.tape {
        t.borrow_mut().level = level.id;
    }
    TapeGuard { level }
}

/// Marks a forward-mode level active until the returned guard drops (also on errors).
pub fn start_forward(ctx: &Rc<DiffCtx>) -> ForwardGuard {
    ForwardGuard {
        level: ctx.new_level(None, None),
    }
}

/// Starts a batch level (`vmap`) of `size` examples, active until the guard drops.
pub fn start_batch(ctx: &Rc<DiffCtx>, size: usize) -> ForwardGuard {
    ForwardGuard {
        level: ctx.new_level(None, Some(size)),
    }
}

/// Wraps `value` (every example stacked along its leading axis) as a batched tracer of `level`.
pub fn batched(level: &Rc<Level>, value: Value) -> Value {
    Value::Dual(Rc::new(Tracer {
        level: level.clone(),
        primal: value,
        kind: TraceKind::Batched,
    }))
}

/// The batched value (leading axis: the examples) of `v` at batch `level`, if `v` is batched there.
pub fn batched_at(v: &Value, level: &Level) -> Option<Value> {
    match live(v) {
        Value::Dual(t) if of(t, level) && matches!(t.kind, TraceKind::Batched) => Some(t.primal.clone()),
        _ => None,
    }
}

/// Whether `v` holds a batched tracer of a running `vmap`: such a value
/// stands for one example among many and has no single concrete value.
pub fn is_batched(v: &Value) -> bool {
    let mut v = v;
    while let Value::Dual(t) = v {
        if matches!(t.kind, TraceKind::Batched) && t.level.active.get() {
            return true;
        }
        v = &t.primal;
    }
    false
}

/// The running batch levels of `v`, outermost first: their batch axes lead
/// `v`'s concrete data, in this order.
fn batch_levels(v: &Value) -> Vec<Rc<Level>> {
    let mut out = Vec::new();
    let mut v = v;
    while let Value::Dual(t) = v {
        if matches!(t.kind, TraceKind::Batched) && t.level.active.get() {
            out.push(t.level.clone());
        }
        v = &t.primal;
    }
    out.reverse();
    out
}

/// The innermost running `vmap` level that batches `v`, if any.
pub fn innermost_batch(v: &Value) -> Option<Rc<Level>> {
    batch_levels(v).pop()
}

/// How many leading axes of `v`'s concrete data are batch axes of running `vmap`s.
pub fn batch_axes(v: &Value) -> usize {
    batch_levels(v).len()
}

/// A value computed from `like`'s concrete data, batch axes in front
/// (a sign, an index: nothing to differentiate), made batched by the same
/// running `vmap` levels as `like`, so each example sees its own part.
pub fn rewrap_batches(like: &Value, plain: Value) -> Value {
    batch_levels(like).iter().fold(plain, |v, l| batched(l, v))
}

/// The wrapper of `v` that belongs to a running `trace`, with its node.
fn trace_wrapper(v: &Value) -> Option<(&Tracer, u32)> {
    let mut w = v;
    while let Value::Dual(t) = w {
        if t.level.records_all.get() && t.level.active.get() {
            return match t.kind {
                TraceKind::Reverse(id) => Some((t, id)),
                _ => None,
            };
        }
        w = &t.primal;
    }
    None
}

/// `v`, a value a running `trace` computed and then batched by `vmap`s
/// begun inside that trace (`jit(vmap(f))`), as the trace's own value: the
/// batch wrappers (and any differentiation wrappers) around the trace's
/// wrapper peeled off, so it holds every example stacked. A check of all
/// examples at once applied to it is recorded by the trace (a guard of a
/// jit plan) instead of reading the examples. `None` for a value no running
/// trace computed, or one still batched by a `vmap` the trace runs inside.
pub fn traced_examples(v: &Value) -> Option<Value> {
    let mut w = v;
    while let Value::Dual(t) = w {
        if t.level.records_all.get() && t.level.active.get() {
            let whole = matches!(t.kind, TraceKind::Reverse(_)) && !is_batched(&t.primal);
            return whole.then(|| w.clone());
        }
        w = &t.primal;
    }
    None
}

/// `v` (a value a running `trace` computed) is read to decide something,
/// such as the condition of an `if`: its node becomes a guard of the graph.
pub fn note_guard(v: &Value) {
    if let Some((t, id)) = trace_wrapper(v) {
        t.level.ctx.capturing(|c| c.note_guard(t.level.id, id));
    }
}

/// Whether `v` is a value a running `trace` computed (so a builtin that
/// reads its concrete data should compute through recorded primitives).
pub fn is_traced(v: &Value) -> bool {
    trace_wrapper(v).is_some()
}

/// `v` without its differentiation wrappers (a constant for every
/// derivative), but still batched by the running `vmap` levels it is batched
/// by: `strip` for values that must stay per-example (`stop_gradient`, masks).
pub fn strip_diff(v: &Value) -> Value {
    let Some((t, id)) = trace_wrapper(v) else {
        return rewrap_batches(v, v.peek().clone());
    };
    // To a running `trace` the value is still one it computed: keep it a
    // node of the trace, its wrapper where it was among the batch wrappers.
    // A level's wrapper lies outside those of the levels begun before it
    // (`lift` peels the newest level first), so the batches of `vmap`s
    // running inside the trace (`jit(vmap(f))`) wrap the traced value, and
    // those of `vmap`s it runs inside wrap the data within it. (The trace
    // outermost made a batched mask look unbatched to those inner `vmap`s:
    // `where(x > 0.5, x, 0.0)` in `jit(vmap(f))` broadcast the mask of the
    // whole batch against each example.)
    let (outer, inner): (Vec<Rc<Level>>, Vec<Rc<Level>>) = batch_levels(v).into_iter().partition(|b| b.id < t.level.id);
    let data = outer.iter().fold(v.peek().clone(), |x, l| batched(l, x));
    let traced = Value::Dual(Rc::new(Tracer {
        level: t.level.clone(),
        primal: data,
        kind: TraceKind::Reverse(id),
    }));
    inner.iter().fold(traced, |x, l| batched(l, x))
}

/// The shape of a numeric value as the code holding it sees it: the batch
/// axes of running `vmap` levels are not part of it (a batched tracer is one example).
pub fn shape_seen(v: &Value) -> Vec<usize> {
    match v {
        Value::Tensor(t) => t.shape().to_vec(),
        Value::Dual(t) => {
            let mut s = shape_seen(&t.primal);
            if matches!(t.kind, TraceKind::Batched) && t.level.active.get() && !s.is_empty() {
                s.remove(0);
            }
            s
        }
        _ => Vec::new(),
    }
}

/// Keeps a forward-mode level active; dropping it ends the level, so its
/// tracers that escape (in closures) act as their primals from then on.
pub struct ForwardGuard {
    /// The level.
    pub level: Rc<Level>,
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        self.level.active.set(false);
    }
}

/// Keeps a tape active; dropping it (also on errors) stops recording.
pub struct TapeGuard {
    /// The level.
    pub level: Rc<Level>,
}

impl TapeGuard {
    /// Stops recording and hands over the tape.
    pub fn finish(self) -> Tape {
        self.level.active.set(false);
        let tape = match &self.level.tape {
            Some(t) => std::mem::take(&mut *t.borrow_mut()),
            None => Tape::default(),
        };
        tape
    }
}

impl Drop for TapeGuard {
    fn drop(&mut self) {
        self.level.active.set(false);
    }
}

/// `v` without the wrappers of finished levels on the outside, which are constants now.
fn live(v: &Value) -> &Value {
    let mut v = v;
    while let Value::Dual(t) = v {
        if t.level.active.get() {
            break;
        }
        v = &t.primal;
    }
    v
}

/// Makes `value` an input of the trace `level` (see [`DiffCtx::begin_trace`]).
pub fn trace_input(level: &Rc<Level>, value: Value) -> (Value, u32) {
    push_leaf(level, value)
}

/// Records a new input of a reverse-mode level and returns its tracer.
pub fn leaf(guard: &TapeGuard, value: Value) -> (Value, u32) {
    let value = guard.level.ctx.capture_input(value, guard.level.id);
    push_leaf(&guard.level, value)
}

fn push_leaf(level: &Rc<Level>, value: Value) -> (Value, u32) {
    let id = match &level.tape {
        Some(tape) => {
            let mut t = tape.borrow_mut();
            let id = t.nodes.len() as u32;
            t.nodes.push(Node {
                op: Op::Prim(Prim::Leaf(crate::prim::Leaf)),
                inputs: SmallVec::new(),
                parents: SmallVec::new(),
                out: value.clone(),
                span: level.ctx.span(),
            });
            id
        }
        // Only reverse-mode levels (which have a tape) get leaves.
        None => 0,
    };
    (
        Value::Dual(Rc::new(Tracer {
            level: level.clone(),
            primal: value,
            kind: TraceKind::Reverse(id),
        })),
        id,
    )
}

/// Wraps `primal` as a forward-mode tracer of `level` with `tangent`. The
/// level must be active ([`start_forward`]) for the tangent to be pushed forward.
pub fn dual(level: &Rc<Level>, primal: Value, tangent: Value) -> Value {
    Value::Dual(Rc::new(Tracer {
        level: level.clone(),
        primal,
        kind: TraceKind::Forward(tangent),
    }))
}

/// Whether `t` belongs to `level`.
fn of(t: &Tracer, level: &Level) -> bool {
    std::ptr::eq(&*t.level, level)
}

/// Removes the wrapper of `level` from `v` (other levels are left alone).
fn peel(v: &Value, level: &Level) -> Value {
    match v {
        Value::Dual(t) if of(t, level) => t.primal.clone(),
        other => other.clone(),
    }
}

/// The value of `v` outside the active `level`: its wrapper of `level` and
/// those of finished levels around it are removed (active outer levels stay).
pub fn unwrap_level(v: &Value, level: &Level) -> Value {
    peel(live(v), level)
}

/// The reverse-mode node of `v` at `level`, if `v` was produced on that level.
pub fn node_at(v: &Value, level: &Level) -> Option<u32> {
    own(live(v), level, node_of)
}

/// The forward-mode tangent of `v` at `level` (`None`: a constant, zero tangent).
pub fn tangent_at(v: &Value, level: &Level) -> Option<Value> {
    own(live(v), level, tangent_of)
}

/// Applies `prim` at the highest level among the tracers in `args`.
pub fn lift(prim: &Prim, args: &[Value]) -> Result<Value, Diagnostic> {
    let mut top: Option<&Rc<Level>> = None;
    for a in args {
        if let Value::Dual(t) = a {
            if top.is_none_or(|l| t.level.id > l.id) {
                top = Some(&t.level);
            }
        }
    }
    let Some(level) = top else {
        return crate::prim::raw(prim, args);
    };
    let primals: SmallVec<[Value; 2]> = args.iter().map(|a| peel(a, level)).collect();
    // Tracers that outlived their differentiation call (captured by a
    // returned closure, say) are constants: compute with their primals,
    // which carry any enclosing level that is still active.
    if !level.active.get() {
        return apply(prim, &primals);
    }
    if let Some(size) = level.batch {
        let bat: SmallVec<[bool; 3]> = args
            .iter()
            .map(|a| matches!(a, Value::Dual(t) if of(t, level)))
            .collect();
        let out = crate::prim::batch(prim, &primals, &bat, size)?;
        return Ok(batched(level, out));
    }
    let Some(tape) = &level.tape else {
        let out = apply(prim, &primals)?;
        if crate::prim::is_bool(&out) {
            // Bools are not differentiable: they never carry a tangent.
            return Ok(out);
        }
        let tangents: Vec<Option<Value>> = args.iter().map(|a| own(a, level, tangent_of)).collect();
        let tangent = level
            .ctx
            .in_rule(|| crate::prim::jvp(prim, &primals, &tangents, &out))?;
        return Ok(match tangent {
            Some(t) => dual(level, out, t),
            None => out,
        });
    };
    let out = apply(prim, &primals)?;
    let constant = crate::prim::zero_derivative(prim) || crate::prim::is_bool(&out);
    if constant && level.transposing.get() && args.iter().any(|a| own(a, level, node_of).is_some()) {
        // A comparison, `floor`, `sign`... of a tangent: not linear in it.
        level.note_tangent_read();
    }
    if constant && !level.records_all.get() {
        return Ok(out);
    }
    let parents: SmallVec<[Option<u32>; 2]> = args.iter().map(|a| own(a, level, node_of)).collect();
    let mut t = tape.borrow_mut();
    let id = t.nodes.len() as u32;
    t.nodes.push(Node {
        op: Op::Prim(prim.clone()),
        inputs: primals,
        parents,
        out: out.clone(),
        span: level.ctx.span(),
    });
    drop(t);
    let rule_mask = level.ctx.rule_depth.get() > 0 && matches!(out, Value::Float(_));
    // A draw's number is data, never a condition; so are a float without a
    // derivative (`floor(x)` of a scalar: as a guard, a jit plan retraced
    // for every new value of it) and a position (`argmax(x, axis=0)` of a
    // vector, which may index).
    let data = matches!(out, Value::Tensor(_) | Value::Int(_) | Value::Key(_) | Value::Float(_))
        || matches!(prim, Prim::Random(_) | Prim::Order(_));
    if constant && !data && !rule_mask {
        // A trace keeps values without a derivative (masks, `floor(x)`)
        // as nodes; a scalar bool stays plain for `if` and `while` to read,
        // and its node is a guard of the graph. (A derivative rule's scalar
        // mask stays a traced value: see `DiffCtx::in_rule`; so does an int
        // computed from a jit plan's int inputs, see `ops::arith::is_traced_int`,
        // and a key or number drawn from its key inputs, see `prim::Random`.)
        level.ctx.capturing(|c| c.note_guard(level.id, id));
        return Ok(out);
    }
    Ok(Value::Dual(Rc::new(Tracer {
        level: level.clone(),
        primal: out,
        kind: TraceKind::Reverse(id),
    })))
}

/// `part` of `v`'s tracer when `v` is a tracer of `level` itself.
fn own<T>(v: &Value, level: &Level, part: fn(&Tracer) -> Option<T>) -> Option<T> {
    match v {
        Value::Dual(t) if of(t, level) => part(t),
        _ => None,
    }
}

fn node_of(t: &Tracer) -> Option<u32> {
    match t.kind {
        TraceKind::Reverse(n) => Some(n),
        TraceKind::Forward(_) | TraceKind::Batched => None,
    }
}

fn tangent_of(t: &Tracer) -> Option<Value> {
    match &t.kind {
        TraceKind::Forward(tan) => Some(tan.clone()),
        TraceKind::Reverse(_) | TraceKind::Batched => None,
    }
}

/// Runs the backward pass over `tape` from the given (node, cotangent) seeds and
/// returns the adjoint of every node (`None`: symbolically zero). The adjoint
/// rules apply ordinary primitives, so an enclosing level records them; the
/// pullbacks of custom nodes run dp code through the interpreter.
pub fn backward(it: &mut Interp, tape: &Tape, seeds: Vec<(u32, Value)>) -> Result<Vec<Option<Value>>, Diagnostic> {
    let mut adj: Vec<Option<Value>> = vec![None; tape.nodes.len()];
    // Cotangents of the output leaves of custom nodes, gathered by their `Output` nodes.
    let outs: std::collections::HashMap<usize, Vec<Option<Value>>> = std::collections::HashMap::new();
    let mut highest = 0;
    let ctx = it.diff.clone();
    let pass = ctx.capturing(|c| c.pass_begin(tape.level)).flatten();
    for (node, g) in seeds {
        let i = node as usize;
        highest = highest.max(i + 1);
        let g = match pass {
            Some(_) => ctx.capture_seed(g, tape.level),
            None => g,
        };
        accumulate(&mut adj[i], g, None)?;
    }
    let result = backward_nodes(it, tape, adj, outs, highest, pass);
    if let Some(p) = pass {
        if ctx.capturing(|c| c.pass_end(p, tape.level)) == Some(true) {
            ctx.finish_capture();
        }
    }
    result
}

/// The loop of [`backward`] over the nodes, from the highest seeded one down.
fn backward_nodes(
    it: &mut Interp,
    tape: &Tape,
    mut adj: Vec<Option<Value>>,
    mut outs: std::collections::HashMap<usize, Vec<Option<Value>>>,
    highest: usize,
    pass: Option<u32>,
) -> Result<Vec<Option<Value>>, Diagnostic> {
    let ctx = it.diff.clone();
    for i in (0..highest).rev() {
        let node = &tape.nodes[i];
        if let (Some(p), Some(g)) = (pass, &adj[i]) {
            ctx.capturing(|c| c.note_adjoint(p, &node.out, g));
        }
        if node.op.is_leaf() || node.parents.iter().all(Option::is_none) {
            continue;
        }
        let g = match &node.op {
            // A custom node's cotangents arrive through its outputs, which come later on the tape.
            Op::Custom(c) => match outs.remove(&i) {
                Some(gs) => {
                    ctx.set_span(node.span);
                    let grads = (c.pullback)(it, gs).map_err(|d| in_gradient_of(d, node))?;
                    add_to_parents(&mut adj, node, grads, pass.map(|_| &*ctx))?;
                    if ctx.debug_nans() {
                        check_finite_adjoints(&adj, node)?;
                    }
                    continue;
                }
                None => continue,
            },
            // Every use of node i comes later on the tape, so its adjoint is complete and no longer needed.
            _ => match adj[i].take() {
                Some(g) => g,
                None => continue,
            },
        };
        let grads = match &node.op {
            Op::Prim(prim) => {
                let needs: SmallVec<[bool; 3]> = node.parents.iter().map(Option::is_some).collect();
                ctx.set_span(node.span);
                ctx.in_rule(|| crate::prim::vjp(prim, &node.inputs, &node.out, &g, &needs))
                    .map_err(|d| in_gradient_of(d, node))?
            }
            Op::Output(k) => {
                // Invariant: an output node has its custom node as its one parent (see `record_custom`).
                if let Some(Some(p)) = node.parents.first() {
                    if let Op::Custom(c) = &tape.nodes[*p as usize].op {
                        let slots = outs.entry(*p as usize).or_insert_with(|| vec![None; c.n_out]);
                        if let Some(slot) = slots.get_mut(*k) {
                            accumulate(slot, g, None)?;
                        }
                    }
                }
                continue;
            }
            Op::Custom(_) => continue,
        };
        add_to_parents(&mut adj, node, grads, pass.map(|_| &*ctx))?;
        if ctx.debug_nans() {
            check_finite_adjoints(&adj, node)?;
        }
    }
    Ok(adj)
}

/// Adds `g` to an adjoint; `capture` (while capturing) notes the sum.
fn accumulate(slot: &mut Option<Value>, g: Value, capture: Option<&DiffCtx>) -> Result<(), Diagnostic> {
    *slot = Some(match slot.take() {
        None => g,
        Some(a) => {
            let sum = crate::ops::add(&a, &g)?;
            if let Some(ctx) = capture {
                ctx.capturing(|c| c.note_sum(&sum));
            }
            sum
        }
    });
    Ok(())
}

fn add_to_parents(
    adj: &mut [Option<Value>],
    node: &Node,
    grads: Vec<Option<Value>>,
    capture: Option<&DiffCtx>,
) -> Result<(), Diagnostic> {
    for (parent, gk) in node.parents.iter().zip(grads) {
        if let (Some(p), Some(gk)) = (parent, gk) {
            accumulate(&mut adj[*p as usize], gk, capture).map_err(|d| in_gradient_of(d, node))?;
        }
    }
    Ok(())
}

/// The highest active level among the tracers in `values` (`None`: nothing is being differentiated).
pub fn top_level(values: &[Value]) -> Option<Rc<Level>> {
    let mut top: Option<Rc<Level>> = None;
    for v in values {
        if let Value::Dual(t) = live(v) {
            if top.as_ref().is_none_or(|l| t.level.id > l.id) {
                top = Some(t.level.clone());
            }
        }
    }
    top
}

impl Level {
    /// Whether this is a reverse-mode level (it records a tape).
    pub fn is_reverse(&self) -> bool {
        self.tape.is_some()
    }

    /// Whether this is a `trace` (and so `jit`) level, which records the
    /// computation rather than differentiating it.
    pub fn is_trace(&self) -> bool {
        self.records_all.get()
    }

    /// The batch size of a `vmap` level (`None`: a differentiation level).
    pub fn batch_size(&self) -> Option<usize> {
        self.batch
    }

    /// How many nodes the level's tape holds (0 in forward mode): a call that
    /// should not record on this level checks it did not.
    pub fn tape_len(&self) -> usize {
        self.tape.as_ref().map_or(0, |t| t.borrow().nodes.len())
    }

    /// Marks this tape as the transposition of a `custom_jvp` rule: its
    /// inputs are the rule's tangents, which stand for every tangent (the
    /// values they hold, zeros, are placeholders). The transpose is right
    /// only if the rule's tangent output is linear in them, so from now on
    /// the first place that reads their values (a comparison, an `if`, a
    /// conversion, `floor`/`sign`) is kept for [`Level::tangent_read`].
    pub fn start_transposing(&self) {
        self.transposing.set(true);
    }

    /// Where the rule of [`Level::start_transposing`] first read a value
    /// computed from its tangents (`None`: it never did).
    pub fn tangent_read(&self) -> Option<Span> {
        self.tangent_read.get()
    }

    /// Keeps the current span as the tangent read unless one is kept already.
    fn note_tangent_read(&self) {
        if self.tangent_read.get().is_none() {
            self.tangent_read.set(Some(self.ctx.span()));
        }
    }

    /// Drops the nodes recorded from `len` on: for a call whose recording is
    /// discarded and redone, when no tracer pointing at them is kept.
    pub fn truncate(&self, len: usize) {
        if let Some(t) = &self.tape {
            t.borrow_mut().nodes.truncate(len);
        }
    }
}

/// Records a call with a custom backward pass on reverse-mode `level`: one
/// node for the call, whose inputs are `inputs` (unwrapped by the level) with
/// the nodes `parents` that produced them, then one output node per entry of
/// `outs`. Returns the outputs as tracers of the level.
pub fn record_custom(
    level: &Rc<Level>,
    custom: Custom,
    inputs: Vec<Value>,
    parents: Vec<Option<u32>>,
    outs: Vec<Value>,
) -> Vec<Value> {
    let Some(tape) = &level.tape else {
        // Forward-mode levels record nothing; callers only pass reverse levels.
        return outs;
    };
    let span = level.ctx.span();
    let mut t = tape.borrow_mut();
    let id = t.nodes.len() as u32;
    t.nodes.push(Node {
        op: Op::Custom(Rc::new(custom)),
        inputs: inputs.into_iter().collect(),
        parents: parents.into_iter().collect(),
        out: Value::tuple(outs.iter().cloned()),
        span,
    });
    let mut wrapped = Vec::with_capacity(outs.len());
    for (k, o) in outs.into_iter().enumerate() {
        let oid = t.nodes.len() as u32;
        t.nodes.push(Node {
            op: Op::Output(k),
            inputs: SmallVec::new(),
            parents: smallvec::smallvec![Some(id)],
            out: o.clone(),
            span,
        });
        wrapped.push(Value::Dual(Rc::new(Tracer {
            level: level.clone(),
            primal: o,
            kind: TraceKind::Reverse(oid),
        })));
    }
    wrapped
}

fn check_finite_adjoints(adj: &[Option<Value>], node: &Node) -> Result<(), Diagnostic> {
    for p in node.parents.iter().flatten() {
        if let Some(v) = &adj[*p as usize] {
            if !all_finite(v) {
                return Err(Diagnostic::new(
                    ErrorKind::Differentiation,
                    format!(
                        "the gradient became non-finite (nan or inf) in the adjoint of {}",
                        node.op.name()
                    ),
                )
                .at(node.span)
                .with_label("the derivative rule of this expression produced it"));
            }
        }
    }
    Ok(())
}

fn in_gradient_of(d: Diagnostic, node: &Node) -> Diagnostic {
    let mut d = d;
    if d.span.is_none() {
        d.span = Some(node.span);
        d.label = Some(format!("while computing the gradient of this {}", node.op.name()));
    } else {
        d = d.with_secondary(node.span, "while differentiating this expression");
    }
    d.message = format!("{} (in the backward pass of {})", d.message, node.op.name());
    d
}

/// Whether every element of a numeric value is finite.
pub fn all_finite(v: &Value) -> bool {
    match v.peek() {
        Value::Float(x) => x.is_finite(),
        Value::Tensor(t) => t.to_vec().iter().all(|x| x.is_finite()),
        _ => true,
    }
}
