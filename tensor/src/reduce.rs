//! Reductions (sum/prod/max/min over axes) and argmax/argmin.

use crate::error::{check_axis, checked_size, Result, TensorError};
use crate::iter::{coalesce, for_each_row};
use crate::ops::{maximum, minimum, ReduceOp};
use crate::simd::{multiversion, Mode};
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

#[inline(always)]
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
    crate::vreduce::signed_zero(crate::vreduce::extreme(x, is_max), x, is_max)
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

/// [`sum_slice`] compiled inside the caller's instruction set (a slice of
/// at most [`PAIRWISE_BLOCK`] elements is one leaf of the pairwise sum).
#[inline(always)]
pub(crate) fn sum_row(x: &[f64]) -> f64 {
    if x.len() <= PAIRWISE_BLOCK {
        sum_leaf(x)
    } else {
        sum_slice(x)
    }
}

/// A reduction whose every output element reduces one contiguous row.
struct Rows<'a> {
    data: &'a [f64],
    /// Element offset of row 0 and the distance between rows.
    offset: isize,
    stride: isize,
    /// Elements per row (at least one).
    len: usize,
    op: ReduceOp,
}

#[inline(always)]
fn reduce_rows_impl<M: Mode>(r: Rows<'_>, out: &mut [f64]) {
    // One loop per operator (LLVM kept the operator's dispatch inside a
    // shared loop), each computing `op.combine(out[i], reduce_slice(row i))`;
    // a macro, not a closure, so everything compiles for `M`'s instruction set.
    macro_rules! each_row {
        (|$o:ident, $x:ident| $e:expr) => {
            for (i, $o) in out.iter_mut().enumerate() {
                // In bounds: the rows are elements of the input view.
                let lo = (r.offset + i as isize * r.stride) as usize;
                let $x = &r.data[lo..lo + r.len];
                *$o = $e;
            }
        };
    }
    match r.op {
        ReduceOp::Sum if r.len <= PAIRWISE_BLOCK => each_row!(|o, x| *o + sum_leaf(x)),
        ReduceOp::Sum => each_row!(|o, x| *o + sum_slice(x)),
        ReduceOp::Prod => each_row!(|o, x| *o * prod_slice(x)),
        ReduceOp::Max => each_row!(|o, x| maximum(*o, crate::vreduce::extreme_in::<M>(x, true))),
        ReduceOp::Min => each_row!(|o, x| minimum(*o, crate::vreduce::extreme_in::<M>(x, false))),
    }
}

multiversion!(
    /// `out[i] = op(out[i], reduce(row i))` for every row, as the general
    /// loop computes it one row at a time (one dispatch for all rows: a
    /// reduction along a short last axis was mostly per-row overhead).
    fn reduce_rows(r: Rows<'_>, out: &mut [f64]) => reduce_rows_impl
);

#[inline(always)]
fn reduce_cols_impl<M: Mode>(r: Rows<'_>, out: &mut [f64]) {
    let w = out.len();
    let row = |i: usize| {
        // In bounds: the rows are elements of the input view.
        let lo = (r.offset + i as isize * r.stride) as usize;
        &r.data[lo..lo + w]
    };
    // One loop per operator, so each compiles to a plain vector loop.
    match r.op {
        ReduceOp::Sum => (0..r.len).for_each(|i| out.iter_mut().zip(row(i)).for_each(|(d, &s)| *d += s)),
        ReduceOp::Prod => (0..r.len).for_each(|i| out.iter_mut().zip(row(i)).for_each(|(d, &s)| *d *= s)),
        ReduceOp::Max => (0..r.len).for_each(|i| out.iter_mut().zip(row(i)).for_each(|(d, &s)| *d = maximum(*d, s))),
        ReduceOp::Min => (0..r.len).for_each(|i| out.iter_mut().zip(row(i)).for_each(|(d, &s)| *d = minimum(*d, s))),
    }
}

multiversion!(
    /// `out[j] = op(out[j], x[i, j])` for `i` in `0..r.len` in order, row `i`
    /// of `x` starting at `offset + i * stride`: a reduction over leading
    /// axes (a column sum), each output element accumulated in the order of
    /// the general loop, vectorised across the columns.
    fn reduce_cols(r: Rows<'_>, out: &mut [f64]) => reduce_cols_impl
);

#[cfg(test)]
thread_local! {
    /// Tests set this to run the general loop, to compare the fast paths with it.
    static GENERAL_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether [`Tensor::reduce`] must skip its fast paths (only ever in tests).
#[inline(always)]
fn general_only() -> bool {
    #[cfg(test)]
    return GENERAL_ONLY.with(|g| g.get());
    #[cfg(not(test))]
    false
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
        // Two common layouts get one call over all rows: a reduction along
        // contiguous rows (one output per row) and one over leading axes of
        // contiguous rows (one output per column). Both do exactly what the
        // general loop below does, row by row in the same order.
        if count > 0 && out_n > 0 && !general_only() {
            let (cs, [cx, co]) = coalesce(&shape, [&xs, &os]);
            if cs.len() == 2 && cx[1] == 1 {
                let rows = Rows {
                    data,
                    offset: self.offset as isize,
                    stride: cx[0],
                    len: cs[1],
                    op,
                };
                if co[..] == [1, 0] {
                    reduce_rows(rows, &mut out);
                    return Ok(Tensor::from_parts(out, final_shape));
                }
                if co[..] == [0, 1] {
                    reduce_cols(Rows { len: cs[0], ..rows }, &mut out);
                    return Ok(Tensor::from_parts(out, final_shape));
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward values: signed zeros, infinities, NaN (when `nan`), ties.
    fn values(n: usize, seed: u64, nan: bool) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match (state >> 33) % 16 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::INFINITY,
                    3 => f64::NEG_INFINITY,
                    4 if nan => f64::NAN,
                    5 => 1.0,
                    k => (k as f64 - 9.5) * 0.37 + (state >> 40) as f64 * 1e-7,
                }
            })
            .collect()
    }

    /// The result through the general loop only.
    fn general(t: &Tensor, op: ReduceOp, axes: &[usize], keepdims: bool) -> Tensor {
        GENERAL_ONLY.with(|g| g.set(true));
        let r = t.reduce(op, axes, keepdims);
        GENERAL_ONLY.with(|g| g.set(false));
        r.unwrap()
    }

    /// Bit for bit, except that any NaN equals any NaN: which NaN an
    /// addition of two NaNs (or of inf and -inf) gives depends on operand
    /// order that LLVM may swap in each instruction-set build anyway.
    fn same_bits(a: &Tensor, b: &Tensor) -> bool {
        let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
        a.shape == b.shape && a.to_vec().iter().zip(b.to_vec()).all(|(x, y)| same(*x, y))
    }

    /// Every reduction of 2-d and 3-d tensors (contiguous, transposed,
    /// sliced, broadcast; short and long rows; with and without NaN) gives
    /// exactly the general loop's bits.
    #[test]
    fn fast_paths_match_the_general_loop() {
        let ops = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min];
        let mut seed = 1;
        for (r, c) in [
            (1, 1),
            (1, 7),
            (7, 1),
            (3, 2),
            (256, 10),
            (5, 31),
            (4, 32),
            (3, 33),
            (9, 128),
            (2, 300),
            (300, 3),
        ] {
            for nan in [false, true] {
                seed += 1;
                let x = Tensor::from_vec(values(r * c, seed, nan), &[r, c]).unwrap();
                let xt = x.t();
                let col = Tensor::from_vec(values(r, seed + 100, nan), &[r, 1]).unwrap();
                let wide = col.broadcast_to(&[r, c]).unwrap();
                let x3 = Tensor::from_vec(values(2 * r * c, seed + 200, nan), &[2, r, c]).unwrap();
                let x3p = x3.transpose(&[1, 0, 2]).unwrap();
                for t in [&x, &xt, &wide, &x3, &x3p] {
                    let nd = t.ndim();
                    let mut axis_sets: Vec<Vec<usize>> = (0..nd).map(|a| vec![a]).collect();
                    axis_sets.push((0..nd).collect());
                    if nd == 3 {
                        axis_sets.extend([vec![0, 1], vec![1, 2], vec![0, 2]]);
                    }
                    for axes in &axis_sets {
                        for op in ops {
                            for keepdims in [false, true] {
                                let fast = t.reduce(op, axes, keepdims).unwrap();
                                let want = general(t, op, axes, keepdims);
                                assert!(
                                    same_bits(&fast, &want),
                                    "{op:?} over {axes:?} of {:?} (strides {:?}): {:?} vs {:?}",
                                    t.shape,
                                    t.strides,
                                    fast.to_vec(),
                                    want.to_vec()
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Row extremes order -0.0 below +0.0 whatever the order of the
    /// elements (as XLA's max and min), and NaN wins.
    #[test]
    fn short_row_extremes_order_signed_zeros_and_keep_nan() {
        let x = Tensor::from_vec(vec![-0.0, 0.0, 0.0, -0.0, f64::NAN, 1.0], &[3, 2]).unwrap();
        let m = x.reduce(ReduceOp::Max, &[1], false).unwrap().to_vec();
        assert_eq!(m[0].to_bits(), 0.0f64.to_bits());
        assert_eq!(m[1].to_bits(), 0.0f64.to_bits());
        assert!(m[2].is_nan());
        let m = x.reduce(ReduceOp::Min, &[1], false).unwrap().to_vec();
        assert_eq!(m[0].to_bits(), (-0.0f64).to_bits());
        assert_eq!(m[1].to_bits(), (-0.0f64).to_bits());
        assert!(m[2].is_nan());
        // Along the outer axis (elementwise accumulation) and over long rows
        // (the lane kernel) alike.
        let m = x.reduce(ReduceOp::Max, &[0], false).unwrap().to_vec();
        assert!(m[0].is_nan() && m[1] == 1.0);
        let mut long = vec![-0.0; 70];
        long[50] = 0.0;
        let t = Tensor::from_vec(long.clone(), &[70]).unwrap();
        assert_eq!(
            t.reduce(ReduceOp::Max, &[0], false).unwrap().to_vec()[0].to_bits(),
            0.0f64.to_bits()
        );
        let t = Tensor::from_vec(long.iter().map(|v| -v).collect(), &[70]).unwrap();
        assert_eq!(
            t.reduce(ReduceOp::Min, &[0], false).unwrap().to_vec()[0].to_bits(),
            (-0.0f64).to_bits()
        );
        let s = x.reduce(ReduceOp::Sum, &[0], false).unwrap().to_vec();
        assert!(s[0].is_nan() && s[1] == 1.0);
        // Sums of negative zeros start from +0.0, as before.
        let z = Tensor::from_vec(vec![-0.0; 6], &[3, 2]).unwrap();
        for axis in [0, 1] {
            let v = z.reduce(ReduceOp::Sum, &[axis], false).unwrap().to_vec();
            assert!(v.iter().all(|v| v.to_bits() == 0.0f64.to_bits()));
        }
    }

    /// Empty inputs still give identities or errors.
    #[test]
    fn empty_reductions() {
        let e = Tensor::from_vec(vec![], &[0, 3]).unwrap();
        assert_eq!(e.reduce(ReduceOp::Sum, &[0], false).unwrap().to_vec(), vec![0.0; 3]);
        assert_eq!(e.reduce(ReduceOp::Sum, &[1], false).unwrap().shape, vec![0]);
        assert!(e.reduce(ReduceOp::Max, &[0], false).is_err());
    }
}
