//! Least squares and the pseudo-inverse through the SVD: [`Tensor::lstsq`],
//! [`Tensor::pinv`].

use super::batch::{stacked, Stack};
use super::svd::svd_kernel;
use super::vector::axpy;
use crate::error::{Result, TensorError};
use crate::simd::NoFma;
use crate::tensor::Tensor;

/// The result of [`Tensor::lstsq`], NumPy's four values.
#[derive(Clone, Debug)]
pub struct Lstsq {
    /// The minimum-norm least-squares solution: shape `(n,)` for a 1-d `b`,
    /// `(n, k)` for an `(m, k)` one.
    pub solution: Tensor,
    /// Squared residual norm `||b - a x||^2` of each column of `b` (shape
    /// `(1,)` for a 1-d `b`, `(k,)` else) when `a` has full column rank and
    /// more rows than columns; otherwise empty, shape `(0,)` (NumPy's rule).
    pub residuals: Tensor,
    /// The effective rank of `a`: singular values above the cutoff.
    pub rank: usize,
    /// The singular values of `a`, descending, shape `(min(m, n),)`.
    pub singular_values: Tensor,
}

/// The relative cutoff for small singular values: `rcond` if given and
/// non-negative (a negative one means machine precision, as in LAPACK),
/// else `default`.
fn relative_cutoff(rcond: Option<f64>, default: f64) -> f64 {
    match rcond {
        Some(r) if r >= 0.0 => r,
        Some(_) => f64::EPSILON,
        None => default,
    }
}

/// NumPy's default relative cutoff for `pinv` (`rcond=1e-15`).
const PINV_RCOND: f64 = 1e-15;

/// `V diag(1/s) U^T` applied to the `m x k` row-major `b` into the `n x k`
/// row-major `x`, using the first `rank` singular triplets (`u` is `m x p`,
/// `vt` `p x n`, row-major, `p = min(m, n)`).
#[allow(clippy::too_many_arguments)]
fn apply_pinv(u: &[f64], s: &[f64], vt: &[f64], m: usize, n: usize, rank: usize, b: &[f64], k: usize, x: &mut [f64]) {
    let p = m.min(n);
    let mut c = vec![0.0; rank * k];
    for r in 0..m {
        for i in 0..rank {
            let f = u[r * p + i];
            axpy::<NoFma>(f, &b[r * k..(r + 1) * k], &mut c[i * k..(i + 1) * k]);
        }
    }
    for i in 0..rank {
        c[i * k..(i + 1) * k].iter_mut().for_each(|v| *v /= s[i]);
    }
    x.iter_mut().for_each(|v| *v = 0.0);
    for i in 0..rank {
        for j in 0..n {
            axpy::<NoFma>(vt[i * n + j], &c[i * k..(i + 1) * k], &mut x[j * k..(j + 1) * k]);
        }
    }
}

/// The SVD of one row-major `m x n` matrix: `(u, s, vt)`, reduced.
fn reduced_svd(a: &[f64], m: usize, n: usize) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let p = m.min(n);
    let mut u = super::batch::scratch(m * p)?;
    let mut s = vec![0.0; p];
    let mut vt = super::batch::scratch(p * n)?;
    svd_kernel(a, m, n, &mut s, Some((&mut u, &mut vt)), false)?;
    Ok((u, s, vt))
}

/// The number of singular values (descending) above `rel * s[0]`.
fn effective_rank(s: &[f64], rel: f64) -> usize {
    match s.first() {
        Some(&top) => s.iter().take_while(|&&x| x > rel * top).count(),
        None => 0,
    }
}

impl Tensor {
    /// The minimum-norm least-squares solution of `a x = b` for a single
    /// `m x n` matrix `a` (NumPy `linalg.lstsq`, via the SVD): `b` is `(m,)`
    /// or `(m, k)`. Singular values at most `rcond * s_max` count as zero;
    /// `rcond = None` is NumPy's default `eps * max(m, n)`, a negative value
    /// machine precision. NaNs or infinities in `a` give a NaN solution and rank 0.
    pub fn lstsq(&self, b: &Tensor, rcond: Option<f64>) -> Result<Lstsq> {
        const OP: &str = "lstsq";
        if self.ndim() != 2 {
            return Err(TensorError::Invalid(format!(
                "`lstsq` takes one matrix a (2-d), but got a tensor of shape {}",
                crate::format_shape(self.shape())
            )));
        }
        let (m, n) = (self.shape()[0], self.shape()[1]);
        let bad = |reason: String| TensorError::OperandShapes {
            op: OP,
            a: self.shape().to_vec(),
            b: b.shape().to_vec(),
            reason,
        };
        let k = match b.shape() {
            [rows] | [rows, _] if *rows != m => return Err(bad(format!("b needs {m} rows to match a"))),
            [_] => 1,
            [_, k] => *k,
            _ => return Err(bad("b must be a vector or a matrix".into())),
        };
        let a = Stack::new(self, OP, false)?;
        let bv = b.to_vec_checked()?;
        let (u, s, vt) = reduced_svd(a.matrix(0), m, n)?;
        let x_shape: Vec<usize> = if b.ndim() == 1 { vec![n] } else { vec![n, k] };
        let mut x = crate::buffer::alloc_filled(&x_shape, 0.0)?;
        let finite = s.iter().all(|v| v.is_finite());
        let rank = if finite {
            effective_rank(&s, relative_cutoff(rcond, f64::EPSILON * m.max(n) as f64))
        } else {
            0
        };
        if finite {
            apply_pinv(&u, &s, &vt, m, n, rank, &bv, k, &mut x);
        } else {
            x.iter_mut().for_each(|v| *v = f64::NAN);
        }
        let residuals = if finite && rank == n && m > n {
            // ||b - a x||^2 per column of b.
            let av = a.matrix(0);
            let mut res = vec![0.0; k];
            let mut row = vec![0.0; k];
            for r in 0..m {
                row.copy_from_slice(&bv[r * k..(r + 1) * k]);
                for j in 0..n {
                    axpy::<NoFma>(-av[r * n + j], &x[j * k..(j + 1) * k], &mut row);
                }
                for (acc, v) in res.iter_mut().zip(&row) {
                    *acc += v * v;
                }
            }
            Tensor::from_parts(res, vec![k])
        } else {
            Tensor::from_parts(Vec::new(), vec![0])
        };
        let p = s.len();
        Ok(Lstsq {
            solution: Tensor::from_parts(x, x_shape),
            residuals,
            rank,
            singular_values: Tensor::from_parts(s, vec![p]),
        })
    }

    /// The Moore-Penrose pseudo-inverse of each `m x n` matrix in the last
    /// two axes, shape `(..., n, m)` (NumPy `linalg.pinv`, via the SVD):
    /// singular values at most `rcond * s_max` are treated as zero; `None`
    /// is NumPy's default `1e-15` (JAX's default is `max(m, n) * eps`; pass
    /// it explicitly for that), a negative value machine precision. NaNs or
    /// infinities give NaNs.
    pub fn pinv(&self, rcond: Option<f64>) -> Result<Tensor> {
        let a = Stack::new(self, "pinv", false)?;
        let (m, n) = (a.rows, a.cols);
        let shape = stacked(&a.batch, &[n, m]);
        let mut out = crate::buffer::alloc_filled(&shape, 0.0)?;
        let rel = relative_cutoff(rcond, PINV_RCOND);
        if a.work() == 0 {
            // Empty matrices: an empty (n x m) pseudo-inverse each.
            return Ok(Tensor::from_parts(out, shape));
        }
        // The identity as right-hand side: pinv(a) = pinv(a) I.
        let mut eye = super::batch::scratch(m * m)?;
        for i in 0..m {
            eye[i * m + i] = 1.0;
        }
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            let x = &mut out[i * n * m..(i + 1) * n * m];
            let (u, s, vt) = reduced_svd(a.matrix(i), m, n)?;
            if s.iter().all(|v| v.is_finite()) {
                apply_pinv(&u, &s, &vt, m, n, effective_rank(&s, rel), &eye, m, x);
            } else {
                x.iter_mut().for_each(|v| *v = f64::NAN);
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }
}
