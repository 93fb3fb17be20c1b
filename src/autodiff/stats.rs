//! `graph_stats`: what a graph costs — nodes by operation, floating-point
//! operations, and the bytes its intermediate values take.

use super::capture::Extended;
use super::trace::{Node, Op};
use crate::ops::shape_of;
use crate::prim::Prim;
use crate::value::Value;
use std::collections::BTreeMap;

/// The cost of a graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Every node, inputs included.
    pub nodes: usize,
    /// The graph's inputs.
    pub inputs: usize,
    /// Nodes computed by the forward pass (inputs and constants excluded).
    pub forward: usize,
    /// Nodes computed by backward passes.
    pub backward: usize,
    /// Nodes per operation name (inputs and constants excluded).
    pub by_op: BTreeMap<String, usize>,
    /// Floating-point operations, approximately (see [`flops`]).
    pub flops: u64,
    /// Bytes of the values the computed nodes produce.
    pub bytes: u64,
}

fn elements(v: &Value) -> u64 {
    shape_of(v).iter().product::<usize>() as u64
}

/// The floating-point operations of one node, approximately: `2mkn` for a
/// matmul, `2 × output × window` for a convolution, one per input element
/// for reductions and sum-to, one per output element for elementwise
/// operations (a transcendental function counts as one), `n` per output
/// element for the O(n³) decompositions, none for data movement (reshape,
/// transpose, broadcast, slicing, gathers, joins).
pub fn flops(node: &Node) -> u64 {
    let Op::Prim(p) = &node.op else { return 0 };
    let out = elements(&node.out);
    let input = |k: usize| node.inputs.get(k).map(elements).unwrap_or(0);
    let last = |k: usize| {
        node.inputs
            .get(k)
            .map(|v| shape_of(v).last().copied().unwrap_or(1) as u64)
            .unwrap_or(1)
    };
    match p {
        Prim::Leaf(_) => 0,
        Prim::MatMul(_) => 2 * out * last(0),
        Prim::Reduce(_) | Prim::SumTo(_) => input(0),
        Prim::Conv(_) => {
            let out_channels = node
                .inputs
                .get(1)
                .map(|w| shape_of(w).first().copied().unwrap_or(1))
                .unwrap_or(1);
            2 * out * (input(1) / (out_channels as u64).max(1))
        }
        Prim::Transpose(_)
        | Prim::Reshape(_)
        | Prim::BroadcastTo(_)
        | Prim::Slice(_)
        | Prim::SliceScatter(_)
        | Prim::Take(_)
        | Prim::TakeScatter(_)
        | Prim::Concat(_)
        | Prim::Stack(_) => 0,
        Prim::Solve(_)
        | Prim::TriSolve(_)
        | Prim::Cholesky(_)
        | Prim::LogAbsDet(_)
        | Prim::Det(_)
        | Prim::Adjugate(_)
        | Prim::AdjugateJvp(_)
        | Prim::Pinv(_)
        | Prim::Qr(_)
        | Prim::Lu(_)
        | Prim::TridiagonalSolve(_)
        | Prim::Eigh(_)
        | Prim::Svd(_) => out.max(input(0)) * last(0),
        _ => out,
    }
}

/// Counts the graph's nodes, operations and bytes.
pub fn stats(g: &Extended) -> Stats {
    let mut s = Stats {
        nodes: g.tape.nodes.len(),
        inputs: g.inputs.len(),
        ..Stats::default()
    };
    for (i, node) in g.tape.nodes.iter().enumerate() {
        if node.op.is_leaf() {
            continue;
        }
        if g.passes.iter().any(|p| p.begin <= i && i < p.end) {
            s.backward += 1;
        } else {
            s.forward += 1;
        }
        *s.by_op.entry(node.op.name().replace('`', "")).or_default() += 1;
        s.flops += flops(node);
        let width = match node.out.peek() {
            Value::Tensor(t) if t.is_bool() => 1,
            _ => 8,
        };
        s.bytes += elements(&node.out) * width;
    }
    s
}
