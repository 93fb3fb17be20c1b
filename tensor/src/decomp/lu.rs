//! LU factorisation with partial pivoting (LAPACK `getrf`) and what is
//! built on it: `solve`, `inv`, `det`, `slogdet`, `lu`, `lu_factor`, `lu_solve`.

use super::batch::{stacked, unravel, Rhs, Stack};
use super::triangular::trsm;
use super::vector::axpy;
use crate::error::{Result, TensorError};
use crate::simd::{multiversion, Mode};
use crate::tensor::Tensor;

/// Factors the row-major `m x n` matrix `a` in place as `P A = L U`:
/// afterwards its strict lower part holds the unit lower triangular `L`
/// (`m x k`, `k = min(m, n)`) and its upper part `U` (`k x n`). At step
/// `j` rows `j` and `piv[j]` were swapped (`piv` has `k` entries, LAPACK's
/// `ipiv` minus one), `piv[j]` being the first row of largest magnitude in
/// column `j` at or below the diagonal.
///
/// A zero pivot is skipped (nothing to eliminate with; `U` is then
/// singular), and its position, the first if several, is returned.
#[inline(always)]
fn factor_impl<M: Mode>(a: &mut [f64], m: usize, n: usize, piv: &mut [usize]) -> Option<usize> {
    let mut zero = None;
    for j in 0..m.min(n) {
        // `>` keeps the first of equal magnitudes, and a NaN in the
        // diagonal position (which nothing beats) stays the pivot, so NaNs
        // propagate instead of being silently pivoted away.
        let mut p = j;
        let mut best = a[j * n + j].abs();
        for i in j + 1..m {
            let v = a[i * n + j].abs();
            if v > best {
                best = v;
                p = i;
            }
        }
        piv[j] = p;
        if p != j {
            let (top, bottom) = a.split_at_mut(p * n);
            top[j * n..(j + 1) * n].swap_with_slice(&mut bottom[..n]);
        }
        let pivot = a[j * n + j];
        if pivot == 0.0 {
            zero.get_or_insert(j);
            continue;
        }
        let (top, bottom) = a.split_at_mut((j + 1) * n);
        let prow = &top[j * n + j + 1..(j + 1) * n];
        for row in bottom.chunks_exact_mut(n) {
            let l = row[j] / pivot;
            row[j] = l;
            if l != 0.0 {
                axpy::<M>(-l, prow, &mut row[j + 1..]);
            }
        }
    }
    zero
}

multiversion!(
    /// [`factor_impl`] compiled for the running CPU.
    pub(crate) fn factor(a: &mut [f64], m: usize, n: usize, piv: &mut [usize]) -> Option<usize> => factor_impl
);

/// Applies the row interchanges `piv` of [`factor`] to the `n x k` row-major
/// `b`: forwards gives `P b`, backwards `P^T b`.
fn permute(b: &mut [f64], k: usize, piv: &[usize], backwards: bool) {
    let mut swap = |j: usize| {
        let p = piv[j];
        if p != j {
            let (lo, hi) = (j.min(p), j.max(p));
            let (top, bottom) = b.split_at_mut(hi * k);
            top[lo * k..(lo + 1) * k].swap_with_slice(&mut bottom[..k]);
        }
    };
    if backwards {
        (0..piv.len()).rev().for_each(&mut swap);
    } else {
        (0..piv.len()).for_each(&mut swap);
    }
}

/// Solves `A X = B` (or `A^T X = B` with `trans`) in place for the `n x k`
/// row-major `B`, given `A`'s square factorisation from [`factor`].
pub(crate) fn solve_factored(lu: &[f64], n: usize, piv: &[usize], b: &mut [f64], k: usize, trans: bool) {
    if trans {
        // A^T = U^T L^T P: solve U^T y = b, L^T z = y, then x = P^T z.
        trsm(lu, n, b, k, false, true, false);
        trsm(lu, n, b, k, true, true, true);
        permute(b, k, piv, true);
    } else {
        permute(b, k, piv, false);
        trsm(lu, n, b, k, true, false, true);
        trsm(lu, n, b, k, false, false, false);
    }
}

/// `+1` or `-1`: the sign of the permutation made by the interchanges `piv`.
fn permutation_sign(piv: &[usize]) -> f64 {
    let swaps = piv.iter().enumerate().filter(|&(j, &p)| p != j).count();
    if swaps % 2 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// Pivots as stored in a tensor (`f64`) back as row indices, checked to be
/// valid interchanges for `n` rows.
fn pivots_from(values: &[f64], n: usize) -> Result<Vec<usize>> {
    values
        .iter()
        .map(|&v| {
            if v.fract() == 0.0 && v >= 0.0 && v < n as f64 {
                Ok(v as usize)
            } else {
                Err(TensorError::Invalid(format!(
                    "`lu_solve`: pivot {} is not a row index of a matrix with {n} rows",
                    crate::format_float(v)
                )))
            }
        })
        .collect()
}

/// Factors every matrix of `a` (a square stack) in place; returns the
/// pivots, `n` per matrix. With `op`, an exactly zero pivot is a
/// [`TensorError::Singular`] error naming `op`.
fn factor_all(a: &mut Stack, op: Option<&'static str>) -> Result<Vec<usize>> {
    let n = a.rows;
    let mut piv = vec![0usize; a.work() * n];
    for i in 0..a.work() {
        if crate::interrupt::requested() {
            break;
        }
        let zero = factor(a.matrix_mut(i), n, n, &mut piv[i * n..(i + 1) * n]);
        if let (Some(op), Some(p)) = (op, zero) {
            return Err(TensorError::Singular {
                op,
                index: unravel(i, &a.batch),
                pivot: p,
            });
        }
    }
    Ok(piv)
}

impl Tensor {
    /// The packed LU factorisation with partial pivoting of each matrix in
    /// the last two axes (`scipy.linalg.lu_factor`, any `m x n`): returns
    /// `(lu, piv)` with `lu` of shape `(..., m, n)` holding `U` in its upper
    /// triangle and the unit lower `L` below the diagonal, and `piv` of shape
    /// `(..., min(m, n))`: at step `j` row `j` was swapped with row `piv[j]`
    /// (zero-based). Singular matrices factor without error.
    pub fn lu_factor(&self) -> Result<(Tensor, Tensor)> {
        let mut a = Stack::new(self, "lu_factor", false)?;
        let (m, n) = (a.rows, a.cols);
        let k = m.min(n);
        let mut piv = crate::buffer::alloc_filled(&stacked(&a.batch, &[k]), 0.0)?;
        // Sized only when there is work: k may be huge when the batch is empty.
        let mut p = vec![0usize; if a.work() > 0 { k } else { 0 }];
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            factor(a.matrix_mut(i), m, n, &mut p);
            for (d, &s) in piv[i * k..(i + 1) * k].iter_mut().zip(&p) {
                *d = s as f64;
            }
        }
        let piv_shape = stacked(&a.batch, &[k]);
        Ok((
            Tensor::from_parts(a.data, self.shape().to_vec()),
            Tensor::from_parts(piv, piv_shape),
        ))
    }

    /// The LU factorisation `a = p @ l @ u` of each matrix in the last two
    /// axes (`scipy.linalg.lu`, any `m x n`, `k = min(m, n)`): the
    /// permutation matrix `p` `(..., m, m)`, unit lower triangular `l`
    /// `(..., m, k)` and upper triangular `u` `(..., k, n)`.
    pub fn lu(&self) -> Result<(Tensor, Tensor, Tensor)> {
        let (packed, piv) = self.lu_factor()?;
        let (m, n) = (packed.shape()[packed.ndim() - 2], packed.shape()[packed.ndim() - 1]);
        let k = m.min(n);
        let batch = packed.shape()[..packed.ndim() - 2].to_vec();
        // With m == 0 there is nothing to fill (and the batch may be too
        // large to walk); otherwise `p` holds `count` matrices, so it is small.
        let count = if m == 0 { 0 } else { super::batch::batch_count(&batch) };
        let lu = packed.as_slice().unwrap_or(&[]);
        let pv = piv.as_slice().unwrap_or(&[]);
        let mut p = crate::buffer::alloc_filled(&stacked(&batch, &[m, m]), 0.0)?;
        let mut l = crate::buffer::alloc_filled(&stacked(&batch, &[m, k]), 0.0)?;
        let mut u = crate::buffer::alloc_filled(&stacked(&batch, &[k, n]), 0.0)?;
        let mut perm: Vec<usize> = Vec::new();
        for b in 0..count {
            let a = &lu[b * m * n..(b + 1) * m * n];
            for i in 0..m {
                for j in 0..k.min(i + 1) {
                    l[b * m * k + i * k + j] = if i == j { 1.0 } else { a[i * n + j] };
                }
            }
            for i in 0..k {
                for j in i..n {
                    u[b * k * n + i * n + j] = a[i * n + j];
                }
            }
            // Row i of L U is row perm[i] of a, so P has ones at (perm[i], i).
            perm.clear();
            perm.extend(0..m);
            for (j, &s) in pv[b * k..(b + 1) * k].iter().enumerate() {
                perm.swap(j, s as usize);
            }
            for (i, &r) in perm.iter().enumerate() {
                p[b * m * m + r * m + i] = 1.0;
            }
        }
        Ok((
            Tensor::from_parts(p, stacked(&batch, &[m, m])),
            Tensor::from_parts(l, stacked(&batch, &[m, k])),
            Tensor::from_parts(u, stacked(&batch, &[k, n])),
        ))
    }

    /// Solves `a x = b` (or `a^T x = b` with `trans`) from the square
    /// factorisation `(lu, piv)` of [`lu_factor`](Self::lu_factor), so that
    /// one factorisation serves several solves (e.g. a forward solve and the
    /// transposed one its gradient needs). `b` follows [`solve`](Self::solve)'s
    /// rules. Zero pivots give infinities/NaNs rather than an error.
    pub fn lu_solve(lu: &Tensor, piv: &Tensor, b: &Tensor, trans: bool) -> Result<Tensor> {
        const OP: &str = "lu_solve";
        let a = Stack::new(lu, OP, true)?;
        let n = a.rows;
        let want = stacked(&a.batch, &[n]);
        if piv.shape() != want.as_slice() {
            return Err(TensorError::Invalid(format!(
                "`lu_solve`: the pivots of factors of shape {} must have shape {}, not {}",
                crate::format_shape(lu.shape()),
                crate::format_shape(&want),
                crate::format_shape(piv.shape())
            )));
        }
        let pivots = pivots_from(&piv.to_vec(), n)?;
        let mut rhs = Rhs::new(OP, lu.shape(), n, b, false)?;
        let k = rhs.k;
        for (j, &ai) in rhs.a_index.iter().enumerate() {
            if crate::interrupt::requested() {
                break;
            }
            let x = &mut rhs.data[j * n * k..(j + 1) * n * k];
            solve_factored(a.matrix(ai), n, &pivots[ai * n..(ai + 1) * n], x, k, trans);
        }
        Ok(rhs.into_tensor(n))
    }

    /// Solves `a x = b` for square `a` of shape `(..., n, n)` (NumPy 2
    /// `linalg.solve`): a 1-d `b` of length `n` is one vector (result
    /// `(..., n)`); otherwise `b` is `(..., n, k)` with batch axes
    /// broadcasting against `a`'s (result `(..., n, k)`). Partial pivoting;
    /// an exactly zero pivot is a [`TensorError::Singular`] error.
    pub fn solve(&self, b: &Tensor) -> Result<Tensor> {
        const OP: &str = "solve";
        let mut a = Stack::new(self, OP, true)?;
        let n = a.rows;
        // Check b before the O(n^3) work.
        let mut rhs = Rhs::new(OP, self.shape(), n, b, false)?;
        let piv = factor_all(&mut a, Some(OP))?;
        let k = rhs.k;
        for (j, &ai) in rhs.a_index.iter().enumerate() {
            if crate::interrupt::requested() {
                break;
            }
            let x = &mut rhs.data[j * n * k..(j + 1) * n * k];
            solve_factored(a.matrix(ai), n, &piv[ai * n..(ai + 1) * n], x, k, false);
        }
        Ok(rhs.into_tensor(n))
    }

    /// The inverse of each square matrix in the last two axes (NumPy
    /// `linalg.inv`), by LU with partial pivoting; an exactly zero pivot is
    /// a [`TensorError::Singular`] error.
    pub fn inv(&self) -> Result<Tensor> {
        const OP: &str = "inv";
        let mut a = Stack::new(self, OP, true)?;
        let n = a.rows;
        let piv = factor_all(&mut a, Some(OP))?;
        let mut out = crate::buffer::alloc_filled(self.shape(), 0.0)?;
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            let x = &mut out[i * n * n..(i + 1) * n * n];
            for d in 0..n {
                x[d * n + d] = 1.0;
            }
            solve_factored(a.matrix(i), n, &piv[i * n..(i + 1) * n], x, n, false);
        }
        Ok(Tensor::from_parts(out, self.shape().to_vec()))
    }

    /// The determinant of each square matrix in the last two axes, shape
    /// `(...)` (NumPy `linalg.det`): the product of the LU pivots. Singular
    /// matrices give 0 (no error); the empty matrix gives 1.
    pub fn det(&self) -> Result<Tensor> {
        let mut a = Stack::new(self, "det", true)?;
        let n = a.rows;
        let piv = factor_all(&mut a, None)?;
        let mut out = crate::buffer::alloc_filled(&a.batch, 0.0)?;
        for (i, d) in out.iter_mut().enumerate() {
            let lu = a.matrix(i);
            let p = &piv[i * n..(i + 1) * n];
            *d = (0..n).fold(permutation_sign(p), |acc, j| acc * lu[j * n + j]);
        }
        Ok(Tensor::from_parts(out, a.batch))
    }

    /// Sign and natural log of the absolute determinant of each square
    /// matrix in the last two axes (NumPy `linalg.slogdet`), both of shape
    /// `(...)`: `det = sign * exp(logabsdet)` without overflow. A singular
    /// matrix gives `(0, -inf)`, a NaN anywhere in the factors `(nan, nan)`,
    /// the empty matrix `(1, 0)`.
    pub fn slogdet(&self) -> Result<(Tensor, Tensor)> {
        let mut a = Stack::new(self, "slogdet", true)?;
        let n = a.rows;
        let piv = factor_all(&mut a, None)?;
        let mut sign = crate::buffer::alloc_filled(&a.batch, 0.0)?;
        let mut logabs = crate::buffer::alloc_filled(&a.batch, 0.0)?;
        for i in 0..sign.len() {
            let lu = a.matrix(i);
            let mut s = permutation_sign(&piv[i * n..(i + 1) * n]);
            let mut l = 0.0;
            for j in 0..n {
                let u = lu[j * n + j];
                if u < 0.0 {
                    s = -s;
                }
                // Summing logs cannot overflow where the product would.
                l += u.abs().ln();
            }
            let diag = (0..n).map(|j| lu[j * n + j]);
            (sign[i], logabs[i]) = if diag.clone().any(f64::is_nan) {
                (f64::NAN, f64::NAN)
            } else if diag.clone().any(|u| u == 0.0) {
                (0.0, f64::NEG_INFINITY)
            } else {
                (s, l)
            };
        }
        Ok((
            Tensor::from_parts(sign, a.batch.clone()),
            Tensor::from_parts(logabs, a.batch),
        ))
    }
}
