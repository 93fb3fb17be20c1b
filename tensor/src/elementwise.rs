//! Elementwise kernels: unary maps, broadcasting binary ops, `where`.

use crate::dtype::DType;
use crate::error::{checked_size, Result, TensorError};
use crate::iter::{contiguous_strides, for_each_row, for_each_row_in};
use crate::ops::{BinaryOp, UnaryOp};
use crate::pool::{split_min, split_mut, split_rows_mut};
use crate::tensor::{broadcast_shapes, broadcast_strides, Tensor};
use std::mem::MaybeUninit;
use std::rc::Rc;

/// Expands `$body` once per unary operator with `$f` bound to a closure that
/// the compiler can inline (so each kernel is monomorphised).
macro_rules! unary_dispatch {
    ($op:expr, |$f:ident| $body:expr) => {{
        match $op {
            UnaryOp::Neg => {
                let $f = |x: f64| -x;
                $body
            }
            UnaryOp::Exp => {
                let $f = |x: f64| x.exp();
                $body
            }
            UnaryOp::Log => {
                let $f = |x: f64| x.ln();
                $body
            }
            UnaryOp::Log1p => {
                let $f = |x: f64| x.ln_1p();
                $body
            }
            UnaryOp::Expm1 => {
                let $f = |x: f64| x.exp_m1();
                $body
            }
            UnaryOp::Sqrt => {
                let $f = |x: f64| x.sqrt();
                $body
            }
            UnaryOp::Abs => {
                let $f = |x: f64| x.abs();
                $body
            }
            UnaryOp::Sin => {
                let $f = |x: f64| x.sin();
                $body
            }
            UnaryOp::Cos => {
                let $f = |x: f64| x.cos();
                $body
            }
            UnaryOp::Tan => {
                let $f = |x: f64| x.tan();
                $body
            }
            UnaryOp::Tanh => {
                let $f = |x: f64| x.tanh();
                $body
            }
            UnaryOp::Sigmoid => {
                let $f = crate::ops::sigmoid;
                $body
            }
            UnaryOp::Relu => {
                let $f = crate::ops::relu;
                $body
            }
            UnaryOp::Softplus => {
                let $f = crate::ops::softplus;
                $body
            }
            UnaryOp::Sign => {
                let $f = crate::ops::sign;
                $body
            }
            UnaryOp::Floor => {
                let $f = |x: f64| x.floor();
                $body
            }
            UnaryOp::Round => {
                let $f = |x: f64| x.round_ties_even();
                $body
            }
            UnaryOp::IsNan => {
                let $f = |x: f64| if x.is_nan() { 1.0 } else { 0.0 };
                $body
            }
            UnaryOp::Recip => {
                let $f = |x: f64| 1.0 / x;
                $body
            }
            UnaryOp::Square => {
                let $f = |x: f64| x * x;
                $body
            }
            UnaryOp::Sinh => {
                let $f = |x: f64| x.sinh();
                $body
            }
            UnaryOp::Cosh => {
                let $f = |x: f64| x.cosh();
                $body
            }
            UnaryOp::Asinh => {
                let $f = |x: f64| x.asinh();
                $body
            }
            UnaryOp::Acosh => {
                let $f = |x: f64| x.acosh();
                $body
            }
            UnaryOp::Atanh => {
                let $f = |x: f64| x.atanh();
                $body
            }
            UnaryOp::Asin => {
                let $f = |x: f64| x.asin();
                $body
            }
            UnaryOp::Acos => {
                let $f = |x: f64| x.acos();
                $body
            }
            UnaryOp::Atan => {
                let $f = |x: f64| x.atan();
                $body
            }
            UnaryOp::Log2 => {
                let $f = |x: f64| x.log2();
                $body
            }
            UnaryOp::Log10 => {
                let $f = |x: f64| x.log10();
                $body
            }
            UnaryOp::Exp2 => {
                let $f = |x: f64| x.exp2();
                $body
            }
            UnaryOp::Ceil => {
                let $f = |x: f64| x.ceil();
                $body
            }
            UnaryOp::IsFinite => {
                let $f = |x: f64| if x.is_finite() { 1.0 } else { 0.0 };
                $body
            }
            UnaryOp::IsInf => {
                let $f = |x: f64| if x.is_infinite() { 1.0 } else { 0.0 };
                $body
            }
        }
    }};
}

/// Like `unary_dispatch` for binary operators.
macro_rules! binary_dispatch {
    ($op:expr, |$f:ident| $body:expr) => {{
        match $op {
            BinaryOp::Add => {
                let $f = |a: f64, b: f64| a + b;
                $body
            }
            BinaryOp::Sub => {
                let $f = |a: f64, b: f64| a - b;
                $body
            }
            BinaryOp::Mul => {
                let $f = |a: f64, b: f64| a * b;
                $body
            }
            BinaryOp::Div => {
                let $f = |a: f64, b: f64| a / b;
                $body
            }
            BinaryOp::Pow => {
                let $f = crate::elementwise::pow;
                $body
            }
            BinaryOp::Maximum => {
                let $f = crate::ops::maximum;
                $body
            }
            BinaryOp::Minimum => {
                let $f = crate::ops::minimum;
                $body
            }
            BinaryOp::Eq => {
                let $f = |a: f64, b: f64| if a == b { 1.0 } else { 0.0 };
                $body
            }
            BinaryOp::Ne => {
                let $f = |a: f64, b: f64| if a != b { 1.0 } else { 0.0 };
                $body
            }
            BinaryOp::Lt => {
                let $f = |a: f64, b: f64| if a < b { 1.0 } else { 0.0 };
                $body
            }
            BinaryOp::Le => {
                let $f = |a: f64, b: f64| if a <= b { 1.0 } else { 0.0 };
                $body
            }
            BinaryOp::Gt => {
                let $f = |a: f64, b: f64| if a > b { 1.0 } else { 0.0 };
                $body
            }
            BinaryOp::Ge => {
                let $f = |a: f64, b: f64| if a >= b { 1.0 } else { 0.0 };
                $body
            }
        }
    }};
}

pub(crate) use {binary_dispatch, unary_dispatch};

/// `a ** b` with fast paths for common small integer exponents.
#[inline(always)]
pub(crate) fn pow(a: f64, b: f64) -> f64 {
    if b == 2.0 {
        a * a
    } else {
        a.powf(b)
    }
}

/// The split threshold (see [`split_min`]) of a unary op that is not one
/// of the vectorised transcendentals: plain arithmetic is memory-bound, the
/// rest are libm calls of tens of nanoseconds.
fn unary_split_min(op: UnaryOp) -> usize {
    use UnaryOp::*;
    match op {
        Neg | Abs | Sqrt | Floor | Round | Ceil | Relu | Sign | IsNan | Recip | Square | IsFinite | IsInf => {
            split_min::CHEAP
        }
        _ => split_min::COSTLY,
    }
}

/// The split threshold of a binary op: all are memory-bound but `pow`.
fn binary_split_min(op: BinaryOp) -> usize {
    if op == BinaryOp::Pow {
        split_min::COSTLY
    } else {
        split_min::CHEAP
    }
}

#[inline(always)]
fn unary_inplace_impl<M: crate::simd::Mode>(op: UnaryOp, buf: &mut [f64]) {
    unary_dispatch!(op, |f| {
        for d in buf.iter_mut() {
            *d = f(*d);
        }
    })
}

crate::simd::multiversion!(
    /// `buf[i] = op(buf[i])`, vectorised for the best instruction set where
    /// `op` is plain arithmetic (as [`contiguous_unary`], in place).
    fn unary_inplace(op: UnaryOp, buf: &mut [f64]) => unary_inplace_impl
);

#[inline(always)]
fn map_inplace(buf: &mut [f64], f: impl Fn(f64) -> f64) {
    for d in buf.iter_mut() {
        *d = f(*d);
    }
}

/// Applies `f` to every element of `t` into a fresh contiguous buffer.
#[inline(always)]
fn map_tensor(t: &Tensor, f: impl Fn(f64) -> f64) -> Tensor {
    let out: Vec<f64> = if let Some(src) = t.as_slice() {
        crate::buffer::collect(src.len(), src.iter().map(|&x| f(x)))
    } else {
        let mut out = crate::buffer::with_capacity(t.size());
        let data = &t.data[..];
        for_each_row(&t.shape, [&t.strides], [t.offset as isize], |[o], len, [s]| {
            if s == 1 {
                out.extend(data[o as usize..o as usize + len].iter().map(|&x| f(x)));
            } else {
                out.extend((0..len as isize).map(|i| f(data[(o + i * s) as usize])));
            }
        });
        out
    };
    Tensor::from_parts(out, t.shape.clone())
}

/// Writes one output row of a broadcasting binary op:
/// `out[i] = f(a[ao + i*sa], b[bo + i*sb])` for `i < out.len()`.
#[inline(always)]
fn binary_row(
    out: &mut [MaybeUninit<f64>],
    a: &[f64],
    (ao, sa): (isize, isize),
    b: &[f64],
    (bo, sb): (isize, isize),
    f: impl Fn(f64, f64) -> f64,
) {
    let n = out.len();
    let (aou, bou) = (ao as usize, bo as usize);
    match (sa, sb) {
        (1, 1) => {
            for ((o, &x), &y) in out.iter_mut().zip(&a[aou..aou + n]).zip(&b[bou..bou + n]) {
                o.write(f(x, y));
            }
        }
        (1, 0) => {
            let y = b[bou];
            for (o, &x) in out.iter_mut().zip(&a[aou..aou + n]) {
                o.write(f(x, y));
            }
        }
        (0, 1) => {
            let x = a[aou];
            for (o, &y) in out.iter_mut().zip(&b[bou..bou + n]) {
                o.write(f(x, y));
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                let i = i as isize;
                o.write(f(a[(ao + i * sa) as usize], b[(bo + i * sb) as usize]));
            }
        }
    }
}

/// In-place row: `out[i] = f(out[i], b[bo + i*bs])`.
#[inline(always)]
fn inplace_row(out: &mut [f64], b: &[f64], bo: isize, sb: isize, f: impl Fn(f64, f64) -> f64) {
    let n = out.len();
    let bo = bo as usize;
    match sb {
        1 => {
            for (o, &y) in out.iter_mut().zip(&b[bo..bo + n]) {
                *o = f(*o, y);
            }
        }
        0 => {
            let y = b[bo];
            for o in out.iter_mut() {
                *o = f(*o, y);
            }
        }
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = f(*o, b[(bo as isize + i as isize * sb) as usize]);
            }
        }
    }
}

/// The operands of a binary op whose output is one contiguous run: both
/// contiguous with the output's shape, or one of them a single element.
#[derive(Clone, Copy)]
enum Contiguous<'a> {
    /// `f(x[i], y[i])`.
    Both(&'a [f64], &'a [f64]),
    /// `f(x[i], y)`.
    Right(&'a [f64], f64),
    /// `f(x, y[i])`.
    Left(f64, &'a [f64]),
}

impl<'a> Contiguous<'a> {
    /// How `a op b` lines up, if its output is one contiguous run.
    fn of(a: &'a Tensor, b: &'a Tensor) -> Option<Contiguous<'a>> {
        let (x, y) = (a.as_slice()?, b.as_slice()?);
        if a.shape == b.shape {
            Some(Contiguous::Both(x, y))
        } else if y.len() == 1 {
            // A one-element operand broadcasts to the other's elements, in order.
            Some(Contiguous::Right(x, y[0]))
        } else if x.len() == 1 {
            Some(Contiguous::Left(x[0], y))
        } else {
            None
        }
    }

    /// Elements of the output.
    fn len(self) -> usize {
        match self {
            Contiguous::Both(x, _) | Contiguous::Right(x, _) => x.len(),
            Contiguous::Left(_, y) => y.len(),
        }
    }

    /// The operands of output elements `lo..hi` (`hi <= self.len()`).
    fn range(self, lo: usize, hi: usize) -> Contiguous<'a> {
        match self {
            Contiguous::Both(x, y) => Contiguous::Both(&x[lo..hi], &y[lo..hi]),
            Contiguous::Right(x, q) => Contiguous::Right(&x[lo..hi], q),
            Contiguous::Left(p, y) => Contiguous::Left(p, &y[lo..hi]),
        }
    }
}

#[inline(always)]
fn contiguous_binary_impl<M: crate::simd::Mode>(op: BinaryOp, xs: Contiguous<'_>, dst: &mut [MaybeUninit<f64>]) {
    binary_dispatch!(op, |f| match xs {
        Contiguous::Both(x, y) => {
            for ((o, &p), &q) in dst.iter_mut().zip(x).zip(y) {
                o.write(f(p, q));
            }
        }
        Contiguous::Right(x, q) => {
            for (o, &p) in dst.iter_mut().zip(x) {
                o.write(f(p, q));
            }
        }
        Contiguous::Left(p, y) => {
            for (o, &q) in dst.iter_mut().zip(y) {
                o.write(f(p, q));
            }
        }
    })
}

crate::simd::multiversion!(
    /// `dst[i] = op(x, y)` over contiguous operands (see [`Contiguous`]),
    /// vectorised for the best instruction set: the baseline build ran
    /// `h + 1.0` over 32768 elements in 16 us, about 2 cycles per element.
    fn contiguous_binary(op: BinaryOp, xs: Contiguous<'_>, dst: &mut [MaybeUninit<f64>]) => contiguous_binary_impl
);

/// `a op b` into a fresh buffer when its output is one contiguous run
/// (shared with the helper thread in pieces when large).
fn binary_contiguous(op: BinaryOp, xs: Contiguous<'_>) -> Vec<f64> {
    let n = xs.len();
    let mut out = crate::buffer::with_capacity(n);
    split_mut(&mut out.spare_capacity_mut()[..n], binary_split_min(op), |lo, d| {
        contiguous_binary(op, xs.range(lo, lo + d.len()), d)
    });
    // SAFETY: the pieces cover all n elements and contiguous_binary wrote
    // every element of each (every operand run has the piece's length).
    unsafe { out.set_len(n) };
    out
}

#[inline(always)]
fn contiguous_unary_impl<M: crate::simd::Mode>(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) {
    unary_dispatch!(op, |f| {
        for (o, &x) in dst.iter_mut().zip(src) {
            o.write(f(x));
        }
    })
}

crate::simd::multiversion!(
    /// `dst[i] = op(src[i])`, vectorised for the best instruction set where
    /// `op` is plain arithmetic (`neg`, `abs`, `sqrt`, `floor`, ...; libm
    /// functions stay one call per element).
    fn contiguous_unary(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) => contiguous_unary_impl
);

/// The rows of the first axis of `shape` (`n` elements) and the elements in
/// each, for [`split_rows_mut`]: one row of `n` for a 0-d shape, none of
/// none for an empty first axis.
fn first_axis(shape: &[usize], n: usize) -> (usize, usize) {
    match shape.first() {
        Some(&0) => (0, 0),
        Some(&rows) => (rows, n / rows),
        None => (1, n),
    }
}

/// General broadcasting binary kernel into a fresh buffer of shape `shape`
/// (`n` elements); large outputs are split along the first axis between
/// this thread and the helper.
#[inline(always)]
fn binary_general(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    n: usize,
    min: usize,
    f: impl Fn(f64, f64) -> f64 + Copy + Sync,
) -> Vec<f64> {
    let mut out = crate::buffer::with_capacity(n);
    let sa = broadcast_strides(&a.shape, &a.strides, shape);
    let sb = broadcast_strides(&b.shape, &b.strides, shape);
    let (ad, bd) = (&a.data[..], &b.data[..]);
    let (rows, row_len) = first_axis(shape, n);
    let offsets = [a.offset as isize, b.offset as isize];
    split_rows_mut(&mut out.spare_capacity_mut()[..n], rows, row_len, min, |lo, hi, dst| {
        // A piece's rows come in row-major order: each goes after the last.
        let mut done = 0;
        for_each_row_in(shape, [&sa, &sb], offsets, (lo, hi), |[ao, bo], len, [sa, sb]| {
            binary_row(&mut dst[done..done + len], ad, (ao, sa), bd, (bo, sb), f);
            done += len;
        });
    });
    // SAFETY: the pieces cover all n elements, and each piece's rows cover
    // the piece exactly (slicing checked that they fit), every one written.
    unsafe { out.set_len(n) };
    out
}

/// One operand's elements along an output row of `where`.
#[derive(Clone, Copy)]
enum Lane<'a> {
    /// Contiguous: the row's elements.
    Run(&'a [f64]),
    /// Broadcast along the row: one element for all.
    One(f64),
    /// Any other stride: `data[offset + i * stride]`.
    Strided(&'a [f64], isize, isize),
}

/// The `len` elements of an operand's row starting at `offset` with `stride`.
#[inline(always)]
fn lane(data: &[f64], offset: isize, stride: isize, len: usize) -> Lane<'_> {
    let o = offset as usize;
    match stride {
        1 => Lane::Run(&data[o..o + len]),
        0 => Lane::One(data[o]),
        _ => Lane::Strided(data, offset, stride),
    }
}

impl Lane<'_> {
    #[inline(always)]
    fn at(self, i: usize) -> f64 {
        match self {
            Lane::Run(s) => s[i],
            Lane::One(v) => v,
            Lane::Strided(d, o, s) => d[(o + i as isize * s) as usize],
        }
    }
}

/// One output row of `where`: `dst[i] = x[i]` where `c[i] != 0` (NaN counts
/// as true), else `y[i]`. Contiguous and broadcast operands get loops of
/// their own over plain slices, which vectorise to compare-and-blend.
#[inline(always)]
fn where_row_impl<M: crate::simd::Mode>(dst: &mut [MaybeUninit<f64>], c: Lane<'_>, x: Lane<'_>, y: Lane<'_>) {
    let pick = |c: f64, p: f64, q: f64| if c != 0.0 { p } else { q };
    let n = dst.len();
    match (c, x, y) {
        (Lane::One(c), x, y) => match if c != 0.0 { x } else { y } {
            Lane::Run(s) => dst.iter_mut().zip(&s[..n]).for_each(|(o, &v)| {
                o.write(v);
            }),
            Lane::One(v) => dst.iter_mut().for_each(|o| {
                o.write(v);
            }),
            other => dst.iter_mut().enumerate().for_each(|(i, o)| {
                o.write(other.at(i));
            }),
        },
        (Lane::Run(c), Lane::Run(x), Lane::Run(y)) => {
            for (((o, &c), &p), &q) in dst.iter_mut().zip(&c[..n]).zip(&x[..n]).zip(&y[..n]) {
                o.write(pick(c, p, q));
            }
        }
        (Lane::Run(c), Lane::Run(x), Lane::One(q)) => {
            for ((o, &c), &p) in dst.iter_mut().zip(&c[..n]).zip(&x[..n]) {
                o.write(pick(c, p, q));
            }
        }
        (Lane::Run(c), Lane::One(p), Lane::Run(y)) => {
            for ((o, &c), &q) in dst.iter_mut().zip(&c[..n]).zip(&y[..n]) {
                o.write(pick(c, p, q));
            }
        }
        (Lane::Run(c), Lane::One(p), Lane::One(q)) => {
            for (o, &c) in dst.iter_mut().zip(&c[..n]) {
                o.write(pick(c, p, q));
            }
        }
        (c, x, y) => dst.iter_mut().enumerate().for_each(|(i, o)| {
            o.write(pick(c.at(i), x.at(i), y.at(i)));
        }),
    }
}

crate::simd::multiversion!(
    /// One output row of `where` (see `where_row_impl`), vectorised for the best instruction set.
    fn where_row(dst: &mut [MaybeUninit<f64>], c: Lane<'_>, x: Lane<'_>, y: Lane<'_>) => where_row_impl
);

impl Tensor {
    /// Applies a unary operator elementwise into a new tensor.
    pub fn unary(&self, op: UnaryOp) -> Tensor {
        self.unary_f64(op).typed(op.result_dtype())
    }

    fn unary_f64(&self, op: UnaryOp) -> Tensor {
        if crate::vmath::supports(op) {
            // Transcendentals: vectorised kernels on contiguous data (a
            // strided view is gathered first; the copy is cheap next to them).
            let out = match self.as_slice() {
                Some(src) => crate::vmath::map(op, src),
                None => {
                    let mut out = self.to_vec();
                    crate::vmath::map_inplace_split(op, &mut out);
                    out
                }
            };
            return Tensor::from_parts(out, self.shape.clone());
        }
        if let Some(src) = self.as_slice() {
            let mut out = crate::buffer::with_capacity(src.len());
            split_mut(
                &mut out.spare_capacity_mut()[..src.len()],
                unary_split_min(op),
                |lo, d| contiguous_unary(op, &src[lo..lo + d.len()], d),
            );
            // SAFETY: the pieces cover all src.len() elements, each written
            // by contiguous_unary.
            unsafe { out.set_len(src.len()) };
            return Tensor::from_parts(out, self.shape.clone());
        }
        unary_dispatch!(op, |f| map_tensor(self, f))
    }

    /// Applies a unary operator, reusing the buffer when it is uniquely owned and contiguous.
    pub fn unary_owned(mut self, op: UnaryOp) -> Tensor {
        if self.is_reusable() {
            if let Some(buf) = Rc::get_mut(&mut self.data) {
                if crate::vmath::supports(op) {
                    crate::vmath::map_inplace_split(op, buf);
                } else {
                    split_mut(buf, unary_split_min(op), |_, d| unary_inplace(op, d));
                }
                return self.typed(op.result_dtype());
            }
        }
        self.unary(op)
    }

    /// Applies an arbitrary function elementwise into a new tensor.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Tensor {
        map_tensor(self, f)
    }

    /// Applies a binary operator with NumPy broadcasting.
    pub fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let shape = if self.shape == other.shape {
            self.shape.clone()
        } else {
            broadcast_shapes(&self.shape, &other.shape).ok_or_else(|| TensorError::Broadcast {
                left: self.shape.clone(),
                right: other.shape.clone(),
                op: op.symbol().to_string(),
            })?
        };
        let n = checked_size(&shape)?;
        let out = match Contiguous::of(self, other) {
            Some(xs) => binary_contiguous(op, xs),
            None => binary_dispatch!(op, |f| binary_general(self, other, &shape, n, binary_split_min(op), f)),
        };
        Ok(Tensor::from_parts(out, shape).typed(op.result_dtype()))
    }

    /// Like [`binary`](Self::binary) but writes into `self`'s buffer when it is
    /// uniquely owned, contiguous and the result has `self`'s shape.
    pub fn binary_owned(mut self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let fits = self.shape == other.shape
            || broadcast_shapes(&self.shape, &other.shape).as_deref() == Some(&self.shape[..]);
        if fits && self.is_reusable() {
            let shape = self.shape.clone();
            let sb = broadcast_strides(&other.shape, &other.strides, &shape);
            let so = contiguous_strides(&shape);
            let bd = &other.data[..];
            let boff = other.offset as isize;
            if let Some(buf) = Rc::get_mut(&mut self.data) {
                let (rows, row_len) = first_axis(&shape, buf.len());
                let min = binary_split_min(op);
                binary_dispatch!(op, |f| {
                    split_rows_mut(buf, rows, row_len, min, |lo, hi, buf| {
                        // Offsets into `buf` are relative to the piece's first row.
                        let base = -((lo * row_len) as isize);
                        for_each_row_in(&shape, [&so, &sb], [base, boff], (lo, hi), |[oo, bo], len, [os, sb]| {
                            if os == 1 {
                                inplace_row(&mut buf[oo as usize..oo as usize + len], bd, bo, sb, f);
                            } else {
                                for i in 0..len as isize {
                                    let k = (oo + i * os) as usize;
                                    buf[k] = f(buf[k], bd[(bo + i * sb) as usize]);
                                }
                            }
                        })
                    })
                });
                return Ok(self.typed(op.result_dtype()));
            }
        }
        self.binary(other, op)
    }

    /// Applies a binary operator between every element and the scalar `s`
    /// (`op(s, x)` if `scalar_on_left`, else `op(x, s)`).
    pub fn binary_scalar(&self, s: f64, op: BinaryOp, scalar_on_left: bool) -> Tensor {
        self.binary_scalar_f64(s, op, scalar_on_left).typed(op.result_dtype())
    }

    fn binary_scalar_f64(&self, s: f64, op: BinaryOp, scalar_on_left: bool) -> Tensor {
        if op == BinaryOp::Pow && !scalar_on_left && s == 2.0 {
            // x * x is exactly pow(x, 2) (the correctly rounded square) and vectorises.
            return self.unary(UnaryOp::Square);
        }
        if let Some(x) = self.as_slice() {
            let xs = if scalar_on_left {
                Contiguous::Left(s, x)
            } else {
                Contiguous::Right(x, s)
            };
            return Tensor::from_parts(binary_contiguous(op, xs), self.shape.clone());
        }
        if scalar_on_left {
            binary_dispatch!(op, |f| map_tensor(self, |x| f(s, x)))
        } else {
            binary_dispatch!(op, |f| map_tensor(self, |x| f(x, s)))
        }
    }

    /// Like [`binary_scalar`](Self::binary_scalar), reusing the buffer when possible.
    pub fn binary_scalar_owned(mut self, s: f64, op: BinaryOp, scalar_on_left: bool) -> Tensor {
        if op == BinaryOp::Pow && !scalar_on_left && s == 2.0 {
            // As in `binary_scalar`: the square is exact and vectorises (the
            // generic map tests the exponent on every element).
            return self.unary_owned(UnaryOp::Square);
        }
        if self.is_reusable() {
            if let Some(buf) = Rc::get_mut(&mut self.data) {
                let min = binary_split_min(op);
                if scalar_on_left {
                    binary_dispatch!(op, |f| split_mut(buf, min, |_, d| map_inplace(d, |x| f(s, x))));
                } else {
                    binary_dispatch!(op, |f| split_mut(buf, min, |_, d| map_inplace(d, |x| f(x, s))));
                }
                return self.typed(op.result_dtype());
            }
        }
        self.binary_scalar(s, op, scalar_on_left)
    }

    /// Elementwise selection with three-way broadcasting: `a` where `cond != 0`, else `b`
    /// (NaN in `cond` counts as true, like NumPy). The result is bool when
    /// both `a` and `b` are.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let err = |l: &[usize], r: &[usize]| TensorError::Broadcast {
            left: l.to_vec(),
            right: r.to_vec(),
            op: "where".into(),
        };
        let s1 = broadcast_shapes(&cond.shape, &a.shape).ok_or_else(|| err(&cond.shape, &a.shape))?;
        let shape = broadcast_shapes(&s1, &b.shape).ok_or_else(|| err(&s1, &b.shape))?;
        // Written row by row in row-major order into the spare capacity,
        // large outputs in slabs of the first axis shared with the helper.
        let mut out = crate::buffer::alloc(&shape)?;
        let n = checked_size(&shape)?;
        let sc = broadcast_strides(&cond.shape, &cond.strides, &shape);
        let sa = broadcast_strides(&a.shape, &a.strides, &shape);
        let sb = broadcast_strides(&b.shape, &b.strides, &shape);
        let (cd, ad, bd) = (&cond.data[..], &a.data[..], &b.data[..]);
        let (rows, row_len) = first_axis(&shape, n);
        let offsets = [cond.offset as isize, a.offset as isize, b.offset as isize];
        split_rows_mut(
            &mut out.spare_capacity_mut()[..n],
            rows,
            row_len,
            split_min::CHEAP,
            |lo, hi, dst| {
                let mut done = 0;
                for_each_row_in(
                    &shape,
                    [&sc, &sa, &sb],
                    offsets,
                    (lo, hi),
                    |[co, ao, bo], len, [sc, sa, sb]| {
                        let (c, x, y) = (lane(cd, co, sc, len), lane(ad, ao, sa, len), lane(bd, bo, sb, len));
                        where_row(&mut dst[done..done + len], c, x, y);
                        done += len;
                    },
                );
            },
        );
        // SAFETY: the pieces cover all n elements (`alloc` reserved that
        // many), and each piece's rows cover the piece exactly (slicing
        // checked that they fit), every one written by `where_row`.
        unsafe { out.set_len(n) };
        let dtype = if a.is_bool() && b.is_bool() {
            DType::Bool
        } else {
            DType::F64
        };
        Ok(Tensor::from_parts(out, shape).typed(dtype))
    }

    /// The tensor with its element type set to `dtype` (a flag change: the
    /// kernels above give 0.0/1.0 for the ops whose result is bool).
    pub(crate) fn typed(mut self, dtype: DType) -> Tensor {
        self.dtype = dtype;
        self
    }
}
