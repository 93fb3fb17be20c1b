//! One-dimensional linear interpolation: `interp` (NumPy's, written as
//! JAX writes it). The interval of each point is found on the concrete
//! data (a constant, like a sorting permutation); the value is a gather of
//! the two neighbouring samples combined by arithmetic, so the derivatives
//! in `x`, `xp`, `fp` (and `period`) of every order and the batching rules
//! all come from the primitives, and agree with `jax.grad` of `jnp.interp`.

use super::args::*;
use super::arrange::{concat, slice_axis};
use super::sorting::order_along;
use crate::autodiff::trace::{batch_axes, rewrap_batches, strip_diff};
use crate::builtins::{register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, apply, shape_of, Prim};
use crate::prim::as_tensor;
use crate::syntax::ast::BinOp;
use crate::value::Value;
use dp_tensor::{format_shape, BinaryOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

/// Intervals at most this wide (NumPy's `spacing(eps)`, `2^-104`) count as
/// empty, as in JAX: their value is the left sample, and the division by
/// the width is replaced by one by 1, so no derivative is NaN where samples
/// repeat (JAX's `testInterpGradNan`).
const TINY_WIDTH: f64 = 4.930_380_657_631_324e-32;

fn f(v: f64) -> Value {
    Value::Float(v)
}

/// `v[idx]` for a 1-d `v`.
fn take(v: &Value, idx: &Value) -> R<Value> {
    apply(&Prim::Take(crate::prim::Take(0)), &[v.clone(), idx.clone()])
}

/// For each `x`, the index `i` in `1..n` of the interval `[xp[i-1], xp[i]]`
/// it falls in: NumPy's `searchsorted(xp, x, side='right')` clipped so that
/// both ends are samples (points outside the samples extend the end
/// intervals; NaN, sorting last, the right one). A constant, batched like `x`
/// and `xp`. Needs `n >= 2` samples.
fn intervals(x: &Value, xp: &Value, n: usize) -> R<Value> {
    let last = (n - 1) as f64;
    let traced = crate::autodiff::trace::is_traced(x) || crate::autodiff::trace::is_traced(xp);
    if traced && batch_axes(xp) == 0 {
        // Values a running trace computed: the same search, recorded (a jit
        // plan searches its new inputs), the points of every example at once
        // inside `vmap` (see the batching rule of `Order::Intervals`).
        return apply(
            &Prim::Order(crate::prim::Order::Intervals { n }),
            &[xp.clone(), x.clone()],
        );
    }
    if batch_axes(xp) == 0 {
        // One table for every example: a binary search per element of the
        // concrete data of `x`, all its examples at once.
        let t = te(as_tensor(xp)?.searchsorted(&*as_tensor(x)?))?;
        return Ok(rewrap_batches(x, ops::from_tensor(t.map(|i| i.clamp(1.0, last)))));
    }
    // Each example has its own samples: count those `<= x` with recorded
    // comparisons, which batch like any primitive (O(size(x) n) memory, only
    // inside `vmap` over `xp`).
    let (x, xp) = (strip_diff(x), strip_diff(xp));
    let mut col = shape_of(&x);
    let axis = col.len();
    col.push(1);
    let le = ops::binary(BinaryOp::Le, &xp, &ops::reshape(&x, &col)?)?;
    let count = ops::sum(&le, Some(Rc::from(vec![axis])), false)?;
    let count = ops::where_(&ops::unary(UnaryOp::IsNan, &x)?, &f(n as f64), &count)?;
    let lo = ops::binary(BinaryOp::Maximum, &count, &f(1.0))?;
    ops::binary(BinaryOp::Minimum, &lo, &f(last))
}

/// The samples with the period applied (NumPy's and JAX's construction):
/// `x` and `xp` reduced modulo `|period|`, the samples sorted, and one
/// sample of the neighbouring periods added at each end, so that every
/// reduced `x` lies between two samples.
fn periodic(x: &Value, xp: &Value, fp: &Value, period: &Value) -> R<(Value, Value, Value)> {
    let p = ops::unary(UnaryOp::Abs, period)?;
    let x = ops::arith::binary(BinOp::Mod, x, &p)?;
    let xp = ops::arith::binary(BinOp::Mod, xp, &p)?;
    let order = order_along(&xp, 0, false)?;
    let (xp, fp) = (take(&xp, &order)?, take(fp, &order)?);
    let first = |v: &Value| slice_axis(v, 0, None, Some(1), 1);
    let last = |v: &Value| slice_axis(v, 0, Some(-1), None, 1);
    let xp = concat(
        &[ops::sub(&last(&xp)?, &p)?, xp.clone(), ops::add(&first(&xp)?, &p)?],
        0,
    )?;
    let fp = concat(&[last(&fp)?, fp.clone(), first(&fp)?], 0)?;
    Ok((x, xp, fp))
}

/// `interp(x, xp, fp, left, right, period)` on checked arguments (`xp`
/// and `fp` 1-d of the same nonzero length `n`, `period` 0-d and nonzero).
fn interp(
    x: &Value,
    xp: &Value,
    fp: &Value,
    left: Option<&Value>,
    right: Option<&Value>,
    period: Option<&Value>,
) -> R<Value> {
    let n = shape_of(xp)[0];
    let (xv, xpv, fpv, m) = match period {
        Some(p) => {
            let (x, xp, fp) = periodic(x, xp, fp, p)?;
            (x, xp, fp, n + 2)
        }
        None => (x.clone(), xp.clone(), fp.clone(), n),
    };
    // One sample: every point gets it (its interval is the sample itself).
    let (hi, lo) = if m == 1 {
        (f(0.0), f(0.0))
    } else {
        let hi = intervals(&xv, &xpv, m)?;
        let lo = ops::sub(&hi, &f(1.0))?;
        (hi, lo)
    };
    let (f_lo, x_lo) = (take(&fpv, &lo)?, take(&xpv, &lo)?);
    let df = ops::sub(&take(&fpv, &hi)?, &f_lo)?;
    let dx = ops::sub(&take(&xpv, &hi)?, &x_lo)?;
    let delta = ops::sub(&xv, &x_lo)?;
    let empty = ops::binary(BinaryOp::Le, &ops::unary(UnaryOp::Abs, &dx)?, &f(TINY_WIDTH))?;
    let slope_t = ops::div(&delta, &ops::where_(&empty, &f(1.0), &dx)?)?;
    let mut out = ops::where_(&empty, &f_lo, &ops::add(&f_lo, &ops::mul(&slope_t, &df)?)?)?;
    if period.is_none() {
        let (first, last) = (take(fp, &f(0.0))?, take(fp, &f((n - 1) as f64))?);
        let below = ops::binary(BinaryOp::Lt, x, &take(xp, &f(0.0))?)?;
        out = ops::where_(&below, left.unwrap_or(&first), &out)?;
        let above = ops::binary(BinaryOp::Gt, x, &take(xp, &f((n - 1) as f64))?)?;
        out = ops::where_(&above, right.unwrap_or(&last), &out)?;
    }
    Ok(out)
}

/// The optional tensor argument `i` (`none` when omitted or `none`).
fn optional(a: &Call<'_>, i: usize) -> R<Option<Value>> {
    match a.value(i) {
        Value::None => Ok(None),
        v => numeric(a.name(), v).map(Some),
    }
}

/// Checks the samples: `xp` and `fp` 1-d, of one nonzero length.
fn check_samples(a: &Call<'_>, xp: &Value, fp: &Value) -> R<()> {
    let (sx, sf) = (shape_of(xp), shape_of(fp));
    if sx.len() != 1 || sf != sx {
        let d = Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`interp`: xp and fp must be 1-d with the same length, found shapes {} and {}",
                format_shape(&sx),
                format_shape(&sf)
            ),
        )
        .at(a.span_at(if sx.len() == 1 { 2 } else { 1 }));
        return Err(label_param(label_param(d, a, 1, xp), a, 2, fp));
    }
    if sx[0] == 0 {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            "`interp`: xp is empty (at least one sample is needed)".to_string(),
        )
        .at(a.span_at(1)));
    }
    Ok(())
}

/// Checks `period`: one number, not zero (in every example).
fn check_period(a: &Call<'_>, p: &Value) -> R<()> {
    let bad = |msg: String| Err(Diagnostic::new(ErrorKind::Value, msg).at(a.span_at(5)));
    if !shape_of(p).is_empty() {
        return bad(format!(
            "`interp`: period must be a number, found a tensor of shape {}",
            format_shape(&shape_of(p))
        ));
    }
    if as_tensor(p)?.to_vec().contains(&0.0) {
        return bad("`interp`: period must not be zero".to_string());
    }
    Ok(())
}

/// Registers `interp`.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "interp(x: tensor, xp: tensor, fp: tensor, left: tensor = none, right: tensor = none, period: tensor = none) -> tensor",
            summary: "Piecewise-linear interpolation of the samples `(xp, fp)` at the points `x` (NumPy's `interp`).",
            doc: "`xp` is 1-d and increasing, `fp` 1-d of the same length; the result is shaped like `x`. Points \
                  below `xp[0]` give `left` (default `fp[0]`), above `xp[-1]` give `right` (default `fp[-1]`). \
                  With `period`, `x` and `xp` are taken modulo `|period|` (the samples need not be sorted then) \
                  and `left`/`right` are ignored. Differentiable to any order in `x`, `xp`, `fp`, `left`, \
                  `right` and `period`, with `jax.grad` of `jnp.interp`'s values: a point on a sample takes the \
                  slope of the interval to its right, and samples closer than 2^-104 (repeated ones) form an \
                  interval of width zero whose value is its left sample, with finite derivatives.",
            example: "interp(tensor([0.5, 1.5, 3.0]), tensor([0.0, 1.0, 2.0]), tensor([0.0, 10.0, 0.0]))  # [5.0, 5.0, 0.0]",
        },
        |_, a| {
            let x = numeric("interp", a.value(0))?;
            let xp = numeric("interp", a.value(1))?;
            let fp = numeric("interp", a.value(2))?;
            check_samples(&a, &xp, &fp)?;
            let (left, right, period) = (optional(&a, 3)?, optional(&a, 4)?, optional(&a, 5)?);
            if let Some(p) = &period {
                check_period(&a, p)?;
            }
            interp(&x, &xp, &fp, left.as_ref(), right.as_ref(), period.as_ref()).map_err(|d| d.at(a.span))
        },
    );
}
