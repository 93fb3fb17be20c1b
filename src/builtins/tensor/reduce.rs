//! Reductions: `sum`, `mean`, `var`, `logsumexp`, ... over axes, `all`/`any`,
//! `argmax`/`argmin`.

use super::args::*;
use crate::builtins::{int_arg, register, Decl};
use crate::diagnostics::R;
use crate::ops::{self, apply, as_tensor, shape_of};
use crate::value::Value;
use dp_tensor::{normalize_axis, ReduceOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    reduction(
        t,
        Decl {
            sig: "sum(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The sum of the elements, over all axes or the given ones.",
            doc: "Negative axes count from the end; `keepdims=true` keeps reduced axes with size 1.",
            example: "sum(ones((2, 3)), axis=0)  # [2.0, 2.0, 2.0]",
        },
        |x, a, k| reduce(x, ReduceOp::Sum, a, k),
    );
    reduction(
        t,
        Decl {
            sig: "prod(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The product of the elements, over all axes or the given ones.",
            doc: "",
            example: "prod(tensor([2.0, 3.0, 4.0]))  # 24.0",
        },
        |x, a, k| reduce(x, ReduceOp::Prod, a, k),
    );
    reduction(
        t,
        Decl {
            sig: "max(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The largest element, over all axes or the given ones.",
            doc: "For the larger of two values elementwise use `maximum`. Ties share the gradient equally.",
            example: "max(tensor([[1.0, 5.0], [3.0, 2.0]]), axis=1)  # [5.0, 3.0]",
        },
        |x, a, k| keep_bool(&[x], reduce(x, ReduceOp::Max, a, k)?),
    );
    reduction(
        t,
        Decl {
            sig: "min(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The smallest element, over all axes or the given ones.",
            doc: "For the smaller of two values elementwise use `minimum`.",
            example: "min(tensor([3.0, 1.0, 2.0]))  # 1.0",
        },
        |x, a, k| keep_bool(&[x], reduce(x, ReduceOp::Min, a, k)?),
    );
    reduction(
        t,
        Decl {
            sig: "mean(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The mean of the elements, over all axes or the given ones.",
            doc: "",
            example: "mean(tensor([1.0, 2.0, 6.0]))  # 3.0",
        },
        mean,
    );
    reduction_ddof(
        t,
        Decl {
            sig: "var(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false, ddof: int = 0) -> tensor",
            summary: "The variance (dividing by `n - ddof`; by default the population variance), over all axes or the given ones.",
            doc: "`ddof=1` gives the unbiased sample variance, as NumPy.",
            example: "var(tensor([1.0, 3.0]))  # 1.0",
        },
        |x, a, k, ddof| if ddof == 0.0 { var(x, a, k) } else { super::nanreduce::var_ddof(x, None, a, k, ddof) },
    );
    reduction_ddof(
        t,
        Decl {
            sig: "std(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false, ddof: int = 0) -> tensor",
            summary: "The standard deviation (dividing by `n - ddof`; by default the population one), over all axes or the given ones.",
            doc: "`ddof=1` gives the square root of the unbiased sample variance, as NumPy.",
            example: "std(tensor([1.0, 3.0]))  # 1.0",
        },
        |x, a, k, ddof| {
            let v = if ddof == 0.0 { var(x, a, k)? } else { super::nanreduce::var_ddof(x, None, a, k, ddof)? };
            ops::unary(UnaryOp::Sqrt, &v)
        },
    );
    reduction(
        t,
        Decl {
            sig: "logsumexp(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "`log(sum(exp(x)))`, computed stably, over all axes or the given ones.",
            doc: "",
            example: "logsumexp(tensor([1000.0, 1000.0]))  # 1000.6931471805599",
        },
        logsumexp,
    );

    for (decl, want_all) in [
        (
            Decl {
                sig: "all(x: bool | tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> bool | tensor",
                summary: "Whether every element is true (non-zero): a bool, or a bool tensor over the given axes.",
                doc: "As `numpy.all`: `axis` is an int or a tuple of ints (negative counting from the end); the \
                      reduced axes are dropped unless `keepdims=true`. NaN counts as true; over no elements the \
                      answer is `true`. A full reduction gives a `bool` (a bool per example inside `vmap`).",
                example: "all(tensor([[1.0, 0.0], [2.0, 3.0]]) > 0, axis=1)  # [false, true]",
            },
            true,
        ),
        (
            Decl {
                sig: "any(x: bool | tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> bool | tensor",
                summary: "Whether some element is true (non-zero): a bool, or a bool tensor over the given axes.",
                doc: "As `numpy.any`: `axis` is an int or a tuple of ints (negative counting from the end); the \
                      reduced axes are dropped unless `keepdims=true`. NaN counts as true; over no elements the \
                      answer is `false`. A full reduction gives a `bool` (a bool per example inside `vmap`).",
                example: "any(tensor([[1.0, -2.0], [2.0, 3.0]]) < 0, axis=0)  # [false, true]",
            },
            false,
        ),
    ] {
        register(t, decl, move |_, a| {
            truth_reduction(&a, if want_all { Truth::All } else { Truth::Any })
        });
    }
    register(
        t,
        Decl {
            sig:
                "count_nonzero(x: bool | tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> int | tensor",
            summary: "How many elements are non-zero (true): an int, or a tensor of counts over the given axes.",
            doc: "As `numpy.count_nonzero`: `axis` is an int or a tuple of ints; NaN counts as non-zero. The \
                  counts are integral floats; a full reduction gives an `int` (a count per example inside `vmap`).",
            example: "count_nonzero(tensor([[1.0, 0.0], [2.0, 3.0]]), axis=1)  # [1.0, 2.0]",
        },
        |_, a| truth_reduction(&a, Truth::Count),
    );
    for (decl, is_max) in [
        (
            Decl {
                sig: "argmax(x: tensor, axis: int = none, keepdims: bool = false) -> int | tensor",
                summary: "The index of the largest element: of the flattened tensor (an int), or along `axis`.",
                doc: "The first index wins ties.",
                example: "argmax(tensor([1.0, 5.0, 3.0]))  # 1",
            },
            true,
        ),
        (
            Decl {
                sig: "argmin(x: tensor, axis: int = none, keepdims: bool = false) -> int | tensor",
                summary: "The index of the smallest element: of the flattened tensor (an int), or along `axis`.",
                doc: "The first index wins ties.",
                example: "argmin(tensor([[1.0, 0.0], [3.0, 4.0]]), axis=1)  # [1.0, 0.0]",
            },
            false,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let xv = numeric(name, a.value(0))?;
            let keep = a.bool(2)?;
            // Inside `vmap` the batch axes lead the data: an example's axes come after them.
            let k = crate::autodiff::trace::batch_axes(&xv);
            let seen = crate::ops::shape_of(&xv);
            let axis = match a.given(1) {
                None | Some(Value::None) => None,
                Some(ax) => Some(
                    int_arg(name, "axis", ax)
                        .and_then(|i| te(normalize_axis(i, seen.len())))
                        .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &xv))?,
                ),
            };
            // A value a running trace computed: a recorded primitive (a jit
            // plan finds the positions in its new inputs), batched by its
            // rule inside `vmap`.
            if crate::autodiff::trace::is_traced(&xv) {
                let Some(axis) = axis else {
                    return flat_arg_extremum(&xv, is_max, keep);
                };
                let keepdims = keep;
                let order = if is_max {
                    crate::prim::Order::ArgMax { axis, keepdims }
                } else {
                    crate::prim::Order::ArgMin { axis, keepdims }
                };
                return ops::apply(&crate::prim::Prim::Order(order), &[xv]);
            }
            if k > 0 {
                let full = as_tensor(&xv)?;
                let lead = full.shape()[..k].to_vec();
                let (flat, ax) = match axis {
                    Some(ax) => (full, ax + k),
                    None => {
                        let mut s = lead.clone();
                        s.push(seen.iter().product());
                        (std::rc::Rc::new(te(full.reshape(&s))?), k)
                    }
                };
                let r = te(if is_max {
                    flat.argmax(Some(ax), false)
                } else {
                    flat.argmin(Some(ax), false)
                })?;
                let r = match (axis, keep) {
                    (_, false) => r,
                    (Some(_), true) => {
                        let mut s = r.shape().to_vec();
                        s.insert(ax, 1);
                        te(r.reshape(&s))?
                    }
                    (None, true) => {
                        let mut s = lead;
                        s.extend(std::iter::repeat_n(1, seen.len()));
                        te(r.reshape(&s))?
                    }
                };
                return Ok(crate::autodiff::trace::rewrap_batches(&xv, ops::from_tensor(r)));
            }
            let x = as_tensor(&xv)?;
            let r = te(if is_max {
                x.argmax(axis, keep)
            } else {
                x.argmin(axis, keep)
            })?;
            if axis.is_none() && !keep {
                return Ok(Value::Int(r.item().unwrap_or(0.0) as i64));
            }
            Ok(ops::from_tensor(r))
        });
    }
}

/// `argmax(x)` / `argmin(x)` without an axis of a value a running trace
/// computed, as recorded primitives (a jit plan finds the position in its
/// new inputs): an int, as plain code gives, or with `keepdims` the
/// position along the flattened tensor with every axis kept as length 1.
fn flat_arg_extremum(xv: &Value, is_max: bool, keep: bool) -> crate::diagnostics::R<Value> {
    use crate::prim::{Order, Prim};
    if !keep {
        return ops::apply(&Prim::Order(Order::Flat { max: is_max }), std::slice::from_ref(xv));
    }
    let shape = crate::ops::shape_of(xv);
    let flat = ops::reshape(xv, &[shape.iter().product()])?;
    let order = if is_max {
        Order::ArgMax {
            axis: 0,
            keepdims: true,
        }
    } else {
        Order::ArgMin {
            axis: 0,
            keepdims: true,
        }
    };
    let r = ops::apply(&Prim::Order(order), &[flat])?;
    ops::reshape(&r, &vec![1; shape.len()])
}

pub(super) fn reduce(x: &Value, op: ReduceOp, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    apply(
        &crate::prim::Reduce::prim(op, axes.map(Rc::from), keepdims),
        std::slice::from_ref(x),
    )
}

pub(super) fn count(shape: &[usize], axes: &Option<Vec<usize>>) -> f64 {
    match axes {
        None => shape.iter().product::<usize>() as f64,
        Some(a) => a.iter().map(|&i| shape[i]).product::<usize>() as f64,
    }
}

/// `mean(x, axis, keepdims)`.
pub fn mean(x: &Value, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    let n = count(&shape_of(x), &axes);
    ops::div(&reduce(x, ReduceOp::Sum, axes, keepdims)?, &Value::Float(n))
}

/// `var(x, axis, keepdims)` (population variance, like NumPy's default).
pub fn var(x: &Value, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    let m = mean(x, axes.clone(), true)?;
    let d = ops::sub(x, &m)?;
    mean(&ops::mul(&d, &d)?, axes, keepdims)
}

/// `x` shifted by its maximum over `axes`, the exponentials of the shifted
/// values, and the shift (with the reduced axes kept, size 1): the stable
/// pieces of `logsumexp`, `log_softmax` and `softmax`. The shift is a
/// constant (none of the three depends on it, so its derivative is not
/// needed); a non-finite maximum shifts by 0.
pub(crate) struct Shifted {
    /// `x - shift`.
    pub(crate) x: Value,
    /// `exp(x - shift)`.
    pub(crate) exp: Value,
    /// The maximum over the axes, or 0 where it is not finite.
    pub(crate) shift: Value,
}

/// [`Shifted`] of `x` over `axes` (all axes for `None`).
pub(crate) fn shifted_by_max(x: &Value, axes: &Option<Vec<usize>>) -> R<Shifted> {
    let plain = crate::autodiff::trace::strip_diff(x);
    // The shift is a constant: logsumexp does not depend on it, so its derivative is not needed.
    // An empty reduction has no maximum; like JAX its logsumexp is -inf (log of an empty sum), so shift by 0.
    let m = if count(&shape_of(x), axes) == 0.0 {
        Value::Float(0.0)
    } else {
        reduce(&plain, ReduceOp::Max, axes.clone(), true)?
    };
    let m = match m {
        // Batched (inside `vmap`): the same replacement, per example.
        m @ Value::Dual(_) => {
            let finite = ops::unary(UnaryOp::IsFinite, &m)?;
            ops::where_(&finite, &m, &Value::Float(0.0))?
        }
        Value::Float(v) => Value::Float(if v.is_finite() { v } else { 0.0 }),
        Value::Tensor(t) => Value::Tensor(std::rc::Rc::new(t.map(|v| if v.is_finite() { v } else { 0.0 }))),
        other => other,
    };
    let shifted = ops::sub(x, &m)?;
    Ok(Shifted {
        exp: ops::unary(UnaryOp::Exp, &shifted)?,
        x: shifted,
        shift: m,
    })
}

/// `log(sum(exp(x - shift)))` over `axes`, kept as size-1 axes.
pub(crate) fn log_sum_exp_shifted(s: &Shifted, axes: &Option<Vec<usize>>) -> R<Value> {
    ops::unary(UnaryOp::Log, &reduce(&s.exp, ReduceOp::Sum, axes.clone(), true)?)
}

/// `logsumexp(x, axis, keepdims)`, stable for large inputs.
pub fn logsumexp(x: &Value, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    let s = shifted_by_max(x, &axes)?;
    let r = ops::add(&log_sum_exp_shifted(&s, &axes)?, &s.shift)?;
    if keepdims {
        return Ok(r);
    }
    let shape = shape_of(x);
    let out: Vec<usize> = match &axes {
        None => vec![],
        Some(a) => shape
            .iter()
            .enumerate()
            .filter(|(i, _)| !a.contains(i))
            .map(|(_, &d)| d)
            .collect(),
    };
    ops::reshape(&r, &out)
}

/// Registers a reduction with a trailing `ddof` parameter (`var`, `std`).
fn reduction_ddof(t: &mut HashMap<Rc<str>, Value>, decl: Decl, f: super::nanreduce::DdofBody) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        let axes =
            axes_arg(name, a.given(1), shape_of(&x).len()).map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
        f(&x, axes, a.bool(2)?, a.int(3)? as f64)
    });
}

pub(super) fn reduction(
    t: &mut HashMap<Rc<str>, Value>,
    decl: Decl,
    f: fn(&Value, Option<Vec<usize>>, bool) -> R<Value>,
) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        let axes =
            axes_arg(name, a.given(1), shape_of(&x).len()).map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
        let keepdims = a.bool(2)?;
        f(&x, axes, keepdims)
    });
}

/// What [`truth_reduction`] computes.
#[derive(Clone, Copy, PartialEq)]
enum Truth {
    All,
    Any,
    Count,
}

/// `all`, `any` and `count_nonzero` over `axis` (argument 1) with
/// `keepdims` (argument 2). Written with recorded primitives (a comparison
/// with zero and a sum), so it works inside `vmap` (each example reduces its
/// own part) and under `trace`/`jit` (a full reduction that gives a `bool`
/// or `int` reads one scalar, a guard of the graph). Counting rather than a
/// min/max makes the empty reductions NumPy's (`all` true, `any` false). No
/// derivative: the comparisons have none.
fn truth_reduction(a: &crate::builtins::Call<'_>, what: Truth) -> R<Value> {
    let name = a.name();
    let keepdims = a.bool(2)?;
    let whole = matches!(a.given(1), None | Some(Value::None)) && !keepdims;
    if let (Value::Bool(b), true) = (a.value(0), whole) {
        return Ok(match what {
            Truth::Count => Value::Int(i64::from(*b)),
            _ => Value::Bool(*b),
        });
    }
    let x = crate::autodiff::trace::strip_diff(&numeric(name, a.value(0))?);
    let axes = axes_arg(name, a.given(1), shape_of(&x).len()).map_err(|d| label_param(at_param(a, 1)(d), a, 0, &x))?;
    // `all` counts the zeros (none may be there), the others the non-zeros.
    let test = if what == Truth::All {
        dp_tensor::BinaryOp::Eq
    } else {
        dp_tensor::BinaryOp::Ne
    };
    let hits = ops::binary(test, &x, &Value::Float(0.0))?;
    let n = reduce(&hits, ReduceOp::Sum, axes, keepdims)?;
    let r = match what {
        Truth::All => ops::binary(dp_tensor::BinaryOp::Eq, &n, &Value::Float(0.0))?,
        Truth::Any => ops::binary(dp_tensor::BinaryOp::Gt, &n, &Value::Float(0.0))?,
        Truth::Count => n,
    };
    // Inside `vmap` each example keeps its own answer (a batched 0-d value).
    if !whole || crate::autodiff::trace::is_batched(&r) {
        return Ok(r);
    }
    // `as_tensor` reads the value (under `trace`, a guard of the graph).
    let v = match &r {
        Value::Bool(b) => f64::from(u8::from(*b)),
        other => as_tensor(other)?.item().unwrap_or(0.0),
    };
    Ok(match what {
        Truth::Count => Value::Int(v as i64),
        _ => Value::Bool(v != 0.0),
    })
}
