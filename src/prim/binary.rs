//! Broadcasting binary primitives: `Binary` (`+ - * / **`, `maximum`,
//! `minimum`, comparisons) and the ternary `Where`.

use super::rule_util::{f, sum_terms, term};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, add, div, mul, neg, scale, sub, unbroadcast};
use crate::value::Value;
use dp_tensor::{BinaryOp, Tensor};

/// A broadcasting binary op.
#[derive(Clone, Debug, PartialEq)]
pub struct Binary(pub BinaryOp);

/// `+`, `-` or `*` of two ints, giving an int exactly as the interpreter
/// does (an error on overflow). Only a jit plan records it: there an int
/// argument that changes from call to call is an input of the plan (see
/// `autodiff::jit`), and `state.t + 1` must stay an int. No derivative.
#[derive(Clone, Debug, PartialEq)]
pub struct IntBinary(pub crate::syntax::ast::BinOp);

impl Primitive for IntBinary {
    fn name(&self) -> String {
        format!("`{}`", self.0.symbol())
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        crate::ops::arith::binary(self.0, x[0].peek(), x[1].peek())
    }
    fn zero_derivative(&self) -> bool {
        true
    }
    fn vjp(&self, _x: &[Value], _y: &Value, _g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![None, None])
    }
    fn jvp(&self, _x: &[Value], _t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(None)
    }
}

fn bin(op: BinaryOp, a: &Value, b: &Value) -> R<Value> {
    ops::binary(op, a, b)
}

/// Masks for `maximum`/`minimum`: where each operand wins, ties split equally.
fn select_masks(op: BinaryOp, a: &Value, b: &Value) -> R<(Value, Value)> {
    let (wins_a, wins_b) = if op == BinaryOp::Maximum {
        (BinaryOp::Gt, BinaryOp::Lt)
    } else {
        (BinaryOp::Lt, BinaryOp::Gt)
    };
    let tie = scale(&bin(BinaryOp::Eq, a, b)?, 0.5)?;
    Ok((add(&bin(wins_a, a, b)?, &tie)?, add(&bin(wins_b, a, b)?, &tie)?))
}

/// `d(a ** b)/da = b * a ** (b - 1)`, taken as exactly 0 where `b == 0` and
/// `a` is 0 or subnormal (JAX's rule gives `0 * 0 ** -1 = nan` there).
/// `None`: zero everywhere. A constant `b == 1` gives the constant 1, so
/// `x ** 1.0` has second derivative 0 and `x ** 2.0` has 2 at 0. Elsewhere at
/// `b == 0` the product itself is 0 and keeps its derivative in `b`,
/// `a ** -1`: `d/db d/da a ** b` is `1 / a` there, as `d/da d/db` is (the
/// mask used to cover every `a`, and the Hessian of `x ** y` at `y = 0` was
/// not symmetric).
fn pow_da(a: &Value, b: &Value) -> R<Option<Value>> {
    if let Value::Float(e) = b {
        return Ok(match *e {
            0.0 => None,
            1.0 => Some(f(1.0)),
            e => Some(scale(&bin(BinaryOp::Pow, a, &f(e - 1.0))?, e)?),
        });
    }
    let has_zero = as_tensor(b.strip())?.to_vec().contains(&0.0);
    if !has_zero {
        return Ok(Some(mul(b, &bin(BinaryOp::Pow, a, &sub(b, &f(1.0))?)?)?));
    }
    // Where b == 0 and `1 / a` would overflow, the base is replaced by 1
    // before the power (so neither the value nor any derivative of the unused
    // branch is inf or nan) and the result by 0; the zero flows through `where`.
    let tiny_a = bin(
        BinaryOp::Lt,
        &ops::unary(dp_tensor::UnaryOp::Abs, a)?,
        &f(f64::MIN_POSITIVE),
    )?;
    let is_zero = mul(&bin(BinaryOp::Eq, b, &f(0.0))?, &tiny_a)?;
    let safe_a = ops::where_(&is_zero, &f(1.0), a)?;
    let d = mul(b, &bin(BinaryOp::Pow, &safe_a, &sub(b, &f(1.0))?)?)?;
    Ok(Some(ops::where_(&is_zero, &f(0.0), &d)?))
}

/// `d(a ** b)/db = a ** b * log(a)`, with `log(0)` taken as 0 (as JAX does).
fn pow_db(a: &Value, y: &Value) -> R<Value> {
    let is_zero = bin(BinaryOp::Eq, a, &f(0.0))?;
    let safe = ops::where_(&is_zero, &f(1.0), a)?;
    mul(y, &ops::unary(dp_tensor::UnaryOp::Log, &safe)?)
}

/// Whether `op` is a comparison (zero derivative everywhere).
fn is_comparison(op: BinaryOp) -> bool {
    use BinaryOp::*;
    match op {
        Eq | Ne | Lt | Le | Gt | Ge => true,
        Add | Sub | Mul | Div | Pow | Maximum | Minimum => false,
    }
}

impl Primitive for Binary {
    fn name(&self) -> String {
        format!("`{}`", self.0.symbol())
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let op = self.0;
        Ok(match (&x[0], &x[1]) {
            (Value::Float(a), Value::Float(b)) => Value::Float(op.apply(*a, *b)),
            (Value::Tensor(a), Value::Float(b)) => from_tensor(a.binary_scalar(*b, op, false)),
            (Value::Float(a), Value::Tensor(b)) => from_tensor(b.binary_scalar(*a, op, true)),
            // An int input of a jit plan meets a float as the interpreter
            // has it meet one: converted with `as f64` (see `ops::arith::binary`).
            (Value::Int(a), Value::Float(b)) => Value::Float(op.apply(*a as f64, *b)),
            (Value::Float(a), Value::Int(b)) => Value::Float(op.apply(*a, *b as f64)),
            (Value::Int(a), Value::Int(b)) => Value::Float(op.apply(*a as f64, *b as f64)),
            (Value::Tensor(a), Value::Int(b)) => from_tensor(a.binary_scalar(*b as f64, op, false)),
            (Value::Int(a), Value::Tensor(b)) => from_tensor(b.binary_scalar(*a as f64, op, true)),
            (a, b) => from_tensor(te(as_tensor(a)?.binary(&*as_tensor(b)?, op))?),
        })
    }
    fn zero_derivative(&self) -> bool {
        is_comparison(self.0)
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        use BinaryOp::*;
        let (a, b) = (&x[0], &x[1]);
        let gs = |need: bool, k: &dyn Fn() -> R<Value>| -> R<Option<Value>> { need.then(k).transpose() };
        let (ga, gb): (Option<Value>, Option<Value>) = match self.0 {
            Add => (Some(g.clone()), Some(g.clone())),
            Sub => (Some(g.clone()), gs(needs[1], &|| neg(g))?),
            Mul => (gs(needs[0], &|| mul(g, b))?, gs(needs[1], &|| mul(g, a))?),
            Div => (
                gs(needs[0], &|| div(g, b))?,
                gs(needs[1], &|| neg(&div(&mul(g, y)?, b)?))?,
            ),
            Pow => (
                match needs[0].then(|| pow_da(a, b)).transpose()?.flatten() {
                    Some(d) => Some(mul(g, &d)?),
                    None => None,
                },
                gs(needs[1], &|| mul(g, &pow_db(a, y)?))?,
            ),
            Maximum | Minimum => {
                let (ma, mb) = select_masks(self.0, a, b)?;
                (Some(mul(g, &ma)?), Some(mul(g, &mb)?))
            }
            // Comparisons: zero derivative (never recorded, see `zero_derivative`).
            Eq | Ne | Lt | Le | Gt | Ge => (None, None),
        };
        Ok(vec![
            match ga {
                Some(v) if needs[0] => Some(unbroadcast(&v, a)?),
                _ => None,
            },
            match gb {
                Some(v) if needs[1] => Some(unbroadcast(&v, b)?),
                _ => None,
            },
        ])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        use BinaryOp::*;
        let (a, b) = (&x[0], &x[1]);
        let (ta, tb) = (&t[0], &t[1]);
        match self.0 {
            Add => sum_terms(vec![ta.clone(), tb.clone()]),
            Sub => sum_terms(vec![ta.clone(), term(tb, neg)?]),
            Mul => sum_terms(vec![term(ta, |v| mul(v, b))?, term(tb, |v| mul(a, v))?]),
            Div => sum_terms(vec![
                term(ta, |v| div(v, b))?,
                term(tb, |v| neg(&div(&mul(v, y)?, b)?))?,
            ]),
            Pow => sum_terms(vec![
                match (ta, pow_da(a, b)?) {
                    (Some(v), Some(d)) => Some(mul(v, &d)?),
                    _ => None,
                },
                term(tb, |v| mul(v, &pow_db(a, y)?))?,
            ]),
            Maximum | Minimum => {
                let (ma, mb) = select_masks(self.0, a, b)?;
                sum_terms(vec![term(ta, |v| mul(v, &ma))?, term(tb, |v| mul(v, &mb))?])
            }
            // Comparisons: zero derivative (never pushed forward, see `zero_derivative`).
            Eq | Ne | Lt | Le | Gt | Ge => Ok(None),
        }
    }
    fn batch(&self, x: &[Value], batched: &[bool], _n: usize) -> R<Value> {
        super::batching::broadcasting(&Prim::Binary(self.clone()), x, batched)
    }
}

/// `where(cond, a, b)`: `a` where `cond` is nonzero, else `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Where;

impl Primitive for Where {
    fn name(&self) -> String {
        "where".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(Tensor::where_(
            &*as_tensor(&x[0])?,
            &*as_tensor(&x[1])?,
            &*as_tensor(&x[2])?,
        ))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let c = &x[0];
        let zero = f(0.0);
        Ok(vec![
            // The condition is not differentiable.
            None,
            if needs[1] {
                Some(unbroadcast(&ops::where_(c, g, &zero)?, &x[1])?)
            } else {
                None
            },
            if needs[2] {
                Some(unbroadcast(&ops::where_(c, &zero, g)?, &x[2])?)
            } else {
                None
            },
        ])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        let zero = f(0.0);
        let ta = t[1].clone().unwrap_or_else(|| zero.clone());
        let tb = t[2].clone().unwrap_or(zero);
        Ok(Some(ops::where_(&x[0], &ta, &tb)?))
    }
    fn batch(&self, x: &[Value], batched: &[bool], _n: usize) -> R<Value> {
        super::batching::broadcasting(&Prim::Where(Where), x, batched)
    }
}

/// `atan2(y, x)`: the angle of the point `(x, y)`, elementwise with broadcasting.
#[derive(Clone, Debug, PartialEq)]
pub struct Atan2;

/// `1 / (x² + y²)`, the common factor of both partial derivatives of `atan2`.
fn atan2_scale(y: &Value, x: &Value) -> R<Value> {
    div(&f(1.0), &add(&mul(x, x)?, &mul(y, y)?)?)
}

/// `op(a, b)` elementwise over two numbers broadcast together: a float for
/// two floats, else a tensor. For the binary primitives without a kernel of
/// their own in `dp_tensor`.
fn zip_broadcast(v: &[Value], op: impl Fn(f64, f64) -> f64) -> R<Value> {
    if let (Value::Float(a), Value::Float(b)) = (&v[0], &v[1]) {
        return Ok(Value::Float(op(*a, *b)));
    }
    let (a, b) = (as_tensor(&v[0])?, as_tensor(&v[1])?);
    let shape = dp_tensor::broadcast_shapes(a.shape(), b.shape()).ok_or_else(|| {
        super::tensor_error(dp_tensor::TensorError::Invalid(format!(
            "cannot broadcast shapes {} and {}",
            dp_tensor::format_shape(a.shape()),
            dp_tensor::format_shape(b.shape())
        )))
    })?;
    let xs = te(a.broadcast_to(&shape))?.to_vec();
    let ys = te(b.broadcast_to(&shape))?.to_vec();
    let out: Vec<f64> = xs.iter().zip(&ys).map(|(a, b)| op(*a, *b)).collect();
    Ok(from_tensor(te(Tensor::from_vec(out, &shape))?))
}

impl Primitive for Atan2 {
    fn name(&self) -> String {
        "atan2".into()
    }
    fn forward(&self, v: &[Value]) -> R<Value> {
        zip_broadcast(v, f64::atan2)
    }
    // d atan2(y, x) = (x dy - y dx) / (x² + y²); at the origin both are nan, as in JAX.
    fn vjp(&self, v: &[Value], _out: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (y, x) = (&v[0], &v[1]);
        let gs = mul(g, &atan2_scale(y, x)?)?;
        Ok(vec![
            if needs[0] {
                Some(unbroadcast(&mul(&gs, x)?, y)?)
            } else {
                None
            },
            if needs[1] {
                Some(unbroadcast(&neg(&mul(&gs, y)?)?, x)?)
            } else {
                None
            },
        ])
    }
    fn jvp(&self, v: &[Value], t: &[Option<Value>], _out: &Value) -> R<Option<Value>> {
        let (y, x) = (&v[0], &v[1]);
        let num = sum_terms(vec![
            term(&t[0], |ty| mul(ty, x))?,
            term(&t[1], |tx| neg(&mul(tx, y)?))?,
        ])?;
        num.map(|n| mul(&n, &atan2_scale(y, x)?)).transpose()
    }
    fn batch(&self, x: &[Value], batched: &[bool], _n: usize) -> R<Value> {
        super::batching::broadcasting(&Prim::Atan2(Atan2), x, batched)
    }
}

/// Python's float `%`, elementwise with broadcasting: the remainder of the
/// floored division, with the sign of the divisor (`-1 % 3 == 2`). Each
/// element is computed as the interpreter computes a number's (see
/// `ops::arith::float_mod`), so a tensor, a traced scalar (jit) and a plain
/// float agree to the bit. `a - b * floor(a / b)`, which this replaced, is
/// only the derivative's form: as a value it loses every digit where `a / b`
/// is large (`[1e308] % 3.0` gave 0, not 2) and gives nan for an infinite
/// divisor (`2 % inf` is 2). A zero remainder is +0.0 (see `float_mod`).
#[derive(Clone, Debug, PartialEq)]
pub struct FloatMod;

impl FloatMod {
    /// `a // b`: minus the derivative with respect to `b` (the derivative
    /// with respect to `a` is 1), piecewise constant. The exact floored
    /// quotient, the one `a % b` subtracted (`floor(a / b)` can be one more).
    fn quotient(a: &Value, b: &Value) -> R<Value> {
        ops::apply(&Prim::FloatFloorDiv(FloatFloorDiv), &[a.clone(), b.clone()])
    }
}

impl Primitive for FloatMod {
    fn name(&self) -> String {
        "`%`".into()
    }
    fn forward(&self, v: &[Value]) -> R<Value> {
        zip_broadcast(&[ops::num(&v[0]), ops::num(&v[1])], crate::ops::arith::float_mod)
    }
    fn vjp(&self, v: &[Value], _out: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (a, b) = (&v[0], &v[1]);
        Ok(vec![
            if needs[0] { Some(unbroadcast(g, a)?) } else { None },
            if needs[1] {
                Some(unbroadcast(&neg(&mul(g, &Self::quotient(a, b)?)?)?, b)?)
            } else {
                None
            },
        ])
    }
    fn jvp(&self, v: &[Value], t: &[Option<Value>], _out: &Value) -> R<Option<Value>> {
        let (a, b) = (&v[0], &v[1]);
        sum_terms(vec![
            t[0].clone(),
            term(&t[1], |tb| neg(&mul(tb, &Self::quotient(a, b)?)?))?,
        ])
    }
    fn batch(&self, x: &[Value], batched: &[bool], _n: usize) -> R<Value> {
        super::batching::broadcasting(&Prim::FloatMod(FloatMod), x, batched)
    }
}

/// Python's float `//`, elementwise with broadcasting: the floor of the exact
/// quotient (see `ops::arith::float_floor_div`), computed for each element as
/// the interpreter computes a number's, so tensors, traced scalars (jit) and
/// plain floats agree to the bit. `floor(a / b)`, which this replaced, rounds
/// the quotient before the floor (`1.0 // 0.1` gave 10.0, not 9.0). Piecewise
/// constant: zero derivative, as `floor`'s.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatFloorDiv;

impl Primitive for FloatFloorDiv {
    fn name(&self) -> String {
        "`//`".into()
    }
    fn forward(&self, v: &[Value]) -> R<Value> {
        zip_broadcast(&[ops::num(&v[0]), ops::num(&v[1])], crate::ops::arith::float_floor_div)
    }
    fn zero_derivative(&self) -> bool {
        true
    }
    fn vjp(&self, _x: &[Value], _y: &Value, _g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![None, None])
    }
    fn jvp(&self, _x: &[Value], _t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(None)
    }
    fn batch(&self, x: &[Value], batched: &[bool], _n: usize) -> R<Value> {
        super::batching::broadcasting(&Prim::FloatFloorDiv(FloatFloorDiv), x, batched)
    }
}
