//! Singular value decomposition by one-sided Jacobi rotations (Hestenes),
//! after a QR step for tall matrices. [`Tensor::svd`], [`Tensor::svdvals`].

use super::batch::{stacked, Stack};
use super::qr::{form_q, householder};
use super::triangular::transpose_into;
use super::vector::{axpy, dot, needs_flip, norm2, pow2_scale, rotate};
use crate::error::Result;
use crate::simd::{multiversion, Mode, NoFma};
use crate::tensor::Tensor;

const EPS: f64 = f64::EPSILON;

/// Sweeps after which Jacobi stops even if some pair is still above the
/// tolerance (it converges quadratically; 6-12 sweeps are typical, and a
/// pair can only stay above the tolerance through rounding noise).
const MAX_SWEEPS: usize = 60;

/// As in `eigh`: magnitudes outside these bounds are scaled towards 1 by an
/// exact power of two first, so that squared column norms stay finite and normal.
const SCALE_LO: f64 = 1e-100;
const SCALE_HI: f64 = 1e100;

/// Two distinct columns `p < q` of the column-major `g` (columns of length `r`).
fn column_pair(g: &mut [f64], r: usize, p: usize, q: usize) -> (&mut [f64], &mut [f64]) {
    let (head, tail) = g.split_at_mut(q * r);
    (&mut head[p * r..(p + 1) * r], &mut tail[..r])
}

/// Orthonormal vectors completing the `c` orthonormal columns `cols`
/// (column-major, length `r`) towards a basis: the first `extra` columns
/// (`c + extra <= r`) after the first `c` of the complete `Q` of their QR
/// factorisation, written column-major into `out`.
fn complement(cols: &[f64], r: usize, c: usize, extra: usize, out: &mut [f64]) -> Result<()> {
    let mut w = super::batch::scratch(r * c)?;
    w.copy_from_slice(&cols[..r * c]);
    let mut tau = vec![0.0; c];
    householder(&mut w, r, c, &mut tau);
    let mut q = super::batch::scratch(r * r)?;
    form_q(&w, r, c, &tau, &mut q, r);
    out[..r * extra].copy_from_slice(&q[c * r..(c + extra) * r]);
    Ok(())
}

/// One-sided Jacobi on the column-major `r x n` matrix `g` (`r >= n`):
/// rotates pairs of columns until all are orthogonal to working precision,
/// accumulating the rotations in `v` (column-major `n x n`) if given. Then
/// `s` gets the column norms in descending order, and with vectors `u`
/// (column-major `r x n`) the normalised columns and `v` the matching
/// columns. Columns whose norm is zero or at rounding level next to the
/// largest (at most `dim * eps * s_max`, NumPy's rank cut, `dim` the larger
/// side of the whole matrix) count as zero: their `u` columns are a
/// completion to an orthonormal set.
#[inline(always)]
fn jacobi_impl<M: Mode>(
    g: &mut [f64],
    r: usize,
    n: usize,
    dim: usize,
    s: &mut [f64],
    vectors: Option<(&mut [f64], &mut [f64])>,
) -> Result<()> {
    let mut vw = match vectors {
        Some(_) => {
            let mut v = super::batch::scratch(n * n)?;
            for j in 0..n {
                v[j * n + j] = 1.0;
            }
            Some(v)
        }
        None => None,
    };
    let tol = EPS * (r as f64).sqrt().max(1.0);
    let mut nrm = vec![0.0; n];
    for _ in 0..MAX_SWEEPS {
        if crate::interrupt::requested() {
            break;
        }
        // Squared column norms, recomputed every sweep so that the cheap
        // updates below cannot drift.
        for (j, v) in nrm.iter_mut().enumerate() {
            let c = &g[j * r..(j + 1) * r];
            *v = dot::<M>(c, c);
        }
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (alpha, beta) = (nrm[p], nrm[q]);
                if alpha == 0.0 || beta == 0.0 {
                    continue;
                }
                let (gp, gq) = column_pair(g, r, p, q);
                let gamma = dot::<M>(gp, gq);
                if gamma.abs() <= tol * alpha.sqrt() * beta.sqrt() {
                    continue;
                }
                rotated = true;
                // The rotation that makes the pair orthogonal, by the
                // smaller of the two angles (Rutishauser's formulas).
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = (1.0f64).copysign(zeta) / (zeta.abs() + zeta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let sn = c * t;
                rotate::<M>(gp, gq, c, sn);
                // The rotation moves t * gamma of squared norm from p to q
                // (exactly, in exact arithmetic). Where that cancels most of
                // a norm, the update would be mostly rounding: recompute.
                let (np, nq) = (alpha - t * gamma, beta + t * gamma);
                nrm[p] = if np > 0.01 * alpha { np } else { dot::<M>(gp, gp) };
                nrm[q] = if nq > 0.01 * beta { nq } else { dot::<M>(gq, gq) };
                if let Some(v) = vw.as_mut() {
                    let (vp, vq) = column_pair(v, n, p, q);
                    rotate::<M>(vp, vq, c, sn);
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let norms: Vec<f64> = (0..n).map(|j| norm2::<M>(&g[j * r..(j + 1) * r])).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| norms[j].total_cmp(&norms[i]));
    for (sj, &i) in s.iter_mut().zip(&order) {
        *sj = norms[i];
    }
    if let (Some((u, v)), Some(vw)) = (vectors, vw) {
        // What is left of a dependent column after the rotations is rounding
        // noise of the size of the largest column times eps: its direction is
        // not orthogonal to the others (the rotations could not resolve it),
        // so its normalisation would break the orthonormality of `u`. Those
        // columns, sorted last, are treated as zero and completed below; the
        // singular value is kept (it moves `u diag(s) vt` by at most itself).
        let cut = norms.iter().fold(0.0f64, |m, &x| m.max(x)) * EPS * dim.max(1) as f64;
        let mut nonzero = 0;
        for (j, &i) in order.iter().enumerate() {
            let col = &mut u[j * r..(j + 1) * r];
            if norms[i] > cut && nonzero == j {
                nonzero = j + 1;
                // Dividing (not multiplying by the reciprocal, which
                // overflows for a subnormal norm).
                for (d, &x) in col.iter_mut().zip(&g[i * r..(i + 1) * r]) {
                    *d = x / norms[i];
                }
            }
            v[j * n..(j + 1) * n].copy_from_slice(&vw[i * n..(i + 1) * n]);
        }
        if nonzero < n {
            let (done, rest) = u.split_at_mut(nonzero * r);
            complement(done, r, nonzero, n - nonzero, rest)?;
        }
    }
    Ok(())
}

multiversion!(
    /// [`jacobi_impl`] compiled for the running CPU.
    fn jacobi(g: &mut [f64], r: usize, n: usize, dim: usize, s: &mut [f64], vectors: Option<(&mut [f64], &mut [f64])>) -> Result<()> => jacobi_impl
);

/// Singular values (descending, into `s`, `min(m, n)` of them) and, if
/// `vectors` is given, the singular vectors of the row-major `m x n` matrix
/// `a`: `u` row-major `m x ku` and `vt` row-major `kv x n`, where `ku = kv
/// = min(m, n)` (reduced) or `ku = m`, `kv = n` (`full`). Every pair
/// `(u_j, v_j)` is signed so that `u_j`'s largest entry is positive.
/// Non-finite entries give all-NaN results.
pub(crate) fn svd_kernel(
    a: &[f64],
    m: usize,
    n: usize,
    s: &mut [f64],
    vectors: Option<(&mut [f64], &mut [f64])>,
    full: bool,
) -> Result<()> {
    if a.iter().any(|x| !x.is_finite()) {
        s.iter_mut().for_each(|x| *x = f64::NAN);
        if let Some((u, vt)) = vectors {
            u.iter_mut().chain(vt.iter_mut()).for_each(|x| *x = f64::NAN);
        }
        return Ok(());
    }
    // Work on the tall orientation: a^T when a is wide. Column-major storage
    // of the tall matrix is the row-major storage of its transpose.
    let wide = m < n;
    let (rows, cols) = if wide { (n, m) } else { (m, n) };
    let mut g = super::batch::scratch(rows * cols)?;
    if wide {
        g.copy_from_slice(a);
    } else {
        transpose_into(a, m, n, &mut g);
    }
    let big = g.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let scale = pow2_scale(big, SCALE_LO, SCALE_HI);
    if scale != 1.0 {
        g.iter_mut().for_each(|x| *x *= scale);
    }
    let k = cols;
    let Some((u_out, vt_out)) = vectors else {
        if rows > cols {
            // Only R matters: Jacobi on the small triangular factor.
            let mut tau = vec![0.0; k];
            householder(&mut g, rows, cols, &mut tau);
            let mut rc = upper_triangle(&g, rows, cols)?;
            jacobi(&mut rc, k, k, rows, s, None)?;
        } else {
            jacobi(&mut g, rows, cols, rows, s, None)?;
        }
        s.iter_mut().for_each(|x| *x /= scale);
        return Ok(());
    };
    // Left vectors of the tall matrix (column-major rows x ku) and right
    // vectors (column-major k x k).
    let ku = if full { rows } else { k };
    let mut ul = super::batch::scratch(rows * ku)?;
    let mut vr = super::batch::scratch(k * k)?;
    if rows > cols {
        let mut tau = vec![0.0; k];
        householder(&mut g, rows, cols, &mut tau);
        let mut rc = upper_triangle(&g, rows, cols)?;
        let mut ur = super::batch::scratch(k * k)?;
        jacobi(&mut rc, k, k, rows, s, Some((&mut ur, &mut vr)))?;
        let mut q = super::batch::scratch(rows * k)?;
        form_q(&g, rows, k, &tau, &mut q, k);
        // U = Q U_R, column by column.
        for j in 0..k {
            let col = &mut ul[j * rows..(j + 1) * rows];
            for l in 0..k {
                axpy::<NoFma>(ur[j * k + l], &q[l * rows..(l + 1) * rows], col);
            }
        }
    } else {
        jacobi(&mut g, rows, cols, rows, s, Some((&mut ul[..rows * k], &mut vr)))?;
    }
    if ku > k {
        let (done, rest) = ul.split_at_mut(rows * k);
        complement(done, rows, k, ku - k, rest)?;
    }
    s.iter_mut().for_each(|x| *x /= scale);
    // Sign convention on the final left vectors: those of `a` are `ul` when
    // tall and `vr` when wide.
    for j in 0..k {
        let left = if wide {
            &vr[j * k..(j + 1) * k]
        } else {
            &ul[j * rows..(j + 1) * rows]
        };
        if needs_flip(left) {
            ul[j * rows..(j + 1) * rows].iter_mut().for_each(|x| *x = -*x);
            vr[j * k..(j + 1) * k].iter_mut().for_each(|x| *x = -*x);
        }
    }
    if wide {
        // a = (U' S V'^T)^T = V' S U'^T: u = V' (m x m = k x k), vt = U'^T.
        transpose_into(&vr, k, k, u_out);
        vt_out.copy_from_slice(&ul);
    } else {
        transpose_into(&ul, ku, rows, u_out);
        vt_out.copy_from_slice(&vr);
    }
    Ok(())
}

/// The `cols x cols` upper triangle `R` of [`householder`]'s output
/// (column-major, `rows` per column), column-major.
fn upper_triangle(g: &[f64], rows: usize, cols: usize) -> Result<Vec<f64>> {
    let mut rc = super::batch::scratch(cols * cols)?;
    for j in 0..cols {
        rc[j * cols..j * cols + j + 1].copy_from_slice(&g[j * rows..j * rows + j + 1]);
    }
    Ok(rc)
}

impl Tensor {
    /// The singular value decomposition `a = u @ diag(s) @ vt` of each `m x n`
    /// matrix in the last two axes (NumPy `linalg.svd`). Reduced
    /// (`full_matrices == false`): `u` `(..., m, k)`, `s` `(..., k)`
    /// descending, `vt` `(..., k, n)`, `k = min(m, n)`; full: `u` `(..., m, m)`,
    /// `vt` `(..., n, n)`.
    ///
    /// Sign convention: each column of `u` has its entry of largest magnitude
    /// positive (the first of near-equal ones), the matching row of `vt`
    /// following. Singular vectors of zero or repeated singular values are
    /// some orthonormal completion. One-sided Jacobi (after Householder QR
    /// when tall): singular values accurate to a few `eps * s_max` (and
    /// small ones often far better), vectors orthonormal to working
    /// precision. NaN or infinite entries give NaNs.
    pub fn svd(&self, full_matrices: bool) -> Result<(Tensor, Tensor, Tensor)> {
        let a = Stack::new(self, "svd", false)?;
        let (m, n) = (a.rows, a.cols);
        let k = m.min(n);
        let (ku, kv) = if full_matrices { (m, n) } else { (k, k) };
        let (u_shape, s_shape, vt_shape) = (
            stacked(&a.batch, &[m, ku]),
            stacked(&a.batch, &[k]),
            stacked(&a.batch, &[kv, n]),
        );
        let mut u = crate::buffer::alloc_filled(&u_shape, 0.0)?;
        let mut s = crate::buffer::alloc_filled(&s_shape, 0.0)?;
        let mut vt = crate::buffer::alloc_filled(&vt_shape, 0.0)?;
        // Empty outputs need no work (and the batch may be too large to walk).
        let count = if u.is_empty() && s.is_empty() && vt.is_empty() {
            0
        } else {
            a.count()
        };
        for i in 0..count {
            if crate::interrupt::requested() {
                break;
            }
            svd_kernel(
                a.matrix(i),
                m,
                n,
                &mut s[i * k..(i + 1) * k],
                Some((
                    &mut u[i * m * ku..(i + 1) * m * ku],
                    &mut vt[i * kv * n..(i + 1) * kv * n],
                )),
                full_matrices,
            )?;
        }
        Ok((
            Tensor::from_parts(u, u_shape),
            Tensor::from_parts(s, s_shape),
            Tensor::from_parts(vt, vt_shape),
        ))
    }

    /// The singular values of each matrix in the last two axes, descending,
    /// shape `(..., min(m, n))` (NumPy `linalg.svd(a, compute_uv=False)`,
    /// `linalg.svdvals`). Cheaper than [`svd`](Self::svd): no vectors.
    pub fn svdvals(&self) -> Result<Tensor> {
        let a = Stack::new(self, "svdvals", false)?;
        let (m, n) = (a.rows, a.cols);
        let k = m.min(n);
        let s_shape = stacked(&a.batch, &[k]);
        let mut s = crate::buffer::alloc_filled(&s_shape, 0.0)?;
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            svd_kernel(a.matrix(i), m, n, &mut s[i * k..(i + 1) * k], None, false)?;
        }
        Ok(Tensor::from_parts(s, s_shape))
    }
}
