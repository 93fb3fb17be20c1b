//! Triangles and diagonals of matrices: `tril`, `triu`, `diag`, `diagonal`
//! and `matrix_trace` (NumPy's `trace`; the name `trace` is the graph
//! tracer's). Each is written with differentiable primitives (`where`
//! against a constant mask, `take` at constant positions, `transpose`,
//! `reshape`, `sum`), so they have derivatives at every order and batching
//! rules for free.

use super::args::*;
use crate::builtins::{int_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::prim::{te, Prim};
use crate::value::Value;
use dp_tensor::{checked_size, format_shape, normalize_axis, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register_triangles(t);
    register(
        t,
        Decl {
            sig: "diag(x: tensor, k: int = 0) -> tensor",
            summary: "For a vector `x`, the square matrix with `x` on diagonal `k`; for a matrix, its diagonal `k` as a vector (like NumPy).",
            doc: "Diagonal `k` holds the entries `[i, i + k]` (`k > 0` above the main diagonal, `k < 0` below). \
                  A vector of length n gives an (n + |k|) × (n + |k|) matrix; a diagonal that misses the matrix \
                  is empty. A bool vector gives a bool matrix (`false` off the diagonal). For the diagonal of other \
                  axes of an n-d tensor use `diagonal`. Differentiable to any \
                  order in `x`.",
            example: concat!(
                "diag(tensor([1.0, 2.0]));  # [[1.0, 0.0],\n",
                "                           #  [0.0, 2.0]]\n",
                "diag(tensor([[1.0, 2.0], [3.0, 4.0]]), 1)  # [2.0]",
            ),
        },
        |_, a| {
            let x = numeric("diag", a.value(0))?;
            let k = a.int(1).map_err(|d| d.at(a.span_at(1)))?;
            let s = shape_of(&x);
            match s.len() {
                1 => vector_to_diag(&a, x, s[0], k),
                2 => diagonal(&x, k, 0, 1),
                _ => Err(Diagnostic::new(
                    ErrorKind::Shape,
                    format!("`diag` needs a vector or a matrix, found shape {}", format_shape(&s)),
                )
                .with_help("`diagonal(x, offset, axis1, axis2)` takes a diagonal of any two axes")
                .at(a.span_at(0))),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "diagonal(x: tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> tensor",
            summary: "The diagonal `offset` of the matrices in axes `axis1` and `axis2` of `x`, as the last axis (like NumPy).",
            doc: "Entry `[..., i]` is `x[i, i + offset]` in the two axes (`offset < 0`: below the main diagonal); \
                  the other axes come first, in order. Differentiable to any order.",
            example: "diagonal(tensor([[1.0, 2.0], [3.0, 4.0]]))  # [1.0, 4.0]",
        },
        |_, a| {
            let x = numeric("diagonal", a.value(0))?;
            let (k, ax1, ax2) = diag_axes(&a, &x)?;
            diagonal(&x, k, ax1, ax2)
        },
    );
    register(
        t,
        Decl {
            sig: "matrix_trace(x: tensor, offset: int = 0, axis1: int = 0, axis2: int = 1) -> tensor",
            summary: "The sum of the diagonal of a matrix: NumPy's `trace` (`trace` in dp traces a function's graph).",
            doc: "`matrix_trace(x, offset, axis1, axis2)` is `sum(diagonal(x, offset, axis1, axis2), axis=-1)`, \
                  with NumPy's arguments and defaults: for an n-d `x` it sums over the diagonals of the first \
                  two axes, leaving the others. Differentiable to any order (the gradient of the trace of a \
                  matrix is the identity).",
            example: "matrix_trace(tensor([[1.0, 2.0], [3.0, 4.0]]))  # 5.0",
        },
        |_, a| {
            let x = numeric("matrix_trace", a.value(0))?;
            let (k, ax1, ax2) = diag_axes(&a, &x)?;
            let d = diagonal(&x, k, ax1, ax2)?;
            let last = shape_of(&d).len() - 1;
            ops::sum(&d, Some(Rc::from([last].as_slice())), false)
        },
    );
}

/// `tril` and `triu`: `x` where a constant mask of the last two axes keeps it, else 0.
fn register_triangles(t: &mut HashMap<Rc<str>, Value>) {
    for (decl, lower) in [
        (
            Decl {
                sig: "tril(x: tensor, k: int = 0) -> tensor",
                summary: "The lower triangle of the matrix `x` (of each matrix in the last two axes): entries above diagonal `k` become 0.",
                doc: "Keeps `x[..., i, j]` where `j <= i + k` (`k > 0` keeps diagonals above the main one, `k < 0` \
                      drops more), like NumPy. The zeroed entries are zero even where `x` is inf or nan (`false` in \
                      a bool matrix, which stays bool). \
                      Differentiable to any order (the gradient is the same triangle of the incoming gradient).",
                example: concat!(
                    "tril(tensor([[1.0, 2.0], [3.0, 4.0]]))  # [[1.0, 0.0],\n",
                    "                                        #  [3.0, 4.0]]",
                ),
            },
            true,
        ),
        (
            Decl {
                sig: "triu(x: tensor, k: int = 0) -> tensor",
                summary: "The upper triangle of the matrix `x` (of each matrix in the last two axes): entries below diagonal `k` become 0.",
                doc: "Keeps `x[..., i, j]` where `j >= i + k`, like NumPy. The zeroed entries are zero even where \
                      `x` is inf or nan (`false` in a bool matrix, which stays bool). Differentiable to any order.",
                example: concat!(
                    "triu(tensor([[1.0, 2.0], [3.0, 4.0]]), 1)  # [[0.0, 2.0],\n",
                    "                                           #  [0.0, 0.0]]",
                ),
            },
            false,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let k = a.int(1).map_err(|d| d.at(a.span_at(1)))?;
            let s = shape_of(&x);
            if s.len() < 2 {
                return Err(Diagnostic::new(
                    ErrorKind::Shape,
                    format!("`{name}` needs a matrix (at least 2 axes), found shape {}", format_shape(&s)),
                )
                .at(a.span_at(0)));
            }
            let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
            // i128 so that no k, however large, overflows.
            let keep = |i: usize, j: usize| {
                let d = j as i128 - i as i128 - i128::from(k);
                if lower {
                    d <= 0
                } else {
                    d >= 0
                }
            };
            te(checked_size(&[r, c]))?;
            // One pass over the r·c entries (not over r rows, which may be
            // many when c is 0).
            let mask: Vec<f64> = (0..r * c).map(|p| f64::from(u8::from(keep(p / c, p % c)))).collect();
            let mask = te(Tensor::from_vec(mask, &[r, c]))?.marked_bool();
            // NumPy's triangles keep the dtype: a bool matrix gets `false` outside.
            let zero = if super::dtype_name(&x) == Some("bool") {
                Value::Bool(false)
            } else {
                Value::Float(0.0)
            };
            ops::where_(&Value::Tensor(Rc::new(mask)), &x, &zero)
        });
    }
}

/// The `offset`, `axis1` and `axis2` arguments (1, 2, 3) of `diagonal` and
/// `matrix_trace`, the axes normalised and checked distinct.
fn diag_axes(a: &Call<'_>, x: &Value) -> R<(i64, usize, usize)> {
    let name = a.name();
    let nd = shape_of(x).len();
    if nd < 2 {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{name}` needs at least 2 axes, found shape {}",
                format_shape(&shape_of(x))
            ),
        )
        .at(a.span_at(0)));
    }
    let k = a.int(1).map_err(|d| d.at(a.span_at(1)))?;
    let axis = |i: usize, what: &str| -> R<usize> {
        let v = int_arg(name, what, a.value(i)).map_err(|d| d.at(a.span_at(i)))?;
        te(normalize_axis(v, nd)).map_err(|d| d.at(a.span_at(i)))
    };
    let (ax1, ax2) = (axis(2, "axis1")?, axis(3, "axis2")?);
    if ax1 == ax2 {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!("`{name}`: axis1 and axis2 are the same axis ({ax1})"),
        )
        .at(a.span));
    }
    Ok((k, ax1, ax2))
}

/// The row and column where diagonal `k` starts, `None` when they do not fit a `usize`.
fn diag_start(k: i64) -> Option<(usize, usize)> {
    let off = usize::try_from(k.unsigned_abs()).ok()?;
    Some(if k < 0 { (off, 0) } else { (0, off) })
}

/// Diagonal `k` of the matrices in axes `ax1`, `ax2` of `x`, as the last
/// axis: the two axes moved last and merged, then the diagonal's flat
/// positions taken.
pub(super) fn diagonal(x: &Value, k: i64, ax1: usize, ax2: usize) -> R<Value> {
    let s = shape_of(x);
    let (r, c) = (s[ax1], s[ax2]);
    let rest: Vec<usize> = (0..s.len()).filter(|&i| i != ax1 && i != ax2).collect();
    let len = match diag_start(k) {
        Some((off_r, off_c)) => r.saturating_sub(off_r).min(c.saturating_sub(off_c)),
        None => 0,
    };
    let (off_r, off_c) = diag_start(k).unwrap_or((0, 0));
    let mut perm = rest.clone();
    perm.extend([ax1, ax2]);
    let mut flat_shape: Vec<usize> = rest.iter().map(|&i| s[i]).collect();
    // An empty tensor may have axes whose product overflows; the positions
    // of a long diagonal are a tensor of their own.
    let rc = r.checked_mul(c).ok_or_else(|| {
        Diagnostic::new(
            ErrorKind::Value,
            format!("a diagonal of {r} × {c} matrices: the matrices are too large"),
        )
    })?;
    te(checked_size(&[len]))?;
    flat_shape.push(rc);
    let flat = ops::reshape(&ops::transpose(x, &perm)?, &flat_shape)?;
    let idx = (0..len).map(|i| ((i + off_r) * c + i + off_c) as f64).collect();
    let idx = te(Tensor::from_vec(idx, &[len]))?;
    ops::apply(
        &Prim::Take(crate::prim::Take(rest.len())),
        &[flat, Value::Tensor(Rc::new(idx))],
    )
}

/// The square matrix with the `n`-vector `x` on diagonal `k` and zeros elsewhere.
fn vector_to_diag(a: &Call<'_>, x: Value, n: usize, k: i64) -> R<Value> {
    let too_large = || {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`diag`: a {n}-vector on diagonal {k} makes too large a matrix"),
        )
        .at(a.span_at(1))
    };
    let (off_r, off_c) = diag_start(k).ok_or_else(too_large)?;
    let m = n
        .checked_add(off_r.max(off_c))
        .filter(|m| m.checked_mul(*m).is_some_and(|mm| mm <= 1 << 26))
        .ok_or_else(too_large)?;
    // Index n is an appended zero: every entry off the diagonal takes it
    // (`false` for a bool vector, whose matrix stays bool as in NumPy).
    let mut zero = te(Tensor::zeros(&[1]))?;
    if super::dtype_name(&x) == Some("bool") {
        zero = zero.marked_bool();
    }
    let zero = Value::Tensor(Rc::new(zero));
    let padded = ops::apply(&Prim::Concat(crate::prim::Concat(0)), &[x, zero])?;
    let mut idx = vec![n as f64; m * m];
    for p in 0..n {
        idx[(p + off_r) * m + p + off_c] = p as f64;
    }
    let idx = te(Tensor::from_vec(idx, &[m, m]))?;
    ops::apply(
        &Prim::Take(crate::prim::Take(0)),
        &[padded, Value::Tensor(Rc::new(idx))],
    )
}
