//! `linearize(f, *primals)`: `f` evaluated once, and its derivative at the
//! primals as a function of the tangents that does not run `f` again.
//!
//! The call of `f` is recorded on a tape (as `grad` records it); the linear
//! function replays the JVP rule of each recorded primitive over that tape,
//! from the tangents of the inputs to those of the outputs. Side effects of
//! `f` (printing, say) happen once, at `linearize`. A tape holding a call
//! with a custom rule (`custom_jvp`, `checkpoint`), whose forward rule is dp
//! code rather than a primitive's, falls back to running `f` under `jvp` at
//! each call of the linear function.

use super::api::{jvp_call, unwrap_tree, wrap_inputs};
use super::trace::{node_at, start_tape, Op, Tape};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, num, shape_of};
use crate::syntax::span::Span;
use crate::value::native::declared;
use crate::value::signature::Decl;
use crate::value::tree::{self, is_array_leaf, is_differentiable, path_string};
use crate::value::Value;
use std::rc::Rc;

/// What the linear function needs: the tape, the node of each input leaf
/// and of each output leaf, and the output tree.
struct Recording {
    tape: Tape,
    inputs: Vec<Option<u32>>,
    outputs: Vec<Option<u32>>,
    y: Value,
}

/// The tangent of every output leaf, from the tangents of the input leaves
/// (in leaf order, `None` for non-differentiable leaves), by the JVP rules
/// of the recorded primitives in tape order.
fn replay(rec: &Recording, tangents: Vec<Option<Value>>) -> R<Value> {
    let mut tan: Vec<Option<Value>> = vec![None; rec.tape.nodes.len()];
    for (id, t) in rec.inputs.iter().zip(tangents) {
        if let (Some(id), Some(t)) = (id, t) {
            tan[*id as usize] = Some(t);
        }
    }
    for (i, node) in rec.tape.nodes.iter().enumerate() {
        let Op::Prim(p) = &node.op else { continue };
        if p.is_leaf() {
            continue;
        }
        let ts: Vec<Option<Value>> = node
            .parents
            .iter()
            .map(|p| p.and_then(|k| tan[k as usize].clone()))
            .collect();
        if ts.iter().all(Option::is_none) {
            continue;
        }
        tan[i] = crate::prim::jvp(p, &node.inputs, &ts, &node.out)?;
    }
    let mut outs = rec.outputs.iter();
    tree::map_leaves(&rec.y, &mut |yl, _| match outs.next().copied().flatten() {
        Some(n) => match &tan[n as usize] {
            Some(t) => Ok(t.clone()),
            None => ops::zeros_like(yl),
        },
        None if is_array_leaf(yl) => ops::zeros_like(yl),
        None => Ok(Value::None),
    })
}

/// The tangents given to the linear function, one per primal, checked
/// against the primals' structure and shapes, as leaves in order.
fn tangent_leaves(primals: &Value, tangents: &Value) -> R<Vec<Option<Value>>> {
    let mut out = Vec::new();
    let names = ["`primals`", "`tangents`"];
    tree::map_many_named(&[primals.clone(), tangents.clone()], &names, &mut |pair, path| {
        let (p, t) = (&pair[0], &pair[1]);
        if !is_differentiable(p) {
            out.push(None);
            return Ok(Value::None);
        }
        if !t.is_numeric() || shape_of(p) != shape_of(t) {
            return Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "tangent at {} must have the primal's shape {}, found {}",
                    path_string(path),
                    ops::describe_shape(p),
                    t.describe()
                ),
            ));
        }
        out.push(Some(num(t)));
        Ok(Value::None)
    })?;
    Ok(out)
}

/// `linearize(f, *primals)`: `(f(*primals), f_jvp)` where `f_jvp(*tangents)`
/// is the derivative of `f` at the primals along the tangents, computed from
/// the recording of the one call of `f`.
pub fn linearize_call(it: &mut Interp, f: &Value, primals: Vec<Value>, span: Span) -> R<Value> {
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let primals_t = Value::tuple(primals);
    let (wrapped, inputs) = wrap_inputs(&guard, &primals_t)?;
    let args: Vec<Value> = match wrapped {
        Value::Tuple(t) => t.iter().cloned().collect(),
        other => vec![other],
    };
    let out = it.call_pos(f, args, span)?;
    // Read the output while the level is active: once it finishes, its tracers are constants.
    let outputs: Vec<Option<u32>> = tree::leaves(&out)?.iter().map(|l| node_at(l, &level)).collect();
    let y = unwrap_tree(&out, &level)?;
    let tape = guard.finish();
    let custom = tape.nodes.iter().any(|n| !matches!(n.op, Op::Prim(_)));
    let rec = Rc::new(Recording {
        tape,
        inputs,
        outputs,
        y: y.clone(),
    });
    let f2 = f.clone();
    let decl = Decl {
        sig: "f_jvp(*tangents)",
        summary:
            "The derivative of the function `linearize` was given, at its primals, along `tangents` (one per primal).",
        doc: "",
        example: "",
    };
    let f_jvp = declared(decl, move |it2: &mut Interp, a| {
        let tangents = Value::tuple(a.rest().iter().cloned());
        if custom {
            // A custom rule is dp code: run `f` under `jvp` (see the module doc).
            return match jvp_call(it2, &f2, &primals_t, &tangents, a.span)? {
                Value::Tuple(t) if t.len() == 2 => Ok(t[1].clone()),
                other => Ok(other),
            };
        }
        let ts = tangent_leaves(&primals_t, &tangents).map_err(|d| d.at(a.span))?;
        replay(&rec, ts).map_err(|d| if d.span.is_none() { d.at(a.span) } else { d })
    });
    Ok(Value::tuple([y, f_jvp]))
}
