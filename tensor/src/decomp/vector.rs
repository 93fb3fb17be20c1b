//! Small vector kernels shared by the decompositions: dot products, norms,
//! plane rotations and the sign convention for singular/eigen vectors.

/// `sum x[i] * y[i]` with four interleaved accumulators (so it vectorises
/// and the rounding error grows more slowly than a plain running sum).
#[inline]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; 4];
    let xc = x.chunks_exact(4);
    let yc = y.chunks_exact(4);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// `y[i] += a * x[i]`.
#[inline]
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
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
pub(crate) fn norm2(x: &[f64]) -> f64 {
    // A fold with `>` rather than `max`: NaNs are kept out of `big` here and
    // reach the result through the sums below.
    let big = x.iter().fold(0.0f64, |m, &v| if v.abs() > m { v.abs() } else { m });
    if big == 0.0 || (SAFE_LO..=SAFE_HI).contains(&big) {
        return dot(x, x).sqrt();
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

/// Applies the plane rotation `[x; y] <- [c x - s y; s x + c y]` to two vectors.
#[inline]
pub(crate) fn rotate(x: &mut [f64], y: &mut [f64], c: f64, s: f64) {
    for (a, b) in x.iter_mut().zip(y.iter_mut()) {
        let (u, v) = (*a, *b);
        *a = c * u - s * v;
        *b = s * u + c * v;
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
