//! The differentiation transformations of docs/language.md §8: grad,
//! value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, numgrad, check_grad.

use super::trace::{self, backward, dual, leaf, start_tape, tangent_at, unwrap_level};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops::{self, as_tensor, num, shape_of};
use crate::syntax::span::Span;
use crate::value::native::{declared, native, Args};
use crate::value::signature::Decl;
use crate::value::tree::{self, is_array_leaf, is_differentiable, path_string};
use crate::value::Value;
use dp_tensor::Tensor;
use std::rc::Rc;

use crate::diagnostics::R;

/// Which positional arguments to differentiate (negative positions count
/// from the last argument, as in JAX).
#[derive(Clone, Debug)]
pub enum Argnums {
    /// One argument: the gradient is returned bare.
    One(i64),
    /// Several: a tuple of gradients.
    Many(Vec<i64>),
}

impl Argnums {
    /// The argument positions, in order, for a call with `n` positional
    /// arguments (a negative position too far back, or one listed twice
    /// once resolved, is an error; a position past the end is reported by
    /// the caller, which names the function).
    pub fn list(&self, n: usize) -> R<Vec<usize>> {
        let raw = match self {
            Argnums::One(i) => vec![*i],
            Argnums::Many(v) => v.clone(),
        };
        let mut out: Vec<usize> = Vec::with_capacity(raw.len());
        for i in raw {
            let p = if i < 0 { n as i64 + i } else { i };
            let p = usize::try_from(p).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "argnums {i} is out of range for a call with {n} positional argument{}",
                        if n == 1 { "" } else { "s" }
                    ),
                )
            })?;
            if out.contains(&p) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("argnums lists argument {p} twice (for a call with {n} positional arguments)"),
                ));
            }
            out.push(p);
        }
        Ok(out)
    }
}

pub(crate) fn no_leaf_error(i: usize, v: &Value) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Differentiation,
        format!(
            "cannot differentiate with respect to argument {i}: it is {} and has no float or float tensor leaf",
            v.describe()
        ),
    )
    .with_help("ints, bools, bool tensors, strings and functions are not differentiable; pass floats (e.g. `2.0` rather than `2`)")
}

pub(crate) fn missing_arg(fname: &str, i: usize, n: usize) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Differentiation,
        format!(
            "`{fname}` differentiates argument {i}, but the function was called with {n} positional argument{}",
            if n == 1 { "" } else { "s" }
        ),
    )
}

/// Replaces every differentiable leaf of `v` with a new input of the tape; returns the node ids.
pub(crate) fn wrap_inputs(guard: &trace::TapeGuard, v: &Value) -> R<(Value, Vec<Option<u32>>)> {
    let mut ids = Vec::new();
    let wrapped = tree::map_leaves(v, &mut |x, _| {
        if is_differentiable(x) {
            let (t, id) = leaf(guard, num(x));
            ids.push(Some(id));
            Ok(t)
        } else {
            ids.push(None);
            Ok(x.clone())
        }
    })?;
    Ok((wrapped, ids))
}

/// Builds the adjoint of an input tree from the backward pass's results.
fn collect_adjoints(orig: &Value, ids: &[Option<u32>], adj: &[Option<Value>]) -> R<Value> {
    let mut it = ids.iter();
    tree::map_leaves(orig, &mut |x, _| match it.next().copied().flatten() {
        Some(id) => match &adj[id as usize] {
            Some(g) => Ok(g.clone()),
            None => ops::zeros_like(x),
        },
        None => Ok(Value::None),
    })
}

fn scalar_output(fname: &str, out: &Value) -> R<()> {
    // By the shape seen here: inside `vmap` a batched scalar is one scalar.
    let one = shape_of(out).iter().product::<usize>() == 1;
    match out.peek() {
        Value::Float(_) | Value::Tensor(_) if one => Ok(()),
        Value::Int(_) => Err(Diagnostic::new(
            ErrorKind::Differentiation,
            format!("`{fname}` needs a function returning a float, but it returned an int"),
        )
        .with_help("make the result a float, e.g. `float(n)` or use float literals like `1.0`")),
        other => Err(Diagnostic::new(
            ErrorKind::Differentiation,
            format!(
                "`{fname}` needs a function returning a scalar float, but it returned {}",
                other.describe()
            ),
        )
        .with_help(
            "reduce the output first, e.g. with `sum(...)` or `mean(...)`; use `jacrev`/`vjp` for non-scalar outputs",
        )),
    }
}

fn seed_like(y: &Value) -> R<Value> {
    let s = shape_of(y);
    if s.is_empty() {
        return Ok(Value::Float(1.0));
    }
    Ok(Value::Tensor(std::rc::Rc::new(
        Tensor::ones(&s).map_err(ops::tensor_error)?,
    )))
}

/// Options shared by the differentiation builtins: which arguments, and
/// whether `f` returns `(output, aux)` with `aux` passed through.
#[derive(Clone, Debug)]
pub struct DiffOpts {
    /// Which positional arguments to differentiate.
    pub argnums: Argnums,
    /// `f` returns `(output, aux)`; `aux` is returned beside the result, not differentiated.
    pub has_aux: bool,
}

impl DiffOpts {
    /// Argument 0, no aux.
    pub fn first() -> DiffOpts {
        DiffOpts {
            argnums: Argnums::One(0),
            has_aux: false,
        }
    }
}

/// Splits `f`'s result into the output to differentiate and its aux (with `has_aux`).
pub(crate) fn split_aux(fname: &str, out: Value, has_aux: bool) -> R<(Value, Option<Value>)> {
    if !has_aux {
        return Ok((out, None));
    }
    match &out {
        Value::Tuple(t) if t.len() == 2 => Ok((t[0].clone(), Some(t[1].clone()))),
        other => Err(Diagnostic::new(
            ErrorKind::Differentiation,
            format!(
                "`{fname}` with has_aux=true needs a function returning a pair (output, aux), but it returned {}",
                other.describe()
            ),
        )
        .with_help("return `(loss, aux)`; aux may be any value and is passed through without being differentiated")),
    }
}

/// `v` with the wrapper of `level` removed from every leaf (aux values and outputs).
pub(crate) fn unwrap_tree(v: &Value, level: &trace::Level) -> R<Value> {
    tree::map_leaves(v, &mut |x, _| Ok(unwrap_level(x, level)))
}

/// `grad(f, argnums, has_aux)(args...)` and `value_and_grad(...)`.
pub fn grad_call(it: &mut Interp, f: &Value, opts: &DiffOpts, args: Args, fname: &str, with_value: bool) -> R<Value> {
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let mut call_args = args.clone();
    let mut ids_per_arg = Vec::new();
    for i in opts.argnums.list(args.pos.len())? {
        let a = args.pos.get(i).ok_or_else(|| missing_arg(fname, i, args.pos.len()))?;
        let (w, ids) = wrap_inputs(&guard, a)?;
        if ids.iter().all(Option::is_none) {
            return Err(no_leaf_error(i, a));
        }
        call_args.pos[i] = w;
        ids_per_arg.push((i, ids));
    }
    let out = it.call(f, call_args)?;
    let (out, aux) = split_aux(fname, out, opts.has_aux)?;
    // Read the output while the level is active: once it finishes, its tracers are constants.
    let (y, out_node) = (unwrap_level(&out, &level), trace::node_at(&out, &level));
    let aux = aux.map(|a| unwrap_tree(&a, &level)).transpose()?;
    let tape = guard.finish();
    scalar_output(fname, &y)?;
    let adj = match out_node {
        Some(n) => backward(it, &tape, vec![(n, seed_like(&y)?)])?,
        None => vec![None; tape.nodes.len()],
    };
    let mut grads = Vec::new();
    for (i, ids) in &ids_per_arg {
        grads.push(collect_adjoints(&args.pos[*i], ids, &adj)?);
    }
    let g = match opts.argnums {
        Argnums::One(_) => grads.remove(0),
        Argnums::Many(_) => Value::tuple(grads),
    };
    Ok(match (with_value, aux) {
        (true, Some(aux)) => Value::tuple([Value::tuple([y, aux]), g]),
        (true, None) => Value::tuple([y, g]),
        (false, Some(aux)) => Value::tuple([g, aux]),
        (false, None) => g,
    })
}

/// `vjp(f, *primals, has_aux)`: the output and a pullback function (and the aux).
pub fn vjp_call(it: &mut Interp, f: &Value, primals: Vec<Value>, has_aux: bool, span: Span) -> R<Value> {
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let mut wrapped = Vec::new();
    let mut ids = Vec::new();
    for p in &primals {
        let (w, i) = wrap_inputs(&guard, p)?;
        wrapped.push(w);
        ids.push(i);
    }
    let out = it.call_pos(f, wrapped, span)?;
    let (out, aux) = split_aux("vjp", out, has_aux)?;
    let aux = aux.map(|a| unwrap_tree(&a, &level)).transpose()?;
    // Read the output while the level is active: once it finishes, its tracers are constants.
    let mut out_nodes = Vec::new();
    let y = tree::map_leaves(&out, &mut |x, _| {
        out_nodes.push(trace::node_at(x, &level));
        Ok(unwrap_level(x, &level))
    })?;
    let tape = Rc::new(guard.finish());
    let y_for_pullback = y.clone();
    let decl = Decl {
        sig: "pullback(cotangent)",
        summary: "The cotangent of each argument of the function `vjp` was given, from a cotangent of its output.",
        doc: "",
        example: "",
    };
    let pullback = declared(decl, move |it2: &mut Interp, a| {
        let cot = a.value(0).clone();
        let mut seeds = Vec::new();
        let mut k = 0;
        let names = ["the output", "the cotangent"];
        tree::map_many_named(&[y_for_pullback.clone(), cot], &names, &mut |pair, p| {
            let (yl, cl) = (&pair[0], &pair[1]);
            let node = out_nodes.get(k).copied().flatten();
            k += 1;
            if is_array_leaf(yl) {
                if !matches!(cl.peek(), Value::Float(_) | Value::Int(_) | Value::Tensor(_)) {
                    // Caught here, not in the backward pass, so the report names the cotangent's leaf.
                    return Err(Diagnostic::new(
                        ErrorKind::Type,
                        format!(
                            "cotangent at {} must be a float or tensor like the output there, found {}",
                            path_string(p),
                            cl.describe()
                        ),
                    ));
                }
                // Exactly the output's shape, as in JAX: a float is not broadcast
                // over a tensor output (that would silently scale the result).
                if shape_of(yl) != shape_of(cl) {
                    return Err(Diagnostic::new(
                        ErrorKind::Shape,
                        format!(
                            "cotangent at {} has shape {} but the output there has shape {}",
                            path_string(p),
                            ops::describe_shape(cl),
                            ops::describe_shape(yl)
                        ),
                    )
                    .with_help("a cotangent has the output's shape; for the same value everywhere write e.g. `full(y.shape, v)`"));
                }
                if let Some(n) = node {
                    seeds.push((n, as_shape_of(cl, yl)?));
                }
            }
            Ok(Value::None)
        })?;
        let adj = backward(it2, &tape, seeds)?;
        let mut res = Vec::new();
        for (p, i) in primals.iter().zip(&ids) {
            res.push(collect_adjoints(p, i, &adj)?);
        }
        Ok(Value::tuple(res))
    });
    Ok(match aux {
        Some(aux) => Value::tuple([y, pullback, aux]),
        None => Value::tuple([y, pullback]),
    })
}

/// A tangent or cotangent `t` of the same shape as `like`, as a float when
/// `like` is one (a 0-d tensor and a float are the same shape).
fn as_shape_of(t: &Value, like: &Value) -> R<Value> {
    // A batched scalar inside `vmap` counts as a float.
    if matches!(like.peek(), Value::Float(_) | Value::Int(_))
        || (shape_of(like).is_empty() && matches!(like, Value::Dual(_)))
    {
        ops::reshape(&num(t), &[])
    } else {
        Ok(num(t))
    }
}

/// `jvp(f, primals, tangents)`: the output and its tangent.
pub fn jvp_call(it: &mut Interp, f: &Value, primals: &Value, tangents: &Value, span: Span) -> R<Value> {
    let (ps, ts) = match (primals, tangents) {
        (Value::Tuple(p), Value::Tuple(t)) => (p.clone(), t.clone()),
        _ => {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "`jvp` expects tuples of primals and tangents, found {} and {}",
                    primals.describe(),
                    tangents.describe()
                ),
            )
            .with_help("write `jvp(f, (x,), (v,))` for a function of one argument"))
        }
    };
    if ps.len() != ts.len() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!("`jvp` got {} primals but {} tangents", ps.len(), ts.len()),
        ));
    }
    let active = trace::start_forward(&it.diff);
    let level = active.level.clone();
    // One walk over the tuples of primals and tangents, so paths name the argument (`[1].w`).
    let names = ["`primals`", "`tangents`"];
    let pairs = tree::map_many_named(&[primals.clone(), tangents.clone()], &names, &mut |pair, path| {
        let (p, t) = (&pair[0], &pair[1]);
        if !is_differentiable(p) {
            return Ok(p.clone());
        }
        if !t.is_numeric() {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "tangent at {} must be a number or tensor, found {}",
                    path_string(path),
                    t.describe()
                ),
            ));
        }
        // Exactly the primal's shape, as in JAX: a float tangent is not broadcast over a tensor primal.
        let (sp, st) = (shape_of(p), shape_of(t));
        if sp != st {
            return Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "tangent at {} has shape {} but the primal has shape {}",
                    path_string(path),
                    ops::describe_shape(t),
                    ops::describe_shape(p)
                ),
            )
            .with_help(
                "a tangent has its primal's shape; for the same value everywhere write e.g. `full(x.shape, v)`",
            ));
        }
        Ok(dual(&level, num(p), as_shape_of(t, p)?))
    })?;
    let args: Vec<Value> = match pairs {
        Value::Tuple(t) => t.iter().cloned().collect(),
        other => vec![other],
    };
    let out = it.call_pos(f, args, span)?;
    let y = tree::map_leaves(&out, &mut |x, _| Ok(unwrap_level(x, &level)))?;
    let ty = tree::map_leaves(&out, &mut |x, _| match tangent_at(x, &level) {
        Some(t) => Ok(t),
        None if is_array_leaf(x) => ops::zeros_like(&unwrap_level(x, &level)),
        None => Ok(Value::None),
    })?;
    Ok(Value::tuple([y, ty]))
}

fn float_of(v: &Value, fname: &str) -> R<f64> {
    match v.strip() {
        Value::Float(x) => Ok(*x),
        Value::Tensor(t) if t.size() == 1 => Ok(t.item().unwrap_or(f64::NAN)),
        other => Err(Diagnostic::new(
            ErrorKind::Differentiation,
            format!(
                "`{fname}` needs a function returning a scalar float, found {}",
                other.describe()
            ),
        )),
    }
}

/// `numgrad(f, eps, argnums)(args...)`: central differences, same structure as `grad`.
pub fn numgrad_call(it: &mut Interp, f: &Value, eps: f64, argnums: &Argnums, args: Args) -> R<Value> {
    let mut grads = Vec::new();
    for i in argnums.list(args.pos.len())? {
        let arg = args
            .pos
            .get(i)
            .ok_or_else(|| missing_arg("numgrad", i, args.pos.len()))?
            .clone();
        let leaves = tree::leaves(&arg)?;
        if !leaves.iter().any(is_differentiable) {
            return Err(no_leaf_error(i, &arg));
        }
        let mut out_leaves = Vec::with_capacity(leaves.len());
        for (li, l) in leaves.iter().enumerate() {
            if !is_differentiable(l) {
                out_leaves.push(Value::None);
                continue;
            }
            let base = as_tensor(&num(l))?;
            let data = base.to_vec();
            let mut g = vec![0.0; data.len()];
            for k in 0..data.len() {
                let mut eval_at = |delta: f64| -> R<f64> {
                    let mut d = data.clone();
                    d[k] += delta;
                    let leaf_v = if matches!(l.peek(), Value::Float(_)) {
                        Value::Float(d[0])
                    } else {
                        Value::Tensor(std::rc::Rc::new(
                            Tensor::from_vec(d, base.shape()).map_err(ops::tensor_error)?,
                        ))
                    };
                    let mut new_leaves = leaves.clone();
                    new_leaves[li] = leaf_v;
                    let new_arg = tree::unflatten(&arg, &mut new_leaves.into_iter())?;
                    let mut a = args.clone();
                    a.pos[i] = new_arg;
                    float_of(&it.call(f, a)?, "numgrad")
                };
                g[k] = (eval_at(eps)? - eval_at(-eps)?) / (2.0 * eps);
            }
            out_leaves.push(if matches!(l.peek(), Value::Float(_)) {
                Value::Float(g[0])
            } else {
                Value::Tensor(std::rc::Rc::new(
                    Tensor::from_vec(g, base.shape()).map_err(ops::tensor_error)?,
                ))
            });
        }
        grads.push(tree::unflatten(&arg, &mut out_leaves.into_iter())?);
    }
    Ok(match argnums {
        Argnums::One(_) => grads.remove(0),
        Argnums::Many(_) => Value::tuple(grads),
    })
}

/// Compares two gradients leaf by leaf; on failure names the worst leaf and both values.
fn compare(analytic: &Value, numeric: &Value, rtol: f64, atol: f64, what: &str) -> R<()> {
    let a = tree::leaves_with_paths(analytic)?;
    let n = tree::leaves(numeric)?;
    let mut worst: Option<(f64, String, String, String)> = None;
    for ((path, av), nv) in a.iter().zip(n.iter()) {
        if !is_differentiable(av) {
            continue;
        }
        let (at, nt) = (as_tensor(av)?.to_vec(), as_tensor(nv)?.to_vec());
        for (k, (x, y)) in at.iter().zip(nt.iter()).enumerate() {
            if crate::builtins::core::close(*x, *y, rtol, atol) {
                continue;
            }
            // How far off, in tolerances, to report the worst leaf; infinite when not comparable.
            let err = match (x - y).abs() / (atol + rtol * y.abs()) {
                e if e.is_nan() => f64::INFINITY,
                e => e,
            };
            if worst.as_ref().is_none_or(|w| err > w.0) {
                let loc = if at.len() > 1 {
                    format!("{} element {k}", path_string(path))
                } else {
                    path_string(path)
                };
                worst = Some((err, loc, dp_tensor::format_float(*x), dp_tensor::format_float(*y)));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((_, loc, x, y)) => Err(Diagnostic::new(
            ErrorKind::Assertion,
            format!("gradient check failed ({what}): at {loc} the derivative is {x} but central differences give {y}"),
        )
        .with_note(format!(
            "tolerances: rtol={}, atol={}",
            dp_tensor::format_float(rtol),
            dp_tensor::format_float(atol)
        ))),
    }
}

/// `check_grad(f, *args, order, rtol, atol)`.
pub fn check_grad_call(it: &mut Interp, f: &Value, args: Args, order: i64, rtol: f64, atol: f64) -> R<Value> {
    let g = grad_call(it, f, &DiffOpts::first(), args.clone(), "check_grad", false)?;
    let n = numgrad_call(it, f, 1e-6, &Argnums::One(0), args.clone())?;
    compare(&g, &n, rtol, atol, "first order")?;
    if order >= 2 {
        // Second order along a random direction v: d/dx <grad f(x), v>.
        let mut rng = dp_tensor::Rng::new(0x5eed);
        let v = tree::map_leaves(&args.pos[0], &mut |x, _| {
            if is_differentiable(x) {
                let s = shape_of(x);
                let r = rng.normal(&s).map_err(ops::tensor_error)?;
                Ok(ops::from_tensor(r))
            } else {
                Ok(Value::None)
            }
        })?;
        let f2 = f.clone();
        let directional = native("directional_derivative", move |it2: &mut Interp, a: Args| {
            let g = grad_call(it2, &f2, &DiffOpts::first(), a, "check_grad", false)?;
            tree_dot(&g, &v)
        });
        let g2 = grad_call(it, &directional, &DiffOpts::first(), args.clone(), "check_grad", false)?;
        let n2 = numgrad_call(it, &directional, 1e-5, &Argnums::One(0), args)?;
        compare(&g2, &n2, rtol.max(1e-4), atol.max(1e-6), "second order")?;
    }
    Ok(Value::Bool(true))
}

/// The sum over leaves of elementwise products: `tree_dot(a, b)`, differentiable.
pub fn tree_dot(a: &Value, b: &Value) -> R<Value> {
    let mut acc = Value::Float(0.0);
    tree::map_many(&[a.clone(), b.clone()], &mut |pair, _| {
        if pair[0].is_numeric() && pair[1].is_numeric() {
            acc = ops::add(&acc, &ops::sum(&ops::mul(&pair[0], &pair[1])?, None, false)?)?;
        }
        Ok(Value::None)
    })?;
    Ok(acc)
}

/// `hvp(f, primals, tangents)`: the Hessian of scalar `f` at `primals` times
/// `tangents`, forward-over-reverse (`jvp` of `grad`). One primal gives the
/// product bare, shaped like it; several give a tuple, one per primal.
pub fn hvp_call(it: &mut Interp, f: &Value, primals: &Value, tangents: &Value, span: Span) -> R<Value> {
    let n = match primals {
        Value::Tuple(t) => t.len(),
        _ => 1,
    };
    let opts = DiffOpts {
        argnums: if n == 1 {
            Argnums::One(0)
        } else {
            Argnums::Many((0..n as i64).collect())
        },
        has_aux: false,
    };
    let f2 = f.clone();
    let g = native("grad", move |it2: &mut Interp, a: Args| {
        grad_call(it2, &f2, &opts, a, "hvp", false)
    });
    match jvp_call(it, &g, primals, tangents, span)? {
        Value::Tuple(t) if t.len() == 2 => Ok(t[1].clone()),
        other => Ok(other),
    }
}
