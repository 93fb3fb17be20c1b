//! The adjugate (classical adjoint) of square matrices, defined for every
//! matrix, singular or not: the derivative of `det` is `tr(adj(a) da)`.

use super::batch::{stacked, Stack};
use crate::error::Result;
use crate::tensor::Tensor;

/// `(u, s, vt, det(u) det(vt))` of each square matrix of `a`: the formulas
/// below rest on `u` and `vt` being orthogonal, which the SVD guarantees to
/// working precision, also for rank-deficient matrices (whose vectors of
/// zero singular values are an orthonormal completion).
type Svd = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn orthogonal_svd(a: &Tensor) -> Result<Svd> {
    let (u, s, vt) = a.svd(true)?;
    let du = u.det()?.to_vec();
    let dv = vt.det()?.to_vec();
    let sign = du.iter().zip(&dv).map(|(x, y)| x * y).collect();
    Ok((u.to_vec(), s.to_vec(), vt.to_vec(), sign))
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
        let (u, s, vt, sign) = orthogonal_svd(self)?;
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
        let (u, s, vt, signs) = orthogonal_svd(self)?;
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
