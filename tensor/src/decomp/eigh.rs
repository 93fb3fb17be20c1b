//! Symmetric eigen-decomposition: Householder tridiagonalisation followed
//! by implicit QR iterations with Wilkinson shifts. [`Tensor::eigh`],
//! [`Tensor::eigvalsh`].

use super::batch::{stacked, Stack};
use super::vector::{axpy, dot, needs_flip, norm2, pow2_scale, rotate};
use crate::error::Result;
use crate::simd::{multiversion, Mode};
use crate::tensor::Tensor;

const EPS: f64 = f64::EPSILON;

/// Iterations on one block after which the deflation test relaxes from
/// relative to absolute (`|e| <= eps * ||T||`, still backward stable), and
/// after which an off-diagonal element is dropped regardless. Wilkinson's
/// shift converges in two or three iterations per eigenvalue, so these are
/// guards against stagnation at the rounding level, not limits in practice.
const RELAX_AFTER: usize = 30;
const GIVE_UP_AFTER: usize = 100;

/// Entries of magnitude outside these bounds are scaled (by a power of two,
/// exactly) towards 1 before the iteration, so that no square overflows or
/// underflows.
const SCALE_LO: f64 = 1e-100;
const SCALE_HI: f64 = 1e100;

/// Reduces the symmetric row-major `n x n` matrix `a` (both triangles set)
/// to tridiagonal form `T = Q^T A Q` with diagonal `d` and off-diagonal `e`
/// (`e[i]` couples `i` and `i + 1`). The reflectors `H_k = I - tau[k] v v^T`
/// (acting on indices `k+1..`) are left in `a`: `v` in row `k` from column
/// `k + 1` on, with `v[0] = 1`; `Q = H_0 H_1 ... H_{n-3}`.
#[inline(always)]
fn tridiagonalise_impl<M: Mode>(a: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64], tau: &mut [f64], p: &mut [f64]) {
    for k in 0..n.saturating_sub(2) {
        if crate::interrupt::requested() {
            return;
        }
        let (head, rest) = a.split_at_mut((k + 1) * n);
        d[k] = head[k * n + k];
        let x = &mut head[k * n + k + 1..];
        let m = x.len();
        let alpha = x[0];
        let xnorm = norm2::<M>(&x[1..]);
        if xnorm == 0.0 {
            // Already zero below the subdiagonal: nothing to annihilate.
            tau[k] = 0.0;
            e[k] = alpha;
            continue;
        }
        let beta = -alpha.hypot(xnorm).copysign(alpha);
        let t = (beta - alpha) / beta;
        tau[k] = t;
        e[k] = beta;
        let scale = 1.0 / (alpha - beta);
        x[1..].iter_mut().for_each(|v| *v *= scale);
        x[0] = 1.0;
        let v = &*x;
        // A22 <- H A22 H = A22 - v w^T - w v^T with p = tau A22 v and
        // w = p - (tau/2)(p.v) v (Golub & Van Loan 8.3.1).
        let p = &mut p[..m];
        for (i, pi) in p.iter_mut().enumerate() {
            let row = &rest[i * n + k + 1..(i + 1) * n];
            *pi = t * dot::<M>(row, v);
        }
        let kk = 0.5 * t * dot::<M>(p, v);
        axpy::<M>(-kk, v, p);
        for i in 0..m {
            let row = &mut rest[i * n + k + 1..(i + 1) * n];
            axpy::<M>(-v[i], p, row);
            axpy::<M>(-p[i], v, row);
        }
    }
    if n >= 2 {
        d[n - 2] = a[(n - 2) * n + n - 2];
        e[n - 2] = a[(n - 2) * n + n - 1];
    }
    if n >= 1 {
        d[n - 1] = a[n * n - 1];
    }
}

/// Forms `Q^T` (row-major, so that its rows are `Q`'s columns) from the
/// reflectors [`tridiagonalise`] left in `a`. `Q` is accumulated last
/// reflector first, when `H_k` only meets the trailing block `k+1..` (the
/// rows and columns before it are still those of the identity).
/// `q` is scratch space of `n * n` elements (it ends holding `Q`).
#[inline(always)]
fn form_qt_impl<M: Mode>(a: &[f64], n: usize, tau: &[f64], qt: &mut [f64], q: &mut [f64]) {
    q.iter_mut().for_each(|x| *x = 0.0);
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    let mut acc = vec![0.0; n];
    for k in (0..n.saturating_sub(2)).rev() {
        if tau[k] == 0.0 {
            continue;
        }
        let v = &a[k * n + k + 1..(k + 1) * n];
        // Q_sub <- Q_sub - tau v (v^T Q_sub), row by row.
        let acc = &mut acc[k + 1..];
        acc.iter_mut().for_each(|x| *x = 0.0);
        for (i, &vi) in v.iter().enumerate() {
            axpy::<M>(vi, &q[(k + 1 + i) * n + k + 1..(k + 2 + i) * n], acc);
        }
        for (i, &vi) in v.iter().enumerate() {
            axpy::<M>(-tau[k] * vi, acc, &mut q[(k + 1 + i) * n + k + 1..(k + 2 + i) * n]);
        }
    }
    super::triangular::transpose_into(q, n, n, qt);
}

/// Diagonalises the symmetric tridiagonal matrix (`d`, `e`) by implicit QR
/// steps with Wilkinson shifts (Golub & Van Loan 8.3.2), leaving the
/// eigenvalues (unsorted) in `d`. Every rotation `T <- R T R^T` of rows `k`
/// and `k + 1` is also applied to rows `k`, `k + 1` of `vt` (when given),
/// which therefore ends with the eigenvectors as rows.
#[inline(always)]
fn tridiagonal_qr_impl<M: Mode>(d: &mut [f64], e: &mut [f64], vt: Option<&mut [f64]>, n: usize) {
    let mut vt = vt;
    let norm = (0..n).fold(0.0f64, |m, i| {
        let off = if i + 1 < n { e[i].abs() } else { 0.0 };
        m.max(d[i].abs() + off)
    });
    let mut hi = n.saturating_sub(1);
    let mut iters = 0;
    while hi > 0 {
        if crate::interrupt::requested() {
            return;
        }
        // Drop negligible couplings; find the unreduced block [l, hi].
        let mut l = hi;
        while l > 0 {
            let off = e[l - 1].abs();
            let small = off <= EPS * (d[l - 1].abs() + d[l].abs())
                || (iters > RELAX_AFTER && off <= EPS * norm)
                || (iters > GIVE_UP_AFTER && l == hi);
            if small {
                e[l - 1] = 0.0;
                break;
            }
            l -= 1;
        }
        if l == hi {
            // d[hi] has converged.
            hi -= 1;
            iters = 0;
            continue;
        }
        iters += 1;
        // Wilkinson shift: the eigenvalue of the trailing 2x2 block nearer
        // to its last diagonal entry.
        let (p, b, q) = (d[hi - 1], e[hi - 1], d[hi]);
        let delta = 0.5 * (p - q);
        let den = delta + b.hypot(delta).copysign(if delta == 0.0 { 1.0 } else { delta });
        let mu = q - b * (b / den);
        let (mut x, mut z) = (d[l] - mu, e[l]);
        for k in l..hi {
            // R = [c s; -s c] sends (x, z) to (r, 0).
            let r = x.hypot(z);
            let (c, s) = if r == 0.0 { (1.0, 0.0) } else { (x / r, z / r) };
            if k > l {
                e[k - 1] = r;
            }
            let (a, b, dd) = (d[k], e[k], d[k + 1]);
            let (cc, ss, cs) = (c * c, s * s, c * s);
            d[k] = cc * a + 2.0 * cs * b + ss * dd;
            e[k] = cs * (dd - a) + (cc - ss) * b;
            d[k + 1] = ss * a - 2.0 * cs * b + cc * dd;
            if k + 1 < hi {
                // The rotation pushes the bulge one step down.
                x = e[k];
                z = s * e[k + 1];
                e[k + 1] *= c;
            }
            if let Some(vt) = vt.as_deref_mut() {
                let (top, bottom) = vt.split_at_mut((k + 1) * n);
                rotate::<M>(&mut top[k * n..], &mut bottom[..n], c, -s);
            }
        }
    }
}

multiversion!(
    /// [`tridiagonalise_impl`] compiled for the running CPU.
    fn tridiagonalise(a: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64], tau: &mut [f64], p: &mut [f64]) => tridiagonalise_impl
);

multiversion!(
    /// [`form_qt_impl`] compiled for the running CPU.
    fn form_qt(a: &[f64], n: usize, tau: &[f64], qt: &mut [f64], q: &mut [f64]) => form_qt_impl
);

multiversion!(
    /// [`tridiagonal_qr_impl`] compiled for the running CPU.
    fn tridiagonal_qr(d: &mut [f64], e: &mut [f64], vt: Option<&mut [f64]>, n: usize) => tridiagonal_qr_impl
);

/// Eigenvalues (ascending, into `w`) and, if `v` is given, eigenvectors
/// (row-major `n x n`, column `j` for `w[j]`, signed so that each one's
/// largest entry is positive) of the symmetric `n x n` row-major matrix `a`,
/// of which only the lower triangle is read. `a` is destroyed. Non-finite
/// entries give all-NaN results.
pub(crate) fn eigh_kernel(a: &mut [f64], n: usize, w: &mut [f64], v: Option<&mut [f64]>) -> Result<()> {
    for i in 0..n {
        for j in i + 1..n {
            a[i * n + j] = a[j * n + i];
        }
    }
    if a.iter().any(|x| !x.is_finite()) {
        w.iter_mut().for_each(|x| *x = f64::NAN);
        if let Some(v) = v {
            v.iter_mut().for_each(|x| *x = f64::NAN);
        }
        return Ok(());
    }
    let big = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let scale = pow2_scale(big, SCALE_LO, SCALE_HI);
    if scale != 1.0 {
        a.iter_mut().for_each(|x| *x *= scale);
    }
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    let mut tau = vec![0.0; n];
    let mut p = vec![0.0; n];
    tridiagonalise(a, n, &mut d, &mut e, &mut tau, &mut p);
    let mut vt = match v {
        Some(_) => {
            let mut qt = super::batch::scratch(n * n)?;
            let mut work = super::batch::scratch(n * n)?;
            form_qt(a, n, &tau, &mut qt, &mut work);
            Some(qt)
        }
        None => None,
    };
    tridiagonal_qr(&mut d, &mut e, vt.as_deref_mut(), n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    for (wj, &i) in w.iter_mut().zip(&order) {
        *wj = d[i] / scale;
    }
    if let (Some(v), Some(vt)) = (v, vt.as_mut()) {
        for (j, &i) in order.iter().enumerate() {
            let row = &mut vt[i * n..(i + 1) * n];
            let sign = if needs_flip(row) { -1.0 } else { 1.0 };
            for (r, &x) in row.iter().enumerate() {
                v[r * n + j] = sign * x;
            }
        }
    }
    Ok(())
}

impl Tensor {
    /// Eigenvalues and eigenvectors of each real symmetric matrix in the last
    /// two axes (NumPy `linalg.eigh`, `UPLO='L'`: only the lower triangle is
    /// read). Returns `(w, v)`: `w` `(..., n)` ascending, `v` `(..., n, n)`
    /// with the unit eigenvector of `w[j]` in column `j`, `a v = v diag(w)`.
    ///
    /// Sign convention: each eigenvector's entry of largest magnitude is
    /// positive (the first of near-equal ones). Vectors of a repeated
    /// eigenvalue are some orthonormal basis of its eigenspace.
    /// Householder tridiagonalisation + implicit QR with Wilkinson shifts;
    /// backward stable (errors of order `eps * ||a||`). Matrices with NaN or
    /// infinite entries give NaNs.
    pub fn eigh(&self) -> Result<(Tensor, Tensor)> {
        let mut a = Stack::new(self, "eigh", true)?;
        let n = a.rows;
        let w_shape = stacked(&a.batch, &[n]);
        let mut w = crate::buffer::alloc_filled(&w_shape, 0.0)?;
        let mut v = crate::buffer::alloc_filled(self.shape(), 0.0)?;
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            eigh_kernel(
                a.matrix_mut(i),
                n,
                &mut w[i * n..(i + 1) * n],
                Some(&mut v[i * n * n..(i + 1) * n * n]),
            )?;
        }
        Ok((
            Tensor::from_parts(w, w_shape),
            Tensor::from_parts(v, self.shape().to_vec()),
        ))
    }

    /// The eigenvalues of each symmetric matrix in the last two axes,
    /// ascending, shape `(..., n)` (NumPy `linalg.eigvalsh`; the lower
    /// triangle is read). Cheaper than [`eigh`](Self::eigh): no vectors.
    pub fn eigvalsh(&self) -> Result<Tensor> {
        let mut a = Stack::new(self, "eigvalsh", true)?;
        let n = a.rows;
        let w_shape = stacked(&a.batch, &[n]);
        let mut w = crate::buffer::alloc_filled(&w_shape, 0.0)?;
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            eigh_kernel(a.matrix_mut(i), n, &mut w[i * n..(i + 1) * n], None)?;
        }
        Ok(Tensor::from_parts(w, w_shape))
    }
}
