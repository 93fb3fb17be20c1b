//! `tridiagonal_solve(dl, d, du, b)` (`jax.lax.linalg.tridiagonal_solve`):
//! solves `a x = b` for the tridiagonal `a` with sub-diagonal `dl`, diagonal
//! `d` and super-diagonal `du` (each `(..., m)`; `dl[0]` and `du[m - 1]` are
//! not read), `b` of shape `(..., m, n)`. Thomas's algorithm, O(m n).
//!
//! Differentiable in all four (JAX's rules): `ẋ = a⁻¹ (ḃ - ȧ x)`, and the
//! adjoint solves with `aᵀ`, whose diagonals are `d`, `dl` and `du` shifted.

use super::rule_util::{sum_terms, term};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::Tensor;
use std::rc::Rc;

/// The tridiagonal solve primitive, operands `(dl, d, du, b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TridiagonalSolve;

/// `x` with `a x = b`; checks the shapes (an error names the operand).
pub fn tridiagonal_solve(dl: &Value, d: &Value, du: &Value, b: &Value) -> R<Value> {
    let (sd, sb) = (shape_of(d), shape_of(b));
    let bad = |msg: String| Err(Diagnostic::new(ErrorKind::Shape, format!("`tridiagonal_solve`: {msg}")));
    if sd.is_empty() {
        return bad("the diagonal `d` must have at least one axis (..., m)".into());
    }
    for (name, v) in [("dl", dl), ("du", du)] {
        if shape_of(v) != sd {
            return bad(format!(
                "`{name}` has shape {}, but the diagonal `d` has shape {}",
                ops::describe_shape(v),
                ops::describe_shape(d)
            ));
        }
    }
    let mut want = sd.clone();
    if sb.len() != sd.len() + 1 || sb[..sd.len()] != want[..] {
        want.push(sb.last().copied().unwrap_or(1));
        return bad(format!(
            "`b` must have shape (..., m, n) = {} matching the diagonals {}, not {}",
            dp_tensor::format_shape(&want),
            ops::describe_shape(d),
            ops::describe_shape(b)
        ));
    }
    let args = [ops::num(dl), ops::num(d), ops::num(du), ops::num(b)];
    super::apply(&Prim::TridiagonalSolve(TridiagonalSolve), &args)
}

/// Thomas's algorithm on every system of the stack, in place on a copy of `b`.
fn thomas(dl: &Tensor, d: &Tensor, du: &Tensor, b: &Tensor) -> R<Tensor> {
    let sb = b.shape().to_vec();
    let (m, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (dl, d, du) = (dl.to_vec(), d.to_vec(), du.to_vec());
    let mut x = b.to_vec();
    let systems = d.len().checked_div(m).unwrap_or(0);
    let mut c = vec![0.0; m];
    for s in 0..systems {
        let (lo, di, up) = (&dl[s * m..(s + 1) * m], &d[s * m..(s + 1) * m], &du[s * m..(s + 1) * m]);
        let xs = &mut x[s * m * n..(s + 1) * m * n];
        // Forward sweep: c[i] = up[i] / denom, rows scaled to a unit diagonal.
        let mut prev = 0.0;
        for i in 0..m {
            let denom = di[i] - if i > 0 { lo[i] * prev } else { 0.0 };
            if denom == 0.0 {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "`tridiagonal_solve` failed: a zero pivot at row {i} (the matrix is singular, or needs \
                         pivoting, which Thomas's algorithm does not do; `solve` on the dense matrix pivots)"
                    ),
                ));
            }
            c[i] = if i + 1 < m { up[i] / denom } else { 0.0 };
            for k in 0..n {
                let above = if i > 0 { xs[(i - 1) * n + k] } else { 0.0 };
                xs[i * n + k] = (xs[i * n + k] - if i > 0 { lo[i] * above } else { 0.0 }) / denom;
            }
            prev = c[i];
        }
        // Back substitution.
        for i in (0..m.saturating_sub(1)).rev() {
            for k in 0..n {
                xs[i * n + k] -= c[i] * xs[(i + 1) * n + k];
            }
        }
    }
    te(Tensor::from_vec(x, &sb))
}

/// The constant `m x m` matrix with ones at `(i, i + k)`: `v @ it` moves
/// entries of a row vector `k` places right (`k = 1`) or left (`k = -1`),
/// filling with zero; a product, so derivatives pass through.
fn shift(m: usize, k: isize) -> R<Value> {
    let mut s = vec![0.0; m * m];
    for i in 0..m {
        let j = i as isize + k;
        if (0..m as isize).contains(&j) {
            s[i * m + j as usize] = 1.0;
        }
    }
    Ok(Value::Tensor(Rc::new(te(Tensor::from_vec(s, &[m, m]))?)))
}

/// `v[..., None]`: a diagonal as a column scaling the rows of `(..., m, n)`.
fn col(v: &Value) -> R<Value> {
    let mut s = shape_of(v);
    s.push(1);
    ops::reshape(v, &s)
}

/// Sum over the last axis (the `n` right-hand sides).
fn sum_last(x: &Value) -> R<Value> {
    let nd = shape_of(x).len();
    ops::sum(x, Some(Rc::from(vec![nd - 1])), false)
}

/// `a y` for the tridiagonal `a` of `(dl, d, du)` (JAX's `_tridiagonal_product`).
fn product(dl: &Value, d: &Value, du: &Value, y: &Value) -> R<Value> {
    let m = shape_of(d).last().copied().unwrap_or(0);
    // Rows: (a y)_i = dl_i y_{i-1} + d_i y_i + du_i y_{i+1}; y_{i∓1} are y's rows shifted.
    let down = ops::arith::matmul(&mt_shift(m, 1)?, y)?; // row i holds y_{i-1}
    let up = ops::arith::matmul(&mt_shift(m, -1)?, y)?; // row i holds y_{i+1}
    let lo = ops::mul(&col(&ops::arith::matmul(dl, &mask_first(m)?)?)?, &down)?;
    let hi = ops::mul(&col(&ops::arith::matmul(du, &mask_last(m)?)?)?, &up)?;
    ops::add(&ops::add(&ops::mul(&col(d)?, y)?, &lo)?, &hi)
}

/// The `m x m` matrix `s` with `(s y)_i = y_{i - k}` (rows shifted down by `k`).
fn mt_shift(m: usize, k: isize) -> R<Value> {
    shift(m, -k)
}

/// The identity without its first diagonal entry: zeroes `dl[0]`.
fn mask_first(m: usize) -> R<Value> {
    let mut s = vec![0.0; m * m];
    (1..m).for_each(|i| s[i * m + i] = 1.0);
    Ok(Value::Tensor(Rc::new(te(Tensor::from_vec(s, &[m, m]))?)))
}

/// The identity without its last diagonal entry: zeroes `du[m - 1]`.
fn mask_last(m: usize) -> R<Value> {
    let mut s = vec![0.0; m * m];
    (0..m.saturating_sub(1)).for_each(|i| s[i * m + i] = 1.0);
    Ok(Value::Tensor(Rc::new(te(Tensor::from_vec(s, &[m, m]))?)))
}

impl Primitive for TridiagonalSolve {
    fn name(&self) -> String {
        "tridiagonal_solve".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let t: Vec<_> = x.iter().map(as_tensor).collect::<R<_>>()?;
        Ok(from_tensor(thomas(&t[0], &t[1], &t[2], &t[3])?))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (dl, d, du) = (&x[0], &x[1], &x[2]);
        let m = shape_of(d).last().copied().unwrap_or(0);
        // aᵀ has sub-diagonal du shifted right, super-diagonal dl shifted left.
        let dl_t = ops::arith::matmul(du, &shift(m, 1)?)?;
        let du_t = ops::arith::matmul(dl, &shift(m, -1)?)?;
        let gb = tridiagonal_solve(&dl_t, d, &du_t, g)?;
        // ā = -b̄ xᵀ on the three diagonals read.
        let down = ops::arith::matmul(&mt_shift(m, 1)?, y)?;
        let up = ops::arith::matmul(&mt_shift(m, -1)?, y)?;
        let gd = needs[1].then(|| ops::neg(&sum_last(&ops::mul(&gb, y)?)?)).transpose()?;
        let gdl = needs[0]
            .then(|| ops::arith::matmul(&ops::neg(&sum_last(&ops::mul(&gb, &down)?)?)?, &mask_first(m)?))
            .transpose()?;
        let gdu = needs[2]
            .then(|| ops::arith::matmul(&ops::neg(&sum_last(&ops::mul(&gb, &up)?)?)?, &mask_last(m)?))
            .transpose()?;
        Ok(vec![gdl, gd, gdu, needs[3].then_some(gb)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        // ẋ = a⁻¹ (ḃ - ȧ x).
        let z = |v: &Option<Value>, like: &Value| match v {
            Some(v) => Ok(v.clone()),
            None => ops::zeros_like(like),
        };
        let da = if t[..3].iter().any(Option::is_some) {
            let p = product(&z(&t[0], &x[0])?, &z(&t[1], &x[1])?, &z(&t[2], &x[2])?, y)?;
            Some(ops::neg(&p)?)
        } else {
            None
        };
        let rhs = sum_terms(vec![t[3].clone(), da])?;
        term(&rhs, |r| {
            tridiagonal_solve(&x[0], &x[1], &x[2], &ops::broadcast_to(r, &shape_of(y))?)
        })
    }
    // The kernel takes stacks of systems: give every operand the batch axis.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let give = |v: &Value, b: bool| -> R<Value> {
            if b {
                return Ok(v.clone());
            }
            let mut s = vec![n];
            s.extend(shape_of(v));
            ops::broadcast_to(v, &s)
        };
        let args: Vec<Value> = x.iter().zip(batched).map(|(v, &b)| give(v, b)).collect::<R<_>>()?;
        super::apply(&Prim::TridiagonalSolve(self.clone()), &args)
    }
}
