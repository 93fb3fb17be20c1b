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
pub(crate) fn dot_impl<M: Mode>(x: &[f64], y: &[f64]) -> f64 {
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

/// Max (or min) of a non-empty slice, NaN-propagating (any NaN gives NaN),
/// for a caller already compiled for the instruction set `M`: a slice
/// shorter than the lanes is scanned directly, which is exactly what
/// [`extreme_impl`] computes for it (all its lanes hold `x[0]`, and the
/// remainder loop then scans the whole slice).
#[inline(always)]
pub(crate) fn extreme_in<M: Mode>(x: &[f64], is_max: bool) -> f64 {
    let m = if x.len() >= XL {
        extreme_impl::<M>(x, is_max)
    } else {
        scan_rest(x[0], false, x, is_max)
    };
    signed_zero(m, x, is_max)
}

/// The extreme `m` of `x` with `-0.0 < +0.0`, as XLA's `max` and `min`
/// reductions: the scans keep the first of equal elements, so a zero
/// extreme gets its sign here (the maximum is `+0.0` if any element is, the
/// minimum `-0.0` if any element is). A second look at `x` only when the
/// extreme is zero: deciding ties inside the scan slowed every large
/// reduction by a third (16M elements: 10.2 -> 13.9 ms), this costs one more
/// pass only then (`min` of a relu'd tensor).
#[inline(always)]
pub(crate) fn signed_zero(m: f64, x: &[f64], is_max: bool) -> f64 {
    if m != 0.0 {
        return m;
    }
    let wanted = if is_max { 0.0f64 } else { -0.0f64 };
    let w = wanted.to_bits();
    // Blocks folded without an early exit vectorise (an element-wise `any`
    // ran at a scalar compare and branch per element).
    if x.chunks(1024)
        .any(|c| c.iter().fold(false, |found, v| found | (v.to_bits() == w)))
    {
        wanted
    } else {
        m
    }
}

/// Continues a max (or min) scan from `m` over `rest`, one element at a
/// time; NaN if `any_nan` or any element is NaN.
#[inline(always)]
fn scan_rest(mut m: f64, mut any_nan: bool, rest: &[f64], is_max: bool) -> f64 {
    for &v in rest {
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
    // On copies: indexed by the variable `w`, the arrays would have to live
    // in memory, and the loop above then updated them with masked stores to
    // the stack that each next chunk waited on (2.5x slower). `black_box`
    // keeps the copy from being optimised back into the originals.
    let (mut acc, mut nan) = (std::hint::black_box(acc), nan);
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
    scan_rest(acc[0], x[0].is_nan() || nan[0] != 0.0, rem, is_max)
}

multiversion!(
    /// Maximum (`is_max`) or minimum of a non-empty slice; NaN if any element is NaN.
    pub(crate) fn extreme(x: &[f64], is_max: bool) -> f64 => extreme_impl
);

/// Per-lane extremes and the chunk of their first occurrence over
/// `x.len() / XL` whole chunks (lane `l` of chunk `c` is `x[c * XL + l]`).
/// A lane that saw a NaN holds NaN. Lanes start at the opposite infinity with
/// chunk 0: an all-infinite lane then reports its first element, correctly.
type Lanes = ([f64; XL], [f64; XL]);

/// Portable [`Lanes`] pass.
#[inline(always)]
fn lanes_generic(x: &[f64], is_max: bool) -> Lanes {
    let init = if is_max { f64::NEG_INFINITY } else { f64::INFINITY };
    let mut acc = [init; XL];
    let mut at = [0.0f64; XL];
    let mut nan = [false; XL];
    for (c, chunk) in x.chunks_exact(XL).enumerate() {
        for l in 0..XL {
            let v = chunk[l];
            // Strict comparison: a lane keeps its first extreme.
            if (is_max && v > acc[l]) || (!is_max && v < acc[l]) {
                acc[l] = v;
                at[l] = c as f64;
            }
            nan[l] |= v.is_nan();
        }
    }
    for l in 0..XL {
        if nan[l] {
            acc[l] = f64::NAN;
        }
    }
    (acc, at)
}

/// [`arg_extreme_row`] with AVX-512 intrinsics (`None` without AVX-512F).
#[inline(always)]
fn arg_extreme_row_avx512(row: &[f64], is_max: bool) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::isa() == crate::simd::Isa::Avx512 {
            // SAFETY: the CPU supports AVX-512F (probed above).
            return Some(unsafe {
                if is_max {
                    arg_row_avx512_impl::<true>(row)
                } else {
                    arg_row_avx512_impl::<false>(row)
                }
            });
        }
    }
    let _ = (row, is_max);
    None
}

/// Two passes over a row that is then in L1: the extreme with eight
/// independent `vmaxpd` chains (one pass that also carried indices was bound
/// by its compare/select chains and port pressure), then the first position
/// equal to it, 32 elements per test.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn arg_row_avx512_impl<const MAX: bool>(row: &[f64]) -> usize {
    use std::arch::x86_64::*;
    let n = row.len();
    let p = row.as_ptr();
    const W: usize = 64;
    const PREFETCH: usize = 1024;
    let body = n - n % W;
    // Neither vmaxpd nor vminpd propagates NaN reliably; NaNs are detected
    // separately (an unordered compare of two vectors flags a NaN in either).
    let ext = |a: __m512d, b: __m512d| if MAX { _mm512_max_pd(a, b) } else { _mm512_min_pd(a, b) };
    // Every lane starts at the first element, which is neutral for the extreme.
    let first = _mm512_set1_pd(row[0]);
    let mut acc = [first; 8];
    let mut nanm: u8 = 0;
    let mut i = 0;
    while i < body {
        // SAFETY (whole function): every load stays below `n` (masked for the tail).
        let v: [__m512d; 8] = std::array::from_fn(|j| _mm512_loadu_pd(p.add(i + 8 * j)));
        for j in 0..8 {
            acc[j] = ext(acc[j], v[j]);
            // Keep memory busy during the L1-bound second pass and the
            // per-row bookkeeping: fetch the data one 8 KiB stretch ahead
            // (prefetches never fault; past the end they are just wasted).
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i + 8 * j + PREFETCH) as *const i8);
        }
        nanm |= _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v[0], v[1])
            | _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v[2], v[3])
            | _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v[4], v[5])
            | _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v[6], v[7]);
        i += W;
    }
    // The rest eight at a time, the last vector masked (its missing lanes
    // take the first element).
    while i < n {
        let k: u8 = if n - i >= 8 { 0xff } else { (1u8 << (n - i)) - 1 };
        let v = _mm512_mask_loadu_pd(first, k, p.add(i));
        acc[0] = ext(acc[0], v);
        nanm |= _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(v, v);
        i += 8;
    }
    if nanm != 0 {
        return row.iter().position(|v| v.is_nan()).unwrap_or(0);
    }
    let r = ext(
        ext(ext(acc[0], acc[1]), ext(acc[2], acc[3])),
        ext(ext(acc[4], acc[5]), ext(acc[6], acc[7])),
    );
    let m = if MAX {
        _mm512_reduce_max_pd(r)
    } else {
        _mm512_reduce_min_pd(r)
    };
    // The first element equal to the extreme (there is one: `m` is an element).
    let mv = _mm512_set1_pd(m);
    let quads = n - n % 32;
    let mut i = 0;
    while i < quads {
        let hit = |j: usize| _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(_mm512_loadu_pd(p.add(i + 8 * j)), mv) as u32;
        let bits = hit(0) | hit(1) << 8 | hit(2) << 16 | hit(3) << 24;
        if bits != 0 {
            return i + bits.trailing_zeros() as usize;
        }
        i += 32;
    }
    row[quads..].iter().position(|&v| v == m).map_or(0, |q| quads + q)
}

/// Index of the first maximum (`is_max`) or minimum of a non-empty row, a
/// NaN counting as the extreme (so the first NaN wins, as in NumPy).
///
/// One pass: each of [`XL`] lanes keeps its running extreme and the chunk in
/// which it was first seen (as `f64`, so the selects vectorise with the
/// compares); the lanes are then merged by smallest index among those that
/// hold the overall extreme. This replaced an extreme-then-position scheme
/// that read most of every row twice.
#[inline(always)]
fn arg_extreme_row(row: &[f64], is_max: bool) -> usize {
    if let Some(i) = arg_extreme_row_avx512(row, is_max) {
        return i;
    }
    arg_extreme_row_generic(row, is_max)
}

/// Portable [`arg_extreme_row`]: one pass over [`Lanes`].
#[inline(always)]
fn arg_extreme_row_generic(row: &[f64], is_max: bool) -> usize {
    let rem = row.chunks_exact(XL).remainder();
    let rem_start = row.len() - rem.len();
    let (mut m, mut best) = (row[0], 0usize);
    if rem_start > 0 {
        let (acc, at) = lanes_generic(&row[..rem_start], is_max);
        // A NaN never wins a comparison, so lanes never hold one: check separately.
        if acc.iter().any(|v| v.is_nan()) {
            return row.iter().position(|v| v.is_nan()).unwrap_or(0);
        }
        m = acc[0];
        for &v in &acc[1..] {
            m = if (is_max && v > m) || (!is_max && v < m) { v } else { m };
        }
        best = usize::MAX;
        for l in 0..XL {
            if acc[l] == m {
                best = best.min(at[l] as usize * XL + l);
            }
        }
    }
    // The tail lies after every chunk, so only a strictly better value moves
    // the answer; a NaN there is the first NaN of the row.
    for (i, &v) in rem.iter().enumerate() {
        if v.is_nan() {
            return rem_start + i;
        }
        let take = if is_max { v > m } else { v < m };
        if take || (rem_start == 0 && i == 0) {
            m = v;
            best = rem_start + i;
        }
    }
    best
}

#[inline(always)]
fn arg_extreme_rows_impl<M: Mode>(src: &[f64], n: usize, is_max: bool, out: &mut Vec<f64>) {
    for row in src.chunks_exact(n) {
        out.push(arg_extreme_row(row, is_max) as f64);
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
        for n in 1..140 {
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
    fn arg_row_paths_agree() {
        let mut state = 777u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % 9
        };
        for n in (1..300).step_by(7).chain([32, 64, 128, 1000]) {
            for case in 0..30 {
                let row: Vec<f64> = (0..n)
                    .map(|_| match next() {
                        8 if case % 4 == 0 => f64::NAN,
                        7 => f64::INFINITY,
                        6 => f64::NEG_INFINITY,
                        v => v as f64,
                    })
                    .collect();
                for is_max in [true, false] {
                    let want = naive_arg(&row, is_max);
                    assert_eq!(arg_extreme_row_generic(&row, is_max), want, "{row:?} max={is_max}");
                    if let Some(got) = arg_extreme_row_avx512(&row, is_max) {
                        assert_eq!(got, want, "{row:?} max={is_max}");
                    }
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
