//! A traced graph as a StableHLO program: `graph_stablehlo(g)`.
//!
//! StableHLO is the portable operation set of the OpenXLA ecosystem (what
//! `jax.jit(f).lower(...).as_text()` prints): a program in it can be
//! compiled and run by XLA, IREE and the other OpenXLA compilers, so a
//! function traced and optimised in dp — a model's forward pass, a whole
//! training step with its backward pass — can leave the machine. The graph's
//! inputs become the arguments of `@main`, its outputs the results, and each
//! node needed for them one or a few StableHLO operations ([`lower`]).
//! Constants are written bit-exactly (hexadecimal), so the program computes
//! what the graph does, up to the rounding of operations XLA implements
//! differently (transcendental functions, summation order).

mod lower;
mod text;
mod window;

use super::capture::AdjointRef;
use super::trace::Op;
use super::traced::TracedGraph;
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use std::collections::HashMap;
use text::{Emitter, Ty, V};

/// The StableHLO module (MLIR text) computing `tg`'s outputs from its inputs.
pub fn to_stablehlo(tg: &TracedGraph) -> R<String> {
    let g = &tg.graph;
    let nodes = &g.tape.nodes;
    if let Some(&(_, at)) = g.reads.first() {
        return Err(refusal(
            tg,
            at,
            "the traced code read a value it computed (to branch on, convert or index with it)",
        ));
    }
    if let Some(&n) = g.guards.iter().min() {
        return Err(refusal(
            tg,
            nodes[n as usize].span,
            "the traced code branched on a value it computed",
        ));
    }
    let needed = needed_nodes(tg);
    let mut e = Emitter::default();
    let mut values: HashMap<u32, V> = HashMap::new();
    let mut params = Vec::new();
    for (k, &i) in g.inputs.iter().enumerate() {
        let ty = Ty::of(&nodes[i as usize].out)?;
        params.push(format!("%arg{k}: {ty}"));
        values.insert(i, V::new(format!("%arg{k}"), ty));
    }
    for (i, node) in nodes.iter().enumerate() {
        let i = i as u32;
        if !needed[i as usize] || values.contains_key(&i) {
            continue;
        }
        let prim = match &node.op {
            Op::Prim(p) if p.is_leaf() => {
                let v = e.constant(&node.out)?;
                values.insert(i, v);
                continue;
            }
            Op::Prim(p) => p,
            Op::Custom(_) | Op::Output(_) => {
                return Err(refusal(
                    tg,
                    node.span,
                    "it calls dp code (a `custom_vjp`, `custom_jvp` or `checkpoint` rule) that the graph does not hold as primitives",
                ))
            }
        };
        let mut args = Vec::with_capacity(node.inputs.len());
        for (k, input) in node.inputs.iter().enumerate() {
            args.push(match node.parents.get(k).copied().flatten() {
                Some(p) => values[&p].clone(),
                None => e.constant(input)?,
            });
        }
        let out = Ty::of(&node.out)?;
        let v = lower::lower(&mut e, prim, &args, &out)
            .map_err(|what| refusal(tg, node.span, &format!("{what} (`{}`)", prim.name())))?;
        let v = e.coerce(v, &out);
        values.insert(i, v);
    }
    let mut results = Vec::new();
    for o in &g.outputs {
        results.push(match o {
            AdjointRef::Node(n) => values[n].clone(),
            AdjointRef::Const(c) => e.constant(c)?,
        });
    }
    Ok(text::module(&module_name(&tg.name), &params, e, &results))
}

/// Which nodes the outputs depend on (the others are not exported).
fn needed_nodes(tg: &TracedGraph) -> Vec<bool> {
    let nodes = &tg.graph.tape.nodes;
    let mut needed = vec![false; nodes.len()];
    let mut stack = tg.graph.output_nodes();
    while let Some(n) = stack.pop() {
        if std::mem::replace(&mut needed[n as usize], true) {
            continue;
        }
        stack.extend(nodes[n as usize].parents.iter().flatten().copied());
    }
    needed
}

/// `@main`'s module name: the traced function's name as an MLIR identifier.
fn module_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("dp_{}", clean.trim_matches('_'))
}

fn refusal(tg: &TracedGraph, at: crate::syntax::span::Span, why: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "`graph_stablehlo`: the graph of `{}` cannot be exported: {why}, at {}",
            tg.name,
            tg.sources.location(at)
        ),
    )
    .with_help(
        "an exported program is the graph's primitive operations only: trace a function that does not \
         branch on or read its computed values, and whose operations StableHLO has (see `help(\"graph_stablehlo\")`)",
    )
}
