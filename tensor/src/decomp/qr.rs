//! Householder QR factorisation (LAPACK `geqrf` + `orgqr`): [`Tensor::qr`];
//! the pivots of QR with column pivoting (`geqp3`): [`Tensor::qr_pivots`].

use super::batch::{stacked, Stack};
use super::triangular::transpose_into;
use super::vector::{axpy, dot, norm2};
use crate::error::Result;
use crate::simd::{multiversion, Mode};
use crate::tensor::Tensor;

/// Householder QR of the `m x n` matrix held column by column in `w`
/// (column `j` is `w[j*m..(j+1)*m]`, contiguous, which is what the
/// reflections touch). Afterwards `R` is in the upper triangle of the first
/// `k = min(m, n)` rows and the reflector `H_j = I - tau[j] v v^T` has
/// `v = (1, w[j*m+j+1..(j+1)*m])` below the diagonal of column `j`; `A = Q R`
/// with `Q = H_0 H_1 ... H_{k-1}`.
///
/// LAPACK's conventions (`dlarfg`), so that `R` matches NumPy's: `R[j][j]`
/// gets the opposite sign of the pivot column's diagonal entry, and a column
/// that is already zero below the diagonal is left alone (`tau = 0`).
#[inline(always)]
fn householder_impl<M: Mode>(w: &mut [f64], m: usize, n: usize, tau: &mut [f64]) {
    for j in 0..m.min(n) {
        if crate::interrupt::requested() {
            return;
        }
        reflect_column::<M>(w, m, j, tau);
    }
}

/// Step `j` of [`householder`]: the reflector that zeroes column `j` below
/// the diagonal (into `tau[j]` and the column), applied to the columns after it.
#[inline(always)]
fn reflect_column<M: Mode>(w: &mut [f64], m: usize, j: usize, tau: &mut [f64]) {
    let (head, tail) = w.split_at_mut((j + 1) * m);
    let x = &mut head[j * m + j..];
    let alpha = x[0];
    let xnorm = norm2::<M>(&x[1..]);
    if xnorm == 0.0 {
        tau[j] = 0.0;
        return;
    }
    let beta = -alpha.hypot(xnorm).copysign(alpha);
    tau[j] = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    x[1..].iter_mut().for_each(|v| *v *= scale);
    x[0] = beta;
    let v = &x[1..];
    for col in tail.chunks_exact_mut(m) {
        let c = &mut col[j..];
        let s = tau[j] * (c[0] + dot::<M>(v, &c[1..]));
        c[0] -= s;
        axpy::<M>(-s, v, &mut c[1..]);
    }
}

/// [`householder`] with column pivoting (LAPACK `dgeqp3`, as its unblocked
/// `dlaqp2`): before step `j` the remaining column whose part below row `j`
/// has the largest norm (the first of equal ones) is swapped into place, and
/// `jpvt[j]` gets its original index, so that `A[:, jpvt] = Q R` with
/// `|R[j][j]|` non-increasing.
///
/// The partial norms are downdated after each step (`|x|^2 - r^2`, cheap)
/// and recomputed from the column once cancellation has eaten most of their
/// accuracy (LAPACK's test against `sqrt(eps)`): a downdated norm that is
/// mostly rounding would pick the wrong pivot. The reflections themselves
/// are [`householder`]'s, so `Q` and `R` are bit for bit those of the
/// unpivoted factorisation of the permuted matrix.
#[inline(always)]
fn householder_pivoted_impl<M: Mode>(w: &mut [f64], m: usize, n: usize, tau: &mut [f64], jpvt: &mut [usize]) {
    let tol3z = f64::EPSILON.sqrt();
    let mut vn1: Vec<f64> = (0..n).map(|j| norm2::<M>(&w[j * m..(j + 1) * m])).collect();
    let mut vn2 = vn1.clone();
    for (j, p) in jpvt.iter_mut().enumerate() {
        *p = j;
    }
    for i in 0..m.min(n) {
        if crate::interrupt::requested() {
            return;
        }
        // `>`: the first of equal norms wins (LAPACK's `idamax`); NaNs never do.
        let mut pvt = i;
        for j in i + 1..n {
            if vn1[j] > vn1[pvt] {
                pvt = j;
            }
        }
        if pvt != i {
            let (head, tail) = w.split_at_mut(pvt * m);
            head[i * m..(i + 1) * m].swap_with_slice(&mut tail[..m]);
            jpvt.swap(i, pvt);
            vn1[pvt] = vn1[i];
            vn2[pvt] = vn2[i];
        }
        reflect_column::<M>(w, m, i, tau);
        for j in i + 1..n {
            if vn1[j] == 0.0 {
                continue;
            }
            let ratio = w[j * m + i].abs() / vn1[j];
            let temp = (1.0 - ratio * ratio).max(0.0);
            let lost = temp * (vn1[j] / vn2[j]).powi(2);
            if lost <= tol3z {
                // Recomputed: the norm of the part below row `i`.
                vn1[j] = if i + 1 < m {
                    norm2::<M>(&w[j * m + i + 1..(j + 1) * m])
                } else {
                    0.0
                };
                vn2[j] = vn1[j];
            } else {
                vn1[j] *= temp.sqrt();
            }
        }
    }
}

/// The first `cols` columns of `Q = H_0 ... H_{k-1}` from [`householder`]'s
/// output `w` (`m` rows), column by column into `q` (`m * cols` elements).
/// Reflectors are applied last to first, so that `H_j` only meets columns
/// `j..` (the earlier ones are still unit vectors it leaves alone).
#[inline(always)]
fn form_q_impl<M: Mode>(w: &[f64], m: usize, k: usize, tau: &[f64], q: &mut [f64], cols: usize) {
    q.iter_mut().for_each(|x| *x = 0.0);
    for c in 0..cols.min(m) {
        q[c * m + c] = 1.0;
    }
    for j in (0..k).rev() {
        if tau[j] == 0.0 {
            continue;
        }
        let v = &w[j * m + j + 1..(j + 1) * m];
        for col in q.chunks_exact_mut(m).skip(j) {
            let c = &mut col[j..];
            let s = tau[j] * (c[0] + dot::<M>(v, &c[1..]));
            c[0] -= s;
            axpy::<M>(-s, v, &mut c[1..]);
        }
    }
}

multiversion!(
    /// [`householder_impl`] compiled for the running CPU.
    pub(crate) fn householder(w: &mut [f64], m: usize, n: usize, tau: &mut [f64]) => householder_impl
);

multiversion!(
    /// [`householder_pivoted_impl`] compiled for the running CPU.
    fn householder_pivoted(w: &mut [f64], m: usize, n: usize, tau: &mut [f64], jpvt: &mut [usize]) => householder_pivoted_impl
);

multiversion!(
    /// [`form_q_impl`] compiled for the running CPU.
    pub(crate) fn form_q(w: &[f64], m: usize, k: usize, tau: &[f64], q: &mut [f64], cols: usize) => form_q_impl
);

impl Tensor {
    /// The QR factorisation `a = q @ r` of each `m x n` matrix in the last two
    /// axes, by Householder reflections (NumPy `linalg.qr`, with LAPACK's
    /// signs). Reduced (`complete == false`): `q` is `(..., m, k)` with
    /// orthonormal columns and `r` `(..., k, n)` upper triangular, `k =
    /// min(m, n)`; complete: `q` `(..., m, m)` orthogonal, `r` `(..., m, n)`.
    pub fn qr(&self, complete: bool) -> Result<(Tensor, Tensor)> {
        let a = Stack::new(self, "qr", false)?;
        let (m, n) = (a.rows, a.cols);
        let k = m.min(n);
        let (qc, rr) = if complete { (m, m) } else { (k, k) };
        let q_shape = stacked(&a.batch, &[m, qc]);
        let r_shape = stacked(&a.batch, &[rr, n]);
        let mut q = crate::buffer::alloc_filled(&q_shape, 0.0)?;
        let mut r = crate::buffer::alloc_filled(&r_shape, 0.0)?;
        if q.is_empty() && r.is_empty() {
            // Nothing to compute (and the batch may be too large to walk).
            return Ok((Tensor::from_parts(q, q_shape), Tensor::from_parts(r, r_shape)));
        }
        let mut w = super::batch::scratch(m * n)?;
        let mut qw = super::batch::scratch(m * qc)?;
        let mut tau = vec![0.0; k];
        for i in 0..a.count() {
            if crate::interrupt::requested() {
                break;
            }
            transpose_into(a.matrix(i), m, n, &mut w);
            householder(&mut w, m, n, &mut tau);
            let rm = &mut r[i * rr * n..(i + 1) * rr * n];
            for row in 0..k {
                for col in row..n {
                    rm[row * n + col] = w[col * m + row];
                }
            }
            form_q(&w, m, k, &tau, &mut qw, qc);
            transpose_into(&qw, qc, m, &mut q[i * m * qc..(i + 1) * m * qc]);
        }
        Ok((Tensor::from_parts(q, q_shape), Tensor::from_parts(r, r_shape)))
    }

    /// The column pivots of the QR factorisation with column pivoting of
    /// each `m x n` matrix in the last two axes (LAPACK `dgeqp3`, SciPy
    /// `qr(a, pivoting=True)`): shape `(..., n)`, integral floats, such that
    /// `a[..., :, p] = q @ r` with `|diag(r)|` non-increasing. `q` and `r`
    /// are then [`qr`](Self::qr) of the permuted matrix, exactly.
    pub fn qr_pivots(&self) -> Result<Tensor> {
        let a = Stack::new(self, "qr", false)?;
        let (m, n) = (a.rows, a.cols);
        let p_shape = stacked(&a.batch, &[n]);
        let mut p = crate::buffer::alloc_filled(&p_shape, 0.0)?;
        if p.is_empty() {
            return Ok(Tensor::from_parts(p, p_shape));
        }
        let mut w = super::batch::scratch(m * n)?;
        let mut tau = vec![0.0; m.min(n)];
        let mut jpvt = vec![0usize; n];
        for i in 0..a.count() {
            if crate::interrupt::requested() {
                break;
            }
            transpose_into(a.matrix(i), m, n, &mut w);
            householder_pivoted(&mut w, m, n, &mut tau, &mut jpvt);
            for (d, &j) in p[i * n..(i + 1) * n].iter_mut().zip(&jpvt) {
                *d = j as f64;
            }
        }
        Ok(Tensor::from_parts(p, p_shape))
    }
}
