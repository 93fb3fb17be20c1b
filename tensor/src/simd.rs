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

/// The environment variable that caps the instruction set.
pub const SIMD_ENV: &str = "DP_SIMD";

/// The values `DP_SIMD` accepts.
const SIMD_NAMES: [&str; 3] = ["avx512", "avx2", "generic"];

/// Checks a `DP_SIMD` setting, if there is one: `Err` names the variable,
/// the value and the accepted ones. The kernels read it when first used,
/// so a typo must be caught when `dp` starts (it was silently ignored).
pub fn check_simd_setting() -> std::result::Result<(), String> {
    crate::setting::check_setting(
        SIMD_ENV,
        |v| SIMD_NAMES.contains(&v),
        "is not an instruction set (write avx512, avx2 or generic)",
    )
}

/// The supported instruction set, capped by the `DP_SIMD` environment
/// variable (`avx512`, `avx2` or `generic`): lets the AVX2 paths be tested
/// and measured on an AVX-512 machine. A request above what the CPU
/// supports is ignored; `dp` refuses other names when it starts
/// ([`check_simd_setting`]).
fn probe() -> Isa {
    let best = probe_cpu();
    let asked = match std::env::var(SIMD_ENV).as_deref().map(str::trim) {
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
    /// Whether `exp` reads its lookup table: only without FMA (the scalar
    /// fallback, where a lookup is one load). Vectorised, lookups are
    /// gathers: AVX2 does not vectorise them well (LLVM left whole loops
    /// scalar; tanh ran 13x slower) and Zen 4 runs them slowly, so every wide
    /// instruction set uses the same table-free formulas, and gives the same bits.
    const TABLES: bool = !Self::FMA;
}

/// Instantiation for CPUs with FMA: AVX-512 and AVX2 (compiled under
/// `target_feature`). Both run the same operations in the same order, 8 or 4
/// lanes wide, so results do not depend on which one the CPU has.
pub(crate) struct WithFma;
impl Mode for WithFma {
    const FMA: bool = true;
}

/// Portable instantiation.
pub(crate) struct NoFma;
impl Mode for NoFma {
    const FMA: bool = false;
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
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::simd::WithFma>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::simd::WithFma>($($arg),*)
                }
                match $crate::simd::isa() {
                    // SAFETY: `isa()` reported that this CPU supports every enabled feature.
                    $crate::simd::Isa::Avx512 => return unsafe { v4($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Isa::Avx2 => return unsafe { v3($($arg),*) },
                    $crate::simd::Isa::Generic => {}
                }
            }
            $imp::<$crate::simd::NoFma>($($arg),*)
        }
    };
}
pub(crate) use multiversion;
