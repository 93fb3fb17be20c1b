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

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{apply, Prim};
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
}

/// A float or tensor being differentiated at one level.
#[derive(Debug)]
pub struct Tracer {
    /// The level (differentiation call) this tracer belongs to.
    pub level: u32,
    /// The value, possibly a tracer of an outer level.
    pub primal: Value,
    /// Node or tangent.
    pub kind: TraceKind,
}

/// One recorded primitive application.
#[derive(Debug)]
pub struct Node {
    /// The primitive.
    pub prim: Prim,
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

/// One active level: its number and, in reverse mode, its tape.
struct Active {
    level: u32,
    tape: Option<Rc<RefCell<Tape>>>,
}

thread_local! {
    static NEXT_LEVEL: Cell<u32> = const { Cell::new(1) };
    /// The levels whose differentiation call is still running, innermost last.
    /// A tracer whose level is not here escaped its call (say, captured by a
    /// returned closure) and is a constant from then on: its primal.
    static ACTIVE: RefCell<Vec<Active>> = const { RefCell::new(Vec::new()) };
    static CURRENT_SPAN: Cell<Span> = Cell::new(Span::default());
}

/// Records which source expression is applying primitives (for nodes and errors).
pub fn set_span(span: Span) {
    CURRENT_SPAN.with(|s| s.set(span));
}

/// The expression currently applying primitives.
pub fn current_span() -> Span {
    CURRENT_SPAN.with(|s| s.get())
}

/// A fresh level number, higher than every level still active.
pub fn new_level() -> u32 {
    NEXT_LEVEL.with(|n| {
        let l = n.get();
        n.set(l + 1);
        l
    })
}

/// Starts recording a reverse-mode level; the tape stays active until [`TapeGuard`] drops.
pub fn start_tape(level: u32) -> TapeGuard {
    let tape = Rc::new(RefCell::new(Tape {
        level,
        nodes: Vec::new(),
    }));
    ACTIVE.with(|a| {
        a.borrow_mut().push(Active {
            level,
            tape: Some(tape.clone()),
        })
    });
    TapeGuard { tape: Some(tape) }
}

/// Marks a forward-mode level active until the returned guard drops (also on errors).
pub fn start_forward(level: u32) -> ForwardGuard {
    ACTIVE.with(|a| a.borrow_mut().push(Active { level, tape: None }));
    ForwardGuard { level }
}

/// Keeps a forward-mode level active; dropping it ends the level, so its
/// tracers that escape (in closures) act as their primals from then on.
pub struct ForwardGuard {
    level: u32,
}

impl Drop for ForwardGuard {
    fn drop(&mut self) {
        let level = self.level;
        ACTIVE.with(|a| a.borrow_mut().retain(|x| x.level != level));
    }
}

/// Keeps a tape active; dropping it (also on errors) stops recording.
pub struct TapeGuard {
    tape: Option<Rc<RefCell<Tape>>>,
}

impl TapeGuard {
    /// Stops recording and hands over the tape.
    pub fn finish(mut self) -> Tape {
        let tape = self.tape.take();
        if let Some(t) = &tape {
            remove_tape(t);
        }
        let tape = tape.map(|t| std::mem::take(&mut *t.borrow_mut())).unwrap_or_default();
        super::graph::offer(&tape);
        tape
    }
}

impl Drop for TapeGuard {
    fn drop(&mut self) {
        if let Some(t) = self.tape.take() {
            remove_tape(&t);
        }
    }
}

fn remove_tape(t: &Rc<RefCell<Tape>>) {
    // Level numbers are never reused: a tracer that escaped its differentiation
    // (e.g. captured by a returned closure) must not be mistaken for a tracer
    // of a later one. A u32 allows four billion differentiation calls per thread.
    ACTIVE.with(|a| {
        a.borrow_mut()
            .retain(|x| !x.tape.as_ref().is_some_and(|xt| Rc::ptr_eq(xt, t)))
    });
}

/// What a level is now.
enum LevelState {
    /// Its differentiation call has returned.
    Finished,
    /// An active forward-mode level.
    Forward,
    /// An active reverse-mode level, with its tape.
    Reverse(Rc<RefCell<Tape>>),
}

fn level_state(level: u32) -> LevelState {
    ACTIVE.with(|a| match a.borrow().iter().rev().find(|x| x.level == level) {
        None => LevelState::Finished,
        Some(Active { tape: None, .. }) => LevelState::Forward,
        Some(Active { tape: Some(t), .. }) => LevelState::Reverse(t.clone()),
    })
}

fn is_active(level: u32) -> bool {
    ACTIVE.with(|a| a.borrow().iter().rev().any(|x| x.level == level))
}

/// `v` without the wrappers of finished levels on the outside, which are constants now.
fn live(v: &Value) -> &Value {
    let mut v = v;
    while let Value::Dual(t) = v {
        if is_active(t.level) {
            break;
        }
        v = &t.primal;
    }
    v
}

/// Records a new input of a reverse-mode level and returns its tracer.
pub fn leaf(guard: &TapeGuard, value: Value) -> (Value, u32) {
    // Invariant: a guard holds its tape until `finish`.
    let tape = guard.tape.as_ref().expect("an active tape guard holds its tape");
    let mut t = tape.borrow_mut();
    let id = t.nodes.len() as u32;
    t.nodes.push(Node {
        prim: Prim::Leaf(crate::prim::Leaf),
        inputs: SmallVec::new(),
        parents: SmallVec::new(),
        out: value.clone(),
        span: current_span(),
    });
    let level = t.level;
    (
        Value::Dual(Rc::new(Tracer {
            level,
            primal: value,
            kind: TraceKind::Reverse(id),
        })),
        id,
    )
}

/// Wraps `primal` as a forward-mode tracer of `level` with `tangent`. The
/// level must be active ([`start_forward`]) for the tangent to be pushed forward.
pub fn dual(level: u32, primal: Value, tangent: Value) -> Value {
    Value::Dual(Rc::new(Tracer {
        level,
        primal,
        kind: TraceKind::Forward(tangent),
    }))
}

/// Removes the wrapper of `level` from `v` (other levels are left alone).
fn peel(v: &Value, level: u32) -> Value {
    match v {
        Value::Dual(t) if t.level == level => t.primal.clone(),
        other => other.clone(),
    }
}

/// The value of `v` outside the active `level`: its wrapper of `level` and
/// those of finished levels around it are removed (active outer levels stay).
pub fn unwrap_level(v: &Value, level: u32) -> Value {
    peel(live(v), level)
}

/// The reverse-mode node of `v` at `level`, if `v` was produced on that level.
pub fn node_at(v: &Value, level: u32) -> Option<u32> {
    own(live(v), level, node_of)
}

/// The forward-mode tangent of `v` at `level` (`None`: a constant, zero tangent).
pub fn tangent_at(v: &Value, level: u32) -> Option<Value> {
    own(live(v), level, tangent_of)
}

/// Applies `prim` at `level`, the highest level among `args`.
pub fn lift(prim: &Prim, args: &[Value], level: u32) -> Result<Value, Diagnostic> {
    let primals: SmallVec<[Value; 2]> = args.iter().map(|a| peel(a, level)).collect();
    let tape = match level_state(level) {
        // Tracers that outlived their differentiation call (captured by a
        // returned closure, say) are constants: compute with their primals,
        // which carry any enclosing level that is still active.
        LevelState::Finished => return apply(prim, &primals),
        LevelState::Forward => {
            let out = apply(prim, &primals)?;
            let tangents: Vec<Option<Value>> = args.iter().map(|a| own(a, level, tangent_of)).collect();
            let tangent = crate::prim::jvp(prim, &primals, &tangents, &out)?;
            return Ok(match tangent {
                Some(t) => dual(level, out, t),
                None => out,
            });
        }
        LevelState::Reverse(tape) => tape,
    };
    let out = apply(prim, &primals)?;
    if crate::prim::zero_derivative(prim) {
        return Ok(out);
    }
    let parents: SmallVec<[Option<u32>; 2]> = args.iter().map(|a| own(a, level, node_of)).collect();
    let mut t = tape.borrow_mut();
    let id = t.nodes.len() as u32;
    t.nodes.push(Node {
        prim: prim.clone(),
        inputs: primals,
        parents,
        out: out.clone(),
        span: current_span(),
    });
    Ok(Value::Dual(Rc::new(Tracer {
        level,
        primal: out,
        kind: TraceKind::Reverse(id),
    })))
}

/// `part` of `v`'s tracer when `v` is a tracer of `level` itself.
fn own<T>(v: &Value, level: u32, part: fn(&Tracer) -> Option<T>) -> Option<T> {
    match v {
        Value::Dual(t) if t.level == level => part(t),
        _ => None,
    }
}

fn node_of(t: &Tracer) -> Option<u32> {
    match t.kind {
        TraceKind::Reverse(n) => Some(n),
        TraceKind::Forward(_) => None,
    }
}

fn tangent_of(t: &Tracer) -> Option<Value> {
    match &t.kind {
        TraceKind::Forward(tan) => Some(tan.clone()),
        TraceKind::Reverse(_) => None,
    }
}

/// Runs the backward pass over `tape` from the given (node, cotangent) seeds and
/// returns the adjoint of every node (`None`: symbolically zero). The adjoint
/// rules apply ordinary primitives, so an enclosing level records them.
pub fn backward(tape: &Tape, seeds: Vec<(u32, Value)>) -> Result<Vec<Option<Value>>, Diagnostic> {
    let mut adj: Vec<Option<Value>> = vec![None; tape.nodes.len()];
    let mut highest = 0;
    for (node, g) in seeds {
        let i = node as usize;
        highest = highest.max(i + 1);
        adj[i] = Some(match adj[i].take() {
            None => g,
            Some(a) => crate::ops::add(&a, &g)?,
        });
    }
    for i in (0..highest).rev() {
        let node = &tape.nodes[i];
        if node.prim.is_leaf() || node.parents.iter().all(Option::is_none) {
            continue;
        }
        // Every use of node i comes later on the tape, so its adjoint is complete and no longer needed.
        let Some(g) = adj[i].take() else { continue };
        let needs: SmallVec<[bool; 3]> = node.parents.iter().map(Option::is_some).collect();
        set_span(node.span);
        let grads =
            crate::prim::vjp(&node.prim, &node.inputs, &node.out, &g, &needs).map_err(|d| in_gradient_of(d, node))?;
        for (parent, gk) in node.parents.iter().zip(grads) {
            if let (Some(p), Some(gk)) = (parent, gk) {
                let p = *p as usize;
                adj[p] = Some(match adj[p].take() {
                    None => gk,
                    Some(a) => crate::ops::add(&a, &gk).map_err(|d| in_gradient_of(d, node))?,
                });
            }
        }
        if crate::autodiff::api::debug_nans() {
            check_finite_adjoints(&adj, node)?;
        }
    }
    Ok(adj)
}

fn check_finite_adjoints(adj: &[Option<Value>], node: &Node) -> Result<(), Diagnostic> {
    for p in node.parents.iter().flatten() {
        if let Some(v) = &adj[*p as usize] {
            if !crate::autodiff::api::all_finite(v) {
                return Err(Diagnostic::new(
                    ErrorKind::Differentiation,
                    format!(
                        "the gradient became non-finite (nan or inf) in the adjoint of {}",
                        node.prim.name()
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
        d.label = Some(format!("while computing the gradient of this {}", node.prim.name()));
    } else {
        d = d.with_secondary(node.span, "while differentiating this expression");
    }
    d.message = format!("{} (in the backward pass of {})", d.message, node.prim.name());
    d
}
