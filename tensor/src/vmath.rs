//! Vectorised transcendental functions over contiguous `f64` slices:
//! `exp`, `expm1`, `log`, `log1p`, `tanh`, `sigmoid`, `softplus`.
//!
//! Each function is a branch-free per-element formula (range reduction plus a
//! polynomial, using only arithmetic, comparisons-as-selects and bit casts) so
//! that LLVM vectorises the loop over a block; [`crate::simd`] compiles it for
//! AVX-512, AVX2+FMA and the portable baseline. Accuracy is about 0.5-1 ulp
//! (the test suite checks <= 2 ulp against the platform libm).
//!
//! Inputs outside a kernel's comfortable range (overflow, subnormal results,
//! zero/negative/infinite/NaN arguments of `log`, ...) are rare, so instead of
//! slowing every lane with special-case logic each block is scanned for them
//! afterwards and those elements are recomputed with the scalar libm
//! definition. Special values therefore match `f64::exp` etc. exactly.

use crate::ops::{sigmoid, softplus, UnaryOp};
use crate::simd::{mla, multiversion, Mode};

/// Elements per block: small enough that a block stays in L1 while it is
/// scanned for special values, large enough to amortise the scan.
const BLOCK: usize = 256;

/// Adding then subtracting `1.5 * 2^52` rounds a double of magnitude below
/// 2^51 to the nearest integer, whose two's complement sits in the low bits.
const SHIFT: f64 = 6755399441055744.0;
const LOG2E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^20` (fdlibm).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// Taylor coefficients `1/n!` for n = 2..=14: `expm1(r) = r + r^2 * q(r)`.
/// On `|r| <= ln2/2` the truncation error is below 1e-19 relative.
const EXPM1_Q: [f64; 13] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
];

/// fdlibm's minimax coefficients for `log(1+f)` in terms of `s = f/(2+f)`.
const LG1: f64 = 6.666666666666735130e-01;
const LG2: f64 = 3.999999999940941908e-01;
const LG3: f64 = 2.857142874366239149e-01;
const LG4: f64 = 2.222219843214978396e-01;
const LG5: f64 = 1.818357216161805012e-01;
const LG6: f64 = 1.531383769920937332e-01;
const LG7: f64 = 1.479819860511658591e-01;

/// Evaluates `c[0] + x*c[1] + x^2*c[2] + ...` by Horner's rule.
#[inline(always)]
fn horner<M: Mode, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut acc = c[N - 1];
    for i in (0..N - 1).rev() {
        acc = mla::<M>(acc, x, c[i]);
    }
    acc
}

/// Range reduction of `e^x` for `|x| < 708`: returns `(z, r, t)` with
/// `e^x = 2^k (1 + r + t)`, where `k` is stored in the low bits of `z` (see
/// [`SHIFT`]), `|r| <= ln2/2` and `t` is the small rest of `expm1(r)`,
/// including the rounding error of `r` (Cody-Waite with a compensation term).
#[inline(always)]
fn exp_reduce<M: Mode>(x: f64) -> (f64, f64, f64) {
    let z = mla::<M>(x, LOG2E, SHIFT);
    let k = z - SHIFT;
    let hi = mla::<M>(-k, LN2_HI, x); // exact: k * LN2_HI is exact and close to x
    let lo = k * LN2_LO;
    let r = hi - lo;
    let c = (hi - r) - lo; // what rounding `r` lost
    let q = horner::<M, 13>(r, &EXPM1_Q);
    // expm1(r + c) = r + r^2 q(r) + c (1 + r) to well below an ulp.
    let t = mla::<M>(r * r, q, mla::<M>(c, r, c));
    (z, r, t)
}

/// `2^k` for `z` from [`exp_reduce`] with `-1022 <= k <= 1023`.
#[inline(always)]
fn pow2(z: f64) -> f64 {
    f64::from_bits(z.to_bits().wrapping_add(1023) << 52)
}

/// `e^x` for `|x| < 708` (normal, finite results).
#[inline(always)]
fn exp_lane<M: Mode>(x: f64) -> f64 {
    let (z, r, t) = exp_reduce::<M>(x);
    // 1 + r + t with the rounding error of 1 + r carried along (Fast2Sum).
    let hi = 1.0 + r;
    let err = (1.0 - hi) + r;
    (hi + (t + err)) * pow2(z)
}

/// `e^x - 1` for `|x| < 708`, except that it returns +0 for -0.
#[inline(always)]
fn expm1_core<M: Mode>(x: f64) -> f64 {
    let (z, r, t) = exp_reduce::<M>(x);
    let s = pow2(z);
    // 2^k (1 + r + t) - 1 = (s - 1) + s r + s t; s - 1 and s r are exact (or,
    // for |k| > 53, harmlessly rounded), so add them with TwoSum and fold the
    // error into the small term: one final rounding.
    let a = s - 1.0;
    let b = s * r;
    let sum = a + b;
    let bb = sum - a;
    let err = (a - (sum - bb)) + (b - bb);
    sum + mla::<M>(s, t, err)
}

/// `ln x` for positive normal finite `x` (fdlibm's algorithm, < 1 ulp).
#[inline(always)]
fn log_lane<M: Mode>(x: f64) -> f64 {
    let bits = x.to_bits();
    // Write x = 2^k m with m in [sqrt(2)/2, sqrt(2)) by biasing the high word
    // so the exponent field rolls over at sqrt(2).
    let hx = (bits >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = f64::from_bits((hx >> 20) | 0x4330_0000_0000_0000) - (4503599627370496.0 + 1023.0);
    let hm = (hx & 0x000f_ffff).wrapping_add(0x3fe6_a09e);
    let m = f64::from_bits((hm << 32) | (bits & 0xffff_ffff));
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * mla::<M>(w, mla::<M>(w, LG6, LG4), LG2);
    let t2 = z * mla::<M>(w, mla::<M>(w, mla::<M>(w, LG7, LG5), LG3), LG1);
    let r = t2 + t1;
    mla::<M>(s, hfsq + r, k * LN2_LO) - hfsq + f + k * LN2_HI
}

/// `ln(1 + x)` for `-1 < x < inf`.
#[inline(always)]
fn log1p_lane<M: Mode>(x: f64) -> f64 {
    let u = 1.0 + x;
    // TwoSum: u + err == 1 + x exactly, and ln(u + err) = ln u + err/u.
    let bv = u - 1.0;
    let err = (1.0 - (u - bv)) + (x - bv);
    let y = log_lane::<M>(u) + err / u;
    if x == 0.0 {
        x // keeps the sign of zero
    } else {
        y
    }
}

/// One vectorised function: a lane formula, the inputs it handles, and the
/// scalar definition used for all other inputs.
trait Kernel {
    /// Whether some inputs need the scalar fallback.
    const CHECK: bool;
    /// The vectorisable formula; only its results for `valid` inputs are kept.
    fn lane<M: Mode>(x: f64) -> f64;
    /// Whether `lane` is accurate for `x` (false for NaN).
    fn valid(x: f64) -> bool;
    /// The scalar definition, for inputs that are not `valid`.
    fn fallback(x: f64) -> f64;
}

struct Exp;
impl Kernel for Exp {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        exp_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        x.exp()
    }
}

struct Expm1;
impl Kernel for Expm1 {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        expm1_core::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        // Zero goes to libm for the sign of -0.
        x.abs() < 708.0 && x != 0.0
    }
    fn fallback(x: f64) -> f64 {
        x.exp_m1()
    }
}

struct Log;
impl Kernel for Log {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        log_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        (f64::MIN_POSITIVE..f64::INFINITY).contains(&x)
    }
    fn fallback(x: f64) -> f64 {
        x.ln()
    }
}

struct Log1p;
impl Kernel for Log1p {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        log1p_lane::<M>(x)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x > -1.0 && x < f64::INFINITY
    }
    fn fallback(x: f64) -> f64 {
        x.ln_1p()
    }
}

/// `log(3)/2`: below it `tanh = t/(t+2)` (no cancellation), above it `1 - 2/(t+2)`.
const TANH_SPLIT: f64 = 0.5493061443340549;

struct Tanh;
impl Kernel for Tanh {
    const CHECK: bool = false;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        let a = x.abs();
        // tanh(20) rounds to 1, and clamping keeps 2a inside expm1's range (NaN passes).
        let a = if a > 20.0 { 20.0 } else { a };
        let t = expm1_core::<M>(a + a); // tanh a = t / (t + 2)
        let small = a < TANH_SPLIT;
        let q = (if small { t } else { 2.0 }) / (t + 2.0);
        let y = if small { q } else { 1.0 - q };
        y.copysign(x)
    }
    fn valid(_: f64) -> bool {
        true
    }
    fn fallback(x: f64) -> f64 {
        x.tanh()
    }
}

struct Sigmoid;
impl Kernel for Sigmoid {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        // e^-|x| never overflows: 1/(1+e) for x >= 0, e/(1+e) below.
        let e = exp_lane::<M>(-x.abs());
        let num = if x >= 0.0 { 1.0 } else { e };
        num / (1.0 + e)
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        sigmoid(x)
    }
}

struct Softplus;
impl Kernel for Softplus {
    const CHECK: bool = true;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        // max(x, 0) + ln(1 + e^-|x|), with e^-|x| in (0, 1].
        let l = log1p_lane::<M>(exp_lane::<M>(-x.abs()));
        (if x > 0.0 { x } else { 0.0 }) + l
    }
    #[inline(always)]
    fn valid(x: f64) -> bool {
        x.abs() < 708.0
    }
    fn fallback(x: f64) -> f64 {
        softplus(x)
    }
}

/// `d[i] = K(s[i])` for one block (`s.len() == d.len() <= BLOCK`).
#[inline(always)]
fn block<M: Mode, K: Kernel>(s: &[f64], d: &mut [f64]) {
    for (o, &x) in d.iter_mut().zip(s) {
        *o = K::lane::<M>(x);
    }
    if K::CHECK {
        let mut bad = false;
        for &x in s {
            bad |= !K::valid(x);
        }
        if bad {
            for (o, &x) in d.iter_mut().zip(s) {
                if !K::valid(x) {
                    *o = K::fallback(x);
                }
            }
        }
    }
}

#[inline(always)]
fn run<M: Mode, K: Kernel>(src: &[f64], dst: &mut [f64]) {
    for (s, d) in src.chunks(BLOCK).zip(dst.chunks_mut(BLOCK)) {
        block::<M, K>(s, d);
    }
}

#[inline(always)]
fn run_inplace<M: Mode, K: Kernel>(buf: &mut [f64]) {
    let mut tmp = [0.0f64; BLOCK];
    for d in buf.chunks_mut(BLOCK) {
        let s = &mut tmp[..d.len()];
        s.copy_from_slice(d);
        block::<M, K>(s, d);
    }
}

/// Whether [`map`] and [`map_inplace`] implement `op`.
pub(crate) fn supports(op: UnaryOp) -> bool {
    matches!(
        op,
        UnaryOp::Exp
            | UnaryOp::Expm1
            | UnaryOp::Log
            | UnaryOp::Log1p
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Softplus
    )
}

#[inline(always)]
fn map_impl<M: Mode>(op: UnaryOp, src: &[f64], dst: &mut [f64]) {
    match op {
        UnaryOp::Exp => run::<M, Exp>(src, dst),
        UnaryOp::Expm1 => run::<M, Expm1>(src, dst),
        UnaryOp::Log => run::<M, Log>(src, dst),
        UnaryOp::Log1p => run::<M, Log1p>(src, dst),
        UnaryOp::Tanh => run::<M, Tanh>(src, dst),
        UnaryOp::Sigmoid => run::<M, Sigmoid>(src, dst),
        UnaryOp::Softplus => run::<M, Softplus>(src, dst),
        _ => {
            for (o, &x) in dst.iter_mut().zip(src) {
                *o = op.apply(x);
            }
        }
    }
}

#[inline(always)]
fn map_inplace_impl<M: Mode>(op: UnaryOp, buf: &mut [f64]) {
    match op {
        UnaryOp::Exp => run_inplace::<M, Exp>(buf),
        UnaryOp::Expm1 => run_inplace::<M, Expm1>(buf),
        UnaryOp::Log => run_inplace::<M, Log>(buf),
        UnaryOp::Log1p => run_inplace::<M, Log1p>(buf),
        UnaryOp::Tanh => run_inplace::<M, Tanh>(buf),
        UnaryOp::Sigmoid => run_inplace::<M, Sigmoid>(buf),
        UnaryOp::Softplus => run_inplace::<M, Softplus>(buf),
        _ => {
            for x in buf.iter_mut() {
                *x = op.apply(*x);
            }
        }
    }
}

multiversion!(
    /// `dst[i] = op(src[i])` over `min(src.len(), dst.len())` elements
    /// (vectorised for the ops of [`supports`], scalar otherwise).
    pub(crate) fn map(op: UnaryOp, src: &[f64], dst: &mut [f64]) => map_impl
);

multiversion!(
    /// `buf[i] = op(buf[i])` (vectorised for the ops of [`supports`]).
    pub(crate) fn map_inplace(op: UnaryOp, buf: &mut [f64]) => map_inplace_impl
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::NoFma;

    /// Distance in units in the last place (0 for two NaNs; +0 and -0 are equal).
    pub(crate) fn ulps(a: f64, b: f64) -> u64 {
        if a.is_nan() && b.is_nan() {
            return 0;
        }
        let key = |v: f64| {
            let b = v.to_bits() as i64;
            if b < 0 {
                i64::MIN - b
            } else {
                b
            }
        };
        key(a).abs_diff(key(b))
    }

    /// Inputs spread over many magnitudes plus the edges of each kernel's range.
    fn inputs() -> Vec<f64> {
        let mut v = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            708.0,
            -708.0,
            707.9,
            -707.9,
            709.78,
            709.79,
            710.0,
            -745.0,
            -745.2,
            -746.0,
            1e-300,
            -1e-300,
            5e-324,
            -5e-324,
            2.2e-308,
            0.34657359027997264,
            -0.34657359027997264,
            0.3466,
            0.35,
            TANH_SPLIT,
            20.0,
            -20.0,
            19.0,
            1e-8,
            -1e-8,
            0.9999999999999999,
            -0.9999999999999999,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            -1.0 + 1e-16,
            -2.0,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..6000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let mag = 10f64.powf(u * 8.0 - 5.5); // 3e-6 .. 3e2
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            v.push(sign * mag);
            v.push(sign * u * 1420.0 - 710.0 * sign);
        }
        v
    }

    fn check(op: UnaryOp, reference: fn(f64) -> f64, max_ulps: u64) {
        let xs = inputs();
        let mut generic = vec![0.0; xs.len()];
        run_generic(op, &xs, &mut generic);
        let mut best = vec![0.0; xs.len()];
        map(op, &xs, &mut best);
        for (i, &x) in xs.iter().enumerate() {
            let want = reference(x);
            for got in [generic[i], best[i]] {
                assert!(
                    ulps(got, want) <= max_ulps,
                    "{}({:e}) = {:e}, want {:e} ({} ulp)",
                    op.name(),
                    x,
                    got,
                    want,
                    ulps(got, want)
                );
                if want == 0.0 {
                    assert_eq!(got.to_bits(), want.to_bits(), "sign of zero: {}({:e})", op.name(), x);
                }
            }
        }
    }

    fn run_generic(op: UnaryOp, src: &[f64], dst: &mut [f64]) {
        map_impl::<NoFma>(op, src, dst);
    }

    #[test]
    fn exp_matches_libm() {
        check(UnaryOp::Exp, f64::exp, 1);
    }

    #[test]
    fn expm1_matches_libm() {
        check(UnaryOp::Expm1, f64::exp_m1, 1);
    }

    #[test]
    fn log_matches_libm() {
        check(UnaryOp::Log, f64::ln, 1);
        let pos: Vec<f64> = inputs().iter().map(|x| x.abs()).collect();
        let mut out = vec![0.0; pos.len()];
        map(UnaryOp::Log, &pos, &mut out);
        for (x, y) in pos.iter().zip(&out) {
            assert!(ulps(*y, x.ln()) <= 1, "log({x:e})");
        }
    }

    #[test]
    fn log1p_matches_libm() {
        check(UnaryOp::Log1p, f64::ln_1p, 1);
    }

    #[test]
    fn tanh_matches_libm() {
        check(UnaryOp::Tanh, f64::tanh, 2);
    }

    #[test]
    fn sigmoid_and_softplus_match_scalar() {
        check(UnaryOp::Sigmoid, sigmoid, 2);
        check(UnaryOp::Softplus, softplus, 2);
    }

    #[test]
    fn inplace_equals_out_of_place() {
        let xs = inputs();
        for op in UnaryOp::ALL {
            let mut a = vec![0.0; xs.len()];
            map(op, &xs, &mut a);
            let mut b = xs.clone();
            map_inplace(op, &mut b);
            for (p, q) in a.iter().zip(&b) {
                assert!(
                    p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
                    "{}",
                    op.name()
                );
            }
        }
    }
}
