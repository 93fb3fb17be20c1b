//! Small vector kernels shared by the decompositions: dot products, norms,
//! plane rotations and the sign convention for singular/eigen vectors.
//!
//! They are generic over [`Mode`] and always inlined, so that inside a
//! kernel compiled by [`crate::simd::multiversion`] they vectorise for the
//! running CPU (AVX-512 or AVX2 with FMA) rather than for baseline SSE2.

use crate::simd::{mla, Mode};

/// `sum x[i] * y[i]` over the shorter length, with interleaved accumulators.
#[inline(always)]
pub(crate) fn dot<M: Mode>(x: &[f64], y: &[f64]) -> f64 {
    crate::vreduce::dot_impl::<M>(x, y)
}

/// `y[i] += a * x[i]`.
#[inline(always)]
pub(crate) fn axpy<M: Mode>(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = mla::<M>(a, xi, *yi);
    }
}

/// Squares of numbers between these bounds neither overflow nor lose
/// precision to underflow, so [`norm2`] only rescales outside them.
const SAFE_LO: f64 = 1e-150;
const SAFE_HI: f64 = 1e150;

/// The Euclidean norm of `x` without overflow or underflow: a plain sum of
/// squares when the largest magnitude is moderate (smaller elements then
/// cannot matter even if their squares underflow), else the sum of squares
/// of `x` divided by its largest magnitude (a second pass, rarely needed).
#[inline(always)]
pub(crate) fn norm2<M: Mode>(x: &[f64]) -> f64 {
    // A fold with `>` rather than `max`: NaNs are kept out of `big` here and
    // reach the result through the sums below.
    let big = x.iter().fold(0.0f64, |m, &v| if v.abs() > m { v.abs() } else { m });
    if big == 0.0 || (SAFE_LO..=SAFE_HI).contains(&big) {
        return dot::<M>(x, x).sqrt();
    }
    if big.is_infinite() {
        return f64::INFINITY;
    }
    let s: f64 = x
        .iter()
        .map(|&v| {
            let r = v / big;
            r * r
        })
        .sum();
    big * s.sqrt()
}

/// A power of two that brings `big` (the largest magnitude of a matrix)
/// into `[lo, hi]`, or 1 if it is already there (or zero). Scaling by it is
/// exact (short of subnormals). The exponent is limited to +-1000 so that
/// the factor itself stays finite even for subnormal or near-overflow `big`
/// (which then lands near `2^-74` or `2^24`, still comfortably inside).
pub(crate) fn pow2_scale(big: f64, lo: f64, hi: f64) -> f64 {
    if big > hi || (big < lo && big > 0.0) {
        2f64.powi((-big.log2().round()).clamp(-1000.0, 1000.0) as i32)
    } else {
        1.0
    }
}

/// Applies the plane rotation `[x; y] <- [c x - s y; s x + c y]` to two vectors.
#[inline(always)]
pub(crate) fn rotate<M: Mode>(x: &mut [f64], y: &mut [f64], c: f64, s: f64) {
    for (a, b) in x.iter_mut().zip(y.iter_mut()) {
        let (u, v) = (*a, *b);
        *a = mla::<M>(c, u, -s * v);
        *b = mla::<M>(s, u, c * v);
    }
}

/// Whether the vector `v` must be negated to meet the sign convention of
/// `eigh` and `svd`: its entry of largest magnitude must be positive. Near
/// ties (within a relative 1e-9, which rounding cannot bridge but which
/// covers exactly symmetric vectors such as `(1, -1) / sqrt 2`) the first
/// of the tied entries decides, so the choice does not flip with the last
/// bits of the computation.
pub(crate) fn needs_flip(v: &[f64]) -> bool {
    let big = v.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
    let lead = v.iter().find(|&&x| x.abs() >= big * (1.0 - 1e-9));
    matches!(lead, Some(&x) if x < 0.0)
}
