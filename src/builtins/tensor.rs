//! Tensor builtins (docs/language.md §6): creation, random numbers, elementwise
//! math, reductions, neural-network helpers, linear algebra and shapes.
//! Composite operations (mean, var, softmax, cross_entropy, ...) are written
//! with the differentiable primitives of `crate::ops`, so they differentiate
//! to any order without rules of their own.

use super::{arg_type, int_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops::{self, apply, as_tensor, num, shape_of, tensor_error, Prim};
use crate::syntax::span::Span;
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis, BinaryOp, ReduceOp, Tensor, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

use crate::diagnostics::R;

fn te<T>(r: dp_tensor::Result<T>) -> R<T> {
    r.map_err(tensor_error)
}

/// Underlines parameter `i` of the call (`params` as given to `Args::bind`)
/// as the place of an error that has no location yet.
fn at_param(a: &Call<'_>, i: usize) -> impl Fn(Diagnostic) -> Diagnostic {
    let span = a.span_at(i);
    move |d| d.at(span)
}

/// Labels parameter `i` with what it is (e.g. `tensor of shape (2, 3)`), so a
/// report about another argument shows the shape it was checked against.
fn label_param(d: Diagnostic, a: &Call<'_>, i: usize, v: &Value) -> Diagnostic {
    let span = a.span_at(i);
    if d.span == Some(span) || d.labels.iter().any(|(s, _)| *s == span) {
        return d;
    }
    d.with_secondary(span, v.describe())
}

/// Turns a kernel complaint about incompatible shapes into a shape error (the
/// kernel reports some of them as generic invalid arguments).
fn as_shape_error(mut d: Diagnostic) -> Diagnostic {
    if d.kind == ErrorKind::Value && !d.message.contains("too large") {
        d.kind = ErrorKind::Shape;
    }
    d
}

/// Checks that the arguments of an elementwise builtin broadcast together
/// (NumPy rules); otherwise reports the first argument that does not fit the
/// ones before it, naming both shapes.
fn check_broadcast(fname: &str, a: &Call<'_>, vals: &[&Value]) -> R<()> {
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

/// Checks class ids for `one_hot` / `cross_entropy`: integral and in `0..n`.
fn check_labels(fname: &str, labels: &Value, n: usize) -> R<()> {
    for &l in as_tensor(labels.strip())?.to_vec().iter() {
        if l.fract() != 0.0 || !l.is_finite() {
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!(
                    "`{fname}`: label {} is not an integer class id",
                    dp_tensor::format_float(l)
                ),
            ));
        }
        if l < 0.0 || l >= n as f64 {
            let valid = if n == 0 {
                "there are none".to_string()
            } else {
                format!("valid class ids are 0..={}", n - 1)
            };
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!(
                    "`{fname}`: label {} is out of range for {n} classes ({valid})",
                    l as i64
                ),
            ));
        }
    }
    Ok(())
}

/// An `axis` out of range for an op whose valid axes are those of a tensor
/// with `ndim` dimensions, worded for `fname`.
fn axis_error(fname: &str, axis: i64, ndim: usize, of: &str) -> Diagnostic {
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

/// Builds the tensor literal `[a, b, ...]`: numbers become a 1-d tensor,
/// tensors of one shape are stacked. Differentiable in every element.
pub fn literal(vals: Vec<Value>, spans: &[Span], span: Span) -> R<Value> {
    if vals.is_empty() {
        return Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::zeros(&[0]))?)));
    }
    let mut plain = Vec::with_capacity(vals.len());
    let mut all_plain = true;
    for v in &vals {
        match v {
            Value::Float(x) => plain.push(*x),
            Value::Int(i) => plain.push(*i as f64),
            _ => {
                all_plain = false;
                break;
            }
        }
    }
    if all_plain {
        return Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::from_vec(
            plain,
            &[vals.len()],
        ))?)));
    }
    let first = shape_of(&vals[0]);
    for (i, v) in vals.iter().enumerate() {
        if !v.is_numeric() {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "tensor literal elements must be numbers or tensors, found {}",
                    v.describe()
                ),
            )
            .at(spans.get(i).copied().unwrap_or(span)));
        }
        let s = shape_of(v);
        if s != first {
            return Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "tensor literal rows must all have one shape: element 0 has shape {} but element {i} has shape {}",
                    format_shape(&first),
                    format_shape(&s)
                ),
            )
            .at(spans.get(i).copied().unwrap_or(span))
            .with_label(format!("shape {}", format_shape(&s)))
            .with_secondary(
                spans.first().copied().unwrap_or(span),
                format!("shape {}", format_shape(&first)),
            ));
        }
    }
    let args: Vec<Value> = vals.iter().map(num).collect();
    apply(&Prim::Stack(crate::prim::Stack(0)), &args).map_err(|d| d.at(span))
}

/// `x.shape`, `x.ndim`, `x.size`, `x.T`.
pub fn property(name: &str, x: &Value) -> R<Value> {
    let s = shape_of(x);
    Ok(match name {
        "shape" => Value::tuple(s.iter().map(|&d| Value::Int(d as i64))),
        "ndim" => Value::Int(s.len() as i64),
        "size" => Value::Int(s.iter().product::<usize>() as i64),
        _ => {
            let perm: Vec<usize> = (0..s.len()).rev().collect();
            if s.len() < 2 {
                x.clone()
            } else {
                ops::transpose(x, &perm)?
            }
        }
    })
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
        other => Ok(vec![one(other).map_err(|_| {
            arg_type(fname, "the shape", "an int or a tuple of ints", other)
        })?]),
    }
}

/// Reads an `axis=` argument: `None` for all axes, else normalised axes (sorted, unique).
pub fn axes_arg(fname: &str, v: Option<&Value>, ndim: usize) -> R<Option<Vec<usize>>> {
    let v = match v {
        None | Some(Value::None) => return Ok(None),
        Some(v) => v,
    };
    if let Value::Float(_) = v.strip() {
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

fn axis_arg(fname: &str, v: Option<&Value>, ndim: usize, default: i64) -> R<usize> {
    let a = match v {
        None | Some(Value::None) => default,
        Some(v) => int_arg(fname, "axis", v)?,
    };
    te(normalize_axis(a, ndim))
}

fn numeric(fname: &str, v: &Value) -> R<Value> {
    if v.is_numeric() || matches!(v, Value::Bool(_)) {
        Ok(num(v))
    } else if let Value::Tuple(_) = v {
        to_tensor(v)
    } else {
        Err(arg_type(fname, "its argument", "a number or tensor", v))
    }
}

/// Converts numbers, tensors and nested tuples of numbers to a tensor value.
pub fn to_tensor(v: &Value) -> R<Value> {
    to_tensor_at(v, 0)
}

fn to_tensor_at(v: &Value, depth: usize) -> R<Value> {
    match v {
        Value::Tuple(_) if depth > dp_tensor::MAX_NDIM => Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "nested tuples are too deep for a tensor (at most {} dimensions)",
                dp_tensor::MAX_NDIM
            ),
        )),
        Value::Tuple(items) => {
            let vals: Vec<Value> = items.iter().map(|x| to_tensor_at(x, depth + 1)).collect::<R<_>>()?;
            let spans = vec![Span::default(); vals.len()];
            literal(vals, &spans, Span::default())
        }
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Bool(b) => Ok(Value::Float(f64::from(u8::from(*b)))),
        Value::Range(lo, hi, step) => {
            // Materialised as a tuple first: its length must fit the memory budget.
            let n = super::core::range_len(*lo, *hi, *step).map_or(u128::MAX, |n| n as u128);
            crate::value::tuple::check_len(n)?;
            let items: crate::value::Tuple = crate::ops::index::iterate(v)?.collect::<R<_>>()?;
            to_tensor(&Value::Tuple(items))
        }
        v if v.is_numeric() => Ok(v.clone()),
        other => Err(arg_type(
            "tensor",
            "its argument",
            "a number, tensor or tuple of numbers",
            other,
        )),
    }
}

fn tensor_value(v: &Value) -> R<Value> {
    Ok(match to_tensor(v)? {
        Value::Float(x) => Value::Tensor(std::rc::Rc::new(Tensor::scalar(x))),
        other => other,
    })
}

fn reduce(x: &Value, op: ReduceOp, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    apply(
        &crate::prim::Reduce::prim(op, axes.map(Rc::from), keepdims),
        std::slice::from_ref(x),
    )
}

fn count(shape: &[usize], axes: &Option<Vec<usize>>) -> f64 {
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

/// `logsumexp(x, axis, keepdims)`, stable for large inputs.
pub fn logsumexp(x: &Value, axes: Option<Vec<usize>>, keepdims: bool) -> R<Value> {
    let plain = x.strip().clone();
    // The shift is a constant: logsumexp does not depend on it, so its derivative is not needed.
    // An empty reduction has no maximum; like JAX its logsumexp is -inf (log of an empty sum), so shift by 0.
    let m = if count(&shape_of(x), &axes) == 0.0 {
        Value::Float(0.0)
    } else {
        reduce(&plain, ReduceOp::Max, axes.clone(), true)?
    };
    let m = match m {
        Value::Float(v) => Value::Float(if v.is_finite() { v } else { 0.0 }),
        Value::Tensor(t) => Value::Tensor(std::rc::Rc::new(t.map(|v| if v.is_finite() { v } else { 0.0 }))),
        other => other,
    };
    let e = ops::unary(UnaryOp::Exp, &ops::sub(x, &m)?)?;
    let s = reduce(&e, ReduceOp::Sum, axes.clone(), true)?;
    let r = ops::add(&ops::unary(UnaryOp::Log, &s)?, &m)?;
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

fn log_softmax(x: &Value, axis: usize) -> R<Value> {
    ops::sub(x, &logsumexp(x, Some(vec![axis]), true)?)
}

fn one_hot(labels: &Value, n: usize) -> R<Value> {
    let t = as_tensor(labels.strip())?;
    Ok(ops::from_tensor(te(t.one_hot(n))?))
}

/// `cross_entropy(logits, labels)`: mean negative log-likelihood of integer class labels.
pub fn cross_entropy(logits: &Value, labels: &Value) -> R<Value> {
    let s = shape_of(logits);
    if s.is_empty() {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            "`cross_entropy` expects logits with a class axis, found a scalar",
        ));
    }
    let classes = s[s.len() - 1];
    let ls = shape_of(labels);
    if ls[..] != s[..s.len() - 1] {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`cross_entropy`: logits of shape {} need labels of shape {}, found {}",
                format_shape(&s),
                format_shape(&s[..s.len() - 1]),
                format_shape(&ls)
            ),
        ));
    }
    let lp = log_softmax(logits, s.len() - 1)?;
    // Selected with `where`, not by multiplying with the one-hot mask: a logit
    // masked with -inf has log-probability -inf, and -inf * 0 would be nan.
    let picked = reduce(
        &ops::where_(&one_hot(labels, classes)?, &lp, &Value::Float(0.0))?,
        ReduceOp::Sum,
        Some(vec![s.len() - 1]),
        false,
    )?;
    ops::neg(&mean(&picked, None, false)?)
}

fn unary_builtin(t: &mut HashMap<Rc<str>, Value>, decl: Decl, op: UnaryOp) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = a.given(0).map(|x| numeric(name, x)).transpose()?.unwrap_or(Value::None);
        ops::unary(op, &x)
    });
}

fn reduction(t: &mut HashMap<Rc<str>, Value>, decl: Decl, f: fn(&Value, Option<Vec<usize>>, bool) -> R<Value>) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        let axes =
            axes_arg(name, a.given(1), shape_of(&x).len()).map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
        let keepdims = a.bool(2)?;
        f(&x, axes, keepdims)
    });
}

fn creation(t: &mut HashMap<Rc<str>, Value>, decl: Decl, fill: f64) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let at = at_param(&a, 0);
        let shape = shape_arg(name, a.value(0)).map_err(&at)?;
        Ok(Value::Tensor(std::rc::Rc::new(
            te(Tensor::full(&shape, fill)).map_err(&at)?,
        )))
    });
}

fn like(t: &mut HashMap<Rc<str>, Value>, decl: Decl, fill: f64) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        Ok(match x.strip() {
            Value::Tensor(t) => Value::Tensor(std::rc::Rc::new(te(Tensor::full(t.shape(), fill))?)),
            _ => Value::Float(fill),
        })
    });
}

fn binary_builtin(t: &mut HashMap<Rc<str>, Value>, decl: Decl, op: BinaryOp) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        let y = numeric(name, a.value(1))?;
        check_broadcast(name, &a, &[&x, &y])?;
        // `pow(x, n)` with an int `n` is an integer power, like `x ** n` (and `jnp.power`).
        if let (BinaryOp::Pow, Some(n @ Value::Int(_))) = (op, a.given(1)) {
            return ops::binary(op, &x, n);
        }
        ops::binary(op, &x, &y)
    });
}

fn tuple_of_tensors(fname: &str, v: &Value) -> R<Vec<Value>> {
    match v {
        Value::Tuple(items) => items.iter().map(|x| numeric(fname, x)).collect(),
        other => Err(arg_type(fname, "its first argument", "a tuple of tensors", other)),
    }
}

fn rng_shape(fname: &str, v: Option<&Value>) -> R<Vec<usize>> {
    match v {
        None | Some(Value::None) => Ok(vec![]),
        Some(s) => shape_arg(fname, s),
    }
}

fn rand_result(t: Tensor) -> Value {
    ops::from_tensor(t)
}

/// Registers every tensor builtin.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    use UnaryOp::*;
    for (decl, op) in [
        (Decl {
            sig: "exp(x: tensor) -> tensor",
            summary: "e raised to `x`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "exp(0.0)  # 1.0",
        }, Exp),
        (Decl {
            sig: "log(x: tensor) -> tensor",
            summary: "The natural logarithm, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. `log(0)` is -inf, of a negative number nan.",
            example: "log(exp(2.0))  # 2.0",
        }, Log),
        (Decl {
            sig: "log1p(x: tensor) -> tensor",
            summary: "`log(1 + x)`, accurate for small `x`.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "log1p(1e-10)  # 1e-10",
        }, Log1p),
        (Decl {
            sig: "expm1(x: tensor) -> tensor",
            summary: "`exp(x) - 1`, accurate for small `x`.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "expm1(1e-10)  # 1e-10",
        }, Expm1),
        (Decl {
            sig: "sqrt(x: tensor) -> tensor",
            summary: "The square root, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Of a negative number nan.",
            example: "sqrt(tensor([4.0, 9.0]))  # tensor([2.0, 3.0])",
        }, Sqrt),
        (Decl {
            sig: "abs(x: tensor) -> tensor",
            summary: "The absolute value, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative at 0 is 0.",
            example: "abs(-2.5)  # 2.5",
        }, Abs),
        (Decl {
            sig: "sin(x: tensor) -> tensor",
            summary: "The sine (radians), elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "sin(0.0)  # 0.0",
        }, Sin),
        (Decl {
            sig: "cos(x: tensor) -> tensor",
            summary: "The cosine (radians), elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "cos(0.0)  # 1.0",
        }, Cos),
        (Decl {
            sig: "tan(x: tensor) -> tensor",
            summary: "The tangent (radians), elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "tan(0.0)  # 0.0",
        }, Tan),
        (Decl {
            sig: "tanh(x: tensor) -> tensor",
            summary: "The hyperbolic tangent, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "tanh(0.0)  # 0.0",
        }, Tanh),
        (Decl {
            sig: "sigmoid(x: tensor) -> tensor",
            summary: "The logistic function `1 / (1 + exp(-x))`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Stable for large `|x|`.",
            example: "sigmoid(0.0)  # 0.5",
        }, Sigmoid),
        (Decl {
            sig: "relu(x: tensor) -> tensor",
            summary: "`max(x, 0)`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative at 0 is 0.",
            example: "relu(tensor([-1.0, 2.0]))  # tensor([0.0, 2.0])",
        }, Relu),
        (Decl {
            sig: "softplus(x: tensor) -> tensor",
            summary: "`log(1 + exp(x))`, elementwise, stable for large `x`.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "softplus(0.0)  # 0.6931...",
        }, Softplus),
        (Decl {
            sig: "sign(x: tensor) -> tensor",
            summary: "-1, 0 or 1 by the sign of `x`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative is 0.",
            example: "sign(-3.0)  # -1.0",
        }, Sign),
        (Decl {
            sig: "floor(x: tensor) -> tensor",
            summary: "The largest integer not above `x`, elementwise (as a float).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative is 0.",
            example: "floor(2.7)  # 2.0",
        }, Floor),
        (Decl {
            sig: "round(x: tensor) -> tensor",
            summary: "`x` rounded to the nearest integer, halves to the even neighbour like NumPy (as a float).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative is 0.",
            example: "round(tensor([0.5, 1.5, 2.5]))  # tensor([0.0, 2.0, 2.0])",
        }, Round),
        (Decl {
            sig: "square(x: tensor) -> tensor",
            summary: "`x * x`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "square(3.0)  # 9.0",
        }, Square),
    ] {
        unary_builtin(t, decl, op);
    }
    // Like the comparison operators, `isnan` of a number is a bool (so it can
    // drive an `if`); of a tensor, a 0.0/1.0 tensor.
    register(
        t,
        Decl {
            sig: "isnan(x: tensor) -> bool | tensor",
            summary: "Whether `x` is nan: a bool for a number, a 0/1 tensor for a tensor.",
            doc: "",
            example: "isnan(0.0 / 0.0)  # true",
        },
        |_, a| {
            let x = numeric("isnan", a.value(0))?;
            match x.strip() {
                Value::Float(f) => Ok(Value::Bool(f.is_nan())),
                Value::Tensor(t) if t.ndim() == 0 => Ok(Value::Bool(t.item().is_some_and(f64::is_nan))),
                _ => ops::unary(IsNan, &x),
            }
        },
    );
    binary_builtin(
        t,
        Decl {
            sig: "maximum(a: tensor, b: tensor) -> tensor",
            summary: "The larger of `a` and `b`, elementwise (broadcasting).",
            doc: "Where they are equal the gradient goes to `a`. For the largest element of one tensor use `max`.",
            example: "maximum(tensor([1.0, 5.0]), 3.0)  # tensor([3.0, 5.0])",
        },
        BinaryOp::Maximum,
    );
    binary_builtin(
        t,
        Decl {
            sig: "minimum(a: tensor, b: tensor) -> tensor",
            summary: "The smaller of `a` and `b`, elementwise (broadcasting).",
            doc: "Where they are equal the gradient goes to `a`. For the smallest element of one tensor use `min`.",
            example: "minimum(tensor([1.0, 5.0]), 3.0)  # tensor([1.0, 3.0])",
        },
        BinaryOp::Minimum,
    );
    binary_builtin(
        t,
        Decl {
            sig: "pow(a: tensor, b: tensor) -> tensor",
            summary: "`a ** b`, elementwise (broadcasting).",
            doc: "An int exponent is an integer power (so negative bases work), like `**`.",
            example: "pow(2.0, 10)  # 1024.0",
        },
        BinaryOp::Pow,
    );

    reduction(
        t,
        Decl {
            sig: "sum(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The sum of the elements, over all axes or the given ones.",
            doc: "Negative axes count from the end; `keepdims=true` keeps reduced axes with size 1.",
            example: "sum(ones((2, 3)), axis=0)  # tensor([2.0, 2.0, 2.0])",
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
            example: "max(tensor([[1.0, 5.0], [3.0, 2.0]]), axis=1)  # tensor([5.0, 3.0])",
        },
        |x, a, k| reduce(x, ReduceOp::Max, a, k),
    );
    reduction(
        t,
        Decl {
            sig: "min(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The smallest element, over all axes or the given ones.",
            doc: "For the smaller of two values elementwise use `minimum`.",
            example: "min(tensor([3.0, 1.0, 2.0]))  # 1.0",
        },
        |x, a, k| reduce(x, ReduceOp::Min, a, k),
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
    reduction(
        t,
        Decl {
            sig: "var(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The population variance (dividing by n), over all axes or the given ones.",
            doc: "",
            example: "var(tensor([1.0, 3.0]))  # 1.0",
        },
        var,
    );
    reduction(
        t,
        Decl {
            sig: "std(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "The population standard deviation, over all axes or the given ones.",
            doc: "",
            example: "std(tensor([1.0, 3.0]))  # 1.0",
        },
        |x, a, k| ops::unary(UnaryOp::Sqrt, &var(x, a, k)?),
    );
    reduction(
        t,
        Decl {
            sig: "logsumexp(x: tensor, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "`log(sum(exp(x)))`, computed stably, over all axes or the given ones.",
            doc: "",
            example: "logsumexp(tensor([1000.0, 1000.0]))  # 1000.6931...",
        },
        logsumexp,
    );

    creation(
        t,
        Decl {
            sig: "zeros(shape: shape) -> tensor",
            summary: "A tensor of zeros of the given shape.",
            doc: "",
            example: "zeros((2, 3))",
        },
        0.0,
    );
    creation(
        t,
        Decl {
            sig: "ones(shape: shape) -> tensor",
            summary: "A tensor of ones of the given shape.",
            doc: "",
            example: "ones(3)  # tensor([1.0, 1.0, 1.0])",
        },
        1.0,
    );
    like(
        t,
        Decl {
            sig: "zeros_like(x: tensor) -> tensor",
            summary: "Zeros of `x`'s shape (a float for a number).",
            doc: "",
            example: "zeros_like(ones((2, 2)))",
        },
        0.0,
    );
    like(
        t,
        Decl {
            sig: "ones_like(x: tensor) -> tensor",
            summary: "Ones of `x`'s shape (a float for a number).",
            doc: "",
            example: "ones_like(zeros(3))",
        },
        1.0,
    );

    register(
        t,
        Decl {
            sig: "tensor(x: number | tensor | tuple | range) -> tensor",
            summary: "`x` as a tensor: nested tuples of numbers become rows.",
            doc: "A number gives a 0-d tensor.",
            example: "tensor(((1, 2), (3, 4))).shape  # (2, 2)",
        },
        |_, a| tensor_value(a.value(0)),
    );
    register(
        t,
        Decl {
            sig: "full(shape: shape, value: float) -> tensor",
            summary: "A tensor of the given shape filled with `value`.",
            doc: "",
            example: "full((2, 2), 7.0)",
        },
        |_, a| {
            let shape = shape_arg("full", a.value(0)).map_err(at_param(&a, 0))?;
            let value = a.value(1);
            let x = a.float_as(1, "the value").map_err(at_param(&a, 1))?;
            let plain = Value::Tensor(std::rc::Rc::new(te(Tensor::full(&shape, x)).map_err(at_param(&a, 0))?));
            if matches!(value, Value::Dual(_)) {
                // A differentiated fill value: broadcasting it is recorded, so the gradient is the sum over the result.
                return ops::broadcast_to(&ops::reshape(value, &[])?, &shape);
            }
            Ok(plain)
        },
    );
    register(
        t,
        Decl {
            sig: "arange(start: float, stop: float = none, step: float = 1) -> tensor",
            summary: "Evenly spaced values from `start` up to (not including) `stop`; `arange(n)` is 0..n.",
            doc: "Like `numpy.arange`; the step must not be zero.",
            example: "arange(0, 1, 0.25)  # tensor([0.0, 0.25, 0.5, 0.75])",
        },
        |_, a| {
            let bound = |i: usize| a.float_as(i, "a bound");
            let (start, stop) = match a.given(1) {
                None => (0.0, bound(0)?),
                Some(_) => (bound(0)?, bound(1)?),
            };
            let step = bound(2)?;
            if step == 0.0 {
                return Err(Diagnostic::new(ErrorKind::Value, "`arange`: the step must not be zero").at(a.span_at(2)));
            }
            Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::arange(start, stop, step))?)))
        },
    );
    register(
        t,
        Decl {
            sig: "linspace(start: float, stop: float, num: int = 50) -> tensor",
            summary: "`num` evenly spaced values from `start` to `stop`, both included.",
            doc: "Differentiable in `start` and `stop`.",
            example: "linspace(0, 1, 5)  # tensor([0.0, 0.25, 0.5, 0.75, 1.0])",
        },
        |_, a| {
            let start = a.float(0)?;
            let stop = a.float(1)?;
            let n = a
                .given(2)
                .map(|x| int_arg("linspace", "num", x))
                .transpose()?
                .unwrap_or(50);
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`linspace`: num must be non-negative, found {n}"),
                )
                .at(a.span_at(2))
            })?;
            let plain = Value::Tensor(std::rc::Rc::new(te(Tensor::linspace(start, stop, n))?));
            let (sv, ev) = (a.value(0), a.value(1));
            if !matches!(sv, Value::Dual(_)) && !matches!(ev, Value::Dual(_)) {
                return Ok(plain);
            }
            // Differentiated end points: element i is start * (1 - w_i) + stop * w_i with w_i = i / (n - 1).
            // Only the perturbations (x - stop_gradient(x)) are added, so the values stay exactly NumPy's.
            let div = if n > 1 { (n - 1) as f64 } else { 1.0 };
            let w = Value::Tensor(std::rc::Rc::new(te(Tensor::from_vec(
                (0..n).map(|i| i as f64 / div).collect(),
                &[n],
            ))?));
            let one_minus_w = ops::sub(&Value::Float(1.0), &w)?;
            let ds = ops::mul(&ops::sub(&ops::reshape(sv, &[])?, &Value::Float(start))?, &one_minus_w)?;
            let de = ops::mul(&ops::sub(&ops::reshape(ev, &[])?, &Value::Float(stop))?, &w)?;
            ops::add(&ops::add(&plain, &ds)?, &de)
        },
    );
    register(
        t,
        Decl {
            sig: "eye(n: int) -> tensor",
            summary: "The `n` by `n` identity matrix.",
            doc: "",
            example: "eye(3)",
        },
        |_, a| {
            let n = int_arg("eye", "n", a.value(0))?;
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(ErrorKind::Value, format!("`eye`: n must be non-negative, found {n}")).at(a.span_of(0))
            })?;
            Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::eye(n))?)))
        },
    );

    register(
        t,
        Decl {
            sig: "seed(n: int)",
            summary: "Restarts the random number generator from seed `n`.",
            doc: "The same seed gives the same random numbers on every machine.",
            example: "seed(0);\nlet a = randn(3);",
        },
        |it: &mut Interp, a| {
            let n = int_arg("seed", "n", a.value(0))?;
            it.rng = dp_tensor::Rng::new(n as u64);
            Ok(Value::None)
        },
    );
    register(
        t,
        Decl {
            sig: "rand(shape: shape = none) -> tensor",
            summary: "Uniform random numbers in [0, 1) of the given shape (a float when omitted).",
            doc: "",
            example: "rand((2, 2))",
        },
        |it: &mut Interp, a| {
            let at = at_param(&a, 0);
            let s = rng_shape("rand", a.given(0)).map_err(&at)?;
            Ok(rand_result(te(it.rng.uniform(&s)).map_err(&at)?))
        },
    );
    register(
        t,
        Decl {
            sig: "randn(shape: shape = none) -> tensor",
            summary: "Standard normal random numbers of the given shape (a float when omitted).",
            doc: "",
            example: "randn(3)",
        },
        |it: &mut Interp, a| {
            let at = at_param(&a, 0);
            let s = rng_shape("randn", a.given(0)).map_err(&at)?;
            Ok(rand_result(te(it.rng.normal(&s)).map_err(&at)?))
        },
    );
    register(
        t,
        Decl {
            sig: "randint(lo: int, hi: int, shape: shape = none) -> int | tensor",
            summary: "Random integers in `lo..hi` (hi excluded): an int, or a tensor of the given shape.",
            doc: "",
            example: "randint(0, 10)",
        },
        |it: &mut Interp, a| {
            let lo = int_arg("randint", "lo", a.value(0))?;
            let hi = int_arg("randint", "hi", a.value(1))?;
            let s = rng_shape("randint", a.given(2)).map_err(at_param(&a, 2))?;
            if lo >= hi {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`randint` needs lo < hi, found lo = {lo} and hi = {hi}"),
                )
                .at(a.span_at(1))
                .with_secondary(a.span_at(0), "lo"));
            }
            let r = te(it.rng.randint(lo, hi, &s)).map_err(at_param(&a, 2))?;
            if s.is_empty() {
                return Ok(Value::Int(r.item().unwrap_or(0.0) as i64));
            }
            Ok(Value::Tensor(std::rc::Rc::new(r)))
        },
    );
    register(
        t,
        Decl {
            sig: "permutation(n: int) -> tensor",
            summary: "A random ordering of `0..n`, as a tensor (use it to shuffle rows with `take`).",
            doc: "",
            example: "take(tensor([10.0, 20.0, 30.0]), permutation(3))",
        },
        |it: &mut Interp, a| {
            let n = int_arg("permutation", "n", a.value(0))?;
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`permutation`: n must be non-negative, found {n}"),
                )
                .at(a.span_of(0))
            })?;
            Ok(Value::Tensor(std::rc::Rc::new(te(it.rng.permutation(n))?)))
        },
    );

    register(
        t,
        Decl {
            sig: "clip(x: tensor, lo: tensor, hi: tensor) -> tensor",
            summary: "`x` limited to the range `[lo, hi]`, elementwise (broadcasting).",
            doc: "",
            example: "clip(tensor([-2.0, 0.5, 3.0]), 0.0, 1.0)  # tensor([0.0, 0.5, 1.0])",
        },
        |_, a| {
            let x = numeric("clip", a.value(0))?;
            let lo = numeric("clip", a.value(1))?;
            let hi = numeric("clip", a.value(2))?;
            check_broadcast("clip", &a, &[&x, &lo, &hi])?;
            ops::binary(BinaryOp::Minimum, &ops::binary(BinaryOp::Maximum, &x, &lo)?, &hi)
        },
    );
    register(
        t,
        Decl {
            sig: "where(cond: bool | tensor, a: tensor, b: tensor) -> tensor",
            summary: "`a` where `cond` is true (non-zero), else `b`, elementwise (broadcasting).",
            doc: "The gradient flows only into the chosen side.",
            example: "where(tensor([1.0, 0.0]) > 0.5, 1.0, -1.0)  # tensor([1.0, -1.0])",
        },
        |_, a| {
            let c = match a.value(0) {
                Value::Bool(b) => Value::Float(f64::from(u8::from(*b))),
                other => numeric("where", other)?.strip().clone(),
            };
            let x = numeric("where", a.value(1))?;
            let y = numeric("where", a.value(2))?;
            check_broadcast("where", &a, &[&c, &x, &y])?;
            ops::where_(&c, &x, &y)
        },
    );
    for (decl, want_all) in [
        (
            Decl {
                sig: "all(x: bool | tensor) -> bool",
                summary: "Whether every element is true (non-zero).",
                doc: "",
                example: "all(tensor([1.0, 2.0]) > 0)  # true",
            },
            true,
        ),
        (
            Decl {
                sig: "any(x: bool | tensor) -> bool",
                summary: "Whether some element is true (non-zero).",
                doc: "",
                example: "any(tensor([1.0, -2.0]) < 0)  # true",
            },
            false,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = a.value(0);
            if let Value::Bool(b) = x {
                return Ok(Value::Bool(*b));
            }
            let t = as_tensor(&numeric(name, x)?)?.to_vec();
            Ok(Value::Bool(if want_all {
                t.iter().all(|v| *v != 0.0)
            } else {
                t.iter().any(|v| *v != 0.0)
            }))
        });
    }
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
                example: "argmin(tensor([[1.0, 0.0], [3.0, 4.0]]), axis=1)  # tensor([1.0, 0.0])",
            },
            false,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let xv = numeric(name, a.value(0))?;
            let x = as_tensor(&xv)?;
            let keep = a.bool(2)?;
            let axis = match a.given(1) {
                None | Some(Value::None) => None,
                Some(ax) => Some(
                    int_arg(name, "axis", ax)
                        .and_then(|i| te(normalize_axis(i, x.ndim())))
                        .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &xv))?,
                ),
            };
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
    for (decl, log) in [
        (
            Decl {
                sig: "softmax(x: tensor, axis: int = -1) -> tensor",
                summary: "`exp(x) / sum(exp(x))` along `axis`, computed stably.",
                doc: "",
                example: "softmax(tensor([0.0, 0.0]))  # tensor([0.5, 0.5])",
            },
            false,
        ),
        (
            Decl {
                sig: "log_softmax(x: tensor, axis: int = -1) -> tensor",
                summary: "`log(softmax(x))` along `axis`, computed stably.",
                doc: "",
                example: "log_softmax(tensor([0.0, 0.0]))",
            },
            true,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let axis = axis_arg(name, a.given(1), shape_of(&x).len().max(1), -1)
                .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
            let x = if shape_of(&x).is_empty() {
                ops::reshape(&x, &[1])?
            } else {
                x
            };
            let ls = log_softmax(&x, axis)?;
            if log {
                Ok(ls)
            } else {
                ops::unary(UnaryOp::Exp, &ls)
            }
        });
    }
    register(
        t,
        Decl {
            sig: "one_hot(labels: tensor, n: int) -> tensor",
            summary: "Rows of `n` zeros with a one at each label's index.",
            doc: "Labels must be integers in `0..n`.",
            example: "one_hot(tensor([0, 2]), 3)  # tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])",
        },
        |_, a| {
            let l = numeric("one_hot", a.value(0))?;
            let n = int_arg("one_hot", "n", a.value(1)).map_err(at_param(&a, 1))?;
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`one_hot`: n must be non-negative, found {n}"),
                )
                .at(a.span_at(1))
            })?;
            check_labels("one_hot", &l, n).map_err(at_param(&a, 0))?;
            one_hot(&l, n)
        },
    );
    register(
        t,
        Decl {
            sig: "cross_entropy(logits: tensor, labels: tensor) -> float",
            summary: "The mean negative log-likelihood of integer class `labels` under `softmax(logits)`.",
            doc: "`logits` has the classes on its last axis; `labels` has the other axes.",
            example: "cross_entropy(tensor([[2.0, 0.0], [0.0, 2.0]]), tensor([0, 1]))",
        },
        |_, a| {
            let x = numeric("cross_entropy", a.value(0))?;
            let l = numeric("cross_entropy", a.value(1))?;
            let s = shape_of(&x);
            if let Some(&classes) = s.last() {
                if shape_of(&l)[..] == s[..s.len() - 1] {
                    check_labels("cross_entropy", &l, classes)
                        .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
                }
            }
            cross_entropy(&x, &l).map_err(|d| {
                if d.kind == ErrorKind::Shape && d.span.is_none() {
                    let at = if s.is_empty() { 0 } else { 1 };
                    label_param(at_param(&a, at)(d), &a, 0, &x)
                } else {
                    d
                }
            })
        },
    );
    register(
        t,
        Decl {
            sig: "matmul(a: tensor, b: tensor) -> tensor",
            summary: "The matrix product `a @ b` (batched over leading axes, vectors as in NumPy).",
            doc: "",
            example: "matmul(eye(2), tensor([1.0, 2.0]))  # tensor([1.0, 2.0])",
        },
        |_, a| {
            let x = numeric("matmul", a.value(0))?;
            let y = numeric("matmul", a.value(1))?;
            crate::ops::arith::matmul(&x, &y).map_err(|d| {
                let d = d.at(a.span);
                label_param(label_param(d, &a, 0, &x), &a, 1, &y)
            })
        },
    );
    register(
        t,
        Decl {
            sig: "dot(a: tensor, b: tensor) -> tensor",
            summary: "The dot product of vectors, or the matrix product of tensors up to 2-d.",
            doc: "With a scalar it is plain multiplication; use `@` for batched products.",
            example: "dot(tensor([1.0, 2.0]), tensor([3.0, 4.0]))  # 11.0",
        },
        |_, a| {
            let x = numeric("dot", a.value(0))?;
            let y = numeric("dot", a.value(1))?;
            if shape_of(&x).is_empty() || shape_of(&y).is_empty() {
                return ops::mul(&x, &y);
            }
            let labelled = |d: Diagnostic| label_param(label_param(d.at(a.span), &a, 0, &x), &a, 1, &y);
            if shape_of(&x).len() > 2 || shape_of(&y).len() > 2 {
                return Err(labelled(
                    Diagnostic::new(
                        ErrorKind::Shape,
                        format!(
                            "`dot` takes tensors of up to 2 dimensions, found {} and {}",
                            format_shape(&shape_of(&x)),
                            format_shape(&shape_of(&y))
                        ),
                    )
                    .with_help("use `@` (matmul) for batched products"),
                ));
            }
            crate::ops::arith::matmul(&x, &y).map_err(labelled)
        },
    );
    register(
        t,
        Decl {
            sig: "outer(a: tensor, b: tensor) -> tensor",
            summary: "The outer product of two (flattened) tensors.",
            doc: "",
            example: "outer(tensor([1.0, 2.0]), tensor([1.0, 0.0, 1.0])).shape  # (2, 3)",
        },
        |_, a| {
            let x = numeric("outer", a.value(0))?;
            let y = numeric("outer", a.value(1))?;
            let n: usize = shape_of(&x).iter().product();
            let m: usize = shape_of(&y).iter().product();
            ops::mul(&ops::reshape(&x, &[n, 1])?, &ops::reshape(&y, &[1, m])?)
        },
    );
    register(
        t,
        Decl {
            sig: "transpose(x: tensor, axes: tuple = none) -> tensor",
            summary: "`x` with its axes reversed, or permuted as `axes` lists them.",
            doc: "`x.T` is `transpose(x)`.",
            example: "transpose(zeros((2, 3, 4)), (1, 0, 2)).shape  # (3, 2, 4)",
        },
        |_, a| {
            let x = numeric("transpose", a.value(0))?;
            let s = shape_of(&x);
            let n = s.len();
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let perm: Vec<usize> = match a.given(1) {
                None | Some(Value::None) => (0..n).rev().collect(),
                Some(Value::Tuple(p)) => {
                    let mut out = Vec::new();
                    for q in p.iter() {
                        let i = int_arg("transpose", "an axis", q).map_err(bad)?;
                        out.push(te(normalize_axis(i, n)).map_err(bad)?);
                    }
                    let mut seen = vec![false; n];
                    let is_perm = out.len() == n && out.iter().all(|&i| !std::mem::replace(&mut seen[i], true));
                    if !is_perm {
                        let given: Vec<String> = p.iter().map(|q| q.repr()).collect();
                        let given = if given.len() == 1 {
                            format!("({},)", given[0])
                        } else {
                            format!("({})", given.join(", "))
                        };
                        return Err(bad(Diagnostic::new(
                            ErrorKind::Shape,
                            format!(
                            "`transpose`: axes {given} are not a permutation of the {n} axes of a tensor of shape {}",
                            format_shape(&s)
                        ),
                        )));
                    }
                    out
                }
                Some(other) => return Err(bad(arg_type("transpose", "axes", "a tuple of ints", other))),
            };
            if n == 0 {
                return Ok(x);
            }
            ops::transpose(&x, &perm)
        },
    );
    register(
        t,
        Decl {
            sig: "size(x: tensor) -> int",
            summary: "The number of elements (`x.size`).",
            doc: "",
            example: "size(zeros((2, 3)))  # 6",
        },
        |_, a| property("size", &numeric("size", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "shape(x: tensor) -> tuple",
            summary: "The shape as a tuple of ints (`x.shape`).",
            doc: "",
            example: "shape(zeros((2, 3)))  # (2, 3)",
        },
        |_, a| property("shape", &numeric("shape", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "ndim(x: tensor) -> int",
            summary: "The number of axes (`x.ndim`).",
            doc: "",
            example: "ndim(zeros((2, 3)))  # 2",
        },
        |_, a| property("ndim", &numeric("ndim", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "reshape(x: tensor, shape: shape) -> tensor",
            summary: "`x` with the same elements in a new shape.",
            doc: "One entry may be -1: it is inferred from the others.",
            example: "reshape(arange(6), (2, -1)).shape  # (2, 3)",
        },
        |_, a| {
            let x = numeric("reshape", a.value(0))?;
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let want: Vec<i64> = match a.value(1) {
                Value::Tuple(t) => t
                    .iter()
                    .map(|d| int_arg("reshape", "a shape entry", d))
                    .collect::<R<_>>()
                    .map_err(bad)?,
                Value::Tensor(t) if t.ndim() == 1 => t
                    .to_vec()
                    .iter()
                    .map(|d| int_arg("reshape", "a shape entry", &Value::Float(*d)))
                    .collect::<R<_>>()
                    .map_err(bad)?,
                other => vec![int_arg("reshape", "the shape", other)
                    .map_err(|_| arg_type("reshape", "the shape", "an int or a tuple of ints", other))
                    .map_err(bad)?],
            };
            let shape = te(as_tensor(&x)?.resolve_reshape(&want)).map_err(|d| bad(as_shape_error(d)))?;
            ops::reshape(&x, &shape)
        },
    );
    register(
        t,
        Decl {
            sig: "flatten(x: tensor) -> tensor",
            summary: "`x` as a 1-d tensor.",
            doc: "",
            example: "flatten(ones((2, 2)))  # tensor([1.0, 1.0, 1.0, 1.0])",
        },
        |_, a| {
            let x = numeric("flatten", a.value(0))?;
            let n: usize = shape_of(&x).iter().product();
            ops::reshape(&x, &[n])
        },
    );
    register(
        t,
        Decl {
            sig: "squeeze(x: tensor, axis: int | tuple[int] = none) -> tensor",
            summary: "`x` without its axes of size 1 (all of them, or the given ones).",
            doc: "",
            example: "squeeze(zeros((1, 3, 1))).shape  # (3,)",
        },
        |_, a| {
            let x = numeric("squeeze", a.value(0))?;
            let s = shape_of(&x);
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let axes = axes_arg("squeeze", a.given(1), s.len()).map_err(bad)?;
            let out: Vec<usize> = match &axes {
                None => s.iter().copied().filter(|&d| d != 1).collect(),
                Some(ax) => {
                    if let Some(&i) = ax.iter().find(|&&i| s[i] != 1) {
                        return Err(bad(Diagnostic::new(
                            ErrorKind::Shape,
                            format!(
                                "`squeeze`: axis {i} of a tensor of shape {} has size {}, not 1",
                                format_shape(&s),
                                s[i]
                            ),
                        )));
                    }
                    s.iter()
                        .enumerate()
                        .filter(|(i, _)| !ax.contains(i))
                        .map(|(_, &d)| d)
                        .collect()
                }
            };
            ops::reshape(&x, &out)
        },
    );
    register(
        t,
        Decl {
            sig: "expand_dims(x: tensor, axis: int) -> tensor",
            summary: "`x` with a new axis of size 1 at `axis`.",
            doc: "",
            example: "expand_dims(zeros(3), 0).shape  # (1, 3)",
        },
        |_, a| {
            let x = numeric("expand_dims", a.value(0))?;
            let mut s = shape_of(&x);
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let ax = int_arg("expand_dims", "axis", a.value(1)).map_err(bad)?;
            let axis = normalize_axis(ax, s.len() + 1).map_err(|_| {
                let of = format!(
                    "a tensor with {} dimension{}",
                    s.len(),
                    if s.len() == 1 { "" } else { "s" }
                );
                bad(axis_error("expand_dims", ax, s.len() + 1, &of))
            })?;
            s.insert(axis, 1);
            ops::reshape(&x, &s)
        },
    );
    register(
        t,
        Decl {
            sig: "broadcast_to(x: tensor, shape: shape) -> tensor",
            summary: "`x` repeated along axes to the given shape (NumPy broadcasting).",
            doc: "The gradient sums over the repeated axes.",
            example: "broadcast_to(tensor([1.0, 2.0]), (3, 2)).shape  # (3, 2)",
        },
        |_, a| {
            let x = numeric("broadcast_to", a.value(0))?;
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let s = shape_arg("broadcast_to", a.value(1)).map_err(bad)?;
            te(as_tensor(&x)?.broadcast_to(&s)).map_err(bad)?;
            ops::broadcast_to(&x, &s)
        },
    );
    for (decl, stack) in [
        (
            Decl {
                sig: "concat(xs: tuple, axis: int = 0) -> tensor",
                summary: "The tensors of `xs` joined along an existing axis.",
                doc: "All other axes must agree.",
                example: "concat((ones(2), zeros(3)))  # 5 elements",
            },
            false,
        ),
        (
            Decl {
                sig: "stack(xs: tuple, axis: int = 0) -> tensor",
                summary: "The tensors of `xs` (all of one shape) stacked along a new axis.",
                doc: "",
                example: "stack((ones(2), zeros(2))).shape  # (2, 2)",
            },
            true,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let xs = tuple_of_tensors(name, a.value(0)).map_err(at_param(&a, 0))?;
            if xs.is_empty() {
                return Err(
                    Diagnostic::new(ErrorKind::Value, format!("`{name}` needs at least one tensor")).at(a.span_at(0)),
                );
            }
            let nd = shape_of(&xs[0]).len() + usize::from(stack);
            let axis = axis_arg(name, a.given(1), nd, 0).map_err(at_param(&a, 1))?;
            apply(
                &if stack {
                    Prim::Stack(crate::prim::Stack(axis))
                } else {
                    Prim::Concat(crate::prim::Concat(axis))
                },
                &xs,
            )
            .map_err(|d| at_param(&a, 0)(as_shape_error(d)))
        });
    }
    register(
        t,
        Decl {
            sig: "take(x: tensor, indices: tensor, axis: int = 0) -> tensor",
            summary: "The slices of `x` at `indices` along `axis` (gathering rows by default).",
            doc: "Indices must be integers; negative ones count from the end. The gradient adds into the taken slices.",
            example: "take(tensor([10.0, 20.0, 30.0]), tensor([2, 0]))  # tensor([30.0, 10.0])",
        },
        |_, a| {
            let x = numeric("take", a.value(0))?;
            let idx = tensor_value(a.value(1)).map_err(at_param(&a, 1))?;
            let axis = axis_arg("take", a.given(2), shape_of(&x).len(), 0)
                .map_err(|d| label_param(at_param(&a, 2)(d), &a, 0, &x))?;
            apply(&Prim::Take(crate::prim::Take(axis)), &[x.clone(), idx.strip().clone()])
                .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))
        },
    );
    register(
        t,
        Decl {
            sig: "tolist(x: tensor) -> tuple",
            summary: "The elements of `x` as nested tuples of floats (a float for a 0-d tensor).",
            doc: "",
            example: "tolist(tensor([[1, 2], [3, 4]]))  # ((1.0, 2.0), (3.0, 4.0))",
        },
        |_, a| {
            let xv = numeric("tolist", a.value(0))?;
            // Every level of nesting is a tuple per entry of the axes above it: a
            // zero-size tensor with a huge leading axis is a huge tuple of `()`s,
            // which must be reported before it is built.
            let mut rows: u128 = 1;
            for &d in &shape_of(&xv) {
                rows = rows.saturating_mul(d as u128);
                crate::value::tuple::check_len(rows).map_err(|d| d.at(a.span_of(0)))?;
            }
            if matches!(xv, Value::Dual(_)) {
                // Being differentiated: split by indexing, which is recorded, so the leaves carry gradients.
                fn split(x: &Value) -> R<Value> {
                    let n = match shape_of(x).first() {
                        None => return ops::reshape(x, &[]),
                        Some(&n) => n,
                    };
                    let mut items = crate::value::Tuple::new();
                    for i in 0..n {
                        let row = apply(
                            &Prim::Slice(crate::prim::Slice(vec![dp_tensor::SliceSpec::Index(i as i64)].into())),
                            std::slice::from_ref(x),
                        )?;
                        items.push(split(&row)?);
                    }
                    Ok(Value::Tuple(items))
                }
                return split(&xv);
            }
            let x = as_tensor(&xv)?;
            fn build(data: &[f64], shape: &[usize]) -> Value {
                match shape.split_first() {
                    None => Value::Float(data.first().copied().unwrap_or(0.0)),
                    Some((&n, rest)) => {
                        let step: usize = rest.iter().product();
                        Value::tuple((0..n).map(|i| build(&data[i * step..], rest)))
                    }
                }
            }
            Ok(build(&x.to_vec(), x.shape()))
        },
    );
    register(
        t,
        Decl {
            sig: "stop_gradient(x)",
            summary: "`x` itself, treated as a constant by differentiation.",
            doc: "Applies to every leaf of a tree.",
            example: "grad(|x| x * stop_gradient(x))(3.0)  # 3.0",
        },
        |_, a| crate::value::tree::map_leaves(a.value(0), &mut |x, _| Ok(x.strip().clone())),
    );
}
