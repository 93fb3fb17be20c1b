//! Reading and checking the arguments of tensor builtins: shapes, axes,
//! broadcasting, and kernel errors turned into reports.

use crate::builtins::{arg_type, int_arg, Call};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::literal::to_tensor;
use crate::ops::{num, shape_of};
/// Kernel results as reports.
pub(super) use crate::prim::te;
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis, Tensor};

/// Underlines parameter `i` of the call (`params` as given to `Args::bind`)
/// as the place of an error that has no location yet.
pub(super) fn at_param(a: &Call<'_>, i: usize) -> impl Fn(Diagnostic) -> Diagnostic {
    let span = a.span_at(i);
    move |d| d.at(span)
}

/// Labels parameter `i` with what it is (e.g. `tensor of shape (2, 3)`), so a
/// report about another argument shows the shape it was checked against.
pub(super) fn label_param(d: Diagnostic, a: &Call<'_>, i: usize, v: &Value) -> Diagnostic {
    let span = a.span_at(i);
    if d.span == Some(span) || d.labels.iter().any(|(s, _)| *s == span) {
        return d;
    }
    d.with_secondary(span, v.describe())
}

/// Turns a kernel complaint about incompatible shapes into a shape error (the
/// kernel reports some of them as generic invalid arguments).
pub(super) fn as_shape_error(mut d: Diagnostic) -> Diagnostic {
    if d.kind == ErrorKind::Value && !d.message.contains("too large") {
        d.kind = ErrorKind::Shape;
    }
    d
}

/// Checks that the arguments of an elementwise builtin broadcast together
/// (NumPy rules); otherwise reports the first argument that does not fit the
/// ones before it, naming both shapes.
pub(super) fn check_broadcast(fname: &str, a: &Call<'_>, vals: &[&Value]) -> R<()> {
    let mut acc: Vec<usize> = Vec::new();
    let mut acc_from = 0;
    for (i, v) in vals.iter().enumerate() {
        let s = shape_of(v);
        match dp_tensor::broadcast_shapes(&acc, &s) {
            Some(b) => {
                if b != acc {
                    acc_from = i;
                }
                acc = b.to_vec();
            }
            None => {
                let d = Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "cannot broadcast shapes {} and {} in `{fname}`",
                        format_shape(&acc),
                        format_shape(&s)
                    ),
                )
                .at(a.span_at(i))
                .with_label(v.describe());
                return Err(label_param(d, a, acc_from, vals[acc_from]));
            }
        }
    }
    Ok(())
}

/// An `axis` out of range for an op whose valid axes are those of a tensor
/// with `ndim` dimensions, worded for `fname`.
pub(super) fn axis_error(fname: &str, axis: i64, ndim: usize, of: &str) -> Diagnostic {
    let n = ndim as i64;
    Diagnostic::new(
        ErrorKind::Shape,
        format!(
            "`{fname}`: axis {axis} is out of range for {of} (valid: {}..={})",
            -n,
            n - 1
        ),
    )
}

/// Reads a shape: an int or a tuple of ints.
pub fn shape_arg(fname: &str, v: &Value) -> R<Vec<usize>> {
    let one = |x: &Value| -> R<usize> {
        let i = int_arg(fname, "a shape entry", x)?;
        usize::try_from(i).map_err(|_| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("`{fname}`: shape entries must be non-negative, found {i}"),
            )
        })
    };
    match v {
        Value::Tuple(t) => t.iter().map(one).collect(),
        Value::Tensor(t) if t.ndim() == 1 => t.to_vec().iter().map(|x| one(&Value::Float(*x))).collect(),
        // A value that is no int at all is worded as a shape; a negative int
        // keeps the message that says so (`zeros(-1)`).
        other => Ok(vec![one(other).map_err(|e| match e.kind {
            ErrorKind::Type => arg_type(fname, "the shape", "an int or a tuple of ints", other),
            _ => e,
        })?]),
    }
}

/// Reads an `axis=` argument: `None` for all axes, else normalised axes (sorted, unique).
pub fn axes_arg(fname: &str, v: Option<&Value>, ndim: usize) -> R<Option<Vec<usize>>> {
    let v = match v {
        None | Some(Value::None) => return Ok(None),
        Some(v) => v,
    };
    if let Value::Float(_) = v.peek() {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            format!("`{fname}` expects axis to be an int or a tuple of ints, found float"),
        )
        .with_help("to combine two values elementwise use `maximum(a, b)` / `minimum(a, b)`"));
    }
    let list: Vec<i64> = match v {
        Value::Tuple(t) => t.iter().map(|x| int_arg(fname, "axis", x)).collect::<R<_>>()?,
        other => vec![int_arg(fname, "axis", other)?],
    };
    let mut axes = Vec::with_capacity(list.len());
    for a in list {
        let n = te(normalize_axis(a, ndim))?;
        if axes.contains(&n) {
            return Err(Diagnostic::new(
                ErrorKind::Value,
                format!("`{fname}`: axis {a} is repeated"),
            ));
        }
        axes.push(n);
    }
    axes.sort_unstable();
    Ok(Some(axes))
}

pub(super) fn axis_arg(fname: &str, v: Option<&Value>, ndim: usize, default: i64) -> R<usize> {
    let a = match v {
        None | Some(Value::None) => default,
        Some(v) => int_arg(fname, "axis", v)?,
    };
    te(normalize_axis(a, ndim))
}

pub(super) fn numeric(fname: &str, v: &Value) -> R<Value> {
    if v.is_numeric() || matches!(v, Value::Bool(_)) {
        Ok(num(v))
    } else if let Value::Tuple(_) = v {
        to_tensor(v)
    } else {
        Err(arg_type(fname, "its argument", "a number or tensor", v))
    }
}

pub(super) fn tensor_value(v: &Value) -> R<Value> {
    Ok(match to_tensor(v)? {
        Value::Float(x) => Value::Tensor(std::rc::Rc::new(Tensor::scalar(x))),
        Value::Bool(b) => Value::Tensor(std::rc::Rc::new(Tensor::scalar(f64::from(u8::from(b))).marked_bool())),
        other => other,
    })
}
