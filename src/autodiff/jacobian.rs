//! Jacobians and Hessians over trees (`jacfwd`, `jacrev`, `hessian`), as in
//! JAX: for an output tree and the differentiated argument(s), the result has
//! the output's structure outside and the input's structure inside, each
//! block of shape `out_shape + in_shape`.

use super::api::{missing_arg, no_leaf_error, split_aux, unwrap_tree, wrap_inputs, Argnums, DiffOpts};
use super::trace::{self, backward, dual, start_tape, tangent_at, unwrap_level};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, apply, num, shape_of, Prim};
use crate::value::native::Args;
use crate::value::tree::{self, is_differentiable};
use crate::value::Value;
use dp_tensor::Tensor;
use std::rc::Rc;

/// The one-hot tangent or cotangent selecting element `i` of a value of `shape`.
fn basis(shape: &[usize], i: usize) -> R<Value> {
    if shape.is_empty() {
        return Ok(Value::Float(1.0));
    }
    let n: usize = shape.iter().product();
    let mut data = vec![0.0; n];
    data[i] = 1.0;
    Ok(Value::Tensor(Rc::new(
        Tensor::from_vec(data, shape).map_err(ops::tensor_error)?,
    )))
}

/// Stacks per-element results into shape `lead + trail`: rows (reverse mode,
/// each of shape `trail`) or columns (forward mode, each of shape `lead`).
fn assemble(parts: Vec<Value>, lead: &[usize], trail: &[usize], axis_last: bool) -> R<Value> {
    let mut shape = lead.to_vec();
    shape.extend_from_slice(trail);
    if parts.len() == 1 && (lead.is_empty() || trail.is_empty()) && shape.iter().product::<usize>() <= 1 {
        return ops::reshape(&parts[0], &shape);
    }
    if parts.is_empty() {
        return Ok(Value::Tensor(Rc::new(
            Tensor::zeros(&shape).map_err(ops::tensor_error)?,
        )));
    }
    let axis = if axis_last { shape_of(&parts[0]).len() } else { 0 };
    let stacked = apply(&Prim::Stack(crate::prim::Stack(axis)), &parts)?;
    ops::reshape(&stacked, &shape)
}

/// The differentiated inputs: the structure blocks are arranged in (the
/// argument, or a tuple of them for several `argnums`) and its leaves.
struct Inputs {
    tree: Value,
    leaves: Vec<Value>,
}

fn inputs(fname: &str, args: &Args, argnums: &Argnums) -> R<Inputs> {
    let mut trees = Vec::new();
    for i in argnums.list() {
        let a = args.pos.get(i).ok_or_else(|| missing_arg(fname, i, args.pos.len()))?;
        if !tree::leaves(a)?.iter().any(is_differentiable) {
            return Err(no_leaf_error(i, a));
        }
        trees.push(a.clone());
    }
    let tree = match argnums {
        Argnums::One(_) => trees.remove(0),
        Argnums::Many(_) => Value::tuple(trees),
    };
    let leaves = tree::leaves(&tree)?;
    Ok(Inputs { tree, leaves })
}

/// The block of one output leaf: the inputs' structure with, at each
/// differentiable input leaf, `block(leaf index, leaf)`; `none` elsewhere.
fn blocks(inp: &Inputs, block: &mut dyn FnMut(usize, &Value) -> R<Value>) -> R<Value> {
    let mut k = 0;
    tree::map_leaves(&inp.tree, &mut |x, _| {
        let j = k;
        k += 1;
        if is_differentiable(x) {
            block(j, &num(x))
        } else {
            Ok(Value::None)
        }
    })
}

fn not_numeric(fname: &str, y: &Value) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Differentiation,
        format!(
            "`{fname}` needs a function returning floats or tensors (or a tree of them), found {}",
            y.describe()
        ),
    )
}

/// The result, with the aux beside it when `has_aux`.
fn with_aux(jac: Value, aux: Option<Value>) -> Value {
    match aux {
        Some(a) => Value::tuple([jac, a]),
        None => jac,
    }
}

/// `jacrev(f, argnums, has_aux)(args...)`: reverse mode, one backward pass per output element.
pub fn jacrev_call(it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args) -> R<Value> {
    let fname = "jacrev";
    let inp = inputs(fname, &args, &opts.argnums)?;
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let mut call_args = args.clone();
    let mut ids: Vec<Option<u32>> = Vec::new();
    for i in opts.argnums.list() {
        let (w, leaf_ids) = wrap_inputs(&guard, &args.pos[i])?;
        call_args.pos[i] = w;
        ids.extend(leaf_ids);
    }
    let out = it.call(f, call_args)?;
    let (out, aux) = split_aux(fname, out, opts.has_aux)?;
    // Read the output while the level is active: once it finishes, its tracers are constants.
    let mut out_nodes = Vec::new();
    let y = tree::map_leaves(&out, &mut |x, _| {
        out_nodes.push(trace::node_at(x, &level));
        Ok(unwrap_level(x, &level))
    })?;
    let aux = aux.map(|a| unwrap_tree(&a, &level)).transpose()?;
    let tape = guard.finish();
    let mut m = 0;
    let jac = tree::map_leaves(&y, &mut |yl, _| {
        let node = out_nodes[m];
        m += 1;
        if !is_differentiable(yl) {
            return match yl.strip() {
                Value::Int(_) | Value::Bool(_) | Value::None => Ok(Value::None),
                _ => Err(not_numeric(fname, yl)),
            };
        }
        let ys = shape_of(yl);
        let n_out: usize = ys.iter().product();
        let mut rows: Vec<Vec<Value>> = vec![Vec::with_capacity(n_out); inp.leaves.len()];
        for e in 0..n_out {
            let adj = match node {
                Some(n) => backward(it, &tape, vec![(n, basis(&ys, e)?)])?,
                None => Vec::new(),
            };
            for (j, (x, id)) in inp.leaves.iter().zip(&ids).enumerate() {
                if let Some(id) = id {
                    rows[j].push(match adj.get(*id as usize).cloned().flatten() {
                        Some(g) => g,
                        None => ops::zeros_like(&num(x))?,
                    });
                }
            }
        }
        blocks(&inp, &mut |j, x| {
            assemble(std::mem::take(&mut rows[j]), &ys, &shape_of(x), false)
        })
    })?;
    Ok(with_aux(jac, aux))
}

/// `args` with differentiated input leaf `j` (counting over `argnums`) replaced by `new`.
fn replace_leaf(args: &Args, argnums: &Argnums, j: usize, new: &Value) -> R<Args> {
    let mut out = args.clone();
    let mut k = 0;
    for i in argnums.list() {
        out.pos[i] = tree::map_leaves(&args.pos[i], &mut |x, _| {
            k += 1;
            Ok(if k - 1 == j { new.clone() } else { x.clone() })
        })?;
    }
    Ok(out)
}

/// `jacfwd(f, argnums, has_aux)(args...)`: forward mode, one pass per input element.
pub fn jacfwd_call(it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args) -> R<Value> {
    let fname = "jacfwd";
    let inp = inputs(fname, &args, &opts.argnums)?;
    // cols[j][m]: the tangents of output leaf m along each element of input leaf j.
    let mut cols: Vec<Vec<Vec<Value>>> = vec![Vec::new(); inp.leaves.len()];
    let mut first: Option<(Value, Option<Value>)> = None;
    for (j, x) in inp.leaves.iter().enumerate() {
        if !is_differentiable(x) {
            continue;
        }
        let x = num(x);
        let xs = shape_of(&x);
        for e in 0..xs.iter().product::<usize>() {
            let active = trace::start_forward(&it.diff);
            let level = active.level.clone();
            let call_args = replace_leaf(&args, &opts.argnums, j, &dual(&level, x.clone(), basis(&xs, e)?))?;
            let out = it.call(f, call_args)?;
            let (out, aux) = split_aux(fname, out, opts.has_aux)?;
            let mut tangents = Vec::new();
            let y = tree::map_leaves(&out, &mut |o, _| {
                let yl = unwrap_level(o, &level);
                tangents.push(match tangent_at(o, &level) {
                    Some(t) => t,
                    None if is_differentiable(&yl) => ops::zeros_like(&yl)?,
                    None => Value::None,
                });
                Ok(yl)
            })?;
            if cols[j].is_empty() {
                cols[j] = vec![Vec::new(); tangents.len()];
            }
            for (m, t) in tangents.into_iter().enumerate() {
                if let Some(c) = cols[j].get_mut(m) {
                    c.push(t);
                }
            }
            if first.is_none() {
                first = Some((y, aux.map(|a| unwrap_tree(&a, &level)).transpose()?));
            }
        }
    }
    // Every differentiated leaf was empty: one plain call gives the output's structure.
    let (y, aux) = match first {
        Some(p) => p,
        None => split_aux(fname, it.call(f, args.clone())?, opts.has_aux)?,
    };
    let mut m = 0;
    let jac = tree::map_leaves(&y, &mut |yl, _| {
        let mi = m;
        m += 1;
        if !is_differentiable(yl) {
            return match yl.strip() {
                Value::Int(_) | Value::Bool(_) | Value::None => Ok(Value::None),
                _ => Err(not_numeric(fname, yl)),
            };
        }
        let ys = shape_of(yl);
        blocks(&inp, &mut |j, x| {
            let parts = cols[j].get_mut(mi).map(std::mem::take).unwrap_or_default();
            assemble(parts, &ys, &shape_of(x), true)
        })
    })?;
    Ok(with_aux(jac, aux))
}
