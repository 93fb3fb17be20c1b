//! Renders a reverse-mode tape — the computational graph of one
//! differentiation — as Graphviz DOT, for `dp graph` and the `graph` builtin.

use super::trace::{Op, Tape};
use crate::diagnostics::SourceMap;
use crate::ops::shape_of;
use crate::prim::Prim;
use crate::value::Value;
use std::fmt::Write as _;

/// A copy of a tape (for the capture of `dp graph`, which outlives the
/// differentiation that recorded it).
pub(crate) fn clone_tape(tape: &Tape) -> Tape {
    Tape {
        level: tape.level,
        nodes: tape.nodes.iter().map(clone_node).collect(),
    }
}

fn clone_node(n: &super::trace::Node) -> super::trace::Node {
    super::trace::Node {
        op: n.op.clone(),
        inputs: n.inputs.clone(),
        parents: n.parents.clone(),
        out: n.out.clone(),
        span: n.span,
    }
}

fn describe(v: &Value) -> String {
    match v.strip() {
        Value::Float(x) => dp_tensor::format_float(*x),
        Value::Tensor(_) => dp_tensor::format_shape(&shape_of(v)),
        other => other.type_name().to_string(),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The DOT text of a tape: one node per primitive (op, value or shape, source
/// location), edges from inputs to uses; inputs of the differentiation are boxes.
pub fn to_dot(tape: &Tape, sources: &SourceMap) -> String {
    let mut out = String::from("digraph dp {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (i, n) in tape.nodes.iter().enumerate() {
        let (shape, label) = match n.op {
            Op::Prim(Prim::Leaf(_)) => ("box", format!("input {i}\\n{}", describe(&n.out))),
            _ => (
                "ellipse",
                format!(
                    "{}\\n{}\\n{}",
                    escape(&n.op.name().replace('`', "")),
                    describe(&n.out),
                    escape(&sources.location(n.span))
                ),
            ),
        };
        let _ = writeln!(out, "  n{i} [shape={shape}, label=\"{label}\"];");
        for (k, p) in n.parents.iter().enumerate() {
            match p {
                Some(p) => {
                    let _ = writeln!(out, "  n{p} -> n{i};");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  c{i}_{k} [shape=plaintext, label=\"{}\"];\n  c{i}_{k} -> n{i} [style=dashed];",
                        escape(&describe(&n.inputs[k]))
                    );
                }
            }
        }
    }
    out.push_str("}\n");
    out
}
