//! `lu(a) -> (p, l, u)`: the LU factorisation with partial pivoting
//! (`jax.scipy.linalg.lu`), differentiable in `l` and `u` by JAX's rule.
//!
//! As in `spectral`, each differentiable output is its own primitive
//! application (`Lu { out }`); `p` is piecewise constant and carries no
//! derivative. Non-square `m x n` matrices (`k = min(m, n)`) are handled as
//! JAX does, by padding `l` to a unit lower `m x m` matrix and `u` to an
//! upper `n x n` one with identity blocks.

use super::decomp::{mm, mt, triangular_solve};
use super::rule_util::term;
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::{Tensor, Triangular};
use std::rc::Rc;

/// One differentiable output of `lu(a)`: 1 the unit lower `l` `(..., m, k)`,
/// 2 the upper `u` `(..., k, n)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lu {
    /// 1: `l`; 2: `u`.
    pub out: usize,
}

/// `(p, l, u)` with `a = p @ l @ u`; `l` and `u` differentiable.
pub fn lu(a: &Value) -> R<(Value, Value, Value)> {
    let a = ops::num(a);
    let s = shape_of(&a);
    if s.len() < 2 {
        // Reported under this name (the kernel's is `lu_factor`).
        return te(Err(dp_tensor::TensorError::NotMatrix {
            op: "lu",
            shape: s,
            square: false,
        }));
    }
    let p = if crate::autodiff::trace::is_traced(&a) {
        // A value a running trace computed: a recorded step (a jit plan
        // pivots its new inputs), batched by its rule inside `vmap`.
        super::apply(&Prim::Order(super::Order::LuPermutation), std::slice::from_ref(&a))?
    } else {
        let (p, _, _) = te(as_tensor(&a)?.lu())?;
        // The kernel saw every example's matrices (batch axes lead): `p` is batched like `a`.
        crate::autodiff::trace::rewrap_batches(&a, from_tensor(p))
    };
    let l = super::apply(&Prim::Lu(Lu { out: 1 }), std::slice::from_ref(&a))?;
    let u = super::apply(&Prim::Lu(Lu { out: 2 }), &[a])?;
    Ok((p, l, u))
}

/// A constant `r x c` matrix (never differentiated) with entries `f(i, j)`.
fn constant(r: usize, c: usize, f: impl Fn(usize, usize) -> bool) -> R<Value> {
    let mut m = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            if f(i, j) {
                m[i * c + j] = 1.0;
            }
        }
    }
    Ok(Value::Tensor(Rc::new(te(Tensor::from_vec(m, &[r, c]))?)))
}

/// The `r x c` matrix with ones at `(i, i)`: multiplying by it pads or cuts
/// rows/columns (a product, so derivatives pass through).
fn sel(r: usize, c: usize) -> R<Value> {
    constant(r, c, |i, j| i == j)
}

/// The rows and columns of the matrices of `x`.
fn dims(x: &Value) -> (usize, usize) {
    let s = shape_of(x);
    (s[s.len() - 2], s[s.len() - 1])
}

/// `x` with entries outside `keep(i, j)` zeroed.
fn masked(x: &Value, keep: impl Fn(usize, usize) -> bool) -> R<Value> {
    let (r, c) = dims(x);
    ops::mul(x, &constant(r, c, keep)?)
}

/// The pieces the rules share: the permutation `p` (constant), `l` padded to
/// unit lower `m x m` and `u` to upper `n x n` (both recorded).
struct Parts {
    p: Value,
    lf: Value,
    uf: Value,
    m: usize,
    n: usize,
    k: usize,
}

impl Parts {
    fn of(a: &Value) -> R<Parts> {
        let (p, l, u) = lu(a)?;
        let (m, n) = dims(a);
        let k = m.min(n);
        let lf = ops::add(&mm(&l, &sel(k, m)?)?, &constant(m, m, |i, j| i == j && i >= k)?)?;
        let uf = ops::add(&mm(&sel(n, k)?, &u)?, &constant(n, n, |i, j| i == j && i >= k)?)?;
        Ok(Parts { p, lf, uf, m, n, k })
    }

    /// `lf⁻¹ x` (`lf⁻ᵀ x` when `trans`).
    fn l_solve(&self, x: &Value, trans: bool) -> R<Value> {
        let opts = Triangular {
            lower: true,
            trans,
            unit_diagonal: true,
            right_side: false,
        };
        triangular_solve(&self.lf, x, opts)
    }

    /// `x uf⁻¹` (`x uf⁻ᵀ` when `trans`).
    fn u_solve_right(&self, x: &Value, trans: bool) -> R<Value> {
        let opts = Triangular {
            lower: false,
            trans,
            unit_diagonal: false,
            right_side: true,
        };
        triangular_solve(&self.uf, x, opts)
    }
}

impl Primitive for Lu {
    fn name(&self) -> String {
        "lu".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (_, l, u) = te(as_tensor(&x[0])?.lu())?;
        Ok(from_tensor(if self.out == 1 { l } else { u }))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // The adjoint of the JVP below, step by step backwards.
        let s = Parts::of(&x[0])?;
        let (m, n, k) = (s.m, s.n, s.k);
        let lau_bar = if self.out == 1 {
            // l̇ = lf tril(lau, -1) sel(n, k).
            masked(&mm(&mm(&mt(&s.lf)?, g)?, &sel(k, n)?)?, |i, j| i > j)?
        } else {
            // u̇ = sel(k, m) triu(lau) uf.
            masked(&mm(&mm(&sel(m, k)?, g)?, &mt(&s.uf)?)?, |i, j| i <= j)?
        };
        let la_bar = s.u_solve_right(&lau_bar, true)?;
        let x_bar = s.l_solve(&la_bar, true)?;
        Ok(vec![Some(mm(&s.p, &x_bar)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        // JAX's rule: with x = pᵀ ȧ and lau = lf⁻¹ x uf⁻¹,
        // l̇ = (lf tril(lau, -1))[:, :k], u̇ = (triu(lau) uf)[:k, :].
        term(&t[0], |ta| {
            let s = Parts::of(&x[0])?;
            let ta = ops::broadcast_to(ta, &shape_of(&x[0]))?;
            let lau = s.u_solve_right(&s.l_solve(&mm(&mt(&s.p)?, &ta)?, false)?, false)?;
            if self.out == 1 {
                mm(&mm(&s.lf, &masked(&lau, |i, j| i > j)?)?, &sel(s.n, s.k)?)
            } else {
                mm(&sel(s.k, s.m)?, &mm(&masked(&lau, |i, j| i <= j)?, &s.uf)?)
            }
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Lu(self.clone()), x)
    }
}
