//! A packed AVX-512 double-precision GEMM (Goto/BLIS blocking, 14x16
//! micro-kernel, two threads for large products). Used when the CPU supports
//! AVX-512F; otherwise `matrixmultiply` is used.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Micro-tile rows (broadcast A values).
const MR: usize = 14;
/// Micro-tile columns (two 8-wide vectors of B).
const NR: usize = 16;
/// Depth of a packed block.
const KC: usize = 256;
/// Rows of a packed A block (a multiple of MR).
const MC: usize = MR * 12;
/// Columns of a packed B block (a multiple of NR).
const NC: usize = NR * 64;
/// Largest B (in elements) read in place instead of packed when its rows are
/// contiguous: it then stays in L2 across the row panels of A, and for the
/// small products of a training loop the copy cost a fifth of the time.
const UNPACKED_B_MAX: usize = 32 * 1024;
/// Multiply-adds above which a product is split between the caller and the
/// pool's helper thread (measured on a 2-core AVX-512 machine; below it the
/// hand-off costs more than it saves).
pub(crate) const PARALLEL_FLOPS: f64 = 1.0e6;
/// Target size of one shared piece of a batch of small products (multiply-adds).
pub(crate) const PIECE_FLOPS: f64 = 0.5e6;

/// Whether this CPU can run the AVX-512 kernel (cached by std).
#[inline]
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Raw matrix view (pointer + strides) that may be sent to a worker thread.
#[derive(Clone, Copy)]
struct Mat {
    ptr: *mut f64,
    rs: isize,
    cs: isize,
}
// SAFETY: the threads touch disjoint parts of C and only read A and B.
unsafe impl Send for Mat {}
unsafe impl Sync for Mat {}

/// `C += A @ B` for an `m x k` A, `k x n` B and `m x n` C with unit column stride.
///
/// # Safety
/// The pointers/strides must address valid memory, C must not alias A or B,
/// `csc == 1`, and [`available`] must be true.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f64,
    rsa: isize,
    csa: isize,
    b: *const f64,
    rsb: isize,
    csb: isize,
    c: *mut f64,
    rsc: isize,
) {
    let am = Mat {
        ptr: a as *mut f64,
        rs: rsa,
        cs: csa,
    };
    let bm = Mat {
        ptr: b as *mut f64,
        rs: rsb,
        cs: csb,
    };
    let cm = Mat { ptr: c, rs: rsc, cs: 1 };
    let flops = m as f64 * n as f64 * k as f64;
    if flops < PARALLEL_FLOPS || (m < 2 * MR && n < 2 * NR) || !crate::pool::helper_worthwhile() {
        gemm_serial(m, k, n, am, bm, cm);
        return;
    }
    // Split the larger of m and n in two halves of whole micro-panels, shared
    // with the pool's helper thread (each piece packs its own copy of the
    // other operand, so more pieces would cost more packing than they buy
    // in balance; a late helper is handled by the pool).
    let pieces = 2;
    if n >= m {
        let step = n.div_ceil(pieces).div_ceil(NR) * NR;
        crate::pool::for_each_piece(n.div_ceil(step), |i| {
            // Capture the whole (Sync) views, not their raw-pointer fields.
            let (am, bm, cm) = (am, bm, cm);
            let j0 = i * step;
            let b1 = Mat {
                ptr: bm.ptr.offset(j0 as isize * bm.cs),
                ..bm
            };
            let c1 = Mat {
                ptr: cm.ptr.add(j0),
                ..cm
            };
            gemm_serial(m, k, step.min(n - j0), am, b1, c1);
        });
    } else {
        let step = m.div_ceil(pieces).div_ceil(MR) * MR;
        crate::pool::for_each_piece(m.div_ceil(step), |i| {
            let (am, bm, cm) = (am, bm, cm);
            let i0 = i * step;
            let a1 = Mat {
                ptr: am.ptr.offset(i0 as isize * am.rs),
                ..am
            };
            let c1 = Mat {
                ptr: cm.ptr.offset(i0 as isize * cm.rs),
                ..cm
            };
            gemm_serial(step.min(m - i0), k, n, a1, bm, c1);
        });
    }
}

/// Aligned packing space, one per thread and kept for the thread's life:
/// allocating it per product cost the helper thread (whose malloc arena
/// returns large blocks to the OS) page faults worth half its share.
struct PackSpace {
    v: Vec<__m512d>,
}

impl PackSpace {
    /// Pointers to an A area of `a_len` and a B area of `b_len` doubles,
    /// each 64-byte aligned, growing the space if needed.
    fn areas(&mut self, a_len: usize, b_len: usize) -> (*mut f64, *mut f64) {
        let (a_vecs, b_vecs) = (a_len.div_ceil(8), b_len.div_ceil(8));
        if self.v.len() < a_vecs + b_vecs {
            // SAFETY: an all-zero bit pattern is a valid __m512d.
            self.v.resize(a_vecs + b_vecs, unsafe { _mm512_setzero_pd() });
        }
        let base = self.v.as_mut_ptr() as *mut f64;
        // SAFETY: the space holds a_vecs + b_vecs vectors.
        (base, unsafe { base.add(a_vecs * 8) })
    }
}

thread_local! {
    static PACK_SPACE: std::cell::RefCell<PackSpace> =
        const { std::cell::RefCell::new(PackSpace { v: Vec::new() }) };
}

fn gemm_serial(m: usize, k: usize, n: usize, a: Mat, b: Mat, c: Mat) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let kmax = KC.min(k);
    let a_len = MC.min(m.div_ceil(MR) * MR) * kmax;
    let b_len = if b.cs == 1 && k * n <= UNPACKED_B_MAX {
        0
    } else {
        NC.min(n.div_ceil(NR) * NR) * kmax
    };
    PACK_SPACE.with(|space| match space.try_borrow_mut() {
        Ok(mut space) => {
            let (ap, bp) = space.areas(a_len, b_len);
            blocked(m, k, n, a, b, c, ap, bp);
        }
        // Unreachable today (nothing inside `blocked` calls back here), but a
        // private space is always correct.
        Err(_) => {
            let (ap, bp) = PackSpace { v: Vec::new() }.areas(a_len, b_len);
            blocked(m, k, n, a, b, c, ap, bp);
        }
    });
}

/// The Goto loop nest over packed blocks, packing into `ap` / `bp`.
#[allow(clippy::too_many_arguments)]
fn blocked(m: usize, k: usize, n: usize, a: Mat, b: Mat, c: Mat, ap: *mut f64, bp: *mut f64) {
    let mut jc = 0;
    while jc < n {
        let nc = NC.min(n - jc);
        let mut pc = 0;
        while pc < k {
            let kc = KC.min(k - pc);
            // SAFETY: indices stay within the caller-provided matrices; the
            // packing buffers are sized for full MC x KC / KC x NC blocks.
            unsafe {
                // B in place (row stride b.rs) when it is small and row-contiguous,
                // else packed into NR-wide panels (row stride NR).
                let bsrc = b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs);
                let unpacked = b.cs == 1 && k * n <= UNPACKED_B_MAX;
                let (bbase, rsb, panel) = if unpacked {
                    (bsrc as *const f64, b.rs, 1)
                } else {
                    pack_b(kc, nc, bsrc, b.rs, b.cs, bp);
                    (bp as *const f64, NR as isize, kc)
                };
                let mut ic = 0;
                while ic < m {
                    let mc = MC.min(m - ic);
                    pack_a(
                        mc,
                        kc,
                        a.ptr.offset(ic as isize * a.rs + pc as isize * a.cs),
                        a.rs,
                        a.cs,
                        ap,
                    );
                    let mut jr = 0;
                    while jr < nc {
                        let nr = NR.min(nc - jr);
                        let bpanel = bbase.add(jr * panel);
                        let mut ir = 0;
                        while ir < mc {
                            let mr = MR.min(mc - ir);
                            let cptr = c.ptr.offset((ic + ir) as isize * c.rs + (jc + jr) as isize);
                            let apanel = ap.add(ir * kc);
                            // A last panel of few rows runs a shorter kernel
                            // rather than multiplying zero padding (64 rows are
                            // 4 x 14 + 8: the padding was 9% of a 64x64 product).
                            match mr {
                                0..=4 => kernel::<4>(kc, apanel, bpanel, rsb, cptr, c.rs, mr, nr),
                                5..=8 => kernel::<8>(kc, apanel, bpanel, rsb, cptr, c.rs, mr, nr),
                                _ => kernel::<MR>(kc, apanel, bpanel, rsb, cptr, c.rs, mr, nr),
                            }
                            ir += MR;
                        }
                        jr += NR;
                    }
                    ic += MC;
                }
            }
            pc += KC;
        }
        jc += NC;
    }
}

/// Packs an `mc x kc` block of A into MR-row panels (k-major inside a panel), zero padded.
unsafe fn pack_a(mc: usize, kc: usize, a: *const f64, rsa: isize, csa: isize, out: *mut f64) {
    let mut dst = out;
    let mut i0 = 0;
    while i0 < mc {
        let mr = MR.min(mc - i0);
        if mr == MR {
            // Full panel: no per-element bound test (it kept this loop scalar
            // and branchy, a tenth of a 64x64 product).
            for p in 0..kc {
                let col = a.offset(i0 as isize * rsa + p as isize * csa);
                for i in 0..MR {
                    *dst.add(i) = *col.offset(i as isize * rsa);
                }
                dst = dst.add(MR);
            }
        } else {
            for p in 0..kc {
                let col = a.offset(i0 as isize * rsa + p as isize * csa);
                for i in 0..MR {
                    *dst.add(i) = if i < mr { *col.offset(i as isize * rsa) } else { 0.0 };
                }
                dst = dst.add(MR);
            }
        }
        i0 += MR;
    }
}

/// Packs a `kc x nc` block of B into NR-column panels (k-major inside a panel), zero padded.
unsafe fn pack_b(kc: usize, nc: usize, b: *const f64, rsb: isize, csb: isize, out: *mut f64) {
    let mut dst = out;
    let mut j0 = 0;
    while j0 < nc {
        let nr = NR.min(nc - j0);
        for p in 0..kc {
            let row = b.offset(p as isize * rsb + j0 as isize * csb);
            if nr == NR && csb == 1 {
                std::ptr::copy_nonoverlapping(row, dst, NR);
            } else {
                for j in 0..NR {
                    *dst.add(j) = if j < nr { *row.offset(j as isize * csb) } else { 0.0 };
                }
            }
            dst = dst.add(NR);
        }
        j0 += NR;
    }
}

/// `C[0..mr, 0..nr] += Apanel @ Bpanel` for a packed A micro-panel and a
/// B micro-panel of `kc` rows `rsb` apart (packed: `NR`; in place: B's row
/// stride). Only the first `nr` columns of B are read (masked loads), so an
/// in-place B needs no padding. Computes the first `R <= MR` rows of the
/// panel (`mr <= R`); the A panel keeps its `MR` stride.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize>(
    kc: usize,
    a: *const f64,
    b: *const f64,
    rsb: isize,
    c: *mut f64,
    rsc: isize,
    mr: usize,
    nr: usize,
) {
    let mut c0 = [_mm512_setzero_pd(); R];
    let mut c1 = [_mm512_setzero_pd(); R];
    let mut ap = a;
    let mut bp = b;
    let mask = |w: usize| -> __mmask8 {
        if w >= 8 {
            0xff
        } else {
            ((1u32 << w) - 1) as __mmask8
        }
    };
    let (k0, k1) = (mask(nr), mask(nr.saturating_sub(8)));
    for _ in 0..kc {
        let b0 = _mm512_maskz_loadu_pd(k0, bp);
        let b1 = _mm512_maskz_loadu_pd(k1, bp.add(8));
        for i in 0..R {
            let av = _mm512_set1_pd(*ap.add(i));
            c0[i] = _mm512_fmadd_pd(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_pd(av, b1, c1[i]);
        }
        ap = ap.add(MR);
        bp = bp.offset(rsb);
    }
    // Partial tiles (mr < R or nr < NR) only touch their own part of C.
    for (i, (v0, v1)) in c0.iter().zip(&c1).enumerate().take(mr) {
        let row = c.offset(i as isize * rsc);
        _mm512_mask_storeu_pd(row, k0, _mm512_add_pd(_mm512_maskz_loadu_pd(k0, row), *v0));
        _mm512_mask_storeu_pd(
            row.add(8),
            k1,
            _mm512_add_pd(_mm512_maskz_loadu_pd(k1, row.add(8)), *v1),
        );
    }
}
