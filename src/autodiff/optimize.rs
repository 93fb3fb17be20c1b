//! Optimisation passes over an extended graph — the lecture's "the resulting
//! gradient graph can itself be optimised". Each pass maps a graph to an
//! equivalent graph and can be run and tested on its own:
//!
//! - `fold`: constant folding. Inputs of the tape that are not inputs of the
//!   graph (the seed of a backward pass, a captured tensor) are constants;
//!   a node whose operands are all constants is evaluated once.
//! - `simplify`: algebraic identities: `x + -0.0`, `x - 0`, `x * 1`, `x / 1`,
//!   `x ** 1`, `-(-x)`, `x * -1` as `-x`, a transpose undoing a transpose, a reshape, broadcast
//!   or sum-to a shape the operand already has, a reshape of a reshape.
//!   Only where the result keeps the node's shape and element type, so a
//!   replaced node is the same value.
//! - `cse`: common-subexpression elimination: the same primitive applied to
//!   the same operands is computed once.
//! - `dce`: dead-code elimination: nodes the outputs do not depend on go
//!   (for a captured differentiation, the outputs are its inputs' adjoints),
//!   except guards and int arithmetic (which can fail: overflow).
//!
//! The passes keep the graph's order, its adjoint notes and its backward
//! pass boundaries, so an optimised graph prints in the same table form.

use super::capture::{AdjointRef, Extended, Pass};
use super::trace::{Node, Op, Tape};
use crate::ops::shape_of;
use crate::prim::Prim;
use crate::value::Value;
use dp_tensor::{BinaryOp, UnaryOp};
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;
use std::collections::HashSet;
use std::rc::Rc;

/// One optimisation pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassKind {
    /// Constant folding.
    Fold,
    /// Algebraic simplification.
    Simplify,
    /// Common-subexpression elimination.
    Cse,
    /// Dead-code elimination.
    Dce,
}

impl PassKind {
    /// Every pass, in the order `optimize` runs them by default.
    pub const ALL: [PassKind; 4] = [PassKind::Fold, PassKind::Simplify, PassKind::Cse, PassKind::Dce];

    /// The pass's name in `optimize(g, passes=...)` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PassKind::Fold => "fold",
            PassKind::Simplify => "simplify",
            PassKind::Cse => "cse",
            PassKind::Dce => "dce",
        }
    }

    /// The pass named `name`.
    pub fn parse(name: &str) -> Option<PassKind> {
        PassKind::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Runs the pass.
    pub fn run(self, g: &Extended) -> Extended {
        rebuild(g, self.fates(g))
    }

    /// What the pass decides for each node of `g`.
    fn fates(self, g: &Extended) -> Vec<Fate> {
        match self {
            PassKind::Fold => fold_fates(g),
            PassKind::Simplify => simplify_fates(g),
            PassKind::Cse => cse_fates(g),
            PassKind::Dce => dce_fates(g),
        }
    }
}

/// What one pass did: the node count before and after.
#[derive(Clone, Debug)]
pub struct PassReport {
    /// The pass.
    pub pass: PassKind,
    /// Nodes before it ran.
    pub before: usize,
    /// Nodes after.
    pub after: usize,
}

/// Runs `passes` in order, repeating the sequence until it removes nothing
/// more (at most a few rounds: each round only shrinks the graph).
pub fn optimize(g: &Extended, passes: &[PassKind]) -> (Extended, Vec<PassReport>) {
    // The graph as the passes so far left it; `None` while none changed it.
    // A pass that keeps every node costs its analysis only, not a rebuild
    // (the last round, which confirms nothing more goes, usually changes nothing).
    let mut changed: Option<Extended> = None;
    let mut reports = Vec::new();
    for _round in 0..4 {
        let start = changed.as_ref().unwrap_or(g).tape.nodes.len();
        for &pass in passes {
            let current = changed.as_ref().unwrap_or(g);
            let before = current.tape.nodes.len();
            let fate = pass.fates(current);
            if fate.iter().any(|f| !matches!(f, Fate::Keep)) {
                changed = Some(rebuild(current, fate));
            }
            reports.push(PassReport {
                pass,
                before,
                after: changed.as_ref().unwrap_or(g).tape.nodes.len(),
            });
        }
        if changed.as_ref().unwrap_or(g).tape.nodes.len() == start {
            break;
        }
    }
    (changed.unwrap_or_else(|| copy(g)), reports)
}

/// What a pass decided for one node.
#[derive(Clone, Debug)]
enum Fate {
    /// Stays as it is.
    Keep,
    /// Stays, applied to these operands instead, and as this primitive if one is given.
    Edit(Option<Prim>, Vec<AdjointRef>),
    /// Is the same value as this (an earlier node or a constant).
    Same(AdjointRef),
    /// Nothing needs it.
    Dead,
}

/// The operand a reference stands for once the fates decided so far are
/// applied (`None`: a dead node).
fn resolve(fate: &[Fate], r: &AdjointRef) -> Option<AdjointRef> {
    let mut r = r.clone();
    // Each `Same` points to an earlier node, so this ends.
    loop {
        match &r {
            AdjointRef::Node(n) => match fate.get(*n as usize) {
                Some(Fate::Same(to)) => r = to.clone(),
                Some(Fate::Dead) => return None,
                _ => return Some(r),
            },
            AdjointRef::Const(_) => return Some(r),
        }
    }
}

/// Node `i`'s operands (earlier nodes or constants), with the fates so far applied.
fn operands(g: &Extended, fate: &[Fate], i: usize) -> Vec<AdjointRef> {
    let node = &g.tape.nodes[i];
    if let Some(Fate::Edit(_, ops)) = fate.get(i) {
        return ops
            .iter()
            .map(|o| resolve(fate, o).unwrap_or_else(|| o.clone()))
            .collect();
    }
    (0..node.inputs.len())
        .map(|k| match node.parents.get(k).copied().flatten() {
            Some(p) => resolve(fate, &AdjointRef::Node(p)).unwrap_or(AdjointRef::Node(p)),
            None => AdjointRef::Const(node.inputs[k].clone()),
        })
        .collect()
}

/// The graph with the fates applied: kept nodes renumbered in order, every
/// reference (operands, adjoint notes, pass boundaries, outputs) following.
fn rebuild(g: &Extended, fate: Vec<Fate>) -> Extended {
    let nodes = &g.tape.nodes;
    let mut new_index: Vec<Option<u32>> = vec![None; nodes.len()];
    let mut out = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        if matches!(fate[i], Fate::Same(_) | Fate::Dead) {
            continue;
        }
        let ops = operands(g, &fate, i);
        let mut inputs = SmallVec::new();
        let mut parents = SmallVec::new();
        for o in ops {
            match o {
                AdjointRef::Node(p) => {
                    inputs.push(nodes[p as usize].out.clone());
                    parents.push(new_index[p as usize]);
                }
                AdjointRef::Const(v) => {
                    inputs.push(v);
                    parents.push(None);
                }
            }
        }
        new_index[i] = Some(out.len() as u32);
        let op = match &fate[i] {
            Fate::Edit(Some(p), _) => Op::Prim(p.clone()),
            _ => node.op.clone(),
        };
        out.push(Node {
            op,
            inputs,
            parents,
            out: node.out.clone(),
            span: node.span,
        });
    }
    let map_ref = |r: &AdjointRef| -> Option<AdjointRef> {
        match resolve(&fate, r)? {
            AdjointRef::Node(n) => new_index[n as usize].map(AdjointRef::Node),
            c => Some(c),
        }
    };
    let map_node = |n: u32| match map_ref(&AdjointRef::Node(n)) {
        Some(AdjointRef::Node(m)) => Some(m),
        _ => None,
    };
    // A boundary moves to the first kept node at or after it.
    // kept[at]: how many nodes before `at` are kept (a prefix count, so that
    // moving every adjoint note stays linear in the graph's size).
    let mut kept_prefix = Vec::with_capacity(nodes.len() + 1);
    kept_prefix.push(0usize);
    for k in &new_index {
        kept_prefix.push(kept_prefix.last().copied().unwrap_or(0) + usize::from(k.is_some()));
    }
    let kept_before = |at: usize| kept_prefix[at.min(nodes.len())];
    let adjoints = g
        .adjoints
        .iter()
        .filter_map(|note| {
            // The adjoint of a node that was replaced is not the adjoint of its replacement.
            if !matches!(fate.get(note.of as usize), Some(Fate::Keep | Fate::Edit(..))) {
                return None;
            }
            let of = map_node(note.of)?;
            let adjoint = map_ref(&note.adjoint)?;
            Some(super::capture::AdjointNote {
                pass: note.pass,
                of,
                adjoint,
                at: kept_before(note.at),
            })
        })
        .collect();
    let passes = g
        .passes
        .iter()
        .map(|p| Pass {
            number: p.number,
            span: p.span,
            begin: kept_before(p.begin),
            end: kept_before(p.end),
        })
        .collect();
    let kept = |set: &HashSet<u32>| -> HashSet<u32> {
        set.iter()
            .filter(|&&n| matches!(fate[n as usize], Fate::Keep | Fate::Edit(..)))
            .filter_map(|&n| new_index[n as usize])
            .collect()
    };
    Extended {
        tape: Tape {
            level: g.tape.level,
            nodes: out,
        },
        adjoints,
        passes,
        sums: kept(&g.sums),
        // A guard merged into an equal node makes that node the guard.
        guards: g.guards.iter().filter_map(|&n| map_node(n)).collect(),
        seeds: kept(&g.seeds),
        reads: g.reads.iter().filter_map(|&(n, at)| Some((map_node(n)?, at))).collect(),
        inputs: g.inputs.iter().filter_map(|&n| new_index[n as usize]).collect(),
        outputs: g.outputs.iter().filter_map(map_ref).collect(),
    }
}

/// A copy of the graph (nodes hold reference-counted values: cheap).
fn copy(g: &Extended) -> Extended {
    rebuild(g, vec![Fate::Keep; g.tape.nodes.len()])
}

/// Whether node `i` computes something a pass may replace (not an input,
/// not a user-defined rule's node, whose backward pass runs dp code).
fn is_pure(node: &Node) -> Option<&Prim> {
    match &node.op {
        Op::Prim(p) if !p.is_leaf() => Some(p),
        _ => None,
    }
}

/// Constant folding: see the module doc.
pub fn fold(g: &Extended) -> Extended {
    PassKind::Fold.run(g)
}

fn fold_fates(g: &Extended) -> Vec<Fate> {
    let inputs: HashSet<u32> = g.inputs.iter().copied().collect();
    let mut fate = vec![Fate::Keep; g.tape.nodes.len()];
    for (i, node) in g.tape.nodes.iter().enumerate() {
        if node.op.is_leaf() {
            if !inputs.contains(&(i as u32)) {
                fate[i] = Fate::Same(AdjointRef::Const(node.out.clone()));
            }
            continue;
        }
        let Some(prim) = is_pure(node) else { continue };
        let ops = operands(g, &fate, i);
        let consts: Option<Vec<Value>> = ops
            .iter()
            .map(|o| match o {
                AdjointRef::Const(v) => Some(v.clone()),
                AdjointRef::Node(_) => None,
            })
            .collect();
        if let Some(consts) = consts {
            if let Ok(v) = crate::prim::apply(prim, &consts) {
                fate[i] = Fate::Same(AdjointRef::Const(v));
            }
        }
    }
    fate
}

/// The value an operand stands for, as recorded.
fn value_of<'a>(g: &'a Extended, o: &'a AdjointRef) -> &'a Value {
    match o {
        AdjointRef::Node(n) => &g.tape.nodes[*n as usize].out,
        AdjointRef::Const(v) => v,
    }
}

/// Whether a constant operand is `c` everywhere, bit for bit (the sign of a
/// zero counts: `x + 0.0` is not `x` where `x` is `-0.0`, `x + -0.0` is).
fn is_const(o: &AdjointRef, c: f64) -> bool {
    let same = |x: f64| x.to_bits() == c.to_bits();
    match o {
        AdjointRef::Const(v) => match v.strip() {
            Value::Float(x) => same(*x),
            // An integer zero converts to +0.0.
            Value::Int(n) => same(*n as f64),
            Value::Tensor(t) => !t.is_bool() && t.size() <= CONST_SCAN_MAX && t.to_vec().into_iter().all(same),
            _ => false,
        },
        AdjointRef::Node(_) => false,
    }
}

/// Whether `a` can stand for `b`: same shape and same kind of value (a
/// float is not a 0-d tensor, a bool tensor not a float one).
fn same_kind(a: &Value, b: &Value) -> bool {
    let kind = |v: &Value| match v.strip() {
        Value::Float(_) => 0,
        Value::Tensor(t) if t.is_bool() => 2,
        Value::Tensor(_) => 1,
        _ => 3,
    };
    kind(a) == kind(b) && kind(a) != 3 && shape_of(a) == shape_of(b)
}

/// The node an operand is, with its primitive and operands, if it is a node.
fn producer<'a>(g: &'a Extended, fate: &[Fate], o: &AdjointRef) -> Option<(&'a Prim, Vec<AdjointRef>)> {
    let AdjointRef::Node(n) = o else { return None };
    let node = &g.tape.nodes[*n as usize];
    is_pure(node).map(|p| (p, operands(g, fate, *n as usize)))
}

/// Algebraic simplification: see the module doc.
pub fn simplify(g: &Extended) -> Extended {
    PassKind::Simplify.run(g)
}

fn simplify_fates(g: &Extended) -> Vec<Fate> {
    let mut fate = vec![Fate::Keep; g.tape.nodes.len()];
    for (i, node) in g.tape.nodes.iter().enumerate() {
        let Some(prim) = is_pure(node) else { continue };
        let ops = operands(g, &fate, i);
        // `x` can replace the node when it is the same kind of value.
        let same = |k: usize| -> Option<AdjointRef> {
            let o = ops.get(k)?;
            same_kind(value_of(g, o), &node.out).then(|| o.clone())
        };
        let replacement = match prim {
            Prim::Binary(b) => match b.0 {
                // `x + 0.0` is `0.0` where x is `-0.0`: only `x + -0.0` and
                // `x - 0.0` are x for every x.
                BinaryOp::Add if is_const(&ops[1], -0.0) => same(0),
                BinaryOp::Add if is_const(&ops[0], -0.0) => same(1),
                BinaryOp::Sub if is_const(&ops[1], 0.0) => same(0),
                BinaryOp::Mul if is_const(&ops[1], 1.0) => same(0),
                BinaryOp::Mul if is_const(&ops[0], 1.0) => same(1),
                BinaryOp::Div if is_const(&ops[1], 1.0) => same(0),
                BinaryOp::Pow if is_const(&ops[1], 1.0) => same(0),
                _ => None,
            },
            Prim::IntPow(p) if p.0 == 1 => same(0),
            Prim::Unary(u) if u.0 == UnaryOp::Neg => match producer(g, &fate, &ops[0]) {
                Some((Prim::Unary(inner), inner_ops)) if inner.0 == UnaryOp::Neg => Some(inner_ops[0].clone()),
                _ => None,
            },
            Prim::Transpose(p) => match producer(g, &fate, &ops[0]) {
                // transpose(transpose(x, q), p) has axis i = x's axis q[p[i]].
                Some((Prim::Transpose(q), inner_ops))
                    if p.0.len() == q.0.len() && p.0.iter().enumerate().all(|(i, &pi)| q.0.get(pi) == Some(&i)) =>
                {
                    Some(inner_ops[0].clone())
                }
                _ => same(0).filter(|_| p.0.iter().enumerate().all(|(i, &pi)| i == pi)),
            },
            Prim::Reshape(_) | Prim::BroadcastTo(_) | Prim::SumTo(_) => same(0),
            _ => None,
        };
        if let Some(r) = replacement {
            fate[i] = Fate::Same(r);
            continue;
        }
        // reshape(reshape(x)) is one reshape of x.
        if let Prim::Reshape(_) = prim {
            if let Some((Prim::Reshape(_), inner_ops)) = producer(g, &fate, &ops[0]) {
                fate[i] = Fate::Edit(None, vec![inner_ops[0].clone()]);
            }
        }
        // x * -1 is -x.
        if let Prim::Binary(b) = prim {
            if b.0 == BinaryOp::Mul {
                for (c, x) in [(0, 1), (1, 0)] {
                    if is_const(&ops[c], -1.0) && same_kind(value_of(g, &ops[x]), &node.out) {
                        fate[i] = Fate::Edit(
                            Some(Prim::Unary(crate::prim::Unary(UnaryOp::Neg))),
                            vec![ops[x].clone()],
                        );
                        break;
                    }
                }
            }
        }
    }
    fate
}

/// Tensor constants larger than this are never read element by element by
/// the passes: two of them are the same operand only when they share one
/// buffer, and none counts as an identity's `0` or `1`.
const CONST_SCAN_MAX: usize = 4096;

/// Whether two operands are the same: one node, or constants with the same
/// bits (bitwise, not `==`: merging `0.0` with `-0.0` would change the sign
/// of a product's zeros, and a NaN constant equals itself).
fn same_operand(a: &AdjointRef, b: &AdjointRef) -> bool {
    match (a, b) {
        (AdjointRef::Node(x), AdjointRef::Node(y)) => x == y,
        (AdjointRef::Const(x), AdjointRef::Const(y)) => match (x.strip(), y.strip()) {
            (Value::Tensor(s), Value::Tensor(t)) => {
                Rc::ptr_eq(s, t)
                    || (s.size() <= CONST_SCAN_MAX
                        && s.shape() == t.shape()
                        && s.dtype() == t.dtype()
                        && s.to_vec()
                            .iter()
                            .zip(t.to_vec())
                            .all(|(p, q)| p.to_bits() == q.to_bits()))
            }
            (Value::Float(s), Value::Float(t)) => s.to_bits() == t.to_bits(),
            (Value::Tensor(_), _) | (_, Value::Tensor(_)) => false,
            _ => crate::value::values_equal(x, y),
        },
        _ => false,
    }
}

/// A fingerprint of a constant operand for [`cse_key`]: constants that
/// [`same_operand`] calls the same get the same fingerprint, so each one is
/// compared only with the few earlier constants that share it (a key of
/// just "constant" compared every new row of `eye(1000)` with every earlier
/// one: a jit of 1000 `jvp`s spent 2.6 s in CSE).
fn const_fingerprint(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = FxHasher::default();
    match v.strip() {
        Value::Float(x) => x.to_bits().hash(&mut h),
        Value::Tensor(t) if t.size() <= CONST_SCAN_MAX => {
            t.shape().hash(&mut h);
            for x in t.to_vec() {
                x.to_bits().hash(&mut h);
            }
        }
        // Larger tensors are the same operand only when they share a buffer.
        Value::Tensor(t) => (Rc::as_ptr(t) as usize).hash(&mut h),
        // Anything else falls back to `values_equal`, which may call values
        // of different kinds equal (1 and 1.0): one shared fingerprint.
        _ => 0u64.hash(&mut h),
    }
    h.finish()
}

/// A cheap key grouping candidates for CSE: a hash of the operation's
/// kind (and operator, for the elementwise ones), its node operands and its
/// constants' fingerprints. Nodes with equal keys are compared in full, so
/// the key only has to be equal for nodes that are the same.
fn cse_key(prim: &Prim, ops: &[AdjointRef]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = FxHasher::default();
    std::mem::discriminant(prim).hash(&mut h);
    match prim {
        Prim::Unary(u) => u.0.hash(&mut h),
        Prim::Binary(b) => b.0.hash(&mut h),
        _ => {}
    }
    for o in ops {
        match o {
            AdjointRef::Node(n) => (0u8, *n).hash(&mut h),
            AdjointRef::Const(c) => (1u8, const_fingerprint(c)).hash(&mut h),
        }
    }
    h.finish()
}

/// Common-subexpression elimination: see the module doc.
pub fn cse(g: &Extended) -> Extended {
    PassKind::Cse.run(g)
}

fn cse_fates(g: &Extended) -> Vec<Fate> {
    let mut fate = vec![Fate::Keep; g.tape.nodes.len()];
    // Candidates by key. A candidate's operands are computed again when
    // compared: they depend on the fates of earlier nodes only, which are
    // decided before it is seen, so they come out as they did.
    let mut seen: FxHashMap<u64, SmallVec<[u32; 1]>> = FxHashMap::default();
    seen.reserve(g.tape.nodes.len());
    for (i, node) in g.tape.nodes.iter().enumerate() {
        let Some(prim) = is_pure(node) else { continue };
        let ops = operands(g, &fate, i);
        let bucket = seen.entry(cse_key(prim, &ops)).or_default();
        let earlier = bucket.iter().copied().find(|&j| {
            is_pure(&g.tape.nodes[j as usize]) == Some(prim) && {
                let theirs = operands(g, &fate, j as usize);
                theirs.len() == ops.len() && theirs.iter().zip(&ops).all(|(a, b)| same_operand(a, b))
            }
        });
        match earlier {
            Some(j) => fate[i] = Fate::Same(AdjointRef::Node(j)),
            None => bucket.push(i as u32),
        }
    }
    fate
}

/// Dead-code elimination: see the module doc.
pub fn dce(g: &Extended) -> Extended {
    PassKind::Dce.run(g)
}

fn dce_fates(g: &Extended) -> Vec<Fate> {
    let nodes = &g.tape.nodes;
    let mut roots: Vec<u32> = g.output_nodes();
    if g.outputs.is_empty() {
        // A captured differentiation gives its inputs' adjoints.
        let inputs: HashSet<u32> = g.inputs.iter().copied().collect();
        roots.extend(
            g.adjoints
                .iter()
                .filter(|n| inputs.contains(&n.of))
                .filter_map(|n| match n.adjoint {
                    AdjointRef::Node(a) => Some(a),
                    AdjointRef::Const(_) => None,
                }),
        );
    }
    // A guard is needed even though no output uses it; so is int
    // arithmetic, which fails on overflow as plain code does (a plan must
    // fail with it even where the result goes unused).
    roots.extend(g.guards.iter().copied());
    roots.extend((0..nodes.len() as u32).filter(|&i| matches!(nodes[i as usize].op, Op::Prim(Prim::IntBinary(_)))));
    let mut live = vec![false; nodes.len()];
    for &i in &g.inputs {
        live[i as usize] = true;
    }
    let mut work = roots;
    while let Some(n) = work.pop() {
        let n = n as usize;
        if n >= nodes.len() || live[n] {
            continue;
        }
        live[n] = true;
        work.extend(nodes[n].parents.iter().flatten().copied());
    }
    live.into_iter()
        .map(|l| if l { Fate::Keep } else { Fate::Dead })
        .collect()
}
