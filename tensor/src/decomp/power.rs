//! Integer matrix powers: [`Tensor::matrix_power`].

use super::batch::matrix_dims;
use crate::error::Result;
use crate::tensor::Tensor;

impl Tensor {
    /// Raises each square matrix in the last two axes to the integer power
    /// `n` (NumPy `linalg.matrix_power`) by repeated squaring: `n = 0` gives
    /// identities, a negative `n` the power `|n|` of the inverse (a singular
    /// matrix is then a [`crate::TensorError::Singular`] error from `inv`).
    pub fn matrix_power(&self, n: i64) -> Result<Tensor> {
        let (m, _) = matrix_dims(self.shape(), "matrix_power", true)?;
        if self.size() == 0 {
            // Any power of empty matrices (or of none) is empty; an identity
            // of the (possibly huge) size `m` must not be built.
            return Tensor::zeros(self.shape());
        }
        if n == 0 {
            let eye = Tensor::eye(m)?;
            return eye.broadcast_to(self.shape())?.contiguous_checked();
        }
        let mut base = if n < 0 { self.inv()? } else { self.contiguous_checked()? };
        let mut e = n.unsigned_abs();
        let mut result: Option<Tensor> = None;
        // Binary powering: `result` collects the squares of the set bits.
        loop {
            if e & 1 == 1 {
                result = Some(match result {
                    None => base.clone(),
                    Some(r) => r.matmul(&base)?,
                });
            }
            e >>= 1;
            if e == 0 {
                break;
            }
            if crate::interrupt::requested() {
                break;
            }
            base = base.matmul(&base)?;
        }
        // `n != 0`, so at least one bit was set before the loop could end,
        // unless it was interrupted; then any value will do (it is discarded).
        Ok(result.unwrap_or(base))
    }
}
