//! Elementwise unary primitives: `Unary` (exp, log, relu, ...) and `IntPow` (`x ** n`).

use super::rule_util::{f, value_of};
use super::{as_tensor, from_tensor, Prim, Primitive, R};
use crate::ops::{self, add, div, mul, neg, scale, sub, unbroadcast};
use crate::value::Value;
use dp_tensor::{BinaryOp, UnaryOp};

/// An elementwise unary op.
#[derive(Clone, Debug, PartialEq)]
pub struct Unary(pub UnaryOp);

fn un(op: UnaryOp, x: &Value) -> R<Value> {
    ops::unary(op, x)
}

/// `1 - x²` with the value of `(1 - x)(1 + x)` (no cancellation near
/// `|x| = 1`) and the derivatives of `1 - x * x`. The product's own
/// derivative `-(1 + x) + (1 - x)` cancels to `-2x` with an absolute error
/// (second derivatives of asin and acos 8e-8 off relatively at 1e-10), and
/// at `x = ±1` the infinite cotangent of `1 / sqrt(0)` would meet its factor
/// `1 ∓ x = 0` (`inf * 0`: nan where JAX has ±inf).
fn one_minus_x2(x: &Value) -> R<Value> {
    let xc = crate::autodiff::trace::strip_diff(x);
    let exact = mul(&sub(&f(1.0), &xc)?, &add(&f(1.0), &xc)?)?;
    value_of(&sub(&f(1.0), &un(UnaryOp::Square, x)?)?, &exact)
}

/// `x² - 1` likewise: the value of `(x - 1)(x + 1)`, the derivatives of
/// `x * x - 1` (`acosh''(1)` is -inf, as in JAX, not nan). At -1 the value
/// is `+0 + -0 = +0`, the sign of `x * x - 1`.
fn x2_minus_one(x: &Value) -> R<Value> {
    let xc = crate::autodiff::trace::strip_diff(x);
    let exact = mul(&sub(&xc, &f(1.0))?, &add(&xc, &f(1.0))?)?;
    value_of(&sub(&un(UnaryOp::Square, x)?, &f(1.0))?, &exact)
}

/// The local derivative of a unary op at `x` with output `y`, as a value to
/// multiply by (`None`: zero everywhere).
fn unary_derivative(op: UnaryOp, x: &Value, y: &Value) -> R<Option<Value>> {
    use UnaryOp::*;
    Ok(Some(match op {
        Neg => f(-1.0),
        Exp => y.clone(),
        Log => un(Recip, x)?,
        Log1p => un(Recip, &add(x, &f(1.0))?)?,
        Expm1 => add(y, &f(1.0))?,
        Sqrt => div(&f(0.5), y)?,
        // abs'(0) = 1: the derivative is +1 where x >= 0 and -1 elsewhere.
        Abs => sub(&scale(&ops::binary(BinaryOp::Ge, x, &f(0.0))?, 2.0)?, &f(1.0))?,
        Sin => un(Cos, x)?,
        Cos => neg(&un(Sin, x)?)?,
        Tan => add(&f(1.0), &mul(y, y)?)?,
        Tanh => sub(&f(1.0), &mul(y, y)?)?,
        Sigmoid => mul(y, &sub(&f(1.0), y)?)?,
        // relu'(0) = 0.
        Relu => ops::binary(BinaryOp::Gt, x, &f(0.0))?,
        Softplus => un(Sigmoid, x)?,
        Recip => neg(&mul(y, y)?)?,
        Square => scale(x, 2.0)?,
        Sinh => un(Cosh, x)?,
        Cosh => un(Sinh, x)?,
        Asinh => un(Recip, &un(Sqrt, &add(&mul(x, x)?, &f(1.0))?)?)?,
        // JAX's rule 1 / sqrt(x² - 1), which is real below -1 too (where acosh
        // is nan): there it gives that value, and +inf at -1, where x² - 1 is +0
        // (the product (x - 1)(x + 1) alone is -0, whose reciprocal root is -inf).
        Acosh => un(Recip, &un(Sqrt, &x2_minus_one(x)?)?)?,
        Atanh => un(Recip, &one_minus_x2(x)?)?,
        Asin => un(Recip, &un(Sqrt, &one_minus_x2(x)?)?)?,
        Acos => neg(&un(Recip, &un(Sqrt, &one_minus_x2(x)?)?)?)?,
        Atan => un(Recip, &add(&mul(x, x)?, &f(1.0))?)?,
        Log2 => un(Recip, &scale(x, std::f64::consts::LN_2)?)?,
        Log10 => un(Recip, &scale(x, std::f64::consts::LN_10)?)?,
        Exp2 => scale(y, std::f64::consts::LN_2)?,
        Sign | Floor | Ceil | Round | IsNan | IsFinite | IsInf => return Ok(None),
    }))
}

/// relu's derivative applied to `g`: `g` where `x > 0`, else 0, selected
/// rather than multiplied by the 0/1 mask (JAX's rule): an infinite `g` where
/// relu is flat (`sqrt(relu(x))` at `x < 0`) gives 0, not `inf * 0 = nan`.
fn relu_select(x: &Value, g: &Value) -> R<Value> {
    ops::where_(&ops::binary(BinaryOp::Gt, x, &f(0.0))?, g, &f(0.0))
}

impl Primitive for Unary {
    fn name(&self) -> String {
        self.0.name().into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(match &x[0] {
            Value::Float(v) => Value::Float(self.0.apply(*v)),
            other => from_tensor(as_tensor(other)?.unary(self.0)),
        })
    }
    fn zero_derivative(&self) -> bool {
        use UnaryOp::*;
        match self.0 {
            Sign | Floor | Ceil | Round | IsNan | IsFinite | IsInf => true,
            Neg | Exp | Log | Log1p | Expm1 | Sqrt | Abs | Sin | Cos | Tan | Tanh | Sigmoid | Relu | Softplus
            | Recip | Square | Sinh | Cosh | Asinh | Acosh | Atanh | Asin | Acos | Atan | Log2 | Log10 | Exp2 => false,
        }
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        if self.0 == UnaryOp::Relu {
            return Ok(vec![Some(unbroadcast(&relu_select(&x[0], g)?, &x[0])?)]);
        }
        Ok(vec![match unary_derivative(self.0, &x[0], y)? {
            Some(d) => Some(unbroadcast(&mul(g, &d)?, &x[0])?),
            None => None,
        }])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        if let (UnaryOp::Relu, Some(tx)) = (self.0, &t[0]) {
            return Ok(Some(relu_select(&x[0], tx)?));
        }
        Ok(match (unary_derivative(self.0, &x[0], y)?, &t[0]) {
            (Some(d), Some(tx)) => Some(mul(tx, &d)?),
            _ => None,
        })
    }
    // Elementwise: the batch axis is one more axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Unary(self.clone()), x)
    }
}

/// `x ** n` for a constant int exponent (JAX's `integer_pow`): its derivative
/// `n * x ** (n - 1)` is exact at every order, also at 0, where the float
/// power's `0 * 0 ** -1` would give nan.
#[derive(Clone, Debug, PartialEq)]
pub struct IntPow(pub i32);

/// `d(x ** n)/dx = n * x ** (n - 1)` for an int exponent (`None`: zero, for `n == 0`).
fn int_pow_derivative(n: i32, x: &Value) -> R<Option<Value>> {
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(scale(
        &super::apply(&Prim::IntPow(IntPow(n - 1)), std::slice::from_ref(x))?,
        f64::from(n),
    )?))
}

impl Primitive for IntPow {
    fn name(&self) -> String {
        "`**`".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        // powf, not powi: the same value as the untraced `x ** n` gives.
        let e = f64::from(self.0);
        Ok(match &x[0] {
            Value::Float(v) => Value::Float(v.powf(e)),
            // x * x is exactly powf(x, 2) (both are the correctly rounded square), and vectorises.
            other if self.0 == 2 => from_tensor(as_tensor(other)?.unary(UnaryOp::Square)),
            other => from_tensor(as_tensor(other)?.map(|v| v.powf(e))),
        })
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![match int_pow_derivative(self.0, &x[0])? {
            Some(d) => Some(mul(g, &d)?),
            None => None,
        }])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(match (int_pow_derivative(self.0, &x[0])?, &t[0]) {
            (Some(d), Some(tx)) => Some(mul(tx, &d)?),
            _ => None,
        })
    }
    // Elementwise: the batch axis is one more axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::IntPow(self.clone()), x)
    }
}
