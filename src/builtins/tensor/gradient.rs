//! `gradient`: NumPy's `np.gradient`, finite differences of sampled values
//! (second-order central differences inside, first- or second-order
//! one-sided ones at the edges). It is linear in the samples, and written
//! with slices, `concat` and arithmetic, so its derivatives (in the samples
//! and in the spacings) of every order and its batching come from theirs.

use super::args::*;
use super::arrange::{concat, slice_axis};
use crate::builtins::{int_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis};
use std::collections::HashMap;
use std::rc::Rc;

/// The spacing of the samples along one axis.
enum Spacing {
    /// A constant step (a number: possibly a differentiated one).
    Step(Value),
    /// The sample coordinates, 1-d with one per sample.
    Coords(Value),
}

fn f(v: f64) -> Value {
    Value::Float(v)
}

/// `x[i]` along `axis` as a slice of length one (`i` negative from the end).
fn at(x: &Value, axis: usize, i: i64) -> R<Value> {
    let stop = if i == -1 { None } else { Some(i + 1) };
    slice_axis(x, axis, Some(i), stop, 1)
}

/// `a * p + b * q + c * r`.
fn combine(a: &Value, p: &Value, b: &Value, q: &Value, c: &Value, r: &Value) -> R<Value> {
    ops::add(&ops::add(&ops::mul(a, p)?, &ops::mul(b, q)?)?, &ops::mul(c, r)?)
}

/// The derivative along `axis` of the samples `y` (at least
/// `edge_order + 1` of them), NumPy's formulas term for term.
fn along(y: &Value, axis: usize, h: &Spacing, edge_order: i64) -> R<Value> {
    let nd = shape_of(y).len();
    let n = shape_of(y)[axis] as i64;
    let sl = |start: Option<i64>, stop: Option<i64>| slice_axis(y, axis, start, stop, 1);
    let mut parts = Vec::with_capacity(3);
    match h {
        Spacing::Step(h) => {
            if edge_order == 1 {
                parts.push(ops::div(&ops::sub(&at(y, axis, 1)?, &at(y, axis, 0)?)?, h)?);
            } else {
                let (a, b, c) = (ops::div(&f(-1.5), h)?, ops::div(&f(2.0), h)?, ops::div(&f(-0.5), h)?);
                parts.push(combine(
                    &a,
                    &at(y, axis, 0)?,
                    &b,
                    &at(y, axis, 1)?,
                    &c,
                    &at(y, axis, 2)?,
                )?);
            }
            if n > 2 {
                let d = ops::sub(&sl(Some(2), None)?, &sl(None, Some(-2))?)?;
                parts.push(ops::div(&d, &ops::mul(&f(2.0), h)?)?);
            }
            if edge_order == 1 {
                parts.push(ops::div(&ops::sub(&at(y, axis, -1)?, &at(y, axis, -2)?)?, h)?);
            } else {
                let (a, b, c) = (ops::div(&f(0.5), h)?, ops::div(&f(-2.0), h)?, ops::div(&f(1.5), h)?);
                parts.push(combine(
                    &a,
                    &at(y, axis, -3)?,
                    &b,
                    &at(y, axis, -2)?,
                    &c,
                    &at(y, axis, -1)?,
                )?);
            }
        }
        Spacing::Coords(x) => {
            // The steps, shaped to broadcast along `axis` of `y`.
            let dx = ops::sub(
                &slice_axis(x, 0, Some(1), None, 1)?,
                &slice_axis(x, 0, None, Some(-1), 1)?,
            )?;
            let mut shape = vec![1; nd];
            shape[axis] = (n - 1) as usize;
            let dx = ops::reshape(&dx, &shape)?;
            let step = |start: Option<i64>, stop: Option<i64>| slice_axis(&dx, axis, start, stop, 1);
            let (mul, div, add, sub) = (ops::mul, ops::div, ops::add, ops::sub);
            if edge_order == 1 {
                parts.push(div(
                    &sub(&at(y, axis, 1)?, &at(y, axis, 0)?)?,
                    &step(Some(0), Some(1))?,
                )?);
            } else {
                let (d1, d2) = (step(Some(0), Some(1))?, step(Some(1), Some(2))?);
                let s = add(&d1, &d2)?;
                let a = div(&ops::neg(&add(&mul(&f(2.0), &d1)?, &d2)?)?, &mul(&d1, &s)?)?;
                let b = div(&s, &mul(&d1, &d2)?)?;
                let c = div(&ops::neg(&d1)?, &mul(&d2, &s)?)?;
                parts.push(combine(
                    &a,
                    &at(y, axis, 0)?,
                    &b,
                    &at(y, axis, 1)?,
                    &c,
                    &at(y, axis, 2)?,
                )?);
            }
            if n > 2 {
                let (d1, d2) = (step(None, Some(-1))?, step(Some(1), None)?);
                let s = add(&d1, &d2)?;
                let a = div(&ops::neg(&d2)?, &mul(&d1, &s)?)?;
                let b = div(&sub(&d2, &d1)?, &mul(&d1, &d2)?)?;
                let c = div(&d1, &mul(&d2, &s)?)?;
                parts.push(combine(
                    &a,
                    &sl(None, Some(-2))?,
                    &b,
                    &sl(Some(1), Some(-1))?,
                    &c,
                    &sl(Some(2), None)?,
                )?);
            }
            if edge_order == 1 {
                parts.push(div(
                    &sub(&at(y, axis, -1)?, &at(y, axis, -2)?)?,
                    &step(Some(-1), None)?,
                )?);
            } else {
                let (d1, d2) = (step(Some(-2), Some(-1))?, step(Some(-1), None)?);
                let s = add(&d1, &d2)?;
                let a = div(&d2, &mul(&d1, &s)?)?;
                let b = div(&ops::neg(&s)?, &mul(&d1, &d2)?)?;
                let c = div(&add(&mul(&f(2.0), &d2)?, &d1)?, &mul(&d2, &s)?)?;
                parts.push(combine(
                    &a,
                    &at(y, axis, -3)?,
                    &b,
                    &at(y, axis, -2)?,
                    &c,
                    &at(y, axis, -1)?,
                )?);
            }
        }
    }
    concat(&parts, axis)
}

/// The axes asked for, in the order given (all when `axis` is none).
fn axes(a: &Call<'_>, nd: usize) -> R<Vec<usize>> {
    let list: Vec<i64> = match a.value(1) {
        Value::None => return Ok((0..nd).collect()),
        Value::Tuple(t) => t.iter().map(|v| int_arg("gradient", "axis", v)).collect::<R<_>>(),
        v => int_arg("gradient", "axis", v).map(|i| vec![i]),
    }
    .map_err(at_param(a, 1))?;
    let mut out = Vec::with_capacity(list.len());
    for ax in list {
        let n = te(normalize_axis(ax, nd)).map_err(at_param(a, 1))?;
        if out.contains(&n) {
            return Err(
                Diagnostic::new(ErrorKind::Value, format!("`gradient`: axis {ax} is repeated")).at(a.span_at(1)),
            );
        }
        out.push(n);
    }
    Ok(out)
}

/// The spacing for each of `axes` from the `*spacing` arguments (NumPy's
/// rules): none (a step of 1), one number for every axis, or one number or
/// coordinate tensor per axis.
fn spacings(a: &Call<'_>, y: &Value, axes: &[usize]) -> R<Vec<Spacing>> {
    let given = a.rest();
    let arg_span = |j: usize| a.args().span_of(1 + j);
    let shape = shape_of(y);
    let scalar = |v: &Value| shape_of(v).is_empty();
    if given.is_empty() {
        return Ok(axes.iter().map(|_| Spacing::Step(f(1.0))).collect());
    }
    if given.len() == 1 && scalar(&given[0]) {
        let h = numeric("gradient", &given[0])?;
        return Ok(axes.iter().map(|_| Spacing::Step(h.clone())).collect());
    }
    if given.len() != axes.len() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`gradient`: {} spacings for {} axes (give none, one number for all axes, or one per axis)",
                given.len(),
                axes.len()
            ),
        )
        .at(arg_span(0)));
    }
    let mut out = Vec::with_capacity(axes.len());
    for (j, (v, &ax)) in given.iter().zip(axes).enumerate() {
        let v = numeric("gradient", v)?;
        let s = shape_of(&v);
        if s.is_empty() {
            out.push(Spacing::Step(v));
        } else if s.len() == 1 && s[0] == shape[ax] {
            out.push(Spacing::Coords(v));
        } else {
            let d = Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`gradient`: the coordinates for axis {ax} must be a number or 1-d of length {}, found shape {}",
                    shape[ax],
                    format_shape(&s)
                ),
            )
            .at(arg_span(j));
            return Err(label_param(d, a, 0, y));
        }
    }
    Ok(out)
}

/// Registers `gradient`.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "gradient(f: tensor, *spacing: tensor, axis: int | tuple[int] | none = none, edge_order: int = 1) -> any",
            summary: "The derivative of sampled values `f` along each axis by finite differences (NumPy's `gradient`).",
            doc: "Central differences inside, one-sided ones of order `edge_order` (1 or 2) at the two ends. \
                  `spacing` is empty (unit steps), one number for every axis, or one entry per axis: a step, or \
                  the 1-d coordinates of the samples along that axis (uneven spacing). `axis` (an int or a tuple, \
                  default all axes, in the order given) picks the axes; each needs at least `edge_order + 1` \
                  samples. One axis gives a tensor shaped like `f`, several a tuple of them. Linear in `f`, \
                  and differentiable to any order in `f` and the spacings.",
            example: "gradient(tensor([1.0, 4.0, 9.0, 16.0]))  # [3.0, 4.0, 6.0, 7.0]",
        },
        |_, a| {
            let y = numeric("gradient", a.value(0))?;
            let nd = shape_of(&y).len();
            if nd == 0 {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    "`gradient` needs a tensor with at least one axis, found a 0-d value".to_string(),
                )
                .at(a.span_at(0)));
            }
            let edge_order = a.int(2).map_err(at_param(&a, 2))?;
            if !(1..=2).contains(&edge_order) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`gradient`: edge_order must be 1 or 2, found {edge_order}"),
                )
                .at(a.span_at(2)));
            }
            let axes = axes(&a, nd)?;
            let shape = shape_of(&y);
            if let Some(&ax) = axes.iter().find(|&&ax| (shape[ax] as i64) < edge_order + 1) {
                let d = Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "`gradient`: axis {ax} has {} samples; edge_order = {edge_order} needs at least {}",
                        shape[ax],
                        edge_order + 1
                    ),
                )
                .at(a.span_at(0))
                .with_label(y.describe());
                return Err(d);
            }
            let hs = spacings(&a, &y, &axes)?;
            let mut out = Vec::with_capacity(axes.len());
            for (&ax, h) in axes.iter().zip(&hs) {
                out.push(along(&y, ax, h, edge_order).map_err(|d| d.at(a.span))?);
            }
            Ok(if out.len() == 1 {
                out.remove(0)
            } else {
                Value::tuple(out)
            })
        },
    );
}
