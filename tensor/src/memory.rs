//! The process-wide memory budget: how large a single buffer may be.
//!
//! Without it a request such as `ones((46340, 46340))` (inside the element
//! limit, but 17 GB) either aborts the process when the allocator gives up or
//! gets it killed by the kernel once the pages are touched. Every tensor
//! shape is validated by [`crate::checked_size`], which compares the bytes
//! the tensor would occupy with this budget, so an oversized request is an
//! ordinary error before anything is allocated. The interpreter checks
//! strings and tuples it builds against the same budget ([`check_memory`]).
//!
//! The budget defaults to half the memory the process can get and can be set
//! with the environment variable `DP_MAX_MEMORY` (see [`parse_size`]). It
//! bounds one allocation, not the live total: buffers are freed as soon as
//! their last holder drops them, and tracking the total would cost an atomic
//! update per buffer on the hottest paths.

use crate::error::{Result, TensorError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable that sets the budget.
pub const MEMORY_ENV: &str = "DP_MAX_MEMORY";

/// Marks the budget as not yet determined (a budget is always at least one byte).
const UNSET: usize = 0;

/// The budget in bytes, or [`UNSET`]. Read with a relaxed load: a plain
/// memory read, so checking costs nothing measurable even for tiny buffers.
static LIMIT: AtomicUsize = AtomicUsize::new(UNSET);

/// Used when physical memory cannot be determined.
const FALLBACK_LIMIT: usize = 16 << 30;

/// Sets the budget for the rest of the process (overriding `DP_MAX_MEMORY`);
/// 0 means no budget. Tests use it to get the same reports on every machine.
pub fn set_memory_limit(bytes: usize) {
    LIMIT.store(if bytes == 0 { usize::MAX } else { bytes }, Ordering::Relaxed);
}

/// The budget in bytes (`usize::MAX` when unlimited), or an error naming the
/// malformed `DP_MAX_MEMORY` setting.
pub fn memory_limit() -> Result<usize> {
    match LIMIT.load(Ordering::Relaxed) {
        UNSET => init_limit(),
        l => Ok(l),
    }
}

#[cold]
fn init_limit() -> Result<usize> {
    // A malformed setting is not cached: every checked allocation reports
    // it until it is fixed (a typo must not silently mean "no limit" or "the
    // default"). Neither may a value that is not UTF-8.
    let limit = match std::env::var(MEMORY_ENV) {
        Ok(s) => parse_size(&s).ok_or_else(|| malformed(&s))?,
        Err(std::env::VarError::NotUnicode(s)) => return Err(malformed(&s)),
        Err(std::env::VarError::NotPresent) => default_limit(),
    };
    LIMIT.store(limit, Ordering::Relaxed);
    Ok(limit)
}

/// The error for a `DP_MAX_MEMORY` setting that is not a memory size,
/// naming the forms [`parse_size`] accepts.
fn malformed(setting: &dyn std::fmt::Debug) -> TensorError {
    TensorError::Invalid(format!(
        "{MEMORY_ENV}={setting:?} is not a memory size (write bytes with an optional K, M, G or T suffix, e.g. 8G, or `unlimited`)"
    ))
}

/// Half the memory this process can get when the budget is
/// first needed: physical memory, or less when the system has less available
/// (`MemAvailable`), when a cgroup (a container, `systemd-run -p
/// MemoryMax=`) has less room left, or when an address-space limit
/// (`ulimit -v`) allows less. A single buffer beyond that is almost surely a
/// mistake (a wrong shape or a runaway loop), and allocating it would push
/// everything else, this process included, out of memory: Linux overcommits,
/// so such an allocation succeeds and the kernel kills the process later, as
/// the pages are touched.
fn default_limit() -> usize {
    let usable = [
        physical_memory(),
        available_memory(),
        cgroup_room(),
        address_space_limit(),
    ]
    .into_iter()
    .flatten()
    .min();
    match usable {
        // Half, because the budget bounds one allocation and a program usually
        // holds several large buffers at once (an operand and its result).
        Some(total) => usize::try_from(total / 2).unwrap_or(usize::MAX).max(1),
        None => FALLBACK_LIMIT,
    }
}

/// `MemAvailable` of `/proc/meminfo`: what can be allocated without swapping.
fn available_memory() -> Option<u128> {
    #[cfg(target_os = "linux")]
    {
        let info = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
        return Some(kb * 1024);
    }
    #[allow(unreachable_code)]
    None
}

fn physical_memory() -> Option<u128> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads system configuration.
        let (pages, page) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
        if pages > 0 && page > 0 {
            return Some((pages as u128) * (page as u128));
        }
    }
    None
}

/// The room left under this process's cgroup memory limit (v2 `memory.max`
/// less `memory.current`, or v1 `memory.limit_in_bytes` less
/// `memory.usage_in_bytes`), when a limit is set.
fn cgroup_room() -> Option<u128> {
    #[cfg(target_os = "linux")]
    {
        let read = |file: String| {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse::<u128>().ok())
        };
        // The cgroup of this process: "0::/path" (v2) or "N:memory:/path" (v1).
        let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        for line in groups.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let (limit, usage) = if controllers.is_empty() {
                (
                    read(format!("/sys/fs/cgroup{path}/memory.max")),
                    read(format!("/sys/fs/cgroup{path}/memory.current")),
                )
            } else if controllers.split(',').any(|c| c == "memory") {
                (
                    read(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")),
                    read(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")),
                )
            } else {
                continue;
            };
            // "max" (no limit) does not parse; v1 says "no limit" with a huge number.
            if let Some(limit) = limit.filter(|&l| l < 1 << 60) {
                return Some(limit.saturating_sub(usage.unwrap_or(0)));
            }
        }
    }
    None
}

/// The soft address-space limit (`ulimit -v`), when one is set.
fn address_space_limit() -> Option<u128> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0 && lim.rlim_cur != libc::RLIM_INFINITY {
            return Some(lim.rlim_cur as u128);
        }
    }
    None
}

/// Parses a memory size: a number of bytes with an optional decimal suffix
/// `K`, `M`, `G`, `T` (10^3 ... 10^12) or binary suffix `Ki`, `Mi`, `Gi`, `Ti`
/// (2^10 ... 2^40), case-insensitive, optionally followed by `B`; fractions
/// are allowed with a suffix (`1.5G`). `unlimited` (or `0`) means no budget.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") || s.eq_ignore_ascii_case("none") {
        return Some(usize::MAX);
    }
    let lower = s.to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let split = body.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024f64.powi(2),
        "gi" => 1024f64.powi(3),
        "ti" => 1024f64.powi(4),
        _ => return None,
    };
    let bytes = if unit.is_empty() {
        num.trim().parse::<u64>().ok()? as f64
    } else {
        let x: f64 = num.trim().parse().ok()?;
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        (x * scale).round()
    };
    if bytes == 0.0 {
        return Some(usize::MAX);
    }
    if bytes >= usize::MAX as f64 {
        return Some(usize::MAX);
    }
    Some(bytes as usize)
}

/// A byte count for people: `512 bytes`, `1.5 KB`, `17.2 GB` (decimal units,
/// three significant digits).
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} byte{}", if bytes == 1 { "" } else { "s" });
    }
    let mut x = bytes as f64;
    let mut unit = "";
    for u in UNITS {
        if x < 999.95 {
            break;
        }
        x /= 1000.0;
        unit = u;
    }
    if x >= 999.95 {
        // Beyond exabytes (only reachable through u128 products): plain scientific.
        return format!("{:.3e} bytes", bytes as f64);
    }
    let digits = if x < 9.995 {
        2
    } else if x < 99.95 {
        1
    } else {
        0
    };
    format!("{x:.digits$} {unit}")
}

/// Checks that one allocation of `bytes` (which may exceed `usize`, e.g. an
/// unchecked product) fits the budget; `what` describes it for the report
/// ("tensor of shape (3, 4)", "string of 10 characters").
pub fn check_memory(bytes: u128, what: impl FnOnce() -> String) -> Result<()> {
    let limit = memory_limit()?;
    if bytes > limit as u128 {
        return Err(TensorError::OutOfMemory {
            what: what(),
            bytes,
            limit: Some(limit),
        });
    }
    Ok(())
}

/// The error for an allocation the system refused although it was within
/// the budget (too little memory left, or an address-space limit).
pub(crate) fn refused(bytes: u128, what: impl FnOnce() -> String) -> TensorError {
    TensorError::OutOfMemory {
        what: what(),
        bytes,
        limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("8G"), Some(8_000_000_000));
        assert_eq!(parse_size("8gb"), Some(8_000_000_000));
        assert_eq!(parse_size("1.5K"), Some(1500));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size(" 512Mi "), Some(512 << 20));
        assert_eq!(parse_size("unlimited"), Some(usize::MAX));
        assert_eq!(parse_size("0"), Some(usize::MAX));
        for bad in ["", "G", "-1G", "1.5", "abc", "1X", "nanG", "1e400G"] {
            assert!(parse_size(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn byte_counts_read_naturally() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(999), "999 bytes");
        assert_eq!(format_bytes(1500), "1.50 KB");
        assert_eq!(format_bytes(17_179_044_800), "17.2 GB");
        assert_eq!(format_bytes(999_999), "1.00 MB");
        assert_eq!(format_bytes(123_456_789_000), "123 GB");
        assert_eq!(format_bytes(u128::from(u64::MAX) * 8), "148 EB");
        assert_eq!(format_bytes(u128::MAX), "3.403e38 bytes");
    }
}
