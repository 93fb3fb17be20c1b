//! Packed double-precision GEMM with our own micro-kernels, one per
//! instruction set (AVX-512: 14x16, AVX2+FMA: 6x8), chosen at run time; the
//! portable `matrixmultiply` crate covers other CPUs and layouts.
//!
//! `DP_SIMD=avx2` selects the AVX2 kernel on an AVX-512 machine (see
//! `simd`); [`with_gemm_path`] does the same for one closure on one thread,
//! which is how the tests run every path.

mod avx2;
mod avx512;
mod driver;

use driver::Mat;
use std::cell::Cell;

/// Multiply-adds above which a product is split between the caller and the
/// pool's helper thread (measured on a 2-core AVX-512 machine; below it the
/// hand-off costs more than it saves). With a small B block packed by one
/// thread (see `driver::SHARED_PACK_MIN`) the hand-off is one round, and
/// products of 0.3M multiply-adds gain: 256x10x128 16 -> 11 us, 256x128x10
/// 19 -> 12 us, 64x64x64 10 -> 7-9 us (the MLP training step on 2 threads
/// 47 -> 42 ms); at 0.1M it is even.
pub(crate) const PARALLEL_FLOPS: f64 = 1.5e5;
/// Multiply-adds of each product of a batch below which the threads share
/// the batch (whole products each) rather than each product: one hand-off
/// for the batch instead of one per product.
pub(crate) const BATCH_SHARED_FLOPS: f64 = 1.0e6;
/// Target size of one shared piece of a batch of small products (multiply-adds).
pub(crate) const PIECE_FLOPS: f64 = 0.5e6;

/// An implementation of the matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmPath {
    /// Our packed GEMM with the 14x16 AVX-512 micro-kernel.
    Avx512,
    /// Our packed GEMM with the 6x8 AVX2+FMA micro-kernel.
    Avx2,
    /// The portable `matrixmultiply` crate.
    Portable,
}

impl GemmPath {
    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        use crate::simd::{probe_cpu, Isa};
        match self {
            GemmPath::Avx512 => probe_cpu() == Isa::Avx512,
            GemmPath::Avx2 => probe_cpu() != Isa::Generic,
            GemmPath::Portable => true,
        }
    }

    /// The block sizes `(kc, mc, nc)` the path uses on this machine (derived
    /// from the detected cache sizes), or `None` for the portable path.
    pub fn blocking(self) -> Option<(usize, usize, usize)> {
        let b = match self {
            GemmPath::Avx512 => driver::Blocking::for_kernel::<avx512::Avx512>(),
            GemmPath::Avx2 => driver::Blocking::for_kernel::<avx2::Avx2>(),
            GemmPath::Portable => return None,
        };
        Some((b.kc, b.mc, b.nc))
    }

    /// The path products take by default: the best kernel for the
    /// instruction set in use (see `DP_SIMD`).
    pub fn default_path() -> GemmPath {
        match crate::simd::isa() {
            crate::simd::Isa::Avx512 => GemmPath::Avx512,
            crate::simd::Isa::Avx2 => GemmPath::Avx2,
            crate::simd::Isa::Generic => GemmPath::Portable,
        }
    }
}

thread_local! {
    /// The path forced on this thread by [`with_gemm_path`].
    static FORCED: Cell<Option<GemmPath>> = const { Cell::new(None) };
}

/// Runs `f` with every matrix product that this thread starts taking `path`
/// (for tests and benchmarks that compare the paths on one machine). Returns
/// `None` without running `f` if the CPU cannot run `path`.
pub fn with_gemm_path<R>(path: GemmPath, f: impl FnOnce() -> R) -> Option<R> {
    if !path.supported() {
        return None;
    }
    struct Restore(Option<GemmPath>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(FORCED.with(|p| p.replace(Some(path))));
    Some(f())
}

/// The path for a product started now on this thread.
fn current() -> GemmPath {
    FORCED.with(|p| p.get()).unwrap_or_else(GemmPath::default_path)
}

/// `C = A @ B` for an `m x k` A, `k x n` B and `m x n` C with our own
/// kernels; returns false (doing nothing) where they do not apply (a CPU
/// without AVX2, the portable path forced, or C with a column stride other
/// than 1). C is only written, so it may be uninitialised. With an
/// `epilogue`, it runs on each block of C as soon as the block is final (see
/// [`driver::Epilogue`]); every element is covered exactly once.
///
/// # Safety
/// The pointers/strides must address valid memory for the given sizes and
/// C must not alias A or B. The epilogue, if any, may read and write the
/// block of C it is given.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_then(
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
    csc: isize,
    epilogue: Option<driver::Epilogue<'_>>,
) -> bool {
    let path = current();
    if csc != 1 || path == GemmPath::Portable {
        return false;
    }
    let a = Mat {
        ptr: a as *mut f64,
        rs: rsa,
        cs: csa,
    };
    let b = Mat {
        ptr: b as *mut f64,
        rs: rsb,
        cs: csb,
    };
    let c = Mat { ptr: c, rs: rsc, cs: 1 };
    let flops = m as f64 * n as f64 * k as f64;
    let parallel = |mr: usize, nr: usize| {
        flops >= PARALLEL_FLOPS && (m >= 2 * mr || n >= 2 * nr) && crate::pool::helper_worthwhile()
    };
    let product = |parallel| driver::Product {
        m,
        k,
        n,
        a,
        b,
        c,
        overwrite: true,
        parallel,
        epilogue,
    };
    match path {
        GemmPath::Avx512 => {
            use driver::MicroKernel;
            let par = parallel(avx512::Avx512::MR, avx512::Avx512::NR);
            driver::gemm::<avx512::Avx512>(&product(par));
        }
        _ => {
            use driver::MicroKernel;
            let par = parallel(avx2::Avx2::MR, avx2::Avx2::NR);
            driver::gemm::<avx2::Avx2>(&product(par));
        }
    }
    true
}
