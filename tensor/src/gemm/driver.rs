//! The Goto/BLIS loop nest around a micro-kernel: blocks of B (`KC x NC`)
//! packed once into a buffer that both threads read, blocks of A (`MC x
//! KC`) packed by whichever thread computes with them, and the micro-kernel
//! over `MR x NR` tiles. Block sizes come from the detected cache sizes.

use crate::cache::{caches, Caches};
use std::cell::RefCell;
use std::thread::LocalKey;

/// Largest A (in elements) read in place by the kernel instead of packed
/// (when one of its strides is 1): a 128x128 A still fits in L2, and packing
/// a row-major A is a scalar transpose that cost a tenth of a 64x64 product.
const UNPACKED_A_MAX: usize = 16 * 1024;
/// Largest B (in elements) read in place instead of packed when its rows are
/// contiguous, whatever the rows of C: it then stays in L2 across the row
/// panels of A, and for the small products of a training loop the copy cost
/// a fifth of the time. (For few rows of C a larger B is read in place too,
/// see [`MicroKernel::FEW_ROWS`].)
const UNPACKED_B_MAX: usize = 32 * 1024;
/// Column panels of C up to which A is never packed (see [`a_in_place`]).
const SKINNY_PANELS: usize = 4;
/// Largest column stride (elements) of a column-major A read in place for
/// a skinny C (see [`a_in_place`]).
const SKINNY_COL_STRIDE: usize = 512;
/// About the most bytes of A packed at once ahead of all of B's column
/// blocks (see [`APacking::Hoisted`]): 2048 rows at a depth block of 256.
const HOIST_A_BYTES: usize = 4 << 20;
/// B panels packed per shared packing piece.
const PACK_GROUP: usize = 8;
/// Pieces of a block's computation to aim for on two threads: more than two
/// so that a helper that starts late (its core busy) still gets a share.
const MIN_PIECES: usize = 4;

/// One micro-kernel: computes an `MR x NR` tile of C from an A micro-panel
/// and a B micro-panel.
pub(crate) trait MicroKernel {
    /// Tile rows.
    const MR: usize;
    /// Tile columns.
    const NR: usize;
    /// Rows of the kernel variant that computes a panel of `mr <= MR` rows
    /// (a short last panel runs a shorter kernel rather than multiplying
    /// zero padding).
    fn rows(mr: usize) -> usize;
    /// `C[0..mr, 0..nr] (+)= A panel @ B panel` over depth `kc`; the B panel
    /// has `kc` rows `rsb` apart of which the first `nr` columns are read.
    /// With `first` the tile is stored, not added (C may be uninitialised).
    ///
    /// # Safety
    /// The panels must hold `rows(mr)` rows of A and `nr` columns of B for
    /// depth `kc`, C must be writable for `mr x nr` at row stride `rsc`,
    /// and the CPU must support the kernel's instructions.
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
    );

    /// Transposes the `MR x w` block at `a` (row stride `rsa`, unit column
    /// stride, `w <= 8`) into `out[p * MR + i]` with vector shuffles, or
    /// returns false (writing nothing) if the kernel has no such routine.
    /// Packing a row-major A one element at a time took a tenth of a 256x256
    /// product.
    ///
    /// # Safety
    /// `a` must be readable for `MR` rows of 8 elements (`w == 8`) and `out`
    /// writable for `8 * MR` elements; the CPU must support the kernel.
    unsafe fn transpose_rows(a: *const f64, rsa: isize, out: *mut f64) -> bool {
        let _ = (a, rsa, out);
        false
    }

    /// Rows of C per tile of [`MicroKernel::tile_t`] (0: the kernel has none).
    const T_ROWS: usize = 0;
    /// Most columns of C one [`MicroKernel::tile_t`] computes.
    const T_COLS: usize = 0;
    /// Largest row stride of B (in elements) at which a small B (see
    /// [`UNPACKED_B_MAX`]) is read in place. A panel of the AVX2 kernel is
    /// one cache line per row of B: at strides of 1 KiB and more those lines
    /// share few L1 sets and evict each other, and packing B gained (1
    /// thread: 64x256x128 94 -> 83-85 us, 128x64x256 48 -> 54 GFLOP/s) where at
    /// 64 and 96 columns it lost 5-9% (hence 96, set from those
    /// measurements). The AVX-512 kernel does twice the work per line of B
    /// and gains nothing from packing it.
    const UNPACKED_B_MAX_STRIDE: usize = usize::MAX;
    /// Rows of C up to which a B larger than [`UNPACKED_B_MAX`] (up to half
    /// of L2) is read in place too, each B micro-panel then kept in L1
    /// across the few row panels of A (the classic order); 0: never. With
    /// 32 rows a packed element of B serves only 64 multiply-adds, too few
    /// to repay its copy: on the AVX-512 Xeon (B in L2) 1 thread 32x144x784
    /// 63 -> 74 GFLOP/s, 16x144x784 49 -> 61, 96x144x784 78 -> 82 (from 128
    /// rows on packing wins), and 2 threads, where the shared packing also
    /// synchronised, 32x144x784 80 -> 130, 16x144x784 57 -> 101, 64x576x196
    /// 85 -> 124, 64x256x512 120 -> 150. The AVX2 kernel measured mixed
    /// (64x512x96 54 -> 48, 48x800x64 52 -> 56) and keeps packing.
    const FEW_ROWS: usize = 0;
    /// Most columns of C for which products take the transposed orientation
    /// (in column tiles of equal width, at most `T_COLS` each).
    const T_MAX_N: usize = Self::T_COLS;

    /// The transposed orientation, for a column-major A read in place and
    /// a C of few columns: `C[0..mr, 0..nr] (+)= A @ B` (`nr <= T_COLS`) over
    /// depth `kc` (`mr <= T_ROWS`), element `(i, p)` of A at `a + i + p *
    /// csa`, B's row `p` at `b + p * rsb`; the same multiply-adds in the same
    /// order as [`MicroKernel::tile`]. Only called when `T_ROWS > 0`.
    ///
    /// # Safety
    /// As `tile`, for `mr` rows of A and `nr` columns of B.
    #[allow(clippy::too_many_arguments)]
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
        let _ = (kc, a, csa, b, rsb, c, rsc, mr, nr, first);
        unreachable!("tile_t is only called on kernels with T_ROWS > 0");
    }
}

/// One A micro-panel as the kernel reads it: element `(i, p)` is at
/// `ptr + i * rs + p * cs`. Packed panels have `rs = 1, cs = MR`; a
/// column-major A in place `rs = 1`; a row-major A in place `cs = 1`.
#[derive(Clone, Copy)]
pub(crate) struct APanel {
    /// Element (0, 0).
    pub ptr: *const f64,
    /// Distance between rows.
    pub rs: isize,
    /// Distance between columns.
    pub cs: isize,
}

/// Raw matrix view (pointer + strides) that may be sent to the helper thread.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    /// Element (0, 0).
    pub ptr: *mut f64,
    /// Row stride.
    pub rs: isize,
    /// Column stride.
    pub cs: isize,
}
// SAFETY: the threads write disjoint parts of C and of the packed B buffer
// (between the phases that read it) and only read A and B.
unsafe impl Send for Mat {}
unsafe impl Sync for Mat {}

/// L2 caches of at least this size get the loop order that runs each A
/// micro-panel along the whole packed B block (see [`Blocking::b_in_l2`]).
const LARGE_L2: usize = 1024 * 1024;

/// Block sizes and loop order of the loop nest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blocking {
    /// Depth of a block: the micro-panel that the loop order keeps in L1
    /// (A's, `MR x KC`, with B in L2; B's, `NR x KC`, in the classic order)
    /// fills L1 while the other streams past it, between 128 and 256.
    pub kc: usize,
    /// Rows of an A block (a multiple of MR).
    pub mc: usize,
    /// Columns of a B block (a multiple of NR).
    pub nc: usize,
    /// Loop order inside a block. With a large L2 each A micro-panel, kept
    /// in L1, runs along the whole packed `KC x NC` B block (row panels of
    /// C in order); with the 2 MiB of recent Xeons the B block takes half
    /// of L2 and this measured 10-15% faster than the classic order there
    /// (their L3 is slow); with Zen 4's 1 MiB the B block streams from L3
    /// (see `for_caches`). With a small L2 (512 KiB on Zen 3)
    /// the classic BLIS order is kept: the `MC x KC` A block takes half of
    /// L2, each B micro-panel stays in L1 while the A micro-panels pass,
    /// and the B block (a quarter of L3) streams from L3.
    pub b_in_l2: bool,
}

impl Blocking {
    /// Block sizes for kernel `K` on this machine's caches.
    pub(crate) fn for_kernel<K: MicroKernel>() -> Blocking {
        if let Some((kc, mc, nc, b_in_l2)) = forced() {
            return Blocking {
                kc,
                mc: mc.div_ceil(K::MR) * K::MR,
                nc: nc.div_ceil(K::NR) * K::NR,
                b_in_l2,
            };
        }
        Blocking::for_caches::<K>(caches())
    }

    /// Block sizes for kernel `K` on caches `c` (a pure function of them, so
    /// the choice for another machine can be checked here).
    fn for_caches<K: MicroKernel>(c: Caches) -> Blocking {
        // Only the reused micro-panel needs to stay in L1: the streamed one
        // is read once per tile, from L2 with the hardware prefetch ahead.
        // Sizing both into L1 (as before) gave the 14x16 kernel KC 160 on
        // Zen 4's 32 KiB L1d, where 256 measured 5-6 % faster at 1024-2048²
        // (the C tile is loaded and stored once per depth block: fewer,
        // longer blocks halve that traffic).
        let kept = if c.l2 >= LARGE_L2 { K::MR } else { K::NR };
        let kc = (c.l1 / (kept * 8) / 16 * 16).clamp(128, 256);
        let panel = kc * 8;
        let round = |x: usize, unit: usize, lo: usize, hi: usize| (x / unit * unit).clamp(lo * unit, hi * unit);
        if c.l2 >= LARGE_L2 {
            // An L2 of 2 MiB (the Xeon) holds a 512-column B block in half
            // of it. Half of Zen 4's 1 MiB held only 256 columns: each A
            // micro-panel then served 16 tiles before the next came from L3,
            // and each row of C was visited 2 KiB at a time. There the B
            // block streams from its sixteenth of L3 (2 MiB, 1024 columns;
            // the B micro-panels are read in order, so prefetched), which
            // measured 3-8 % faster at 1024-2048² on both kernels.
            let b_block = if c.l2 >= 2 * LARGE_L2 {
                c.l2 / 2
            } else {
                (c.l3 / 16).max(c.l2 / 2)
            };
            Blocking {
                kc,
                mc: round(c.l2 / 4 / panel, K::MR, 4, 48),
                nc: round(b_block / panel, K::NR, 8, 256),
                b_in_l2: true,
            }
        } else {
            let nc = if c.l3 > 0 { c.l3 / 4 / panel } else { 4 * c.l2 / panel };
            Blocking {
                kc,
                mc: round(c.l2 / 2 / panel, K::MR, 4, 48),
                nc: round(nc, K::NR, 16, 4096 / K::NR),
                b_in_l2: false,
            }
        }
    }
}

/// Block sizes set with `DP_GEMM_BLOCK=kc,mc,nc,order` (order 1: B block
/// in L2, 0: classic), for tuning on a new machine and for tests of both
/// loop orders; read once. Values are clamped to sane ranges (mc and nc
/// are then rounded up to whole tiles); a malformed setting is ignored.
fn forced() -> Option<(usize, usize, usize, bool)> {
    static FORCED: std::sync::OnceLock<Option<(usize, usize, usize, bool)>> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| {
        let v = std::env::var("DP_GEMM_BLOCK").ok()?;
        let p: Vec<usize> = v.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
        let [kc, mc, nc, order] = p[..] else {
            return None;
        };
        Some((kc.clamp(1, 4096), mc.clamp(1, 8192), nc.clamp(1, 65536), order == 1))
    })
}

/// A 64-byte aligned line of doubles: the unit of the packing buffers.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f64; 8]);

/// Packing spaces of at least this many bytes are backed by 2 MiB pages
/// where the OS allows: a packed A block of 1 MiB spans 256 ordinary pages,
/// more than the first-level TLB holds while the kernel cycles through it.
const HUGE_SPACE: usize = 256 * 1024;
/// The huge page size (x86-64 Linux transparent huge pages).
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// Aligned packing space, one per thread and kept for the thread's life:
/// allocating it per product cost the helper thread (whose malloc arena
/// returns large blocks to the OS) page faults worth half its share.
struct Space {
    /// The allocation; only ever written through `base` (packing writes
    /// every element before the kernel reads it).
    v: Vec<std::mem::MaybeUninit<Line>>,
    /// Start of the usable area (2 MiB aligned for large spaces).
    base: *mut f64,
    /// Usable doubles from `base`.
    cap: usize,
}

impl Default for Space {
    fn default() -> Space {
        Space {
            v: Vec::new(),
            base: std::ptr::null_mut(),
            cap: 0,
        }
    }
}

impl Space {
    /// A pointer to at least `len` doubles, growing the space if needed.
    fn get(&mut self, len: usize) -> *mut f64 {
        if len > self.cap || self.base.is_null() {
            let bytes = len.max(8) * 8;
            let huge = bytes >= HUGE_SPACE;
            let slack = if huge { HUGE_PAGE } else { 0 };
            let lines = (bytes + slack).div_ceil(64);
            self.v = Vec::with_capacity(lines);
            // SAFETY: MaybeUninit needs no initialisation.
            unsafe { self.v.set_len(lines) };
            let start = self.v.as_mut_ptr() as usize;
            let base = if huge { start.next_multiple_of(HUGE_PAGE) } else { start };
            if huge {
                advise_huge(base, start + lines * 64);
            }
            self.base = base as *mut f64;
            self.cap = len.max(8);
        }
        self.base
    }
}

/// Asks for huge pages for the whole 2 MiB pages in `[start, end)` (inside
/// one allocation, before it is first written). Advisory only.
#[allow(unused_variables)]
fn advise_huge(start: usize, end: usize) {
    #[cfg(target_os = "linux")]
    {
        let end = end & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: the range lies inside the caller's allocation, and
            // MADV_HUGEPAGE changes no contents, only how pages are backed.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

thread_local! {
    /// Where this thread packs its blocks of A.
    static A_SPACE: RefCell<Space> = RefCell::new(Space::default());
    /// Where this thread packs the shared blocks of B of the products it runs.
    static B_SPACE: RefCell<Space> = RefCell::new(Space::default());
    /// Where this thread packs the shared row chunks of A of the products
    /// it runs with A hoisted (see [`APacking::Hoisted`]).
    static H_SPACE: RefCell<Space> = RefCell::new(Space::default());
}

/// Runs `f` with `len` doubles of the given per-thread space.
fn with_space<R>(key: &'static LocalKey<RefCell<Space>>, len: usize, f: impl FnOnce(*mut f64) -> R) -> R {
    key.with(|space| match space.try_borrow_mut() {
        Ok(mut space) => f(space.get(len)),
        // Unreachable today (nothing under `f` asks for the same space
        // again), but a private space is always correct.
        Err(_) => f(Space::default().get(len)),
    })
}

/// Runs `f(i)` for `i < pieces`, shared with the helper thread if `parallel`.
fn run_pieces(parallel: bool, pieces: usize, f: impl Fn(usize) + Sync) {
    if parallel && pieces > 1 {
        crate::pool::for_each_piece(pieces, f);
    } else {
        (0..pieces).for_each(f);
    }
}

/// Whether A is read in place by the kernel instead of being packed (one of
/// its strides must be 1): when it is small (it then stays in L1/L2 across
/// B's column panels), or when C has at most [`SKINNY_PANELS`] column panels
/// of `nr` columns, so each A micro-panel, kept in L1, serves only those few
/// tiles and packing it costs about as much as using it. For n = 10 reading
/// A in place took 256x128x10 from 27 to 22 us and a transposed-view A of
/// 128x256x10 from 37 to 24 us (AVX2: 100 to 30 us). A column-major A is
/// read a column per step of depth, so only while its columns are at most
/// [`SKINNY_COL_STRIDE`] apart: a panel then spans at most 1 MiB of pages
/// (at 8 KiB apart, 2 MiB, the TLB misses made 1024x1024x16 1.7x slower).
fn a_in_place(m: usize, k: usize, n: usize, nr: usize, a: Mat) -> bool {
    let skinny = n <= SKINNY_PANELS * nr && (a.cs == 1 || a.cs.unsigned_abs() <= SKINNY_COL_STRIDE);
    (a.rs == 1 || a.cs == 1) && (m * k <= UNPACKED_A_MAX || skinny)
}

/// What runs on a finished block of C, on the thread that computed it,
/// while the block is still in cache: `(row0, rows, col0, col1)` names rows
/// `row0..row0 + rows` and columns `col0..col1` of C (a matmul epilogue).
pub(crate) type Epilogue<'e> = &'e (dyn Fn(usize, usize, usize, usize) + Sync);

/// One product `C = A @ B` (`overwrite`) or `C += A @ B` for an `m x k` A,
/// `k x n` B and `m x n` C with unit column stride, as every loop nest of
/// this module sees it.
#[derive(Clone, Copy)]
pub(crate) struct Product<'e> {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of A, rows of B (the depth).
    pub k: usize,
    /// Columns of B and C.
    pub n: usize,
    /// The left operand (only read).
    pub a: Mat,
    /// The right operand (only read).
    pub b: Mat,
    /// The result (column stride 1).
    pub c: Mat,
    /// Store into C rather than add to it.
    pub overwrite: bool,
    /// Share each block's work with the pool's helper thread.
    pub parallel: bool,
    /// Run on each block of C once it is final.
    pub epilogue: Option<Epilogue<'e>>,
}

/// The product `p` with micro-kernel `K` and the block sizes detected for
/// this machine (or forced by `DP_GEMM_BLOCK`).
///
/// # Safety
/// The views must address valid memory, C must not alias A or B, `c.cs ==
/// 1`, and the CPU must support `K`'s instructions.
pub(crate) unsafe fn gemm<K: MicroKernel>(p: &Product<'_>) {
    gemm_blocked::<K>(p, Blocking::for_kernel::<K>());
}

/// [`gemm`] with the block sizes `bl` (the tests try several).
///
/// # Safety
/// As `gemm`.
unsafe fn gemm_blocked<K: MicroKernel>(p: &Product<'_>, bl: Blocking) {
    let (m, k, n, a, b, c) = (p.m, p.k, p.n, p.a, p.b, p.c);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if p.overwrite {
            for i in 0..m {
                std::ptr::write_bytes(c.ptr.offset(i as isize * c.rs), 0, n);
            }
        }
        return;
    }
    if K::T_ROWS > 0
        && n <= K::T_MAX_N
        && a.rs == 1
        && a.cs > 0
        && a.cs.unsigned_abs() <= SKINNY_COL_STRIDE
        && b.cs == 1
    {
        gemm_t::<K>(p, bl.kc);
    } else {
        let a_packing = if a_in_place(m, k, n, K::NR, a) {
            APacking::InPlace
        } else if n > bl.nc {
            // More than one column block of B: pack A once for all of them.
            APacking::Hoisted
        } else {
            APacking::PerBlock
        };
        // On two threads, A blocks small enough that there are MIN_PIECES of
        // them where m allows (each is packed by the thread that uses it).
        let mc = if p.parallel {
            bl.mc.min(m.div_ceil(MIN_PIECES).div_ceil(K::MR) * K::MR)
        } else {
            bl.mc
        };
        let b_readable = b.cs == 1 && b.rs.unsigned_abs() <= K::UNPACKED_B_MAX_STRIDE;
        let few_rows = b_readable
            && k * n > UNPACKED_B_MAX
            && m <= K::FEW_ROWS
            // B's footprint (a strided B spans k row strides), not its size.
            && k * n.max(b.rs.unsigned_abs()) <= caches().l2 / 2 / std::mem::size_of::<f64>();
        let b_in_place = b_readable && (k * n <= UNPACKED_B_MAX || few_rows);
        let nest = Nest {
            p: *p,
            bl,
            mc,
            a_packing,
            b_in_place,
            b_in_l2: bl.b_in_l2 && !few_rows,
        };
        nest.run::<K>();
    }
    if crate::interrupt::requested() {
        // The caller discards the result (see `interrupt`); zeros keep every
        // element initialised.
        for i in 0..m {
            std::ptr::write_bytes(c.ptr.offset(i as isize * c.rs), 0, n);
        }
    }
}

/// Elements of a B block below which one thread packs it: sharing the
/// packing costs a hand-off, more than packing a small block (a 10 x 128
/// block of a 256x10x128 product).
const SHARED_PACK_MIN: usize = 16 * 1024;

/// Packs the `kc x nc` block of B at `bsrc` into `NR`-wide panels at `bp`
/// (row stride `NR`, panel `j` at `j NR kc`), shared with the helper if
/// `parallel` and the block is large, and returns the packed block's view.
unsafe fn pack_b_block<K: MicroKernel>(parallel: bool, kc: usize, nc: usize, bsrc: Mat, bp: Mat) -> Mat {
    let panels = nc.div_ceil(K::NR);
    let groups = panels.div_ceil(PACK_GROUP);
    run_pieces(parallel && kc * nc >= SHARED_PACK_MIN, groups, |g| {
        let (bsrc, bp) = (bsrc, bp);
        let p0 = g * PACK_GROUP;
        let cols = nc.min((p0 + PACK_GROUP) * K::NR) - p0 * K::NR;
        let src = bsrc.ptr.offset((p0 * K::NR) as isize * bsrc.cs);
        pack_b::<K>(kc, cols, src, bsrc.rs, bsrc.cs, bp.ptr.add(p0 * K::NR * kc));
    });
    Mat {
        ptr: bp.ptr,
        rs: K::NR as isize,
        cs: 0,
    }
}

/// How a block's computation is cut into pieces for two threads: `(chunks,
/// chunk)`, the column-panel groups per row block and their width in panels.
fn column_chunks(parallel: bool, ic_blocks: usize, panels: usize) -> (usize, usize) {
    let chunks = if parallel {
        MIN_PIECES.div_ceil(ic_blocks).min(panels)
    } else {
        1
    };
    let chunk = panels.div_ceil(chunks);
    (panels.div_ceil(chunk), chunk)
}

/// How the loop nest gets A to the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum APacking {
    /// Read in place (see [`a_in_place`]).
    InPlace,
    /// Each `mc x kc` block packed by the thread that computes with it, once
    /// per column block of B (there is only one unless A is in place).
    PerBlock,
    /// Packed once per row chunk and depth block ahead of all of B's column
    /// blocks, into one buffer both threads read: with `n > nc`, packing
    /// per block packed every element of A `n / nc` times (4 times at 2048²,
    /// 5 % of the product). The packed chunk (at most [`HOIST_A_BYTES`]) is
    /// read from L3 one micro-panel at a time, which the B-in-L2 order reads
    /// once per column block anyway.
    Hoisted,
}

/// The Goto/BLIS loop nest of one product: its operands, block sizes and
/// how A is packed. Every element of C gets the same depth blocks in the
/// same order whatever the packing and the loop order, so the same bits.
struct Nest<'e> {
    p: Product<'e>,
    bl: Blocking,
    /// Rows of an A block (a multiple of MR; smaller than `bl.mc` on two
    /// threads, for enough pieces).
    mc: usize,
    a_packing: APacking,
    /// B is read in place (else packed in NR-wide panels, shared).
    b_in_place: bool,
    /// Loop order inside a block ([`Blocking::b_in_l2`], unless B is in
    /// place for [`MicroKernel::FEW_ROWS`]).
    b_in_l2: bool,
}

impl Nest<'_> {
    /// Runs the nest: for each row chunk (all of C unless A is hoisted and
    /// larger than [`HOIST_A_BYTES`]), each (column block, depth block) pair
    /// (depth blocks outermost when A is hoisted: its packed chunk then
    /// serves all column blocks; else column blocks outermost), B's block
    /// packed once (shared), then the row blocks of the chunk as pieces for
    /// the threads.
    unsafe fn run<K: MicroKernel>(&self) {
        let Product { m, k, n, b, .. } = self.p;
        let (bl, mc) = (self.bl, self.mc);
        let hoisted = self.a_packing == APacking::Hoisted;
        let kcm = bl.kc.min(k);
        // Hoisted: as few chunks as keep each within the cap, of whole A
        // blocks of `mc` rows and about equal (B is packed again per chunk).
        let chunk_rows = if hoisted {
            m.div_ceil((m * kcm * 8).div_ceil(HOIST_A_BYTES)).div_ceil(mc) * mc
        } else {
            m
        };
        let h_len = if hoisted {
            chunk_rows.min(m.div_ceil(mc) * mc) * kcm
        } else {
            0
        };
        let b_len = if self.b_in_place {
            0
        } else {
            bl.nc.min(n.div_ceil(K::NR) * K::NR) * kcm
        };
        let (depths, cols) = (k.div_ceil(bl.kc), n.div_ceil(bl.nc));
        with_space(&B_SPACE, b_len, |bp| {
            with_space(&H_SPACE, h_len, |hp| {
                let (bp, hp) = (Mat { ptr: bp, rs: 0, cs: 0 }, Mat { ptr: hp, rs: 0, cs: 0 });
                let mut i0 = 0;
                while i0 < m {
                    let rows = chunk_rows.min(m - i0);
                    for step in 0..depths * cols {
                        let (d, j) = if hoisted {
                            (step / cols, step % cols)
                        } else {
                            (step % depths, step / depths)
                        };
                        let (pc, jc) = (d * bl.kc, j * bl.nc);
                        let kc = bl.kc.min(k - pc);
                        if hoisted && j == 0 {
                            self.pack_chunk::<K>(i0, rows, pc, kc, hp);
                        }
                        let nc = bl.nc.min(n - jc);
                        let bsrc = Mat {
                            ptr: b.ptr.offset(pc as isize * b.rs + jc as isize * b.cs),
                            ..b
                        };
                        // B in place (row stride b.rs, panel j at column j NR) or
                        // packed into NR-wide panels (row stride NR, panel j at j NR kc).
                        let bblock = if self.b_in_place {
                            bsrc
                        } else {
                            pack_b_block::<K>(self.p.parallel, kc, nc, bsrc, bp)
                        };
                        self.blocks::<K>(i0, rows, pc, kc, jc, nc, bblock, hp);
                    }
                    i0 += rows;
                }
            });
        });
    }

    /// Packs rows `i0..i0 + rows` of A at depth block `pc..pc + kc` into `hp`
    /// (A block `q` at `q mc kc`), the blocks shared between the threads.
    unsafe fn pack_chunk<K: MicroKernel>(&self, i0: usize, rows: usize, pc: usize, kc: usize, hp: Mat) {
        let Product { m, a, .. } = self.p;
        let mc = self.mc;
        run_pieces(self.p.parallel, rows.div_ceil(mc), |q| {
            let (a, hp) = (a, hp);
            let r0 = i0 + q * mc;
            let src = a.ptr.offset(r0 as isize * a.rs + pc as isize * a.cs);
            pack_a::<K>(mc.min(m - r0), kc, src, a.rs, a.cs, hp.ptr.add(q * mc * kc));
        });
    }

    /// `C[i0.., jc..jc + nc] (+)= A[i0.., pc..pc + kc] @ bblock` for the row
    /// blocks of a chunk of `rows` rows, cut into pieces (row blocks, and
    /// column-panel groups on two threads) that the threads take in turn;
    /// each piece then runs the epilogue on its part of C after the last
    /// depth block.
    #[allow(clippy::too_many_arguments)]
    unsafe fn blocks<K: MicroKernel>(
        &self,
        i0: usize,
        rows: usize,
        pc: usize,
        kc: usize,
        jc: usize,
        nc: usize,
        bblock: Mat,
        hp: Mat,
    ) {
        let Product { m, k, a, c, .. } = self.p;
        let mc = self.mc;
        let panels = nc.div_ceil(K::NR);
        let ic_blocks = rows.div_ceil(mc);
        let (chunks, chunk) = column_chunks(self.p.parallel, ic_blocks, panels);
        let first = self.p.overwrite && pc == 0;
        run_pieces(self.p.parallel, ic_blocks * chunks, |piece| {
            let (a, bblock, c, hp) = (a, bblock, c, hp);
            if crate::interrupt::requested() {
                return;
            }
            let q = piece / chunks;
            let ic = i0 + q * mc;
            let p0 = (piece % chunks) * chunk;
            let (j0, j1) = (p0 * K::NR, nc.min((p0 + chunk) * K::NR));
            let block = Block {
                mc: mc.min(m - ic),
                kc,
                in_place: self.a_packing == APacking::InPlace,
                prepacked: self.a_packing == APacking::Hoisted,
                b_in_place: self.b_in_place,
                first,
                b_in_l2: self.b_in_l2,
            };
            let asrc = Mat {
                ptr: a.ptr.offset(ic as isize * a.rs + pc as isize * a.cs),
                ..a
            };
            let cdst = Mat {
                ptr: c.ptr.offset(ic as isize * c.rs + jc as isize),
                ..c
            };
            match self.a_packing {
                APacking::Hoisted => block.run::<K>(asrc, bblock, cdst, hp.ptr.add(q * mc * kc), j0, j1),
                APacking::InPlace | APacking::PerBlock => {
                    // In place, only a short last panel may be packed.
                    let a_rows = if block.in_place {
                        K::MR
                    } else {
                        block.mc.next_multiple_of(K::MR)
                    };
                    with_space(&A_SPACE, a_rows * kc, |ap| {
                        block.run::<K>(asrc, bblock, cdst, ap, j0, j1)
                    });
                }
            }
            if let Some(e) = self.p.epilogue.filter(|_| pc + kc == k) {
                // The last depth block: these elements of C are final.
                e(ic, block.mc, jc + j0, jc + j1);
            }
        });
    }
}

/// Rows of C per piece of [`gemm_t`] (shared between threads, and the
/// unit the epilogue runs on).
const T_PIECE_ROWS: usize = 64;

/// `gemm` for a column-major A read in place and a C of at most
/// `K::T_MAX_N` columns, in the transposed orientation of
/// [`MicroKernel::tile_t`] (all lanes busy where the normal tile would use
/// `n` of `NR`; 128x256x10 with A a transposed view: 20 -> 12 us, AVX2 22
/// -> 13 us). Each element of C gets the normal path's multiply-adds in the
/// normal order (the same depth blocks of `kc`), so the result is the same
/// bits. The column tiles of one row tile follow each other, so its A
/// micro-panel is read from L1 for all but the first.
///
/// # Safety
/// As `gemm`, with `a.rs == 1`, `b.cs == 1` and `n <= K::T_MAX_N`.
unsafe fn gemm_t<K: MicroKernel>(p: &Product<'_>, kc: usize) {
    let Product { m, k, n, .. } = *p;
    let pieces = m.div_ceil(T_PIECE_ROWS);
    // Column tiles of equal width: 8 columns as 4 + 4, not 6 + 2 (a tile
    // of two columns does two multiply-adds per pair of A loads).
    let width = n.div_ceil(n.div_ceil(K::T_COLS));
    run_pieces(p.parallel, pieces, |piece| {
        let Product { a, b, c, .. } = *p;
        if crate::interrupt::requested() {
            return;
        }
        let i0 = piece * T_PIECE_ROWS;
        let rows = T_PIECE_ROWS.min(m - i0);
        let mut pc = 0;
        while pc < k {
            let kcb = kc.min(k - pc);
            let mut ir = 0;
            while ir < rows {
                let mr = K::T_ROWS.min(rows - ir);
                let i = (i0 + ir) as isize;
                let mut j0 = 0;
                while j0 < n {
                    let cols = width.min(n - j0);
                    K::tile_t(
                        kcb,
                        a.ptr.offset(i + pc as isize * a.cs),
                        a.cs,
                        b.ptr.offset(pc as isize * b.rs + j0 as isize),
                        b.rs,
                        c.ptr.offset(i * c.rs + j0 as isize),
                        c.rs,
                        mr,
                        cols,
                        p.overwrite && pc == 0,
                    );
                    j0 += cols;
                }
                ir += K::T_ROWS;
            }
            pc += kcb;
        }
        if let Some(e) = p.epilogue {
            e(i0, rows, 0, n);
        }
    });
}

/// One `mc x kc` block of A against columns of a `kc`-deep block of B.
struct Block {
    mc: usize,
    kc: usize,
    /// A is read in place (else packed into the caller's space).
    in_place: bool,
    /// A is already packed at the space given to `run` (else `run` packs it).
    prepacked: bool,
    /// B is read in place (else it is packed in NR-wide panels).
    b_in_place: bool,
    /// Store into C instead of adding (the first depth block of `C = A B`).
    first: bool,
    /// Loop order (see [`Blocking::b_in_l2`]).
    b_in_l2: bool,
}

impl Block {
    /// `C[.., j0..j1] (+)= A block @ B block[.., j0..j1]` (`j0` a multiple of
    /// NR), packing A into `ap` if it is neither read in place nor already
    /// packed there.
    unsafe fn run<K: MicroKernel>(&self, a: Mat, b: Mat, c: Mat, ap: *mut f64, j0: usize, j1: usize) {
        let (mc, kc) = (self.mc, self.kc);
        // In place, a last panel that the kernel for its size would
        // over-read is packed (zero padded) instead.
        let tail = mc % K::MR;
        let tail_packed = self.in_place && tail != 0 && K::rows(tail) != tail;
        if !self.in_place && !self.prepacked {
            pack_a::<K>(mc, kc, a.ptr, a.rs, a.cs, ap);
        } else if tail_packed {
            pack_a::<K>(tail, kc, a.ptr.offset((mc - tail) as isize * a.rs), a.rs, a.cs, ap);
        }
        let apanel = |ir: usize| -> APanel {
            if !self.in_place {
                APanel {
                    ptr: ap.add(ir * kc),
                    rs: 1,
                    cs: K::MR as isize,
                }
            } else if tail_packed && ir + K::MR > mc {
                APanel {
                    ptr: ap,
                    rs: 1,
                    cs: K::MR as isize,
                }
            } else {
                APanel {
                    ptr: a.ptr.offset(ir as isize * a.rs),
                    rs: if a.rs == 1 { 1 } else { a.rs },
                    cs: if a.rs == 1 { a.cs } else { 1 },
                }
            }
        };
        if self.b_in_l2 {
            // Each A micro-panel along the whole B block (see `Blocking`).
            let mut ir = 0;
            while ir < mc {
                let mr = K::MR.min(mc - ir);
                let panel = apanel(ir);
                let mut jr = j0;
                while jr < j1 {
                    let nr = K::NR.min(j1 - jr);
                    let bpanel = if self.b_in_place {
                        b.ptr.add(jr)
                    } else {
                        b.ptr.add(jr * kc)
                    };
                    let cptr = c.ptr.offset(ir as isize * c.rs + jr as isize);
                    K::tile(kc, panel, bpanel, b.rs, cptr, c.rs, mr, nr, self.first);
                    jr += K::NR;
                }
                ir += K::MR;
            }
            return;
        }
        // Each B micro-panel against the whole A block.
        let mut jr = j0;
        while jr < j1 {
            let nr = K::NR.min(j1 - jr);
            let bpanel = if self.b_in_place {
                b.ptr.add(jr)
            } else {
                b.ptr.add(jr * kc)
            };
            let mut ir = 0;
            while ir < mc {
                let mr = K::MR.min(mc - ir);
                let cptr = c.ptr.offset(ir as isize * c.rs + jr as isize);
                K::tile(kc, apanel(ir), bpanel, b.rs, cptr, c.rs, mr, nr, self.first);
                ir += K::MR;
            }
            jr += K::NR;
        }
    }
}

/// Packs an `mc x kc` block of A into MR-row panels (k-major inside a panel), zero padded.
unsafe fn pack_a<K: MicroKernel>(mc: usize, kc: usize, a: *const f64, rsa: isize, csa: isize, out: *mut f64) {
    let mr_full = K::MR;
    if rsa == 1 {
        // Column-major A (a transposed view): each column of the block is
        // contiguous, so walk the columns in memory order and scatter each
        // into the panels. Walking panel by panel instead read one element
        // run per column 8*lda bytes apart, all in the same L1 set.
        let panels = mc.div_ceil(mr_full);
        for p in 0..kc {
            let col = a.offset(p as isize * csa);
            for q in 0..panels {
                let rows = mr_full.min(mc - q * mr_full);
                let dst = out.add(q * mr_full * kc + p * mr_full);
                std::ptr::copy_nonoverlapping(col.add(q * mr_full), dst, rows);
                for i in rows..mr_full {
                    *dst.add(i) = 0.0;
                }
            }
        }
        return;
    }
    let mut dst = out;
    let mut i0 = 0;
    while i0 < mc {
        let mr = mr_full.min(mc - i0);
        let rows = a.offset(i0 as isize * rsa);
        if mr == mr_full {
            // Full panel, eight columns at a time: each row's eight elements
            // (one cache line when row-major) are read together. Reading one
            // column of all MR rows at a time missed L1 on every element
            // when the row stride is a multiple of 4 KiB (the MR lines share
            // one L1 set); no per-element bound test either (it kept this
            // loop scalar and branchy, a tenth of a 64x64 product).
            let mut p0 = 0;
            if csa == 1 {
                // Row-major: whole 8-column blocks by vector transposes.
                while p0 + 8 <= kc && K::transpose_rows(rows.add(p0), rsa, dst) {
                    dst = dst.add(8 * mr_full);
                    p0 += 8;
                }
            }
            while p0 < kc {
                let w = 8.min(kc - p0);
                for i in 0..mr_full {
                    let src = rows.offset(i as isize * rsa + p0 as isize * csa);
                    for p in 0..w {
                        *dst.add(p * mr_full + i) = *src.offset(p as isize * csa);
                    }
                }
                dst = dst.add(w * mr_full);
                p0 += w;
            }
        } else {
            for p in 0..kc {
                let col = rows.offset(p as isize * csa);
                for i in 0..mr_full {
                    *dst.add(i) = if i < mr { *col.offset(i as isize * rsa) } else { 0.0 };
                }
                dst = dst.add(mr_full);
            }
        }
        i0 += mr_full;
    }
}

/// Packs a `kc x nc` block of B into NR-column panels (k-major inside a panel), zero padded.
unsafe fn pack_b<K: MicroKernel>(kc: usize, nc: usize, b: *const f64, rsb: isize, csb: isize, out: *mut f64) {
    let nr_full = K::NR;
    let panels = nc.div_ceil(nr_full);
    if csb == 1 {
        // Row-major B: eight rows at a time, all panels of them. Panel by
        // panel read a few lines from each of kc rows a whole row apart (the
        // same L1 sets, and no stream for the prefetcher); row by row wrote
        // each row's pieces NR kc apart (the same L1 set again): both cost a
        // tenth of a 256x256 product. Now eight source lines stream along
        // their rows and each panel gets eight rows written in a row.
        let mut p0 = 0;
        while p0 < kc {
            let rows = 8.min(kc - p0);
            for q in 0..panels {
                let j0 = q * nr_full;
                let nr = nr_full.min(nc - j0);
                for p in p0..p0 + rows {
                    let row = b.offset(p as isize * rsb);
                    let dst = out.add(q * nr_full * kc + p * nr_full);
                    if nr == nr_full {
                        // A constant length: inline vector moves, not a memcpy call.
                        std::ptr::copy_nonoverlapping(row.add(j0), dst, K::NR);
                    } else {
                        for j in 0..nr_full {
                            *dst.add(j) = if j < nr { *row.add(j0 + j) } else { 0.0 };
                        }
                    }
                }
            }
            p0 += rows;
        }
        return;
    }
    let mut dst = out;
    for q in 0..panels {
        let j0 = q * nr_full;
        let nr = nr_full.min(nc - j0);
        for p in 0..kc {
            let row = b.offset(p as isize * rsb + j0 as isize * csb);
            for j in 0..nr_full {
                *dst.add(j) = if j < nr { *row.offset(j as isize * csb) } else { 0.0 };
            }
            dst = dst.add(nr_full);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::{avx2::Avx2, avx512::Avx512};

    /// An `r x c` matrix of values in [-1, 1) with all 53 bits used (so any
    /// change of summation order changes some result), stored in `layout`:
    /// 0 row-major, 1 column-major, 2 every other row of a taller matrix,
    /// 3 rows reversed. Returns the storage and the view's offset and strides.
    fn matrix(r: usize, c: usize, layout: u8, seed: u64) -> (Vec<f64>, usize, isize, isize) {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let v: Vec<f64> = (0..2 * r * c)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect();
        let (r, c) = (r as isize, c as isize);
        match layout {
            1 => (v, 0, 1, r),
            2 => (v, 0, 2 * c, 1),
            3 => (v, ((r - 1) * c).max(0) as usize, -c, 1),
            _ => (v, 0, c, 1),
        }
    }

    /// Element `(i, j)` of `C (+)= A @ B` in the order the kernels compute
    /// it: per depth block of `kc`, fused multiply-adds from zero in depth
    /// order, then added to C (stored on the first block when `overwrite`).
    #[allow(clippy::too_many_arguments)]
    fn model(
        i: usize,
        j: usize,
        k: usize,
        kc: usize,
        a: &[f64],
        ao: (usize, isize, isize),
        b: &[f64],
        bo: (usize, isize, isize),
        c0: f64,
        overwrite: bool,
    ) -> f64 {
        let at = |i: usize, p: usize| a[(ao.0 as isize + i as isize * ao.1 + p as isize * ao.2) as usize];
        let bt = |p: usize, j: usize| b[(bo.0 as isize + p as isize * bo.1 + j as isize * bo.2) as usize];
        let mut c = c0;
        let mut pc = 0;
        while pc < k {
            let mut acc = 0.0f64;
            for p in pc..k.min(pc + kc) {
                acc = at(i, p).mul_add(bt(p, j), acc);
            }
            c = if overwrite && pc == 0 { acc } else { c + acc };
            pc += kc;
        }
        c
    }

    /// Runs `m x k x n` through [`gemm_blocked`] with kernel `K` and blocks
    /// `bl` for every layout pair, serial and shared, overwriting and
    /// accumulating, with an epilogue that doubles each finished block, and
    /// compares rows `0, step, 2 step, ..` and the last bit for bit with [`model`].
    fn check_bits<K: MicroKernel>(m: usize, k: usize, n: usize, bl: Blocking, step: usize) {
        for (la, lb) in [(0, 0), (1, 0), (0, 1), (2, 1), (3, 0), (1, 1)] {
            let (av, ao, ars, acs) = matrix(m, k, la, (m * 31 + k) as u64);
            let (bv, bo, brs, bcs) = matrix(k, n, lb, (k * 17 + n) as u64);
            let start: Vec<f64> = matrix(m, n, 0, 99).0[..m * n].to_vec();
            for (parallel, overwrite, doubled) in [
                (false, true, false),
                (true, true, true),
                (false, false, true),
                (true, false, false),
            ] {
                let mut c = start.clone();
                let cp = c.as_mut_ptr() as usize;
                let double = move |r0: usize, rows: usize, c0: usize, c1: usize| {
                    for i in r0..r0 + rows {
                        for j in c0..c1 {
                            // SAFETY: the epilogue gets a block of C inside the m x n matrix.
                            unsafe { *(cp as *mut f64).add(i * n + j) *= 2.0 };
                        }
                    }
                };
                let p = Product {
                    m,
                    k,
                    n,
                    a: Mat {
                        ptr: av.as_ptr().wrapping_add(ao) as *mut f64,
                        rs: ars,
                        cs: acs,
                    },
                    b: Mat {
                        ptr: bv.as_ptr().wrapping_add(bo) as *mut f64,
                        rs: brs,
                        cs: bcs,
                    },
                    c: Mat {
                        ptr: c.as_mut_ptr(),
                        rs: n as isize,
                        cs: 1,
                    },
                    overwrite,
                    parallel,
                    epilogue: if doubled { Some(&double) } else { None },
                };
                // SAFETY: the views address the vectors above, C is separate,
                // and the caller checked that the CPU runs K.
                unsafe { gemm_blocked::<K>(&p, bl) };
                let rows = (0..m).step_by(step).chain([m - 1]);
                for i in rows {
                    for j in 0..n {
                        let want = model(
                            i,
                            j,
                            k,
                            bl.kc,
                            &av,
                            (ao, ars, acs),
                            &bv,
                            (bo, brs, bcs),
                            start[i * n + j],
                            overwrite,
                        );
                        let want = if doubled { 2.0 * want } else { want };
                        assert_eq!(
                            c[i * n + j].to_bits(),
                            want.to_bits(),
                            "{m}x{k}x{n} layouts {la},{lb} {bl:?} parallel {parallel} overwrite {overwrite} at ({i}, {j})"
                        );
                    }
                }
            }
        }
    }

    /// Every loop nest (A in place, packed per block, hoisted; B in place or
    /// packed; both loop orders; the transposed kernel) gives each element
    /// of C exactly the kernels' summation order for the depth block: the
    /// result depends on `kc` only, not on the other blocks, the threads or
    /// the layouts.
    fn check_kernel<K: MicroKernel>() {
        let tile = |kc: usize, mc: usize, nc: usize, b_in_l2: bool| Blocking {
            kc,
            mc: mc * K::MR,
            nc: nc * K::NR,
            b_in_l2,
        };
        for bl in [tile(16, 2, 3, false), tile(24, 1, 5, true), tile(40, 3, 2, true)] {
            for (m, k, n) in [
                (1, 1, 1),
                (7, 9, 33),
                (61, 67, 71),
                (130, 40, 300),
                (150, 120, 200),
                (200, 150, 130),
                (33, 300, 64),
                (40, 500, 9),
                (37, 70, 12),
                (23, 50, 14),
                (19, 45, 4),
                (300, 100, 20),
                // B larger than UNPACKED_B_MAX read in place for few rows of C
                // (where L2 holds it), in the classic order.
                (45, 150, 260),
            ] {
                check_bits::<K>(m, k, n, bl, 1);
            }
        }
        // The machine's own blocks, A hoisted in two row chunks.
        let bl = Blocking::for_kernel::<K>();
        let m = HOIST_A_BYTES / (8 * bl.kc) + bl.mc + 3;
        check_bits::<K>(m, bl.kc + 5, bl.nc + 2 * K::NR + 3, bl, 97);
    }

    #[test]
    fn every_nest_keeps_the_kernel_summation_order() {
        use crate::simd::{probe_cpu, Isa};
        if probe_cpu() == Isa::Avx512 {
            check_kernel::<Avx512>();
        }
        if probe_cpu() != Isa::Generic {
            check_kernel::<Avx2>();
        }
    }

    /// The blocks chosen for the two machine classes the project runs on.
    #[test]
    fn blocking_follows_the_caches() {
        // Zen 3 class (AVX2 + FMA): 32 KiB L1d, 512 KiB L2, 32 MiB L3. The
        // classic order: A block (126 x 256) in half of L2, B block (256 x
        // 4096) a quarter of L3, so A is packed once per depth block up to
        // n = 4096 without hoisting.
        let zen3 = Caches {
            l1: 32 << 10,
            l2: 512 << 10,
            l3: 32 << 20,
        };
        let b = Blocking::for_caches::<Avx2>(zen3);
        assert_eq!((b.kc, b.mc, b.nc, b.b_in_l2), (256, 126, 4096, false));
        assert!(b.mc * b.kc * 8 <= zen3.l2 / 2);
        // The Xeon here (48 KiB L1d, 2 MiB L2): B block (256 x 512, 1 MiB)
        // in half of L2, each A micro-panel along all of it.
        let xeon = Caches {
            l1: 48 << 10,
            l2: 2 << 20,
            l3: 105 << 20,
        };
        let b = Blocking::for_caches::<Avx512>(xeon);
        assert_eq!((b.kc, b.mc, b.nc, b.b_in_l2), (256, 252, 512, true));
        let b = Blocking::for_caches::<Avx2>(xeon);
        assert_eq!((b.kc, b.mc, b.nc, b.b_in_l2), (256, 252, 512, true));
        // Zen 4 (32 KiB L1d, 1 MiB L2, 32 MiB L3): the 14x16 kernel's A
        // micro-panel (14 x 256, 28 KiB) alone fills L1 (KC was 160 when
        // both micro-panels had to fit), the B block (256 x 1024, 2 MiB) a
        // sixteenth of L3.
        let zen4 = Caches {
            l1: 32 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
        };
        let b = Blocking::for_caches::<Avx512>(zen4);
        assert_eq!((b.kc, b.mc, b.nc, b.b_in_l2), (256, 126, 1024, true));
        assert!(Avx512::MR * b.kc * 8 <= zen4.l1);
        let b = Blocking::for_caches::<Avx2>(zen4);
        assert_eq!((b.kc, b.mc, b.nc, b.b_in_l2), (256, 126, 1024, true));
    }
}
