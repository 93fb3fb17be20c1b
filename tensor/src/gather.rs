//! Gathering along an axis with per-lane indices (NumPy `take_along_axis`)
//! and its scatter-add adjoint: what the gradients of `sort`, `topk` and
//! friends need to route values back to where they came from.

use crate::error::{check_axis, Result, TensorError};
use crate::index::{resolve_index, to_index};
use crate::iter::contiguous_strides;
use crate::tensor::Tensor;

/// The plan shared by the gather and its adjoint: the result shape, the
/// validated indices (as positions along `axis`), and for every result
/// element the flat offset (row-major, `input_shape`) it reads.
fn plan(input_shape: &[usize], indices: &Tensor, axis: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let nd = input_shape.len();
    check_axis(axis, nd)?;
    let ishape = indices.shape();
    let bad = |why: String| {
        TensorError::Invalid(format!(
            "`take_along_axis`: indices of shape {} do not fit a tensor of shape {} along axis {axis}: {why}",
            crate::format_shape(ishape),
            crate::format_shape(input_shape)
        ))
    };
    if ishape.len() != nd {
        return Err(bad(format!("they need {nd} dimensions, like the tensor")));
    }
    let mut out_shape = Vec::with_capacity(nd);
    for d in 0..nd {
        let (s, i) = (input_shape[d], ishape[d]);
        out_shape.push(if d == axis || s == i || s == 1 {
            i
        } else if i == 1 {
            s
        } else {
            return Err(bad(format!("axis {d} has size {i}, not {s} or 1")));
        });
    }
    let total = crate::checked_size(&out_shape)?;
    let size = input_shape[axis];
    let idx = indices
        .to_vec()
        .into_iter()
        .map(|v| to_index(v).and_then(|i| resolve_index(i, axis, size)))
        .collect::<Result<Vec<usize>>>()?;
    // Strides into the input and the indices, zero where they broadcast.
    let in_strides = contiguous_strides(input_shape);
    let ix_strides = contiguous_strides(ishape);
    let stride = |strides: &[isize], shape: &[usize], d: usize| {
        if shape[d] == 1 && out_shape[d] != 1 {
            0
        } else {
            strides[d] as usize
        }
    };
    let mut offsets = Vec::with_capacity(total);
    let mut pos = vec![0usize; nd];
    for _ in 0..total {
        let mut src = 0;
        let mut ix = 0;
        for (d, &p) in pos.iter().enumerate() {
            ix += p * stride(&ix_strides, ishape, d);
            if d != axis {
                src += p * stride(&in_strides, input_shape, d);
            }
        }
        src += idx[ix] * in_strides[axis] as usize;
        offsets.push(src);
        // Row-major odometer over out_shape.
        for d in (0..nd).rev() {
            pos[d] += 1;
            if pos[d] < out_shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    Ok((out_shape, offsets))
}

impl Tensor {
    /// NumPy `take_along_axis`: picks, along `axis`, the element each index
    /// names, lane by lane. `indices` has as many dimensions as `self`; its
    /// other axes match `self`'s or broadcast with them (size 1). Indices
    /// must be integral; negative ones count from the end. E.g.
    /// `x.take_along_axis(&x.argsort(a)?, a)` equals `x.sort(a)`.
    pub fn take_along_axis(&self, indices: &Tensor, axis: usize) -> Result<Tensor> {
        let (out_shape, offsets) = plan(&self.shape, indices, axis)?;
        let src = self.contiguous_checked()?;
        let data = src.as_slice().unwrap_or(&[]);
        let mut out = crate::buffer::alloc(&out_shape)?;
        out.extend(offsets.iter().map(|&o| data[o]));
        Ok(Tensor::from_parts(out, out_shape))
    }

    /// Adjoint of [`take_along_axis`](Self::take_along_axis): scatter-adds
    /// `grad` (of the shape the gather produced) into zeros of
    /// `input_shape`; repeated indices (and broadcast lanes) accumulate.
    pub fn take_along_axis_scatter(
        grad: &Tensor,
        indices: &Tensor,
        axis: usize,
        input_shape: &[usize],
    ) -> Result<Tensor> {
        let (out_shape, offsets) = plan(input_shape, indices, axis)?;
        if grad.shape != out_shape {
            return Err(TensorError::Invalid(format!(
                "take_along_axis_scatter: gradient of shape {} does not match the gather result shape {}",
                crate::format_shape(&grad.shape),
                crate::format_shape(&out_shape)
            )));
        }
        let mut out = crate::buffer::alloc_filled(input_shape, 0.0)?;
        for (&o, g) in offsets.iter().zip(grad.to_vec()) {
            out[o] += g;
        }
        Ok(Tensor::from_parts(out, input_shape.to_vec()))
    }
}
