//! The differentiable primitives. Every numeric operation of the language ends
//! in [`apply`], which evaluates it on plain values or, when an argument is
//! being differentiated, hands it to `autodiff` to be recorded (reverse mode)
//! or pushed forward (forward mode). The helpers at the bottom (`add`, `mul`,
//! ...) are what builtins and the gradient rules are written with, so the
//! backward pass is itself made of recordable primitives.

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use dp_tensor::{format_shape, BinaryOp, ReduceOp, SliceSpec, Tensor, TensorError, UnaryOp};
use std::rc::Rc;

/// A primitive operation with its static parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// A differentiation input (recorded on a tape; never evaluated).
    Leaf,
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `x ** n` for a constant int exponent (JAX's `integer_pow`): its
    /// derivative `n * x ** (n - 1)` is exact at every order, also at 0,
    /// where the float power's `0 * 0 ** -1` would give nan.
    IntPow(i32),
    /// `where(cond, a, b)`.
    Where,
    /// A reduction over `axes` (`None`: all axes).
    Reduce(ReduceOp, Option<Rc<[usize]>>, bool),
    /// NumPy `matmul`, including 1-d operands and broadcast batch dimensions.
    MatMul,
    Transpose(Rc<[usize]>),
    Reshape(Rc<[usize]>),
    BroadcastTo(Rc<[usize]>),
    /// The adjoint of broadcasting: sum down to a shape.
    SumTo(Rc<[usize]>),
    Slice(Rc<[SliceSpec]>),
    /// The adjoint of `Slice`: place into zeros of the input's shape.
    SliceScatter(Rc<[SliceSpec]>, Rc<[usize]>),
    /// `take(x, indices, axis)`; the second argument holds the indices.
    Take(usize),
    /// The adjoint of `Take`: scatter-add into zeros of the input's shape.
    TakeScatter(usize, Rc<[usize]>),
    Concat(usize),
    Stack(usize),
}

impl Prim {
    /// A short name for error messages and graphs.
    pub fn name(&self) -> String {
        match self {
            Prim::Leaf => "input".into(),
            Prim::Unary(op) => op.name().into(),
            Prim::Binary(op) => format!("`{}`", op.symbol()),
            Prim::IntPow(_) => "`**`".into(),
            Prim::Where => "where".into(),
            Prim::Reduce(op, ..) => op.name().into(),
            Prim::MatMul => "`@`".into(),
            Prim::Transpose(_) => "transpose".into(),
            Prim::Reshape(_) => "reshape".into(),
            Prim::BroadcastTo(_) => "broadcast_to".into(),
            Prim::SumTo(_) => "sum_to".into(),
            Prim::Slice(_) => "indexing".into(),
            Prim::SliceScatter(..) => "slice_scatter".into(),
            Prim::Take(_) => "take".into(),
            Prim::TakeScatter(..) => "take_scatter".into(),
            Prim::Concat(_) => "concat".into(),
            Prim::Stack(_) => "stack".into(),
        }
    }
}

/// Converts a kernel error into a diagnostic of the right kind.
pub fn tensor_error(e: TensorError) -> Diagnostic {
    let kind = match &e {
        TensorError::IndexOutOfRange { .. } | TensorError::NotInteger { .. } => ErrorKind::Index,
        TensorError::TooLarge { .. }
        | TensorError::OutOfMemory { .. }
        | TensorError::Invalid(_)
        | TensorError::EmptyReduction { .. } => ErrorKind::Value,
        _ => ErrorKind::Shape,
    };
    Diagnostic::new(kind, e.to_string())
}

/// Evaluates `prim`, recording or pushing it forward when an argument is being differentiated.
pub fn apply(prim: &Prim, args: &[Value]) -> Result<Value, Diagnostic> {
    let mut top = 0u32;
    for a in args {
        if let Value::Dual(t) = a {
            top = top.max(t.level);
        }
    }
    if top == 0 {
        raw(prim, args)
    } else {
        crate::autodiff::trace::lift(prim, args, top)
    }
}

/// The tensor view of a plain numeric value.
pub fn as_tensor(v: &Value) -> Result<Rc<Tensor>, Diagnostic> {
    match v {
        Value::Tensor(t) => Ok(t.clone()),
        Value::Float(x) => Ok(Rc::new(Tensor::scalar(*x))),
        Value::Int(i) => Ok(Rc::new(Tensor::scalar(*i as f64))),
        Value::Bool(b) => Ok(Rc::new(Tensor::scalar(f64::from(u8::from(*b))))),
        Value::Dual(t) => as_tensor(&t.primal),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("expected a number or tensor, found {}", other.describe()),
        )),
    }
}

/// A tensor result, with 0-d tensors turned into floats (they are interchangeable,
/// and floats are what scalar code runs fastest on).
pub fn from_tensor(t: impl Into<Rc<Tensor>>) -> Value {
    let t: Rc<Tensor> = t.into();
    if t.ndim() == 0 {
        Value::Float(t.item().unwrap_or(f64::NAN))
    } else {
        Value::Tensor(t)
    }
}

fn te<T>(r: dp_tensor::Result<T>) -> Result<T, Diagnostic> {
    r.map_err(tensor_error)
}

/// Evaluates a primitive on plain (not differentiated) floats and tensors.
pub fn raw(prim: &Prim, args: &[Value]) -> Result<Value, Diagnostic> {
    let arg = |i: usize| -> Result<Rc<Tensor>, Diagnostic> { as_tensor(&args[i]) };
    Ok(match prim {
        Prim::Leaf => args[0].clone(),
        Prim::Unary(op) => match &args[0] {
            Value::Float(x) => Value::Float(op.apply(*x)),
            other => from_tensor(as_tensor(other)?.unary(*op)),
        },
        Prim::Binary(op) => match (&args[0], &args[1]) {
            (Value::Float(a), Value::Float(b)) => Value::Float(op.apply(*a, *b)),
            (Value::Tensor(a), Value::Float(b)) => from_tensor(a.binary_scalar(*b, *op, false)),
            (Value::Float(a), Value::Tensor(b)) => from_tensor(b.binary_scalar(*a, *op, true)),
            (a, b) => from_tensor(te(as_tensor(a)?.binary(&*as_tensor(b)?, *op))?),
        },
        Prim::IntPow(n) => {
            // powf, not powi: the same value as the untraced `x ** n` gives.
            let e = f64::from(*n);
            match &args[0] {
                Value::Float(x) => Value::Float(x.powf(e)),
                // x * x is exactly powf(x, 2) (both are the correctly rounded square), and vectorises.
                other if *n == 2 => from_tensor(as_tensor(other)?.unary(UnaryOp::Square)),
                other => from_tensor(as_tensor(other)?.map(|v| v.powf(e))),
            }
        }
        Prim::Where => from_tensor(te(Tensor::where_(&*arg(0)?, &*arg(1)?, &*arg(2)?))?),
        Prim::Reduce(op, axes, keepdims) => {
            if let (Value::Float(x), false) = (&args[0], *keepdims) {
                if axes.as_ref().is_none_or(|a| a.is_empty()) {
                    return Ok(Value::Float(*x));
                }
            }
            let t = arg(0)?;
            match axes {
                None if !keepdims => Value::Float(te(t.reduce_all(*op))?),
                None => {
                    let all: Vec<usize> = (0..t.ndim()).collect();
                    from_tensor(te(t.reduce(*op, &all, true))?)
                }
                Some(ax) => from_tensor(te(t.reduce(*op, ax, *keepdims))?),
            }
        }
        Prim::MatMul => from_tensor(te(arg(0)?.matmul(&*arg(1)?))?),
        Prim::Transpose(p) => from_tensor(te(arg(0)?.transpose(p))?),
        Prim::Reshape(s) => from_tensor(te(arg(0)?.reshape(s))?),
        Prim::BroadcastTo(s) => from_tensor(te(arg(0)?.broadcast_to(s))?.contiguous()),
        Prim::SumTo(s) => {
            let t = arg(0)?;
            if t.shape() == &s[..] {
                from_tensor(t)
            } else {
                from_tensor(te(t.sum_to_shape(s))?)
            }
        }
        Prim::Slice(specs) => from_tensor(te(arg(0)?.slice(specs))?.contiguous()),
        Prim::SliceScatter(specs, shape) => from_tensor(te(Tensor::slice_scatter(&*arg(0)?, specs, shape))?),
        Prim::Take(axis) => from_tensor(te(arg(0)?.take(&*arg(1)?, *axis))?),
        Prim::TakeScatter(axis, shape) => from_tensor(te(Tensor::take_scatter(&*arg(0)?, &*arg(1)?, *axis, shape))?),
        Prim::Concat(axis) => {
            let ts = args.iter().map(as_tensor).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&Tensor> = ts.iter().map(|t| &**t).collect();
            from_tensor(te(Tensor::concat(&refs, *axis))?)
        }
        Prim::Stack(axis) => {
            let ts = args.iter().map(as_tensor).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&Tensor> = ts.iter().map(|t| &**t).collect();
            if refs.is_empty() {
                Value::Tensor(std::rc::Rc::new(te(Tensor::zeros(&[0]))?))
            } else {
                from_tensor(te(Tensor::stack(&refs, *axis))?)
            }
        }
    })
}

/// The shape of a numeric value (`()` for floats).
pub fn shape_of(v: &Value) -> Vec<usize> {
    match v.strip() {
        Value::Tensor(t) => t.shape().to_vec(),
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
    apply(&Prim::Unary(op), &[num(x)])
}

/// Applies a broadcasting binary op. `x ** n` with an int `n` is [`Prim::IntPow`], as in JAX.
pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    if let (BinaryOp::Pow, Value::Int(n)) = (op, b) {
        if let Ok(n) = i32::try_from(*n) {
            if !matches!(a, Value::Int(_)) {
                return apply(&Prim::IntPow(n), &[num(a)]);
            }
        }
    }
    apply(&Prim::Binary(op), &[num(a), num(b)])
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
    apply(&Prim::Reduce(ReduceOp::Sum, axes, keepdims), &[num(x)])
}

/// Reshape to `shape`. A reshape to `()` always gives a float (0-d tensors
/// and floats are interchangeable, and `float(x)` relies on this).
pub fn reshape(x: &Value, shape: &[usize]) -> Result<Value, Diagnostic> {
    if shape_of(x) == shape && (!shape.is_empty() || matches!(x.strip(), Value::Float(_))) {
        return Ok(x.clone());
    }
    apply(&Prim::Reshape(shape.into()), &[num(x)])
}

/// Broadcast to `shape`.
pub fn broadcast_to(x: &Value, shape: &[usize]) -> Result<Value, Diagnostic> {
    if shape_of(x) == shape {
        return Ok(x.clone());
    }
    apply(&Prim::BroadcastTo(shape.into()), &[num(x)])
}

/// Sums `g` down so that it has the shape of `like` (a float when `like` is a float):
/// the adjoint of NumPy broadcasting.
pub fn unbroadcast(g: &Value, like: &Value) -> Result<Value, Diagnostic> {
    match like.strip() {
        Value::Float(_) | Value::Int(_) => match g.strip() {
            Value::Float(_) => Ok(g.clone()),
            _ => sum(g, None, false),
        },
        Value::Tensor(t) => {
            if shape_of(g) == t.shape() {
                Ok(g.clone())
            } else {
                apply(&Prim::SumTo(t.shape().into()), std::slice::from_ref(g))
            }
        }
        _ => Ok(g.clone()),
    }
}

/// Transpose with a permutation.
pub fn transpose(x: &Value, perm: &[usize]) -> Result<Value, Diagnostic> {
    apply(&Prim::Transpose(perm.into()), &[num(x)])
}

/// `where(c, a, b)`.
pub fn where_(c: &Value, a: &Value, b: &Value) -> Result<Value, Diagnostic> {
    apply(&Prim::Where, &[num(c), num(a), num(b)])
}

/// A zero of the same shape as `x`, never differentiated.
pub fn zeros_like(x: &Value) -> Result<Value, Diagnostic> {
    match x.strip() {
        Value::Tensor(t) => Ok(Value::Tensor(std::rc::Rc::new(
            Tensor::zeros(t.shape()).map_err(tensor_error)?,
        ))),
        _ => Ok(Value::Float(0.0)),
    }
}

/// A description of a shape for messages.
pub fn describe_shape(v: &Value) -> String {
    format_shape(&shape_of(v))
}
