//! Vectorised contiguous reductions: dot products, matrix-vector products and
//! argmax/argmin along rows, compiled per instruction set by
//! [`crate::simd::multiversion`].

use crate::simd::{mla, multiversion, Mode};

/// Lanes of the interleaved accumulators (one AVX-512 vector).
const L: usize = 8;

/// Sums the eight lane accumulators in a fixed tree order.
#[inline(always)]
fn hsum(acc: &[f64; L]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// `sum(x[i] * y[i])` over `min(x.len(), y.len())` elements, with eight
/// interleaved accumulators.
#[inline(always)]
fn dot_impl<M: Mode>(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; L];
    let (cx, cy) = (x.chunks_exact(L), y.chunks_exact(L));
    let (rx, ry) = (cx.remainder(), cy.remainder());
    for (p, q) in cx.zip(cy) {
        for l in 0..L {
            acc[l] = mla::<M>(p[l], q[l], acc[l]);
        }
    }
    let mut s = hsum(&acc);
    for (p, q) in rx.iter().zip(ry) {
        s = mla::<M>(*p, *q, s);
    }
    s
}

multiversion!(
    /// Dot product of two contiguous vectors (over the shorter length).
    pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 => dot_impl
);

/// `out[i] = dot(a[i*lda..i*lda+k], x)` for `i < out.len()`; four rows at a
/// time so each loaded chunk of `x` feeds four independent accumulator chains.
#[inline(always)]
fn gemv_impl<M: Mode>(a: &[f64], lda: usize, x: &[f64], out: &mut [f64]) {
    let k = x.len();
    let row = |i: usize| &a[i * lda..i * lda + k];
    let mut quads = out.chunks_exact_mut(4);
    let mut i = 0;
    for o in &mut quads {
        let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
        let mut acc = [[0.0f64; L]; 4];
        let chunks = r0
            .chunks_exact(L)
            .zip(r1.chunks_exact(L))
            .zip(r2.chunks_exact(L).zip(r3.chunks_exact(L)))
            .zip(x.chunks_exact(L));
        for (((c0, c1), (c2, c3)), xc) in chunks {
            for l in 0..L {
                acc[0][l] = mla::<M>(c0[l], xc[l], acc[0][l]);
                acc[1][l] = mla::<M>(c1[l], xc[l], acc[1][l]);
                acc[2][l] = mla::<M>(c2[l], xc[l], acc[2][l]);
                acc[3][l] = mla::<M>(c3[l], xc[l], acc[3][l]);
            }
        }
        let tail = k - k % L;
        for (r, (o, acc)) in o.iter_mut().zip(&acc).enumerate() {
            let mut s = hsum(acc);
            for (p, q) in row(i + r)[tail..].iter().zip(&x[tail..]) {
                s = mla::<M>(*p, *q, s);
            }
            *o = s;
        }
        i += 4;
    }
    for o in quads.into_remainder() {
        *o = dot_impl::<M>(row(i), x);
        i += 1;
    }
}

multiversion!(
    /// Matrix-vector product for a row-major `A` with row stride `lda`:
    /// `out[i] = sum_p A[i, p] x[p]`, `A` having `out.len()` rows of
    /// `x.len()` columns (`a` must hold them all).
    pub(crate) fn gemv(a: &[f64], lda: usize, x: &[f64], out: &mut [f64]) => gemv_impl
);

/// Lanes of the running extremes: four AVX-512 vectors, so the
/// compare-and-select chains of consecutive chunks do not wait for each other.
const XL: usize = 32;

/// Max (or min) of a non-empty slice, NaN-propagating (any NaN gives NaN).
#[inline(always)]
fn extreme_impl<M: Mode>(x: &[f64], is_max: bool) -> f64 {
    let mut acc = [x[0]; XL];
    // NaN seen per lane, as 0.0/1.0 (f64 lanes vectorise better than bools).
    let mut nan = [0.0f64; XL];
    let chunks = x.chunks_exact(XL);
    let rem = chunks.remainder();
    for c in chunks {
        for l in 0..XL {
            let v = c[l];
            let take = if is_max { v > acc[l] } else { v < acc[l] };
            acc[l] = if take { v } else { acc[l] };
            nan[l] = if v.is_nan() { 1.0 } else { nan[l] };
        }
    }
    // Fold the lanes pairwise (vector ops), then finish with the remainder.
    let mut w = XL / 2;
    while w > 0 {
        for l in 0..w {
            let (a, v) = (acc[l], acc[l + w]);
            let take = if is_max { v > a } else { v < a };
            acc[l] = if take { v } else { a };
            nan[l] += nan[l + w];
        }
        w /= 2;
    }
    let mut m = acc[0];
    let mut any_nan = x[0].is_nan() || nan[0] != 0.0;
    for &v in rem {
        let take = if is_max { v > m } else { v < m };
        m = if take { v } else { m };
        any_nan |= v.is_nan();
    }
    if any_nan {
        f64::NAN
    } else {
        m
    }
}

multiversion!(
    /// Maximum (`is_max`) or minimum of a non-empty slice; NaN if any element is NaN.
    pub(crate) fn extreme(x: &[f64], is_max: bool) -> f64 => extreme_impl
);

/// Index of the first element of `row` equal to `m` (or the first NaN if
/// `m` is NaN; 0 if there is none), testing [`XL`] elements per step.
#[inline(always)]
fn position_of(row: &[f64], m: f64) -> usize {
    if m.is_nan() {
        return row.iter().position(|v| v.is_nan()).unwrap_or(0);
    }
    let chunks = row.chunks_exact(XL);
    let rem_start = row.len() - chunks.remainder().len();
    for (c, chunk) in chunks.enumerate() {
        let mut hits = 0u32;
        for &v in chunk {
            hits += (v == m) as u32;
        }
        if hits > 0 {
            return c * XL + chunk.iter().position(|&v| v == m).unwrap_or(0);
        }
    }
    row[rem_start..]
        .iter()
        .position(|&v| v == m)
        .map_or(0, |p| rem_start + p)
}

#[inline(always)]
fn arg_extreme_rows_impl<M: Mode>(src: &[f64], n: usize, is_max: bool, out: &mut Vec<f64>) {
    for row in src.chunks_exact(n) {
        // Two passes (the extreme, then its first position) measured a little
        // faster than one pass carrying 32 lanes of indices along.
        let m = extreme_impl::<M>(row, is_max);
        out.push(position_of(row, m) as f64);
    }
}

multiversion!(
    /// Appends, for each length-`n` row of `src` (`n > 0`), the index of its
    /// first maximum (`is_max`) or minimum, NaN counting as the extreme (NumPy).
    pub(crate) fn arg_extreme_rows(src: &[f64], n: usize, is_max: bool, out: &mut Vec<f64>) => arg_extreme_rows_impl
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::NoFma;

    /// Whether `v` should replace the running extreme `b` (NaN beats numbers;
    /// ties keep the earlier element).
    fn beats(v: f64, b: f64, is_max: bool) -> bool {
        let nan_first = v.is_nan() && !b.is_nan();
        (if is_max { v > b } else { v < b }) || nan_first
    }

    fn naive_arg(row: &[f64], is_max: bool) -> usize {
        let mut bi = 0;
        for (i, &v) in row.iter().enumerate() {
            if beats(v, row[bi], is_max) {
                bi = i;
            }
        }
        bi
    }

    #[test]
    fn arg_extreme_matches_naive() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % 7
        };
        for n in 1..70 {
            for _ in 0..20 {
                // Few distinct values, so ties are common; sometimes NaNs.
                let row: Vec<f64> = (0..n)
                    .map(|_| match next() {
                        6 if n % 3 == 0 => f64::NAN,
                        v => v as f64 - 3.0,
                    })
                    .collect();
                for is_max in [true, false] {
                    let mut out = Vec::new();
                    arg_extreme_rows(&row, n, is_max, &mut out);
                    let mut generic = Vec::new();
                    arg_extreme_rows_impl::<NoFma>(&row, n, is_max, &mut generic);
                    let want = naive_arg(&row, is_max) as f64;
                    assert_eq!((out[0], generic[0]), (want, want), "{row:?} max={is_max}");
                }
            }
        }
    }

    #[test]
    fn extreme_matches_naive() {
        for n in 1..100 {
            let v: Vec<f64> = (0..n).map(|i| ((i * 37 + 11) % 23) as f64 - 9.0).collect();
            assert_eq!(extreme(&v, true), v.iter().copied().fold(f64::MIN, f64::max));
            assert_eq!(extreme(&v, false), v.iter().copied().fold(f64::MAX, f64::min));
            let mut w = v.clone();
            w[(n * 7) % n] = f64::NAN;
            assert!(extreme(&w, true).is_nan() && extreme(&w, false).is_nan());
            assert!(extreme_impl::<NoFma>(&w, true).is_nan());
        }
    }

    #[test]
    fn gemv_and_dot_match_naive() {
        for (m, k) in [(0, 3), (1, 1), (3, 7), (4, 8), (5, 17), (9, 64), (13, 3)] {
            let lda = k + 2;
            let a: Vec<f64> = (0..m * lda).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
            let x: Vec<f64> = (0..k).map(|i| ((i * 3) % 5) as f64 * 0.5).collect();
            let mut out = vec![f64::NAN; m];
            gemv(&a, lda, &x, &mut out);
            let mut generic = vec![f64::NAN; m];
            gemv_impl::<NoFma>(&a, lda, &x, &mut generic);
            for i in 0..m {
                // Small integers and halves: every order of summation is exact.
                let want: f64 = (0..k).map(|p| a[i * lda + p] * x[p]).sum();
                assert_eq!((out[i], generic[i]), (want, want), "m={m} k={k} i={i}");
                assert_eq!(dot(&a[i * lda..i * lda + k], &x), want);
            }
        }
    }
}
