//! Matrix decomposition builtins: `solve`, `inv`, `det`, `slogdet`,
//! `cholesky`, `solve_triangular` — thin wrappers over the differentiable
//! helpers of `crate::prim::decomp` that report failures at the call.

use super::args::*;
use crate::builtins::{bool_arg, float_arg, int_arg, register, str_arg, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops;
use crate::prim::special::{special, SpecialFn};
use crate::prim::{as_tensor, decomp, spectral, te};
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
            example: "solve(tensor([[2.0, 0.0], [0.0, 4.0]]), tensor([2.0, 2.0]))  # [1.0, 0.5]",
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
            example: concat!(
                "inv(tensor([[2.0, 0.0], [0.0, 4.0]]))  # [[0.5 , 0.0 ],\n",
                "                                       #  [0.0 , 0.25]]",
            ),
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
            doc: "The product of the LU pivots; singular matrices give 0. Differentiable everywhere, singular \
                  matrices included: the gradient is the adjugate (`det(a) * inv(a).T` when invertible; at \
                  a matrix of rank n - 1 it is the rank-one product of the null vectors, at lower rank \
                  zero), and so is the Hessian. Third and higher derivatives hold where `a` is invertible.",
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
            example: "slogdet(tensor([[1.0, 2.0], [3.0, 4.0]]))  # (-1.0, 0.6931471805599455)",
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
            sig: "lu(a: tensor) -> tuple",
            summary: "`(p, l, u)` with `a == p @ l @ u`: LU with partial pivoting of each `m x n` matrix (`jax.scipy.linalg.lu`).",
            doc: "`p` is an `m x m` permutation matrix, `l` `m x k` unit lower triangular, `u` `k x n` upper \
                  triangular (`k = min(m, n)`); the pivot is the first entry of largest magnitude in its \
                  column (LAPACK's choice). Singular matrices factor without error. `l` and `u` are \
                  differentiable (JAX's rule, which needs the leading `k x k` block of `u` invertible); \
                  `p` is piecewise constant.",
            example: concat!(
                "lu(tensor([[1.0, 2.0], [3.0, 4.0]]))[2]  # [[3.0               , 4.0               ],\n",
                "                                         #  [0.0               , 0.6666666666666667]]",
            ),
        },
        |_, a| {
            let x = numeric("lu", a.value(0))?;
            let (p, l, u) = crate::prim::lu::lu(&x).map_err(|d| d.at(a.span))?;
            Ok(Value::tuple([p, l, u]))
        },
    );
    register(
        t,
        Decl {
            sig: "expm(a: tensor) -> tensor",
            summary: "The matrix exponential of each square matrix in the last two axes (`jax.scipy.linalg.expm`).",
            doc: "Padé approximation of degree 3 to 13 with scaling and squaring (Higham 2005, as SciPy and \
                  JAX), degree and scaling chosen from the largest 1-norm in the stack. Differentiable to any \
                  order (through the products and the `solve` it is made of, so the derivatives are JAX's). \
                  NaN or infinite entries give NaNs.",
            example: concat!(
                "expm(tensor([[0.0, 1.0], [0.0, 0.0]]))  # [[1.0, 1.0],\n",
                "                                        #  [0.0, 1.0]]",
            ),
        },
        |_, a| {
            let x = numeric("expm", a.value(0))?;
            crate::prim::expm::expm(&x).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "tridiagonal_solve(dl: tensor, d: tensor, du: tensor, b: tensor) -> tensor",
            summary: "The solution `x` of `a @ x = b` for tridiagonal `a` (`jax.lax.linalg.tridiagonal_solve`).",
            doc: "`dl`, `d`, `du` (each `(..., m)`) are the sub-diagonal, diagonal and super-diagonal; \
                  `dl[0]` and `du[m - 1]` are not read. `b` is `(..., m, n)` with the same leading axes. \
                  Thomas's algorithm (no pivoting: a zero pivot is an error; use `solve` on the dense \
                  matrix for systems that need pivoting). Differentiable in all four arguments.",
            example: concat!(
                "let (dl, d, du) = (tensor([0.0, 1.0]), tensor([2.0, 2.0]), tensor([1.0, 0.0]));\n",
                "tridiagonal_solve(dl, d, du, tensor([[3.0], [3.0]]))  # [[1.0],\n",
                "                                                      #  [1.0]]",
            ),
        },
        |_, a| {
            let v: Vec<Value> = (0..4)
                .map(|i| numeric("tridiagonal_solve", a.value(i)))
                .collect::<Result<_, _>>()?;
            crate::prim::tridiagonal::tridiagonal_solve(&v[0], &v[1], &v[2], &v[3]).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "cholesky(a: tensor) -> tensor",
            summary: "The lower triangular `l` with `l @ l.T == a`, for symmetric positive definite `a`.",
            doc: "Reads the lower triangle of `a`; a matrix that is not positive definite is an error. \
                  Differentiable (the derivative treats `a` as symmetric, as JAX does).",
            example: concat!(
                "cholesky(tensor([[4.0, 2.0], [2.0, 2.0]]))  # [[2.0, 0.0],\n",
                "                                            #  [1.0, 1.0]]",
            ),
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
                summary:
                    "The solution `x` of `op(a) @ x = b` for triangular `a` (`x @ op(a) = b` when `left_side=false`).",
                doc: "`op(a)` is `a.T` when `trans`. Only the triangle named by `lower` is read (SciPy's \
                      default is the upper one), and not the diagonal when `unit_diagonal` (then taken as ones). \
                      `b` follows `solve`'s rules. A zero on the diagonal is an error. Differentiable in `a` and `b`.",
                example:
                    "solve_triangular(tensor([[2.0, 0.0], [1.0, 1.0]]), tensor([2.0, 3.0]), lower=true)  # [1.0, 2.0]",
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
                decomp::triangular_solve(&x, &y, opts).map_err(|d| decomp::renamed(d, name).at(a.span))
            },
        );
    }
}

/// Registers `eigh`, `eigvalsh`, `svd`, `svdvals`, `qr`.
pub(super) fn register_spectral(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "eigh(a: tensor) -> tuple",
            summary: "`(w, v)`: ascending eigenvalues and unit eigenvectors (columns of `v`) of symmetric `a`.",
            doc: "Reads the lower triangle. Each eigenvector's largest entry is positive. Differentiable \
                  where the eigenvalues are distinct (the derivative treats `a` as symmetric, as JAX does).",
            example: "eigh(tensor([[2.0, 0.0], [0.0, 1.0]]))[0]  # [1.0, 2.0]",
        },
        |_, a| {
            let x = numeric("eigh", a.value(0))?;
            let (w, v) = spectral::eigh(&x).map_err(|d| d.at(a.span))?;
            Ok(Value::tuple([w, v]))
        },
    );
    register(
        t,
        Decl {
            sig: "eigvalsh(a: tensor) -> tensor",
            summary: "The ascending eigenvalues of symmetric `a` (lower triangle read).",
            doc: "Differentiable where the eigenvalues are distinct.",
            example: "eigvalsh(tensor([[2.0, 1.0], [1.0, 2.0]]))  # [0.9999999999999998, 2.999999999999999]",
        },
        |_, a| {
            let x = numeric("eigvalsh", a.value(0))?;
            Ok(spectral::eigh(&x).map_err(|d| d.at(a.span))?.0)
        },
    );
    register(
        t,
        Decl {
            sig: "svd(a: tensor, full_matrices: bool = true, compute_uv: bool = true) -> tuple | tensor",
            summary: "`(u, s, vt)` with `a == u @ diag(s) @ vt` (reduced when `full_matrices=false`); `s` descending.",
            doc: "With `compute_uv=false` only `s`. Each column of `u` has its largest entry positive. \
                  Differentiable where the singular values are distinct and non-zero; the vectors of a \
                  non-square matrix only with `full_matrices=false`.",
            example: "svd(tensor([[3.0, 0.0], [0.0, -4.0]]))[1]  # [4.0, 3.0]",
        },
        |_, a| {
            let x = numeric("svd", a.value(0))?;
            let full = bool_arg("svd", "full_matrices", a.value(1)).map_err(at_param(&a, 1))?;
            if !bool_arg("svd", "compute_uv", a.value(2)).map_err(at_param(&a, 2))? {
                return spectral::svdvals(&x).map_err(|d| d.at(a.span));
            }
            let (u, s, vt) = spectral::svd(&x, full).map_err(|d| d.at(a.span))?;
            Ok(Value::tuple([u, s, vt]))
        },
    );
    register(
        t,
        Decl {
            sig: "svdvals(a: tensor) -> tensor",
            summary: "The singular values of `a`, descending.",
            doc: "Differentiable where they are distinct and non-zero.",
            example: "svdvals(tensor([[3.0, 0.0], [0.0, -4.0]]))  # [4.0, 3.0]",
        },
        |_, a| {
            let x = numeric("svdvals", a.value(0))?;
            spectral::svdvals(&x).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "qr(a: tensor, mode: str = \"reduced\", pivoting: bool = false) -> tuple | tensor",
            summary: "`(q, r)` with `a == q @ r`, `q` orthonormal columns, `r` upper triangular.",
            doc: "`mode` is `\"reduced\"` (`q` is `m x min(m, n)`), `\"complete\"` (`q` is `m x m`) or \
                  `\"r\"` (only `r`, `min(m, n) x n`, as NumPy). Signs as LAPACK. With `pivoting=true`, QR \
                  with column pivoting (LAPACK `geqp3`, SciPy `qr(a, pivoting=True)`): `(q, r, p)` (`(r, p)` \
                  for `mode=\"r\"`) with `a[..., :, p] == q @ r` and `abs(diag(r))` non-increasing; `p` \
                  holds column indices (integral floats). Differentiable for `m >= n` in reduced mode and \
                  for square matrices (as JAX); with pivoting `q` and `r` differentiate as \
                  `qr(a[..., :, p])` with `p` held fixed (it is piecewise constant).",
            example: concat!(
                "qr(tensor([[3.0, 0.0], [4.0, 5.0]]))[1]  # [[-5.0, -4.0],\n",
                "                                         #  [ 0.0,  3.0]]",
            ),
        },
        |_, a| {
            let x = numeric("qr", a.value(0))?;
            let mode = str_arg("qr", "mode", a.value(1)).map_err(at_param(&a, 1))?;
            let pivoting = bool_arg("qr", "pivoting", a.value(2)).map_err(at_param(&a, 2))?;
            let (complete, only_r) = match &*mode {
                "reduced" => (false, false),
                "complete" => (true, false),
                "r" => (false, true),
                other => {
                    return Err(at_param(&a, 1)(
                        Diagnostic::new(
                            ErrorKind::Value,
                            format!("`qr`: mode must be \"reduced\", \"complete\" or \"r\", not {other:?}"),
                        )
                        .with_help("SciPy's \"economic\" is \"reduced\" and its \"full\" is \"complete\""),
                    ))
                }
            };
            let (x, p) = if pivoting {
                let (xp, p) = pivoted_columns(&x).map_err(|d| d.at(a.span))?;
                (xp, Some(p))
            } else {
                (x, None)
            };
            let out = if only_r {
                vec![spectral::qr_r(&x).map_err(|d| d.at(a.span))?]
            } else {
                let (q, r) = spectral::qr(&x, complete).map_err(|d| d.at(a.span))?;
                vec![q, r]
            };
            Ok(match p {
                Some(p) => Value::tuple(out.into_iter().chain([p])),
                None if only_r => out.into_iter().next().unwrap_or(Value::None),
                None => Value::tuple(out),
            })
        },
    );
}

/// `(a[..., :, p], p)` for the column pivots `p` of QR with column pivoting
/// of `a` (the kernel runs on the concrete data: `p` is piecewise constant,
/// so it has no derivative and `q`, `r` differentiate as the QR of the
/// permuted columns). Inside `vmap` every example gets its own pivots.
fn pivoted_columns(x: &Value) -> crate::diagnostics::R<(Value, Value)> {
    let shape = ops::shape_of(x);
    let full = as_tensor(x)?;
    let p = ops::from_tensor(te(full.qr_pivots())?);
    let p = crate::autodiff::trace::rewrap_batches(x, p);
    let nd = shape.len();
    // `p[..., None, :]` spread over the rows: the column index of every element.
    let mut ps = ops::shape_of(&p);
    ps.insert(nd - 2, 1);
    let idx = ops::broadcast_to(&ops::reshape(&p, &ps)?, &shape)?;
    Ok((super::sorting::gather_along(x, &idx, nd - 1)?, p))
}

/// `rcond` as an optional cutoff (`none`: the default).
fn rcond_arg(fname: &str, a: &crate::builtins::Call<'_>, i: usize) -> crate::diagnostics::R<Option<f64>> {
    match a.value(i) {
        Value::None => Ok(None),
        v => Ok(Some(float_arg(fname, "rcond", v).map_err(at_param(a, i))?)),
    }
}

/// Registers `pinv`, `lstsq`, `matrix_power`.
pub(super) fn register_least_squares(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "pinv(a: tensor, rcond: float = none) -> tensor",
            summary: "The Moore-Penrose pseudo-inverse of each matrix in the last two axes (via the SVD).",
            doc: "Singular values at most `rcond * s_max` count as zero (`none`: NumPy's `1e-15`). \
                  Differentiable where the rank does not change (JAX's rule).",
            example: concat!(
                "pinv(tensor([[2.0, 0.0], [0.0, 0.0]]))  # [[0.5, 0.0],\n",
                "                                        #  [0.0, 0.0]]",
            ),
        },
        |_, a| {
            let x = numeric("pinv", a.value(0))?;
            let rcond = rcond_arg("pinv", &a, 1)?;
            decomp::pinv(&x, rcond).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "lstsq(a: tensor, b: tensor, rcond: float = none) -> tuple",
            summary: "`(x, residuals, rank, s)`: the minimum-norm least-squares solution of `a @ x = b` (NumPy).",
            doc: "`a` is one `m x n` matrix, `b` `(m,)` or `(m, k)`. `residuals` holds `sum((b - a @ x)^2)` per \
                  column when `a` has full column rank and `m > n`, else it is empty; `s` are the singular \
                  values. `rcond` (`none`: `eps * max(m, n)`) cuts small singular values. `x` is \
                  `pinv(a) @ b`, differentiable in `a` and `b` where the rank does not change.",
            example: "lstsq(tensor([[1.0], [1.0]]), tensor([1.0, 3.0]))[0]  # [1.9999999999999996]",
        },
        |_, a| {
            let x = numeric("lstsq", a.value(0))?;
            let y = numeric("lstsq", a.value(1))?;
            let rcond = rcond_arg("lstsq", &a, 2)?;
            for v in [&x, &y] {
                crate::autodiff::vmap::require_unbatched(v, "`lstsq` (one matrix at a time; use `pinv(a) @ b`)")
                    .map_err(|d| d.at(a.span))?;
            }
            // The rank, and so whether there are residuals: of values a
            // running trace computed, a recorded step read as a guard (a jit
            // plan holds while the rank stays the same); else from the kernel.
            let s = ops::shape_of(&x);
            let rank = if crate::autodiff::trace::is_traced(&x) || crate::autodiff::trace::is_traced(&y) {
                let r = crate::prim::apply(
                    &crate::prim::Prim::Order(crate::prim::Order::LstsqRank { rcond }),
                    &[ops::num(&x), ops::num(&y)],
                )
                .map_err(|d| d.at(a.span))?;
                as_tensor(r.strip())?.item().unwrap_or(0.0) as usize
            } else {
                te(as_tensor(&x)?.lstsq(&*as_tensor(&y)?, rcond))
                    .map_err(|d| d.at(a.span))?
                    .rank
            };
            // The values come from compositions that record, so they are the
            // same whether or not they are being differentiated. Residuals
            // exist for full column rank and more rows than columns (see
            // `Tensor::lstsq`), one per column of `b`.
            let cut = rcond.unwrap_or(f64::EPSILON * s[0].max(s[1]) as f64);
            let sol = ops::arith::matmul(&decomp::pinv(&x, Some(cut))?, &y)?;
            let residuals = if rank == s[1] && s[0] > s[1] {
                let k = ops::shape_of(&y).get(1).copied().unwrap_or(1);
                let d = ops::sub(&y, &ops::arith::matmul(&x, &sol)?)?;
                let sq = ops::sum(&ops::mul(&d, &d)?, Some(Rc::from(vec![0])), false)?;
                ops::reshape(&sq, &[k])?
            } else {
                Value::Tensor(Rc::new(te(dp_tensor::Tensor::from_vec(Vec::new(), &[0]))?))
            };
            let sv = spectral::svdvals(&x)?;
            Ok(Value::tuple([sol, residuals, Value::Int(rank as i64), sv]))
        },
    );
    register(
        t,
        Decl {
            sig: "matrix_power(a: tensor, n: int) -> tensor",
            summary: "Each square matrix in the last two axes to the integer power `n` (by repeated squaring).",
            doc: "`n = 0` gives identities; a negative `n` powers `inv(a)` (a singular `a` is then an error). \
                  Differentiable.",
            example: concat!(
                "matrix_power(tensor([[1.0, 1.0], [0.0, 1.0]]), 3)  # [[1.0, 3.0],\n",
                "                                                   #  [0.0, 1.0]]",
            ),
        },
        |_, a| {
            let x = numeric("matrix_power", a.value(0))?;
            let n = int_arg("matrix_power", "n", a.value(1)).map_err(at_param(&a, 1))?;
            decomp::matrix_power(&x, n).map_err(|d| d.at(a.span))
        },
    );
    for (decl, fun) in [
        (
            Decl {
                sig: "erf(x: tensor) -> tensor",
                summary: "The error function, elementwise.",
                doc: "Differentiable to any order.",
                example: "erf(0.0)  # 0.0",
            },
            SpecialFn::Erf,
        ),
        (
            Decl {
                sig: "erfc(x: tensor) -> tensor",
                summary: "`1 - erf(x)`, elementwise, accurate where it is tiny (large `x`).",
                doc: "Differentiable to any order.",
                example: "erfc(0.0)  # 1.0",
            },
            SpecialFn::Erfc,
        ),
        (
            Decl {
                sig: "lgamma(x: tensor) -> tensor",
                summary: "`log |Γ(x)|`, elementwise (`inf` at the poles 0, -1, -2, ...).",
                doc: "Its derivative is `digamma`.",
                example: "lgamma(3.0)  # 0.6931471805599453",
            },
            SpecialFn::Lgamma,
        ),
        (
            Decl {
                sig: "digamma(x: tensor) -> tensor",
                summary: "The digamma function `Γ'(x) / Γ(x)`, elementwise.",
                doc: "Differentiable to any order (through the polygamma functions).",
                example: "digamma(1.0)  # -0.577215664901533",
            },
            SpecialFn::Polygamma(0),
        ),
        (
            Decl {
                sig: "i0(x: tensor) -> tensor",
                summary:
                    "The modified Bessel function of the first kind of order 0, `I0(x)`, elementwise (NumPy's `i0`).",
                doc: "Even; overflows to `inf` from `|x| ≈ 714` on (`i0e` stays finite). Differentiable to any \
                      order: `i0' = i1` (0 at 0, as JAX).",
                example: "i0(1.0)  # 1.2660658777520082",
            },
            SpecialFn::I0,
        ),
        (
            Decl {
                sig: "i1(x: tensor) -> tensor",
                summary: "The modified Bessel function of the first kind of order 1, `I1(x)`, elementwise.",
                doc: "Odd (as `jax.scipy.special.i1`). Differentiable to any order: `i1' = i0 - i1 / x`, \
                      for `|x| <= 2` by its power series (1/2 at 0; accurate at every order near 0).",
                example: "i1(1.0)  # 0.565159103992485",
            },
            SpecialFn::I1,
        ),
        (
            Decl {
                sig: "i0e(x: tensor) -> tensor",
                summary:
                    "The exponentially scaled Bessel function `exp(-|x|) i0(x)`, elementwise (finite for every `x`).",
                doc: "As `jax.scipy.special.i0e`. Differentiable to any order: `i0e' = i1e - sign(x) i0e` \
                      (0 at 0, as JAX).",
                example: "i0e(1.0)  # 0.4657596075936404",
            },
            SpecialFn::I0e,
        ),
        (
            Decl {
                sig: "i1e(x: tensor) -> tensor",
                summary:
                    "The exponentially scaled Bessel function `exp(-|x|) i1(x)`, elementwise (finite for every `x`).",
                doc: "As `jax.scipy.special.i1e`. Differentiable to any order: \
                      `i1e' = i0e - i1e (sign(x) + 1 / x)`, for `|x| <= 2` by the power series of `i1'` (1/2 at 0).",
                example: "i1e(1.0)  # 0.20791041534970847",
            },
            SpecialFn::I1e,
        ),
    ] {
        let name = decl.sig.split('(').next().unwrap_or("special");
        register(t, decl, move |_, a| {
            let x = numeric(name, a.value(0))?;
            special(fun, &x).map_err(|d| d.at(a.span))
        });
    }
    register(
        t,
        Decl {
            sig: "frexp(x: tensor) -> tuple",
            summary: "`(mantissa, exponent)` with `x == mantissa * 2 ** exponent` and `0.5 <= |mantissa| < 1`, elementwise (NumPy).",
            doc: "Zero, infinities and NaN give `(x, 0)`. The exponent is an int for a number, a tensor of \
                  integral floats for a tensor. The mantissa is differentiable in `x` (derivative \
                  `2 ** -exponent`, 1 where the exponent is 0 by convention, as JAX).",
            example: "frexp(3.0)  # (0.75, 2)",
        },
        |_, a| {
            let x = numeric("frexp", a.value(0))?;
            frexp(&x).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "polygamma(n: int, x: tensor) -> tensor",
            summary: "The polygamma function of order `n`: the `(n + 1)`-th derivative of `lgamma`, elementwise.",
            doc: "`polygamma(0, x)` is `digamma(x)`. `n` is a non-negative int (as `jax.scipy.special.polygamma`). Differentiable to any order in `x`.",
            example: "polygamma(1, 1.0)  # 1.6449340668482264",
        },
        |_, a| {
            let n = a.int(0)?;
            let n = u32::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`polygamma`: the order n = {n} must be a non-negative int"),
                )
                .at(a.span_at(0))
            })?;
            let x = numeric("polygamma", a.value(1))?;
            special(SpecialFn::Polygamma(n), &x).map_err(|d| d.at(a.span))
        },
    );
}

/// `(m, e)` with `v == m * 2^e`, `0.5 <= |m| < 1` (C's `frexp`); `(v, 0)`
/// for zero, infinities and NaN.
fn frexp_f64(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let field = ((v.to_bits() >> 52) & 0x7ff) as i32;
    if field == 0 {
        // Subnormal: scale into the normal range first (exact, a power of two).
        let (m, e) = frexp_f64(v * 2f64.powi(54));
        return (m, e - 54);
    }
    let e = field - 1022;
    let m = f64::from_bits((v.to_bits() & !(0x7ff << 52)) | (1022 << 52));
    (m, e)
}

/// `frexp` on a value: the mantissa is `x` times constant powers of two (two
/// factors, so that `2^-e` of a subnormal, beyond the float range, still
/// scales exactly), which makes it differentiable.
fn frexp(x: &Value) -> crate::diagnostics::R<Value> {
    let t = as_tensor(x)?;
    let parts: Vec<(f64, i32)> = t.to_vec().into_iter().map(frexp_f64).collect();
    let halves = |first: bool| -> Vec<f64> {
        parts
            .iter()
            .map(|&(_, e)| {
                let e1 = e / 2;
                2f64.powi(-if first { e1 } else { e - e1 })
            })
            .collect()
    };
    let (s1, s2) = (halves(true), halves(false));
    if t.ndim() == 0 {
        // A plain number: scalar results (the exponent an int).
        let m = ops::mul(&ops::mul(x, &Value::Float(s1[0]))?, &Value::Float(s2[0]))?;
        return Ok(Value::tuple([m, Value::Int(parts[0].1 as i64)]));
    }
    let shape = t.shape().to_vec();
    // The kernel saw every example (batch axes lead): constants are batched like `x`.
    let constant = |v: Vec<f64>| -> crate::diagnostics::R<Value> {
        let c = crate::prim::from_tensor(te(dp_tensor::Tensor::from_vec(v, &shape))?);
        Ok(crate::autodiff::trace::rewrap_batches(x, c))
    };
    let m = ops::mul(&ops::mul(x, &constant(s1)?)?, &constant(s2)?)?;
    let e = constant(parts.iter().map(|&(_, e)| f64::from(e)).collect())?;
    Ok(Value::tuple([m, e]))
}
