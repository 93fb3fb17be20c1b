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
use std::mem::MaybeUninit;

/// Elements per block: small enough that a block stays in L1 while it is
/// scanned for special values, large enough to amortise the scan.
const BLOCK: usize = 256;

/// Adding then subtracting `1.5 * 2^52` rounds a double of magnitude below
/// 2^51 to the nearest integer, whose two's complement sits in the low bits.
const SHIFT: f64 = 6755399441055744.0;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^20` (fdlibm).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `2^(j/32)` for j = 0..32 as `EXP_SBITS[j] + (j << 47)` (the bits of the
/// double nearest to it, minus `j << 47` so that adding `(32k + j) << 47`
/// gives `2^k 2^(j/32)` directly) and its relative rounding error
/// `EXP_TAIL[j]`. Computed with 300-bit mpmath.
const EXP_SBITS: [u64; 32] = [
    0x3ff0_0000_0000_0000,
    0x3fef_d9b0_d315_8574,
    0x3fef_b558_6cf9_890f,
    0x3fef_9301_d012_5b51,
    0x3fef_72b8_3c7d_517b,
    0x3fef_5487_3168_b9aa,
    0x3fef_387a_6e75_6238,
    0x3fef_1e9d_f51f_dee1,
    0x3fef_06fe_0a31_b715,
    0x3fee_f1a7_373a_a9cb,
    0x3fee_dea6_4c12_3422,
    0x3fee_ce08_6061_892d,
    0x3fee_bfda_d536_2a27,
    0x3fee_b42b_569d_4f82,
    0x3fee_ab07_dd48_5429,
    0x3fee_a47e_b03a_5585,
    0x3fee_a09e_667f_3bcd,
    0x3fee_9f75_e8ec_5f74,
    0x3fee_a114_73eb_0187,
    0x3fee_a589_994c_ce13,
    0x3fee_ace5_422a_a0db,
    0x3fee_b737_b0cd_c5e5,
    0x3fee_c491_82a3_f090,
    0x3fee_d503_b23e_255d,
    0x3fee_e89f_995a_d3ad,
    0x3fee_ff76_f2fb_5e47,
    0x3fef_199b_dd85_529c,
    0x3fef_3720_dcef_9069,
    0x3fef_5818_dcfb_a487,
    0x3fef_7c97_337b_9b5f,
    0x3fef_a4af_a2a4_90da,
    0x3fef_d076_5b6e_4540,
];
const EXP_TAIL: [f64; 32] = [
    0.0,
    4.9997448722726326e-17,
    8.189317638195515e-17,
    -7.402825309426177e-17,
    -2.7939114859515733e-17,
    9.341710609905046e-17,
    7.826573258636076e-17,
    3.2904726646008416e-17,
    3.3484623336251524e-17,
    -6.346552106729483e-17,
    3.750854201303127e-17,
    2.1023049675215714e-18,
    1.9572585293112036e-17,
    -2.1571477251208752e-17,
    5.68648095791174e-17,
    -4.8923067513522756e-17,
    -6.835808657661922e-17,
    -2.092304381843353e-17,
    -2.3591094770850053e-17,
    -6.735219232374683e-17,
    5.1548301170786783e-17,
    -6.432131775424189e-18,
    1.5341410053603723e-17,
    -6.152602891550265e-17,
    4.875160526227062e-17,
    -1.0772487078934056e-17,
    1.685487290628973e-17,
    1.01562190116415e-17,
    1.790126907604513e-17,
    -3.266924100901318e-17,
    -5.545065618639427e-17,
    4.5784915277060095e-17,
];
/// `32 / ln 2`.
const INV_LN2_32: f64 = 46.16624130844683;
/// `ln2 / 32` split like [`LN2_HI`]/[`LN2_LO`] (division by 32 is exact).
const LN2_32_HI: f64 = LN2_HI / 32.0;
const LN2_32_LO: f64 = LN2_LO / 32.0;

/// Taylor coefficients `1/n!` for n = 2..=7: `expm1(r) = r + r^2 q(r)`. On
/// `|r| <= ln2/64` the truncation error is below 5e-19 relative to `r`.
const EXPM1_Q: [f64; 6] = [1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// fdlibm's minimax coefficients for `log(1+f)` in terms of `s = f/(2+f)`.
const LG1: f64 = 0.6666666666666735;
const LG2: f64 = 0.3999999999940942;
const LG3: f64 = 0.2857142874366239;
const LG4: f64 = 0.22222198432149784;
const LG5: f64 = 0.1818357216161805;
const LG6: f64 = 0.15313837699209373;
const LG7: f64 = 0.14798198605116586;

/// Evaluates `c[0] + x*c[1] + x^2*c[2] + ...` by Horner's rule.
#[inline(always)]
fn horner<M: Mode, const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut acc = c[N - 1];
    for i in (0..N - 1).rev() {
        acc = mla::<M>(acc, x, c[i]);
    }
    acc
}

/// Range reduction of `e^x` for `|x| < 708`: returns `(h, r, m)` with
/// `e^x = h (1 + r + m)` to about 0.01 ulp, where `h = 2^(i/32)` is a double
/// (`i = round(32 x / ln 2)`, `h` normal), `r = x - i ln2/32` (`|r| < 0.011`)
/// and `m` is the small rest of `expm1(r)` plus the table's tail.
#[inline(always)]
fn exp_reduce<M: Mode>(x: f64) -> (f64, f64, f64) {
    let z = mla::<M>(x, INV_LN2_32, SHIFT);
    let bits = z.to_bits(); // low bits: i = 32k + j in two's complement
    let i = z - SHIFT;
    // Cody-Waite: i * LN2_32_HI is exact and close to x, so `hi` is exact.
    let r = mla::<M>(-i, LN2_32_LO, mla::<M>(-i, LN2_32_HI, x));
    let j = (bits & 31) as usize;
    let h = f64::from_bits(EXP_SBITS[j].wrapping_add(bits << 47));
    let q = horner::<M, 6>(r, &EXPM1_Q);
    // (1 + tail)(1 + expm1 r) = 1 + r + (r^2 q + tail (1 + r)).
    let tail = EXP_TAIL[j];
    let m = mla::<M>(r * r, q, mla::<M>(tail, r, tail));
    (h, r, m)
}

/// `e^x` for `|x| < 708` (normal, finite results).
#[inline(always)]
fn exp_lane<M: Mode>(x: f64) -> f64 {
    let (h, r, m) = exp_reduce::<M>(x);
    mla::<M>(h, r + m, h)
}

/// `e^x - 1 = hi + lo` (unrounded sum, `|lo|` tiny) for `|x| < 708`.
#[inline(always)]
fn expm1_parts<M: Mode>(x: f64) -> (f64, f64) {
    let (h, r, m) = exp_reduce::<M>(x);
    // h (1 + r + m) - 1 = (h - 1) + h r + h m. The result can be much smaller
    // than h, so the big terms are added exactly (TwoSum, and with FMA an
    // exact product) and all rounding errors join the small term.
    let a = h - 1.0;
    let bb = a - h;
    let ea = (h - (a - bb)) + (-1.0 - bb);
    let b = h * r;
    let eb = if M::FMA { mla::<M>(h, r, -b) } else { 0.0 };
    let sum = a + b;
    let bb = sum - a;
    let es = (a - (sum - bb)) + (b - bb);
    (sum, mla::<M>(h, m, (ea + eb) + es))
}

/// `e^x - 1` for `|x| < 708`, except that it returns +0 for -0.
#[inline(always)]
fn expm1_core<M: Mode>(x: f64) -> f64 {
    let (hi, lo) = expm1_parts::<M>(x);
    hi + lo
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

/// Minimax linear approximation of `1/d` on `[1, 1.29]` (relative error 0.8%).
const RECIP_1_129: [f64; 2] = [1.7608454318321702, -0.7689281359277992];
/// Minimax quadratic approximation of `1/d` on `[1, 2]` (relative error 1.0%).
const RECIP_1_2: [f64; 3] = [2.12121700917446, -1.454550339544495, 0.32323340772719417];

/// `num / den` and a cheap approximation of `1/den` (relative error <= 1%,
/// for `den` in the range `init` was fitted on), used for first-order
/// corrections. (Newton iterations from it were tried in place of the
/// division: faster alone, but slower in these kernels, where the divider
/// runs in parallel with the FMA units.)
#[inline(always)]
fn div_in_range<M: Mode, const N: usize>(num: f64, den: f64, init: &[f64; N]) -> (f64, f64) {
    (num / den, horner::<M, N>(den, init))
}

/// Below this `tanh` uses the rational approximation, above it `e^-2|x|`.
const TANH_SPLIT: f64 = 0.625;
/// Cephes' `tanh(x) = x + x z P(z)/Q(z)`, `z = x^2`, `|x| <= 0.625` (0.05 ulp
/// approximation error), with P and Q divided by Q's constant term so that
/// `Q(z)` lies in `[1, 1.19]`. Coefficients in increasing powers of `z`.
const TANH_P: [f64; 3] = [-0.33333333333333326, -0.02049678586110715, -0.00019908889888990266];
const TANH_Q: [f64; 4] = [1.0, 0.46149035758330637, 0.023288647825489308, 0.0002064382707258149];

struct Tanh;
impl Kernel for Tanh {
    const CHECK: bool = false;
    #[inline(always)]
    fn lane<M: Mode>(x: f64) -> f64 {
        let a = x.abs();
        // tanh(20) rounds to 1, and clamping keeps e^-2a normal (NaN passes).
        let a = if a > 20.0 { 20.0 } else { a };
        let small = a < TANH_SPLIT;
        let z = a * a;
        // Above the split: tanh a = 1 - 2w/(1 + w), w = e^-2a <= 0.29.
        let w = exp_lane::<M>(-2.0 * a);
        let den_l = 1.0 + w;
        let err_l = (1.0 - den_l) + w; // 1 + w = den_l + err_l exactly
                                       // Both denominators lie in [1, 1.29]: one shared division.
        let num = if small { horner::<M, 3>(z, &TANH_P) } else { w + w };
        let den = if small { horner::<M, 4>(z, &TANH_Q) } else { den_l };
        let (q, inv) = div_in_range::<M, 2>(num, den, &RECIP_1_129);
        let y = if small {
            mla::<M>(a * z, q, a)
        } else {
            // num / (den + err) = q - q err / den.
            1.0 - mla::<M>(-q * inv, err_l, q)
        };
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
        let den = 1.0 + e;
        let err = (1.0 - den) + e; // 1 + e = den + err exactly
        let (q, inv) = div_in_range::<M, 3>(num, den, &RECIP_1_2);
        mla::<M>(-q * inv, err, q)
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

/// `d[i] = K(s[i])` for one block (`s.len() == d.len() <= BLOCK`); every
/// element of `d` is written.
#[inline(always)]
fn block<M: Mode, K: Kernel>(s: &[f64], d: &mut [MaybeUninit<f64>]) {
    for (o, &x) in d.iter_mut().zip(s) {
        o.write(K::lane::<M>(x));
    }
    if K::CHECK {
        let mut bad = false;
        for &x in s {
            bad |= !K::valid(x);
        }
        if bad {
            for (o, &x) in d.iter_mut().zip(s) {
                if !K::valid(x) {
                    o.write(K::fallback(x));
                }
            }
        }
    }
}

#[inline(always)]
fn run<M: Mode, K: Kernel>(src: &[f64], dst: &mut [MaybeUninit<f64>]) {
    for (s, d) in src.chunks(BLOCK).zip(dst.chunks_mut(BLOCK)) {
        block::<M, K>(s, d);
    }
}

#[inline(always)]
fn run_inplace<M: Mode, K: Kernel>(buf: &mut [f64]) {
    let mut tmp = [0.0f64; BLOCK];
    for d in buf.chunks_mut(BLOCK) {
        let mut bad = false;
        if K::CHECK {
            for &x in d.iter() {
                bad |= !K::valid(x);
            }
        }
        if bad {
            // The fallback needs the original inputs: work from a copy.
            let s = &mut tmp[..d.len()];
            s.copy_from_slice(d);
            // SAFETY: f64 and MaybeUninit<f64> have the same layout, and only
            // initialised values are written.
            let d = unsafe { &mut *(d as *mut [f64] as *mut [MaybeUninit<f64>]) };
            block::<M, K>(s, d);
        } else {
            for x in d.iter_mut() {
                *x = K::lane::<M>(*x);
            }
        }
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
fn map_impl<M: Mode>(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) {
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
                o.write(op.apply(x));
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
    /// Writes `dst[i] = op(src[i])` for `i < min(src.len(), dst.len())`
    /// (vectorised for the ops of [`supports`], scalar otherwise).
    fn map_uninit(op: UnaryOp, src: &[f64], dst: &mut [MaybeUninit<f64>]) => map_impl
);

/// `op` applied to every element of `src`, into a new vector (vectorised for
/// the ops of [`supports`], scalar otherwise).
pub(crate) fn map(op: UnaryOp, src: &[f64]) -> Vec<f64> {
    let mut out = crate::buffer::with_capacity(src.len());
    map_uninit(op, src, &mut out.spare_capacity_mut()[..src.len()]);
    // SAFETY: map_uninit wrote all src.len() elements.
    unsafe { out.set_len(src.len()) };
    out
}

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
        let generic = run_generic(op, &xs);
        let best = map(op, &xs);
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

    fn run_generic(op: UnaryOp, src: &[f64]) -> Vec<f64> {
        let mut out = vec![MaybeUninit::new(0.0); src.len()];
        map_impl::<NoFma>(op, src, &mut out);
        out.iter().map(|v| unsafe { v.assume_init() }).collect()
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
        let out = map(UnaryOp::Log, &pos);
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
            let a = map(op, &xs);
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
