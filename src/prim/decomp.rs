//! Matrix decomposition primitives: `Solve`, `TriSolve`, `Cholesky`,
//! `LogAbsDet`, and the helpers that compose the rest of linear algebra
//! (`inv`, `det`, `slogdet`) from them.
//!
//! Every primitive works on stacks of matrices in the last two axes, and its
//! rules are written with `crate::ops` helpers and the public helpers below,
//! which apply these same primitives: a rule's own computation is recorded
//! under an outer differentiation, so every order works.

use super::rule_util::{sum_terms, term};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, shape_of, unbroadcast};
use crate::value::Value;
use dp_tensor::{Tensor, Triangular};
use std::rc::Rc;

/// `a x = b` for square `a` of shape `(..., n, n)` and `b` of shape
/// `(..., n, k)` (batch axes broadcast). Vectors go through [`solve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Solve;

/// `op(a) x = b` for triangular `a` (`(..., n, n)`) and `b` of shape
/// `(..., n, k)`; `op` is the transpose when `trans`. Only the triangle named
/// by `lower` is read, and not its diagonal when `unit_diagonal`.
#[derive(Clone, Debug, PartialEq)]
pub struct TriSolve {
    /// Read the lower triangle (else the upper one).
    pub lower: bool,
    /// Solve with the transpose of the triangle.
    pub trans: bool,
    /// Take the diagonal to be ones.
    pub unit_diagonal: bool,
}

/// The lower Cholesky factor `l` of each symmetric positive definite matrix
/// (`a = l lᵀ`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cholesky;

/// `log |det a|` of each square matrix, shape `(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogAbsDet;

/// `x` with its last two axes swapped.
pub fn mt(x: &Value) -> R<Value> {
    let n = shape_of(x).len();
    let mut perm: Vec<usize> = (0..n).collect();
    perm.swap(n - 2, n - 1);
    ops::transpose(x, &perm)
}

/// The matrix product (batched).
pub fn mm(a: &Value, b: &Value) -> R<Value> {
    super::apply(&Prim::MatMul(super::MatMul), &[a.clone(), b.clone()])
}

/// A constant tensor (never differentiated).
fn constant(t: Tensor) -> Value {
    Value::Tensor(Rc::new(t))
}

/// The `n x n` identity as a constant.
pub fn eye(n: usize) -> R<Value> {
    Ok(constant(te(Tensor::eye(n))?))
}

/// The 0/1 mask of a triangle of an `n x n` matrix: lower (else upper),
/// including the diagonal or not.
fn triangle_mask(n: usize, lower: bool, with_diagonal: bool) -> R<Value> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let inside = if lower { j < i } else { j > i };
            if inside || (with_diagonal && i == j) {
                m[i * n + j] = 1.0;
            }
        }
    }
    Ok(constant(te(Tensor::from_vec(m, &[n, n]))?))
}

/// The size of the last axis.
fn last(x: &Value) -> usize {
    shape_of(x).last().copied().unwrap_or(0)
}

/// Sum over the last two axes (the trace of `m * eye` etc.).
fn sum_last_two(x: &Value) -> R<Value> {
    let nd = shape_of(x).len();
    ops::sum(x, Some(Rc::from(vec![nd - 2, nd - 1])), false)
}

/// `x[..., None, None]`: a stack of scalars that broadcasts against matrices.
fn expand_two(x: &Value) -> R<Value> {
    let mut s = shape_of(x);
    s.extend([1, 1]);
    ops::reshape(x, &s)
}

/// `(x + xᵀ) / 2`.
fn sym(x: &Value) -> R<Value> {
    ops::scale(&ops::add(x, &mt(x)?)?, 0.5)
}

/// NumPy 2 `solve(a, b)`: a 1-d `b` is one vector, otherwise `b` is a
/// stack of `(n, k)` matrices broadcasting against `a`.
pub fn solve(a: &Value, b: &Value) -> R<Value> {
    vector_as_column(b, |b2| super::apply(&Prim::Solve(Solve), &[ops::num(a), b2]))
}

/// `op(a) x = b` (or `x op(a) = b` when `right_side`) for triangular `a`,
/// with NumPy 2 `solve`'s rules for `b`.
pub fn triangular_solve(a: &Value, b: &Value, opts: Triangular) -> R<Value> {
    let prim = |trans| {
        Prim::TriSolve(TriSolve {
            lower: opts.lower,
            trans,
            unit_diagonal: opts.unit_diagonal,
        })
    };
    if !opts.right_side {
        return vector_as_column(b, |b2| super::apply(&prim(opts.trans), &[ops::num(a), b2]));
    }
    // x op(a) = b  <=>  op(a)ᵀ xᵀ = bᵀ: a left solve with the other transpose.
    if shape_of(b).len() == 1 {
        return vector_as_column(b, |b2| super::apply(&prim(!opts.trans), &[ops::num(a), b2]));
    }
    mt(&super::apply(&prim(!opts.trans), &[ops::num(a), mt(b)?])?)
}

/// Runs `k` on `b` as a matrix: a 1-d `b` becomes an `(n, 1)` column and the
/// result is flattened back to `(..., n)`.
fn vector_as_column(b: &Value, k: impl FnOnce(Value) -> R<Value>) -> R<Value> {
    let sb = shape_of(b);
    if sb.len() != 1 {
        return k(ops::num(b));
    }
    let x = k(ops::reshape(b, &[sb[0], 1])?)?;
    let sx = shape_of(&x);
    ops::reshape(&x, &sx[..sx.len() - 1])
}

/// The inverse of each square matrix: `solve(a, I)`.
pub fn inv(a: &Value) -> R<Value> {
    let s = shape_of(a);
    if s.len() < 2 || s[s.len() - 1] != s[s.len() - 2] {
        // Let the kernel describe the bad shape.
        te(as_tensor(a)?.inv())?;
    }
    solve(a, &ops::broadcast_to(&eye(last(a))?, &s)?).map_err(|d| renamed(d, "inv"))
}

/// A failure of the kernel behind a builtin (`solve` behind `inv`,
/// `triangular_solve` behind its alias `solve_triangular`), reported under
/// the name the user called.
pub fn renamed(mut d: crate::diagnostics::Diagnostic, name: &str) -> crate::diagnostics::Diagnostic {
    let kernels = ["`solve` failed", "`inv` failed", "`triangular_solve` failed"];
    if let Some(rest) = kernels.iter().find_map(|k| d.message.strip_prefix(k)) {
        d.message = format!("`{name}` failed{rest}");
    }
    d
}

/// `(sign, log |det a|)` of each square matrix; the sign is piecewise
/// constant, so only the log carries a derivative.
pub fn slogdet(a: &Value) -> R<(Value, Value)> {
    let sign = if crate::autodiff::trace::is_traced(a) {
        // A value a running trace computed: a recorded step (a jit plan
        // finds the signs of its new inputs), batched by its rule inside `vmap`.
        super::apply(&Prim::Order(super::Order::DetSign), &[ops::num(a)])?
    } else {
        let (sign, _) = te(as_tensor(a)?.slogdet())?;
        // The kernel saw every example's matrices (batch axes lead): the sign is batched like `a`.
        crate::autodiff::trace::rewrap_batches(a, from_tensor(sign))
    };
    let logabs = super::apply(&Prim::LogAbsDet(LogAbsDet), &[ops::num(a)])?;
    Ok((sign, logabs))
}

/// The determinant of each square matrix (the product of the LU pivots),
/// differentiable at singular matrices too: its derivative is the adjugate.
pub fn det(a: &Value) -> R<Value> {
    super::apply(&Prim::Det(Det), &[ops::num(a)])
}

/// The adjugate of each square matrix (`det(a) inv(a)` where invertible).
pub fn adjugate(a: &Value) -> R<Value> {
    super::apply(&Prim::Adjugate(Adjugate), &[ops::num(a)])
}

/// The lower Cholesky factor of each symmetric positive definite matrix.
pub fn cholesky(a: &Value) -> R<Value> {
    super::apply(&Prim::Cholesky(Cholesky), &[ops::num(a)])
}

/// `l⁻¹ x` (or `l⁻ᵀ x` when `trans`) for lower triangular `l`, `x` a matrix stack.
fn lower_solve(l: &Value, x: &Value, trans: bool) -> R<Value> {
    let p = Prim::TriSolve(TriSolve {
        lower: true,
        trans,
        unit_diagonal: false,
    });
    super::apply(&p, &[l.clone(), x.clone()])
}

/// `tril(x)` with the diagonal halved: the map Φ of the Cholesky derivative.
fn phi(x: &Value) -> R<Value> {
    let n = last(x);
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            m[i * n + j] = if i == j { 0.5 } else { 1.0 };
        }
    }
    ops::mul(x, &constant(te(Tensor::from_vec(m, &[n, n]))?))
}

/// The batching rule of `Solve` and `TriSolve` (`solve_prim(a, b)`): a 1-d
/// right-hand side becomes a column, batched operands get the rank of the
/// wider example so the batch axis stays in front of the broadcast stack
/// axes, and the column is dropped again at the end.
fn batch_solve(prim: &Prim, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
    use super::batching::{example_shape, reshape_examples, with_rank};
    let (ea, eb) = (example_shape(&x[0], batched[0]), example_shape(&x[1], batched[1]));
    let vector = eb.len() == 1;
    let b = if !vector {
        x[1].clone()
    } else if batched[1] {
        reshape_examples(&x[1], n, &[eb[0], 1])?
    } else {
        ops::reshape(&x[1], &[eb[0], 1])?
    };
    let rank = ea.len().max(eb.len()).max(2);
    let a = if batched[0] {
        with_rank(&x[0], rank)?
    } else {
        x[0].clone()
    };
    let b = if batched[1] { with_rank(&b, rank)? } else { b };
    let r = super::apply(prim, &[a, b])?;
    let mut s = shape_of(&r);
    if vector {
        s.pop();
    }
    ops::reshape(&r, &s)
}

impl Primitive for Solve {
    fn name(&self) -> String {
        "solve".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.solve(&*as_tensor(&x[1])?))?))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        // x = a⁻¹ b: b̄ = a⁻ᵀ ḡ, ā = -b̄ xᵀ (both at the broadcast batch shape).
        let gb = solve(&mt(&x[0])?, g)?;
        let ga = if needs[0] {
            Some(unbroadcast(&ops::neg(&mm(&gb, &mt(y)?)?)?, &x[0])?)
        } else {
            None
        };
        let gb = if needs[1] { Some(unbroadcast(&gb, &x[1])?) } else { None };
        Ok(vec![ga, gb])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        // ẋ = a⁻¹ (ḃ - ȧ x).
        let rhs = sum_terms(vec![t[1].clone(), term(&t[0], |ta| ops::neg(&mm(ta, y)?))?])?;
        term(&rhs, |r| solve(&x[0], &ops::broadcast_to(r, &shape_of(y))?))
    }
    // The kernel takes stacks of matrices: one call for the whole batch.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        batch_solve(&Prim::Solve(Solve), x, batched, n)
    }
}

impl TriSolve {
    /// `t` restricted to the triangle this solve reads.
    fn masked(&self, t: &Value) -> R<Value> {
        ops::mul(t, &triangle_mask(last(t), self.lower, !self.unit_diagonal)?)
    }

    /// `op(m)`: `m` or its transpose.
    fn op(&self, m: Value) -> R<Value> {
        if self.trans {
            mt(&m)
        } else {
            Ok(m)
        }
    }
}

impl Primitive for TriSolve {
    fn name(&self) -> String {
        "triangular_solve".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let opts = Triangular {
            lower: self.lower,
            trans: self.trans,
            unit_diagonal: self.unit_diagonal,
            right_side: false,
        };
        Ok(from_tensor(te(
            as_tensor(&x[0])?.triangular_solve(&*as_tensor(&x[1])?, opts)
        )?))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        // x = op(a)⁻¹ b: b̄ = op(a)⁻ᵀ ḡ, op(a)‾ = -b̄ xᵀ, restricted to the triangle read.
        let other = TriSolve {
            trans: !self.trans,
            ..self.clone()
        };
        let gb = super::apply(&Prim::TriSolve(other), &[x[0].clone(), g.clone()])?;
        let ga = if needs[0] {
            let g_op = ops::neg(&mm(&gb, &mt(y)?)?)?;
            Some(unbroadcast(&self.masked(&self.op(g_op)?)?, &x[0])?)
        } else {
            None
        };
        let gb = if needs[1] { Some(unbroadcast(&gb, &x[1])?) } else { None };
        Ok(vec![ga, gb])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        // ẋ = op(a)⁻¹ (ḃ - op(ȧ) x), with ȧ restricted to the triangle read.
        let da = term(&t[0], |ta| ops::neg(&mm(&self.op(self.masked(ta)?)?, y)?))?;
        let rhs = sum_terms(vec![t[1].clone(), da])?;
        term(&rhs, |r| {
            super::apply(
                &Prim::TriSolve(self.clone()),
                &[x[0].clone(), ops::broadcast_to(r, &shape_of(y))?],
            )
        })
    }
    // The kernel takes stacks of matrices: one call for the whole batch.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        batch_solve(&Prim::TriSolve(self.clone()), x, batched, n)
    }
}

impl Primitive for Cholesky {
    fn name(&self) -> String {
        "cholesky".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.cholesky())?))
    }
    fn vjp(&self, _x: &[Value], l: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // The adjoint of the JVP below (Murray 2016; JAX):
        // ā = sym(l⁻ᵀ Φ(lᵀ ḡ) l⁻¹).
        let p = phi(&mm(&mt(l)?, g)?)?;
        let y = lower_solve(l, &p, true)?;
        let z = mt(&lower_solve(l, &mt(&y)?, true)?)?;
        Ok(vec![Some(sym(&z)?)])
    }
    fn jvp(&self, _x: &[Value], t: &[Option<Value>], l: &Value) -> R<Option<Value>> {
        // l̇ = l Φ(l⁻¹ sym(ȧ) l⁻ᵀ) (JAX symmetrises the tangent).
        term(&t[0], |ta| {
            let s = sym(&ops::broadcast_to(ta, &shape_of(l))?)?;
            let y = lower_solve(l, &s, false)?;
            let m = mt(&lower_solve(l, &mt(&y)?, false)?)?;
            mm(l, &phi(&m)?)
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Cholesky(self.clone()), x)
    }
}

impl Primitive for LogAbsDet {
    fn name(&self) -> String {
        "slogdet".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.slogdet())?.1))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // d log|det a| = tr(a⁻¹ da): ā = ḡ a⁻ᵀ.
        Ok(vec![Some(ops::mul(&expand_two(g)?, &mt(&inv(&x[0])?)?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |ta| {
            let s = solve(&x[0], &ops::broadcast_to(ta, &shape_of(&x[0]))?)?;
            sum_last_two(&ops::mul(&s, &eye(last(&x[0]))?)?)
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::LogAbsDet(self.clone()), x)
    }
}

/// The determinant of each square matrix, shape `(...)`. Unlike
/// `sign * exp(log |det a|)` its rule needs no inverse: `d det = tr(adj(a) da)`
/// (JAX's cofactor rule), so the gradient at a singular matrix is the
/// adjugate (nonzero at corank 1, zero at corank 2 or more).
#[derive(Clone, Debug, PartialEq)]
pub struct Det;

/// The adjugate `adj(a)` of each square matrix (`adj(a) a = det(a) I`).
#[derive(Clone, Debug, PartialEq)]
pub struct Adjugate;

impl Primitive for Det {
    fn name(&self) -> String {
        "det".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.det())?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // d det = tr(adj(a) da): ā = ḡ adj(a)ᵀ.
        Ok(vec![Some(ops::mul(&expand_two(g)?, &mt(&adjugate(&x[0])?)?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |ta| {
            let ta = ops::broadcast_to(ta, &shape_of(&x[0]))?;
            sum_last_two(&ops::mul(&mt(&adjugate(&x[0])?)?, &ta)?)
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Det(self.clone()), x)
    }
}

impl Primitive for Adjugate {
    fn name(&self) -> String {
        "adjugate".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.adjugate())?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // `t ↦ d adj(a)[t]` has the adjoint `ḡ ↦ d adj(a)[ḡᵀ]ᵀ` (see `AdjugateJvp`).
        let gt = ops::broadcast_to(&mt(g)?, &shape_of(&x[0]))?;
        Ok(vec![Some(mt(&adjugate_jvp(&x[0], &gt)?)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        term(&t[0], |ta| {
            adjugate_jvp(&x[0], &ops::broadcast_to(ta, &shape_of(&x[0]))?)
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Adjugate(self.clone()), x)
    }
}

/// `d adj(a)[t]`: the derivative of the adjugate of each square matrix of
/// `a` in the direction of the matching matrix of `t` (same shape), exact at
/// singular matrices too (so the Hessian of `det` is defined everywhere, as
/// in JAX). Linear in `t`; its derivative in `a` (third derivatives of
/// `det`) is written with `inv(a)`, so it holds where `a` is invertible.
#[derive(Clone, Debug, PartialEq)]
pub struct AdjugateJvp;

/// `d adj(a)[t]` for `a`, `t` of one shape.
fn adjugate_jvp(a: &Value, t: &Value) -> R<Value> {
    super::apply(&Prim::AdjugateJvp(AdjugateJvp), &[a.clone(), t.clone()])
}

/// `tr(x)` of each matrix, kept as `(..., 1, 1)` to broadcast against matrices.
fn trace_two(x: &Value) -> R<Value> {
    expand_two(&sum_last_two(&ops::mul(x, &eye(last(x))?)?)?)
}

impl Primitive for AdjugateJvp {
    fn name(&self) -> String {
        "adjugate".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.adjugate_jvp(&*as_tensor(&x[1])?))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (a, t) = (&x[0], &x[1]);
        // In t the map is linear with adjoint ḡ ↦ d adj(a)[ḡᵀ]ᵀ.
        let gt = if needs[1] {
            Some(mt(&adjugate_jvp(a, &mt(g)?)?)?)
        } else {
            None
        };
        let ga = if needs[0] {
            // y = tr(a⁻¹ t) adj - adj t a⁻¹ (invertible a), so for a direction b
            // ẏ = -tr(a⁻¹ b a⁻¹ t) adj + tr(a⁻¹ t) D[b] - D[b] t a⁻¹ + adj t a⁻¹ b a⁻¹
            // with D[b] = d adj(a)[b]; ā is the adjoint of b ↦ ẏ at ḡ.
            let (ai, adj) = (inv(a)?, adjugate(a)?);
            let (ait, tai) = (mm(&ai, t)?, mm(t, &ai)?);
            let ga_adj = expand_two(&sum_last_two(&ops::mul(g, &adj)?)?)?;
            let a1 = ops::neg(&ops::mul(&ga_adj, &mt(&mm(&ait, &ai)?)?)?)?;
            let a2 = ops::mul(&trace_two(&ait)?, &mt(&adjugate_jvp(a, &mt(g)?)?)?)?;
            let a3 = ops::neg(&mt(&adjugate_jvp(a, &mt(&mm(g, &mt(&tai)?)?)?)?)?)?;
            let a4 = mt(&mm(&mm(&ai, &mt(g)?)?, &mm(&adj, &tai)?)?)?;
            Some(ops::add(&ops::add(&a1, &a2)?, &ops::add(&a3, &a4)?)?)
        } else {
            None
        };
        Ok(vec![ga, gt])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        let (a, tt) = (&x[0], &x[1]);
        let dt = term(&t[1], |td| adjugate_jvp(a, td))?;
        let da = term(&t[0], |b| {
            let b = ops::broadcast_to(b, &shape_of(a))?;
            let (ai, adj) = (inv(a)?, adjugate(a)?);
            let db = adjugate_jvp(a, &b)?;
            let tai = mm(tt, &ai)?;
            let t1 = ops::neg(&ops::mul(&trace_two(&mm(&mm(&ai, &b)?, &mm(&ai, tt)?)?)?, &adj)?)?;
            let t2 = ops::mul(&trace_two(&mm(&ai, tt)?)?, &db)?;
            let t3 = ops::neg(&mm(&db, &tai)?)?;
            let t4 = mm(&mm(&adj, &tai)?, &mm(&b, &ai)?)?;
            ops::add(&ops::add(&t1, &t2)?, &ops::add(&t3, &t4)?)
        })?;
        sum_terms(vec![dt, da])
    }
    // The kernel takes stacks of matrices of one shape: give both operands the
    // batch axis (and the broadcast shape), then it is one more stack axis.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        // Both examples have one shape (callers broadcast `t` to `a`'s).
        let give = |v: &Value, b: bool| -> R<Value> {
            if b {
                return Ok(v.clone());
            }
            let mut s = vec![n];
            s.extend(shape_of(v));
            ops::broadcast_to(v, &s)
        };
        let (a, t) = (give(&x[0], batched[0])?, give(&x[1], batched[1])?);
        super::apply(&Prim::AdjugateJvp(self.clone()), &[a, t])
    }
}

/// The Moore-Penrose pseudo-inverse of each matrix, singular values at most
/// `rcond * s_max` treated as zero (`None`: NumPy's default).
#[derive(Clone, Debug, PartialEq)]
pub struct Pinv {
    /// The relative cutoff.
    pub rcond: Option<f64>,
}

/// `pinv(a)` (differentiable; the rule holds where the rank is locally constant).
pub fn pinv(a: &Value, rcond: Option<f64>) -> R<Value> {
    super::apply(&Prim::Pinv(Pinv { rcond }), &[ops::num(a)])
}

/// `a` to the integer power `n` by repeated squaring (a negative `n` powers
/// `inv(a)`, `n = 0` gives identities): a composition of products, so exact
/// derivatives of every order come for free.
pub fn matrix_power(a: &Value, n: i64) -> R<Value> {
    let s = shape_of(a);
    if s.len() < 2 || s[s.len() - 1] != s[s.len() - 2] {
        te(as_tensor(a)?.matrix_power(1))?;
    }
    if n == 0 {
        return ops::broadcast_to(&eye(last(a))?, &s);
    }
    let mut base = if n < 0 {
        inv(a).map_err(|d| renamed(d, "matrix_power"))?
    } else {
        ops::num(a)
    };
    let mut k = n.unsigned_abs();
    let mut acc: Option<Value> = None;
    while k > 0 {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(p) => mm(&p, &base)?,
            });
        }
        k >>= 1;
        if k > 0 {
            base = mm(&base, &base)?;
        }
    }
    // n != 0, so at least one bit was set.
    Ok(acc.unwrap_or(base))
}

impl Primitive for Pinv {
    fn name(&self) -> String {
        "pinv".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.pinv(self.rcond))?))
    }
    fn vjp(&self, x: &[Value], p: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        // The adjoint of the JVP below:
        // ā = -pᵀ ḡ pᵀ + (I - a p) ḡᵀ p pᵀ + pᵀ p ḡᵀ (I - p a).
        let a = &x[0];
        let (pt, gt) = (mt(p)?, mt(g)?);
        let t1 = ops::neg(&mm(&mm(&pt, g)?, &pt)?)?;
        let ap = mm(a, p)?;
        let t2 = mm(&mm(&ops::sub(&gt, &mm(&ap, &gt)?)?, p)?, &pt)?;
        let pa = mm(p, a)?;
        let t3 = mm(&mm(&pt, p)?, &ops::sub(&gt, &mm(&gt, &pa)?)?)?;
        Ok(vec![Some(ops::add(&ops::add(&t1, &t2)?, &t3)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], p: &Value) -> R<Option<Value>> {
        // Golub & Pereyra (JAX's rule):
        // ṗ = -p ȧ p + p pᵀ ȧᵀ (I - a p) + (I - p a) ȧᵀ pᵀ p.
        term(&t[0], |ta| {
            let a = &x[0];
            let ta = ops::broadcast_to(ta, &shape_of(a))?;
            let (pt, tat) = (mt(p)?, mt(&ta)?);
            let t1 = ops::neg(&mm(&mm(p, &ta)?, p)?)?;
            let ap = mm(a, p)?;
            let t2 = mm(&mm(p, &pt)?, &ops::sub(&tat, &mm(&tat, &ap)?)?)?;
            let pa = mm(p, a)?;
            let t3 = mm(&ops::sub(&tat, &mm(&pa, &tat)?)?, &mm(&pt, p)?)?;
            ops::add(&ops::add(&t1, &t2)?, &t3)
        })
    }
    // The kernel takes stacks of matrices: the batch axis is one more stack axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Pinv(self.clone()), x)
    }
}
