//! Triangular solves: the kernel behind `solve`, `inv`, `lu_solve` and
//! `cholesky`-based solves, and [`Tensor::triangular_solve`].

use super::batch::{unravel, Rhs};
use super::vector::axpy;
use crate::error::{Result, TensorError};
use crate::simd::{multiversion, Mode};
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

/// The position of the first zero on the diagonal of the `n x n` row-major `t`.
pub(crate) fn zero_diagonal(t: &[f64], n: usize) -> Option<usize> {
    (0..n).find(|&i| t[i * n + i] == 0.0)
}

/// Columns of `B` solved together by [`trsm`]: a panel of `n` rows stays in
/// cache while every row of `T` passes over it (whole rows of a wide `B`,
/// e.g. the identity in `inv`, would stream from memory once per row of `T`).
const PANEL: usize = 64;

/// Solves `op(T) X = B` in place for the `n x n` row-major triangular `T`
/// and the `n x k` row-major `B`, where `op(T)` is `T` or `T^T`; only the
/// `lower` (or upper) triangle of `T` is read, and not its diagonal when
/// `unit`. A zero diagonal element gives infinities and NaNs, like BLAS
/// `trsm`; callers that must report it check [`zero_diagonal`] first.
#[inline(always)]
fn trsm_impl<M: Mode>(t: &[f64], n: usize, b: &mut [f64], k: usize, lower: bool, trans: bool, unit: bool) {
    let mut c0 = 0;
    while c0 < k {
        let c1 = (c0 + PANEL).min(k);
        trsm_panel::<M>(t, n, b, k, c0..c1, lower, trans, unit);
        c0 = c1;
    }
}

multiversion!(
    /// [`trsm_impl`] compiled for the running CPU.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn trsm(t: &[f64], n: usize, b: &mut [f64], k: usize, lower: bool, trans: bool, unit: bool) => trsm_impl
);

/// [`trsm`] on the columns `cols` of `B`. Every variant walks rows of `T`
/// (contiguous) and updates row segments of `B` (contiguous): plain
/// substitution for `op(T) = T`, the column-oriented form for `op(T) =
/// T^T`, whose columns are `T`'s rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn trsm_panel<M: Mode>(
    t: &[f64],
    n: usize,
    b: &mut [f64],
    k: usize,
    cols: std::ops::Range<usize>,
    lower: bool,
    trans: bool,
    unit: bool,
) {
    let (c0, w) = (cols.start, cols.len());
    // The segment of row i of B, as a range into a slice starting at row `from`.
    let seg = |i: usize, from: usize| (i - from) * k + c0..(i - from) * k + c0 + w;
    let diag = |i: usize| if unit { 1.0 } else { t[i * n + i] };
    let scale = |row: &mut [f64], i: usize| {
        if !unit {
            let d = diag(i);
            row.iter_mut().for_each(|x| *x /= d);
        }
    };
    match (lower, trans) {
        (true, false) => {
            // Forward substitution: row i minus the already solved rows above.
            for i in 0..n {
                let (done, rest) = b.split_at_mut(i * k);
                let row = &mut rest[seg(i, i)];
                for j in 0..i {
                    axpy::<M>(-t[i * n + j], &done[seg(j, 0)], row);
                }
                scale(row, i);
            }
        }
        (false, false) => {
            // Back substitution from the last row up.
            for i in (0..n).rev() {
                let (head, done) = b.split_at_mut((i + 1) * k);
                let row = &mut head[seg(i, 0)];
                for j in i + 1..n {
                    axpy::<M>(-t[i * n + j], &done[seg(j, i + 1)], row);
                }
                scale(row, i);
            }
        }
        (true, true) => {
            // T^T is upper: solve the last unknown first, then remove it
            // from the rows above using row j of T (column j of T^T).
            for j in (0..n).rev() {
                let (head, tail) = b.split_at_mut(j * k);
                let row = &mut tail[seg(j, j)];
                scale(row, j);
                for i in 0..j {
                    axpy::<M>(-t[j * n + i], row, &mut head[seg(i, 0)]);
                }
            }
        }
        (false, true) => {
            // T^T is lower: the mirror image of the case above.
            for j in 0..n {
                let (head, tail) = b.split_at_mut((j + 1) * k);
                let row = &mut head[seg(j, 0)];
                scale(row, j);
                for i in j + 1..n {
                    axpy::<M>(-t[j * n + i], row, &mut tail[seg(i, j + 1)]);
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
            for i in 0..a.work() {
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
        let mut tmp = if rhs.a_index.is_empty() {
            Vec::new()
        } else {
            super::batch::scratch(n * k)?
        };
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
