//! The log-gamma function and its derivatives: [`lgamma`], [`digamma`],
//! [`polygamma`].
//!
//! Each has a dedicated treatment near the zeros where relative accuracy
//! is hardest: `lgamma` near 1 and 2 goes through Chebyshev expansions of
//! `lgamma(1 + z) / z` and `lgamma(2 + z) / z`, `digamma` near its positive root through one of
//! `digamma(x) / (x - x0)`. Larger arguments are brought down by the
//! recurrences `G(x+1) = x G(x)` and `psi(x+1) = psi(x) + 1/x` or use the
//! asymptotic (Stirling) series; negative ones use the reflection formulas.
//! Poles follow SciPy: `lgamma` is `+inf` at `0, -1, -2, ...`; `digamma` is
//! `-inf` at `+0`, `+inf` at `-0` and NaN at negative integers; the
//! polygammas of order `n >= 1` are `(-1)^(n+1) inf` at all of them.

use super::chebyshev::clenshaw;
use super::tables::{DIGAMMA_ROOT, LGAMMA1, LGAMMA2, X0_HI, X0_LO};
use std::f64::consts::PI;

/// `ln(2 pi) / 2`.
const HALF_LN_2PI: f64 = 0.9189385332046728;
/// `ln(pi)`.
const LN_PI: f64 = 1.1447298858494002;

/// Bernoulli numbers `B_2, B_4, ..., B_24`.
const BERNOULLI: [f64; 12] = [
    1.0 / 6.0,
    -1.0 / 30.0,
    1.0 / 42.0,
    -1.0 / 30.0,
    5.0 / 66.0,
    -691.0 / 2730.0,
    7.0 / 6.0,
    -3617.0 / 510.0,
    43867.0 / 798.0,
    -174611.0 / 330.0,
    854513.0 / 138.0,
    -236364091.0 / 2730.0,
];

/// Above this the asymptotic series of `lgamma` and `digamma` converge to
/// below 1e-17 within 8 terms.
const ASYMPTOTIC: f64 = 10.0;

/// `x` reduced to `r = x - round(x)` in `[-0.5, 0.5]` (exactly), with the
/// parity of `round(x)`: `sin(pi x) = (-1)^n sin(pi r)` and `cot(pi x) = cot(pi r)`.
#[inline]
fn reduce_half(x: f64) -> (f64, bool) {
    let n = x.round();
    // n is even exactly when n/2 is an integer (exact for |n| < 2^53).
    (x - n, (n * 0.5).fract() != 0.0)
}

/// `(sin(pi r), cos(pi r))` for `|r| <= 0.5`, each to within an ulp or so
/// relative, also near the zeros of the cosine at `r = +-0.5` (where `cos(pi r)`
/// of the rounded `pi r` would only be accurate to about 1e-16 absolute).
fn sincospi(r: f64) -> (f64, f64) {
    let a = r.abs();
    if a <= 0.25 {
        (PI * r).sin_cos()
    } else {
        // 0.5 - a is exact here.
        let (c, s) = (PI * (0.5 - a)).sin_cos();
        (s.copysign(r), c)
    }
}

/// `|sin(pi x)|`, accurate to an ulp or so for every `x`.
fn abs_sinpi(x: f64) -> f64 {
    sincospi(reduce_half(x).0).0.abs()
}

/// `cot(pi x)`, exactly 0 at half-integers.
fn cotpi(x: f64) -> f64 {
    let (s, c) = sincospi(reduce_half(x).0);
    c / s
}

/// Whether `x` is a pole of the gamma function: `0, -1, -2, ...`.
#[inline]
fn is_pole(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// `lgamma(1 + z)` for `z` in `[-0.5, 0.5]`, from the exact `z`, so that
/// relative accuracy holds through the zero at `z = 0`. `+ 0.0` turns the
/// product's `-0.0` at `z = 0` (the series is negative there) into the
/// `lgamma(1) = 0.0` of SciPy and JAX; it changes no other value.
#[inline]
fn lgamma1(z: f64) -> f64 {
    z * clenshaw(&LGAMMA1, 2.0 * z) + 0.0
}

/// `lgamma(2 + z)` for `z` in `[-0.5, 0.5]`, likewise.
#[inline]
fn lgamma2(z: f64) -> f64 {
    z * clenshaw(&LGAMMA2, 2.0 * z) + 0.0
}

/// The natural log of the absolute value of the gamma function,
/// `ln |Gamma(x)|` (SciPy `gammaln`), to within a few 1e-16 relative
/// (away from its zeros on the negative axis, where only absolute accuracy
/// is possible). `+inf` at the poles `0, -1, -2, ...` and at `+-inf`.
pub fn lgamma(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.is_infinite() || is_pole(x) {
        return f64::INFINITY;
    }
    if x.abs() < 1e-17 {
        // lgamma(x) = -ln|x| - gamma x + O(x^2); the linear term is below rounding.
        return -x.abs().ln();
    }
    if x < 0.5 {
        if x > -0.5 {
            // lgamma(x) = lgamma(1 + x) - ln|x|.
            return lgamma1(x) - x.abs().ln();
        }
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        return LN_PI - abs_sinpi(x).ln() - lgamma(1.0 - x);
    }
    if x < 1.5 {
        return lgamma1(x - 1.0);
    }
    if x < 2.5 {
        return lgamma2(x - 2.0);
    }
    if x < ASYMPTOTIC {
        // Down to [1.5, 2.5): lgamma(x) = lgamma(y) + ln((x-1)(x-2)...y),
        // each subtraction exact for these magnitudes.
        let mut y = x;
        let mut p = 1.0;
        while y >= 2.5 {
            y -= 1.0;
            p *= y;
        }
        return lgamma2(y - 2.0) + p.ln();
    }
    // Stirling: (x - 1/2) ln x - x + ln(2 pi)/2 + sum B_2k / (2k (2k-1) x^(2k-1)).
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let mut series = 0.0;
    for k in (1..=8).rev() {
        let kf = k as f64;
        series = series * inv2 + BERNOULLI[k - 1] / (2.0 * kf * (2.0 * kf - 1.0));
    }
    series *= inv;
    let lx = x.ln();
    let main = if x < 1e300 {
        (x - 0.5) * lx - x
    } else {
        // Written so that nothing overflows before the result does.
        (x - 0.5) * (lx - 1.0) - 0.5
    };
    main + HALF_LN_2PI + series
}

/// The digamma function `psi(x) = d/dx ln Gamma(x)` (SciPy `digamma`/`psi`),
/// to within a few 1e-16 relative, also around its positive root
/// `x0 = 1.4616...` (negative arguments, by reflection, are accurate to a
/// few 1e-16 relative to `pi cot(pi x)`). Poles: `-inf` at `+0`, `+inf` at
/// `-0`, NaN at `-1, -2, ...` and at `-inf`; `psi(+inf) = +inf`.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    if x == f64::INFINITY {
        return x;
    }
    if is_pole(x) || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x < 0.0 {
        // Reflection: psi(1 - x) - psi(x) = pi cot(pi x).
        return digamma(1.0 - x) - PI * cotpi(x);
    }
    if x < 1.0 {
        return digamma(x + 1.0) - 1.0 / x;
    }
    if x < 2.0 {
        // (x - X0_HI) is exact here (Sterbenz), so the root is resolved to
        // far below an ulp of the result.
        return ((x - X0_HI) - X0_LO) * clenshaw(&DIGAMMA_ROOT, 2.0 * x - 3.0);
    }
    if x < ASYMPTOTIC {
        let mut y = x;
        let mut s = 0.0;
        while y >= 2.0 {
            y -= 1.0;
            s += 1.0 / y;
        }
        return digamma(y) + s;
    }
    // ln x - 1/(2x) - sum B_2k / (2k x^2k).
    let inv2 = 1.0 / (x * x);
    let mut series = 0.0;
    for k in (1..=8).rev() {
        series = series * inv2 + BERNOULLI[k - 1] / (2.0 * k as f64);
    }
    x.ln() - 0.5 / x - series * inv2
}

/// The Hurwitz zeta function `zeta(s, x) = sum_k (x + k)^-s` for an integer
/// `s >= 2` and `x > 0`: the terms are summed until `x + k` reaches
/// `2s + 10`, the rest by the Euler-Maclaurin formula (at most 12 Bernoulli
/// terms; the remainder is below 1e-17 relative).
fn hurwitz_zeta(s: u32, x: f64) -> f64 {
    let sf = s as f64;
    let start = 2.0 * sf + 10.0;
    let mut sum = 0.0;
    let mut y = x;
    while y < start {
        sum += y.powi(-(s as i32));
        y += 1.0;
    }
    // Tail: y^(1-s)/(s-1) + y^-s / 2 + sum_j B_2j/(2j)! (s)_(2j-1) y^(-s-2j+1).
    // y^(1-s) rather than y^-s times y: the latter underflows first.
    let y1s = y.powi(1 - s as i32);
    let mut tail = y1s / (sf - 1.0) + 0.5 * (y1s / y);
    let inv2 = 1.0 / y / y;
    // term_j = B_2j / (2j)! * s (s+1) ... (s+2j-2) * y^(-s-2j+1).
    let mut factor = sf * (y1s / y / y); // (s)_1 y^(-s-1), to be divided by (2j)!
    let mut fact = 2.0; // (2j)!
    for (j, &b) in BERNOULLI.iter().enumerate() {
        let term = b / fact * factor;
        tail += term;
        if term.abs() < 1e-18 * tail.abs() {
            break;
        }
        let j2 = 2.0 * (j as f64 + 1.0);
        // (s)_(2j+1) = (s)_(2j-1) (s + 2j - 1)(s + 2j); (2j+2)! = (2j)! (2j+1)(2j+2).
        factor *= (sf + j2 - 1.0) * (sf + j2) * inv2;
        fact *= (j2 + 1.0) * (j2 + 2.0);
    }
    sum + tail
}

/// `n!` as a float (exact up to `22!`, `inf` beyond `170!`).
fn factorial(n: u32) -> f64 {
    (2..=n).fold(1.0, |acc, k| acc * k as f64)
}

/// The coefficients (constant term first) of the polynomial `P_n` with
/// `d^n/dt^n cot(t) = P_n(cot t)`: `P_0(c) = c`, `P_(k+1) = -(1 + c^2) P_k'`.
fn cot_derivative_poly(n: u32) -> Vec<f64> {
    let mut p = vec![0.0, 1.0];
    for _ in 0..n {
        // q = -(1 + c^2) p'.
        let dp: Vec<f64> = (1..p.len()).map(|i| i as f64 * p[i]).collect();
        let mut q = vec![0.0; dp.len() + 2];
        for (i, &d) in dp.iter().enumerate() {
            q[i] -= d;
            q[i + 2] -= d;
        }
        p = q;
    }
    p
}

/// The polygamma function `psi^(n)(x)`, the `n`-th derivative of digamma
/// (SciPy `polygamma`; `n = 0` is [`digamma`], `n = 1` the trigamma
/// function), to within a few 1e-16 relative for `x > 0` and moderate `n`
/// (tested to `n = 12`). For `n >= 1`: `(-1)^(n+1) n! zeta(n+1, x)`; negative
/// `x` by the reflection formula differentiated `n` times, whose terms have
/// a common sign for odd `n` (for even `n` accuracy is relative to them).
/// Poles `0, -1, ...` and `-inf` give `(-1)^(n+1) inf`; `+inf` gives 0.
pub fn polygamma(n: u32, x: f64) -> f64 {
    if n == 0 {
        return digamma(x);
    }
    let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
    if x.is_nan() {
        return x;
    }
    if x == f64::INFINITY {
        return sign * 0.0;
    }
    if x == f64::NEG_INFINITY || is_pole(x) {
        return sign * f64::INFINITY;
    }
    if x < 0.0 {
        // Differentiating psi(1 - x) - psi(x) = pi cot(pi x) n times:
        // psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x)).
        let c = cotpi(x);
        let p = cot_derivative_poly(n);
        let pc = p.iter().rev().fold(0.0, |acc, &k| acc * c + k);
        let refl = if n.is_multiple_of(2) { 1.0 } else { -1.0 };
        return refl * polygamma(n, 1.0 - x) - PI.powi(n as i32 + 1) * pc;
    }
    sign * factorial(n) * hurwitz_zeta(n + 1, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cot_derivative_polynomials() {
        // cot' = -(1 + c^2); cot'' = 2c + 2c^3.
        assert_eq!(cot_derivative_poly(1), vec![-1.0, 0.0, -1.0]);
        assert_eq!(cot_derivative_poly(2), vec![0.0, 2.0, 0.0, 2.0]);
    }

    #[test]
    fn constants_are_the_nearest_doubles() {
        // ln(2 pi)/2 = 0.91893853320467274178 and ln(pi) = 1.14472988584940017414
        // (mpmath); Rust parses the literals to the nearest doubles.
        assert_eq!(HALF_LN_2PI, "0.91893853320467274178".parse::<f64>().unwrap());
        assert_eq!(LN_PI, "1.14472988584940017414".parse::<f64>().unwrap());
        // psi(1) = -Euler's constant.
        assert!(
            (digamma(1.0) + 0.5772156649015329).abs() <= 2.0 * f64::EPSILON * 0.58,
            "{}",
            digamma(1.0)
        );
    }
}
