//! Allocation of element buffers, large ones backed by transparent huge pages.
//!
//! A 1e6-element buffer spans 2048 ordinary 4 KiB pages: writing a fresh one
//! takes that many page faults, and streaming through one misses the TLB on
//! every page. On Linux with transparent huge pages in `madvise` mode (the
//! common default) only memory that asked for it gets 2 MiB pages, which
//! NumPy does for every array of 4 MiB or more; memory-bound kernels here
//! measured 5-20% slower than NumPy's without it. The advice is given before
//! the buffer is first written, so the first faults already map huge pages.
//!
//! Result buffers of fallible operations come from [`alloc`] (and
//! [`alloc_filled`]), the one checked path: the shape is validated by
//! [`checked_size`] (element limit and memory budget) and the allocation
//! itself is fallible, so even a refusal by the system is an error rather
//! than an abort. The infallible helpers serve operations whose result has
//! the shape of an existing tensor, which `checked_size` already accepted.

use crate::error::{checked_size, Result};

/// Buffers of at least this many bytes get the huge page advice (NumPy's
/// threshold; below it a 2 MiB page would be mostly outside the buffer).
const HUGE_MIN_BYTES: usize = 1 << 22;

/// An empty vector with capacity for exactly `n` elements, advised to use
/// huge pages when large. Callers fill it without reallocating.
pub(crate) fn with_capacity(n: usize) -> Vec<f64> {
    let v: Vec<f64> = Vec::with_capacity(n);
    advise_huge(v.as_ptr(), n.saturating_mul(std::mem::size_of::<f64>()));
    v
}

/// Collects exactly `n` items (the iterator must yield `n`; more or fewer
/// is still correct, just possibly reallocating) into a [`with_capacity`] buffer.
pub(crate) fn collect(n: usize, items: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v = with_capacity(n);
    v.extend(items);
    v
}

/// An empty buffer with room for exactly the elements of `shape`, after
/// checking the shape against the element limit and the memory budget.
pub(crate) fn alloc(shape: &[usize]) -> Result<Vec<f64>> {
    let n = checked_size(shape)?;
    let mut v: Vec<f64> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        crate::memory::refused(n as u128 * std::mem::size_of::<f64>() as u128, || {
            format!("tensor of shape {}", crate::format_shape(shape))
        })
    })?;
    advise_huge(v.as_ptr(), n.saturating_mul(std::mem::size_of::<f64>()));
    Ok(v)
}

/// The elements of `shape`, all equal to `x`, from [`alloc`].
pub(crate) fn alloc_filled(shape: &[usize], x: f64) -> Result<Vec<f64>> {
    let mut v = alloc(shape)?;
    // `alloc` reserved room for this many. Not `shape.iter().product()`: the
    // axes of an empty shape may multiply past usize before the zero.
    v.resize(checked_size(shape)?, x);
    Ok(v)
}

/// Asks the kernel to back the whole 2 MiB pages inside `[ptr, ptr + bytes)`
/// with huge pages. Advisory only: failure (an old kernel, THP disabled, a
/// non-Linux OS) just leaves ordinary pages.
#[allow(unused_variables)]
fn advise_huge(ptr: *const f64, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 1 << 21;
        if bytes < HUGE_MIN_BYTES {
            return;
        }
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize).saturating_add(bytes) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside this vector's own allocation, and
            // MADV_HUGEPAGE changes no contents, only how pages are backed.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_have_the_requested_room() {
        for n in [0, 1, 1000, (1 << 19) + 3, 3 << 20] {
            let v = with_capacity(n);
            assert!(v.is_empty() && v.capacity() >= n);
            let f = alloc_filled(&[n], 2.5).unwrap();
            assert!(f.len() == n && f.iter().all(|&x| x == 2.5));
            assert!(alloc(&[n]).unwrap().capacity() >= n);
            let c = collect(n, (0..n).map(|i| i as f64));
            assert!(c.len() == n && c.iter().enumerate().all(|(i, &x)| x == i as f64));
        }
    }
}
