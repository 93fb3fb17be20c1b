//! Renders a reverse-mode tape — the computational graph of one
//! differentiation — as Graphviz DOT, for `dp graph` and the `graph` builtin.

use super::trace::Tape;
use crate::diagnostics::SourceMap;
use crate::ops::{shape_of, Prim};
use crate::value::Value;
use std::cell::RefCell;
use std::fmt::Write as _;

thread_local! {
    static CAPTURE: RefCell<Option<Option<Tape>>> = const { RefCell::new(None) };
}

/// Starts capturing: the next finished outermost tape is kept for [`take_captured`].
pub fn start_capture() {
    CAPTURE.with(|c| *c.borrow_mut() = Some(None));
}

/// Offers a finished tape to the capture (only the first one is kept).
pub fn offer(tape: &Tape) {
    CAPTURE.with(|c| {
        if let Some(slot @ None) = &mut *c.borrow_mut() {
            *slot = Some(Tape {
                level: tape.level,
                nodes: tape.nodes.iter().map(clone_node).collect(),
            });
        }
    });
}

fn clone_node(n: &super::trace::Node) -> super::trace::Node {
    super::trace::Node {
        prim: n.prim.clone(),
        inputs: n.inputs.clone(),
        parents: n.parents.clone(),
        out: n.out.clone(),
        span: n.span,
    }
}

/// The captured tape, if any differentiation ran since [`start_capture`].
pub fn take_captured() -> Option<Tape> {
    CAPTURE.with(|c| c.borrow_mut().take().flatten())
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
        let (shape, label) = match n.prim {
            Prim::Leaf(_) => ("box", format!("input {i}\\n{}", describe(&n.out))),
            _ => (
                "ellipse",
                format!(
                    "{}\\n{}\\n{}",
                    escape(&n.prim.name().replace('`', "")),
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
