//! The AVX-512 micro-kernel: a 14x16 tile of C in 28 zmm accumulators.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::driver::{APanel, MicroKernel};

/// 14 rows (broadcast A values) by 16 columns (two 8-wide vectors of B).
pub(crate) struct Avx512;

/// How many rows of B ahead the kernel prefetches (4-6 measured alike).
const B_AHEAD: isize = 5;

impl MicroKernel for Avx512 {
    const MR: usize = 14;
    const NR: usize = 16;
    const FEW_ROWS: usize = 96;

    fn rows(mr: usize) -> usize {
        // A last panel of few rows runs a shorter kernel rather than
        // multiplying zero padding (64 rows are 4 x 14 + 8: the padding was
        // 9% of a 64x64 product).
        match mr {
            0..=4 => 4,
            5..=8 => 8,
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
        // Full-width tiles use plain loads and stores of B and C; only edge
        // tiles pay for masked ones.
        macro_rules! go {
            ($full:literal) => {
                if rs == 1 {
                    match Self::rows(mr) {
                        4 => kernel::<4, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                        8 => kernel::<8, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                        _ => kernel::<14, false, $full>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
                    }
                } else {
                    match Self::rows(mr) {
                        4 => kernel::<4, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
                        8 => kernel::<8, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
                        _ => kernel::<14, true, $full>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
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
        transpose_14x8(a, rsa, out);
        true
    }

    const T_ROWS: usize = 16;
    const T_COLS: usize = 10;
    const T_MAX_N: usize = 14;

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
        match nr {
            1 => kernel_t::<1>(kc, a, csa, b, rsb, c, rsc, mr, first),
            2 => kernel_t::<2>(kc, a, csa, b, rsb, c, rsc, mr, first),
            3 => kernel_t::<3>(kc, a, csa, b, rsb, c, rsc, mr, first),
            4 => kernel_t::<4>(kc, a, csa, b, rsb, c, rsc, mr, first),
            5 => kernel_t::<5>(kc, a, csa, b, rsb, c, rsc, mr, first),
            6 => kernel_t::<6>(kc, a, csa, b, rsb, c, rsc, mr, first),
            7 => kernel_t::<7>(kc, a, csa, b, rsb, c, rsc, mr, first),
            8 => kernel_t::<8>(kc, a, csa, b, rsb, c, rsc, mr, first),
            9 => kernel_t::<9>(kc, a, csa, b, rsb, c, rsc, mr, first),
            _ => kernel_t::<10>(kc, a, csa, b, rsb, c, rsc, mr, first),
        }
    }
}

/// The transposed orientation for a C of at most 10 columns and a
/// column-major A read in place: `C[0..mr, 0..N] (+)= A @ B` for `mr <= 16`
/// rows, element `(i, p)` of A at `a + i + p * csa`, B's row `p` at `b + p *
/// rsb` (its first `N` elements read). Vectors run down the columns of C
/// (two per column: 16 rows) and B's values are broadcast, so every lane
/// is used; the 14x16 kernel used 10 of 16 lanes at n = 10. Each element
/// of C gets the same multiply-adds in the same order as there (a sum over
/// the depth block from zero, then added to C unless `first`), so the
/// result is the same bits. The tile is written by scatters (once per
/// depth block).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn kernel_t<const N: usize>(
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
    let mut lo = [_mm512_setzero_pd(); N];
    let mut hi = [_mm512_setzero_pd(); N];
    let mask = |w: usize| -> __mmask8 {
        if w >= 8 {
            0xff
        } else {
            ((1u32 << w) - 1) as __mmask8
        }
    };
    let (k0, k1) = (mask(mr), mask(mr.saturating_sub(8)));
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let a0 = _mm512_maskz_loadu_pd(k0, ap);
        let a1 = _mm512_maskz_loadu_pd(k1, ap.add(8));
        for j in 0..N {
            let bv = _mm512_set1_pd(*bp.add(j));
            lo[j] = _mm512_fmadd_pd(a0, bv, lo[j]);
            hi[j] = _mm512_fmadd_pd(a1, bv, hi[j]);
        }
        ap = ap.wrapping_offset(csa);
        bp = bp.wrapping_offset(rsb);
    }
    // Lane l of column j's vectors is C[l, j] / C[8 + l, j].
    let r = rsc as i64;
    let idx = _mm512_set_epi64(7 * r, 6 * r, 5 * r, 4 * r, 3 * r, 2 * r, r, 0);
    let c8 = c.offset(8 * rsc);
    for j in 0..N {
        let (mut v0, mut v1) = (lo[j], hi[j]);
        if !first {
            let z = _mm512_setzero_pd();
            v0 = _mm512_add_pd(_mm512_mask_i64gather_pd::<8>(z, k0, idx, c.add(j)), v0);
            v1 = _mm512_add_pd(_mm512_mask_i64gather_pd::<8>(z, k1, idx, c8.add(j)), v1);
        }
        _mm512_mask_i64scatter_pd::<8>(c.add(j), k0, idx, v0);
        _mm512_mask_i64scatter_pd::<8>(c8.add(j), k1, idx, v1);
    }
}

/// The 8x8 transpose of the rows `r` (column `j` of the result in `r[j]`):
/// pairs, then 128-bit lanes, then 256-bit halves.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_8x8(r: [__m512d; 8]) -> [__m512d; 8] {
    let t = [
        _mm512_unpacklo_pd(r[0], r[1]),
        _mm512_unpackhi_pd(r[0], r[1]),
        _mm512_unpacklo_pd(r[2], r[3]),
        _mm512_unpackhi_pd(r[2], r[3]),
        _mm512_unpacklo_pd(r[4], r[5]),
        _mm512_unpackhi_pd(r[4], r[5]),
        _mm512_unpacklo_pd(r[6], r[7]),
        _mm512_unpackhi_pd(r[6], r[7]),
    ];
    let u = [
        _mm512_shuffle_f64x2::<0x88>(t[0], t[2]),
        _mm512_shuffle_f64x2::<0x88>(t[1], t[3]),
        _mm512_shuffle_f64x2::<0xdd>(t[0], t[2]),
        _mm512_shuffle_f64x2::<0xdd>(t[1], t[3]),
        _mm512_shuffle_f64x2::<0x88>(t[4], t[6]),
        _mm512_shuffle_f64x2::<0x88>(t[5], t[7]),
        _mm512_shuffle_f64x2::<0xdd>(t[4], t[6]),
        _mm512_shuffle_f64x2::<0xdd>(t[5], t[7]),
    ];
    [
        _mm512_shuffle_f64x2::<0x88>(u[0], u[4]),
        _mm512_shuffle_f64x2::<0x88>(u[1], u[5]),
        _mm512_shuffle_f64x2::<0x88>(u[2], u[6]),
        _mm512_shuffle_f64x2::<0x88>(u[3], u[7]),
        _mm512_shuffle_f64x2::<0xdd>(u[0], u[4]),
        _mm512_shuffle_f64x2::<0xdd>(u[1], u[5]),
        _mm512_shuffle_f64x2::<0xdd>(u[2], u[6]),
        _mm512_shuffle_f64x2::<0xdd>(u[3], u[7]),
    ]
}

/// `out[p * 14 + i] = a[i * rsa + p]` for 14 rows and 8 columns: rows 0-7
/// and rows 8-13 (two zero rows added) as two 8x8 transposes.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_14x8(a: *const f64, rsa: isize, out: *mut f64) {
    let row = |i: usize| _mm512_loadu_pd(a.offset(i as isize * rsa));
    let top = transpose_8x8([row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7)]);
    let z = _mm512_setzero_pd();
    let bottom = transpose_8x8([row(8), row(9), row(10), row(11), row(12), row(13), z, z]);
    for p in 0..8 {
        _mm512_storeu_pd(out.add(p * 14), top[p]);
        _mm512_mask_storeu_pd(out.add(p * 14 + 8), 0x3f, bottom[p]);
    }
}

/// `C[0..mr, 0..nr] (+)= A panel @ B panel` for an A micro-panel whose
/// element `(i, p)` is at `a + i * ars + p * acs` (`ROWS`: a row-major A in
/// place, `acs = 1`; else `ars = 1`: packed or column-major in place) and a
/// B micro-panel of `kc` rows `rsb` apart (packed: `NR`; in place: B's row
/// stride). Only the first `nr` columns of B are read (masked loads), so an
/// in-place B needs no padding; all `R` rows of A are read (`mr <= R`).
/// `FULL` means `nr == 16`: B and C rows are then loaded and stored whole.
/// With `first` the tile is stored, not added to C (C may be uninitialised).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
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
    let mut c0 = [_mm512_setzero_pd(); R];
    let mut c1 = [_mm512_setzero_pd(); R];
    let mut ap = a;
    let mut bp = b;
    // Constant strides let the packed kernel address A with immediates.
    let (ars, acs) = if ROWS { (ars, 1) } else { (1, acs) };
    let mask = |w: usize| -> __mmask8 {
        if w >= 8 {
            0xff
        } else {
            ((1u32 << w) - 1) as __mmask8
        }
    };
    let (k0, k1) = (mask(nr), mask(nr.saturating_sub(8)));
    // Fetch the C tile while the products run: its rows are a whole row of
    // C apart, often a multiple of 4 KiB, so they miss L1 by conflict.
    for i in 0..R {
        let row = c.offset(i as isize * rsc) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(row);
        _mm_prefetch::<_MM_HINT_T0>(row.add(120));
    }
    // The pointers advance with wrapping arithmetic: after the last step they
    // may point past the operands' buffers (never read there).
    for _ in 0..kc {
        // B streams from L2 (the A micro-panel is the one kept in L1):
        // asking for its rows a few iterations ahead measured 3 % faster
        // at 256-2048² on a Xeon (the hardware prefetcher alone left the
        // loads waiting). A prefetch past the panel's end is harmless
        // (prefetches do not fault), hence the wrapping arithmetic.
        let ahead = bp.wrapping_offset(B_AHEAD.wrapping_mul(rsb)) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(ahead);
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64));
        let (b0, b1) = if FULL {
            (_mm512_loadu_pd(bp), _mm512_loadu_pd(bp.add(8)))
        } else {
            (_mm512_maskz_loadu_pd(k0, bp), _mm512_maskz_loadu_pd(k1, bp.add(8)))
        };
        for i in 0..R {
            let av = _mm512_set1_pd(*ap.offset(i as isize * ars));
            c0[i] = _mm512_fmadd_pd(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_pd(av, b1, c1[i]);
        }
        ap = ap.wrapping_offset(acs);
        bp = bp.wrapping_offset(rsb);
    }
    // Partial tiles (mr < R or nr < NR) only touch their own part of C. An
    // unrolled loop with a row test keeps the accumulators in registers.
    for i in 0..R {
        if i < mr {
            let row = c.offset(i as isize * rsc);
            let (mut v0, mut v1) = (c0[i], c1[i]);
            if FULL {
                if !first {
                    v0 = _mm512_add_pd(_mm512_loadu_pd(row), v0);
                    v1 = _mm512_add_pd(_mm512_loadu_pd(row.add(8)), v1);
                }
                _mm512_storeu_pd(row, v0);
                _mm512_storeu_pd(row.add(8), v1);
            } else {
                if !first {
                    v0 = _mm512_add_pd(_mm512_maskz_loadu_pd(k0, row), v0);
                    v1 = _mm512_add_pd(_mm512_maskz_loadu_pd(k1, row.add(8)), v1);
                }
                _mm512_mask_storeu_pd(row, k0, v0);
                _mm512_mask_storeu_pd(row.add(8), k1, v1);
            }
        }
    }
}
