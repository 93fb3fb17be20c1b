//! Reductions (sum/prod/max/min over axes) and argmax/argmin.

use crate::error::{check_axis, checked_size, Result, TensorError};
use crate::iter::for_each_row;
use crate::ops::{maximum, minimum, ReduceOp};
use crate::tensor::Tensor;

/// Block size below which [`sum_slice`] sums with 8 interleaved accumulators.
pub(crate) const PAIRWISE_BLOCK: usize = 256;

/// Sum of a contiguous slice: pairwise above `PAIRWISE_BLOCK` elements,
/// eight interleaved accumulators below (so it vectorises). Error grows like
/// O(log n) rather than O(n).
pub(crate) fn sum_slice(x: &[f64]) -> f64 {
    pairwise(0, x.len(), &mut |lo, len| sum_leaf(&x[lo..lo + len]))
}

/// The pairwise sum's recursion over `lo..lo + len`: halves split at a
/// multiple of 8 until a range has at most `PAIRWISE_BLOCK` elements, whose
/// sum `leaf(lo, len)` gives. Fused kernels sum in exactly this order too.
#[inline(always)]
pub(crate) fn pairwise(lo: usize, len: usize, leaf: &mut impl FnMut(usize, usize) -> f64) -> f64 {
    if len <= PAIRWISE_BLOCK {
        leaf(lo, len)
    } else {
        let half = (len / 2) & !7;
        pairwise(lo, half, leaf) + pairwise(lo + half, len - half, leaf)
    }
}

/// The sum of a short slice (a leaf of [`pairwise`]) with eight interleaved accumulators.
#[inline(always)]
pub(crate) fn sum_leaf(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rem = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in rem {
        s += v;
    }
    s
}

fn prod_slice(x: &[f64]) -> f64 {
    let mut acc = [1.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rem = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] *= c[k];
        }
    }
    let mut p = acc.iter().product::<f64>();
    for &v in rem {
        p *= v;
    }
    p
}

/// Max (or min) of a non-empty contiguous slice, NaN-propagating.
fn extreme_slice(x: &[f64], is_max: bool) -> f64 {
    crate::vreduce::extreme(x, is_max)
}

/// Reduction of a non-empty contiguous slice.
fn reduce_slice(x: &[f64], op: ReduceOp) -> f64 {
    match op {
        ReduceOp::Sum => sum_slice(x),
        ReduceOp::Prod => prod_slice(x),
        ReduceOp::Max => extreme_slice(x, true),
        ReduceOp::Min => extreme_slice(x, false),
    }
}

#[inline(always)]
fn accumulate_row(dst: &mut [f64], src: &[f64], op: ReduceOp) {
    match op {
        ReduceOp::Sum => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
        ReduceOp::Prod => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d *= s;
            }
        }
        ReduceOp::Max => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = maximum(*d, s);
            }
        }
        ReduceOp::Min => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = minimum(*d, s);
            }
        }
    }
}

fn reduction_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Prod => "product",
        ReduceOp::Max => "maximum",
        ReduceOp::Min => "minimum",
    }
}

impl Tensor {
    /// Reduces over the given (non-negative, unique) axes. An empty `axes`
    /// slice reduces nothing and returns a copy. Sum of nothing is 0, product
    /// of nothing is 1; max/min over zero elements is an error. NaN propagates.
    pub fn reduce(&self, op: ReduceOp, axes: &[usize], keepdims: bool) -> Result<Tensor> {
        let nd = self.ndim();
        let mut reduced = vec![false; nd];
        for &a in axes {
            check_axis(a, nd)?;
            if reduced[a] {
                return Err(TensorError::Invalid(format!(
                    "axis {} appears more than once in a reduction",
                    a
                )));
            }
            reduced[a] = true;
        }
        if axes.is_empty() {
            return Ok(Tensor::from_parts(self.to_vec(), self.shape.clone()));
        }
        let kept_shape: Vec<usize> = (0..nd).map(|i| if reduced[i] { 1 } else { self.shape[i] }).collect();
        let final_shape: Vec<usize> = if keepdims {
            kept_shape.clone()
        } else {
            (0..nd).filter(|&i| !reduced[i]).map(|i| self.shape[i]).collect()
        };
        // The result's shape is checked (and its buffer allocated) first: a
        // zero-size input may have huge kept axes, whose product must neither
        // wrap nor allocate beyond the budget.
        let mut out = crate::buffer::alloc(&final_shape)?;
        let out_n: usize = kept_shape.iter().product();
        let count: usize = (0..nd).filter(|&i| reduced[i]).map(|i| self.shape[i]).product();
        if count == 0 && out_n > 0 {
            match op.identity() {
                Some(v) => {
                    out.resize(out_n, v);
                    return Ok(Tensor::from_parts(out, final_shape));
                }
                None => {
                    return Err(TensorError::EmptyReduction {
                        op: reduction_name(op),
                        shape: self.shape.clone(),
                    })
                }
            }
        }
        let init = match op {
            ReduceOp::Sum => 0.0,
            ReduceOp::Prod => 1.0,
            ReduceOp::Max => f64::NEG_INFINITY,
            ReduceOp::Min => f64::INFINITY,
        };
        out.resize(out_n, init);
        // Output strides: contiguous over kept axes, zero over reduced axes.
        let mut ostrides = vec![0isize; nd];
        let mut acc: isize = 1;
        for i in (0..nd).rev() {
            if !reduced[i] {
                ostrides[i] = acc;
                acc *= self.shape[i] as isize;
            }
        }
        // Iterate in the input's memory order (largest stride outermost).
        let mut order: Vec<usize> = (0..nd).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.strides[i].unsigned_abs()));
        let shape: Vec<usize> = order.iter().map(|&i| self.shape[i]).collect();
        let xs: Vec<isize> = order.iter().map(|&i| self.strides[i]).collect();
        let os: Vec<isize> = order.iter().map(|&i| ostrides[i]).collect();
        let data = &self.data[..];
        for_each_row(
            &shape,
            [&xs, &os],
            [self.offset as isize, 0],
            |[xo, oo], len, [sx, so]| {
                if so == 0 {
                    let v = if sx == 1 {
                        reduce_slice(&data[xo as usize..xo as usize + len], op)
                    } else {
                        let mut v = init;
                        for i in 0..len as isize {
                            v = op.combine(v, data[(xo + i * sx) as usize]);
                        }
                        v
                    };
                    let o = &mut out[oo as usize];
                    *o = op.combine(*o, v);
                } else if sx == 1 && so == 1 {
                    accumulate_row(
                        &mut out[oo as usize..oo as usize + len],
                        &data[xo as usize..xo as usize + len],
                        op,
                    );
                } else {
                    for i in 0..len as isize {
                        let o = &mut out[(oo + i * so) as usize];
                        *o = op.combine(*o, data[(xo + i * sx) as usize]);
                    }
                }
            },
        );
        Ok(Tensor::from_parts(out, final_shape))
    }

    /// Inverse of broadcasting: sums over leading extra axes and over axes
    /// where `shape` has size 1, so the result has exactly `shape`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        let nd = self.ndim();
        let err = || {
            TensorError::Invalid(format!(
                "cannot sum a tensor of shape {} down to shape {}: {} does not broadcast to {}",
                crate::format_shape(&self.shape),
                crate::format_shape(shape),
                crate::format_shape(shape),
                crate::format_shape(&self.shape)
            ))
        };
        if shape.len() > nd {
            return Err(err());
        }
        if shape == &self.shape[..] {
            return Ok(self.clone());
        }
        let lead = nd - shape.len();
        let mut axes: Vec<usize> = (0..lead).collect();
        for (i, &t) in shape.iter().enumerate() {
            let s = self.shape[lead + i];
            if s != t {
                if t == 1 {
                    axes.push(lead + i);
                } else {
                    return Err(err());
                }
            }
        }
        self.reduce(ReduceOp::Sum, &axes, true)?.reshape(shape)
    }

    /// Reduces over all elements to a single number.
    pub fn reduce_all(&self, op: ReduceOp) -> Result<f64> {
        if self.size() == 0 {
            return match op.identity() {
                Some(v) => Ok(v),
                None => Err(TensorError::EmptyReduction {
                    op: reduction_name(op),
                    shape: self.shape.clone(),
                }),
            };
        }
        if let Some(s) = self.as_slice() {
            return Ok(reduce_slice(s, op));
        }
        let axes: Vec<usize> = (0..self.ndim()).collect();
        let r = self.reduce(op, &axes, false)?;
        Ok(r.data[0])
    }

    /// Index of the first maximum (NaN counts as maximal), as `f64` values.
    /// `None` gives the flattened index as a 0-d tensor.
    pub fn argmax(&self, axis: Option<usize>, keepdims: bool) -> Result<Tensor> {
        self.arg_extreme(axis, keepdims, true)
    }

    /// Index of the first minimum (NaN counts as minimal), as `f64` values.
    pub fn argmin(&self, axis: Option<usize>, keepdims: bool) -> Result<Tensor> {
        self.arg_extreme(axis, keepdims, false)
    }

    fn arg_extreme(&self, axis: Option<usize>, keepdims: bool, is_max: bool) -> Result<Tensor> {
        let name = if is_max { "argmax" } else { "argmin" };
        match axis {
            None => {
                if self.size() == 0 {
                    return Err(TensorError::EmptyReduction {
                        op: name,
                        shape: self.shape.clone(),
                    });
                }
                let v = self.contiguous();
                let src = v.as_slice().unwrap_or(&[]);
                let mut out = Vec::with_capacity(1);
                crate::vreduce::arg_extreme_rows(src, src.len(), is_max, &mut out);
                let shape = if keepdims { vec![1; self.ndim()] } else { vec![] };
                Ok(Tensor::from_parts(out, shape))
            }
            Some(ax) => {
                let nd = self.ndim();
                check_axis(ax, nd)?;
                let n = self.shape[ax];
                let mut perm: Vec<usize> = (0..nd).filter(|&i| i != ax).collect();
                perm.push(ax);
                let moved = self.transpose(&perm)?.contiguous();
                let outer = moved.size().checked_div(n).unwrap_or(0);
                let mut out_shape = self.shape.clone();
                if keepdims {
                    out_shape[ax] = 1;
                } else {
                    out_shape.remove(ax);
                }
                let out_n = checked_size(&out_shape)?;
                if n == 0 {
                    if out_n == 0 {
                        return Ok(Tensor::from_parts(vec![], out_shape));
                    }
                    return Err(TensorError::EmptyReduction {
                        op: name,
                        shape: self.shape.clone(),
                    });
                }
                // The reduced axis is now last and contiguous: one tight pass per row.
                let src = moved.as_slice().unwrap_or(&[]);
                let mut out = Vec::with_capacity(outer);
                crate::vreduce::arg_extreme_rows(src, n, is_max, &mut out);
                Ok(Tensor::from_parts(out, out_shape))
            }
        }
    }
}
