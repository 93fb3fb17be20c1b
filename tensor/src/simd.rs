//! Run-time instruction-set dispatch for auto-vectorised kernels.
//!
//! The crate is compiled for the baseline target (SSE2 on x86-64), so a plain
//! loop vectorises only two lanes wide and has no fused multiply-add. Hot
//! kernels are therefore written once as `#[inline(always)]` functions generic
//! over [`Mode`] and instantiated by [`multiversion!`] three times: inside an
//! AVX-512 and an AVX2+FMA `#[target_feature]` wrapper (where LLVM vectorises
//! the same loops 8 or 4 lanes wide) and as the portable fallback. The choice
//! is made per call from a cached CPU probe, so the binary runs everywhere.

use std::sync::atomic::{AtomicU8, Ordering};

/// Instruction-set level of the running CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// Baseline target only (any CPU, any architecture).
    Generic,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512F/DQ (plus AVX2 and FMA).
    Avx512,
}

/// 0 = not probed yet, else `Isa as u8 + 1`.
static ISA: AtomicU8 = AtomicU8::new(0);

/// The instruction set the kernels use: the best one this CPU supports, or a
/// lower one asked for with `DP_SIMD` (probed once, then cached).
#[inline]
pub(crate) fn isa() -> Isa {
    match ISA.load(Ordering::Relaxed) {
        1 => Isa::Generic,
        2 => Isa::Avx2,
        3 => Isa::Avx512,
        _ => {
            let isa = probe();
            ISA.store(isa as u8 + 1, Ordering::Relaxed);
            isa
        }
    }
}

/// The supported instruction set, capped by the `DP_SIMD` environment
/// variable (`avx512`, `avx2` or `generic`): lets the AVX2 paths be tested
/// and measured on an AVX-512 machine. A request above what the CPU
/// supports, or an unknown name, is ignored.
fn probe() -> Isa {
    let best = probe_cpu();
    let asked = match std::env::var("DP_SIMD").as_deref().map(str::trim) {
        Ok("generic") => Isa::Generic,
        Ok("avx2") => Isa::Avx2,
        _ => best,
    };
    if (asked as u8) < (best as u8) {
        asked
    } else {
        best
    }
}

/// The best instruction set the running CPU supports.
pub(crate) fn probe_cpu() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        if avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
            return Isa::Avx512;
        }
        if avx2 {
            return Isa::Avx2;
        }
    }
    Isa::Generic
}

/// How a kernel instantiation may do arithmetic.
pub(crate) trait Mode {
    /// Whether hardware fused multiply-add is available (else `a * b + c`,
    /// since a software `fma` call would be far slower than two roundings).
    const FMA: bool;
    /// Whether per-lane table lookups vectorise (AVX-512 gathers; the
    /// scalar fallback, where a lookup is one load). Under AVX2 LLVM
    /// judges gathers too costly and left whole loops scalar (tanh ran 13x
    /// slower than under AVX-512), so kernels use table-free formulas there.
    const TABLES: bool;
}

/// Instantiation for CPUs with AVX-512 (compiled under `target_feature`).
pub(crate) struct WithFma;
impl Mode for WithFma {
    const FMA: bool = true;
    const TABLES: bool = true;
}

/// Instantiation for CPUs with AVX2 and FMA: no table lookups.
pub(crate) struct Avx2Fma;
impl Mode for Avx2Fma {
    const FMA: bool = true;
    const TABLES: bool = false;
}

/// Instantiation for AVX-512 without gathers (see [`use_gathers`]): the
/// table-free formulas of the AVX2 instantiation, 8 lanes wide.
pub(crate) struct WithFmaNoTables;
impl Mode for WithFmaNoTables {
    const FMA: bool = true;
    const TABLES: bool = false;
}

/// Whether the AVX-512 vector math reads its tables with gathers (probed
/// once): yes unless `DP_GATHERS=0`. On AMD Zen 4, whose gathers are slow,
/// the table-free formulas are faster (per 1e6 elements: `tanh` 2.3 ->
/// 1.6-1.9 ms, `exp` 1.1 -> 0.8 ms), but they round differently in the last
/// bit at some inputs (`exp(1)`), as the AVX2 path does; results of one ISA
/// stay the same on every CPU unless asked, so the faster path is opt-in.
pub(crate) fn use_gathers() -> bool {
    static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAST.get_or_init(|| std::env::var("DP_GATHERS").map_or(true, |v| v.trim() != "0"))
}

/// Portable instantiation.
pub(crate) struct NoFma;
impl Mode for NoFma {
    const FMA: bool = false;
    const TABLES: bool = true;
}

/// `a * b + c`, fused (one rounding) when the mode has FMA.
#[inline(always)]
pub(crate) fn mla<M: Mode>(a: f64, b: f64, c: f64) -> f64 {
    if M::FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Defines `fn $name(args) -> ret` that calls `$imp::<M>(args)` compiled for
/// the best available instruction set. `$imp` must be `#[inline(always)]` so
/// its body is compiled inside each `#[target_feature]` wrapper.
///
/// `multiversion!(tables: fn ...)` is for kernels whose lookup tables are
/// read by gathers (`exp` and the functions built on it): with
/// `DP_GATHERS=0` (see [`use_gathers`]) they run the 8-lane instantiation
/// without tables ([`WithFmaNoTables`]).
macro_rules! multiversion {
    (@with $without_gathers:ty; $(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                unsafe fn v4<M: $crate::simd::Mode>($($arg: $ty),*) $(-> $ret)? {
                    $imp::<M>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::simd::Avx2Fma>($($arg),*)
                }
                use $crate::simd::Mode as _;
                match $crate::simd::isa() {
                    // Without tables to gather from, both AVX-512 instantiations are the same.
                    // SAFETY: `isa()` reported that this CPU supports every enabled feature.
                    $crate::simd::Isa::Avx512 if <$without_gathers>::TABLES || $crate::simd::use_gathers() => {
                        return unsafe { v4::<$crate::simd::WithFma>($($arg),*) }
                    }
                    // SAFETY: as above.
                    $crate::simd::Isa::Avx512 => return unsafe { v4::<$without_gathers>($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Isa::Avx2 => return unsafe { v3($($arg),*) },
                    $crate::simd::Isa::Generic => {}
                }
            }
            $imp::<$crate::simd::NoFma>($($arg),*)
        }
    };
    (tables: $($rest:tt)*) => {
        $crate::simd::multiversion!(@with $crate::simd::WithFmaNoTables; $($rest)*);
    };
    ($($rest:tt)*) => {
        $crate::simd::multiversion!(@with $crate::simd::WithFma; $($rest)*);
    };
}
pub(crate) use multiversion;
