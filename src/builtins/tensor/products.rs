//! Tensor products in NumPy's spellings: `tensordot`, `kron`, `inner` and `cross`.
//! Each is a `transpose`/`reshape` around one matrix product or broadcast
//! multiplication, so derivatives of every order and batching come from
//! those primitives.

use super::args::*;
use crate::builtins::{arg_type, int_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of, Prim};
use crate::prim::te;
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "tensordot(a: tensor, b: tensor, axes: any = 2) -> tensor",
            summary: "Sums products over axes of `a` and `b` paired by `axes`, like NumPy's `tensordot`.",
            doc: "`axes` is an int n (the last n axes of `a` with the first n of `b`, in order) or a pair \
                  `(axes_a, axes_b)` of ints or of equally long tuples of ints (negative counts from the end); NumPy's \
                  list forms `[1, 0]` and `[[0, 1], [1, 0]]` work too. \
                  The result's axes are the remaining axes of `a` then those of `b`. Computed as one matrix \
                  product after moving the summed axes together, so it is differentiable to any order and \
                  batches under `vmap`.",
            example: concat!(
                "tensordot(ones((2, 3)), ones((3, 4)), 1);  # [[3.0, 3.0, 3.0, 3.0],\n",
                "                                           #  [3.0, 3.0, 3.0, 3.0]]\n",
                "tensordot(ones((2, 3)), ones((3, 2)), ((0, 1), (1, 0)))  # 6.0",
            ),
        },
        |_, a| {
            let x = numeric("tensordot", a.value(0))?;
            let y = numeric("tensordot", a.value(1))?;
            let (sx, sy) = (shape_of(&x), shape_of(&y));
            let (ax, ay) = tensordot_axes(&a, &sx, &sy)?;
            tensordot(&x, &y, &ax, &ay)
        },
    );
    register(
        t,
        Decl {
            sig: "kron(a: tensor, b: tensor) -> tensor",
            summary: "The Kronecker product of `a` and `b`: blocks `a[i, j] * b`, like NumPy's `kron`.",
            doc: "The shorter shape is padded with leading 1s; axis i of the result has length \
                  `a.shape[i] * b.shape[i]`. Written as a broadcast product and a reshape, so differentiable \
                  to any order in both arguments.",
            example: concat!(
                "kron(eye(2), tensor([[1.0, 2.0]]))  # [[1.0, 2.0, 0.0, 0.0],\n",
                "                                    #  [0.0, 0.0, 1.0, 2.0]]",
            ),
        },
        |_, a| {
            let x = numeric("kron", a.value(0))?;
            let y = numeric("kron", a.value(1))?;
            kron(&x, &y)
        },
    );
    register(
        t,
        Decl {
            sig: "inner(a: tensor, b: tensor) -> tensor",
            summary: "The sum of products over the last axes of `a` and `b`, like NumPy's `inner`.",
            doc: "For vectors the dot product; in general `tensordot(a, b, ((-1,), (-1,)))`, whose axes are \
                  those of `a` then those of `b` without their last. With a scalar it is plain \
                  multiplication. Differentiable to any order.",
            example: "inner(tensor([1.0, 2.0]), tensor([3.0, 4.0]))  # 11.0",
        },
        |_, a| {
            let x = numeric("inner", a.value(0))?;
            let y = numeric("inner", a.value(1))?;
            let (sx, sy) = (shape_of(&x), shape_of(&y));
            let (Some(&nx), Some(&ny)) = (sx.last(), sy.last()) else {
                return ops::mul(&x, &y);
            };
            if nx != ny {
                return Err(Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "`inner`: the last axes differ in length: {} and {}",
                        format_shape(&sx),
                        format_shape(&sy)
                    ),
                )
                .at(a.span));
            }
            tensordot(&x, &y, &[sx.len() - 1], &[sy.len() - 1])
        },
    );
    register(
        t,
        Decl {
            sig: "cross(a: tensor, b: tensor, axis: int = -1) -> tensor",
            summary: "The cross product of 3-vectors (or 2-vectors) along `axis` of `a` and `b`, like NumPy's `cross`.",
            doc: "The other axes broadcast. A 2-vector is a 3-vector with z = 0; when both are 2-vectors the \
                  result is the z component alone (that axis is dropped), as in NumPy. Written with `take`, \
                  products and `stack`, so differentiable to any order in both arguments.",
            example: "cross(tensor([1.0, 0.0, 0.0]), tensor([0.0, 1.0, 0.0]))  # [0.0, 0.0, 1.0]",
        },
        |_, a| {
            let x = numeric("cross", a.value(0))?;
            let y = numeric("cross", a.value(1))?;
            let axis = a.int(2).map_err(|d| d.at(a.span_at(2)))?;
            cross(&x, &y, axis).map_err(|d| d.at(a.span))
        },
    );
}

/// The axes `tensordot` sums over, normalised: from an int n or a pair of
/// ints or of tuples (or 1-d tensors) of ints.
fn tensordot_axes(a: &Call<'_>, sx: &[usize], sy: &[usize]) -> R<(Vec<usize>, Vec<usize>)> {
    let at = |d: Diagnostic| d.at(a.span_at(2));
    let spec = a.value(2);
    let (ax, ay) = match spec.strip() {
        Value::Tuple(pair) if pair.len() == 2 => {
            let list = |v: &Value, nd: usize| -> R<Vec<usize>> {
                int_list(v)?.into_iter().map(|i| te(normalize_axis(i, nd))).collect()
            };
            (
                list(&pair[0], sx.len()).map_err(at)?,
                list(&pair[1], sy.len()).map_err(at)?,
            )
        }
        // `[1, 0]` or `[[0, 1], [1, 0]]` (a tensor literal in dp): row 0 for a, row 1 for b.
        Value::Tensor(t) if matches!(t.shape(), [2] | [2, _]) => {
            let v = t.to_vec();
            let (ra, rb) = v.split_at(v.len() / 2);
            let list = |r: &[f64], nd: usize| -> R<Vec<usize>> {
                r.iter()
                    .map(|&i| te(normalize_axis(int_arg("tensordot", "axes", &Value::Float(i))?, nd)))
                    .collect()
            };
            (list(ra, sx.len()).map_err(at)?, list(rb, sy.len()).map_err(at)?)
        }
        Value::Tuple(_) | Value::Tensor(_) => {
            return Err(at(Diagnostic::new(
                ErrorKind::Value,
                "`tensordot`: axes must be an int or a pair (axes of a, axes of b)",
            )))
        }
        other => {
            let n = int_arg("tensordot", "axes", other).map_err(at)?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= sx.len() && n <= sy.len())
                .ok_or_else(|| {
                    at(Diagnostic::new(
                        ErrorKind::Value,
                        format!(
                            "`tensordot`: cannot sum over {n} axes of shapes {} and {}",
                            format_shape(sx),
                            format_shape(sy)
                        ),
                    ))
                })?;
            ((sx.len() - n..sx.len()).collect(), (0..n).collect())
        }
    };
    if ax.len() != ay.len() {
        return Err(at(Diagnostic::new(
            ErrorKind::Value,
            format!("`tensordot`: {} axes of a paired with {} axes of b", ax.len(), ay.len()),
        )));
    }
    for (list, which) in [(&ax, "a"), (&ay, "b")] {
        if (1..list.len()).any(|i| list[..i].contains(&list[i])) {
            return Err(at(Diagnostic::new(
                ErrorKind::Value,
                format!("`tensordot`: an axis of {which} is repeated in axes"),
            )));
        }
    }
    for (&i, &j) in ax.iter().zip(&ay) {
        if sx[i] != sy[j] {
            return Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`tensordot`: axis {i} of a (length {}) is paired with axis {j} of b (length {}); shapes {} and {}",
                    sx[i],
                    sy[j],
                    format_shape(sx),
                    format_shape(sy)
                ),
            )
            .at(a.span));
        }
    }
    Ok((ax, ay))
}

/// An int, or a tuple or 1-d tensor of ints, as a list.
fn int_list(v: &Value) -> R<Vec<i64>> {
    match v.strip() {
        Value::Tuple(t) => t.iter().map(|x| int_arg("tensordot", "axes", x)).collect(),
        Value::Tensor(t) if t.shape().len() == 1 => t
            .to_vec()
            .iter()
            .map(|&x| int_arg("tensordot", "axes", &Value::Float(x)))
            .collect(),
        Value::Tensor(_) => Err(arg_type("tensordot", "axes", "an int or a tuple of ints", v)),
        other => Ok(vec![int_arg("tensordot", "axes", other)?]),
    }
}

/// `tensordot` over the checked, distinct axes `ax` of `x` paired with `ay` of `y`.
fn tensordot(x: &Value, y: &Value, ax: &[usize], ay: &[usize]) -> R<Value> {
    let (sx, sy) = (shape_of(x), shape_of(y));
    let free_x: Vec<usize> = (0..sx.len()).filter(|i| !ax.contains(i)).collect();
    let free_y: Vec<usize> = (0..sy.len()).filter(|i| !ay.contains(i)).collect();
    let k = product(ax.iter().map(|&i| sx[i]))?;
    let mut out: Vec<usize> = free_x.iter().map(|&i| sx[i]).collect();
    let m = product(out.iter().copied())?;
    let n = product(free_y.iter().map(|&i| sy[i]))?;
    out.extend(free_y.iter().map(|&i| sy[i]));
    let px: Vec<usize> = free_x.iter().chain(ax).copied().collect();
    let py: Vec<usize> = ay.iter().chain(&free_y).copied().collect();
    let mx = ops::reshape(&ops::transpose(x, &px)?, &[m, k])?;
    let my = ops::reshape(&ops::transpose(y, &py)?, &[k, n])?;
    ops::reshape(&crate::ops::arith::matmul(&mx, &my)?, &out)
}

/// The Kronecker product: `x` with a 1 after each axis times `y` with a 1
/// before each, merged pairwise.
fn kron(x: &Value, y: &Value) -> R<Value> {
    let (sx, sy) = (shape_of(x), shape_of(y));
    let nd = sx.len().max(sy.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut p = vec![1; nd - s.len()];
        p.extend_from_slice(s);
        p
    };
    let (px, py) = (pad(&sx), pad(&sy));
    let wide_x: Vec<usize> = px.iter().flat_map(|&d| [d, 1]).collect();
    let wide_y: Vec<usize> = py.iter().flat_map(|&d| [1, d]).collect();
    let out: Vec<usize> = px.iter().zip(&py).map(|(&a, &b)| product([a, b])).collect::<R<_>>()?;
    let prod = ops::mul(&ops::reshape(x, &wide_x)?, &ops::reshape(y, &wide_y)?)?;
    ops::reshape(&prod, &out)
}

/// The product of axis lengths, an error when it overflows (possible only
/// for empty tensors, whose other axes may be huge).
fn product(dims: impl IntoIterator<Item = usize>) -> R<usize> {
    let dims: Vec<usize> = dims.into_iter().collect();
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            Diagnostic::new(
                ErrorKind::Value,
                format!(
                    "axes of lengths {} have too many elements together",
                    format_shape(&dims)
                ),
            )
        })
}

/// Component `i` of the vectors along `axis` of `x` (length `n`): `None`
/// for the z component of a 2-vector, which is 0.
fn component(x: &Value, axis: usize, n: usize, i: usize) -> R<Option<Value>> {
    if i >= n {
        return Ok(None);
    }
    let idx = Value::Tensor(Rc::new(Tensor::scalar(i as f64)));
    Ok(Some(ops::apply(
        &Prim::Take(crate::prim::Take(axis)),
        &[x.clone(), idx],
    )?))
}

/// `p * q - r * s` with absent (zero) factors left out; `None` when every term is 0.
fn det2(p: &Option<Value>, q: &Option<Value>, r: &Option<Value>, s: &Option<Value>) -> R<Option<Value>> {
    let first = match (p, q) {
        (Some(p), Some(q)) => Some(ops::mul(p, q)?),
        _ => None,
    };
    let second = match (r, s) {
        (Some(r), Some(s)) => Some(ops::mul(r, s)?),
        _ => None,
    };
    Ok(match (first, second) {
        (Some(f), Some(g)) => Some(ops::sub(&f, &g)?),
        (Some(f), None) => Some(f),
        (None, Some(g)) => Some(ops::neg(&g)?),
        (None, None) => None,
    })
}

/// The cross product along `axis` (normalised per argument), the result's
/// vector axis put where `axis` says in the broadcast shape.
fn cross(x: &Value, y: &Value, axis: i64) -> R<Value> {
    let (sx, sy) = (shape_of(x), shape_of(y));
    let ax = te(normalize_axis(axis, sx.len()))?;
    let ay = te(normalize_axis(axis, sy.len()))?;
    let (nx, ny) = (sx[ax], sy[ay]);
    if !matches!(nx, 2 | 3) || !matches!(ny, 2 | 3) {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`cross` needs vectors of length 2 or 3 along axis {axis}, found shapes {} and {}",
                format_shape(&sx),
                format_shape(&sy)
            ),
        ));
    }
    let c = |v: &Value, a: usize, n: usize, i: usize| component(v, a, n, i);
    let (x0, x1, x2) = (c(x, ax, nx, 0)?, c(x, ax, nx, 1)?, c(x, ax, nx, 2)?);
    let (y0, y1, y2) = (c(y, ay, ny, 0)?, c(y, ay, ny, 1)?, c(y, ay, ny, 2)?);
    let z = det2(&x0, &y1, &x1, &y0)?.ok_or_else(|| Diagnostic::new(ErrorKind::Value, "`cross`: empty product"))?;
    if nx == 2 && ny == 2 {
        return Ok(z);
    }
    // Every component has the broadcast shape of z; an absent one is zeros.
    let zero = ops::zeros_like(&z)?;
    let or_zero = |v: Option<Value>| v.unwrap_or_else(|| zero.clone());
    let cx = or_zero(det2(&x1, &y2, &x2, &y1)?);
    let cy = or_zero(det2(&x2, &y0, &x0, &y2)?);
    let nd = shape_of(&z).len();
    // NumPy puts the result's vector axis at `axis` of the broadcast shape.
    let out_axis = te(normalize_axis(axis, nd + 1))?;
    ops::apply(&Prim::Stack(crate::prim::Stack(out_axis)), &[cx, cy, z])
}
