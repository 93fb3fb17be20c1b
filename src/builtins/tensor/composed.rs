//! Elementwise math written with differentiable primitives: `atan2`,
//! `hypot`, `logaddexp`, `logaddexp2`, `reciprocal`, `sinc`, `deg2rad`/`rad2deg`, and the tolerance
//! tests `isclose`/`allclose` (which have no derivative).

use super::args::*;
use crate::builtins::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, add, div, mul, scale, sub};
use crate::value::Value;
use dp_tensor::{BinaryOp, Tensor, UnaryOp};
use std::collections::HashMap;
use std::f64::consts::PI;
use std::rc::Rc;

fn f(x: f64) -> Value {
    Value::Float(x)
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "atan2(y: tensor, x: tensor) -> tensor",
            summary: "The angle of the point `(x, y)` in radians, in `[-pi, pi]`, elementwise (broadcasting).",
            doc: "Differentiable to any order except at the origin, where (as in JAX) the derivatives are nan.",
            example: "atan2(1.0, -1.0)  # 2.356194490192345",
        },
        |_, a| {
            let y = numeric("atan2", a.value(0))?;
            let x = numeric("atan2", a.value(1))?;
            check_broadcast("atan2", &a, &[&y, &x])?;
            ops::apply(&ops::Prim::Atan2(crate::prim::Atan2), &[y, x])
        },
    );
    register(
        t,
        Decl {
            sig: "hypot(a: tensor, b: tensor) -> tensor",
            summary: "`sqrt(a**2 + b**2)` without overflow, elementwise (broadcasting).",
            doc: "Differentiable to any order away from the origin; at the origin each partial derivative is 0.5, as in JAX (the magnitudes tie).",
            example: "hypot(3.0, 4.0)  # 5.0",
        },
        |_, a| {
            let x = numeric("hypot", a.value(0))?;
            let y = numeric("hypot", a.value(1))?;
            check_broadcast("hypot", &a, &[&x, &y])?;
            hypot(&x, &y)
        },
    );
    register(
        t,
        Decl {
            sig: "logaddexp(a: tensor, b: tensor) -> tensor",
            summary: "`log(exp(a) + exp(b))`, computed stably, elementwise (broadcasting).",
            doc: "Differentiable to any order; where `a == b` each gets half the gradient. Where an operand is `inf` the \
                  derivative is 1 for each infinite operand and 0 for the other (JAX gives `exp(b)` for a finite `b` \
                  there); where both are `-inf` it is nan, as in JAX.",
            example: "logaddexp(0.0, 0.0)  # 0.6931471805599453",
        },
        |_, a| {
            let x = numeric("logaddexp", a.value(0))?;
            let y = numeric("logaddexp", a.value(1))?;
            check_broadcast("logaddexp", &a, &[&x, &y])?;
            logaddexp(&x, &y)
        },
    );
    register(
        t,
        Decl {
            sig: "logaddexp2(a: tensor, b: tensor) -> tensor",
            summary: "`log2(2**a + 2**b)`, computed stably, elementwise (broadcasting).",
            doc: "`logaddexp(a * ln 2, b * ln 2) / ln 2`, so differentiable to any order; where `a == b` each gets half the gradient.",
            example: "logaddexp2(1.0, 1.0)  # 2.0",
        },
        |_, a| {
            let x = numeric("logaddexp2", a.value(0))?;
            let y = numeric("logaddexp2", a.value(1))?;
            check_broadcast("logaddexp2", &a, &[&x, &y])?;
            let ln2 = std::f64::consts::LN_2;
            scale(&logaddexp(&scale(&x, ln2)?, &scale(&y, ln2)?)?, 1.0 / ln2)
        },
    );
    register(
        t,
        Decl {
            sig: "reciprocal(x: tensor) -> tensor",
            summary: "`1 / x`, elementwise (NumPy's `reciprocal` for floats).",
            doc: "Differentiable to any order away from 0; `reciprocal(0.0)` is inf.",
            example: "reciprocal(4.0)  # 0.25",
        },
        |_, a| div(&f(1.0), &numeric("reciprocal", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "sinc(x: tensor) -> tensor",
            summary: "The normalised sinc `sin(pi x) / (pi x)`, with `sinc(0) = 1`, elementwise.",
            doc: "Differentiable to any order. For `|x| < 1/pi` the value and derivatives are those of the Taylor series \
                  (of degree 20), accurate to the last bits near 0 and exact at 0 (as JAX there).",
            example: "sinc(0.5)  # 0.6366197723675814",
        },
        |_, a| sinc(&numeric("sinc", a.value(0))?),
    );
    for (decl, k) in [
        (
            Decl {
                sig: "deg2rad(x: tensor) -> tensor",
                summary: "Degrees to radians: `x * pi / 180`, elementwise.",
                doc: "",
                example: "deg2rad(180.0)  # 3.141592653589793",
            },
            PI / 180.0,
        ),
        (
            Decl {
                sig: "rad2deg(x: tensor) -> tensor",
                summary: "Radians to degrees: `x * 180 / pi`, elementwise.",
                doc: "",
                example: "rad2deg(3.141592653589793)  # 180.0",
            },
            180.0 / PI,
        ),
    ] {
        register(t, decl, move |_, a| scale(&numeric(a.name(), a.value(0))?, k));
    }
    for (decl, all) in [
        (
            Decl {
                sig: "isclose(a: tensor, b: tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = false) -> bool | tensor",
                summary: "Whether `|a - b| <= atol + rtol * |b|`, elementwise (broadcasting), like NumPy.",
                doc: "A bool for two numbers, else a bool tensor. Infinities are close only to themselves; nan is close to nan only with `equal_nan=true`. Not differentiable (a test, like `==`).",
                example: "isclose(tensor([1.0, 2.0]), tensor([1.0, 2.1]))  # [true, false]",
            },
            false,
        ),
        (
            Decl {
                sig: "allclose(a: tensor, b: tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = false) -> bool",
                summary: "Whether every element of `a` is close to `b` (see `isclose`), like NumPy.",
                doc: "Shapes must broadcast together.",
                example: "allclose(tensor([1.0, 2.0]), tensor([1.0, 2.0 + 1e-9]))  # true",
            },
            true,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let y = numeric(name, a.value(1))?;
            check_broadcast(name, &a, &[&x, &y])?;
            let (rtol, atol, eq_nan) = (a.float(2)?, a.float(3)?, a.bool(4)?);
            let close = |p: f64, q: f64| {
                if p.is_nan() || q.is_nan() {
                    eq_nan && p.is_nan() && q.is_nan()
                } else if p.is_infinite() || q.is_infinite() {
                    p == q
                } else {
                    (p - q).abs() <= atol + rtol * q.abs()
                }
            };
            let batched = |v: &Value| crate::autodiff::trace::is_batched(v);
            if !all && (batched(&x) || batched(&y)) {
                return isclose_batched(&x, &y, rtol, atol, eq_nan).map_err(|d| d.at(a.span));
            }
            // Values a running trace computed: the same test as recorded
            // operations (a jit plan tests its new inputs); `allclose`'s one
            // bool is then a guard.
            let traced = |v: &Value| crate::autodiff::trace::is_traced(v);
            if (traced(&x) || traced(&y)) && !batched(&x) && !batched(&y) {
                let close = isclose_batched(&x, &y, rtol, atol, eq_nan).map_err(|d| d.at(a.span))?;
                let shape = ops::shape_of(&close);
                if !all && !shape.is_empty() {
                    return Ok(close);
                }
                let one = if shape.is_empty() {
                    close
                } else {
                    let count = ops::sum(&close, None, false)?;
                    ops::binary(BinaryOp::Eq, &count, &Value::Float(shape.iter().product::<usize>() as f64))?
                };
                // One bool, as plain code gives: read, so it is a guard (a
                // traced scalar test may be a 0/1 float).
                return Ok(Value::Bool(match one.strip() {
                    Value::Bool(b) => *b,
                    other => ops::as_tensor(other)?.item().is_some_and(|v| v != 0.0),
                }));
            }
            for v in [&x, &y] {
                crate::autodiff::vmap::require_unbatched(v, &format!("`{name}`")).map_err(|d| d.at(a.span))?;
            }
            let (xt, yt) = (ops::as_tensor(x.strip())?, ops::as_tensor(y.strip())?);
            let scalar = xt.ndim() == 0 && yt.ndim() == 0;
            let shape = dp_tensor::broadcast_shapes(xt.shape(), yt.shape()).ok_or_else(|| {
                Diagnostic::new(ErrorKind::Shape, format!("`{name}`: shapes do not broadcast"))
            })?;
            let xs = te(xt.broadcast_to(&shape))?.to_vec();
            let ys = te(yt.broadcast_to(&shape))?.to_vec();
            let flags: Vec<bool> = xs.iter().zip(&ys).map(|(p, q)| close(*p, *q)).collect();
            if all {
                return Ok(Value::Bool(flags.iter().all(|b| *b)));
            }
            if scalar {
                return Ok(Value::Bool(flags[0]));
            }
            Ok(Value::Tensor(Rc::new(te(Tensor::from_bools(&flags, &shape))?)))
        });
    }
}

/// `hypot(a, b)` as JAX writes it: `hi * sqrt(1 + (lo / hi)²)` with `hi` the
/// larger magnitude, so squares cannot overflow; the origin is made safe
/// before dividing, so no nan reaches any derivative.
pub(super) fn hypot(a: &Value, b: &Value) -> R<Value> {
    let (aa, ab) = (ops::unary(UnaryOp::Abs, a)?, ops::unary(UnaryOp::Abs, b)?);
    let hi = ops::binary(BinaryOp::Maximum, &aa, &ab)?;
    let lo = ops::binary(BinaryOp::Minimum, &aa, &ab)?;
    let zero = ops::binary(BinaryOp::Eq, &hi, &f(0.0))?;
    let ratio = div(&lo, &ops::where_(&zero, &f(1.0), &hi)?)?;
    let r = mul(&hi, &ops::unary(UnaryOp::Sqrt, &add(&f(1.0), &mul(&ratio, &ratio)?)?)?)?;
    let r = ops::where_(&zero, &hi, &r)?;
    // An infinite operand gives inf even when the other is nan (as NumPy).
    // (The maximum propagates nan, so test each magnitude.)
    let inf = add(
        &ops::binary(BinaryOp::Eq, &aa, &f(f64::INFINITY))?,
        &ops::binary(BinaryOp::Eq, &ab, &f(f64::INFINITY))?,
    )?;
    ops::where_(&inf, &f(f64::INFINITY), &r)
}

/// `log(exp(a) + exp(b))` shifted by the (constant) larger operand `m`:
/// `m + log1p(exp(a - m) + exp(b - m) - 1)`, where the `- 1` is taken by
/// `expm1` of the larger operand's term (whose argument is 0 in value), so
/// the small term keeps its full precision; the derivative is the exact
/// `exp(a - m) / (exp(a - m) + exp(b - m))`, as `m` is a constant for
/// differentiation.
///
/// Where the larger operand is `+inf` the result is `inf` with derivative 1
/// for each infinite operand and 0 for the other (`grad` at `(inf, 1.0)` is
/// `(1.0, 0.0)`, at `(inf, inf)` `(1.0, 1.0)` as in JAX): the shifted form
/// would multiply `exp(inf)` by 0 there and give nan. That branch and the
/// shifted one each read copies of the operands that are tame where the
/// other is chosen, so neither leaks nan into the derivatives.
pub(super) fn logaddexp(a: &Value, b: &Value) -> R<Value> {
    use crate::autodiff::trace::strip_diff;
    let m = ops::binary(BinaryOp::Maximum, &strip_diff(a), &strip_diff(b))?;
    let pos_inf = ops::binary(BinaryOp::Eq, &m, &f(f64::INFINITY))?;
    if !any_true(&pos_inf) {
        return logaddexp_shifted(a, b);
    }
    let tame = |v: &Value| ops::where_(&pos_inf, &f(0.0), v);
    let finite = logaddexp_shifted(&tame(a)?, &tame(b)?)?;
    let infinite_part = |v: &Value| -> R<Value> {
        let is_inf = ops::binary(BinaryOp::Eq, &strip_diff(v), &f(f64::INFINITY))?;
        ops::where_(&is_inf, v, &f(0.0))
    };
    let infinite = add(&infinite_part(a)?, &infinite_part(b)?)?;
    ops::where_(&pos_inf, &infinite, &finite)
}

/// Whether a plain bool (tensor) has a true element; a batched or traced
/// one counts as having one, so the general path is taken (and recorded).
fn any_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Tensor(t) => t.to_vec().iter().any(|&x| x != 0.0),
        _ => true,
    }
}

/// [`logaddexp`] away from `+inf`: the shifted form.
fn logaddexp_shifted(a: &Value, b: &Value) -> R<Value> {
    let m = ops::binary(
        BinaryOp::Maximum,
        &crate::autodiff::trace::strip_diff(a),
        &crate::autodiff::trace::strip_diff(b),
    )?;
    // An infinite or nan shift would give inf - inf: shift by 0 there instead.
    let finite = ops::unary(UnaryOp::IsFinite, &m)?;
    let shift = ops::where_(&finite, &m, &f(0.0))?;
    let (da, db) = (sub(a, &shift)?, sub(b, &shift)?);
    let a_wins = ops::binary(
        BinaryOp::Ge,
        &crate::autodiff::trace::strip_diff(a),
        &crate::autodiff::trace::strip_diff(b),
    )?;
    let s = ops::where_(
        &a_wins,
        &add(&ops::unary(UnaryOp::Expm1, &da)?, &ops::unary(UnaryOp::Exp, &db)?)?,
        &add(&ops::unary(UnaryOp::Exp, &da)?, &ops::unary(UnaryOp::Expm1, &db)?)?,
    )?;
    add(&shift, &ops::unary(UnaryOp::Log1p, &s)?)
}

/// `sin(pi x) / (pi x)`, and where `|pi x| < 1` its Taylor polynomial of
/// degree 20 in `pi x` instead (value 1 at 0, derivatives exact there to the
/// twentieth order, and to the last bits across the branch: the first term
/// left out is below 1e-22). The quotient alone is exact in value but not in
/// its derivatives, whose terms (`cos(u) / u`, `sin(u) / u²`, ...) cancel
/// near 0 to a relative error near `eps / u²`: `grad(sinc)(1e-8)` was 29%
/// off. Each branch reads a copy of `x` that is tame where the other is
/// chosen (1 for the quotient, 0 for the polynomial), so neither leaks inf
/// or nan into the derivatives; nan takes the quotient and stays nan.
pub(super) fn sinc(x: &Value) -> R<Value> {
    use crate::prim::rule_util::horner;
    let small = ops::binary(BinaryOp::Lt, &ops::unary(UnaryOp::Abs, x)?, &f(1.0 / PI))?;
    let px = scale(&ops::where_(&small, &f(1.0), x)?, PI)?;
    let ratio = div(&ops::unary(UnaryOp::Sin, &px)?, &px)?;
    // Σ (-1)^k u^(2k) / (2k + 1)!, in u² = (pi x)².
    let u = scale(&ops::where_(&small, x, &f(0.0))?, PI)?;
    let mut coefs = [0.0f64; 11];
    let mut term = 1.0;
    for (k, c) in coefs.iter_mut().enumerate() {
        if k > 0 {
            term /= -(((2 * k) * (2 * k + 1)) as f64);
        }
        *c = term;
    }
    let poly = horner(&mul(&u, &u)?, &coefs)?;
    ops::where_(&small, &poly, &ratio)
}

/// `isclose` of values batched by a running `vmap` (or computed by a
/// running trace), from primitives (which batch, and record): `|x - y| <= atol + rtol * |y|` where both are finite, equality
/// where either is infinite, and nan close to nan only with `equal_nan`.
fn isclose_batched(x: &Value, y: &Value, rtol: f64, atol: f64, equal_nan: bool) -> R<Value> {
    use crate::autodiff::trace::strip_diff;
    let (x, y) = (strip_diff(x), strip_diff(y));
    let abs = |v: &Value| ops::unary(UnaryOp::Abs, v);
    let tolerance = add(&Value::Float(atol), &scale(&abs(&y)?, rtol)?)?;
    let near = ops::binary(BinaryOp::Le, &abs(&sub(&x, &y)?)?, &tolerance)?;
    let infinite = ops::binary(
        BinaryOp::Maximum,
        &ops::unary(UnaryOp::IsInf, &x)?,
        &ops::unary(UnaryOp::IsInf, &y)?,
    )?;
    let equal = ops::binary(BinaryOp::Eq, &x, &y)?;
    let finite_part = mul(&near, &sub(&Value::Float(1.0), &infinite)?)?;
    let mut close = add(&finite_part, &mul(&infinite, &equal)?)?;
    if equal_nan {
        let both_nan = mul(&ops::unary(UnaryOp::IsNan, &x)?, &ops::unary(UnaryOp::IsNan, &y)?)?;
        close = add(&close, &both_nan)?;
    }
    ops::binary(BinaryOp::Gt, &close, &Value::Float(0.5))
}
