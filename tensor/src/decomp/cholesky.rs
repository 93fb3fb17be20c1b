//! Cholesky factorisation of symmetric positive definite matrices: [`Tensor::cholesky`].

use super::batch::{unravel, Stack};
use super::vector::dot;
use crate::error::{Result, TensorError};
use crate::simd::{multiversion, Mode};
use crate::tensor::Tensor;

/// Overwrites the lower triangle of the row-major `n x n` matrix `a` with
/// its Cholesky factor `L` (`A = L L^T`) and zeroes the strict upper
/// triangle; only the lower triangle of `a` is read. Returns the order of
/// the first leading block that is not positive definite (its pivot is
/// `<= 0`), leaving `a` partly factored; a NaN pivot is not reported and
/// spreads NaNs instead (as NumPy's LAPACK does).
///
/// Row-oriented (Cholesky-Crout): every entry is one dot product of two
/// contiguous row prefixes of `L`.
#[inline(always)]
fn factor_impl<M: Mode>(a: &mut [f64], n: usize) -> Option<usize> {
    for i in 0..n {
        let (done, rest) = a.split_at_mut(i * n);
        let row = &mut rest[..n];
        for j in 0..i {
            let lj = &done[j * n..j * n + j + 1];
            let s = row[j] - dot::<M>(&row[..j], &lj[..j]);
            row[j] = s / lj[j];
        }
        let d = row[i] - dot::<M>(&row[..i], &row[..i]);
        if d <= 0.0 {
            return Some(i + 1);
        }
        row[i] = d.sqrt();
        row[i + 1..].iter_mut().for_each(|x| *x = 0.0);
    }
    None
}

multiversion!(
    /// [`factor_impl`] compiled for the running CPU.
    pub(crate) fn factor(a: &mut [f64], n: usize) -> Option<usize> => factor_impl
);

impl Tensor {
    /// The lower Cholesky factor `l` (`a = l @ l^T`) of each symmetric
    /// positive definite matrix in the last two axes (NumPy
    /// `linalg.cholesky`); only the lower triangle of `a` is read. A matrix
    /// that is not positive definite is a [`TensorError::NotPositiveDefinite`]
    /// error; NaNs give NaNs.
    pub fn cholesky(&self) -> Result<Tensor> {
        const OP: &str = "cholesky";
        let mut a = Stack::new(self, OP, true)?;
        let n = a.rows;
        for i in 0..a.work() {
            if crate::interrupt::requested() {
                break;
            }
            if let Some(order) = factor(a.matrix_mut(i), n) {
                return Err(TensorError::NotPositiveDefinite {
                    op: OP,
                    index: unravel(i, &a.batch),
                    order,
                });
            }
        }
        Ok(Tensor::from_parts(a.data, self.shape().to_vec()))
    }
}
