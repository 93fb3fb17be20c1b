//! Elementwise math builtins: unary functions, `maximum`/`minimum`/`pow`,
//! `clip`, `where` and `isnan`.

use super::args::*;
use crate::builtins::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self};
use crate::value::Value;
use dp_tensor::{BinaryOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
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
            example: "log1p(1e-10)  # 9.999999999500001e-11",
        }, Log1p),
        (Decl {
            sig: "expm1(x: tensor) -> tensor",
            summary: "`exp(x) - 1`, accurate for small `x`.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "expm1(1e-10)  # 1.00000000005e-10",
        }, Expm1),
        (Decl {
            sig: "sqrt(x: tensor) -> tensor",
            summary: "The square root, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Of a negative number nan.",
            example: "sqrt(tensor([4.0, 9.0]))  # [2.0, 3.0]",
        }, Sqrt),
        (Decl {
            sig: "abs(x: tensor) -> tensor",
            summary: "The absolute value, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Its derivative at 0 is 1 (as in JAX).",
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
            example: "relu(tensor([-1.0, 2.0]))  # [0.0, 2.0]",
        }, Relu),
        (Decl {
            sig: "softplus(x: tensor) -> tensor",
            summary: "`log(1 + exp(x))`, elementwise, stable for large `x`.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "softplus(0.0)  # 0.6931471805599453",
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
            sig: "square(x: tensor) -> tensor",
            summary: "`x * x`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "square(3.0)  # 9.0",
        }, Square),
        (Decl {
            sig: "sinh(x: tensor) -> tensor",
            summary: "The hyperbolic sine, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "sinh(0.0)  # 0.0",
        }, Sinh),
        (Decl {
            sig: "cosh(x: tensor) -> tensor",
            summary: "The hyperbolic cosine, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "cosh(0.0)  # 1.0",
        }, Cosh),
        (Decl {
            sig: "arcsinh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic sine, elementwise (also `asinh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "arcsinh(0.0)  # 0.0",
        }, Asinh),
        (Decl {
            sig: "asinh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic sine, elementwise (also `arcsinh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "asinh(1.0)  # 0.881373587019543",
        }, Asinh),
        (Decl {
            sig: "arccosh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic cosine, elementwise (also `acosh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Below 1 the value is nan; at 1 the derivative is inf, the second -inf. The derivative is JAX's `1 / sqrt(x² - 1)`, which is real (and inf at -1) also at or below -1.",
            example: "arccosh(1.0)  # 0.0",
        }, Acosh),
        (Decl {
            sig: "acosh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic cosine, elementwise (also `arccosh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Below 1 the value is nan; at 1 the derivative is inf, the second -inf. The derivative is JAX's `1 / sqrt(x² - 1)`, which is real (and inf at -1) also at or below -1.",
            example: "acosh(2.0)  # 1.3169578969248166",
        }, Acosh),
        (Decl {
            sig: "arctanh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic tangent, elementwise (also `atanh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 it is ±inf.",
            example: "arctanh(0.0)  # 0.0",
        }, Atanh),
        (Decl {
            sig: "atanh(x: tensor) -> tensor",
            summary: "The inverse hyperbolic tangent, elementwise (also `arctanh`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 it is ±inf.",
            example: "atanh(0.5)  # 0.5493061443340548",
        }, Atanh),
        (Decl {
            sig: "arcsin(x: tensor) -> tensor",
            summary: "The inverse sine (radians), elementwise (also `asin`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 the derivative is inf, the second derivative ±inf (as JAX).",
            example: "arcsin(1.0)  # 1.5707963267948966",
        }, Asin),
        (Decl {
            sig: "asin(x: tensor) -> tensor",
            summary: "The inverse sine (radians), elementwise (also `arcsin`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 the derivative is inf, the second derivative ±inf (as JAX).",
            example: "asin(0.0)  # 0.0",
        }, Asin),
        (Decl {
            sig: "arccos(x: tensor) -> tensor",
            summary: "The inverse cosine (radians), elementwise (also `acos`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 the derivative is -inf, the second derivative ∓inf (as JAX).",
            example: "arccos(1.0)  # 0.0",
        }, Acos),
        (Decl {
            sig: "acos(x: tensor) -> tensor",
            summary: "The inverse cosine (radians), elementwise (also `arccos`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. Outside [-1, 1] the value is nan; at ±1 the derivative is -inf, the second derivative ∓inf (as JAX).",
            example: "acos(0.0)  # 1.5707963267948966",
        }, Acos),
        (Decl {
            sig: "arctan(x: tensor) -> tensor",
            summary: "The inverse tangent (radians), elementwise (also `atan`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. For the angle of a point use `atan2(y, x)`.",
            example: "arctan(1.0)  # 0.7853981633974483",
        }, Atan),
        (Decl {
            sig: "atan(x: tensor) -> tensor",
            summary: "The inverse tangent (radians), elementwise (also `arctan`).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order. For the angle of a point use `atan2(y, x)`.",
            example: "atan(0.0)  # 0.0",
        }, Atan),
        (Decl {
            sig: "log2(x: tensor) -> tensor",
            summary: "The base-2 logarithm, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "log2(8.0)  # 3.0",
        }, Log2),
        (Decl {
            sig: "log10(x: tensor) -> tensor",
            summary: "The base-10 logarithm, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "log10(1000.0)  # 3.0",
        }, Log10),
        (Decl {
            sig: "exp2(x: tensor) -> tensor",
            summary: "2 raised to `x`, elementwise.",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order.",
            example: "exp2(3.0)  # 8.0",
        }, Exp2),
        (Decl {
            sig: "ceil(x: tensor) -> tensor",
            summary: "The smallest integer not below `x`, elementwise (as a float).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Its derivative is 0.",
            example: "ceil(2.1)  # 3.0",
        }, Ceil),
    ] {
        unary_builtin(t, decl, op);
    }
    // Like the comparison operators, `isnan` of a number is a bool (so it can
    // drive an `if`); of a tensor, a 0.0/1.0 tensor.
    register(
        t,
        Decl {
            sig: "isnan(x: tensor) -> bool | tensor",
            summary: "Whether `x` is nan: a bool for a number, a bool tensor for a tensor.",
            doc: "",
            example: "isnan(0.0 / 0.0)  # true",
        },
        |_, a| {
            let x = numeric("isnan", a.value(0))?;
            // The kind decides (a peek); only a number's value is read here
            // (a jit guard), a tensor's is a recorded primitive.
            match x.peek() {
                Value::Float(_) => scalar_test(&x, IsNan, f64::is_nan),
                Value::Tensor(t) if t.ndim() == 0 => scalar_test(&x, IsNan, f64::is_nan),
                _ => ops::unary(IsNan, &x),
            }
        },
    );
    for (decl, op, test) in [
        (
            Decl {
                sig: "isfinite(x: tensor) -> bool | tensor",
                summary: "Whether `x` is neither inf nor nan: a bool for a number, a bool tensor for a tensor.",
                doc: "",
                example: "isfinite(tensor([1.0, 1.0 / 0.0]))  # [true, false]",
            },
            IsFinite,
            f64::is_finite as fn(f64) -> bool,
        ),
        (
            Decl {
                sig: "isinf(x: tensor) -> bool | tensor",
                summary: "Whether `x` is inf or -inf: a bool for a number, a bool tensor for a tensor.",
                doc: "",
                example: "isinf(-1.0 / 0.0)  # true",
            },
            IsInf,
            f64::is_infinite,
        ),
    ] {
        register(t, decl, move |_, a| {
            let x = numeric(a.name(), a.value(0))?;
            // As `isnan`: a tensor's elements are not read here.
            match x.peek() {
                Value::Float(_) => scalar_test(&x, op, test),
                Value::Tensor(t) if t.ndim() == 0 => scalar_test(&x, op, test),
                _ => ops::unary(op, &x),
            }
        });
    }
    binary_builtin(
        t,
        Decl {
            sig: "maximum(a: tensor, b: tensor) -> tensor",
            summary: "The larger of `a` and `b`, elementwise (broadcasting).",
            doc: "Where they are equal the derivative is split equally: half to `a`, half to `b` (as in JAX), in reverse and forward mode. For the largest element of one tensor use `max`.",
            example: "maximum(tensor([1.0, 5.0]), 3.0)  # [3.0, 5.0]",
        },
        BinaryOp::Maximum,
    );
    binary_builtin(
        t,
        Decl {
            sig: "minimum(a: tensor, b: tensor) -> tensor",
            summary: "The smaller of `a` and `b`, elementwise (broadcasting).",
            doc: "Where they are equal the derivative is split equally: half to `a`, half to `b` (as in JAX), in reverse and forward mode. For the smallest element of one tensor use `min`.",
            example: "minimum(tensor([1.0, 5.0]), 3.0)  # [1.0, 3.0]",
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

    register(
        t,
        Decl {
            sig: "clip(x: tensor, lo: tensor, hi: tensor) -> tensor",
            summary: "`x` limited to the range `[lo, hi]`, elementwise (broadcasting).",
            doc: "",
            example: "clip(tensor([-2.0, 0.5, 3.0]), 0.0, 1.0)  # [0.0, 0.5, 1.0]",
        },
        |_, a| {
            let x = numeric("clip", a.value(0))?;
            let lo = numeric("clip", a.value(1))?;
            let hi = numeric("clip", a.value(2))?;
            check_broadcast("clip", &a, &[&x, &lo, &hi])?;
            let out = ops::binary(BinaryOp::Minimum, &ops::binary(BinaryOp::Maximum, &x, &lo)?, &hi)?;
            // Bools clipped to bool bounds stay bools, as in NumPy.
            keep_bool(&[&x, &lo, &hi], out)
        },
    );
    register(
        t,
        Decl {
            sig: "round(x: tensor, decimals: int = 0) -> tensor",
            summary: "`x` rounded to the nearest integer, or to `decimals` decimal places, halves to the even neighbour like NumPy (as a float).",
            doc: "Elementwise; a number gives a float, a tensor a tensor of the same shape. Differentiable to any order: its \
                  derivative is 0. With `decimals` it computes what NumPy's `round` computes, to the bit: `x * 10**decimals` \
                  rounded to an integer, then divided by `10**decimals`; a negative `decimals` rounds to tens, hundreds, ... \
                  (`x / 10**-decimals` rounded, times `10**-decimals`). So, as in NumPy, a result can differ from Python's \
                  `round` of a float (which rounds the float's exact decimal value) in the last place: `round(2.675, 2)` \
                  is 2.68 here and in NumPy, 2.67 in Python (2.675 is stored as 2.67499999..., but `2.675 * 100` rounds \
                  to 267.5); `round(0.125, 2)` is 0.12 (a half, to even).",
            example: concat!(
                "round(tensor([0.5, 1.5, 2.5]));  # [0.0, 2.0, 2.0]\n",
                "round(3.14159, 2);  # 3.14\n",
                "round(1234.5, -2)  # 1200.0",
            ),
        },
        |_, a| {
            let x = numeric("round", a.value(0))?;
            let decimals = a.int(1)?;
            if decimals == 0 {
                return ops::unary(UnaryOp::Round, &x);
            }
            let scale = Value::Float(power_of_ten(decimals.unsigned_abs()));
            if decimals > 0 {
                let scaled = ops::binary(BinaryOp::Mul, &x, &scale)?;
                ops::binary(BinaryOp::Div, &ops::unary(UnaryOp::Round, &scaled)?, &scale)
            } else {
                let scaled = ops::binary(BinaryOp::Div, &x, &scale)?;
                ops::binary(BinaryOp::Mul, &ops::unary(UnaryOp::Round, &scaled)?, &scale)
            }
        },
    );
    register(
        t,
        Decl {
            sig: "where(cond: bool | tensor, a: tensor = none, b: tensor = none) -> tensor | tuple",
            summary: "`a` where `cond` is true (non-zero), else `b`, elementwise (broadcasting); `where(cond)` is `nonzero(cond)`.",
            doc: "The gradient flows only into the chosen side. With `cond` alone (NumPy's one-argument form) it \
                  gives the indices of the non-zero elements, one index tensor per axis, as `nonzero`.",
            example: "where(tensor([1.0, 0.0]) > 0.5, 1.0, -1.0)  # [1.0, -1.0]",
        },
        |_, a| {
            match (a.given(1), a.given(2)) {
                (None, None) => {
                    let c = numeric("where", a.value(0))?;
                    return super::nonzero::nonzero_of(&a, &c, super::nonzero::Form::PerAxis, 3);
                }
                (Some(_), None) | (None, Some(_)) => {
                    let given = if a.has(1) { 1 } else { 2 };
                    return Err(Diagnostic::new(
                        ErrorKind::Arity,
                        "`where` takes one argument (`cond`, for the indices of its non-zero elements) or three (`cond, a, b`)",
                    )
                    .at(a.span_at(given))
                    .with_label("give both `a` and `b`, or neither"));
                }
                _ => {}
            }
            let c = match a.value(0) {
                Value::Bool(b) => Value::Float(f64::from(u8::from(*b))),
                other => crate::autodiff::trace::strip_diff(&numeric("where", other)?),
            };
            let x = numeric("where", a.value(1))?;
            let y = numeric("where", a.value(2))?;
            check_broadcast("where", &a, &[&c, &x, &y])?;
            ops::where_(&c, &x, &y)
        },
    );
}

/// `10^n` formed as NumPy's `round` forms it, so that the results agree to
/// the bit: exact from a table up to `10^8`, then `10^9` times 10 again and
/// again (which rounds differently from `powf` for 241 of the `n` in
/// 23..=308); inf from `n = 309` on, as there.
fn power_of_ten(n: u64) -> f64 {
    const TABLE: [f64; 9] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
    if let Some(&p) = TABLE.get(n as usize) {
        return p;
    }
    let mut p: f64 = 1e9;
    for _ in 9..n {
        p *= 10.0;
        if p.is_infinite() {
            break;
        }
    }
    p
}

pub(super) fn unary_builtin(t: &mut HashMap<Rc<str>, Value>, decl: Decl, op: UnaryOp) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = a.given(0).map(|x| numeric(name, x)).transpose()?.unwrap_or(Value::None);
        ops::unary(op, &x)
    });
}

pub(super) fn binary_builtin(t: &mut HashMap<Rc<str>, Value>, decl: Decl, op: BinaryOp) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        let y = numeric(name, a.value(1))?;
        check_broadcast(name, &a, &[&x, &y])?;
        // `pow(x, n)` with an int `n` is an integer power, like `x ** n` (and `jnp.power`).
        if let (BinaryOp::Pow, Some(n @ Value::Int(_))) = (op, a.given(1)) {
            return ops::binary(op, &x, n);
        }
        let out = ops::binary(op, &x, &y)?;
        // The larger or smaller of two bools is a bool, as in NumPy.
        Ok(match op {
            BinaryOp::Maximum | BinaryOp::Minimum => keep_bool(&[&x, &y], out)?,
            _ => out,
        })
    });
}

/// `isnan` and co. of a number, as a bool. Of a value a running trace
/// computed, the test is a recorded primitive whose answer is read (a guard
/// on the answer, as a comparison's): the plan holds for any other value
/// with the same answer, not only for this one.
fn scalar_test(x: &Value, op: UnaryOp, test: fn(f64) -> bool) -> Result<Value, Diagnostic> {
    if crate::autodiff::trace::is_traced(x) {
        let r = ops::unary(op, x)?;
        return Ok(Value::Bool(scalar_item(&r).is_some_and(|v| v != 0.0)));
    }
    Ok(Value::Bool(scalar_item(x).is_some_and(test)))
}

/// The value of a float or 0-d tensor (read: a jit guard).
fn scalar_item(x: &Value) -> Option<f64> {
    match x.strip() {
        Value::Float(f) => Some(*f),
        Value::Tensor(t) => t.item(),
        _ => None,
    }
}
