//! Running a graph again on new inputs: each node's primitive applied to
//! its operands in order — the lecture's "reuse" of the extended graph,
//! computing gradients for different inputs without re-deriving them. The
//! interpreter is not involved: no closures run, nothing is re-recorded
//! (unless the inputs are themselves being differentiated, in which case
//! the primitives record on their level as usual).

use super::capture::{AdjointRef, Extended};
use super::trace::Op;
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::shape_of;
use crate::value::Value;

/// How a run of a graph ended.
#[derive(Debug)]
pub enum Replay {
    /// The outputs, in order.
    Done(Vec<Value>),
    /// A guard came out differently than when traced: the traced code
    /// would have taken another path, so the graph does not apply.
    Diverged {
        /// The guard's node.
        node: u32,
        /// Its value now.
        got: Value,
    },
}

/// The report for a run that diverged at a guard.
pub fn diverged_error(g: &Extended, sources: &crate::diagnostics::SourceMap, node: u32, got: &Value) -> Diagnostic {
    let n = &g.tape.nodes[node as usize];
    // A scalar comparison computes 1.0 or 0.0; the code read it as a bool.
    let comparison = matches!(&n.op, Op::Prim(crate::prim::Prim::Binary(b)) if b.0.is_comparison());
    let shown = |v: &Value| match v.peek() {
        Value::Float(x) if comparison => (*x != 0.0).to_string(),
        other => other.repr(),
    };
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "the graph was traced where the condition at {} was {}; for these arguments it is {}",
            sources.location(n.span),
            shown(&n.out),
            shown(got)
        ),
    )
    .with_help("the traced code took a branch by this value: trace the function again for these arguments")
}

/// The graph's outputs for `inputs` (one per graph input, in order; each of
/// the shape the graph was traced with), unless a guard diverges.
pub fn replay(g: &Extended, inputs: &[Value]) -> R<Replay> {
    if inputs.len() != g.inputs.len() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "the graph has {} input{}, but {} {} given",
                g.inputs.len(),
                if g.inputs.len() == 1 { "" } else { "s" },
                inputs.len(),
                if inputs.len() == 1 { "was" } else { "were" }
            ),
        ));
    }
    let nodes = &g.tape.nodes;
    let mut values: Vec<Option<Value>> = vec![None; nodes.len()];
    for (k, (&i, v)) in g.inputs.iter().zip(inputs).enumerate() {
        let traced = shape_of(&nodes[i as usize].out);
        let given = shape_of(v);
        if traced != given {
            return Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "input {} of the graph was traced with shape {}, but has shape {}",
                    k + 1,
                    dp_tensor::format_shape(&traced),
                    dp_tensor::format_shape(&given)
                ),
            )
            .with_help("trace the function again for inputs of this shape"));
        }
        // Code outside the primitives read the input itself (`str(x)`, `int(n)`).
        if g.guards.contains(&i) && !crate::value::values_equal(v, &nodes[i as usize].out) {
            return Ok(Replay::Diverged {
                node: i,
                got: v.clone(),
            });
        }
        values[i as usize] = Some(v.clone());
    }
    for (i, node) in nodes.iter().enumerate() {
        if values[i].is_some() {
            continue;
        }
        let prim = match &node.op {
            // An input of the tape that is no input of the graph is a constant.
            Op::Prim(p) if p.is_leaf() => {
                values[i] = Some(node.out.clone());
                continue;
            }
            Op::Prim(p) => p,
            Op::Custom(_) | Op::Output(_) => {
                return Err(Diagnostic::new(
                    ErrorKind::Differentiation,
                    format!(
                        "the graph cannot run `{}` again: it calls back into dp code",
                        node.op.name()
                    ),
                ))
            }
        };
        let mut args = Vec::with_capacity(node.inputs.len());
        for (k, input) in node.inputs.iter().enumerate() {
            args.push(match node.parents.get(k).copied().flatten() {
                // Parents come earlier in the tape, so they are computed.
                Some(p) => values[p as usize].clone().unwrap_or(Value::None),
                None => input.clone(),
            });
        }
        let v = crate::prim::apply(prim, &args)?;
        if g.guards.contains(&(i as u32)) && !crate::value::values_equal(&v, &node.out) {
            return Ok(Replay::Diverged { node: i as u32, got: v });
        }
        values[i] = Some(v);
    }
    Ok(Replay::Done(
        g.outputs
            .iter()
            .map(|o| match o {
                AdjointRef::Node(n) => values[*n as usize].clone().unwrap_or(Value::None),
                AdjointRef::Const(v) => v.clone(),
            })
            .collect(),
    ))
}
