//! The adjugate (classical adjoint) of square matrices, defined for every
//! matrix, singular or not: the derivative of `det` is `tr(adj(a) da)`.

use super::batch::{stacked, Stack};
use crate::error::Result;
use crate::tensor::Tensor;

/// Makes the columns of each row-major `n x n` matrix in `q` orthonormal,
/// in order (modified Gram-Schmidt, twice), keeping the direction of every
/// column that is not mostly lost and replacing one that is by a unit
/// vector orthogonal to the ones before.
///
/// Why: the SVD's left vectors of tiny nonzero singular values come from
/// `a v / s` and can be far from orthogonal to the others (a rank-one
/// matrix's nominal second vector is nearly its first), while the formulas
/// here rest on `u` being orthogonal. Columns come in descending singular
/// value order, so the accurate ones are kept and only the noise replaced
/// (which moves `u diag(s) vt` by at most the tiny singular value).
fn orthonormalize_columns(q: &mut [f64], n: usize) {
    let mut col = vec![0.0; n];
    for c in 0..n {
        let (mut tries, mut from_basis) = (0, None);
        loop {
            match from_basis {
                None => (0..n).for_each(|r| col[r] = q[r * n + c]),
                Some(e) => (0..n).for_each(|r| col[r] = if r == e { 1.0 } else { 0.0 }),
            }
            let before = col.iter().map(|x| x * x).sum::<f64>().sqrt();
            for _ in 0..2 {
                for p in 0..c {
                    let d: f64 = (0..n).map(|r| q[r * n + p] * col[r]).sum();
                    (0..n).for_each(|r| col[r] -= d * q[r * n + p]);
                }
            }
            let after = col.iter().map(|x| x * x).sum::<f64>().sqrt();
            if after > 0.5 * before && after > 0.0 {
                (0..n).for_each(|r| q[r * n + c] = col[r] / after);
                break;
            }
            // Mostly in the span of the columns before: try the next unit vector.
            from_basis = Some(tries);
            tries += 1;
            if tries > n {
                // Unreachable for n > c: some unit vector keeps half its norm
                // outside a c-dimensional span. Keep the column as it is.
                break;
            }
        }
    }
}

/// `(u, s, vt, det(u) det(vt))` of each square matrix of `a`, `u` and `vt`
/// made orthogonal to working precision (see [`orthonormalize_columns`]).
type Svd = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn orthogonal_svd(a: &Tensor, n: usize) -> Result<Svd> {
    let (u, s, vt) = a.svd(true)?;
    let (mut u, s, vt) = (u.to_vec(), s.to_vec(), vt.to_vec());
    // vt's rows are v's columns: orthonormalize the columns of v = vtᵀ.
    let mut v = vec![0.0; vt.len()];
    for (ub, (vb, vtb)) in u
        .chunks_exact_mut(n * n)
        .zip(v.chunks_exact_mut(n * n).zip(vt.chunks_exact(n * n)))
    {
        orthonormalize_columns(ub, n);
        for i in 0..n {
            for j in 0..n {
                vb[i * n + j] = vtb[j * n + i];
            }
        }
        orthonormalize_columns(vb, n);
    }
    let shape = a.shape().to_vec();
    let du = Tensor::from_parts(u.clone(), shape.clone()).det()?.to_vec();
    let dv = Tensor::from_parts(v.clone(), shape).det()?.to_vec();
    let sign = du.iter().zip(&dv).map(|(x, y)| x * y).collect();
    // Back to vt layout: vt[k][i] = v[i][k].
    let mut vt2 = vec![0.0; v.len()];
    for (vb, vtb) in v.chunks_exact(n * n).zip(vt2.chunks_exact_mut(n * n)) {
        for i in 0..n {
            for j in 0..n {
                vtb[j * n + i] = vb[i * n + j];
            }
        }
    }
    Ok((u, s, vt2, sign))
}

impl Tensor {
    /// The adjugate `adj(a)` of each square matrix in the last two axes
    /// (`adj(a) a = a adj(a) = det(a) I`; `det(a) inv(a)` when invertible).
    ///
    /// Computed from the SVD `a = u diag(s) vt` as
    /// `det(u) det(vt) vtᵀ diag(c) uᵀ` with `c_i = prod_{j != i} s_j`: no
    /// division, so it is exact in the limit for singular matrices too (of
    /// corank 1 it is the rank-one product of the null vectors, of corank 2
    /// or more it is zero). The `1 x 1` adjugate is `[[1]]`, the empty one empty.
    pub fn adjugate(&self) -> Result<Tensor> {
        let a = Stack::new(self, "adjugate", true)?;
        let n = a.rows;
        let mut out = crate::buffer::alloc_filled(self.shape(), 0.0)?;
        if a.work() == 0 {
            return Ok(Tensor::from_parts(out, self.shape().to_vec()));
        }
        let (u, s, vt, sign) = orthogonal_svd(self, n)?;
        let mut c = vec![0.0; n];
        for b in 0..a.work() {
            let (ub, sb, vb) = (
                &u[b * n * n..(b + 1) * n * n],
                &s[b * n..(b + 1) * n],
                &vt[b * n * n..(b + 1) * n * n],
            );
            for (i, ci) in c.iter_mut().enumerate() {
                *ci = (0..n).filter(|&j| j != i).map(|j| sb[j]).product::<f64>() * sign[b];
            }
            let o = &mut out[b * n * n..(b + 1) * n * n];
            // adj[i][j] = sum_k vt[k][i] c[k] u[j][k].
            for i in 0..n {
                for j in 0..n {
                    o[i * n + j] = (0..n).map(|k| vb[k * n + i] * c[k] * ub[j * n + k]).sum();
                }
            }
        }
        Ok(Tensor::from_parts(out, stacked(&a.batch, &[n, n])))
    }
}

/// `x[i][j]` of the row-major `n x n` matrix `x`.
#[inline]
fn at(x: &[f64], n: usize, i: usize, j: usize) -> f64 {
    x[i * n + j]
}

impl Tensor {
    /// The derivative of the adjugate at each matrix of `self` in the
    /// direction of the matching matrix of `t` (same shape): `d adj(a)[t]`,
    /// exact at singular matrices too.
    ///
    /// With `a = u diag(s) vt` and orthogonal `u`, `v = vtᵀ`,
    /// `adj(a + t) = det(u) det(v) v adj(diag(s) + e) uᵀ` exactly, where
    /// `e = uᵀ t v`; the derivative of the adjugate at a diagonal matrix is
    /// `-e_ij prod_{k != i, j} s_k` off the diagonal and
    /// `sum_{l != i} e_ll prod_{k != i, l} s_k` on it.
    pub fn adjugate_jvp(&self, t: &Tensor) -> Result<Tensor> {
        let a = Stack::new(self, "adjugate", true)?;
        let n = a.rows;
        if t.shape() != self.shape() {
            return Err(crate::error::TensorError::Invalid(format!(
                "`adjugate`: the tangent of shape {} does not match the matrices of shape {}",
                crate::format_shape(t.shape()),
                crate::format_shape(self.shape())
            )));
        }
        let mut out = crate::buffer::alloc_filled(self.shape(), 0.0)?;
        if a.work() == 0 {
            return Ok(Tensor::from_parts(out, self.shape().to_vec()));
        }
        let (u, s, vt, signs) = orthogonal_svd(self, n)?;
        let tv = t.to_vec();
        let (mut e, mut d, mut p2, mut w) = (vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]);
        for b in 0..a.work() {
            let r = b * n * n..(b + 1) * n * n;
            let (ub, vb, tb) = (&u[r.clone()], &vt[r.clone()], &tv[r.clone()]);
            let sb = &s[b * n..(b + 1) * n];
            for i in 0..n {
                for j in 0..n {
                    p2[i * n + j] = (0..n).filter(|&k| k != i && k != j).map(|k| sb[k]).product();
                }
            }
            // e = uᵀ t v, with v[k][j] = vt[j][k].
            for p in 0..n {
                for j in 0..n {
                    w[p * n + j] = (0..n).map(|q| at(tb, n, p, q) * at(vb, n, j, q)).sum();
                }
            }
            for i in 0..n {
                for j in 0..n {
                    e[i * n + j] = (0..n).map(|p| at(ub, n, p, i) * at(&w, n, p, j)).sum();
                }
            }
            for i in 0..n {
                for j in 0..n {
                    d[i * n + j] = if i == j {
                        (0..n)
                            .filter(|&l| l != i)
                            .map(|l| at(&p2, n, i, l) * at(&e, n, l, l))
                            .sum()
                    } else {
                        -at(&p2, n, i, j) * at(&e, n, i, j)
                    };
                }
            }
            // out = det(u) det(v) v d uᵀ.
            let sign = signs[b];
            let o = &mut out[r];
            for p in 0..n {
                for j in 0..n {
                    w[p * n + j] = (0..n).map(|q| at(&d, n, p, q) * at(ub, n, j, q)).sum();
                }
            }
            for i in 0..n {
                for j in 0..n {
                    o[i * n + j] = sign * (0..n).map(|p| at(vb, n, p, i) * at(&w, n, p, j)).sum::<f64>();
                }
            }
        }
        Ok(Tensor::from_parts(out, stacked(&a.batch, &[n, n])))
    }
}
