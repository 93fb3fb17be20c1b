//! Data cache sizes of the running CPU, detected once at first use.
//!
//! The GEMM's block sizes follow from them (see `gemm::blocking`), so the
//! same binary picks blocks that fit a 512 KiB L2 on one machine and a
//! 2 MiB L2 on another. Linux reports the sizes in
//! `/sys/devices/system/cpu/cpu0/cache`; elsewhere (or if that is missing)
//! x86 CPUID leaf 4 (Intel) or 0x8000001D (AMD) is asked, and failing
//! both, sizes typical of a current x86 core are assumed.

use std::sync::OnceLock;

/// Per-core data cache sizes in bytes (the last level as a whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Caches {
    /// Level-1 data cache.
    pub l1: usize,
    /// Level-2 (unified) cache.
    pub l2: usize,
    /// Level-3 cache (0 if there is none).
    pub l3: usize,
}

/// Assumed when nothing can be detected: a Zen 3 class core.
const FALLBACK: Caches = Caches {
    l1: 32 * 1024,
    l2: 512 * 1024,
    l3: 16 * 1024 * 1024,
};

/// The detected cache sizes (cached for the life of the process).
pub(crate) fn caches() -> Caches {
    static C: OnceLock<Caches> = OnceLock::new();
    *C.get_or_init(|| sanitize(from_sysfs().or_else(from_cpuid).unwrap_or(FALLBACK)))
}

/// Replaces missing or implausible levels by the fallback's (a VM may
/// report zeros or nothing for some levels).
fn sanitize(c: Caches) -> Caches {
    let pick = |v: usize, lo: usize, hi: usize, dflt: usize| if (lo..=hi).contains(&v) { v } else { dflt };
    Caches {
        l1: pick(c.l1, 8 << 10, 1 << 20, FALLBACK.l1),
        l2: pick(c.l2, 64 << 10, 64 << 20, FALLBACK.l2),
        l3: pick(c.l3, 1 << 20, 4 << 30, 0),
    }
}

/// Parses a sysfs size such as `48K`, `2048K` or `32M`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1024),
        b'M' | b'm' => (&s[..s.len() - 1], 1024 * 1024),
        b'G' | b'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mul)
}

/// Reads `/sys/devices/system/cpu/cpu0/cache/index*/{level,type,size}`.
fn from_sysfs() -> Option<Caches> {
    let mut c = Caches { l1: 0, l2: 0, l3: 0 };
    for i in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let size = parse_size(&size)?;
        match level.trim() {
            "1" => c.l1 = size,
            "2" => c.l2 = size,
            "3" => c.l3 = size,
            _ => {}
        }
    }
    (c.l1 > 0 && c.l2 > 0).then_some(c)
}

/// Asks CPUID's deterministic cache parameters: leaf 4 on Intel, and where
/// that reports nothing (AMD) leaf 0x8000001D, which has the same layout.
#[cfg(target_arch = "x86_64")]
fn from_cpuid() -> Option<Caches> {
    use std::arch::x86_64::__cpuid;
    let (max, ext_max) = (__cpuid(0).eax, __cpuid(0x8000_0000).eax);
    let basic = if max >= 4 { cpuid_leaf(4) } else { None };
    basic.or_else(|| {
        if ext_max >= 0x8000_001D {
            cpuid_leaf(0x8000_001D)
        } else {
            None
        }
    })
}

/// Reads the cache descriptors of one CPUID cache leaf (which the caller
/// checked the CPU has: CPUID itself exists on every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
fn cpuid_leaf(leaf: u32) -> Option<Caches> {
    use std::arch::x86_64::__cpuid_count;
    let mut c = Caches { l1: 0, l2: 0, l3: 0 };
    for sub in 0..16 {
        let r = __cpuid_count(leaf, sub);
        let kind = r.eax & 0x1f; // 0 none, 1 data, 2 instruction, 3 unified
        if kind == 0 {
            break;
        }
        if kind == 2 {
            continue;
        }
        let level = (r.eax >> 5) & 7;
        let ways = ((r.ebx >> 22) & 0x3ff) as usize + 1;
        let parts = ((r.ebx >> 12) & 0x3ff) as usize + 1;
        let line = (r.ebx & 0xfff) as usize + 1;
        let sets = r.ecx as usize + 1;
        let size = ways * parts * line * sets;
        match level {
            1 => c.l1 = size,
            2 => c.l2 = size,
            3 => c.l3 = size,
            _ => {}
        }
    }
    (c.l1 > 0 && c.l2 > 0).then_some(c)
}

#[cfg(not(target_arch = "x86_64"))]
fn from_cpuid() -> Option<Caches> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("48K\n"), Some(48 * 1024));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn detected_sizes_are_plausible() {
        let c = caches();
        assert!(c.l1 >= 8 << 10 && c.l2 >= 64 << 10, "{c:?}");
        let odd = sanitize(Caches { l1: 0, l2: 1, l3: 5 });
        assert_eq!(odd, Caches { l3: 0, ..FALLBACK });
    }
}
