//! Where the non-zero elements are: `nonzero` (also `where(cond)` with one
//! argument), `argwhere` and `flatnonzero`, as NumPy and `jax.numpy`.
//!
//! The results are index tensors (integral floats) computed from the
//! concrete values, so they have no derivative. Their length depends on the
//! values: inside `vmap` they need `size=` (as in JAX), which fixes it by
//! truncating or padding with `fill_value`; then each example gets its own.

use super::args::*;
use crate::autodiff::trace::{batch_axes, rewrap_batches, strip_diff};
use crate::builtins::{float_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::prim::as_tensor;
use crate::value::Value;
use dp_tensor::Tensor;
use std::collections::HashMap;
use std::rc::Rc;

/// What the caller wants of the non-zero positions.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Form {
    /// One index tensor per axis (`nonzero`, `where(cond)`).
    PerAxis,
    /// One row of coordinates per element (`argwhere`).
    Rows,
    /// Flat row-major positions (`flatnonzero`).
    Flat,
}

/// The declared parameters every builtin here shares, after `x`.
struct Opts {
    /// `size=`: the fixed number of positions, or all of them.
    size: Option<usize>,
    /// `fill_value=`: one padding value per coordinate (one for `Flat`).
    fill: Vec<f64>,
}

/// Reads `size` (argument `i`) and `fill_value` (argument `i + 1`), the
/// latter a number or (for `nonzero`/`argwhere`) one number per axis.
fn opts(a: &Call<'_>, i: usize, coords: usize) -> R<Opts> {
    let size = match a.given(i) {
        None | Some(Value::None) => None,
        Some(_) => {
            let n = a.int_as(i, "size").map_err(at_param(a, i))?;
            Some(usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`{}`: size must be non-negative, found {n}", a.name()),
                )
                .at(a.span_at(i))
            })?)
        }
    };
    let fill = match a.given(i + 1) {
        None | Some(Value::None) => vec![0.0; coords],
        Some(Value::Tuple(t)) => {
            if t.len() != coords {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "`{}`: fill_value needs one value per axis ({coords}), found {}",
                        a.name(),
                        t.len()
                    ),
                )
                .at(a.span_at(i + 1)));
            }
            t.iter()
                .map(|v| float_arg(a.name(), "fill_value", v))
                .collect::<R<_>>()
                .map_err(at_param(a, i + 1))?
        }
        Some(v) => vec![float_arg(a.name(), "fill_value", v).map_err(at_param(a, i + 1))?; coords],
    };
    Ok(Opts { size, fill })
}

/// The row-major coordinates of the non-zero elements of `data` (one
/// example, of `shape`), `size` of them if given (the first ones, then
/// rows of `fill`), each as `coords` numbers.
fn positions(data: &[f64], shape: &[usize], form: Form, opts: &Opts) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    for (flat, _) in data.iter().enumerate().filter(|(_, v)| **v != 0.0) {
        if opts.size.is_some_and(|n| out.len() >= n) {
            break;
        }
        out.push(match form {
            Form::Flat => vec![flat as f64],
            _ => {
                let mut c = vec![0.0; shape.len()];
                let mut rem = flat;
                for d in (0..shape.len()).rev() {
                    c[d] = (rem % shape[d]) as f64;
                    rem /= shape[d];
                }
                c
            }
        });
    }
    if let Some(n) = opts.size {
        out.resize(n, opts.fill.clone());
    }
    out
}

/// The non-zero positions of `x` in the given form; `size`/`fill_value`
/// are arguments `i`, `i + 1` of the call (reports point there).
pub(super) fn nonzero_of(a: &Call<'_>, x: &Value, form: Form, i: usize) -> R<Value> {
    let shape = shape_of(x);
    if shape.is_empty() && form == Form::PerAxis {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{}` needs a tensor with at least one axis, found a 0-d value (use `flatnonzero` or `atleast_1d`)",
                a.name()
            ),
        )
        .at(a.span_at(0)));
    }
    let coords = if form == Form::Flat { 1 } else { shape.len() };
    let o = opts(a, i, coords)?;
    let plain = strip_diff(x);
    let k = batch_axes(&plain);
    if k > 0 && o.size.is_none() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{}` has a value-dependent size, so inside `vmap` it needs `size=` (and optionally `fill_value=`)",
                a.name()
            ),
        )
        .with_help("give the number of positions to keep, e.g. `size=3`: extra ones are dropped, missing ones padded")
        .cannot_batch()
        .at(a.span));
    }
    // The concrete data, batch axes in front: one run per example.
    let full = as_tensor(&plain)?;
    let data = full.to_vec();
    let m: usize = shape.iter().product();
    let lead: Vec<usize> = full.shape()[..k].to_vec();
    let examples: usize = lead.iter().product();
    let per: Vec<Vec<Vec<f64>>> = (0..examples)
        .map(|e| positions(&data[e * m..(e + 1) * m], &shape, form, &o))
        .collect();
    let count = o.size.unwrap_or_else(|| per.first().map_or(0, Vec::len));
    let make = |vals: Vec<f64>, tail: &[usize]| -> R<Value> {
        let mut s = lead.clone();
        s.extend_from_slice(tail);
        let t = ops::from_tensor(te(Tensor::from_vec(vals, &s))?);
        Ok(if k > 0 { rewrap_batches(&plain, t) } else { t })
    };
    match form {
        Form::PerAxis => {
            let axes = (0..coords)
                .map(|d| make(per.iter().flatten().map(|c| c[d]).collect(), &[count]))
                .collect::<R<Vec<_>>>()?;
            Ok(Value::tuple(axes))
        }
        Form::Rows => make(per.iter().flatten().flatten().copied().collect(), &[count, coords]),
        Form::Flat => make(per.iter().flatten().map(|c| c[0]).collect(), &[count]),
    }
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "nonzero(x: tensor, size: int = none, fill_value: float | tuple = none) -> tuple",
            summary: "The indices of the non-zero (true) elements: a tuple with one index tensor per axis, as NumPy.",
            doc: "The positions are in row-major order; `where(cond)` with one argument is the same. The indices \
                  are integral floats, with no derivative. Their number depends on the values, so inside `vmap` \
                  give `size=` (as `jax.numpy.nonzero`): the first `size` positions, padded with `fill_value` \
                  (default 0; one number, or one per axis). A 0-d `x` is an error, as in NumPy.",
            example: "nonzero(tensor([[1.0, 0.0], [0.0, 2.0]]))  # ([0.0, 1.0], [0.0, 1.0])",
        },
        |_, a| {
            let x = numeric(a.name(), a.value(0))?;
            nonzero_of(&a, &x, Form::PerAxis, 1)
        },
    );
    register(
        t,
        Decl {
            sig: "argwhere(x: tensor, size: int = none, fill_value: float | tuple = none) -> tensor",
            summary: "The coordinates of the non-zero (true) elements, one row each: a `(count, ndim)` tensor.",
            doc: "Row-major order, as `numpy.argwhere`; integral floats with no derivative. Inside `vmap` give \
                  `size=` (rows past the count are `fill_value`, default 0), as `jax.numpy.argwhere`.",
            example: concat!(
                "argwhere(tensor([[1.0, 0.0], [0.0, 2.0]]))  # [[0.0, 0.0],\n",
                "                                            #  [1.0, 1.0]]",
            ),
        },
        |_, a| {
            let x = numeric(a.name(), a.value(0))?;
            nonzero_of(&a, &x, Form::Rows, 1)
        },
    );
    register(
        t,
        Decl {
            sig: "flatnonzero(x: tensor, size: int = none, fill_value: float = none) -> tensor",
            summary: "The positions of the non-zero (true) elements in the flattened `x`.",
            doc: "As `numpy.flatnonzero`; integral floats with no derivative. Inside `vmap` give `size=` (padded \
                  with `fill_value`, default 0), as `jax.numpy.flatnonzero`.",
            example: "flatnonzero(tensor([[1.0, 0.0], [0.0, 2.0]]))  # [0.0, 3.0]",
        },
        |_, a| {
            let x = numeric(a.name(), a.value(0))?;
            nonzero_of(&a, &x, Form::Flat, 1)
        },
    );
}
