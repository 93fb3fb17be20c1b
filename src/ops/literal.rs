//! The tensor parts of the language itself: literals `[a, b]` (also built
//! from nested tuples by `tensor(...)` and every builtin taking a tensor) and
//! the properties `x.shape`, `x.ndim`, `x.size`, `x.T`.

use crate::builtins::arg_type;
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, apply, num, shape_of, Prim};
use crate::syntax::span::Span;
use crate::value::Value;
use dp_tensor::{format_shape, Tensor};

/// Builds the tensor literal `[a, b, ...]`: numbers become a 1-d tensor,
/// tensors of one shape are stacked. Differentiable in every element.
pub fn literal(vals: Vec<Value>, spans: &[Span], span: Span) -> R<Value> {
    if vals.is_empty() {
        return Ok(Value::Tensor(std::rc::Rc::new(crate::prim::te(Tensor::zeros(&[0]))?)));
    }
    let mut plain = Vec::with_capacity(vals.len());
    let mut all_plain = true;
    let mut all_bool = true;
    for v in &vals {
        match v {
            Value::Float(x) => plain.push(*x),
            Value::Int(i) => plain.push(*i as f64),
            Value::Bool(b) => {
                plain.push(f64::from(u8::from(*b)));
                continue;
            }
            _ => {
                all_plain = false;
                break;
            }
        }
        all_bool = false;
    }
    if all_plain {
        // Bools alone make a bool tensor; mixed with numbers they read as 0/1 (NumPy's promotion).
        let t = crate::prim::te(Tensor::from_vec(plain, &[vals.len()]))?;
        return Ok(Value::Tensor(std::rc::Rc::new(if all_bool {
            t.marked_bool()
        } else {
            t
        })));
    }
    let first = shape_of(&vals[0]);
    for (i, v) in vals.iter().enumerate() {
        if !v.is_numeric() && !matches!(v, Value::Bool(_)) {
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

/// A literal's error for a tuple stacked by [`to_tensor`], which has no
/// source spans for the tuple's elements: without the placeholder locations,
/// so the caller's `.at(span)` (or [`locate_stacking_error`]) puts it at the
/// argument that was stacked rather than at the top of the file.
fn unlocated(mut d: Diagnostic) -> Diagnostic {
    if d.span == Some(Span::default()) {
        d.span = None;
        d.label = None;
    }
    // Not a literal the user wrote: say what was stacked.
    if let Some(rest) = d.message.strip_prefix("tensor literal rows must all have one shape") {
        d.message = format!("a tuple stacked into a tensor needs elements of one shape{rest}");
    }
    d.labels.retain(|(s, _)| *s != Span::default());
    d
}

/// Whether `d` is a stacking error of [`to_tensor`] that no caller located.
fn is_unlocated_stacking(d: &Diagnostic) -> bool {
    d.span.is_none()
        && (d.message.starts_with("a tuple stacked into a tensor")
            || d.message.starts_with("tensor literal")
            || d.message.starts_with("nested tuples are too deep"))
}

/// Points an unlocated stacking error of a builtin's call (a tuple argument
/// that `to_tensor` could not stack, as in `mean((ones((2, 2)), ones(3)))`
/// or `sum(lstsq(A, b))`) at the argument that fails the same way. The
/// builtins convert their arguments in many places without their spans, so
/// this is done once, where every builtin call fails (`native::declared`).
pub fn locate_stacking_error(args: &crate::value::native::Args, d: Diagnostic) -> Diagnostic {
    if !is_unlocated_stacking(&d) {
        return d;
    }
    let given = args.pos.iter().chain(args.kw.iter().map(|(_, v)| v));
    for (i, v) in given.enumerate() {
        if let Value::Tuple(_) = v {
            if matches!(to_tensor(v), Err(e) if e.message == d.message) {
                let span = args.spans.get(i).copied().unwrap_or(args.span);
                return d.at(span).with_label("this tuple is stacked into a tensor");
            }
        }
    }
    d
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
            literal(vals, &spans, Span::default()).map_err(unlocated)
        }
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Bool(_) => Ok(v.clone()),
        Value::Range(lo, hi, step) => {
            // Materialised as a tuple first: its length must fit the memory budget.
            let n = crate::ops::index::range_len(*lo, *hi, *step).map_or(u128::MAX, |n| n as u128);
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
