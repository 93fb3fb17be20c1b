//! 2-d max and average pooling over NCHW tensors, with their adjoints.
//!
//! Max pooling reads padding as `-inf` (it never wins) and routes a window's
//! gradient to its *first* maximum in row-major order, as PyTorch and XLA's
//! `select_and_scatter` do; a NaN counts as the maximum so it propagates.
//! Average pooling reads padding as zero and always divides by the full
//! window size (PyTorch's `count_include_pad=True`, `flax.linen.avg_pool`),
//! which keeps it a fixed linear map. 1-d pooling is 2-d pooling with a
//! height of 1 (the caller reshapes).
//!
//! The max-pool adjoints take the pooled input `x` itself and recompute each
//! window's selected element (its first maximum) from it, so no index tensor has to travel with the
//! gradient: [`Tensor::max_pool2d_scatter`] (the VJP, linear in the
//! cotangent) and [`Tensor::max_pool2d_gather`] (the JVP, and the VJP of
//! the scatter) are each other's transposes.

use crate::error::{checked_size, Result, TensorError};
use crate::tensor::Tensor;

/// The static parameters of a 2-d pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    /// Window size, per spatial axis (height, width).
    pub size: [usize; 2],
    /// Step between windows, per spatial axis.
    pub stride: [usize; 2],
    /// Padding `[[top, bottom], [left, right]]`; at most half the window on each side.
    pub padding: [[usize; 2]; 2],
}

/// Validated shapes of one pooling.
#[derive(Clone, Copy, Debug)]
struct Geom {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    spec: PoolSpec,
}

impl Geom {
    fn new(x: &[usize], spec: &PoolSpec, what: &str) -> Result<Geom> {
        if x.len() != 4 {
            return Err(TensorError::Invalid(format!(
                "{what} needs a 4-d input (N, C, H, W), found shape {}",
                crate::format_shape(x)
            )));
        }
        if spec.size.contains(&0) || spec.stride.contains(&0) {
            return Err(TensorError::Invalid(format!(
                "{what}: window size and stride must be at least 1, found size {:?}, stride {:?}",
                spec.size, spec.stride
            )));
        }
        let mut out = [0; 2];
        for a in 0..2 {
            let (k, p) = (spec.size[a], spec.padding[a]);
            if 2 * p[0] > k || 2 * p[1] > k {
                return Err(TensorError::Invalid(format!(
                    "{what}: padding {} + {} along spatial axis {a} is more than half the window size {k}",
                    p[0], p[1]
                )));
            }
            let padded = x[2 + a] + p[0] + p[1];
            out[a] = padded.checked_sub(k).map(|r| r / spec.stride[a] + 1).ok_or_else(|| {
                TensorError::Invalid(format!(
                    "{what}: the window (size {k}) is larger than the padded input (size {} + padding {} + {}) along spatial axis {a}",
                    x[2 + a], p[0], p[1]
                ))
            })?;
        }
        let g = Geom {
            planes: x[0] * x[1],
            h: x[2],
            w: x[3],
            oh: out[0],
            ow: out[1],
            spec: *spec,
        };
        checked_size(&[x[0], x[1], g.oh, g.ow])?;
        Ok(g)
    }

    /// Calls `f(out_index, in_offsets)` for every output element, where
    /// `in_offsets` are the flat input positions of its window's real
    /// (non-padding) elements in row-major window order.
    fn for_each_window(&self, mut f: impl FnMut(usize, &[usize])) {
        let s = self.spec;
        let mut taps = Vec::with_capacity(s.size[0] * s.size[1]);
        let mut out = 0;
        for plane in 0..self.planes {
            let base = plane * self.h * self.w;
            for oy in 0..self.oh {
                for ox in 0..self.ow {
                    taps.clear();
                    for i in 0..s.size[0] {
                        let y = (oy * s.stride[0] + i) as isize - s.padding[0][0] as isize;
                        if y < 0 || y >= self.h as isize {
                            continue;
                        }
                        for j in 0..s.size[1] {
                            let x = (ox * s.stride[1] + j) as isize - s.padding[1][0] as isize;
                            if x >= 0 && x < self.w as isize {
                                taps.push(base + y as usize * self.w + x as usize);
                            }
                        }
                    }
                    f(out, &taps);
                    out += 1;
                }
            }
        }
    }

    fn out_shape(&self, x: &[usize]) -> Vec<usize> {
        vec![x[0], x[1], self.oh, self.ow]
    }

    /// For every output element, the flat input index its window's
    /// derivative goes to (`None` for a window with no real element): XLA's
    /// `select_and_scatter` with `>=`, as JAX differentiates max pooling. The
    /// first element is selected and kept while it compares `>=` the next, so
    /// a tie (`-0.0` with `+0.0` too) goes to the first, and a NaN is passed
    /// over by the element after it (`[nan, 1]` selects the 1, `[1, nan]` the NaN).
    fn selected(&self, x: &[f64]) -> Vec<Option<usize>> {
        let mut idx = Vec::with_capacity(self.planes * self.oh * self.ow);
        self.for_each_window(|_, taps| {
            let mut best: Option<usize> = None;
            for &t in taps {
                best = match best {
                    Some(b) if x[b] >= x[t] => Some(b),
                    _ => Some(t),
                };
            }
            idx.push(best);
        });
        idx
    }
}

/// XLA's `max` of two floats: a NaN wins, and `+0.0` beats `-0.0`.
fn xla_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() {
            a
        } else {
            b
        }
    } else {
        a.max(b)
    }
}

/// The elements of a tensor as a contiguous slice (copied only for strided views).
fn data_of(t: &Tensor) -> std::borrow::Cow<'_, [f64]> {
    match t.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_vec()),
    }
}

impl Tensor {
    /// Max pooling of an `(N, C, H, W)` tensor: the largest element of each
    /// window, `(N, C, OH, OW)`.
    pub fn max_pool2d(&self, spec: &PoolSpec) -> Result<Tensor> {
        let g = Geom::new(&self.shape, spec, "max_pool2d")?;
        let xs = data_of(self);
        let mut out = Vec::with_capacity(g.planes * g.oh * g.ow);
        g.for_each_window(|_, taps| out.push(taps.iter().fold(f64::NEG_INFINITY, |m, &t| xla_max(m, xs[t]))));
        Ok(Tensor::from_parts(out, g.out_shape(&self.shape)))
    }

    /// `self` (shaped like `x`) read at the element of each pooling window
    /// of `x` its derivative goes to (see `Geom::selected`): the tangent of [`Tensor::max_pool2d`] at `x` in
    /// direction `self`.
    pub fn max_pool2d_gather(&self, x: &Tensor, spec: &PoolSpec) -> Result<Tensor> {
        let g = Geom::new(&x.shape, spec, "max_pool2d")?;
        same_shape(self, &x.shape, "max_pool2d_gather")?;
        let (xs, vs) = (data_of(x), data_of(self));
        let out: Vec<f64> = g
            .selected(&xs)
            .into_iter()
            .map(|i| i.map_or(f64::NEG_INFINITY, |i| vs[i]))
            .collect();
        Ok(Tensor::from_parts(out, g.out_shape(&x.shape)))
    }

    /// The gradient of [`Tensor::max_pool2d`] at `x`: each element of the
    /// output cotangent `grad` added at its window's selected element (see
    /// `Geom::selected`: the first maximum, as JAX) in zeros
    /// shaped like `x`.
    pub fn max_pool2d_scatter(grad: &Tensor, x: &Tensor, spec: &PoolSpec) -> Result<Tensor> {
        let g = Geom::new(&x.shape, spec, "max_pool2d")?;
        same_shape(grad, &g.out_shape(&x.shape), "max_pool2d gradient")?;
        let gy = data_of(grad);
        let mut dx = crate::buffer::alloc_filled(&x.shape, 0.0)?;
        for (o, i) in g.selected(&data_of(x)).into_iter().enumerate() {
            if let Some(i) = i {
                dx[i] += gy[o];
            }
        }
        Ok(Tensor::from_parts(dx, x.shape.clone()))
    }

    /// Average pooling of an `(N, C, H, W)` tensor: each window's sum divided
    /// by the window size (padding counts as zeros).
    pub fn avg_pool2d(&self, spec: &PoolSpec) -> Result<Tensor> {
        let g = Geom::new(&self.shape, spec, "avg_pool2d")?;
        let scale = 1.0 / (spec.size[0] * spec.size[1]) as f64;
        let xs = data_of(self);
        let mut out = Vec::with_capacity(g.planes * g.oh * g.ow);
        g.for_each_window(|_, taps| out.push(taps.iter().map(|&t| xs[t]).sum::<f64>() * scale));
        Ok(Tensor::from_parts(out, g.out_shape(&self.shape)))
    }

    /// The gradient of [`Tensor::avg_pool2d`]: each element of the output
    /// cotangent spread evenly over its window, in zeros of `input_shape`.
    pub fn avg_pool2d_backward(grad: &Tensor, input_shape: &[usize], spec: &PoolSpec) -> Result<Tensor> {
        let g = Geom::new(input_shape, spec, "avg_pool2d")?;
        same_shape(grad, &g.out_shape(input_shape), "avg_pool2d gradient")?;
        let scale = 1.0 / (spec.size[0] * spec.size[1]) as f64;
        let gy = data_of(grad);
        let mut dx = crate::buffer::alloc_filled(input_shape, 0.0)?;
        g.for_each_window(|o, taps| {
            for &t in taps {
                dx[t] += gy[o] * scale;
            }
        });
        Ok(Tensor::from_parts(dx, input_shape.to_vec()))
    }
}

fn same_shape(t: &Tensor, shape: &[usize], what: &str) -> Result<()> {
    if t.shape != shape {
        return Err(TensorError::Invalid(format!(
            "{what}: expected shape {}, found {}",
            crate::format_shape(shape),
            crate::format_shape(&t.shape)
        )));
    }
    Ok(())
}
