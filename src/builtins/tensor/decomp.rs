//! Matrix decomposition builtins: `solve`, `inv`, `det`, `slogdet`,
//! `cholesky`, `solve_triangular` — thin wrappers over the differentiable
//! helpers of `crate::prim::decomp` that report failures at the call.

use super::args::*;
use crate::builtins::{bool_arg, register, Decl};
use crate::prim::decomp;
use crate::value::Value;
use dp_tensor::Triangular;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "solve(a: tensor, b: tensor) -> tensor",
            summary: "The solution `x` of `a @ x = b` for square `a` (LU with partial pivoting).",
            doc: "As NumPy 2: a 1-d `b` is one right-hand side; otherwise `b` is a stack of `(n, k)` \
                  matrices whose leading axes broadcast against `a`'s. A singular `a` is an error. \
                  Differentiable in `a` and `b`.",
            example: "solve(tensor([[2.0, 0.0], [0.0, 4.0]]), tensor([2.0, 2.0]))  # tensor([1.0, 0.5])",
        },
        |_, a| {
            let x = numeric("solve", a.value(0))?;
            let y = numeric("solve", a.value(1))?;
            decomp::solve(&x, &y).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "inv(a: tensor) -> tensor",
            summary: "The inverse of each square matrix in the last two axes.",
            doc: "A singular matrix is an error; prefer `solve(a, b)` to `inv(a) @ b`. Differentiable.",
            example: "inv(tensor([[2.0, 0.0], [0.0, 4.0]]))  # tensor([[0.5, 0.0], [0.0, 0.25]])",
        },
        |_, a| {
            let x = numeric("inv", a.value(0))?;
            decomp::inv(&x).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "det(a: tensor) -> float | tensor",
            summary: "The determinant of each square matrix in the last two axes.",
            doc: "Computed as `sign * exp(logabsdet)` from `slogdet`; singular matrices give 0. Differentiable \
                  where the matrix is invertible.",
            example: "det(tensor([[1.0, 2.0], [3.0, 4.0]]))  # -2.0",
        },
        |_, a| {
            let x = numeric("det", a.value(0))?;
            decomp::det(&x).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "slogdet(a: tensor) -> tuple",
            summary: "`(sign, logabsdet)` of each square matrix: `det = sign * exp(logabsdet)` without overflow.",
            doc: "A singular matrix gives `(0.0, -inf)`. `logabsdet` is differentiable (its gradient is \
                  `inv(a).T`); `sign` is piecewise constant.",
            example: "slogdet(tensor([[1.0, 2.0], [3.0, 4.0]]))  # (-1.0, 0.6931471805599453)",
        },
        |_, a| {
            let x = numeric("slogdet", a.value(0))?;
            let (s, l) = decomp::slogdet(&x).map_err(|d| d.at(a.span))?;
            Ok(Value::tuple([s, l]))
        },
    );
    register(
        t,
        Decl {
            sig: "cholesky(a: tensor) -> tensor",
            summary: "The lower triangular `l` with `l @ l.T == a`, for symmetric positive definite `a`.",
            doc: "Reads the lower triangle of `a`; a matrix that is not positive definite is an error. \
                  Differentiable (the derivative treats `a` as symmetric, as JAX does).",
            example: "cholesky(tensor([[4.0, 2.0], [2.0, 2.0]]))  # tensor([[2.0, 0.0], [1.0, 1.0]])",
        },
        |_, a| {
            let x = numeric("cholesky", a.value(0))?;
            decomp::cholesky(&x).map_err(|d| d.at(a.span))
        },
    );
    for name in ["solve_triangular", "triangular_solve"] {
        let sig = if name == "solve_triangular" {
            "solve_triangular(a: tensor, b: tensor, lower: bool = false, trans: bool = false, \
             unit_diagonal: bool = false, left_side: bool = true) -> tensor"
        } else {
            "triangular_solve(a: tensor, b: tensor, lower: bool = false, trans: bool = false, \
             unit_diagonal: bool = false, left_side: bool = true) -> tensor"
        };
        register(
            t,
            Decl {
                sig,
                summary: "The solution `x` of `op(a) @ x = b` for triangular `a` (`x @ op(a) = b` when `left_side=false`).",
                doc: "`op(a)` is `a.T` when `trans`. Only the triangle named by `lower` is read (SciPy's \
                      default is the upper one), and not the diagonal when `unit_diagonal` (then taken as ones). \
                      `b` follows `solve`'s rules. A zero on the diagonal is an error. Differentiable in `a` and `b`.",
                example: "solve_triangular(tensor([[2.0, 0.0], [1.0, 1.0]]), tensor([2.0, 3.0]), lower=true)  # tensor([1.0, 2.0])",
            },
            move |_, a| {
                let x = numeric(name, a.value(0))?;
                let y = numeric(name, a.value(1))?;
                let flag = |i: usize, what: &str| bool_arg(name, what, a.value(i)).map_err(at_param(&a, i));
                let opts = Triangular {
                    lower: flag(2, "lower")?,
                    trans: flag(3, "trans")?,
                    unit_diagonal: flag(4, "unit_diagonal")?,
                    right_side: !flag(5, "left_side")?,
                };
                decomp::triangular_solve(&x, &y, opts).map_err(|d| d.at(a.span))
            },
        );
    }
}
