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

/// Whether every value is a bool or a bool tensor (also one batched by
/// `vmap` or traced by `jit`: `peek` looks through those wrappers).
pub(super) fn all_bool(vals: &[&Value]) -> bool {
    vals.iter().all(|v| crate::prim::is_bool(v.peek()))
}

/// `out` as a bool (tensor) when every input was one. The builtins that only
/// pick among their inputs' elements (`maximum`, `clip`, `max`, ...) keep
/// NumPy's dtype this way: the kernels compute in 0.0/1.0 and give floats,
/// but a max of bools is a bool in NumPy (`np.maximum(b, c).dtype == bool`).
pub(super) fn keep_bool(inputs: &[&Value], out: Value) -> R<Value> {
    if !all_bool(inputs) {
        return Ok(out);
    }
    Ok(match out {
        Value::Float(f) => Value::Bool(f != 0.0),
        Value::Tensor(t) if !t.is_bool() => Value::Tensor(std::rc::Rc::new((*t).clone().marked_bool())),
        // Batched or traced: a comparison is a recorded primitive, so the
        // conversion is batched and replayed like the rest.
        Value::Dual(_) => traced_bool(&out)?,
        other => other,
    })
}

/// A batched or traced 0.0/1.0 value as a bool (tensor). A traced number
/// becomes a `bool` by reading it (under `trace`/`jit` a guard of the graph,
/// as `all` and `any` do); the comparison alone would give a float 0/1.
fn traced_bool(out: &Value) -> R<Value> {
    let r = crate::ops::binary(dp_tensor::BinaryOp::Ne, out, &Value::Float(0.0))?;
    let number = matches!(out.peek(), Value::Float(_));
    if !number || crate::autodiff::trace::is_batched(&r) {
        return Ok(r);
    }
    let v = crate::ops::as_tensor(&r)?.item().unwrap_or(0.0);
    Ok(Value::Bool(v != 0.0))
}
