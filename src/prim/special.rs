//! Special functions: `Special` (`erf`, `erfc`, `lgamma`, `digamma` and the
//! polygamma functions that are their derivatives).

use super::rule_util::{f, term};
use super::{as_tensor, from_tensor, Prim, Primitive, R};
use crate::ops;
use crate::value::Value;
use dp_tensor::UnaryOp;

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
}

/// An elementwise special function.
#[derive(Clone, Debug, PartialEq)]
pub struct Special(pub SpecialFn);

/// Applies a special function (differentiable to any order).
pub fn special(fun: SpecialFn, x: &Value) -> R<Value> {
    super::apply(&Prim::Special(Special(fun)), &[ops::num(x)])
}

impl Special {
    /// The derivative of the function at `x`, written with recordable ops.
    fn derivative(&self, x: &Value) -> R<Value> {
        match self.0 {
            SpecialFn::Erf | SpecialFn::Erfc => {
                // d erf / dx = 2 / sqrt(pi) exp(-x^2); erfc is its negation.
                let c = if self.0 == SpecialFn::Erf { 1.0 } else { -1.0 } * std::f64::consts::FRAC_2_SQRT_PI;
                let e = ops::unary(UnaryOp::Exp, &ops::neg(&ops::mul(x, x)?)?)?;
                ops::mul(&f(c), &e)
            }
            SpecialFn::Lgamma => special(SpecialFn::Polygamma(0), x),
            SpecialFn::Polygamma(n) => special(SpecialFn::Polygamma(n + 1), x),
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
        };
        Ok(from_tensor(y))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![Some(ops::mul(g, &self.derivative(&x[0])?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |t| ops::mul(t, &self.derivative(&x[0])?))
    }
    // Elementwise: the batch axis is one more axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Special(self.clone()), x)
    }
}
