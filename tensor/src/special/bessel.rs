//! Modified Bessel functions of the first kind of orders 0 and 1:
//! [`i0`], [`i1`] and their exponentially scaled forms [`i0e`], [`i1e`]
//! (`i0e(x) = exp(-|x|) I0(x)`, `i1e(x) = exp(-|x|) I1(x)`).
//!
//! Near 0 (`|x| <= 1`) the power series are summed. Beyond, the scaled
//! forms are the smooth, bounded ones, so they are what is approximated:
//! Chebyshev expansions of `i0e(x)` and `i1e(x) / x` on
//! `[0, 4]` (the quotient keeps `i1e`'s relative accuracy near its zero),
//! of `i0e` and `i1e` on `[4, 8]`, and of `sqrt(x) i0e(x)`,
//! `sqrt(x) i1e(x)` in `8 / x` beyond 8 (both tend to `1 / sqrt(2 pi)`).
//! The coefficients come from `tools/gen_special_tables.py`. `I0` is even
//! and `I1` odd; the unscaled functions multiply by `exp(|x|)`, in two
//! halves where `exp(|x|)` alone would overflow but the product does not.

use super::chebyshev::clenshaw;
use super::tables::{I0E_MID, I0E_SMALL, I0E_TAIL, I1E_MID, I1E_SMALL, I1E_TAIL};

/// Past this `exp(|x|)` overflows (`ln f64::MAX` is 709.78...): the
/// unscaled functions then scale in two halves.
const EXP_SAFE: f64 = 700.0;

/// Below this the power series are used (ten terms reach 1e-17 there),
/// so that the functions are exact at 0 (`I0(0) = 1`) and lose nothing to
/// the rounding of `exp(-z) exp(z)`.
const SERIES: f64 = 1.0;

/// `I0(z) = sum (z^2/4)^k / (k!)^2` for `z <= SERIES` (all terms positive).
#[inline]
fn i0_series(z: f64) -> f64 {
    let q = 0.25 * z * z;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..12 {
        let k = f64::from(k);
        term *= q / (k * k);
        sum += term;
    }
    sum
}

/// `I1(z) = (z/2) sum (z^2/4)^k / (k! (k+1)!)` for `z <= SERIES`.
#[inline]
fn i1_series(z: f64) -> f64 {
    let q = 0.25 * z * z;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..12 {
        let k = f64::from(k);
        term *= q / (k * (k + 1.0));
        sum += term;
    }
    0.5 * z * sum
}

/// `i0e(z)` for `z >= 0` (NaN passes through).
#[inline]
fn i0e_pos(z: f64) -> f64 {
    if z <= SERIES {
        (-z).exp() * i0_series(z)
    } else if z <= 4.0 {
        clenshaw(&I0E_SMALL, z / 2.0 - 1.0)
    } else if z <= 8.0 {
        clenshaw(&I0E_MID, z / 2.0 - 3.0)
    } else {
        // z = inf gives t = -1 and a finite sum over sqrt(inf): 0, the limit.
        clenshaw(&I0E_TAIL, 16.0 / z - 1.0) / z.sqrt()
    }
}

/// `i1e(z)` for `z >= 0` (NaN passes through).
#[inline]
fn i1e_pos(z: f64) -> f64 {
    if z <= SERIES {
        (-z).exp() * i1_series(z)
    } else if z <= 4.0 {
        clenshaw(&I1E_SMALL, z / 2.0 - 1.0) * z
    } else if z <= 8.0 {
        clenshaw(&I1E_MID, z / 2.0 - 3.0)
    } else {
        clenshaw(&I1E_TAIL, 16.0 / z - 1.0) / z.sqrt()
    }
}

/// `exp(z) s` for `z >= 0` and a scaled value `s`: `exp(z)` may overflow
/// where the product does not (`I0(713) ~ 1e308`), so beyond [`EXP_SAFE`]
/// each half of the exponent multiplies in turn.
#[inline]
fn unscale(z: f64, s: f64) -> f64 {
    if z == f64::INFINITY {
        // The scaled value is 0 there; the function itself is infinite.
        return f64::INFINITY;
    }
    if z <= EXP_SAFE {
        z.exp() * s
    } else {
        let h = (0.5 * z).exp();
        h * (s * h)
    }
}

/// The exponentially scaled modified Bessel function of order 0,
/// `exp(-|x|) I0(x)` (as `scipy.special.i0e`): even, 1 at 0, decaying like
/// `1 / sqrt(2 pi |x|)`.
pub fn i0e(x: f64) -> f64 {
    i0e_pos(x.abs())
}

/// The exponentially scaled modified Bessel function of order 1,
/// `exp(-|x|) I1(x)` (as `scipy.special.i1e`): odd, keeps the sign of a
/// zero.
pub fn i1e(x: f64) -> f64 {
    let r = i1e_pos(x.abs());
    if x.is_sign_negative() {
        -r
    } else {
        r
    }
}

/// The modified Bessel function of the first kind of order 0 (as
/// `scipy.special.i0` and `numpy.i0`): even, `inf` from `|x| ~ 713.99` on.
pub fn i0(x: f64) -> f64 {
    let z = x.abs();
    if z <= SERIES {
        return i0_series(z);
    }
    unscale(z, i0e_pos(z))
}

/// The modified Bessel function of the first kind of order 1 (as
/// `scipy.special.i1`): odd, `±inf` from `|x| ~ 713.99` on.
pub fn i1(x: f64) -> f64 {
    let z = x.abs();
    let r = if z <= SERIES {
        i1_series(z)
    } else {
        unscale(z, i1e_pos(z))
    };
    if x.is_sign_negative() {
        -r
    } else {
        r
    }
}
