//! The differentiable primitives, one place each.
//!
//! Every numeric operation of the language ends in [`apply`], which runs a
//! primitive's forward kernel on plain values or, when an argument is being
//! differentiated, hands it to `autodiff::trace` to be recorded (reverse
//! mode) or pushed forward (forward mode). Each primitive is a struct in its
//! family file (`elementwise`, `binary`, `reduce`, `linalg`, `shape`,
//! `indexing`) implementing [`Primitive`]: forward, VJP and JVP side by side.
//! [`table`] lists them all. Rules are written with the same operations users
//! call (`crate::ops`), so under an outer differentiation the rules' own
//! computations are recorded and can be differentiated again.
//!
//! Conventions at non-smooth points follow JAX (docs/language.md §8.4):
//! `relu'(0) = 0`, `abs'(0) = 1`, `maximum`/`minimum`/`max`/`min` split ties
//! equally, `sqrt'(0) = inf`, `d(a ** b)/db = 0` at `a = 0`, `d(a ** b)/da =
//! b * a ** (b - 1)` except that it is exactly 0 where `b == 0`, an int power
//! is exact at every order, `prod` is exact through zeros, and ops without a
//! derivative (`sign`, `floor`, `round`, comparisons) have zero derivative —
//! each named explicitly in its rule.

pub mod batching;
pub mod binary;
pub mod conv;
pub mod decomp;
pub mod elementwise;
pub mod expm;
pub mod indexing;
pub mod linalg;
pub mod lu;
pub mod order;
pub mod random;
pub mod reduce;
pub mod scan;
pub mod shape;
pub mod special;
pub mod spectral;
pub mod table;
pub mod tridiagonal;

pub use binary::{Atan2, Binary, FloatFloorDiv, FloatMod, IntBinary, Where};
pub use conv::{Conv, ConvRole, Pool, PoolRole};
pub use decomp::{Adjugate, AdjugateJvp, Cholesky, Det, LogAbsDet, Pinv, Solve, TriSolve};
pub use elementwise::{IntPow, Unary};
pub use indexing::{IndexCheck, IndexUpdate, Slice, SliceScatter, Take, TakeScatter};
pub use linalg::MatMul;
pub use lu::Lu;
pub use order::Order;
pub use random::Random;
pub use reduce::Reduce;
pub use scan::Cumsum;
pub use shape::{BroadcastTo, Concat, Reshape, Stack, SumTo, Transpose};
pub use special::{Special, SpecialFn};
pub use spectral::{Eigh, Qr, Svd};
pub use table::Prim;
pub use tridiagonal::TridiagonalSolve;

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use dp_tensor::{Tensor, TensorError};
use std::rc::Rc;

/// Results of primitives fail with a report.
pub use crate::diagnostics::R;

/// What every primitive provides. Later transformations add a method here
/// with a default that reports "not supported" (as [`Primitive::batch`]
/// does), so a new rule kind is one method, not a rewrite; a lowering for a
/// graph compiler goes the same way.
pub trait Primitive {
    /// A short name for error messages and graphs.
    fn name(&self) -> String;

    /// The primitive's own parameters (a shape, axes), written as they
    /// follow its array arguments in a call, for graphs: `reshape(x, (5, 4))`.
    fn params(&self) -> Vec<String> {
        Vec::new()
    }

    /// Evaluates the primitive on plain (not differentiated) floats and tensors.
    fn forward(&self, x: &[Value]) -> R<Value>;

    /// Whether the derivative is zero everywhere (comparisons, `floor`, ...):
    /// such applications are never recorded and have no tangent.
    fn zero_derivative(&self) -> bool {
        false
    }

    /// The VJP rule: given the inputs `x`, the output `y` and the output's
    /// cotangent `g`, the cotangent of each input (`None` where `needs` is
    /// false or the cotangent is zero).
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>>;

    /// The JVP rule: given the inputs, their tangents (`None`: zero) of which
    /// at least one is present, and the output, the output's tangent (`None`:
    /// zero). The caller broadcasts it to the output's shape.
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>>;

    /// The batching rule (for `vmap`): given the inputs, of which those
    /// marked in `batched` hold `n` examples stacked along their leading
    /// axis (the others are shared by every example), the output with the
    /// `n` examples stacked along its leading axis. Written with `crate::ops`
    /// (so enclosing levels record it), one application for the whole batch.
    fn batch(&self, _x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        Err(Diagnostic::new(
            ErrorKind::Differentiation,
            format!("{} has no batching rule", self.name()),
        )
        .cannot_batch())
    }
}

/// A differentiation input: recorded on a tape as the start of a gradient
/// path, never applied to anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf;

impl Primitive for Leaf {
    fn name(&self) -> String {
        "input".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(x[0].clone())
    }
    fn vjp(&self, _: &[Value], _: &Value, _: &Value, _: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![])
    }
    fn jvp(&self, _: &[Value], _: &[Option<Value>], _: &Value) -> R<Option<Value>> {
        Ok(None)
    }
}

/// Evaluates `prim`, recording or pushing it forward when an argument is being differentiated.
pub fn apply(prim: &Prim, args: &[Value]) -> R<Value> {
    if args.iter().any(|a| matches!(a, Value::Dual(_))) {
        crate::autodiff::trace::lift(prim, args)
    } else {
        raw(prim, args)
    }
}

/// Evaluates a primitive on plain (not differentiated) floats and tensors.
pub fn raw(prim: &Prim, args: &[Value]) -> R<Value> {
    crate::each_prim!(prim, p => p.forward(args))
}

/// Whether a primitive has zero derivative everywhere (it is then never recorded).
pub fn zero_derivative(prim: &Prim) -> bool {
    crate::each_prim!(prim, p => p.zero_derivative())
}

/// The VJP of `prim` (see [`Primitive::vjp`]).
pub fn vjp(prim: &Prim, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
    crate::each_prim!(prim, p => p.vjp(x, y, g, needs))
}

/// The batching rule of `prim` (see [`Primitive::batch`]).
pub fn batch(prim: &Prim, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
    crate::each_prim!(prim, p => p.batch(x, batched, n))
}

/// The JVP of `prim` (see [`Primitive::jvp`]), shaped like the output.
pub fn jvp(prim: &Prim, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
    if t.iter().all(Option::is_none) || zero_derivative(prim) {
        return Ok(None);
    }
    match crate::each_prim!(prim, p => p.jvp(x, t, y))? {
        Some(v) => Ok(Some(to_out_shape(v, y)?)),
        None => Ok(None),
    }
}

/// Makes a tangent the shape of the output (tangents of broadcast inputs are smaller).
fn to_out_shape(t: Value, y: &Value) -> R<Value> {
    let s = crate::ops::shape_of(y);
    if crate::ops::shape_of(&t) == s {
        Ok(t)
    } else {
        crate::ops::broadcast_to(&t, &s)
    }
}

/// Whether a primitive's result is a bool or a bool tensor: such results are
/// never differentiated (never recorded, never given a tangent).
pub fn is_bool(v: &Value) -> bool {
    match v {
        Value::Bool(_) => true,
        Value::Tensor(t) => t.is_bool(),
        _ => false,
    }
}

/// Converts a kernel error into a diagnostic of the right kind.
pub fn tensor_error(e: TensorError) -> Diagnostic {
    let kind = match &e {
        TensorError::IndexOutOfRange { .. } | TensorError::NotInteger { .. } => ErrorKind::Index,
        TensorError::TooLarge { .. }
        | TensorError::OutOfMemory { .. }
        | TensorError::Invalid(_)
        | TensorError::EmptyReduction { .. }
        | TensorError::Singular { .. }
        | TensorError::NotPositiveDefinite { .. } => ErrorKind::Value,
        _ => ErrorKind::Shape,
    };
    Diagnostic::new(kind, e.to_string())
}

/// A kernel result as a diagnostic result.
pub(crate) fn te<T>(r: dp_tensor::Result<T>) -> R<T> {
    r.map_err(tensor_error)
}

/// The tensor view of a plain numeric value.
pub fn as_tensor(v: &Value) -> R<Rc<Tensor>> {
    match v {
        Value::Tensor(t) => Ok(t.clone()),
        Value::Float(x) => Ok(Rc::new(Tensor::scalar(*x))),
        Value::Int(i) => Ok(Rc::new(Tensor::scalar(*i as f64))),
        Value::Bool(b) => Ok(Rc::new(Tensor::scalar(f64::from(u8::from(*b))).marked_bool())),
        Value::Dual(t) => {
            // A read of the value itself (see `Value::strip`).
            if t.watched() {
                t.note_read();
            }
            as_tensor(&t.primal)
        }
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("expected a number or tensor, found {}", other.describe()),
        )),
    }
}

/// A tensor result, with 0-d tensors turned into floats (they are interchangeable,
/// and floats are what scalar code runs fastest on) and 0-d bool tensors into
/// bools (as comparing two numbers gives a bool).
pub fn from_tensor(t: impl Into<Rc<Tensor>>) -> Value {
    let t: Rc<Tensor> = t.into();
    if t.ndim() == 0 && t.is_bool() {
        Value::Bool(t.item().is_some_and(|x| x != 0.0))
    } else if t.ndim() == 0 {
        Value::Float(t.item().unwrap_or(f64::NAN))
    } else {
        Value::Tensor(t)
    }
}

/// Helpers shared by the rules of several families.
pub(crate) mod rule_util {
    use super::R;
    use crate::ops;
    use crate::value::Value;

    /// A float constant.
    pub fn f(x: f64) -> Value {
        Value::Float(x)
    }

    /// `g` reshaped to the shape of `like` (a float when `like` is a float).
    pub fn reshape_like(g: &Value, like: &Value) -> R<Value> {
        // Shapes as seen here: inside `vmap` a batched value is one example.
        let s = ops::shape_of(like);
        if s.is_empty() && ops::shape_of(g).is_empty() && !matches!(g, Value::Tensor(_)) {
            return Ok(g.clone());
        }
        ops::reshape(g, &s)
    }

    /// A tangent of an input, or zeros shaped like the input where it is constant.
    pub fn tangent_or_zero(t: &Option<Value>, x: &Value) -> R<Value> {
        match t {
            Some(t) => Ok(t.clone()),
            None => ops::zeros_like(x),
        }
    }

    /// The tangent of a linear primitive: the primitive applied to the tangents.
    pub fn linear(p: &super::Prim, x: &[Value], t: &[Option<Value>]) -> R<Option<Value>> {
        let tan: Vec<Value> = t
            .iter()
            .zip(x)
            .map(|(ti, xi)| tangent_or_zero(ti, xi))
            .collect::<R<_>>()?;
        Ok(Some(super::apply(p, &tan)?))
    }

    /// Sums optional terms; `None` when every term is zero.
    pub fn sum_terms(terms: Vec<Option<Value>>) -> R<Option<Value>> {
        let mut acc: Option<Value> = None;
        for t in terms.into_iter().flatten() {
            acc = Some(match acc {
                None => t,
                Some(a) => ops::add(&a, &t)?,
            });
        }
        Ok(acc)
    }

    /// `Σ coefs[k] * z^k` by Horner's rule, written with recordable ops so
    /// the polynomial can stand in for a function (a series branch) at every
    /// order of differentiation.
    pub fn horner(z: &Value, coefs: &[f64]) -> R<Value> {
        let mut acc = f(0.0);
        for &c in coefs.iter().rev() {
            acc = ops::add(&ops::mul(&acc, z)?, &f(c))?;
        }
        Ok(acc)
    }

    /// `fast + (accurate - fast)` with the difference a constant to every
    /// derivative: the value of `accurate` (up to the rounding of that sum,
    /// none when the difference is exact) and the derivatives of `fast`, for
    /// two spellings of one function that are each better at one of these.
    /// Where the difference is not finite (`inf - inf`) it is left out, so
    /// `fast` decides there.
    pub fn value_of(fast: &Value, accurate: &Value) -> R<Value> {
        use crate::autodiff::trace::strip_diff;
        let d = ops::sub(&strip_diff(accurate), &strip_diff(fast))?;
        let finite = ops::unary(dp_tensor::UnaryOp::IsFinite, &d)?;
        ops::add(fast, &ops::where_(&finite, &d, &f(0.0))?)
    }

    /// `k(t)` for a present tangent or cotangent; `None` stays zero.
    pub fn term(t: &Option<Value>, k: impl FnOnce(&Value) -> R<Value>) -> R<Option<Value>> {
        t.as_ref().map(k).transpose()
    }
}
