//! The [`Tensor`] type: storage, constructors, metadata and zero-copy views.

use crate::error::{check_axis, checked_size, Result, TensorError};
use crate::iter::{contiguous_strides, for_each_row};
use std::rc::Rc;

/// A tensor shape: one size per axis.
pub type Shape = Vec<usize>;

/// An n-dimensional array of `f64`.
///
/// Storage is a reference-counted buffer shared between views; `shape`,
/// `strides` (in elements, possibly zero or negative) and `offset` describe
/// which elements of the buffer the tensor sees. Transposes, basic slices,
/// broadcasts and `expand_dims`/`squeeze` are views that copy nothing.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub(crate) data: Rc<Vec<f64>>,
    pub(crate) shape: Shape,
    pub(crate) strides: Vec<isize>,
    pub(crate) offset: usize,
    /// The element type (bools are stored as 0.0/1.0; see `dtype.rs`).
    pub(crate) dtype: crate::dtype::DType,
}

/// The broadcast of two shapes under NumPy rules, or `None` if incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db {
            da
        } else if da == 1 {
            db
        } else if db == 1 {
            da
        } else {
            return None;
        };
    }
    Some(out)
}

/// Strides that make a tensor with (`shape`, `strides`) appear to have
/// `target` shape (zero strides on broadcast axes). Caller checks validity.
pub(crate) fn broadcast_strides(shape: &[usize], strides: &[isize], target: &[usize]) -> Vec<isize> {
    let n = target.len();
    let lead = n - shape.len();
    let mut out = vec![0isize; n];
    for i in 0..shape.len() {
        out[lead + i] = if shape[i] == 1 && target[lead + i] != 1 {
            0
        } else {
            strides[i]
        };
    }
    out
}

impl Tensor {
    /// Wraps an owned contiguous buffer. Caller guarantees `data.len() == product(shape)`.
    pub(crate) fn from_parts(data: Vec<f64>, shape: Shape) -> Tensor {
        let strides = contiguous_strides(&shape);
        Tensor {
            data: Rc::new(data),
            shape,
            strides,
            offset: 0,
            dtype: crate::dtype::DType::F64,
        }
    }

    /// Builds a tensor from row-major data; `data.len()` must equal the
    /// product of `shape`.
    pub fn from_vec(data: Vec<f64>, shape: &[usize]) -> Result<Tensor> {
        let n = checked_size(shape)?;
        if n != data.len() {
            return Err(TensorError::DataLength {
                len: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(Tensor::from_parts(data, shape.to_vec()))
    }

    /// A 0-d tensor holding `x`.
    pub fn scalar(x: f64) -> Tensor {
        Tensor::from_parts(vec![x], Vec::new())
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Result<Tensor> {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Result<Tensor> {
        Tensor::full(shape, 1.0)
    }

    /// A tensor with every element equal to `v`.
    pub fn full(shape: &[usize], v: f64) -> Result<Tensor> {
        Ok(Tensor::from_parts(
            crate::buffer::alloc_filled(shape, v)?,
            shape.to_vec(),
        ))
    }

    /// The `n x n` identity matrix.
    pub fn eye(n: usize) -> Result<Tensor> {
        let mut t = crate::buffer::alloc_filled(&[n, n], 0.0)?;
        for i in 0..n {
            t[i * n + i] = 1.0;
        }
        Ok(Tensor::from_parts(t, vec![n, n]))
    }

    /// NumPy `arange`: `ceil((stop - start) / step)` values `start + i * step`.
    /// Errors on a zero or non-finite step, non-finite bounds, or too many values.
    pub fn arange(start: f64, stop: f64, step: f64) -> Result<Tensor> {
        if step == 0.0 {
            return Err(TensorError::Invalid("arange step must not be zero".into()));
        }
        if !start.is_finite() || !stop.is_finite() || !step.is_finite() {
            return Err(TensorError::Invalid("arange bounds and step must be finite".into()));
        }
        let len = ((stop - start) / step).ceil();
        let n = if len > 0.0 { len } else { 0.0 };
        if n > crate::error::MAX_ELEMENTS as f64 {
            return Err(TensorError::Invalid(format!(
                "arange({}, {}, {}) would have too many elements ({:e}; the limit is 2^31)",
                crate::format_float(start),
                crate::format_float(stop),
                crate::format_float(step),
                n
            )));
        }
        let n = n as usize;
        let mut data = crate::buffer::alloc(&[n])?;
        data.extend((0..n).map(|i| start + i as f64 * step));
        Ok(Tensor::from_parts(data, vec![n]))
    }

    /// `n` evenly spaced values from `start` to `stop`, both endpoints included
    /// exactly (NumPy `linspace`).
    pub fn linspace(start: f64, stop: f64, n: usize) -> Result<Tensor> {
        let mut data = crate::buffer::alloc(&[n])?;
        if n == 1 {
            data.push(start);
        } else if n > 1 {
            let div = (n - 1) as f64;
            let step = (stop - start) / div;
            for i in 0..n {
                data.push(start + i as f64 * step);
            }
            data[n - 1] = stop;
        }
        Ok(Tensor::from_parts(data, vec![n]))
    }

    /// The size of every axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Strides (in elements) of every axis into [`raw_data`](Self::raw_data).
    pub fn strides(&self) -> &[isize] {
        &self.strides
    }

    /// Offset (in elements) of the first element into [`raw_data`](Self::raw_data).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The whole underlying buffer, possibly shared with other views.
    pub fn raw_data(&self) -> &[f64] {
        &self.data
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn size(&self) -> usize {
        // Wrapping is exact here: a shape with more than 2^31 elements never
        // passes `checked_size`, so only a zero-size shape can overflow, and
        // any product with a factor 0 is 0 modulo 2^64 too.
        self.shape.iter().fold(1usize, |n, &d| n.wrapping_mul(d))
    }

    /// The elements in row-major order as a fresh vector.
    pub fn to_vec(&self) -> Vec<f64> {
        if let Some(s) = self.as_slice() {
            return s.to_vec();
        }
        let mut out = crate::buffer::with_capacity(self.size());
        self.append_to(&mut out);
        out
    }

    /// Like [`to_vec`](Self::to_vec), but the copy is checked against the
    /// memory budget: kernels that work on a private copy of their input
    /// (the decompositions, sorting) would otherwise double memory unchecked.
    pub(crate) fn to_vec_checked(&self) -> crate::Result<Vec<f64>> {
        let mut out = crate::buffer::alloc(&self.shape)?;
        match self.as_slice() {
            Some(s) => out.extend_from_slice(s),
            None => self.append_to(&mut out),
        }
        Ok(out)
    }

    /// Like [`contiguous`](Self::contiguous), with a copy (if one is needed)
    /// checked against the memory budget.
    pub(crate) fn contiguous_checked(&self) -> crate::Result<Tensor> {
        if self.is_contiguous() {
            Ok(self.clone())
        } else {
            let mut t = Tensor::from_parts(self.to_vec_checked()?, self.shape.clone());
            t.dtype = self.dtype;
            Ok(t)
        }
    }

    /// Appends the elements in row-major order to `out`.
    fn append_to(&self, out: &mut Vec<f64>) {
        let data = &self.data[..];
        for_each_row(&self.shape, [&self.strides], [self.offset as isize], |[o], len, [s]| {
            match s {
                1 => out.extend_from_slice(&data[o as usize..o as usize + len]),
                // A broadcast axis: one element repeated (no per-element push).
                0 => out.resize(out.len() + len, data[o as usize]),
                _ => out.extend((0..len as isize).map(|i| data[(o + i * s) as usize])),
            }
        });
    }

    /// The elements as a contiguous row-major slice, if the tensor is contiguous.
    pub fn as_slice(&self) -> Option<&[f64]> {
        if self.is_contiguous() {
            let n = self.size();
            if n == 0 {
                return Some(&[]);
            }
            Some(&self.data[self.offset..self.offset + n])
        } else {
            None
        }
    }

    /// The single element, if the tensor has exactly one.
    pub fn item(&self) -> Option<f64> {
        if self.size() == 1 {
            Some(self.data[self.offset])
        } else {
            None
        }
    }

    /// The element at a full multi-index, or `None` if the index is invalid.
    pub fn get(&self, index: &[usize]) -> Option<f64> {
        if index.len() != self.ndim() {
            return None;
        }
        let mut off = self.offset as isize;
        for ((&i, &n), &s) in index.iter().zip(&self.shape).zip(&self.strides) {
            if i >= n {
                return None;
            }
            off += i as isize * s;
        }
        Some(self.data[off as usize])
    }

    /// Whether `self` and `other` are views of the same buffer.
    pub fn shares_buffer(&self, other: &Tensor) -> bool {
        Rc::ptr_eq(&self.data, &other.data)
    }

    /// Whether the elements are laid out row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            // Checked first: the axes of an empty tensor may multiply past
            // isize before the zero is reached.
            return true;
        }
        let mut expected: isize = 1;
        for i in (0..self.shape.len()).rev() {
            let n = self.shape[i];
            if n != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= n as isize;
        }
        true
    }

    /// A contiguous tensor with the same elements (a cheap clone if already contiguous).
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            self.clone()
        } else {
            let mut t = Tensor::from_parts(self.to_vec(), self.shape.clone());
            t.dtype = self.dtype;
            t
        }
    }

    /// Whether this tensor uniquely owns a contiguous buffer that exactly holds its elements.
    pub(crate) fn is_reusable(&mut self) -> bool {
        self.offset == 0
            && self.data.len() == self.size()
            && self.is_contiguous()
            && Rc::get_mut(&mut self.data).is_some()
    }

    /// Permutes the axes (a view). `perm` must be a permutation of `0..ndim`.
    pub fn transpose(&self, perm: &[usize]) -> Result<Tensor> {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        let bad = perm.len() != nd
            || perm.iter().any(|&p| {
                if p >= nd || seen[p] {
                    true
                } else {
                    seen[p] = true;
                    false
                }
            });
        if bad {
            return Err(TensorError::Invalid(format!(
                "axes {:?} are not a permutation of the {} axes of a tensor of shape {}",
                perm,
                nd,
                crate::format_shape(&self.shape)
            )));
        }
        Ok(Tensor {
            data: self.data.clone(),
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
            dtype: self.dtype,
        })
    }

    /// Reverses all axes (a view); the matrix transpose for 2-d tensors.
    pub fn t(&self) -> Tensor {
        let mut shape = self.shape.clone();
        let mut strides = self.strides.clone();
        shape.reverse();
        strides.reverse();
        Tensor {
            data: self.data.clone(),
            shape,
            strides,
            offset: self.offset,
            dtype: self.dtype,
        }
    }

    /// Same elements in a new shape with the same element count (a view when contiguous).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        crate::error::check_ndim(shape.len())?;
        let n = checked_size(shape).map_err(|_| TensorError::Reshape {
            from: self.shape.clone(),
            to: shape.iter().map(|&d| d.min(i64::MAX as usize) as i64).collect(),
        })?;
        if n != self.size() {
            return Err(TensorError::Reshape {
                from: self.shape.clone(),
                to: shape.iter().map(|&d| d as i64).collect(),
            });
        }
        let c = self.contiguous();
        Ok(Tensor {
            data: c.data,
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: c.offset,
            dtype: self.dtype,
        })
    }

    /// Resolves a reshape target that may contain one `-1` into a concrete shape.
    pub fn resolve_reshape(&self, shape: &[i64]) -> Result<Shape> {
        let err = || TensorError::Reshape {
            from: self.shape.clone(),
            to: shape.to_vec(),
        };
        let mut unknown = None;
        let mut known: usize = 1;
        for (i, &d) in shape.iter().enumerate() {
            if d == -1 {
                if unknown.is_some() {
                    return Err(TensorError::Invalid(format!(
                        "cannot reshape {} into {}: only one dimension can be -1",
                        crate::format_shape(&self.shape),
                        format_ishape(shape)
                    )));
                }
                unknown = Some(i);
            } else if d < 0 {
                return Err(TensorError::Invalid(format!(
                    "cannot reshape {} into {}: negative dimension {}",
                    crate::format_shape(&self.shape),
                    format_ishape(shape),
                    d
                )));
            } else {
                known = known.checked_mul(d as usize).ok_or_else(err)?;
            }
        }
        let total = self.size();
        let mut out: Shape = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(u) = unknown {
            if known == 0 || !total.is_multiple_of(known) {
                return Err(err());
            }
            out[u] = total / known;
        } else if known != total {
            return Err(err());
        }
        Ok(out)
    }

    /// A view with `shape`, repeating size-1 and missing leading axes (zero strides).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let ok = shape.len() >= self.ndim()
            && self
                .shape
                .iter()
                .zip(&shape[shape.len() - self.ndim()..])
                .all(|(&a, &b)| a == b || a == 1);
        if !ok {
            return Err(TensorError::Broadcast {
                left: self.shape.clone(),
                right: shape.to_vec(),
                op: "broadcast_to".into(),
            });
        }
        checked_size(shape)?;
        Ok(Tensor {
            data: self.data.clone(),
            shape: shape.to_vec(),
            strides: broadcast_strides(&self.shape, &self.strides, shape),
            offset: self.offset,
            dtype: self.dtype,
        })
    }

    /// Inserts a size-1 axis at position `axis` (in `0..=ndim`), as a view.
    pub fn expand_dims(&self, axis: usize) -> Result<Tensor> {
        crate::error::check_ndim(self.ndim() + 1)?;
        check_axis(axis, self.ndim() + 1)?;
        let mut shape = self.shape.clone();
        let mut strides = self.strides.clone();
        shape.insert(axis, 1);
        strides.insert(axis, 0);
        Ok(Tensor {
            data: self.data.clone(),
            shape,
            strides,
            offset: self.offset,
            dtype: self.dtype,
        })
    }

    /// Removes size-1 axes: all of them (`None`) or the named ones, which must have size 1.
    pub fn squeeze(&self, axes: Option<&[usize]>) -> Result<Tensor> {
        let nd = self.ndim();
        let mut drop = vec![false; nd];
        match axes {
            None => {
                for (i, &n) in self.shape.iter().enumerate() {
                    drop[i] = n == 1;
                }
            }
            Some(axes) => {
                for &a in axes {
                    check_axis(a, nd)?;
                    if self.shape[a] != 1 {
                        return Err(TensorError::Invalid(format!(
                            "cannot squeeze axis {} of a tensor of shape {}: its size is {}, not 1",
                            a,
                            crate::format_shape(&self.shape),
                            self.shape[a]
                        )));
                    }
                    drop[a] = true;
                }
            }
        }
        let mut shape = Vec::with_capacity(nd);
        let mut strides = Vec::with_capacity(nd);
        for (i, &d) in drop.iter().enumerate() {
            if !d {
                shape.push(self.shape[i]);
                strides.push(self.strides[i]);
            }
        }
        Ok(Tensor {
            data: self.data.clone(),
            shape,
            strides,
            offset: self.offset,
            dtype: self.dtype,
        })
    }

    /// Whether both tensors have the same shape and all elements satisfy
    /// `|a - b| <= atol + rtol * |b|` (NaNs compare equal to NaNs).
    pub fn all_close(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        if self.shape != other.shape {
            return false;
        }
        self.to_vec()
            .iter()
            .zip(other.to_vec())
            .all(|(&a, b)| (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= atol + rtol * b.abs())
    }
}

fn format_ishape(shape: &[i64]) -> String {
    let items: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    match items.len() {
        0 => "()".into(),
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}
