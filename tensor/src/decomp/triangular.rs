//! Triangular solves: the kernel behind `solve`, `inv`, `lu_solve` and
//! `cholesky`-based solves, and [`Tensor::triangular_solve`].

use super::batch::{unravel, Rhs};
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// Which triangular system [`Tensor::triangular_solve`] solves; the
/// options of `jax.scipy.linalg.solve_triangular` / `jax.lax.linalg.triangular_solve`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Triangular {
    /// Use the lower triangle of `a` (else the upper one). The other
    /// triangle is never read.
    pub lower: bool,
    /// Solve with `a` transposed: `a^T x = b` (`trans=1` in SciPy).
    pub trans: bool,
    /// Take the diagonal of `a` to be all ones (it is never read).
    pub unit_diagonal: bool,
    /// Solve `x op(a) = b` instead of `op(a) x = b` (JAX's `left_side=False`).
    pub right_side: bool,
}

/// `row[..] -= f * src[..]`, written so that it vectorises.
#[inline]
fn axpy(row: &mut [f64], f: f64, src: &[f64]) {
    for (r, &s) in row.iter_mut().zip(src) {
        *r -= f * s;
    }
}

/// The position of the first zero on the diagonal of the `n x n` row-major `t`.
pub(crate) fn zero_diagonal(t: &[f64], n: usize) -> Option<usize> {
    (0..n).find(|&i| t[i * n + i] == 0.0)
}

/// Solves `op(T) X = B` in place for the `n x n` row-major triangular `T`
/// and the `n x k` row-major `B`, where `op(T)` is `T` or `T^T`; only the
/// `lower` (or upper) triangle of `T` is read, and not its diagonal when
/// `unit`. A zero diagonal element gives infinities and NaNs, like BLAS
/// `trsm`; callers that must report it check [`zero_diagonal`] first.
///
/// Every variant walks rows of `T` (contiguous) and updates whole rows of `B`
/// (contiguous, `k` long): plain substitution for `op(T) = T`, the
/// column-oriented form for `op(T) = T^T`, whose columns are `T`'s rows.
pub(crate) fn trsm(t: &[f64], n: usize, b: &mut [f64], k: usize, lower: bool, trans: bool, unit: bool) {
    if n == 0 || k == 0 {
        return;
    }
    let diag = |i: usize| if unit { 1.0 } else { t[i * n + i] };
    match (lower, trans) {
        (true, false) => {
            // Forward substitution: row i minus the already solved rows above.
            for i in 0..n {
                let (done, rest) = b.split_at_mut(i * k);
                let row = &mut rest[..k];
                for j in 0..i {
                    axpy(row, t[i * n + j], &done[j * k..(j + 1) * k]);
                }
                let d = diag(i);
                if !unit {
                    row.iter_mut().for_each(|x| *x /= d);
                }
            }
        }
        (false, false) => {
            // Back substitution from the last row up.
            for i in (0..n).rev() {
                let (head, done) = b.split_at_mut((i + 1) * k);
                let row = &mut head[i * k..];
                for j in i + 1..n {
                    axpy(row, t[i * n + j], &done[(j - i - 1) * k..(j - i) * k]);
                }
                let d = diag(i);
                if !unit {
                    row.iter_mut().for_each(|x| *x /= d);
                }
            }
        }
        (true, true) => {
            // T^T is upper: solve the last unknown first, then remove it
            // from the rows above using row j of T (column j of T^T).
            for j in (0..n).rev() {
                let (head, tail) = b.split_at_mut(j * k);
                let row = &mut tail[..k];
                if !unit {
                    let d = diag(j);
                    row.iter_mut().for_each(|x| *x /= d);
                }
                for i in 0..j {
                    axpy(&mut head[i * k..(i + 1) * k], t[j * n + i], row);
                }
            }
        }
        (false, true) => {
            // T^T is lower: the mirror image of the case above.
            for j in 0..n {
                let (head, tail) = b.split_at_mut((j + 1) * k);
                let row = &mut head[j * k..];
                if !unit {
                    let d = diag(j);
                    row.iter_mut().for_each(|x| *x /= d);
                }
                for i in j + 1..n {
                    axpy(&mut tail[(i - j - 1) * k..(i - j) * k], t[j * n + i], row);
                }
            }
        }
    }
}

/// Transposes the row-major `r x c` matrix `src` into `dst` (`c x r`).
pub(crate) fn transpose_into(src: &[f64], r: usize, c: usize, dst: &mut [f64]) {
    for i in 0..r {
        for j in 0..c {
            dst[j * r + i] = src[i * c + j];
        }
    }
}

impl Tensor {
    /// Solves the triangular system `op(a) x = b` (or `x op(a) = b` with
    /// `opts.right_side`) for `a` of shape `(..., n, n)`, reading only the
    /// triangle `opts` names (SciPy/JAX `solve_triangular`).
    ///
    /// `b` follows NumPy 2's `solve` rules: a 1-d `b` of length `n` is one
    /// vector (the result has shape `(..., n)`); otherwise `b` is a stack of
    /// `(n, k)` matrices (`(k, n)` with `right_side`) whose batch axes
    /// broadcast with `a`'s. An exactly zero diagonal element is a
    /// [`TensorError::Singular`] error (as in SciPy), unless `unit_diagonal`.
    pub fn triangular_solve(&self, b: &Tensor, opts: Triangular) -> Result<Tensor> {
        const OP: &str = "triangular_solve";
        let a = super::batch::Stack::new(self, OP, true)?;
        let n = a.rows;
        if !opts.unit_diagonal {
            for i in 0..a.count() {
                if let Some(p) = zero_diagonal(a.matrix(i), n) {
                    return Err(TensorError::Singular {
                        op: OP,
                        index: unravel(i, &a.batch),
                        pivot: p,
                    });
                }
            }
        }
        let mut rhs = Rhs::new(OP, self.shape(), n, b, opts.right_side)?;
        if !opts.right_side {
            let k = rhs.k;
            for (j, &ai) in rhs.a_index.iter().enumerate() {
                if crate::interrupt::requested() {
                    break;
                }
                let x = &mut rhs.data[j * n * k..(j + 1) * n * k];
                trsm(a.matrix(ai), n, x, k, opts.lower, opts.trans, opts.unit_diagonal);
            }
            return Ok(rhs.into_tensor(n));
        }
        // x op(a) = b  <=>  op(a)^T x^T = b^T: `rhs` holds b^T; solve the
        // transposed system and transpose the solutions back.
        let k = rhs.k;
        let mut tmp = super::batch::scratch(n * k)?;
        for (j, &ai) in rhs.a_index.iter().enumerate() {
            if crate::interrupt::requested() {
                break;
            }
            let x = &mut rhs.data[j * n * k..(j + 1) * n * k];
            trsm(a.matrix(ai), n, x, k, opts.lower, !opts.trans, opts.unit_diagonal);
            if !rhs.vector {
                // Back to (k, n) layout.
                transpose_into(x, n, k, &mut tmp);
                x.copy_from_slice(&tmp);
            }
        }
        let mut shape = rhs.batch.clone();
        if rhs.vector {
            shape.push(n);
        } else {
            shape.extend_from_slice(&[k, n]);
        }
        Ok(Tensor::from_parts(rhs.data, shape))
    }
}
