//! Cumulative sums and products along an axis: [`Tensor::cumsum`], [`Tensor::cumprod`].

use crate::error::{check_axis, Result};
use crate::tensor::Tensor;

impl Tensor {
    /// Running sums along `axis` (NumPy `cumsum` with an axis): same shape,
    /// element `i` the sum of elements `0..=i`, added in order (so values
    /// match NumPy's bit for bit).
    pub fn cumsum(&self, axis: usize) -> Result<Tensor> {
        self.scan(axis, |acc, x| acc + x)
    }

    /// Running products along `axis` (NumPy `cumprod` with an axis).
    pub fn cumprod(&self, axis: usize) -> Result<Tensor> {
        self.scan(axis, |acc, x| acc * x)
    }

    /// `out[.., i, ..] = f(out[.., i-1, ..], self[.., i, ..])` along `axis`.
    /// Viewed as `(outer, n, inner)`, each step combines two whole rows of
    /// `inner` contiguous elements, which vectorises.
    fn scan(&self, axis: usize, f: impl Fn(f64, f64) -> f64) -> Result<Tensor> {
        check_axis(axis, self.ndim())?;
        let mut out = self.to_vec_checked()?;
        if out.is_empty() {
            // (The axes of an empty tensor may multiply past usize.)
            return Ok(Tensor::from_parts(out, self.shape().to_vec()));
        }
        let n = self.shape()[axis];
        let inner: usize = self.shape()[axis + 1..].iter().product();
        let block = n * inner;
        if block > 0 {
            for chunk in out.chunks_exact_mut(block) {
                for i in 1..n {
                    let (prev, cur) = chunk[(i - 1) * inner..(i + 1) * inner].split_at_mut(inner);
                    for (c, &p) in cur.iter_mut().zip(prev.iter()) {
                        *c = f(p, *c);
                    }
                }
            }
        }
        Ok(Tensor::from_parts(out, self.shape().to_vec()))
    }
}
