//! Indexing: basic slicing, `take`, their scatter adjoints, concat/stack, one-hot.

use crate::error::{check_axis, checked_size, Result, TensorError};
use crate::iter::{contiguous_strides, for_each_row};
use crate::tensor::{broadcast_shapes, broadcast_strides, Tensor};

/// One entry of a basic-indexing expression `x[...]`.
#[derive(Clone, Debug, PartialEq)]
pub enum SliceSpec {
    /// `x[i]`: selects one position and drops the axis (negative counts from the end).
    Index(i64),
    /// `x[start:stop:step]` with Python semantics (clamping, negative steps).
    Range {
        /// First position (default: start of the traversal).
        start: Option<i64>,
        /// End position, exclusive (default: end of the traversal).
        stop: Option<i64>,
        /// Step; must not be zero.
        step: i64,
    },
    /// `x[None]`: inserts a new axis of size 1.
    NewAxis,
}

impl SliceSpec {
    /// The full range `:`.
    pub fn full() -> SliceSpec {
        SliceSpec::Range {
            start: None,
            stop: None,
            step: 1,
        }
    }
}

/// Python `slice.indices` + length: returns (start, step, count).
fn resolve_range(start: Option<i64>, stop: Option<i64>, step: i64, len: usize) -> Result<(i128, i128, usize)> {
    if step == 0 {
        return Err(TensorError::Invalid("slice step cannot be zero".into()));
    }
    let len = len as i128;
    let step = step as i128;
    let adjust = |v: i64, lo: i128, hi: i128| -> i128 {
        let mut v = v as i128;
        if v < 0 {
            v += len;
        }
        v.clamp(lo, hi)
    };
    let (s, e) = if step > 0 {
        (
            start.map_or(0, |v| adjust(v, 0, len)),
            stop.map_or(len, |v| adjust(v, 0, len)),
        )
    } else {
        (
            start.map_or(len - 1, |v| adjust(v, -1, len - 1)),
            stop.map_or(-1, |v| adjust(v, -1, len - 1)),
        )
    };
    let count = if step > 0 {
        if e > s {
            (e - s + step - 1) / step
        } else {
            0
        }
    } else if s > e {
        (s - e + (-step) - 1) / (-step)
    } else {
        0
    };
    Ok((s, step, count as usize))
}

/// Resolves a possibly negative index against an axis of size `size`.
pub(crate) fn resolve_index(i: i64, axis: usize, size: usize) -> Result<usize> {
    let n = size as i128;
    let v = i as i128;
    let r = if v < 0 { v + n } else { v };
    if r < 0 || r >= n {
        Err(TensorError::IndexOutOfRange { index: i, axis, size })
    } else {
        Ok(r as usize)
    }
}

/// Converts an index value stored as `f64` into an integer.
pub(crate) fn to_index(v: f64) -> Result<i64> {
    if v.fract() != 0.0 || !v.is_finite() || v.abs() > 9.0e15 {
        return Err(TensorError::NotInteger { value: v });
    }
    Ok(v as i64)
}

/// A view description: (shape, strides, offset).
type ViewParts = (Vec<usize>, Vec<isize>, isize);

fn slice_parts(shape: &[usize], strides: &[isize], offset: isize, specs: &[SliceSpec]) -> Result<ViewParts> {
    let consumed = specs.iter().filter(|s| !matches!(s, SliceSpec::NewAxis)).count();
    if consumed > shape.len() {
        return Err(TensorError::Invalid(format!(
            "too many indices for a tensor of shape {}: {} given, at most {} allowed",
            crate::format_shape(shape),
            consumed,
            shape.len()
        )));
    }
    let mut out_shape = Vec::with_capacity(shape.len() + specs.len());
    let mut out_strides = Vec::with_capacity(shape.len() + specs.len());
    let mut off = offset;
    let mut axis = 0;
    for spec in specs {
        match spec {
            SliceSpec::NewAxis => {
                out_shape.push(1);
                out_strides.push(0);
            }
            SliceSpec::Index(i) => {
                let r = resolve_index(*i, axis, shape[axis])?;
                off += r as isize * strides[axis];
                axis += 1;
            }
            SliceSpec::Range { start, stop, step } => {
                let (s, st, count) = resolve_range(*start, *stop, *step, shape[axis])?;
                if count > 0 {
                    off += s as isize * strides[axis];
                }
                out_shape.push(count);
                out_strides.push(if count > 1 {
                    strides[axis] * st as isize
                } else {
                    strides[axis]
                });
                axis += 1;
            }
        }
    }
    while axis < shape.len() {
        out_shape.push(shape[axis]);
        out_strides.push(strides[axis]);
        axis += 1;
    }
    Ok((out_shape, out_strides, off))
}

impl Tensor {
    /// Basic indexing `x[specs...]` as a view. Missing trailing specs are full
    /// ranges; more axis-consuming specs than axes is an error.
    pub fn slice(&self, specs: &[SliceSpec]) -> Result<Tensor> {
        let (shape, strides, off) = slice_parts(&self.shape, &self.strides, self.offset as isize, specs)?;
        Ok(Tensor {
            data: self.data.clone(),
            shape,
            strides,
            offset: off as usize,
            dtype: self.dtype,
        })
    }

    /// Adjoint of [`slice`](Self::slice): a zero tensor of `input_shape` with
    /// `grad` written where the slice reads (signed zeros kept). `grad` must
    /// broadcast to the slice's shape.
    pub fn slice_scatter(grad: &Tensor, specs: &[SliceSpec], input_shape: &[usize]) -> Result<Tensor> {
        let mut out = crate::buffer::alloc_filled(input_shape, 0.0)?;
        let base = contiguous_strides(input_shape);
        let (shape, strides, off) = slice_parts(input_shape, &base, 0, specs)?;
        if broadcast_shapes(&grad.shape, &shape).as_deref() != Some(&shape[..]) {
            return Err(TensorError::Broadcast {
                left: grad.shape.clone(),
                right: shape,
                op: "slice_scatter".into(),
            });
        }
        let gs = broadcast_strides(&grad.shape, &grad.strides, &shape);
        let gd = &grad.data[..];
        for_each_row(
            &shape,
            [&strides, &gs],
            [off, grad.offset as isize],
            |[oo, go], len, [so, sg]| {
                // A basic slice names each position once: the values are
                // written, not added to the zeros (which would turn -0.0 into
                // 0.0, as JAX's transpose of a slice, a pad, does not).
                for i in 0..len as isize {
                    out[(oo + i * so) as usize] = gd[(go + i * sg) as usize];
                }
            },
        );
        Ok(Tensor::from_parts(out, input_shape.to_vec()))
    }

    fn take_setup(shape: &[usize], indices: &Tensor, axis: usize) -> Result<(Vec<usize>, Vec<usize>)> {
        check_axis(axis, shape.len())?;
        let size = shape[axis];
        let idx = indices
            .to_vec()
            .into_iter()
            .map(|v| to_index(v).and_then(|i| resolve_index(i, axis, size)))
            .collect::<Result<Vec<usize>>>()?;
        let mut out_shape = shape[..axis].to_vec();
        out_shape.extend_from_slice(&indices.shape);
        out_shape.extend_from_slice(&shape[axis + 1..]);
        Ok((idx, out_shape))
    }

    /// NumPy `take` along `axis`: output shape is
    /// `shape[..axis] + indices.shape + shape[axis+1..]`. Indices must be
    /// integral; negative ones count from the end.
    pub fn take(&self, indices: &Tensor, axis: usize) -> Result<Tensor> {
        let (idx, out_shape) = Tensor::take_setup(&self.shape, indices, axis)?;
        let mut out = crate::buffer::alloc(&out_shape)?;
        if checked_size(&out_shape)? == 0 {
            // Nothing to copy; the loops below could run over huge empty axes.
            return Ok(Tensor::from_parts(out, out_shape));
        }
        let src = self.contiguous();
        let data = src.as_slice().unwrap_or(&[]);
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let size = self.shape[axis];
        for o in 0..outer {
            let base = o * size * inner;
            for &i in &idx {
                let s = base + i * inner;
                out.extend_from_slice(&data[s..s + inner]);
            }
        }
        let mut t = Tensor::from_parts(out, out_shape);
        // A gather copies elements, so it keeps their type.
        t.dtype = self.dtype;
        Ok(t)
    }

    /// Adjoint of [`take`](Self::take): scatter-adds `grad` (of the shape
    /// `take` would produce) into zeros of `input_shape`; repeated indices
    /// accumulate. The first contribution to a position is written, not
    /// added to zero, so a lone `-0.0` keeps its sign: the same bits as the
    /// adjoint of indexing by a plain int ([`slice_scatter`](Self::slice_scatter)),
    /// which is what a traced index replaces under jit.
    pub fn take_scatter(grad: &Tensor, indices: &Tensor, axis: usize, input_shape: &[usize]) -> Result<Tensor> {
        let (idx, out_shape) = Tensor::take_setup(input_shape, indices, axis)?;
        if grad.shape != out_shape {
            return Err(TensorError::Invalid(format!(
                "take_scatter: gradient of shape {} does not match the take result shape {}",
                crate::format_shape(&grad.shape),
                crate::format_shape(&out_shape)
            )));
        }
        let mut out = crate::buffer::alloc_filled(input_shape, 0.0)?;
        if out.is_empty() {
            return Ok(Tensor::from_parts(out, input_shape.to_vec()));
        }
        let g = grad.contiguous();
        let gd = g.as_slice().unwrap_or(&[]);
        let outer: usize = input_shape[..axis].iter().product();
        let inner: usize = input_shape[axis + 1..].iter().product();
        let size = input_shape[axis];
        // Whether each index is the first occurrence of its value (the same
        // for every outer position).
        let mut seen = vec![false; size];
        let first: Vec<bool> = idx.iter().map(|&i| !std::mem::replace(&mut seen[i], true)).collect();
        let mut pos = 0;
        for o in 0..outer {
            let base = o * size * inner;
            for (&i, &write) in idx.iter().zip(&first) {
                let d = base + i * inner;
                let (dst, src) = (&mut out[d..d + inner], &gd[pos..pos + inner]);
                if write {
                    dst.copy_from_slice(src);
                } else {
                    dst.iter_mut().zip(src).for_each(|(x, &y)| *x += y);
                }
                pos += inner;
            }
        }
        Ok(Tensor::from_parts(out, input_shape.to_vec()))
    }

    /// Joins tensors along an existing axis; all other axes must agree.
    pub fn concat(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| TensorError::Invalid("concat needs at least one tensor".into()))?;
        let nd = first.ndim();
        if nd == 0 {
            return Err(TensorError::Invalid(
                "cannot concatenate 0-d tensors (use stack instead)".into(),
            ));
        }
        check_axis(axis, nd)?;
        let mut total_axis = 0usize;
        for p in parts {
            let ok = p.ndim() == nd && (0..nd).all(|i| i == axis || p.shape[i] == first.shape[i]);
            if !ok {
                return Err(TensorError::Invalid(format!(
                    "cannot concatenate shapes {} and {} along axis {}",
                    crate::format_shape(&first.shape),
                    crate::format_shape(&p.shape),
                    axis
                )));
            }
            // A checked sum: the joined axis must not wrap (nor saturate into
            // a size no int can hold; `checked_size` bounds it to i64 below).
            total_axis = total_axis.checked_add(p.shape[axis]).ok_or_else(|| {
                TensorError::Invalid(format!(
                    "cannot concatenate: the joined axis {} would have more than {} elements",
                    axis,
                    i64::MAX
                ))
            })?;
        }
        let mut out_shape = first.shape.clone();
        out_shape[axis] = total_axis;
        // The parts' elements are copied: the result is bool when all of them are.
        let dtype = if parts.iter().all(|p| p.is_bool()) {
            crate::DType::Bool
        } else {
            crate::DType::F64
        };
        let mut out = crate::buffer::alloc(&out_shape)?;
        if checked_size(&out_shape)? == 0 {
            let mut t = Tensor::from_parts(out, out_shape);
            t.dtype = dtype;
            return Ok(t);
        }
        let outer: usize = first.shape[..axis].iter().product();
        let inner: usize = first.shape[axis + 1..].iter().product();
        let conts: Vec<Tensor> = parts.iter().map(|p| p.contiguous()).collect();
        for o in 0..outer {
            for c in &conts {
                let chunk = c.shape[axis] * inner;
                let d = c.as_slice().unwrap_or(&[]);
                out.extend_from_slice(&d[o * chunk..(o + 1) * chunk]);
            }
        }
        let mut t = Tensor::from_parts(out, out_shape);
        t.dtype = dtype;
        Ok(t)
    }

    /// Joins same-shape tensors along a new axis inserted at `axis` (in `0..=ndim`).
    pub fn stack(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
        let first = parts
            .first()
            .ok_or_else(|| TensorError::Invalid("stack needs at least one tensor".into()))?;
        for p in parts {
            if p.shape != first.shape {
                return Err(TensorError::Invalid(format!(
                    "cannot stack tensors of different shapes {} and {}",
                    crate::format_shape(&first.shape),
                    crate::format_shape(&p.shape)
                )));
            }
        }
        let expanded = parts
            .iter()
            .map(|p| p.expand_dims(axis))
            .collect::<Result<Vec<Tensor>>>()?;
        let refs: Vec<&Tensor> = expanded.iter().collect();
        Tensor::concat(&refs, axis)
    }

    /// One-hot encoding of integral labels in `0..n`: shape `self.shape + (n,)`.
    pub fn one_hot(&self, n: usize) -> Result<Tensor> {
        let mut shape = self.shape.clone();
        shape.push(n);
        let mut out = crate::buffer::alloc_filled(&shape, 0.0)?;
        for (row, v) in self.to_vec().into_iter().enumerate() {
            let i = to_index(v)?;
            if i < 0 || i as u64 >= n as u64 {
                return Err(TensorError::Invalid(format!(
                    "label {} is out of range for one_hot with {} classes (valid: 0..{})",
                    i, n, n
                )));
            }
            out[row * n + i as usize] = 1.0;
        }
        Ok(Tensor::from_parts(out, shape))
    }
}
