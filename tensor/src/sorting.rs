//! Sorting along an axis and what builds on it: [`Tensor::sort`],
//! [`Tensor::argsort`], [`Tensor::topk`], [`Tensor::unique`],
//! [`Tensor::unique_all`], [`Tensor::searchsorted`]. NaNs sort after everything else, as in NumPy.

use crate::error::{check_axis, Result, TensorError};
use crate::tensor::Tensor;
use std::cmp::Ordering;

/// Ascending order with NaNs last (all NaNs equal, `-0.0 == 0.0`): NumPy's order.
#[inline]
fn nan_last(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        // Equal, or at least one NaN.
        a.is_nan().cmp(&b.is_nan())
    }
}

/// Ascending order with NaNs above everything and `-0.0 < 0.0`: the order of
/// `jax.lax.top_k`.
#[inline]
fn nan_top(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => a.total_cmp(&b),
        (x, y) => x.cmp(&y),
    }
}

/// The result of [`Tensor::unique_all`] (NumPy `unique_all`), all 1-d.
#[derive(Clone, Debug)]
pub struct Unique {
    /// The distinct values in ascending order; NaNs count as one value,
    /// last. Of equal values (`-0.0` and `0.0`) the first occurrence is kept.
    pub values: Tensor,
    /// For each distinct value, the flat index of its first occurrence.
    pub indices: Tensor,
    /// For each input element (flattened), the index of its value in `values`.
    pub inverse: Tensor,
    /// How often each distinct value occurs.
    pub counts: Tensor,
}

impl Tensor {
    /// Runs `f(row, out_row)` over every lane along `axis` (each gathered
    /// into a contiguous row of `n` elements) and assembles the outputs
    /// (`n_out` per lane) back into the original axis order.
    fn along_axis(&self, axis: usize, n_out: usize, mut f: impl FnMut(&[f64], &mut [f64])) -> Result<Tensor> {
        check_axis(axis, self.ndim())?;
        let nd = self.ndim();
        let last = nd - 1;
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(axis, last);
        let moved = self.transpose(&perm)?;
        let src = moved.to_vec_checked()?;
        let n = self.shape()[axis];
        let mut out_shape = moved.shape().to_vec();
        out_shape[last] = n_out;
        let mut out = crate::buffer::alloc_filled(&out_shape, 0.0)?;
        // Only non-empty outputs have lanes to fill (and then their number
        // is small; an empty tensor's other axes may multiply past usize).
        let lanes = if out.is_empty() { 0 } else { out.len() / n_out };
        for lane in 0..lanes {
            f(
                &src[lane * n..(lane + 1) * n],
                &mut out[lane * n_out..(lane + 1) * n_out],
            );
        }
        let res = Tensor::from_parts(out, out_shape);
        if axis == last {
            return Ok(res);
        }
        // Swapping the two axes back is its own inverse permutation.
        res.transpose(&perm)?.contiguous_checked()
    }

    /// The elements sorted ascending along `axis`, NaNs last (NumPy `sort`).
    pub fn sort(&self, axis: usize) -> Result<Tensor> {
        let n = self.shape().get(axis).copied().unwrap_or(0);
        self.along_axis(axis, n, |row, out| {
            out.copy_from_slice(row);
            out.sort_by(|&a, &b| nan_last(a, b));
        })
    }

    /// The indices (as floats) that sort each lane along `axis` ascending,
    /// NaNs last; stable, so equal elements keep their order (NumPy
    /// `argsort(kind='stable')`).
    pub fn argsort(&self, axis: usize) -> Result<Tensor> {
        let n = self.shape().get(axis).copied().unwrap_or(0);
        let mut idx: Vec<usize> = Vec::new();
        self.along_axis(axis, n, |row, out| {
            idx.clear();
            idx.extend(0..row.len());
            idx.sort_by(|&i, &j| nan_last(row[i], row[j]));
            for (o, &i) in out.iter_mut().zip(&idx) {
                *o = i as f64;
            }
        })
    }

    /// The `k` largest elements along the last axis in descending order and
    /// their indices (as floats), shapes `(..., k)` (`jax.lax.top_k`): NaN
    /// counts as larger than everything and `0.0` as larger than `-0.0`, and
    /// of equal elements the one with the lower index comes first. `k` larger
    /// than the last axis is an error.
    pub fn topk(&self, k: usize) -> Result<(Tensor, Tensor)> {
        if self.ndim() == 0 {
            return Err(TensorError::Invalid(
                "`topk` needs at least one axis, but got a 0-d tensor".into(),
            ));
        }
        let axis = self.ndim() - 1;
        let n = self.shape()[axis];
        if k > n {
            return Err(TensorError::Invalid(format!(
                "`topk`: k = {k} is larger than the last axis of shape {} (size {n})",
                crate::format_shape(self.shape())
            )));
        }
        let mut idx: Vec<usize> = Vec::new();
        let mut picked: Vec<usize> = Vec::with_capacity(self.size() / n.max(1) * k);
        // Descending, NaN first, ties by index: a total order, so a partial
        // selection followed by sorting the selected part is deterministic.
        let values = self.along_axis(axis, k, |row, out| {
            let before = |i: &usize, j: &usize| nan_top(row[*j], row[*i]).then(i.cmp(j));
            idx.clear();
            idx.extend(0..row.len());
            if k > 0 && k < row.len() {
                idx.select_nth_unstable_by(k - 1, before);
            }
            idx.truncate(k);
            idx.sort_unstable_by(before);
            for (o, &i) in out.iter_mut().zip(&idx) {
                *o = row[i];
            }
            picked.extend_from_slice(&idx);
        })?;
        let indices = Tensor::from_parts(picked.into_iter().map(|i| i as f64).collect(), values.shape().to_vec());
        Ok((values, indices))
    }

    /// For each element `v` of `values`, the number of elements of this
    /// 1-d ascending tensor that are `<= v` (NumPy's `searchsorted(self, v,
    /// side='right')`: the position after the last element equal to `v`), as
    /// floats shaped like `values`. NaN sorts last, as in NumPy: a NaN value
    /// gets the length. A tensor that is not 1-d is an error; its order is
    /// not checked (an unsorted one gives some position, as in NumPy).
    pub fn searchsorted(&self, values: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 {
            return Err(TensorError::Invalid(format!(
                "`searchsorted` needs a 1-d sorted tensor, but got shape {}",
                crate::format_shape(self.shape())
            )));
        }
        let sorted = self.to_vec_checked()?;
        let n = sorted.len();
        Ok(values.map(|v| {
            if v.is_nan() {
                n as f64
            } else {
                // `e <= v` holds on a prefix of an ascending sequence (NaNs last).
                sorted.partition_point(|&e| e <= v) as f64
            }
        }))
    }

    /// The sorted distinct values of the flattened tensor (NumPy 2 `unique`:
    /// NaNs collapse into one, last).
    pub fn unique(&self) -> Result<Tensor> {
        Ok(self.unique_all()?.values)
    }

    /// Distinct values of the flattened tensor with first-occurrence
    /// indices, the inverse mapping and counts (NumPy `unique_all`).
    pub fn unique_all(&self) -> Result<Unique> {
        let x = self.to_vec_checked()?;
        let n = x.len();
        let mut order: Vec<usize> = (0..n).collect();
        // Stable, so the first of each group of equal values is its first occurrence.
        order.sort_by(|&i, &j| nan_last(x[i], x[j]));
        let mut values = Vec::new();
        let mut indices = Vec::new();
        let mut counts: Vec<f64> = Vec::new();
        let mut inverse = crate::buffer::alloc_filled(&[n], 0.0)?;
        for (pos, &i) in order.iter().enumerate() {
            let new_group = pos == 0 || nan_last(x[order[pos - 1]], x[i]) != Ordering::Equal;
            if new_group {
                values.push(x[i]);
                indices.push(i as f64);
                counts.push(0.0);
            }
            let g = values.len() - 1;
            counts[g] += 1.0;
            inverse[i] = g as f64;
        }
        let u = values.len();
        let mut values = Tensor::from_parts(values, vec![u]);
        // The distinct values of a bool tensor are bools (NumPy keeps the dtype).
        if self.is_bool() {
            values = values.marked_bool();
        }
        Ok(Unique {
            values,
            indices: Tensor::from_parts(indices, vec![u]),
            inverse: Tensor::from_parts(inverse, vec![n]),
            counts: Tensor::from_parts(counts, vec![u]),
        })
    }
}
