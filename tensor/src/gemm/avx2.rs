//! The AVX2+FMA micro-kernel: a 6x8 tile of C in 12 ymm accumulators (the
//! BLIS Haswell shape: with two B vectors and one broadcast it uses 15 of
//! the 16 registers, and 12 FMAs per 8 loads keep both FMA pipes busy).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::driver::{APanel, MicroKernel};

/// 6 rows (broadcast A values) by 8 columns (two 4-wide vectors of B).
pub(crate) struct Avx2;

/// How many rows of B ahead the kernel prefetches.
const B_AHEAD: isize = 8;

impl MicroKernel for Avx2 {
    const MR: usize = 6;
    const NR: usize = 8;

    fn rows(mr: usize) -> usize {
        match mr {
            0..=2 => 2,
            3..=4 => 4,
            _ => Self::MR,
        }
    }

    unsafe fn tile(
        kc: usize,
        a: APanel,
        b: *const f64,
        rsb: isize,
        c: *mut f64,
        rsc: isize,
        mr: usize,
        nr: usize,
        first: bool,
    ) {
        let (p, rs, cs) = (a.ptr, a.rs, a.cs);
        // Full-width tiles use plain loads and stores; only edge tiles pay
        // for masked ones.
        macro_rules! go {
            ($full:literal) => {
                if rs == 1 {
                    match Self::rows(mr) {
                        2 => kernel::<2, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                        4 => kernel::<4, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                        _ => kernel::<6, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                    }
                } else {
                    match Self::rows(mr) {
                        2 => kernel::<2, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
                        4 => kernel::<4, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
                        _ => kernel::<6, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
                    }
                }
            };
        }
        if nr >= Self::NR {
            go!(true)
        } else {
            go!(false)
        }
    }

    unsafe fn transpose_rows(a: *const f64, rsa: isize, out: *mut f64) -> bool {
        transpose_6x8(a, rsa, out);
        true
    }

    const UNPACKED_B_MAX_STRIDE: usize = 96;
    const T_ROWS: usize = 8;
    const T_COLS: usize = 6;
    const T_MAX_N: usize = 12;

    unsafe fn tile_t(
        kc: usize,
        a: *const f64,
        csa: isize,
        b: *const f64,
        rsb: isize,
        c: *mut f64,
        rsc: isize,
        mr: usize,
        nr: usize,
        first: bool,
    ) {
        debug_assert!(
            (1..=Self::T_COLS).contains(&nr),
            "the driver asks for 1..=T_COLS columns"
        );
        macro_rules! go {
            ($($n:literal)*) => {
                match (nr, mr == Self::T_ROWS) {
                    $(
                        ($n, true) => kernel_t::<$n, true>(kc, a, csa, b, rsb, c, rsc, mr, first),
                        ($n, false) => kernel_t::<$n, false>(kc, a, csa, b, rsb, c, rsc, mr, first),
                    )*
                    (_, true) => kernel_t::<6, true>(kc, a, csa, b, rsb, c, rsc, mr, first),
                    (_, false) => kernel_t::<6, false>(kc, a, csa, b, rsb, c, rsc, mr, first),
                }
            };
        }
        go!(1 2 3 4 5)
    }
}

/// The transposed orientation for a column-major A read in place:
/// `C[0..mr, 0..N] (+)= A @ B` for `mr <= 8` rows (`FULL`: `mr == 8`),
/// element `(i, p)` of A at `a + i + p * csa`, B's row `p` at `b + p * rsb`
/// (its first `N` elements read). Vectors run down the columns of C (two per
/// column: 8 rows) and B's values are broadcast, so every lane is used where
/// the 6x8 tile would use `n` of 8 columns; 12 accumulators, two A vectors
/// and a broadcast fill 15 of the 16 registers. Each element of C gets the
/// same multiply-adds in the same order as [`kernel`] (a sum over the depth
/// block from zero, then added to C unless `first`), so the result is the
/// same bits. The tile goes to C through a small array on the stack (once
/// per depth block): AVX2 has no scatter.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_t<const N: usize, const FULL: bool>(
    kc: usize,
    a: *const f64,
    csa: isize,
    b: *const f64,
    rsb: isize,
    c: *mut f64,
    rsc: isize,
    mr: usize,
    first: bool,
) {
    let mut lo = [_mm256_setzero_pd(); N];
    let mut hi = [_mm256_setzero_pd(); N];
    let (m0, m1) = (lanes(mr), lanes(mr.saturating_sub(4)));
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let (a0, a1) = if FULL {
            (_mm256_loadu_pd(ap), _mm256_loadu_pd(ap.add(4)))
        } else {
            (_mm256_maskload_pd(ap, m0), _mm256_maskload_pd(ap.add(4), m1))
        };
        for j in 0..N {
            let bv = _mm256_broadcast_sd(&*bp.add(j));
            lo[j] = _mm256_fmadd_pd(a0, bv, lo[j]);
            hi[j] = _mm256_fmadd_pd(a1, bv, hi[j]);
        }
        ap = ap.wrapping_offset(csa);
        bp = bp.wrapping_offset(rsb);
    }
    // Column j of the tile: rows 0-3 in lo[j], rows 4-7 in hi[j].
    let mut tile = [[0.0f64; 8]; N];
    for j in 0..N {
        _mm256_storeu_pd(tile[j].as_mut_ptr(), lo[j]);
        _mm256_storeu_pd(tile[j].as_mut_ptr().add(4), hi[j]);
    }
    for i in 0..mr {
        let row = c.offset(i as isize * rsc);
        for (j, col) in tile.iter().enumerate() {
            let v = col[i];
            *row.add(j) = if first { v } else { *row.add(j) + v };
        }
    }
}

/// `out[p * 6 + i] = a[i * rsa + p]` for 6 rows and 8 columns, in two
/// halves of 4 columns: rows 0-3 by a 4x4 transpose (pairs, then 128-bit
/// halves), rows 4-5 as pairs.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_6x8(a: *const f64, rsa: isize, out: *mut f64) {
    for h in 0..2 {
        let row = |i: usize| _mm256_loadu_pd(a.offset(i as isize * rsa).add(4 * h));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let t0 = _mm256_unpacklo_pd(r0, r1);
        let t1 = _mm256_unpackhi_pd(r0, r1);
        let t2 = _mm256_unpacklo_pd(r2, r3);
        let t3 = _mm256_unpackhi_pd(r2, r3);
        let cols = [
            _mm256_permute2f128_pd::<0x20>(t0, t2),
            _mm256_permute2f128_pd::<0x20>(t1, t3),
            _mm256_permute2f128_pd::<0x31>(t0, t2),
            _mm256_permute2f128_pd::<0x31>(t1, t3),
        ];
        let (r4, r5) = (row(4), row(5));
        let lo = _mm256_unpacklo_pd(r4, r5);
        let hi = _mm256_unpackhi_pd(r4, r5);
        let pairs = [
            _mm256_castpd256_pd128(lo),
            _mm256_castpd256_pd128(hi),
            _mm256_extractf128_pd::<1>(lo),
            _mm256_extractf128_pd::<1>(hi),
        ];
        let dst = out.add(4 * h * 6);
        for p in 0..4 {
            _mm256_storeu_pd(dst.add(p * 6), cols[p]);
            _mm_storeu_pd(dst.add(p * 6 + 4), pairs[p]);
        }
    }
}

/// Lane masks selecting the first `w` of 4 doubles (all lanes for `w >= 4`).
#[inline(always)]
unsafe fn lanes(w: usize) -> __m256i {
    let w = w.min(4) as i64;
    _mm256_cmpgt_epi64(_mm256_set1_epi64x(w), _mm256_setr_epi64x(0, 1, 2, 3))
}

/// `C[0..mr, 0..nr] (+)= A panel @ B panel`, as the AVX-512 kernel (see
/// there for the operand layouts), with `FULL` meaning `nr == 8`: B rows and
/// C rows are then read and written whole; otherwise only their first `nr`
/// columns are touched (masked loads and stores). All `R` rows of A are read.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const R: usize, const ROWS: bool, const FULL: bool>(
    kc: usize,
    a: *const f64,
    ars: isize,
    acs: isize,
    b: *const f64,
    rsb: isize,
    c: *mut f64,
    rsc: isize,
    mr: usize,
    nr: usize,
    first: bool,
) {
    let mut c0 = [_mm256_setzero_pd(); R];
    let mut c1 = [_mm256_setzero_pd(); R];
    let mut ap = a;
    let mut bp = b;
    let (ars, acs) = if ROWS { (ars, 1) } else { (1, acs) };
    let (m0, m1) = (lanes(nr), lanes(nr.saturating_sub(4)));
    // Fetch the C tile while the products run (see the AVX-512 kernel).
    for i in 0..R {
        let row = c.offset(i as isize * rsc) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(row);
        _mm_prefetch::<_MM_HINT_T0>(row.add(56));
    }
    let step = |ap: *const f64, bp: *const f64, c0: &mut [__m256d; R], c1: &mut [__m256d; R]| {
        // B's rows a few iterations ahead, as in the AVX-512 kernel (one
        // line per row here).
        _mm_prefetch::<_MM_HINT_T0>(bp.wrapping_offset(B_AHEAD.wrapping_mul(rsb)) as *const i8);
        let (b0, b1) = if FULL {
            (_mm256_loadu_pd(bp), _mm256_loadu_pd(bp.add(4)))
        } else {
            (_mm256_maskload_pd(bp, m0), _mm256_maskload_pd(bp.add(4), m1))
        };
        for i in 0..R {
            let av = _mm256_broadcast_sd(&*ap.offset(i as isize * ars));
            c0[i] = _mm256_fmadd_pd(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_pd(av, b1, c1[i]);
        }
    };
    // A packed panel (A's values a fixed distance apart) runs four depth
    // steps per loop trip: on an Intel core the loop's own instructions
    // otherwise cost 2-4 % at 1024-2048². Rows read in place (`ROWS`, small
    // products) keep one step per trip: unrolled, the compiler loads A's
    // values early and spills them (16 ymm registers), 10-20 % slower.
    let unrolled = if ROWS { 0 } else { kc / 4 };
    // The pointers advance with wrapping arithmetic: after the last step they
    // may point past the operands' buffers (never read there).
    for _ in 0..unrolled {
        step(ap, bp, &mut c0, &mut c1);
        step(ap.offset(acs), bp.offset(rsb), &mut c0, &mut c1);
        step(ap.offset(2 * acs), bp.offset(2 * rsb), &mut c0, &mut c1);
        step(ap.offset(3 * acs), bp.offset(3 * rsb), &mut c0, &mut c1);
        ap = ap.wrapping_offset(4 * acs);
        bp = bp.wrapping_offset(4 * rsb);
    }
    for _ in 4 * unrolled..kc {
        step(ap, bp, &mut c0, &mut c1);
        ap = ap.wrapping_offset(acs);
        bp = bp.wrapping_offset(rsb);
    }
    for i in 0..R {
        if i < mr {
            let row = c.offset(i as isize * rsc);
            let (mut v0, mut v1) = (c0[i], c1[i]);
            if FULL {
                if !first {
                    v0 = _mm256_add_pd(_mm256_loadu_pd(row), v0);
                    v1 = _mm256_add_pd(_mm256_loadu_pd(row.add(4)), v1);
                }
                _mm256_storeu_pd(row, v0);
                _mm256_storeu_pd(row.add(4), v1);
            } else {
                if !first {
                    v0 = _mm256_add_pd(_mm256_maskload_pd(row, m0), v0);
                    v1 = _mm256_add_pd(_mm256_maskload_pd(row.add(4), m1), v1);
                }
                _mm256_maskstore_pd(row, m0, v0);
                _mm256_maskstore_pd(row.add(4), m1, v1);
            }
        }
    }
}
