//! Tensor builtins (docs/language.md §6): creation, random numbers, elementwise
//! math, reductions, neural-network helpers, linear algebra and shapes.
//! Composite operations (mean, var, softmax, cross_entropy, ...) are written
//! with the differentiable primitives of `crate::ops`, so they differentiate
//! to any order without rules of their own.

use super::{arg_type, bool_arg, float_arg, int_arg, register, Args};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops::{self, apply, as_tensor, num, shape_of, tensor_error, Prim};
use crate::syntax::span::Span;
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis, BinaryOp, ReduceOp, Tensor, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

type R<T> = Result<T, Diagnostic>;

fn te<T>(r: dp_tensor::Result<T>) -> R<T> {
    r.map_err(tensor_error)
}

/// Underlines parameter `i` of the call (`params` as given to `Args::bind`)
/// as the place of an error that has no location yet.
fn at_param(a: &Args, params: &[&str], i: usize) -> impl Fn(Diagnostic) -> Diagnostic {
    let span = a.param_span(params, i);
    move |d| d.at(span)
}

/// Labels parameter `i` with what it is (e.g. `tensor of shape (2, 3)`), so a
/// report about another argument shows the shape it was checked against.
fn label_param(d: Diagnostic, a: &Args, params: &[&str], i: usize, v: &Value) -> Diagnostic {
    let span = a.param_span(params, i);
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
fn check_broadcast(fname: &str, a: &Args, params: &[&str], vals: &[&Value]) -> R<()> {
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
                .at(a.param_span(params, i))
                .with_label(v.describe());
                return Err(label_param(d, a, params, acc_from, vals[acc_from]));
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
        Value::Range(..) => {
            let items: crate::value::Tuple = crate::eval::index::iterate(v)?.collect::<R<_>>()?;
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

fn unary_builtin(t: &mut HashMap<Rc<str>, Value>, name: &'static str, op: UnaryOp) {
    register(t, name, move |_, a: Args| {
        let v = a.bind(name, &["x"])?;
        let x = v[0]
            .as_ref()
            .map(|x| numeric(name, x))
            .transpose()?
            .unwrap_or(Value::None);
        ops::unary(op, &x)
    });
}

fn reduction(t: &mut HashMap<Rc<str>, Value>, name: &'static str, f: fn(&Value, Option<Vec<usize>>, bool) -> R<Value>) {
    register(t, name, move |_, a: Args| {
        const P: &[&str] = &["x", "axis?", "keepdims?"];
        let v = a.bind(name, P)?;
        let x = numeric(name, v[0].as_ref().unwrap_or(&Value::None))?;
        let axes = axes_arg(name, v[1].as_ref(), shape_of(&x).len())
            .map_err(|d| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x))?;
        let keepdims = v[2]
            .as_ref()
            .map(|k| bool_arg(name, "keepdims", k))
            .transpose()?
            .unwrap_or(false);
        f(&x, axes, keepdims)
    });
}

fn creation(t: &mut HashMap<Rc<str>, Value>, name: &'static str, fill: f64) {
    register(t, name, move |_, a: Args| {
        let v = a.bind(name, &["shape"])?;
        let at = at_param(&a, &["shape"], 0);
        let shape = shape_arg(name, v[0].as_ref().unwrap_or(&Value::None)).map_err(&at)?;
        Ok(Value::Tensor(std::rc::Rc::new(
            te(Tensor::full(&shape, fill)).map_err(&at)?,
        )))
    });
}

fn like(t: &mut HashMap<Rc<str>, Value>, name: &'static str, fill: f64) {
    register(t, name, move |_, a: Args| {
        let v = a.bind(name, &["x"])?;
        let x = numeric(name, v[0].as_ref().unwrap_or(&Value::None))?;
        Ok(match x.strip() {
            Value::Tensor(t) => Value::Tensor(std::rc::Rc::new(te(Tensor::full(t.shape(), fill))?)),
            _ => Value::Float(fill),
        })
    });
}

fn binary_builtin(t: &mut HashMap<Rc<str>, Value>, name: &'static str, op: BinaryOp) {
    register(t, name, move |_, a: Args| {
        const P: &[&str] = &["a", "b"];
        let v = a.bind(name, P)?;
        let x = numeric(name, v[0].as_ref().unwrap_or(&Value::None))?;
        let y = numeric(name, v[1].as_ref().unwrap_or(&Value::None))?;
        check_broadcast(name, &a, P, &[&x, &y])?;
        // `pow(x, n)` with an int `n` is an integer power, like `x ** n` (and `jnp.power`).
        if let (BinaryOp::Pow, Some(n @ Value::Int(_))) = (op, &v[1]) {
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
    for (name, op) in [
        ("exp", Exp),
        ("log", Log),
        ("log1p", Log1p),
        ("expm1", Expm1),
        ("sqrt", Sqrt),
        ("abs", Abs),
        ("sin", Sin),
        ("cos", Cos),
        ("tan", Tan),
        ("tanh", Tanh),
        ("sigmoid", Sigmoid),
        ("relu", Relu),
        ("softplus", Softplus),
        ("sign", Sign),
        ("floor", Floor),
        ("round", Round),
        ("square", Square),
    ] {
        unary_builtin(t, name, op);
    }
    // Like the comparison operators, `isnan` of a number is a bool (so it can
    // drive an `if`); of a tensor, a 0.0/1.0 tensor.
    register(t, "isnan", |_, a| {
        let v = a.bind("isnan", &["x"])?;
        let x = numeric("isnan", v[0].as_ref().unwrap_or(&Value::None))?;
        match x.strip() {
            Value::Float(f) => Ok(Value::Bool(f.is_nan())),
            Value::Tensor(t) if t.ndim() == 0 => Ok(Value::Bool(t.item().is_some_and(f64::is_nan))),
            _ => ops::unary(IsNan, &x),
        }
    });
    binary_builtin(t, "maximum", BinaryOp::Maximum);
    binary_builtin(t, "minimum", BinaryOp::Minimum);
    binary_builtin(t, "pow", BinaryOp::Pow);

    reduction(t, "sum", |x, a, k| reduce(x, ReduceOp::Sum, a, k));
    reduction(t, "prod", |x, a, k| reduce(x, ReduceOp::Prod, a, k));
    reduction(t, "max", |x, a, k| reduce(x, ReduceOp::Max, a, k));
    reduction(t, "min", |x, a, k| reduce(x, ReduceOp::Min, a, k));
    reduction(t, "mean", mean);
    reduction(t, "var", var);
    reduction(t, "std", |x, a, k| ops::unary(UnaryOp::Sqrt, &var(x, a, k)?));
    reduction(t, "logsumexp", logsumexp);

    creation(t, "zeros", 0.0);
    creation(t, "ones", 1.0);
    like(t, "zeros_like", 0.0);
    like(t, "ones_like", 1.0);

    register(t, "tensor", |_, a| {
        let v = a.bind("tensor", &["x"])?;
        tensor_value(v[0].as_ref().unwrap_or(&Value::None))
    });
    register(t, "full", |_, a| {
        const P: &[&str] = &["shape", "value"];
        let v = a.bind("full", P)?;
        let shape = shape_arg("full", v[0].as_ref().unwrap_or(&Value::None)).map_err(at_param(&a, P, 0))?;
        let value = v[1].as_ref().unwrap_or(&Value::None);
        let x = float_arg("full", "the value", value).map_err(at_param(&a, P, 1))?;
        let plain = Value::Tensor(std::rc::Rc::new(
            te(Tensor::full(&shape, x)).map_err(at_param(&a, P, 0))?,
        ));
        if matches!(value, Value::Dual(_)) {
            // A differentiated fill value: broadcasting it is recorded, so the gradient is the sum over the result.
            return ops::broadcast_to(&ops::reshape(value, &[])?, &shape);
        }
        Ok(plain)
    });
    register(t, "arange", |_, a| {
        let v = a.bind("arange", &["start", "stop?", "step?"])?;
        let f = |i: usize, d: f64| -> R<f64> {
            v[i].as_ref()
                .map(|x| float_arg("arange", "a bound", x))
                .transpose()
                .map(|o| o.unwrap_or(d))
        };
        let (start, stop) = match v[1] {
            None => (0.0, f(0, 0.0)?),
            Some(_) => (f(0, 0.0)?, f(1, 0.0)?),
        };
        let step = f(2, 1.0)?;
        if step == 0.0 {
            return Err(Diagnostic::new(ErrorKind::Value, "`arange`: the step must not be zero")
                .at(a.param_span(&["start", "stop?", "step?"], 2)));
        }
        Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::arange(start, stop, step))?)))
    });
    register(t, "linspace", |_, a| {
        let v = a.bind("linspace", &["start", "stop", "num?"])?;
        let start = float_arg("linspace", "start", v[0].as_ref().unwrap_or(&Value::None))?;
        let stop = float_arg("linspace", "stop", v[1].as_ref().unwrap_or(&Value::None))?;
        let n = v[2]
            .as_ref()
            .map(|x| int_arg("linspace", "num", x))
            .transpose()?
            .unwrap_or(50);
        let n = usize::try_from(n).map_err(|_| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("`linspace`: num must be non-negative, found {n}"),
            )
            .at(a.param_span(&["start", "stop", "num?"], 2))
        })?;
        let plain = Value::Tensor(std::rc::Rc::new(te(Tensor::linspace(start, stop, n))?));
        let (sv, ev) = (
            v[0].as_ref().unwrap_or(&Value::None),
            v[1].as_ref().unwrap_or(&Value::None),
        );
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
    });
    register(t, "eye", |_, a| {
        let v = a.bind("eye", &["n"])?;
        let n = int_arg("eye", "n", v[0].as_ref().unwrap_or(&Value::None))?;
        let n = usize::try_from(n).map_err(|_| {
            Diagnostic::new(ErrorKind::Value, format!("`eye`: n must be non-negative, found {n}")).at(a.span_of(0))
        })?;
        Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::eye(n))?)))
    });

    register(t, "seed", |it: &mut Interp, a| {
        let v = a.bind("seed", &["n"])?;
        let n = int_arg("seed", "n", v[0].as_ref().unwrap_or(&Value::None))?;
        it.rng = dp_tensor::Rng::new(n as u64);
        Ok(Value::None)
    });
    register(t, "rand", |it: &mut Interp, a| {
        let v = a.bind("rand", &["shape?"])?;
        let at = at_param(&a, &["shape?"], 0);
        let s = rng_shape("rand", v[0].as_ref()).map_err(&at)?;
        Ok(rand_result(te(it.rng.uniform(&s)).map_err(&at)?))
    });
    register(t, "randn", |it: &mut Interp, a| {
        let v = a.bind("randn", &["shape?"])?;
        let at = at_param(&a, &["shape?"], 0);
        let s = rng_shape("randn", v[0].as_ref()).map_err(&at)?;
        Ok(rand_result(te(it.rng.normal(&s)).map_err(&at)?))
    });
    register(t, "randint", |it: &mut Interp, a| {
        let v = a.bind("randint", &["lo", "hi", "shape?"])?;
        let lo = int_arg("randint", "lo", v[0].as_ref().unwrap_or(&Value::None))?;
        let hi = int_arg("randint", "hi", v[1].as_ref().unwrap_or(&Value::None))?;
        let s = rng_shape("randint", v[2].as_ref()).map_err(at_param(&a, &["lo", "hi", "shape?"], 2))?;
        if lo >= hi {
            return Err(Diagnostic::new(
                ErrorKind::Value,
                format!("`randint` needs lo < hi, found lo = {lo} and hi = {hi}"),
            )
            .at(a.param_span(&["lo", "hi", "shape?"], 1))
            .with_secondary(a.param_span(&["lo", "hi", "shape?"], 0), "lo"));
        }
        let r = te(it.rng.randint(lo, hi, &s)).map_err(at_param(&a, &["lo", "hi", "shape?"], 2))?;
        if s.is_empty() {
            return Ok(Value::Int(r.item().unwrap_or(0.0) as i64));
        }
        Ok(Value::Tensor(std::rc::Rc::new(r)))
    });
    register(t, "permutation", |it: &mut Interp, a| {
        let v = a.bind("permutation", &["n"])?;
        let n = int_arg("permutation", "n", v[0].as_ref().unwrap_or(&Value::None))?;
        let n = usize::try_from(n).map_err(|_| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("`permutation`: n must be non-negative, found {n}"),
            )
            .at(a.span_of(0))
        })?;
        Ok(Value::Tensor(std::rc::Rc::new(te(it.rng.permutation(n))?)))
    });

    register(t, "clip", |_, a| {
        const P: &[&str] = &["x", "lo", "hi"];
        let v = a.bind("clip", P)?;
        let x = numeric("clip", v[0].as_ref().unwrap_or(&Value::None))?;
        let lo = numeric("clip", v[1].as_ref().unwrap_or(&Value::None))?;
        let hi = numeric("clip", v[2].as_ref().unwrap_or(&Value::None))?;
        check_broadcast("clip", &a, P, &[&x, &lo, &hi])?;
        ops::binary(BinaryOp::Minimum, &ops::binary(BinaryOp::Maximum, &x, &lo)?, &hi)
    });
    register(t, "where", |_, a| {
        const P: &[&str] = &["cond", "a", "b"];
        let v = a.bind("where", P)?;
        let c = match v[0].as_ref().unwrap_or(&Value::None) {
            Value::Bool(b) => Value::Float(f64::from(u8::from(*b))),
            other => numeric("where", other)?.strip().clone(),
        };
        let x = numeric("where", v[1].as_ref().unwrap_or(&Value::None))?;
        let y = numeric("where", v[2].as_ref().unwrap_or(&Value::None))?;
        check_broadcast("where", &a, P, &[&c, &x, &y])?;
        ops::where_(&c, &x, &y)
    });
    for (name, want_all) in [("all", true), ("any", false)] {
        register(t, name, move |_, a| {
            let v = a.bind(name, &["x"])?;
            let x = v[0].as_ref().unwrap_or(&Value::None);
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
    for (name, is_max) in [("argmax", true), ("argmin", false)] {
        register(t, name, move |_, a| {
            const P: &[&str] = &["x", "axis?", "keepdims?"];
            let v = a.bind(name, P)?;
            let xv = numeric(name, v[0].as_ref().unwrap_or(&Value::None))?;
            let x = as_tensor(&xv)?;
            let keep = v[2]
                .as_ref()
                .map(|k| bool_arg(name, "keepdims", k))
                .transpose()?
                .unwrap_or(false);
            let axis = match &v[1] {
                None | Some(Value::None) => None,
                Some(ax) => Some(
                    int_arg(name, "axis", ax)
                        .and_then(|i| te(normalize_axis(i, x.ndim())))
                        .map_err(|d| label_param(at_param(&a, P, 1)(d), &a, P, 0, &xv))?,
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
    for (name, log) in [("softmax", false), ("log_softmax", true)] {
        register(t, name, move |_, a| {
            const P: &[&str] = &["x", "axis?"];
            let v = a.bind(name, P)?;
            let x = numeric(name, v[0].as_ref().unwrap_or(&Value::None))?;
            let axis = axis_arg(name, v[1].as_ref(), shape_of(&x).len().max(1), -1)
                .map_err(|d| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x))?;
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
    register(t, "one_hot", |_, a| {
        const P: &[&str] = &["labels", "n"];
        let v = a.bind("one_hot", P)?;
        let l = numeric("one_hot", v[0].as_ref().unwrap_or(&Value::None))?;
        let n = int_arg("one_hot", "n", v[1].as_ref().unwrap_or(&Value::None)).map_err(at_param(&a, P, 1))?;
        let n = usize::try_from(n).map_err(|_| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("`one_hot`: n must be non-negative, found {n}"),
            )
            .at(a.param_span(P, 1))
        })?;
        check_labels("one_hot", &l, n).map_err(at_param(&a, P, 0))?;
        one_hot(&l, n)
    });
    register(t, "cross_entropy", |_, a| {
        const P: &[&str] = &["logits", "labels"];
        let v = a.bind("cross_entropy", P)?;
        let x = numeric("cross_entropy", v[0].as_ref().unwrap_or(&Value::None))?;
        let l = numeric("cross_entropy", v[1].as_ref().unwrap_or(&Value::None))?;
        let s = shape_of(&x);
        if let Some(&classes) = s.last() {
            if shape_of(&l)[..] == s[..s.len() - 1] {
                check_labels("cross_entropy", &l, classes)
                    .map_err(|d| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x))?;
            }
        }
        cross_entropy(&x, &l).map_err(|d| {
            if d.kind == ErrorKind::Shape && d.span.is_none() {
                let at = if s.is_empty() { 0 } else { 1 };
                label_param(at_param(&a, P, at)(d), &a, P, 0, &x)
            } else {
                d
            }
        })
    });
    register(t, "matmul", |_, a| {
        const P: &[&str] = &["a", "b"];
        let v = a.bind("matmul", P)?;
        let x = numeric("matmul", v[0].as_ref().unwrap_or(&Value::None))?;
        let y = numeric("matmul", v[1].as_ref().unwrap_or(&Value::None))?;
        crate::eval::arith::matmul(&x, &y).map_err(|d| {
            let d = d.at(a.span);
            label_param(label_param(d, &a, P, 0, &x), &a, P, 1, &y)
        })
    });
    register(t, "dot", |_, a| {
        const P: &[&str] = &["a", "b"];
        let v = a.bind("dot", P)?;
        let x = numeric("dot", v[0].as_ref().unwrap_or(&Value::None))?;
        let y = numeric("dot", v[1].as_ref().unwrap_or(&Value::None))?;
        if shape_of(&x).is_empty() || shape_of(&y).is_empty() {
            return ops::mul(&x, &y);
        }
        let labelled = |d: Diagnostic| label_param(label_param(d.at(a.span), &a, P, 0, &x), &a, P, 1, &y);
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
        crate::eval::arith::matmul(&x, &y).map_err(labelled)
    });
    register(t, "outer", |_, a| {
        let v = a.bind("outer", &["a", "b"])?;
        let x = numeric("outer", v[0].as_ref().unwrap_or(&Value::None))?;
        let y = numeric("outer", v[1].as_ref().unwrap_or(&Value::None))?;
        let n: usize = shape_of(&x).iter().product();
        let m: usize = shape_of(&y).iter().product();
        ops::mul(&ops::reshape(&x, &[n, 1])?, &ops::reshape(&y, &[1, m])?)
    });
    register(t, "transpose", |_, a| {
        const P: &[&str] = &["x", "axes?"];
        let v = a.bind("transpose", P)?;
        let x = numeric("transpose", v[0].as_ref().unwrap_or(&Value::None))?;
        let s = shape_of(&x);
        let n = s.len();
        let bad = |d: Diagnostic| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x);
        let perm: Vec<usize> = match &v[1] {
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
    });
    register(t, "size", |_, a| {
        let v = a.bind("size", &["x"])?;
        property("size", &numeric("size", v[0].as_ref().unwrap_or(&Value::None))?)
    });
    register(t, "shape", |_, a| {
        let v = a.bind("shape", &["x"])?;
        property("shape", &numeric("shape", v[0].as_ref().unwrap_or(&Value::None))?)
    });
    register(t, "ndim", |_, a| {
        let v = a.bind("ndim", &["x"])?;
        property("ndim", &numeric("ndim", v[0].as_ref().unwrap_or(&Value::None))?)
    });
    register(t, "reshape", |_, a| {
        const P: &[&str] = &["x", "shape"];
        let v = a.bind("reshape", P)?;
        let x = numeric("reshape", v[0].as_ref().unwrap_or(&Value::None))?;
        let bad = |d: Diagnostic| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x);
        let want: Vec<i64> = match v[1].as_ref().unwrap_or(&Value::None) {
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
    });
    register(t, "flatten", |_, a| {
        let v = a.bind("flatten", &["x"])?;
        let x = numeric("flatten", v[0].as_ref().unwrap_or(&Value::None))?;
        let n: usize = shape_of(&x).iter().product();
        ops::reshape(&x, &[n])
    });
    register(t, "squeeze", |_, a| {
        const P: &[&str] = &["x", "axis?"];
        let v = a.bind("squeeze", P)?;
        let x = numeric("squeeze", v[0].as_ref().unwrap_or(&Value::None))?;
        let s = shape_of(&x);
        let bad = |d: Diagnostic| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x);
        let axes = axes_arg("squeeze", v[1].as_ref(), s.len()).map_err(bad)?;
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
    });
    register(t, "expand_dims", |_, a| {
        const P: &[&str] = &["x", "axis"];
        let v = a.bind("expand_dims", P)?;
        let x = numeric("expand_dims", v[0].as_ref().unwrap_or(&Value::None))?;
        let mut s = shape_of(&x);
        let bad = |d: Diagnostic| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x);
        let ax = int_arg("expand_dims", "axis", v[1].as_ref().unwrap_or(&Value::None)).map_err(bad)?;
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
    });
    register(t, "broadcast_to", |_, a| {
        const P: &[&str] = &["x", "shape"];
        let v = a.bind("broadcast_to", P)?;
        let x = numeric("broadcast_to", v[0].as_ref().unwrap_or(&Value::None))?;
        let bad = |d: Diagnostic| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x);
        let s = shape_arg("broadcast_to", v[1].as_ref().unwrap_or(&Value::None)).map_err(bad)?;
        te(as_tensor(&x)?.broadcast_to(&s)).map_err(bad)?;
        ops::broadcast_to(&x, &s)
    });
    for (name, stack) in [("concat", false), ("stack", true)] {
        register(t, name, move |_, a| {
            const P: &[&str] = &["xs", "axis?"];
            let v = a.bind(name, P)?;
            let xs = tuple_of_tensors(name, v[0].as_ref().unwrap_or(&Value::None)).map_err(at_param(&a, P, 0))?;
            if xs.is_empty() {
                return Err(
                    Diagnostic::new(ErrorKind::Value, format!("`{name}` needs at least one tensor"))
                        .at(a.param_span(P, 0)),
                );
            }
            let nd = shape_of(&xs[0]).len() + usize::from(stack);
            let axis = axis_arg(name, v[1].as_ref(), nd, 0).map_err(at_param(&a, P, 1))?;
            apply(
                &if stack {
                    Prim::Stack(crate::prim::Stack(axis))
                } else {
                    Prim::Concat(crate::prim::Concat(axis))
                },
                &xs,
            )
            .map_err(|d| at_param(&a, P, 0)(as_shape_error(d)))
        });
    }
    register(t, "take", |_, a| {
        const P: &[&str] = &["x", "indices", "axis?"];
        let v = a.bind("take", P)?;
        let x = numeric("take", v[0].as_ref().unwrap_or(&Value::None))?;
        let idx = tensor_value(v[1].as_ref().unwrap_or(&Value::None)).map_err(at_param(&a, P, 1))?;
        let axis = axis_arg("take", v[2].as_ref(), shape_of(&x).len(), 0)
            .map_err(|d| label_param(at_param(&a, P, 2)(d), &a, P, 0, &x))?;
        apply(&Prim::Take(crate::prim::Take(axis)), &[x.clone(), idx.strip().clone()])
            .map_err(|d| label_param(at_param(&a, P, 1)(d), &a, P, 0, &x))
    });
    register(t, "tolist", |_, a| {
        let v = a.bind("tolist", &["x"])?;
        let xv = numeric("tolist", v[0].as_ref().unwrap_or(&Value::None))?;
        // Every level of nesting is a tuple per entry of the axes above it: a
        // zero-size tensor with a huge leading axis is a huge tuple of `()`s,
        // which must be reported before it is built.
        let mut rows: u128 = 1;
        for &d in &shape_of(&xv) {
            rows = rows.saturating_mul(d as u128);
            crate::tuple::check_len(rows).map_err(|d| d.at(a.span_of(0)))?;
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
    });
    register(t, "stop_gradient", |_, a| {
        let v = a.bind("stop_gradient", &["x"])?;
        crate::tree::map_leaves(v[0].as_ref().unwrap_or(&Value::None), &mut |x, _| Ok(x.strip().clone()))
    });
}
