//! Jacobians and Hessians over trees (`jacfwd`, `jacrev`, `hessian`), as in
//! JAX: for an output tree and the differentiated argument(s), the result has
//! the output's structure outside and the input's structure inside, each
//! block of shape `out_shape + in_shape`.

use super::api::{missing_arg, no_leaf_error, split_aux, unwrap_tree, wrap_inputs, Argnums, DiffOpts};
use super::jacbatch::{basis_block, batching_failed, block_len, join, lead_to_end, stacked, zeros_stack};
use super::trace::{self, backward, batched, dual, start_tape, tangent_at, unwrap_level};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, apply, num, shape_of, Prim};
use crate::value::native::Args;
use crate::value::tree::{self, is_array_leaf, is_differentiable};
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
    for i in argnums.list(args.pos.len())? {
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
            "`{fname}` needs a function returning floats or float tensors (or a tree of them), found {}",
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

/// Checks that the whole Jacobian fits the memory budget before its blocks
/// are computed: every (output leaf, input leaf) block is kept until the
/// result is assembled, so the budget must cover their sum, `n_out` output
/// elements by `n_in` input elements in all (the element counts of the
/// differentiable output leaves and of the differentiated input leaves). A
/// check per block let a function of many leaves go far past the budget,
/// as one per Jacobian once let a 30000 x 30000 Jacobian (7 GB) fill the
/// memory before its parts were joined.
fn jacobian_fits(fname: &str, n_out: &[usize], n_in: &[usize]) -> R<()> {
    let total = |ns: &[usize]| ns.iter().map(|&n| n as u128).sum::<u128>();
    let (rows, cols) = (total(n_out), total(n_in));
    dp_tensor::check_memory(rows.saturating_mul(cols).saturating_mul(8), || {
        let blocks = n_out.len() * n_in.len();
        let what = if fname == "hessian" {
            "the Hessian from `hessian`".to_string()
        } else {
            format!("the `{fname}` Jacobian")
        };
        if blocks <= 1 {
            format!("{what} ({rows} x {cols} elements)")
        } else {
            format!(
                "{what} ({rows} x {cols} elements in {blocks} blocks: {} output leaves by {} input leaves)",
                n_out.len(),
                n_in.len()
            )
        }
    })
    .map_err(ops::tensor_error)
}

/// The element counts of the leaves among `leaves` that `keep` picks
/// (differentiable inputs; outputs that carry a derivative).
fn leaf_sizes<'a>(leaves: impl IntoIterator<Item = &'a Value>, keep: fn(&Value) -> bool) -> Vec<usize> {
    leaves
        .into_iter()
        .filter(|x| keep(x))
        .map(|x| shape_of(&num(x)).iter().product())
        .collect()
}

/// `jacrev(f, argnums, has_aux)(args...)`: reverse mode, one backward pass per output element.
pub fn jacrev_call(it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args) -> R<Value> {
    let fname = "jacrev";
    let inp = inputs(fname, &args, &opts.argnums)?;
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let mut call_args = args.clone();
    let mut ids: Vec<Option<u32>> = Vec::new();
    for i in opts.argnums.list(args.pos.len())? {
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
    // The whole Jacobian must fit before the first backward pass.
    let n_in = leaf_sizes(
        inp.leaves
            .iter()
            .zip(&ids)
            .filter(|(_, id)| id.is_some())
            .map(|(x, _)| x),
        is_differentiable,
    );
    jacobian_fits(fname, &leaf_sizes(&tree::leaves(&y)?, is_array_leaf), &n_in)?;
    let mut m = 0;
    let jac = tree::map_leaves(&y, &mut |yl, _| {
        let node = out_nodes[m];
        m += 1;
        if !is_array_leaf(yl) {
            return match yl.peek() {
                Value::Int(_) | Value::Bool(_) | Value::None => Ok(Value::None),
                _ => Err(not_numeric(fname, yl)),
            };
        }
        let ys = shape_of(yl);
        let n_out: usize = ys.iter().product();
        // rows[j]: the cotangents of input leaf j, one per output element, stacked: [n_out, *x shape].
        let mut rows = match node {
            Some(n) => match rev_rows_batched(it, &tape, n, &ys, &inp, &ids) {
                Err(d) if batching_failed(&d) => rev_rows_looped(it, &tape, n, &ys, &inp, &ids)?,
                r => r?,
            },
            None => inp
                .leaves
                .iter()
                .map(|x| zeros_stack(n_out, &shape_of(&num(x))))
                .collect::<R<_>>()?,
        };
        blocks(&inp, &mut |j, x| {
            let mut shape = ys.clone();
            shape.extend(shape_of(x));
            ops::reshape(&std::mem::replace(&mut rows[j], Value::None), &shape)
        })
    })?;
    Ok(with_aux(jac, aux))
}

/// The rows of the Jacobian of output `node` (of shape `ys`) for each input
/// leaf, `[n_out, *x shape]`: one backward pass per block of output
/// elements, the block's basis cotangents batched (`vmap` of the VJP).
fn rev_rows_batched(
    it: &mut Interp,
    tape: &trace::Tape,
    node: u32,
    ys: &[usize],
    inp: &Inputs,
    ids: &[Option<u32>],
) -> R<Vec<Value>> {
    let n_out: usize = ys.iter().product();
    let step = block_len(n_out);
    let mut parts: Vec<Vec<Value>> = vec![Vec::new(); inp.leaves.len()];
    for start in (0..n_out).step_by(step) {
        let count = step.min(n_out - start);
        let guard = trace::start_batch(&it.diff, count);
        let seed = batched(&guard.level, basis_block(ys, start, count)?);
        let adj = backward(it, tape, vec![(node, seed)])?;
        for (j, (x, id)) in inp.leaves.iter().zip(ids).enumerate() {
            if id.is_some() {
                let g = id.and_then(|i| adj.get(i as usize).cloned().flatten());
                parts[j].push(stacked(g.as_ref(), &guard.level, count, &shape_of(&num(x)))?);
            }
        }
    }
    parts
        .into_iter()
        .zip(ids)
        .zip(&inp.leaves)
        .map(|((p, id), x)| match id {
            None => Ok(Value::None),
            // An empty output: no pass ran, the rows have no elements.
            Some(_) if p.is_empty() => zeros_stack(0, &shape_of(&num(x))),
            Some(_) => join(p),
        })
        .collect()
}

/// [`rev_rows_batched`] one output element at a time: the fallback when the
/// backward pass cannot be batched (a custom rule that branches on its cotangent).
fn rev_rows_looped(
    it: &mut Interp,
    tape: &trace::Tape,
    node: u32,
    ys: &[usize],
    inp: &Inputs,
    ids: &[Option<u32>],
) -> R<Vec<Value>> {
    let n_out: usize = ys.iter().product();
    let mut rows: Vec<Vec<Value>> = vec![Vec::with_capacity(n_out); inp.leaves.len()];
    for e in 0..n_out {
        let adj = backward(it, tape, vec![(node, basis(ys, e)?)])?;
        for (j, (x, id)) in inp.leaves.iter().zip(ids).enumerate() {
            if let Some(id) = id {
                rows[j].push(match adj.get(*id as usize).cloned().flatten() {
                    Some(g) => g,
                    None => ops::zeros_like(&num(x))?,
                });
            }
        }
    }
    rows.into_iter()
        .zip(ids)
        .zip(&inp.leaves)
        .map(|((r, id), x)| match id {
            None => Ok(Value::None),
            Some(_) => assemble(r, &[n_out], &shape_of(&num(x)), false),
        })
        .collect()
}

/// `args` with differentiated input leaf `j` (counting over `argnums`) replaced by `new`.
fn replace_leaf(args: &Args, argnums: &Argnums, j: usize, new: &Value) -> R<Args> {
    let mut out = args.clone();
    let mut k = 0;
    for i in argnums.list(args.pos.len())? {
        out.pos[i] = tree::map_leaves(&args.pos[i], &mut |x, _| {
            k += 1;
            Ok(if k - 1 == j { new.clone() } else { x.clone() })
        })?;
    }
    Ok(out)
}

/// The columns of one input leaf for every output leaf: `[*y shape, n_in]`
/// (`none` for an output that is not differentiable), and the primal
/// output and aux of the first pass (`None` when the leaf is empty).
struct Columns {
    cols: Vec<Value>,
    first: Option<(Value, Option<Value>)>,
}

/// Receives output leaf `m`'s primal and tangent (`None`: zero).
type PushTangent<'a> = dyn FnMut(usize, &Value, Option<Value>) -> R<()> + 'a;

/// The output leaves of one forward pass at `level`: their primals (as a
/// tree) and their tangents, given to `push(m, primal, tangent)`.
fn read_tangents(out: &Value, level: &Rc<trace::Level>, push: &mut PushTangent<'_>) -> R<Value> {
    let mut m = 0;
    tree::map_leaves(out, &mut |o, _| {
        let yl = unwrap_level(o, level);
        push(m, &yl, tangent_at(o, level))?;
        m += 1;
        Ok(yl)
    })
}

/// [`Columns`] of input leaf `j` (value `x`) by forward passes over blocks
/// of its elements, the block's basis tangents batched (`vmap` of the JVP).
/// `all_in` are the element counts of all differentiated input leaves: the
/// first pass, which gives the output's shapes, checks that the whole
/// Jacobian fits before any other runs.
fn fwd_cols_batched(
    fname: &str,
    it: &mut Interp,
    f: &Value,
    opts: &DiffOpts,
    args: &Args,
    (j, x): (usize, &Value),
    all_in: &[usize],
) -> R<Columns> {
    let xs = shape_of(x);
    let n_in: usize = xs.iter().product();
    let step = block_len(n_in);
    // parts[m]: the blocks of output leaf m, each [count, *y shape] (empty: not differentiable).
    let mut parts: Vec<Vec<Value>> = Vec::new();
    let mut first = None;
    for start in (0..n_in).step_by(step) {
        let count = step.min(n_in - start);
        let batch = trace::start_batch(&it.diff, count);
        let active = trace::start_forward(&it.diff);
        let level = active.level.clone();
        let tangent = batched(&batch.level, basis_block(&xs, start, count)?);
        let call_args = replace_leaf(args, &opts.argnums, j, &dual(&level, x.clone(), tangent))?;
        let out = it.call(f, call_args)?;
        let (out, aux) = split_aux(fname, out, opts.has_aux)?;
        let y = read_tangents(&out, &level, &mut |m, yl, t| {
            if parts.len() <= m {
                parts.resize(m + 1, Vec::new());
            }
            if is_array_leaf(yl) {
                parts[m].push(stacked(t.as_ref(), &batch.level, count, &shape_of(yl))?);
            }
            Ok(())
        })?;
        if start == 0 {
            jacobian_fits(fname, &leaf_sizes(&tree::leaves(&y)?, is_array_leaf), all_in)?;
        }
        if first.is_none() {
            first = Some((y, aux.map(|a| unwrap_tree(&a, &level)).transpose()?));
        }
    }
    let cols = parts
        .into_iter()
        .map(|p| {
            if p.is_empty() {
                Ok(Value::None)
            } else {
                lead_to_end(&join(p)?)
            }
        })
        .collect::<R<_>>()?;
    Ok(Columns { cols, first })
}

/// [`fwd_cols_batched`] one input element at a time: the fallback when the
/// forward pass cannot be batched (user code that branches on a tangent).
fn fwd_cols_looped(
    fname: &str,
    it: &mut Interp,
    f: &Value,
    opts: &DiffOpts,
    args: &Args,
    (j, x): (usize, &Value),
    all_in: &[usize],
) -> R<Columns> {
    let xs = shape_of(x);
    let n_in: usize = xs.iter().product();
    let mut parts: Vec<Vec<Value>> = Vec::new();
    let mut shapes: Vec<Option<Vec<usize>>> = Vec::new();
    let mut first = None;
    for e in 0..n_in {
        let active = trace::start_forward(&it.diff);
        let level = active.level.clone();
        let call_args = replace_leaf(args, &opts.argnums, j, &dual(&level, x.clone(), basis(&xs, e)?))?;
        let out = it.call(f, call_args)?;
        let (out, aux) = split_aux(fname, out, opts.has_aux)?;
        let y = read_tangents(&out, &level, &mut |m, yl, t| {
            if parts.len() <= m {
                parts.resize(m + 1, Vec::new());
                shapes.resize(m + 1, None);
            }
            if is_array_leaf(yl) {
                shapes[m] = Some(shape_of(yl));
                parts[m].push(match t {
                    Some(t) => t,
                    None => ops::zeros_like(yl)?,
                });
            }
            Ok(())
        })?;
        if e == 0 {
            jacobian_fits(fname, &leaf_sizes(&tree::leaves(&y)?, is_array_leaf), all_in)?;
        }
        if first.is_none() {
            first = Some((y, aux.map(|a| unwrap_tree(&a, &level)).transpose()?));
        }
    }
    let cols = parts
        .into_iter()
        .zip(shapes)
        .map(|(p, s)| match s {
            Some(s) => assemble(p, &s, &[n_in], true),
            None => Ok(Value::None),
        })
        .collect::<R<_>>()?;
    Ok(Columns { cols, first })
}

/// `jacfwd(f, argnums, has_aux)(args...)`: forward mode, one batched pass
/// per block of input elements (per element when the pass cannot be batched).
pub fn jacfwd_call(it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args) -> R<Value> {
    jacfwd_named("jacfwd", it, f, opts, args)
}

/// [`jacfwd_call`] whose reports name `fname`: `hessian` is the forward
/// Jacobian of `jacrev(f)`, and its errors (the budget check of the whole
/// result above all) must say `hessian`, which the user called.
pub fn jacfwd_named(fname: &str, it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args) -> R<Value> {
    let inp = inputs(fname, &args, &opts.argnums)?;
    // cols[j][m]: the tangents of output leaf m along each element of input leaf j, [*y shape, n_in].
    let mut cols: Vec<Vec<Value>> = vec![Vec::new(); inp.leaves.len()];
    let mut first: Option<(Value, Option<Value>)> = None;
    let n_in = leaf_sizes(&inp.leaves, is_differentiable);
    for (j, x) in inp.leaves.iter().enumerate() {
        if !is_differentiable(x) {
            continue;
        }
        let x = num(x);
        let c = match fwd_cols_batched(fname, it, f, opts, &args, (j, &x), &n_in) {
            Err(d) if batching_failed(&d) => fwd_cols_looped(fname, it, f, opts, &args, (j, &x), &n_in)?,
            r => r?,
        };
        cols[j] = c.cols;
        if first.is_none() {
            first = c.first;
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
        if !is_array_leaf(yl) {
            return match yl.peek() {
                Value::Int(_) | Value::Bool(_) | Value::None => Ok(Value::None),
                _ => Err(not_numeric(fname, yl)),
            };
        }
        let ys = shape_of(yl);
        blocks(&inp, &mut |j, x| {
            let mut shape = ys.clone();
            shape.extend(shape_of(x));
            match cols[j].get_mut(mi).map(|c| std::mem::replace(c, Value::None)) {
                Some(c) if !matches!(c, Value::None) => ops::reshape(&c, &shape),
                // An empty input leaf: no pass ran, the block has no elements.
                _ => assemble(Vec::new(), &ys, &shape_of(x), true),
            }
        })
    })?;
    Ok(with_aux(jac, aux))
}
