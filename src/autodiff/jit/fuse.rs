//! Elementwise fusion: which nodes of an (optimised) graph a plan runs as one
//! fused kernel (`dp_tensor::FusedKernel`), one pass over the result in
//! cache-sized blocks instead of one pass and one buffer per operation.
//!
//! A group is a node (its root) and the elementwise producers it alone
//! consumes: unary and binary operators whose result is a tensor of the
//! root's shape, used by members of the group only, and neither an output,
//! a guard nor a value the traced code read. The members' other operands
//! (earlier nodes, constants, scalars, broadcast tensors) are the kernel's
//! arguments. A tanh's backward `g * (1 - y * y)` is one group of three
//! nodes: `y` and `g` are read once each and no intermediate is stored.
//! A sum of all elements or along the last axis can be a root too: the
//! kernel then adds the values as it computes them (`mean((p - y) ** 2)`,
//! a softmax's row sums) and the summed tensor is never stored.
//! A group can also take in the matrix product feeding it (matmul epilogue
//! fusion): when a 2-d `@` is used by the group alone, the GEMM runs the
//! group's kernel on each block of the product as soon as the block is
//! final, while it is in cache (`x @ w + b` then `tanh`, a backward
//! `(g @ w.T) * (1 - h * h)`, an optimiser's `w - lr * (x.T @ g)`), and the
//! product is never stored.
//! A `broadcast_to` that only the group uses is not stored either: the
//! kernel reads the broadcast tensor's input with broadcasting (a sum's
//! backward `broadcast_to(g, x.shape) * y`).
//! Fusion changes no value: each operator computes each element exactly as
//! its own kernel does, and sums add in the reduction kernels' order.

use crate::autodiff::capture::{AdjointRef, Extended};
use crate::autodiff::trace::Op;
use crate::prim::Prim;
use crate::value::Value;
use dp_tensor::{FusedKernel, FusedOp, FusedOperand, FusedReduce, FusedStep, ReduceOp};
use std::collections::{BTreeSet, HashMap};

/// At most this many nodes per group (operand numbers are `u16`s; a group
/// this large has long paid for itself).
const MAX_MEMBERS: usize = 256;

/// Nodes that run as one fused kernel.
#[derive(Clone, Debug)]
pub struct Group {
    /// The members in graph order; the last is the root, whose value the group computes.
    pub members: Vec<u32>,
    /// The kernel's arguments: earlier nodes and constants, each node once.
    pub args: Vec<AdjointRef>,
    /// The members as kernel steps (step `i` computes `members[i]`).
    pub kernel: FusedKernel,
    /// The shape of every elementwise member (what a summing root sums).
    pub shape: Vec<usize>,
    /// The matrix product computed into the kernel (see the module doc), if any.
    pub product: Option<Product>,
    /// `broadcast_to` nodes whose inputs the kernel reads with broadcasting
    /// instead (never computed).
    pub absorbed: Vec<u32>,
}

/// A 2-d matrix product whose blocks go through a group's kernel as the GEMM
/// finishes them.
#[derive(Clone, Debug)]
pub struct Product {
    /// The `@` node (not stored: only the group uses it).
    pub node: u32,
    /// Which kernel argument is the product.
    pub arg: u16,
}

/// Whether `DP_FUSE=0` turned fusion off (to measure what it gains).
pub fn enabled() -> bool {
    std::env::var_os("DP_FUSE").is_none_or(|v| v != "0")
}

/// Whether `DP_FUSE_MATMUL=0` turned matmul epilogues off (to measure what they gain).
pub fn epilogues_enabled() -> bool {
    std::env::var_os("DP_FUSE_MATMUL").is_none_or(|v| v != "0")
}

/// The elementwise operator of node `i`, if it can be a member of a group:
/// a unary or binary primitive with a tensor result and float or tensor operands.
fn elementwise(g: &Extended, i: usize) -> Option<FusedOp> {
    let node = &g.tape.nodes[i];
    let Value::Tensor(_) = node.out else { return None };
    if !node
        .inputs
        .iter()
        .all(|v| matches!(v, Value::Tensor(_) | Value::Float(_)))
    {
        return None;
    }
    match &node.op {
        Op::Prim(Prim::Unary(u)) if node.inputs.len() == 1 => Some(FusedOp::Unary(u.0)),
        Op::Prim(Prim::Binary(b)) if node.inputs.len() == 2 => Some(FusedOp::Binary(b.0)),
        _ => None,
    }
}

/// The sum node `i` takes, if a kernel can end in it: a sum of a tensor over
/// all axes (a float result) or over its last axis.
fn fusable_sum(g: &Extended, i: usize) -> Option<FusedReduce> {
    let node = &g.tape.nodes[i];
    let (Op::Prim(Prim::Reduce(r)), [Value::Tensor(x)]) = (&node.op, &node.inputs[..]) else {
        return None;
    };
    if r.op != ReduceOp::Sum || x.ndim() == 0 {
        return None;
    }
    match (&r.axes, r.keepdims, &node.out) {
        (None, false, Value::Float(_)) => Some(FusedReduce::All),
        (Some(a), keepdims, Value::Tensor(_)) if a[..] == [x.ndim() - 1] => Some(FusedReduce::LastAxis { keepdims }),
        _ => None,
    }
}

/// The fusion groups of `g` (of two or more nodes), in graph order of their roots.
pub fn groups(g: &Extended) -> Vec<Group> {
    let nodes = &g.tape.nodes;
    let n = nodes.len();
    // Who uses each node; outputs, guards and values read outside the
    // primitives must stay values of their own.
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, node) in nodes.iter().enumerate() {
        for p in node.parents.iter().flatten() {
            let u = &mut users[*p as usize];
            if u.last() != Some(&(i as u32)) {
                u.push(i as u32);
            }
        }
    }
    let mut pinned = vec![false; n];
    for o in &g.outputs {
        if let AdjointRef::Node(p) = o {
            pinned[*p as usize] = true;
        }
    }
    for &i in g.guards.iter().chain(&g.inputs).chain(g.reads.iter().map(|(i, _)| i)) {
        pinned[i as usize] = true;
    }
    let shape = |i: usize| crate::ops::shape_of(&nodes[i].out);
    let mut taken = vec![false; n];
    let mut out = Vec::new();
    // Roots from the end, so each absorbs the longest chain feeding it.
    for root in (0..n).rev() {
        if taken[root] || g.guards.contains(&(root as u32)) {
            continue;
        }
        let (want, reduce) = match (elementwise(g, root), fusable_sum(g, root)) {
            (Some(_), _) => (shape(root), None),
            (None, Some(r)) => (crate::ops::shape_of(&nodes[root].inputs[0]), Some(r)),
            (None, None) => continue,
        };
        let mut members: BTreeSet<u32> = BTreeSet::from([root as u32]);
        // Candidates highest first: when one is considered, every member that
        // could use it (a later node) has already joined.
        let mut candidates: BTreeSet<u32> = nodes[root].parents.iter().flatten().copied().collect();
        while let Some(p) = candidates.pop_last() {
            let pi = p as usize;
            if members.len() >= MAX_MEMBERS
                || taken[pi]
                || pinned[pi]
                || elementwise(g, pi).is_none()
                || shape(pi) != want
                || !users[pi].iter().all(|u| members.contains(u))
            {
                continue;
            }
            members.insert(p);
            candidates.extend(nodes[pi].parents.iter().flatten().copied());
        }
        let feeding = feeders(g, &members, &want, &users, &taken, &pinned);
        let product = match reduce {
            None if epilogues_enabled() => fusable_product(g, &feeding),
            _ => None,
        };
        let absorbed = absorbable_broadcasts(g, &feeding);
        if members.len() < 2 && product.is_none() && absorbed.is_empty() {
            continue;
        }
        for &m in members.iter().chain(&product).chain(&absorbed) {
            taken[m as usize] = true;
        }
        out.push(build(g, members.into_iter().collect(), want, reduce, product, absorbed));
    }
    out.reverse();
    out
}

/// The nodes feeding `members` from outside that the group may take in: a
/// tensor of the members' shape `want`, used by members only, not yet in a
/// group, and neither an output, a guard nor a read value. In graph order.
fn feeders(
    g: &Extended,
    members: &BTreeSet<u32>,
    want: &[usize],
    users: &[Vec<u32>],
    taken: &[bool],
    pinned: &[bool],
) -> Vec<u32> {
    let nodes = &g.tape.nodes;
    let mut parents: Vec<u32> = members
        .iter()
        .flat_map(|&m| nodes[m as usize].parents.iter().flatten().copied())
        .filter(|p| !members.contains(p))
        .collect();
    parents.sort_unstable();
    parents.dedup();
    parents.retain(|&p| {
        let pi = p as usize;
        matches!(&nodes[pi].out, Value::Tensor(t) if t.shape() == want)
            && !taken[pi]
            && !pinned[pi]
            && !g.guards.contains(&p)
            && users[pi].iter().all(|u| members.contains(u))
    });
    parents
}

/// A 2-d `@` among the group's `feeders`, whose product the group can
/// compute into its kernel (the latest such node).
fn fusable_product(g: &Extended, feeders: &[u32]) -> Option<u32> {
    let two_d = |v: &Value| matches!(v, Value::Tensor(t) if t.ndim() == 2);
    feeders.iter().rev().copied().find(|&p| {
        let node = &g.tape.nodes[p as usize];
        matches!(node.op, Op::Prim(Prim::MatMul(_))) && node.inputs.len() == 2 && node.inputs.iter().all(two_d)
    })
}

/// The `broadcast_to` nodes among the group's `feeders`: the kernel
/// broadcasts their inputs itself.
fn absorbable_broadcasts(g: &Extended, feeders: &[u32]) -> Vec<u32> {
    feeders
        .iter()
        .copied()
        .filter(|&p| {
            let node = &g.tape.nodes[p as usize];
            matches!(node.op, Op::Prim(Prim::BroadcastTo(_)))
                && matches!(node.inputs[..], [Value::Tensor(_) | Value::Float(_)])
        })
        .collect()
}

/// The kernel computing `members` (in graph order, the root last), with the
/// matrix product `product` computed into it and the `absorbed` broadcasts'
/// inputs read in their place.
fn build(
    g: &Extended,
    members: Vec<u32>,
    shape: Vec<usize>,
    reduce: Option<FusedReduce>,
    product: Option<u32>,
    absorbed: Vec<u32>,
) -> Group {
    let nodes = &g.tape.nodes;
    let step_of: HashMap<u32, u16> = members.iter().enumerate().map(|(s, &m)| (m, s as u16)).collect();
    let mut args: Vec<AdjointRef> = Vec::new();
    let mut arg_of_node: HashMap<u32, u16> = HashMap::new();
    let mut steps = Vec::with_capacity(members.len());
    // A summing root is the kernel's reduction, not a step.
    let stepped = if reduce.is_some() {
        &members[..members.len() - 1]
    } else {
        &members[..]
    };
    for &m in stepped {
        let node = &nodes[m as usize];
        let mut operand = |k: usize| {
            // An absorbed broadcast stands for its input (a node or a constant).
            let (from, k) = match node.parents.get(k).copied().flatten() {
                Some(p) if absorbed.contains(&p) => (&nodes[p as usize], 0),
                _ => (node, k),
            };
            match from.parents.get(k).copied().flatten() {
                Some(p) => match step_of.get(&p) {
                    Some(&s) => FusedOperand::Step(s),
                    None => FusedOperand::Arg(*arg_of_node.entry(p).or_insert_with(|| {
                        args.push(AdjointRef::Node(p));
                        (args.len() - 1) as u16
                    })),
                },
                None => {
                    args.push(AdjointRef::Const(from.inputs[k].clone()));
                    FusedOperand::Arg((args.len() - 1) as u16)
                }
            }
        };
        // Members were chosen by `elementwise`, which names their operator.
        let Some(op) = elementwise(g, m as usize) else { continue };
        let a = operand(0);
        let b = if matches!(op, FusedOp::Binary(_)) {
            operand(1)
        } else {
            a
        };
        steps.push(FusedStep { op, a, b });
    }
    let product = product.and_then(|node| {
        let arg = args
            .iter()
            .position(|a| matches!(a, AdjointRef::Node(p) if *p == node))?;
        Some(Product { node, arg: arg as u16 })
    });
    Group {
        members,
        args,
        kernel: FusedKernel { steps, reduce },
        shape,
        product,
        absorbed,
    }
}
