//! NaN-aware reductions (`nansum`, `nanmean`, `nanmax`, `nanmin`, `nanprod`,
//! `nanvar`, `nanstd`) and the `ddof` forms of variance: each written with
//! differentiable primitives, so nan entries get zero gradient and the rest
//! differentiate to any order.

use super::args::*;
use super::reduce::{count, reduce};
use crate::builtins::{register, Decl};
use crate::diagnostics::R;
use crate::ops::{self, div, mul, shape_of, sub};
use crate::value::Value;
use dp_tensor::{BinaryOp, ReduceOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

fn f(x: f64) -> Value {
    Value::Float(x)
}

/// `x` with nan entries replaced by `fill` (a constant), and the 0/1 mask of the kept entries.
fn without_nans(x: &Value, fill: f64) -> R<(Value, Value)> {
    let nan = ops::unary(UnaryOp::IsNan, &crate::autodiff::trace::strip_diff(x))?;
    let kept = sub(&f(1.0), &nan)?;
    Ok((ops::where_(&nan, &f(fill), x)?, kept))
}

/// `sum((x - mean)²) / (n - ddof)` over `axes`, counting only entries where
/// `kept` is 1 (`kept = None`: all entries); `n - ddof <= 0` gives nan, as JAX.
pub(super) fn var_ddof(
    x: &Value,
    kept: Option<&Value>,
    axes: Option<Vec<usize>>,
    keepdims: bool,
    ddof: f64,
) -> R<Value> {
    let n = match kept {
        Some(k) => reduce(k, ReduceOp::Sum, axes.clone(), true)?,
        None => f(count(&shape_of(x), &axes)),
    };
    let m = div(&reduce(x, ReduceOp::Sum, axes.clone(), true)?, &n)?;
    let d = sub(x, &m)?;
    let d = match kept {
        Some(k) => mul(&d, k)?,
        None => d,
    };
    let ss = reduce(&mul(&d, &d)?, ReduceOp::Sum, axes.clone(), keepdims)?;
    // A counted `n` has the reduced axes kept: drop them like the sum's.
    let n = match kept {
        Some(_) if !keepdims => reduce(&n, ReduceOp::Max, axes, false)?,
        _ => n,
    };
    let dof = sub(&n, &f(ddof))?;
    // No degrees of freedom left: nan, as JAX (NumPy warns and gives inf).
    let none_left = ops::binary(BinaryOp::Le, &dof, &f(0.0))?;
    ops::where_(&none_left, &f(f64::NAN), &div(&ss, &dof)?)
}

/// The body of a reduction with `ddof`: `(x, axes, keepdims, ddof)`.
pub(super) type DdofBody = fn(&Value, Option<Vec<usize>>, bool, f64) -> R<Value>;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    let entries: [(Decl, DdofBody); 7] = [
        (
            Decl {
                sig: "nansum(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
                summary: "The sum of the elements that are not nan.",
                doc: "nan entries count as 0 and get zero gradient.",
                example: "nansum(tensor([1.0, 0.0 / 0.0, 2.0]))  # 3.0",
            },
            |x, a, k, _| reduce(&without_nans(x, 0.0)?.0, ReduceOp::Sum, a, k),
        ),
        (
            Decl {
                sig: "nanprod(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
                summary: "The product of the elements that are not nan.",
                doc: "nan entries count as 1 and get zero gradient.",
                example: "nanprod(tensor([2.0, 0.0 / 0.0, 3.0]))  # 6.0",
            },
            |x, a, k, _| reduce(&without_nans(x, 1.0)?.0, ReduceOp::Prod, a, k),
        ),
        (
            Decl {
                sig: "nanmean(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
                summary: "The mean of the elements that are not nan.",
                doc: "A group of only nans gives nan.",
                example: "nanmean(tensor([1.0, 0.0 / 0.0, 2.0]))  # 1.5",
            },
            |x, a, k, _| {
                let (z, kept) = without_nans(x, 0.0)?;
                div(
                    &reduce(&z, ReduceOp::Sum, a.clone(), k)?,
                    &reduce(&kept, ReduceOp::Sum, a, k)?,
                )
            },
        ),
        (
            Decl {
                sig: "nanmax(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
                summary: "The largest element that is not nan.",
                doc: "A group of only nans gives nan. Ties share the gradient equally, like `max`.",
                example: "nanmax(tensor([1.0, 0.0 / 0.0, 2.0]))  # 2.0",
            },
            |x, a, k, _| nan_extreme(x, a, k, ReduceOp::Max, f64::NEG_INFINITY),
        ),
        (
            Decl {
                sig: "nanmin(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
                summary: "The smallest element that is not nan.",
                doc: "A group of only nans gives nan. Ties share the gradient equally, like `min`.",
                example: "nanmin(tensor([1.0, 0.0 / 0.0, 2.0]))  # 1.0",
            },
            |x, a, k, _| nan_extreme(x, a, k, ReduceOp::Min, f64::INFINITY),
        ),
        (
            Decl {
                sig:
                    "nanvar(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false, ddof: int = 0) -> tensor",
                summary: "The variance of the elements that are not nan, dividing by `n - ddof`.",
                doc: "`n` counts the non-nan elements of each group.",
                example: "nanvar(tensor([1.0, 0.0 / 0.0, 3.0]))  # 1.0",
            },
            |x, a, k, ddof| {
                let (z, kept) = without_nans(x, 0.0)?;
                var_ddof(&z, Some(&kept), a, k, ddof)
            },
        ),
        (
            Decl {
                sig:
                    "nanstd(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false, ddof: int = 0) -> tensor",
                summary: "The standard deviation of the elements that are not nan, dividing by `n - ddof`.",
                doc: "`n` counts the non-nan elements of each group.",
                example: "nanstd(tensor([1.0, 0.0 / 0.0, 3.0]))  # 1.0",
            },
            |x, a, k, ddof| {
                let (z, kept) = without_nans(x, 0.0)?;
                ops::unary(UnaryOp::Sqrt, &var_ddof(&z, Some(&kept), a, k, ddof)?)
            },
        ),
    ];
    for (decl, body) in entries {
        let has_ddof = decl.sig.contains("ddof");
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let axes = axes_arg(name, a.given(1), shape_of(&x).len())
                .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
            let ddof = if has_ddof { a.int(3)? as f64 } else { 0.0 };
            body(&x, axes, a.bool(2)?, ddof)
        });
    }
}

/// `max`/`min` ignoring nans (replaced by `fill`, the identity of the
/// reduction); groups of only nans give nan.
fn nan_extreme(x: &Value, axes: Option<Vec<usize>>, keepdims: bool, op: ReduceOp, fill: f64) -> R<Value> {
    let (z, kept) = without_nans(x, fill)?;
    let r = reduce(&z, op, axes.clone(), keepdims)?;
    let any = reduce(&kept, ReduceOp::Sum, axes, keepdims)?;
    let none = ops::binary(BinaryOp::Eq, &any, &f(0.0))?;
    ops::where_(&none, &f(f64::NAN), &r)
}
