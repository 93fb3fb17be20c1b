//! Rank-1 products `C = a bᵀ`: matrix products whose inner size is 1.
//!
//! Per-example weight gradients under `vmap(grad(f))` are batches of them
//! (`[n, m, 1] @ [n, 1, p]`), and they are bound by the stores, not the
//! arithmetic: one multiply per element written. Two things decide their
//! speed. The store width: the crate is compiled for SSE2, so the plain loop
//! is instantiated per instruction set ([`crate::simd`]) to store 4 or 8
//! lanes at a time (about 2x on an L2-resident output). And, for outputs too
//! large to stay in cache, the kind of store: an ordinary store first reads
//! the line it writes (read-for-ownership), doubling the memory traffic,
//! and evicts the cache's useful contents; a non-temporal (streaming) store
//! writes whole lines straight to memory. On the digits MLP's 16.8 MB of
//! per-example gradients streaming measured 1.0-2.2x faster, the larger
//! gains on a busy machine.

use std::mem::MaybeUninit;

/// Outputs of at least this many bytes are written with streaming stores:
/// above a core's L2 (2 MiB on the development machine) the result does
/// not stay in cache until it is read anyway. (The digits MLP's second
/// layer, 2.6 MB of per-example gradients, measured about 1.5x faster
/// streamed under `vmap`.)
pub(crate) const STREAM_MIN_BYTES: usize = 2 << 20;

/// Writes `C[i, j] = a[i] * b[j]` for `i < m`, `j < n`, where `a` is read at
/// stride `rsa`, `b` at stride `csb`, and row `i` of `C` starts at
/// `c + i * rsc` with unit column stride. `stream` asks for non-temporal
/// stores (honoured on x86-64; elsewhere ordinary stores). The products are
/// the same single multiplications either way, so the results are identical.
///
/// # Safety
/// `a` and `b` must address `m` and `n` valid elements at their strides,
/// every row of `C` must be valid for `n` writes, and `C` must not overlap
/// `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn rank1(
    m: usize,
    n: usize,
    a: *const f64,
    rsa: isize,
    b: *const f64,
    csb: isize,
    c: *mut f64,
    rsc: isize,
    stream: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // A contiguous copy of B's row (it is read once per row of C) unless it
    // already is one; A's column is read one element per row.
    let gathered: Vec<f64>;
    let brow: &[f64] = if csb == 1 {
        // SAFETY: the caller promises n elements at unit stride.
        unsafe { std::slice::from_raw_parts(b, n) }
    } else {
        // SAFETY: as above, at stride csb.
        gathered = (0..n as isize).map(|j| unsafe { *b.offset(j * csb) }).collect();
        &gathered
    };
    for i in 0..m as isize {
        // SAFETY: the caller promises m elements of A at stride rsa and n
        // writable elements in each row of C.
        let (av, row) = unsafe {
            (
                *a.offset(i * rsa),
                std::slice::from_raw_parts_mut(c.offset(i * rsc) as *mut MaybeUninit<f64>, n),
            )
        };
        if stream {
            stream_row(av, brow, row);
        } else {
            scaled_row(av, brow, row);
        }
    }
    if stream {
        finish_streams();
    }
}

crate::simd::multiversion!(
    /// `row[j] = av * b[j]` with ordinary stores, as wide as the CPU allows.
    fn scaled_row(av: f64, b: &[f64], row: &mut [MaybeUninit<f64>]) => scaled_row_impl
);

#[inline(always)]
fn scaled_row_impl<M: crate::simd::Mode>(av: f64, b: &[f64], row: &mut [MaybeUninit<f64>]) {
    for (cj, bj) in row.iter_mut().zip(b) {
        cj.write(av * bj);
    }
}

/// `row[j] = av * b[j]` with non-temporal stores: pairs at 16-byte aligned
/// addresses (SSE2, every x86-64 CPU has it), a single element before and
/// after them when the row does not start or end on a pair.
#[cfg(target_arch = "x86_64")]
fn stream_row(av: f64, b: &[f64], row: &mut [MaybeUninit<f64>]) {
    use std::arch::x86_64::{_mm_loadu_pd, _mm_mul_pd, _mm_set1_pd, _mm_stream_pd, _mm_stream_si64};
    let n = row.len().min(b.len());
    let p = row.as_mut_ptr() as *mut f64;
    let mut j = 0;
    // SAFETY: every access is below n, inside both slices; `p.add(j)` for
    // the paired stores is 16-byte aligned (checked or made so by the one
    // single store before the loop, as f64 slots are 8-byte aligned).
    unsafe {
        if n > 0 && !(p as usize).is_multiple_of(16) {
            _mm_stream_si64(p as *mut i64, (av * b[0]).to_bits() as i64);
            j = 1;
        }
        let s = _mm_set1_pd(av);
        while j + 2 <= n {
            _mm_stream_pd(p.add(j), _mm_mul_pd(s, _mm_loadu_pd(b.as_ptr().add(j))));
            j += 2;
        }
        if j < n {
            _mm_stream_si64(p.add(j) as *mut i64, (av * b[j]).to_bits() as i64);
        }
    }
}

/// Without non-temporal stores in reach, ordinary ones.
#[cfg(not(target_arch = "x86_64"))]
fn stream_row(av: f64, b: &[f64], row: &mut [MaybeUninit<f64>]) {
    scaled_row(av, b, row);
}

/// Orders this thread's streaming stores before anything it does next
/// (non-temporal stores are weakly ordered: without the fence another
/// thread handed the result could read stale memory).
fn finish_streams() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` has no operands and is part of SSE (every x86-64 CPU).
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both store kinds give exactly `a[i] * b[j]` at every alignment and
    /// row length, for strided operands and rows with gaps between them.
    #[test]
    fn rank1_matches_the_products_for_both_store_kinds() {
        for stream in [false, true] {
            for &(m, n, skip) in &[(1, 1, 0), (3, 1, 1), (4, 5, 0), (5, 10, 1), (7, 33, 0), (2, 128, 3)] {
                let a: Vec<f64> = (0..2 * m).map(|i| 0.5 + i as f64 * 0.37).collect();
                let b: Vec<f64> = (0..3 * n).map(|j| 1.25 - j as f64 * 0.11).collect();
                let rsc = n + skip;
                let mut c = vec![-1.0; 1 + m * rsc];
                // Start one element in, so rows are misaligned for the pairs.
                unsafe {
                    rank1(
                        m,
                        n,
                        a.as_ptr(),
                        2,
                        b.as_ptr(),
                        3,
                        c.as_mut_ptr().add(1),
                        rsc as isize,
                        stream,
                    );
                }
                for i in 0..m {
                    for j in 0..n {
                        assert_eq!(c[1 + i * rsc + j], a[2 * i] * b[3 * j], "stream {stream} m {m} n {n}");
                    }
                    for g in n..rsc {
                        assert_eq!(c[1 + i * rsc + g], -1.0, "gap written");
                    }
                }
                assert_eq!(c[0], -1.0);
            }
        }
    }
}
