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

/// Whether `v` should replace the running extreme `b` (NaN beats numbers;
/// ties keep the earlier element).
#[inline(always)]
fn beats(v: f64, b: f64, is_max: bool) -> bool {
    let nan_first = v.is_nan() && !b.is_nan();
    (if is_max { v > b } else { v < b }) || nan_first
}

/// Index of the first maximum (or minimum) of a non-empty row; NaN counts
/// as the extreme (NumPy). Eight lanes each track their own first extreme,
/// then the lanes are merged preferring the smallest index.
#[inline(always)]
fn arg_extreme_row<const IS_MAX: bool>(row: &[f64]) -> usize {
    let mut best = [row[0]; L];
    let mut idx = [0u64; L];
    let chunks = row.chunks_exact(L);
    let rem = chunks.remainder();
    let mut base = 0u64;
    for c in chunks {
        for l in 0..L {
            let better = beats(c[l], best[l], IS_MAX);
            best[l] = if better { c[l] } else { best[l] };
            idx[l] = if better { base + l as u64 } else { idx[l] };
        }
        base += L as u64;
    }
    let (mut b, mut i) = (best[0], idx[0]);
    for l in 1..L {
        let v = best[l];
        if beats(v, b, IS_MAX) || ((v == b || (v.is_nan() && b.is_nan())) && idx[l] < i) {
            b = v;
            i = idx[l];
        }
    }
    for (r, &v) in rem.iter().enumerate() {
        if beats(v, b, IS_MAX) {
            b = v;
            i = base + r as u64;
        }
    }
    i as usize
}

#[inline(always)]
fn arg_extreme_rows_impl<M: Mode>(src: &[f64], n: usize, is_max: bool, out: &mut Vec<f64>) {
    for row in src.chunks_exact(n) {
        let i = if is_max {
            arg_extreme_row::<true>(row)
        } else {
            arg_extreme_row::<false>(row)
        };
        out.push(i as f64);
    }
}

multiversion!(
    /// Appends, for each length-`n` row of `src` (`n > 0`), the index of its
    /// first maximum (`is_max`) or minimum, NaN counting as the extreme.
    pub(crate) fn arg_extreme_rows(src: &[f64], n: usize, is_max: bool, out: &mut Vec<f64>) => arg_extreme_rows_impl
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::NoFma;

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
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
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
