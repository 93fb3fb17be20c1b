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
/// Largest A (in elements) read in place by the kernel instead of packed
/// (when one of its strides is 1): a 128x128 A still fits in L2.
const UNPACKED_A_MAX: usize = 16 * 1024;
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

/// `C = A @ B` (`overwrite`) or `C += A @ B` for an `m x k` A, `k x n` B and
/// `m x n` C with unit column stride. With `overwrite` C is only written, so
/// it may be uninitialised (`k > 0`): the first depth block stores its tiles
/// instead of adding them to a zero-filled C.
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
    overwrite: bool,
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
        gemm_serial(m, k, n, am, bm, cm, overwrite);
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
            gemm_serial(m, k, step.min(n - j0), am, b1, c1, overwrite);
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
            gemm_serial(step.min(m - i0), k, n, a1, bm, c1, overwrite);
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

/// Whether A is read in place by the kernel instead of being packed: when it
/// is small (it then stays in L1/L2 across B's column panels, and packing a
/// row-major A is a scalar transpose that cost a tenth of a 64x64 product)
/// and one of its strides is 1.
fn a_in_place(m: usize, k: usize, a: Mat) -> bool {
    (a.rs == 1 || a.cs == 1) && m * k <= UNPACKED_A_MAX
}

fn gemm_serial(m: usize, k: usize, n: usize, a: Mat, b: Mat, c: Mat, overwrite: bool) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let kmax = KC.min(k);
    // In place, only a partial last row panel of A is packed.
    let a_len = if a_in_place(m, k, a) {
        MR * kmax
    } else {
        MC.min(m.div_ceil(MR) * MR) * kmax
    };
    let b_len = if b.cs == 1 && k * n <= UNPACKED_B_MAX {
        0
    } else {
        NC.min(n.div_ceil(NR) * NR) * kmax
    };
    PACK_SPACE.with(|space| match space.try_borrow_mut() {
        Ok(mut space) => {
            let (ap, bp) = space.areas(a_len, b_len);
            blocked(m, k, n, a, b, c, ap, bp, overwrite);
        }
        // Unreachable today (nothing inside `blocked` calls back here), but a
        // private space is always correct.
        Err(_) => {
            let (ap, bp) = PackSpace { v: Vec::new() }.areas(a_len, b_len);
            blocked(m, k, n, a, b, c, ap, bp, overwrite);
        }
    });
}

/// Rows of the kernel that computes a panel of `mr` rows: a last panel of
/// few rows runs a shorter kernel rather than multiplying zero padding (64
/// rows are 4 x 14 + 8: the padding was 9% of a 64x64 product).
fn kernel_rows(mr: usize) -> usize {
    match mr {
        0..=4 => 4,
        5..=8 => 8,
        _ => MR,
    }
}

/// One A micro-panel as the kernel reads it: element `(i, p)` is at
/// `ptr + i * rs + p * cs`. Packed panels have `rs = 1, cs = MR`; a
/// column-major A in place `rs = 1`; a row-major A in place `cs = 1`.
#[derive(Clone, Copy)]
struct APanel {
    ptr: *const f64,
    rs: isize,
    cs: isize,
}

/// `C[0..mr, 0..nr] (+)= A panel @ B panel` with the kernel that fits `mr`
/// and the A layout. An in-place panel must have exactly `kernel_rows(mr)`
/// rows (the kernel reads them all).
#[allow(clippy::too_many_arguments)]
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
    if rs == 1 {
        match kernel_rows(mr) {
            4 => kernel::<4, false>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
            8 => kernel::<8, false>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
            _ => kernel::<MR, false>(kc, p, 1, cs, b, rsb, c, rsc, mr, nr, first),
        }
    } else {
        match kernel_rows(mr) {
            4 => kernel::<4, true>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
            8 => kernel::<8, true>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
            _ => kernel::<MR, true>(kc, p, rs, 1, b, rsb, c, rsc, mr, nr, first),
        }
    }
}

/// The Goto loop nest over packed blocks, packing into `ap` / `bp`.
#[allow(clippy::too_many_arguments)]
fn blocked(m: usize, k: usize, n: usize, a: Mat, b: Mat, c: Mat, ap: *mut f64, bp: *mut f64, overwrite: bool) {
    let in_place = a_in_place(m, k, a);
    let unpacked_b = b.cs == 1 && k * n <= UNPACKED_B_MAX;
    let mut jc = 0;
    while jc < n {
        let nc = NC.min(n - jc);
        let mut pc = 0;
        while pc < k {
            let kc = KC.min(k - pc);
            // The first depth block stores into an uninitialised C.
            let first = overwrite && pc == 0;
            // SAFETY: indices stay within the caller-provided matrices; the
            // packing buffers are sized for full MC x KC / KC x NC blocks
            // (in-place A: one MR x KC panel).
            unsafe {
                // B in place (row stride b.rs) when it is small and row-contiguous,
                // else packed into NR-wide panels (row stride NR).
                let bsrc = b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs);
                let (bbase, rsb, panel) = if unpacked_b {
                    (bsrc as *const f64, b.rs, 1)
                } else {
                    pack_b(kc, nc, bsrc, b.rs, b.cs, bp);
                    (bp as *const f64, NR as isize, kc)
                };
                let mut ic = 0;
                while ic < m {
                    if crate::interrupt::requested() {
                        // The caller discards the result (see `interrupt`);
                        // zeros keep every element initialised.
                        for i in 0..m {
                            std::ptr::write_bytes(c.ptr.offset(i as isize * c.rs), 0, n);
                        }
                        return;
                    }
                    let mc = MC.min(m - ic);
                    let asrc = a.ptr.offset(ic as isize * a.rs + pc as isize * a.cs);
                    // In place, a last panel that the kernel for its size
                    // would over-read is packed (zero padded) instead.
                    let tail = mc % MR;
                    let tail_packed = in_place && tail != 0 && kernel_rows(tail) != tail;
                    if !in_place {
                        pack_a(mc, kc, asrc, a.rs, a.cs, ap);
                    } else if tail_packed {
                        pack_a(tail, kc, asrc.offset((mc - tail) as isize * a.rs), a.rs, a.cs, ap);
                    }
                    let apanel = |ir: usize| -> APanel {
                        if !in_place {
                            APanel {
                                ptr: ap.add(ir * kc),
                                rs: 1,
                                cs: MR as isize,
                            }
                        } else if tail_packed && ir + MR > mc {
                            APanel {
                                ptr: ap,
                                rs: 1,
                                cs: MR as isize,
                            }
                        } else {
                            APanel {
                                ptr: asrc.offset(ir as isize * a.rs),
                                rs: if a.rs == 1 { 1 } else { a.rs },
                                cs: if a.rs == 1 { a.cs } else { 1 },
                            }
                        }
                    };
                    let mut jr = 0;
                    while jr < nc {
                        let nr = NR.min(nc - jr);
                        let bpanel = bbase.add(jr * panel);
                        let mut ir = 0;
                        while ir < mc {
                            let mr = MR.min(mc - ir);
                            let cptr = c.ptr.offset((ic + ir) as isize * c.rs + (jc + jr) as isize);
                            tile(kc, apanel(ir), bpanel, rsb, cptr, c.rs, mr, nr, first);
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
    if rsa == 1 {
        // Column-major A (a transposed view): each column of the block is
        // contiguous, so walk the columns in memory order and scatter each
        // into the panels. Walking panel by panel instead read one element
        // run per column 8*lda bytes apart, all in the same L1 set.
        let panels = mc.div_ceil(MR);
        for p in 0..kc {
            let col = a.offset(p as isize * csa);
            for q in 0..panels {
                let rows = MR.min(mc - q * MR);
                let dst = out.add(q * MR * kc + p * MR);
                std::ptr::copy_nonoverlapping(col.add(q * MR), dst, rows);
                for i in rows..MR {
                    *dst.add(i) = 0.0;
                }
            }
        }
        return;
    }
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

/// `C[0..mr, 0..nr] (+)= A panel @ B panel` for an A micro-panel whose
/// element `(i, p)` is at `a + i * ars + p * acs` (`ROWS`: a row-major A in
/// place, `acs = 1`; else `ars = 1`: packed or column-major in place) and a
/// B micro-panel of `kc` rows `rsb` apart (packed: `NR`; in place: B's row
/// stride). Only the first `nr` columns of B are read (masked loads), so an
/// in-place B needs no padding; all `R` rows of A are read (`mr <= R`).
/// With `first` the tile is stored, not added to C (C may be uninitialised).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const R: usize, const ROWS: bool>(
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
    for _ in 0..kc {
        let b0 = _mm512_maskz_loadu_pd(k0, bp);
        let b1 = _mm512_maskz_loadu_pd(k1, bp.add(8));
        for i in 0..R {
            let av = _mm512_set1_pd(*ap.offset(i as isize * ars));
            c0[i] = _mm512_fmadd_pd(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_pd(av, b1, c1[i]);
        }
        ap = ap.offset(acs);
        bp = bp.offset(rsb);
    }
    // Partial tiles (mr < R or nr < NR) only touch their own part of C. An
    // unrolled loop with a row test keeps the accumulators in registers.
    for i in 0..R {
        if i < mr {
            let row = c.offset(i as isize * rsc);
            let (mut v0, mut v1) = (c0[i], c1[i]);
            if !first {
                v0 = _mm512_add_pd(_mm512_maskz_loadu_pd(k0, row), v0);
                v1 = _mm512_add_pd(_mm512_maskz_loadu_pd(k1, row.add(8)), v1);
            }
            _mm512_mask_storeu_pd(row, k0, v0);
            _mm512_mask_storeu_pd(row.add(8), k1, v1);
        }
    }
}
