//! Activation functions beyond `relu`/`sigmoid`/`softplus`: `gelu`, `silu`,
//! `leaky_relu`, `elu`, `log_sigmoid`. Written with differentiable
//! primitives, with JAX's (`jax.nn`) conventions at the kinks.

use super::args::*;
use crate::builtins::{register, Decl};

use crate::ops::{self, add, mul, scale};
use crate::value::Value;
use dp_tensor::{BinaryOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

fn f(x: f64) -> Value {
    Value::Float(x)
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "gelu(x: tensor, approximate: bool = true) -> tensor",
            summary: "The GELU activation, by default its tanh approximation (as `jax.nn.gelu`).",
            doc: "`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³)))`; with `approximate=false` the exact `0.5 x (1 + erf(x / sqrt(2)))`. Differentiable to any order.",
            example: "gelu(1.0)  # 0.8411919906082768",
        },
        |_, a| {
            let x = numeric("gelu", a.value(0))?;
            if !a.bool(1)? {
                let e = crate::prim::special::special(
                    crate::prim::special::SpecialFn::Erf,
                    &scale(&x, std::f64::consts::FRAC_1_SQRT_2)?,
                )?;
                return mul(&scale(&x, 0.5)?, &add(&f(1.0), &e)?);
            }
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let inner = scale(&add(&x, &scale(&mul(&mul(&x, &x)?, &x)?, 0.044715)?)?, c)?;
            let th = ops::unary(UnaryOp::Tanh, &inner)?;
            mul(&scale(&x, 0.5)?, &add(&f(1.0), &th)?)
        },
    );
    register(
        t,
        Decl {
            sig: "silu(x: tensor) -> tensor",
            summary: "The SiLU (swish) activation `x * sigmoid(x)`, elementwise.",
            doc: "Differentiable to any order.",
            example: "silu(1.0)  # 0.7310585786300049",
        },
        |_, a| {
            let x = numeric("silu", a.value(0))?;
            mul(&x, &ops::unary(UnaryOp::Sigmoid, &x)?)
        },
    );
    register(
        t,
        Decl {
            sig: "leaky_relu(x: tensor, negative_slope: float = 0.01) -> tensor",
            summary: "`x` where `x >= 0`, else `negative_slope * x`, elementwise.",
            doc: "As `jax.nn.leaky_relu`, the derivative at 0 is 1.",
            example: "leaky_relu(tensor([-2.0, 3.0]))  # [-0.02, 3.0]",
        },
        |_, a| {
            let x = numeric("leaky_relu", a.value(0))?;
            let k = a.float(1)?;
            let pos = ops::binary(BinaryOp::Ge, &x, &f(0.0))?;
            ops::where_(&pos, &x, &scale(&x, k)?)
        },
    );
    register(
        t,
        Decl {
            sig: "elu(x: tensor, alpha: float = 1.0) -> tensor",
            summary: "`x` where `x > 0`, else `alpha * (exp(x) - 1)`, elementwise.",
            doc: "As `jax.nn.elu`, the derivative at 0 is `alpha` (from the negative side's formula). Differentiable to any order.",
            example: "elu(tensor([-1.0, 2.0]))  # [-0.6321205588285577, 2.0]",
        },
        |_, a| {
            let x = numeric("elu", a.value(0))?;
            let alpha = a.float(1)?;
            let pos = ops::binary(BinaryOp::Gt, &x, &f(0.0))?;
            // The unused branch sees 0 instead of a large x, so exp cannot overflow into it.
            let safe = ops::where_(&pos, &f(0.0), &x)?;
            let neg = scale(&ops::unary(UnaryOp::Expm1, &safe)?, alpha)?;
            ops::where_(&pos, &x, &neg)
        },
    );
    register(
        t,
        Decl {
            sig: "log_sigmoid(x: tensor) -> tensor",
            summary: "`log(sigmoid(x)) = -softplus(-x)`, elementwise, stable for large `|x|`.",
            doc: "Differentiable to any order.",
            example: "log_sigmoid(0.0)  # -0.6931471805599453",
        },
        |_, a| {
            let x = numeric("log_sigmoid", a.value(0))?;
            ops::neg(&ops::unary(UnaryOp::Softplus, &ops::neg(&x)?)?)
        },
    );
}
