//! The error function family: [`erf`], [`erfc`], [`erfcx`].
//!
//! Near zero `erf` is its Taylor series. Elsewhere everything goes through
//! the scaled complement `erfcx(x) = exp(x^2) erfc(x)`, which is smooth and
//! slowly varying for `x >= 0.5` and approximated there by Chebyshev
//! expansions (on `[0.5, 2]`, `[2, 4]`, and in `1/x^2` beyond); `erfc` then
//! multiplies by `exp(-x^2)`, computed from the exact square `x^2 = hi + lo`
//! so that large arguments lose nothing. Negative arguments use
//! `erf(-x) = -erf(x)` and `erfc(-x) = 2 - erfc(x)`.

use super::chebyshev::clenshaw;
use super::tables::{ERFCX_MID, ERFCX_SMALL, ERFCX_TAIL};

/// `2 / sqrt(pi)`.
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// Taylor coefficients of `erf(x) / x` in powers of `x^2`:
/// `(2/sqrt(pi)) (-1)^k / (k! (2k + 1))`. On `|x| < 0.5` the terms fall
/// by a factor of about 4k each, so 13 of them reach 1e-18.
const ERF_TAYLOR: [f64; 13] = [
    TWO_OVER_SQRT_PI,
    -TWO_OVER_SQRT_PI / 3.0,
    TWO_OVER_SQRT_PI / 10.0,
    -TWO_OVER_SQRT_PI / 42.0,
    TWO_OVER_SQRT_PI / 216.0,
    -TWO_OVER_SQRT_PI / 1320.0,
    TWO_OVER_SQRT_PI / 9360.0,
    -TWO_OVER_SQRT_PI / 75600.0,
    TWO_OVER_SQRT_PI / 685440.0,
    -TWO_OVER_SQRT_PI / 6894720.0,
    TWO_OVER_SQRT_PI / 76204800.0,
    -TWO_OVER_SQRT_PI / 918086400.0,
    TWO_OVER_SQRT_PI / 11975040000.0,
];

/// Beyond this `erfc` underflows to zero (`erfc(27.3) < 2^-1075`).
const ERFC_ZERO: f64 = 27.3;

/// `erf(x)` for `|x| < 0.5` (or a bit beyond).
#[inline]
fn erf_small(x: f64) -> f64 {
    let z = x * x;
    let p = ERF_TAYLOR.iter().rev().fold(0.0, |acc, &c| acc * z + c);
    x * p
}

/// `x^2` as the exact sum `hi + lo` (Dekker's product with Veltkamp's
/// split; valid for `|x| < 1e150`).
#[inline]
pub(crate) fn exact_square(x: f64) -> (f64, f64) {
    let c = 134217729.0 * x; // 2^27 + 1
    let xh = c - (c - x);
    let xl = x - xh;
    let hi = x * x;
    let lo = ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl;
    (hi, lo)
}

/// `erfcx(x)` for `x >= 0.5`.
#[inline]
fn erfcx_pos(x: f64) -> f64 {
    if x < 2.0 {
        clenshaw(&ERFCX_SMALL, (x - 1.25) / 0.75)
    } else if x < 4.0 {
        clenshaw(&ERFCX_MID, x - 3.0)
    } else {
        // u = 1/x^2 underflows to 0 for huge x, where x erfcx(x) = 1/sqrt(pi).
        let u = 1.0 / x / x;
        clenshaw(&ERFCX_TAIL, 32.0 * u - 1.0) / x
    }
}

/// `erfc(x)` for `x >= 0.5`: `exp(-x^2) erfcx(x)`.
#[inline]
fn erfc_pos(x: f64) -> f64 {
    if x >= ERFC_ZERO {
        return 0.0;
    }
    let (hi, lo) = exact_square(x);
    // exp(-hi - lo) = exp(-hi) (1 - lo) to within lo^2 < 1e-30.
    let scaled = erfcx_pos(x) * (1.0 - lo);
    if hi < 700.0 {
        (-hi).exp() * scaled
    } else {
        // The result is subnormal: keep the intermediate normal and round
        // only once, at the last product.
        let half = (-0.5 * hi).exp();
        (half * scaled) * half
    }
}

/// The error function `erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt`,
/// to within about 1e-16 relative (odd; `erf(+-inf) = +-1`).
pub fn erf(x: f64) -> f64 {
    let a = x.abs();
    if a < 0.5 {
        erf_small(x)
    } else if a.is_nan() {
        x
    } else {
        (1.0 - erfc_pos(a)).copysign(x)
    }
}

/// The complementary error function `erfc(x) = 1 - erf(x)`, accurate to
/// about 1e-16 relative also in the tail, where `1 - erf(x)` would be all
/// rounding error (`erfc(10) = 2.088e-45`; it underflows beyond 27.3).
pub fn erfc(x: f64) -> f64 {
    if x.abs() < 0.5 {
        1.0 - erf_small(x)
    } else if x > 0.0 {
        erfc_pos(x)
    } else if x < 0.0 {
        2.0 - erfc_pos(-x)
    } else {
        x // NaN
    }
}

/// The scaled complementary error function `erfcx(x) = exp(x^2) erfc(x)`,
/// finite and about `1/(x sqrt(pi))` for large `x` (where `erfc` itself
/// underflows); it overflows for `x < -26.6`.
pub fn erfcx(x: f64) -> f64 {
    if x >= 0.5 {
        erfcx_pos(x)
    } else if x > -0.5 {
        let (hi, lo) = exact_square(x);
        hi.exp() * (1.0 + lo) * (1.0 - erf_small(x))
    } else if x > -26.7 {
        let (hi, lo) = exact_square(x);
        2.0 * (hi.exp() * (1.0 + lo)) - erfcx_pos(-x)
    } else if x.is_nan() {
        x
    } else {
        f64::INFINITY
    }
}
