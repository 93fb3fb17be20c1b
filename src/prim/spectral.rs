//! Decompositions with several outputs: `Eigh`, `Svd`, `Qr`.
//!
//! Each output is its own primitive application (`out` names which), so the
//! differentiation machinery, which records one output per node, handles
//! them unchanged; a rule that needs a sibling output applies the primitive
//! for it, which keeps the rule recordable (higher orders work) at the price
//! of recomputing the decomposition. The rules are JAX's: eigh symmetrises
//! and needs distinct eigenvalues; svd needs distinct non-zero singular
//! values; qr needs `m >= n` (reduced).

use super::decomp::{eye, mm, mt, triangular_solve};
use super::rule_util::term;
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::{Tensor, Triangular};
use std::rc::Rc;

/// `eigh(a)` of symmetric matrices (lower triangle read): output 0 the
/// ascending eigenvalues `w`, output 1 the eigenvectors `v` (columns).
#[derive(Clone, Debug, PartialEq)]
pub struct Eigh {
    /// 0: `w`; 1: `v`.
    pub out: usize,
}

/// `svd(a)`: output 0 the singular values `s`, 1 `u`, 2 `vt`.
#[derive(Clone, Debug, PartialEq)]
pub struct Svd {
    /// 0: `s`; 1: `u`; 2: `vt`.
    pub out: usize,
    /// Square `u` and `vt` (no derivative unless the matrix is square).
    pub full_matrices: bool,
}

/// `qr(a)`: output 0 `q`, output 1 `r`.
#[derive(Clone, Debug, PartialEq)]
pub struct Qr {
    /// 0: `q`; 1: `r`.
    pub out: usize,
    /// Square `q` (no derivative unless the matrix is square).
    pub complete: bool,
}

/// `(w, v)` of `eigh(a)`, differentiable.
pub fn eigh(a: &Value) -> R<(Value, Value)> {
    let a = ops::num(a);
    let w = super::apply(&Prim::Eigh(Eigh { out: 0 }), std::slice::from_ref(&a))?;
    let v = super::apply(&Prim::Eigh(Eigh { out: 1 }), &[a])?;
    Ok((w, v))
}

/// `(u, s, vt)` of `svd(a)`, differentiable.
pub fn svd(a: &Value, full_matrices: bool) -> R<(Value, Value, Value)> {
    let a = ops::num(a);
    let p = |out| Prim::Svd(Svd { out, full_matrices });
    let s = super::apply(&p(0), std::slice::from_ref(&a))?;
    let u = super::apply(&p(1), std::slice::from_ref(&a))?;
    let vt = super::apply(&p(2), &[a])?;
    Ok((u, s, vt))
}

/// The singular values of `a`, differentiable.
pub fn svdvals(a: &Value) -> R<Value> {
    super::apply(
        &Prim::Svd(Svd {
            out: 0,
            full_matrices: false,
        }),
        &[ops::num(a)],
    )
}

/// `(q, r)` of `qr(a)`, differentiable.
pub fn qr(a: &Value, complete: bool) -> R<(Value, Value)> {
    let a = ops::num(a);
    let q = super::apply(&Prim::Qr(Qr { out: 0, complete }), std::slice::from_ref(&a))?;
    let r = super::apply(&Prim::Qr(Qr { out: 1, complete }), &[a])?;
    Ok((q, r))
}

/// `r` of the reduced `qr(a)` alone (NumPy's `mode="r"`), differentiable.
pub fn qr_r(a: &Value) -> R<Value> {
    super::apply(
        &Prim::Qr(Qr {
            out: 1,
            complete: false,
        }),
        &[ops::num(a)],
    )
}

/// `v[..., None, :]`: scales the columns of a matrix it multiplies.
fn as_row(v: &Value) -> R<Value> {
    let mut s = shape_of(v);
    s.insert(s.len() - 1, 1);
    ops::reshape(v, &s)
}

/// `v[..., :, None]`: scales the rows of a matrix it multiplies.
fn as_col(v: &Value) -> R<Value> {
    let mut s = shape_of(v);
    s.push(1);
    ops::reshape(v, &s)
}

/// The diagonal of each matrix, `(..., n)`.
fn diagonal(m: &Value) -> R<Value> {
    let n = shape_of(m).last().copied().unwrap_or(0);
    let nd = shape_of(m).len();
    ops::sum(&ops::mul(m, &eye(n)?)?, Some(Rc::from(vec![nd - 1])), false)
}

/// The diagonal matrices with `v` on the diagonal.
fn diag_matrix(v: &Value) -> R<Value> {
    let n = shape_of(v).last().copied().unwrap_or(0);
    ops::mul(&as_row(v)?, &eye(n)?)
}

/// `1 / (d[j] - d[i])` off the diagonal, 0 on it, for `d` of shape `(..., n)`.
fn gap_inverse(d: &Value) -> R<Value> {
    let n = shape_of(d).last().copied().unwrap_or(0);
    let i = eye(n)?;
    let diff = ops::sub(&as_row(d)?, &as_col(d)?)?;
    // Adding the identity keeps the diagonal away from 0/0; the mask then zeroes it.
    let off = ops::sub(&Value::Float(1.0), &i)?;
    ops::div(&off, &ops::add(&diff, &i)?)
}

/// `(x + xᵀ) / 2`.
fn sym(x: &Value) -> R<Value> {
    ops::scale(&ops::add(x, &mt(x)?)?, 0.5)
}

/// `x` with the entries on and above the diagonal zeroed (`tril(x, -1)`).
fn strictly_lower(x: &Value) -> R<Value> {
    let n = shape_of(x).last().copied().unwrap_or(0);
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..i {
            m[i * n + j] = 1.0;
        }
    }
    ops::mul(x, &Value::Tensor(Rc::new(te(Tensor::from_vec(m, &[n, n]))?)))
}

fn no_rule(what: &str) -> Diagnostic {
    Diagnostic::new(ErrorKind::Differentiation, what.to_string())
}

impl Primitive for Eigh {
    fn name(&self) -> String {
        "eigh".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (w, v) = te(as_tensor(&x[0])?.eigh())?;
        Ok(from_tensor(if self.out == 0 { w } else { v }))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (w, v) = if self.out == 0 {
            (y.clone(), eigh(&x[0])?.1)
        } else {
            (eigh(&x[0])?.0, y.clone())
        };
        // w̄ gives v diag(w̄) vᵀ; v̄ gives v (F ∘ vᵀ v̄) vᵀ; both symmetrised.
        let inner = if self.out == 0 {
            diag_matrix(g)?
        } else {
            ops::mul(&gap_inverse(&w)?, &mm(&mt(&v)?, g)?)?
        };
        Ok(vec![Some(sym(&mm(&mm(&v, &inner)?, &mt(&v)?)?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |ta| {
            let (w, v) = eigh(&x[0])?;
            let ta = sym(&ops::broadcast_to(ta, &shape_of(&x[0]))?)?;
            let m = mm(&mm(&mt(&v)?, &ta)?, &v)?;
            if self.out == 0 {
                diagonal(&m)
            } else {
                mm(&v, &ops::mul(&gap_inverse(&w)?, &m)?)
            }
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Eigh(self.clone()), x)
    }
}

impl Svd {
    /// `(u, s, v)` (note: `v`, not `vt`) of the reduced decomposition, recorded.
    fn parts(&self, a: &Value) -> R<(Value, Value, Value)> {
        if self.full_matrices {
            let s = shape_of(a);
            if s[s.len() - 1] != s[s.len() - 2] {
                return Err(no_rule(
                    "`svd` with full_matrices=true has no derivative for a non-square matrix; use full_matrices=false",
                ));
            }
        }
        let (u, s, vt) = svd(a, false)?;
        Ok((u, s, mt(&vt)?))
    }
}

impl Primitive for Svd {
    fn name(&self) -> String {
        "svd".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let a = as_tensor(&x[0])?;
        if self.out == 0 {
            return Ok(from_tensor(te(a.svdvals())?));
        }
        let (u, _, vt) = te(a.svd(self.full_matrices))?;
        Ok(from_tensor(if self.out == 1 { u } else { vt }))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (u, s, v) = self.parts(&x[0])?;
        let sa = shape_of(&x[0]);
        let (m, n) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let f = gap_inverse(&ops::mul(&s, &s)?)?;
        // The cotangent of dS = uᵀ da v, then da = u D vᵀ (+ the parts
        // outside the spans of u and v for non-square matrices).
        let (d, extra) = match self.out {
            0 => (diag_matrix(g)?, None),
            1 => {
                let pu = ops::mul(&f, &mm(&mt(&u)?, g)?)?;
                let d = ops::mul(&ops::add(&pu, &mt(&pu)?)?, &as_row(&s)?)?;
                let extra = if m > n {
                    // (I - u uᵀ) ū s⁻¹ vᵀ
                    let gs = ops::div(g, &as_row(&s)?)?;
                    let proj = ops::sub(&gs, &mm(&u, &mm(&mt(&u)?, &gs)?)?)?;
                    Some(mm(&proj, &mt(&v)?)?)
                } else {
                    None
                };
                (d, extra)
            }
            _ => {
                let gv = mt(g)?;
                let pv = ops::mul(&f, &mm(&mt(&v)?, &gv)?)?;
                let d = ops::mul(&as_col(&s)?, &ops::add(&pv, &mt(&pv)?)?)?;
                let extra = if n > m {
                    // u s⁻¹ v̄ᵀ (I - v vᵀ)
                    let gs = ops::div(&gv, &as_row(&s)?)?;
                    let proj = ops::sub(&gs, &mm(&v, &mm(&mt(&v)?, &gs)?)?)?;
                    Some(mm(&u, &mt(&proj)?)?)
                } else {
                    None
                };
                (d, extra)
            }
        };
        let mut ga = mm(&mm(&u, &d)?, &mt(&v)?)?;
        if let Some(e) = extra {
            ga = ops::add(&ga, &e)?;
        }
        Ok(vec![Some(ga)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |ta| {
            let (u, s, v) = self.parts(&x[0])?;
            let sa = shape_of(&x[0]);
            let (m, n) = (sa[sa.len() - 2], sa[sa.len() - 1]);
            let ta = ops::broadcast_to(ta, &sa)?;
            let ds = mm(&mm(&mt(&u)?, &ta)?, &v)?;
            if self.out == 0 {
                return diagonal(&ds);
            }
            let f = gap_inverse(&ops::mul(&s, &s)?)?;
            let (srow, scol) = (as_row(&s)?, as_col(&s)?);
            if self.out == 1 {
                let dss = ops::mul(&ds, &srow)?;
                let mut du = mm(&u, &ops::mul(&f, &ops::add(&dss, &mt(&dss)?)?)?)?;
                if m > n {
                    let dav = mm(&ta, &v)?;
                    let proj = ops::sub(&dav, &mm(&u, &mm(&mt(&u)?, &dav)?)?)?;
                    du = ops::add(&du, &ops::div(&proj, &srow)?)?;
                }
                Ok(du)
            } else {
                let sds = ops::mul(&scol, &ds)?;
                let mut dv = mm(&v, &ops::mul(&f, &ops::add(&sds, &mt(&sds)?)?)?)?;
                if n > m {
                    let dau = mm(&mt(&ta)?, &u)?;
                    let proj = ops::sub(&dau, &mm(&v, &mm(&mt(&v)?, &dau)?)?)?;
                    dv = ops::add(&dv, &ops::div(&proj, &srow)?)?;
                }
                mt(&dv)
            }
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Svd(self.clone()), x)
    }
}

impl Qr {
    /// `(q, r)` of the reduced factorisation, recorded; an error where JAX has no rule either.
    fn parts(&self, a: &Value) -> R<(Value, Value)> {
        let s = shape_of(a);
        let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
        if m < n || (self.complete && m != n) {
            return Err(no_rule(&format!(
                "`qr` has a derivative only for matrices with at least as many rows as columns \
                 (reduced mode), not for {m} x {n}{}",
                if self.complete { " with complete=true" } else { "" }
            )));
        }
        qr(a, false)
    }
}

/// `x r⁻¹` for upper triangular `r` (`rᵀ` when `trans`).
fn right_solve_upper(x: &Value, r: &Value, trans: bool) -> R<Value> {
    let opts = Triangular {
        lower: false,
        trans,
        unit_diagonal: false,
        right_side: true,
    };
    triangular_solve(r, x, opts)
}

impl Primitive for Qr {
    fn name(&self) -> String {
        "qr".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (q, r) = te(as_tensor(&x[0])?.qr(self.complete))?;
        Ok(from_tensor(if self.out == 0 { q } else { r }))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // The adjoint of the JVP below: with M = qᵀ q̄ - r̄ rᵀ,
        // ā = (q̄ + q (tril(M - Mᵀ, -1) - M)) r⁻ᵀ.
        let (q, r) = self.parts(&x[0])?;
        let (mq, qbar) = if self.out == 0 {
            (mm(&mt(&q)?, g)?, Some(g.clone()))
        } else {
            (ops::neg(&mm(g, &mt(&r)?)?)?, None)
        };
        let inner = ops::sub(&strictly_lower(&ops::sub(&mq, &mt(&mq)?)?)?, &mq)?;
        let mut z = mm(&q, &inner)?;
        if let Some(qb) = qbar {
            z = ops::add(&z, &qb)?;
        }
        Ok(vec![Some(right_solve_upper(&z, &r, true)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        // JAX's rule: X = ȧ r⁻¹, K = qᵀ X, Ω = tril(K, -1) - tril(K, -1)ᵀ;
        // q̇ = q (Ω - K) + X, ṙ = (K - Ω) r.
        term(&t[0], |ta| {
            let (q, r) = self.parts(&x[0])?;
            let ta = ops::broadcast_to(ta, &shape_of(&x[0]))?;
            let xr = right_solve_upper(&ta, &r, false)?;
            let k = mm(&mt(&q)?, &xr)?;
            let lo = strictly_lower(&k)?;
            let omega = ops::sub(&lo, &mt(&lo)?)?;
            if self.out == 0 {
                ops::add(&mm(&q, &ops::sub(&omega, &k)?)?, &xr)
            } else {
                mm(&ops::sub(&k, &omega)?, &r)
            }
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Qr(self.clone()), x)
    }
}
