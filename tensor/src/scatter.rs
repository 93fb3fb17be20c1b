//! Functional updates at flat positions (the kernels behind dp's
//! `x.at[i].set(v)`, `.add(v)` and `.mul(v)`), and the positions a boolean
//! mask selects.
//!
//! Every index expression is reduced by the interpreter to a tensor of flat
//! row-major positions into `x` (one per selected element, with the shape of
//! the selection), so one kernel serves ints, slices, index tensors and masks.

use crate::error::{Result, TensorError};
use crate::index::to_index;
use crate::tensor::Tensor;

/// How an update combines the old element with the new value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpdateMode {
    /// Replace the element (with repeated positions, the last value wins, as NumPy).
    Set,
    /// Add to the element (repeated positions accumulate, as JAX `.at[].add`).
    Add,
    /// Multiply the element (repeated positions multiply together).
    Mul,
    /// The larger of the element and the values (NaN propagates, as `maximum`).
    Max,
    /// The smaller of the element and the values (NaN propagates, as `minimum`).
    Min,
}

impl UpdateMode {
    /// The method name: `set`, `add`, `mul`, `max` or `min`.
    pub fn name(self) -> &'static str {
        match self {
            UpdateMode::Set => "set",
            UpdateMode::Add => "add",
            UpdateMode::Mul => "mul",
            UpdateMode::Max => "max",
            UpdateMode::Min => "min",
        }
    }
}

/// The flat positions as indices into `size` elements, validated.
fn positions(pos: &Tensor, size: usize) -> Result<Vec<usize>> {
    pos.to_vec()
        .into_iter()
        .map(|v| {
            let i = to_index(v)?;
            if i < 0 || i as u128 >= size as u128 {
                return Err(TensorError::IndexOutOfRange {
                    index: i,
                    axis: 0,
                    size,
                });
            }
            Ok(i as usize)
        })
        .collect()
}

impl Tensor {
    /// The flat row-major positions of the non-zero (true) elements, as a
    /// 1-d tensor of integral floats (NumPy `flatnonzero`).
    pub fn mask_positions(&self) -> Result<Tensor> {
        let vals = self.to_vec();
        let n = vals.iter().filter(|&&v| v != 0.0).count();
        let mut out = crate::buffer::alloc(&[n])?;
        out.extend(
            vals.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(i, _)| i as f64),
        );
        Ok(Tensor::from_parts(out, vec![n]))
    }

    /// `self` with the elements at the flat positions `pos` updated by
    /// `values` (same shape as `pos`) under `mode`. `pos` must hold integral
    /// positions in `0..self.size()`. The result is a fresh `f64` tensor of
    /// `self`'s shape (bool when `self` is bool and the mode is `Set` with
    /// bool values).
    pub fn update_at(&self, pos: &Tensor, values: &Tensor, mode: UpdateMode) -> Result<Tensor> {
        if pos.shape() != values.shape() {
            return Err(TensorError::Invalid(format!(
                "update_at: values of shape {} do not match positions of shape {}",
                crate::format_shape(values.shape()),
                crate::format_shape(pos.shape())
            )));
        }
        let idx = positions(pos, self.size())?;
        let mut out = self.to_vec_checked()?;
        let vals = values.to_vec();
        for (&i, &v) in idx.iter().zip(&vals) {
            match mode {
                UpdateMode::Set => out[i] = v,
                UpdateMode::Add => out[i] += v,
                UpdateMode::Mul => out[i] *= v,
                // The elementwise `maximum`/`minimum`: NaN propagates either way (as JAX's scatter_max).
                UpdateMode::Max => out[i] = crate::ops::maximum(out[i], v),
                UpdateMode::Min => out[i] = crate::ops::minimum(out[i], v),
            }
        }
        let mut t = Tensor::from_parts(out, self.shape.clone());
        if mode == UpdateMode::Set && self.is_bool() && values.is_bool() {
            t.dtype = crate::DType::Bool;
        }
        Ok(t)
    }

    /// For each entry of `pos`, 1.0 if it is the last entry naming its flat
    /// position (the one whose value a `Set` keeps), else 0.0; same shape as
    /// `pos`. `size` is the number of elements positions index into.
    pub fn last_writers(pos: &Tensor, size: usize) -> Result<Tensor> {
        let idx = positions(pos, size)?;
        let mut seen = vec![false; size];
        let mut out = crate::buffer::alloc_filled(pos.shape(), 0.0)?;
        for (k, &i) in idx.iter().enumerate().rev() {
            if !seen[i] {
                seen[i] = true;
                out[k] = 1.0;
            }
        }
        Ok(Tensor::from_parts(out, pos.shape().to_vec()))
    }

    /// Whether some flat position appears more than once in `pos`.
    pub fn has_repeats(pos: &Tensor, size: usize) -> Result<bool> {
        let idx = positions(pos, size)?;
        let mut seen = vec![false; size];
        for i in idx {
            if std::mem::replace(&mut seen[i], true) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), s).unwrap()
    }

    #[test]
    fn mask_positions_are_row_major() {
        let m = Tensor::from_bools(&[true, false, false, true, true, false], &[2, 3]).unwrap();
        assert_eq!(m.mask_positions().unwrap().to_vec(), vec![0.0, 3.0, 4.0]);
        let none = Tensor::from_bools(&[false, false], &[2]).unwrap();
        assert_eq!(none.mask_positions().unwrap().shape(), &[0]);
    }

    #[test]
    fn updates_set_add_mul_with_repeats() {
        let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let pos = t(&[3.0, 0.0, 3.0], &[3]);
        let v = t(&[10.0, 20.0, 30.0], &[3]);
        let set = x.update_at(&pos, &v, UpdateMode::Set).unwrap();
        assert_eq!(set.to_vec(), vec![20.0, 2.0, 3.0, 30.0]);
        assert_eq!(set.shape(), &[2, 2]);
        let add = x.update_at(&pos, &v, UpdateMode::Add).unwrap();
        assert_eq!(add.to_vec(), vec![21.0, 2.0, 3.0, 44.0]);
        let mul = x.update_at(&pos, &v, UpdateMode::Mul).unwrap();
        assert_eq!(mul.to_vec(), vec![20.0, 2.0, 3.0, 1200.0]);
        assert_eq!(Tensor::last_writers(&pos, 4).unwrap().to_vec(), vec![0.0, 1.0, 1.0]);
        assert!(Tensor::has_repeats(&pos, 4).unwrap());
        assert!(!Tensor::has_repeats(&t(&[0.0, 1.0], &[2]), 4).unwrap());
    }

    #[test]
    fn update_rejects_bad_positions() {
        let x = t(&[1.0, 2.0], &[2]);
        let v = t(&[1.0], &[1]);
        assert!(x.update_at(&t(&[2.0], &[1]), &v, UpdateMode::Set).is_err());
        assert!(x.update_at(&t(&[-1.0], &[1]), &v, UpdateMode::Set).is_err());
        assert!(x.update_at(&t(&[0.5], &[1]), &v, UpdateMode::Set).is_err());
        assert!(x.update_at(&t(&[0.0, 1.0], &[2]), &v, UpdateMode::Set).is_err());
    }
}
