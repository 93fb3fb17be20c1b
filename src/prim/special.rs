//! Special functions: `Special` (`erf`, `erfc`, `lgamma`, `digamma` and the
//! polygamma functions that are their derivatives; the modified Bessel
//! functions `i0`, `i1` and their scaled forms `i0e`, `i1e`).

use super::rule_util::{f, horner, term};
use super::{as_tensor, from_tensor, Prim, Primitive, R};
use crate::ops;
use crate::value::Value;
use dp_tensor::{BinaryOp, UnaryOp};

/// Which special function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpecialFn {
    /// The error function.
    Erf,
    /// `1 - erf(x)`, accurate for large `x`.
    Erfc,
    /// `ln |Γ(x)|`.
    Lgamma,
    /// The polygamma function of order `n` (`0`: digamma).
    Polygamma(u32),
    /// The modified Bessel function of the first kind of order 0.
    I0,
    /// `exp(-|x|) I0(x)`.
    I0e,
    /// The modified Bessel function of the first kind of order 1.
    I1,
    /// `exp(-|x|) I1(x)`.
    I1e,
}

/// An elementwise special function.
#[derive(Clone, Debug, PartialEq)]
pub struct Special(pub SpecialFn);

/// Applies a special function (differentiable to any order).
pub fn special(fun: SpecialFn, x: &Value) -> R<Value> {
    super::apply(&Prim::Special(Special(fun)), &[ops::num(x)])
}

/// Below this `|x|` the derivative of an order-1 Bessel function is its
/// power series. Above it the quotient `I1(x) / x` of the closed form
/// cancels, in the second derivative, against a term as large (both near
/// `1 / (2x)`) to leave `3x / 8`: a relative error near `eps / x²`, 2e-6
/// at 1e-5 and every digit at 1e-10. At 2 it is a few ulp.
const SERIES_BELOW: f64 = 2.0;

/// The Taylor coefficients in `x²` of `I1'(x) = Σ (2k + 1) (x/2)^(2k) / (2 k! (k + 1)!)`,
/// all positive, so the polynomial and each of its derivatives are sums
/// without cancellation. 14 terms: the first one left out is below 1e-19 of
/// the sum at `|x| = 2`.
fn i1_derivative_coefs() -> [f64; 14] {
    let mut c = [0.0; 14];
    // t = 1 / (2^(2k+1) k! (k+1)!), built up term by term.
    let mut t = 0.5;
    for (k, ck) in c.iter_mut().enumerate() {
        if k > 0 {
            t /= (4 * k * (k + 1)) as f64;
        }
        *ck = (2 * k + 1) as f64 * t;
    }
    c
}

/// The derivative of an order-1 Bessel function (output `y`): `I1'(x) =
/// I0(x) - I1(x) / x` and `i1e'(x) = i0e(x) - i1e(x) (sign(x) + 1 / x)`
/// (JAX's rule for `i1e`, with `base` the order-0 function and `sign_term`
/// for the scaled one) where `|x|` is above `SERIES_BELOW`; below it (and at
/// nan, which the series carries through) `I1'` is its power series, times
/// `exp(-|x|)` less `sign(x) y` for `i1e`. The series is a polynomial in
/// recordable ops, so every higher derivative near 0 is accurate too (the
/// second is 0 at 0, as it truly is and as JAX has it). Each branch reads
/// a copy of `x` that is tame for it where the other is chosen, so neither
/// leaks inf or nan into the derivatives of the other.
fn order_one_derivative(x: &Value, y: &Value, base: SpecialFn, sign_term: bool) -> R<Value> {
    let abs = ops::unary(UnaryOp::Abs, x)?;
    let big = ops::binary(BinaryOp::Gt, &abs, &f(SERIES_BELOW))?;
    let s = ops::where_(&big, x, &f(SERIES_BELOW))?;
    let mut factor = ops::unary(UnaryOp::Recip, &s)?;
    if sign_term {
        factor = ops::add(&ops::unary(UnaryOp::Sign, &s)?, &factor)?;
    }
    let closed = ops::sub(&special(base, &s)?, &ops::mul(y, &factor)?)?;
    let small = ops::where_(&big, &f(0.0), x)?;
    let mut series = horner(&ops::mul(&small, &small)?, &i1_derivative_coefs())?;
    if sign_term {
        // i1e = exp(-|x|) I1, so i1e' = exp(-|x|) I1' - sign(x) i1e. |x| is
        // sign(x) x: its derivative at 0 is sign(0) = 0 like the closed form's
        // (abs'(0) is 1), so i1e''(0) is 0, as in JAX, not a one-sided -1/2.
        let sign = ops::unary(UnaryOp::Sign, &small)?;
        let scaling = ops::unary(UnaryOp::Exp, &ops::neg(&ops::mul(&sign, &small)?)?)?;
        series = ops::sub(&ops::mul(&scaling, &series)?, &ops::mul(&sign, y)?)?;
    }
    ops::where_(&big, &closed, &series)
}

impl Special {
    /// The derivative of the function at `x` (output `y`), written with recordable ops.
    fn derivative(&self, x: &Value, y: &Value) -> R<Value> {
        match self.0 {
            SpecialFn::Erf | SpecialFn::Erfc => {
                // d erf / dx = 2 / sqrt(pi) exp(-x^2); erfc is its negation.
                let c = if self.0 == SpecialFn::Erf { 1.0 } else { -1.0 } * std::f64::consts::FRAC_2_SQRT_PI;
                let e = ops::unary(UnaryOp::Exp, &ops::neg(&ops::mul(x, x)?)?)?;
                ops::mul(&f(c), &e)
            }
            SpecialFn::Lgamma => special(SpecialFn::Polygamma(0), x),
            SpecialFn::Polygamma(n) => special(SpecialFn::Polygamma(n + 1), x),
            // I0' = I1 (0 at the origin, as JAX's `jnp.i0` has it).
            SpecialFn::I0 => special(SpecialFn::I1, x),
            // i0e' = i1e - sign(x) i0e: the scaling's kink at 0 takes sign(0) = 0 (JAX's rule).
            SpecialFn::I0e => ops::sub(
                &special(SpecialFn::I1e, x)?,
                &ops::mul(&ops::unary(UnaryOp::Sign, x)?, y)?,
            ),
            SpecialFn::I1 => order_one_derivative(x, y, SpecialFn::I0, false),
            // i1e' = i0e - i1e (sign(x) + 1 / x).
            SpecialFn::I1e => order_one_derivative(x, y, SpecialFn::I0e, true),
        }
    }
}

impl Primitive for Special {
    fn name(&self) -> String {
        match self.0 {
            SpecialFn::Erf => "erf".into(),
            SpecialFn::Erfc => "erfc".into(),
            SpecialFn::Lgamma => "lgamma".into(),
            SpecialFn::Polygamma(0) => "digamma".into(),
            SpecialFn::Polygamma(n) => format!("polygamma({n})"),
            SpecialFn::I0 => "i0".into(),
            SpecialFn::I0e => "i0e".into(),
            SpecialFn::I1 => "i1".into(),
            SpecialFn::I1e => "i1e".into(),
        }
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let t = as_tensor(&x[0])?;
        let y = match self.0 {
            SpecialFn::Erf => t.erf(),
            SpecialFn::Erfc => t.erfc(),
            SpecialFn::Lgamma => t.lgamma(),
            SpecialFn::Polygamma(0) => t.digamma(),
            SpecialFn::Polygamma(n) => t.polygamma(n),
            SpecialFn::I0 => t.i0(),
            SpecialFn::I0e => t.i0e(),
            SpecialFn::I1 => t.i1(),
            SpecialFn::I1e => t.i1e(),
        };
        Ok(from_tensor(y))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![Some(ops::mul(g, &self.derivative(&x[0], y)?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        term(&t[0], |t| ops::mul(t, &self.derivative(&x[0], y)?))
    }
    // Elementwise: the batch axis is one more axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Special(self.clone()), x)
    }
}
