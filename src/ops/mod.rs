//! The operations other layers compute with: `add`, `mul`, `sum`,
//! `reshape`, ... Each ends in [`crate::prim::apply`], so whatever is written
//! with them (builtins, operators, and the derivative rules themselves) is
//! recorded under differentiation and can be differentiated again.

pub mod arith;
pub mod at;
pub mod einsum;
pub mod index;
pub mod literal;

use crate::diagnostics::Diagnostic;
pub use crate::prim::{apply, as_tensor, from_tensor, raw, tensor_error, Prim};
use crate::prim::{BroadcastTo, IntPow, Reduce, Reshape, SumTo, Transpose, Unary, Where};
use crate::value::Value;
use dp_tensor::{format_shape, BinaryOp, ReduceOp, Tensor, UnaryOp};
use std::rc::Rc;

/// The shape of a numeric value (`()` for floats). Inside `vmap` a batched
/// value is one example: the batch axis is not part of its shape.
pub fn shape_of(v: &Value) -> Vec<usize> {
    match v {
        Value::Tensor(t) => t.shape().to_vec(),
        Value::Dual(_) => crate::autodiff::trace::shape_seen(v),
        _ => Vec::new(),
    }
}

/// Converts ints and bools to floats; other values pass through.
pub fn num(v: &Value) -> Value {
    match v {
        Value::Int(i) => Value::Float(*i as f64),
        other => other.clone(),
    }
}

/// Applies a unary op.
pub fn unary(op: UnaryOp, x: &Value) -> Result<Value, Diagnostic> {
    apply(&Prim::Unary(Unary(op)), &[num(x)])
}

/// Applies a broadcasting binary op. `x ** n` with an int `n` is [`Prim::IntPow`], as in JAX.
pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    if let (BinaryOp::Pow, Value::Int(n)) = (op, b) {
        if let Ok(n) = i32::try_from(*n) {
            if !matches!(a, Value::Int(_)) {
                return apply(&Prim::IntPow(IntPow(n)), &[num(a)]);
            }
        }
    }
    apply(&Prim::Binary(crate::prim::Binary(op)), &[num(a), num(b)])
}

/// `a + b`.
pub fn add(a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    binary(BinaryOp::Add, a, b)
}
/// `a - b`.
pub fn sub(a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    binary(BinaryOp::Sub, a, b)
}
/// `a * b`.
pub fn mul(a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    binary(BinaryOp::Mul, a, b)
}
/// `a / b`.
pub fn div(a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    binary(BinaryOp::Div, a, b)
}
/// `-x`.
pub fn neg(x: &Value) -> Result<Value, Diagnostic> {
    unary(UnaryOp::Neg, x)
}
/// `x * c` for a constant float.
pub fn scale(x: &Value, c: f64) -> Result<Value, Diagnostic> {
    mul(x, &Value::Float(c))
}

/// Sum over `axes` (all when `None`).
pub fn sum(x: &Value, axes: Option<Rc<[usize]>>, keepdims: bool) -> Result<Value, Diagnostic> {
    apply(&Reduce::prim(ReduceOp::Sum, axes, keepdims), &[num(x)])
}

/// Reshape to `shape`. A reshape to `()` always gives a float (0-d tensors
/// and floats are interchangeable, and `float(x)` relies on this).
pub fn reshape(x: &Value, shape: &[usize]) -> Result<Value, Diagnostic> {
    if shape_of(x) == shape && (!shape.is_empty() || matches!(x.peek(), Value::Float(_))) {
        return Ok(x.clone());
    }
    apply(&Prim::Reshape(Reshape(shape.into())), &[num(x)])
}

/// Broadcast to `shape`.
pub fn broadcast_to(x: &Value, shape: &[usize]) -> Result<Value, Diagnostic> {
    if shape_of(x) == shape {
        return Ok(x.clone());
    }
    apply(&Prim::BroadcastTo(BroadcastTo(shape.into())), &[num(x)])
}

/// Sums `g` down so that it has the shape of `like` (a float when `like` is a float):
/// the adjoint of NumPy broadcasting.
pub fn unbroadcast(g: &Value, like: &Value) -> Result<Value, Diagnostic> {
    if !like.is_numeric() {
        return Ok(g.clone());
    }
    // Shapes as seen here (without `vmap` batch axes): a batched scalar is a scalar.
    let (sg, sl) = (shape_of(g), shape_of(like));
    if sl.is_empty() {
        return if sg.is_empty() {
            Ok(g.clone())
        } else {
            sum(g, None, false)
        };
    }
    if sg == sl {
        Ok(g.clone())
    } else {
        apply(&Prim::SumTo(SumTo(sl.into())), std::slice::from_ref(g))
    }
}

/// Transpose with a permutation.
pub fn transpose(x: &Value, perm: &[usize]) -> Result<Value, Diagnostic> {
    apply(&Prim::Transpose(Transpose(perm.into())), &[num(x)])
}

/// `where(c, a, b)`.
pub fn where_(c: &Value, a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    apply(&Prim::Where(Where), &[num(c), num(a), num(b)])
}

/// A zero of the same shape as `x`, never differentiated.
pub fn zeros_like(x: &Value) -> Result<Value, Diagnostic> {
    let s = shape_of(x);
    if s.is_empty() {
        return Ok(Value::Float(0.0));
    }
    Ok(Value::Tensor(std::rc::Rc::new(
        Tensor::zeros(&s).map_err(tensor_error)?,
    )))
}

/// A description of a shape for messages.
pub fn describe_shape(v: &Value) -> String {
    format_shape(&shape_of(v))
}
