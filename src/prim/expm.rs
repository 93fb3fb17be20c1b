//! `expm(a)`: the matrix exponential by Padé approximation with scaling and
//! squaring (Higham 2005, as `jax.scipy.linalg.expm` and SciPy).
//!
//! A composition of products, sums and one `solve`, so its derivatives of
//! every order come from theirs; the Padé degree and the number of
//! squarings are chosen from the 1-norm as constants (JAX does the same:
//! they are piecewise constant), so the derivatives match JAX's.

use super::decomp::{eye, mm, solve};
use super::{as_tensor, R};
use crate::ops::{self, shape_of};
use crate::value::Value;

/// The 1-norm bounds below which Padé degrees 3, 5, 7, 9 are accurate in
/// float64 (Higham's θ_m), and θ_13, above which `a` is scaled by `2^-s`.
const THETA: [f64; 4] = [
    1.495585217958292e-2,
    2.53939833006323e-1,
    9.504178996162932e-1,
    2.097847961257068,
];
const THETA_13: f64 = 5.371920351148152;

/// Padé numerator coefficients `b_0..b_m` for degrees 3, 5, 7, 9, 13.
const B3: [f64; 4] = [120., 60., 12., 1.];
const B5: [f64; 6] = [30240., 15120., 3360., 420., 30., 1.];
const B7: [f64; 8] = [17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.];
const B9: [f64; 10] = [
    17643225600.,
    8821612800.,
    2075673600.,
    302702400.,
    30270240.,
    2162160.,
    110880.,
    3960.,
    90.,
    1.,
];
const B13: [f64; 14] = [
    64764752532480000.,
    32382376266240000.,
    7771770303897600.,
    1187353796428800.,
    129060195264000.,
    10559470521600.,
    670442572800.,
    33522128640.,
    1323241920.,
    40840800.,
    960960.,
    16380.,
    182.,
    1.,
];

/// The largest 1-norm (maximum absolute column sum) over the matrices of `t`.
pub fn norm1(t: &dp_tensor::Tensor) -> f64 {
    let s = t.shape().to_vec();
    if s.len() < 2 {
        return 0.0;
    }
    let (m, n) = (s[s.len() - 2], s[s.len() - 1]);
    if m * n == 0 {
        return 0.0;
    }
    let data = t.to_vec();
    let mut best: f64 = 0.0;
    for mat in data.chunks_exact(m * n) {
        for j in 0..n {
            let col: f64 = (0..m).map(|i| mat[i * n + j].abs()).sum();
            // NaN must win: `max` would drop it.
            best = if col.is_nan() || best.is_nan() {
                f64::NAN
            } else {
                best.max(col)
            };
        }
    }
    best
}

/// The Padé degree and number of squarings for a stack whose largest
/// 1-norm is `norm`, as one float: NaN for a non-finite norm, `i` for
/// degree `[3, 5, 7, 9][i]`, `4 + s` for degree 13 with `s` squarings. (A
/// float, so that a jit plan can compute it as a step and check it, see
/// `expm`.)
pub fn choice(norm: f64) -> f64 {
    if !norm.is_finite() {
        return f64::NAN;
    }
    match THETA.iter().position(|&t| norm < t) {
        Some(i) => i as f64,
        None => 4.0 + (norm / THETA_13).log2().floor().max(0.0),
    }
}

/// `sum_k c_k p_k` over the given powers (`None` for the identity).
fn combo(terms: &[(f64, &Value)]) -> R<Value> {
    let mut acc: Option<Value> = None;
    for &(c, p) in terms {
        let t = ops::scale(p, c)?;
        acc = Some(match acc {
            None => t,
            Some(a) => ops::add(&a, &t)?,
        });
    }
    // Every caller passes at least one term.
    Ok(acc.unwrap_or(Value::Float(0.0)))
}

/// `(u, v)`: the odd and even parts of the degree-`m` Padé numerator at `a`
/// (JAX's `_pade3` .. `_pade13`), so that `exp(a) ≈ (v - u)⁻¹ (v + u)`.
fn pade(a: &Value, ident: &Value, degree: usize) -> R<(Value, Value)> {
    let a2 = mm(a, a)?;
    if degree == 13 {
        let b = B13;
        let a4 = mm(&a2, &a2)?;
        let a6 = mm(&a4, &a2)?;
        let inner_u = mm(&a6, &combo(&[(b[13], &a6), (b[11], &a4), (b[9], &a2)])?)?;
        let u = mm(
            a,
            &ops::add(
                &inner_u,
                &combo(&[(b[7], &a6), (b[5], &a4), (b[3], &a2), (b[1], ident)])?,
            )?,
        )?;
        let inner_v = mm(&a6, &combo(&[(b[12], &a6), (b[10], &a4), (b[8], &a2)])?)?;
        let v = ops::add(
            &inner_v,
            &combo(&[(b[6], &a6), (b[4], &a4), (b[2], &a2), (b[0], ident)])?,
        )?;
        return Ok((u, v));
    }
    // Even powers a^0, a^2, .., a^(degree - 1).
    let mut powers = vec![ident.clone(), a2.clone()];
    while powers.len() < degree.div_ceil(2) {
        let next = mm(&powers[powers.len() - 1], &a2)?;
        powers.push(next);
    }
    let b: &[f64] = match degree {
        3 => &B3,
        5 => &B5,
        7 => &B7,
        _ => &B9,
    };
    let odd: Vec<(f64, &Value)> = powers.iter().enumerate().map(|(k, p)| (b[2 * k + 1], p)).collect();
    let even: Vec<(f64, &Value)> = powers.iter().enumerate().map(|(k, p)| (b[2 * k], p)).collect();
    Ok((mm(a, &combo(&odd)?)?, combo(&even)?))
}

/// The matrix exponential of each square matrix in the last two axes. The
/// degree and scaling follow the largest 1-norm in the stack (one choice for
/// all; each is accurate to working precision for every matrix under it).
pub fn expm(a: &Value) -> R<Value> {
    let s = shape_of(a);
    if s.len() < 2 || s[s.len() - 1] != s[s.len() - 2] {
        return super::te(Err(dp_tensor::TensorError::NotMatrix {
            op: "expm",
            shape: s,
            square: true,
        }));
    }
    let a = ops::num(a);
    let n = s[s.len() - 1];
    // Of a value a running trace computed (every example's matrices at once
    // inside `vmap`): the choice is a step of the trace, and reading it
    // makes it a guard, so a jit plan holds while the choice stays the same
    // rather than reading every element.
    let code = match crate::autodiff::trace::traced_examples(&a) {
        Some(whole) => match super::apply(&super::Prim::Order(super::Order::ExpmChoice), &[whole])?.strip() {
            Value::Float(c) => *c,
            other => super::as_tensor(other)?.item().unwrap_or(f64::NAN),
        },
        None => choice(norm1(&*as_tensor(&a)?)),
    };
    if code.is_nan() {
        // NaN or infinite entries: NaN everywhere (as JAX), without looping on squarings.
        return ops::scale(&a, f64::NAN);
    }
    let ident = ops::broadcast_to(&eye(n)?, &s)?;
    // `code` is a small whole number (see `choice`).
    let (degree, squarings) = if code < 4.0 {
        ([3, 5, 7, 9][code as usize], 0)
    } else {
        (13, (code - 4.0) as i32)
    };
    let scaled = if squarings > 0 {
        ops::scale(&a, 2f64.powi(-squarings))?
    } else {
        a
    };
    let (u, v) = pade(&scaled, &ident, degree)?;
    let mut r = solve(&ops::sub(&v, &u)?, &ops::add(&v, &u)?)?;
    for _ in 0..squarings {
        r = mm(&r, &r)?;
    }
    Ok(r)
}
