//! One persistent helper thread for sharing a kernel's work.
//!
//! Spawning a thread per matrix product costs tens of microseconds, as much
//! as a whole 128x128 product, so products that are worth splitting share
//! their pieces with a lazily started helper that lives for the rest of the
//! process. The helper spins briefly after each job (back-to-back products,
//! as in a training loop, then start without a wake-up) before it sleeps on a
//! condition variable.
//!
//! Work is claimed piece by piece from a shared counter, so the caller never
//! waits for the helper to *start*: on a machine whose other core is busy the
//! caller just does all the pieces itself and withdraws the job, which keeps
//! the worst case close to the serial time. If the helper is already in use
//! (another thread, or a job asking for it again) the caller runs alone.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the helper (and a waiting caller) spin before sleeping. Waking a
/// sleeping thread on a VM can take longer than a 256x256 product, and an
/// interpreter step between two products (allocating and zeroing the next
/// output) often takes a few hundred microseconds, so the helper waits that
/// long on its own core before it gives the core up.
const SPIN: Duration = Duration::from_micros(1000);

/// How long work runs serially after the helper was found lagging (its core
/// busy with other work); then the helper is tried again. A time shorter
/// than [`SPIN`], not a number of calls: a training step shares only a few
/// products, so 16 serial calls outlasted the helper's spin, it went to
/// sleep, the next shared product waited for it to wake, lagged again, and
/// the helper ended up spinning idle while the caller did all the work.
const BACKOFF: Duration = Duration::from_micros(400);

/// Until when (nanoseconds after [`epoch`]) [`helper_worthwhile`] says no.
static BACKOFF_UNTIL: AtomicU64 = AtomicU64::new(0);

/// Shared jobs in a row in which the helper lagged. Each one doubles the
/// backoff (up to `BACKOFF << MAX_DOUBLINGS`): on a machine whose cores stay
/// busy with other processes, a fixed 400 us made every other elementwise
/// operation of a loop wait for a preempted helper (and the spinning helper
/// took CPU time from the caller), 1.5-4x slower than serial under load 5.
/// Each job shared without lag undoes one doubling.
static LAGS: AtomicU64 = AtomicU64::new(0);

/// At most 400 us * 2^6 = 25.6 ms of serial work between two tries.
const MAX_DOUBLINGS: u64 = 6;

/// A fixed instant the backoff deadline is measured from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`].
fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether splitting work with the helper is currently worthwhile: false
/// where this thread turned sharing off (see [`with_sharing`]) and for a
/// while after the helper lagged far behind the caller in a shared job.
pub(crate) fn helper_worthwhile() -> bool {
    SHARING.get() && !single_threaded() && now_nanos() >= BACKOFF_UNTIL.load(Ordering::Relaxed)
}

thread_local! {
    /// Whether kernels started on this thread may share their work (see
    /// [`with_sharing`]).
    static SHARING: Cell<bool> = const { Cell::new(true) };
    /// Jobs this thread has handed to the helper (see [`shared_jobs`]).
    static SHARED_JOBS: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with the kernels it starts on this thread allowed (`true`, the
/// default) or not allowed (`false`) to share their work with the helper
/// thread. Results are the same bits either way (every kernel cuts its work
/// so that no element depends on the cut); only the time differs. Whether
/// sharing pays depends on the machine as much as on the sizes: where data
/// written by one core is slow to reach the other (some VMs' vCPUs, or
/// cores on two sockets), a product of fresh operands ran slower on two
/// threads than on one, so a caller that runs the same work again and again
/// (a jit plan) measures both and keeps the faster.
pub fn with_sharing<R>(allowed: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SHARING.set(self.0);
        }
    }
    let _restore = Restore(SHARING.replace(allowed));
    f()
}

/// How many jobs this thread has handed to the helper so far: a caller
/// compares two readings to learn whether some work shared anything (and
/// so whether turning sharing off could change its time at all).
pub fn shared_jobs() -> u64 {
    SHARED_JOBS.get()
}

/// Whether work can be shared at all in this process: false when one
/// thread was asked for (`DP_NUM_THREADS=1`).
pub fn sharing_possible() -> bool {
    !single_threaded()
}

/// The environment variable that limits the kernels' threads.
pub const THREADS_ENV: &str = "DP_NUM_THREADS";

/// Whether the user asked for one thread (`DP_NUM_THREADS=1`, read once):
/// then no work is ever shared with the helper. A larger count changes
/// nothing, as dp never uses more than two threads.
pub(crate) fn single_threaded() -> bool {
    static ONE: OnceLock<bool> = OnceLock::new();
    *ONE.get_or_init(|| std::env::var(THREADS_ENV).is_ok_and(|v| v.trim() == "1"))
}

/// Checks a `DP_NUM_THREADS` setting, if there is one: it must be a
/// positive integer. `Err` names the variable, the value and what is
/// accepted: the kernels read it when first used, so a typo must be caught
/// when `dp` starts (it was silently taken as "two threads").
pub fn check_threads_setting() -> std::result::Result<(), String> {
    crate::setting::check_setting(
        THREADS_ENV,
        |v| v.parse::<u32>().is_ok_and(|n| n >= 1),
        "is not a thread count (write a positive integer; 1 keeps every kernel on one thread)",
    )
}

/// A job as the helper sees it: a pointer to a `&(dyn Fn() + Sync)` that
/// lives on the submitting caller's stack until the job is marked done.
type JobRef<'a> = &'a (dyn Fn() + Sync);

struct Pool {
    /// Set while one caller owns the helper.
    taken: AtomicBool,
    /// Pending job (null when there is none).
    job: AtomicPtr<JobRef<'static>>,
    /// Set by the helper when the current job has finished.
    done: AtomicBool,
    /// Set if the current job panicked.
    panicked: AtomicBool,
    /// Guards sleeping on `wake` / `finished` (no data of its own).
    lock: Mutex<()>,
    wake: Condvar,
    finished: Condvar,
}

static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();

/// The helper, started on first use; `None` if no thread could be spawned.
fn pool() -> Option<&'static Pool> {
    *POOL.get_or_init(|| {
        let p: &'static Pool = Box::leak(Box::new(Pool {
            taken: AtomicBool::new(false),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            finished: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("dp-tensor-helper".into())
            .spawn(move || helper(p))
            .ok()
            .map(|_| p)
    })
}

/// A round of 64 spins taking longer than this means the thread was
/// preempted: its core is shared with other processes.
const PREEMPTED: Duration = Duration::from_micros(50);

/// Spins until `ready()` holds or [`SPIN`] has passed; returns `ready()`.
/// Stops early when the thread was preempted while spinning: on a core
/// shared with other processes, spinning only takes time from them and from
/// the other thread of the job (under load 4-5 the spinning helper made
/// split elementwise loops up to 2x slower than serial).
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    let mut round = start;
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        let now = Instant::now();
        if now - start > SPIN || now - round > PREEMPTED {
            return ready();
        }
        round = now;
    }
}

fn helper(p: &'static Pool) {
    loop {
        if !spin_until(|| !p.job.load(Ordering::Acquire).is_null()) {
            let mut guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
            while p.job.load(Ordering::Acquire).is_null() {
                guard = p.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
        let job = p.job.swap(std::ptr::null_mut(), Ordering::Acquire);
        if job.is_null() {
            continue; // withdrawn by its submitter in the meantime
        }
        // SAFETY: the job was taken before its submitter could withdraw it, so
        // the submitter keeps the pointee alive until `done` is set.
        let f: JobRef = unsafe { *job };
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            p.panicked.store(true, Ordering::Relaxed);
        }
        p.done.store(true, Ordering::Release);
        let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.finished.notify_one();
    }
}

/// Withdraws the submitted job or, if the helper already took it, blocks
/// until the helper has finished it; also when the caller's own share
/// panics (the job borrows the caller's stack).
struct WaitDone(&'static Pool, *mut JobRef<'static>);

impl Drop for WaitDone {
    fn drop(&mut self) {
        let p = self.0;
        let withdrawn = p
            .job
            .compare_exchange(self.1, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if !withdrawn && !spin_until(|| p.done.load(Ordering::Acquire)) {
            let mut guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
            while !p.done.load(Ordering::Acquire) {
                guard = p.finished.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
        p.taken.store(false, Ordering::Release);
    }
}

/// Runs `f(i)` for every `i < pieces`, sharing the pieces between the
/// calling thread and the helper; returns when all have finished.
pub(crate) fn for_each_piece(pieces: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    // Pieces run by the helper.
    let helped = AtomicUsize::new(0);
    let work = |count: &AtomicUsize| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= pieces {
            break;
        }
        f(i);
        count.fetch_add(1, Ordering::Relaxed);
    };
    let mine = AtomicUsize::new(0);
    let p = match pool() {
        Some(p) if pieces > 1 && !p.taken.swap(true, Ordering::Acquire) => p,
        _ => return work(&mine),
    };
    SHARED_JOBS.set(SHARED_JOBS.get() + 1);
    let help = || work(&helped);
    let job: JobRef = &help;
    let job_ptr = &job as *const JobRef as *mut JobRef<'static>;
    p.done.store(false, Ordering::Relaxed);
    p.panicked.store(false, Ordering::Relaxed);
    // The cast only erases the lifetime: the job is withdrawn or waited for below.
    p.job.store(job_ptr, Ordering::Release);
    {
        let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.wake.notify_one();
    }
    let wait = WaitDone(p, job_ptr);
    let start = Instant::now();
    work(&mine);
    let own = start.elapsed();
    drop(wait);
    // The helper lagged if the caller waited longer than half its own share
    // for it, or if it joined in but ran less than a quarter of many pieces:
    // then its core is busy with other work, and its spinning between jobs
    // only takes time from the caller. (One that never joined cost nothing.)
    let h = helped.load(Ordering::Relaxed);
    let few = pieces >= 8 && h > 0 && h * 4 < pieces;
    if start.elapsed() > own + own / 2 || few {
        let lags = LAGS.fetch_add(1, Ordering::Relaxed).min(MAX_DOUBLINGS);
        let backoff = u64::try_from(BACKOFF.as_nanos()).unwrap_or(u64::MAX) << lags;
        BACKOFF_UNTIL.store(now_nanos().saturating_add(backoff), Ordering::Relaxed);
    } else if LAGS.load(Ordering::Relaxed) > 0 {
        // Recover one doubling per good job: under steady load good and
        // lagging jobs alternate, and a full reset kept the backoff short.
        LAGS.fetch_sub(1, Ordering::Relaxed);
    }
    if p.panicked.load(Ordering::Relaxed) {
        panic!("dp-tensor helper thread job panicked");
    }
}

/// Elements per piece of split elementwise work (PyTorch and XLA use about
/// the same grain). A multiple of every kernel's block length (256 in
/// `vmath`, 512 in `fused`), so that a piece's blocks start where the serial
/// loop's do.
pub(crate) const GRAIN: usize = 32 * 1024;

/// Split thresholds, in elements, by cost per element: below them handing a
/// piece to the helper (a wake-up or a spin hand-off, and the cache lines of
/// the output moving between cores) costs more than it saves. Measured with
/// `examples/split_sweep.rs` on the 2-core AVX-512 VM.
pub(crate) mod split_min {
    /// Memory-bound arithmetic (add, multiply, compare, where, ...).
    pub(crate) const CHEAP: usize = 4 * super::GRAIN;
    /// Vectorised transcendentals and fused blocks (several ns per element).
    pub(crate) const COSTLY: usize = 2 * super::GRAIN;
}

/// A raw pointer the pieces of one split job share; each piece touches only
/// its own disjoint range of the pointee.
pub(crate) struct SharedMut<T>(pub(crate) *mut T);

impl<T> SharedMut<T> {
    /// The pointer (a method, so that closures capture the whole wrapper and
    /// its `Sync`, not the bare pointer field).
    pub(crate) fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: every user (`split_mut`, `split_rows_mut`, the convolutions' chunks)
// makes disjoint subslices of one `&mut [T]` with `T: Send`, one per piece.
unsafe impl<T: Send> Sync for SharedMut<T> {}

/// The decision [`test_mode`] forces on this thread for work that could be
/// shared when `possible` (counting the splits it forces), or `None` where
/// the production rule decides.
#[inline(always)]
fn forced(possible: bool) -> Option<bool> {
    #[cfg(test)]
    match test_mode::MODE.get() {
        test_mode::Mode::Normal => None,
        test_mode::Mode::Serial => Some(false),
        test_mode::Mode::Split => {
            if possible {
                test_mode::SPLITS.fetch_add(1, Ordering::Relaxed);
            }
            Some(possible)
        }
    }
    #[cfg(not(test))]
    {
        let _ = possible;
        None
    }
}

/// Whether work on `n` elements whose threshold is `min` should be split.
pub(crate) fn should_split(n: usize, min: usize) -> bool {
    let possible = n >= min && n > GRAIN;
    forced(possible).unwrap_or_else(|| possible && helper_worthwhile() && elementwise_sharing())
}

/// Whether `pieces` independent pieces of work, each costly on its own (a
/// convolution's chunks of samples), should be shared with the helper.
pub(crate) fn should_share_pieces(pieces: usize) -> bool {
    let possible = pieces >= 2;
    forced(possible).unwrap_or_else(|| possible && helper_worthwhile())
}

/// Whether elementwise work may be shared: `DP_SPLIT_ELEMENTWISE=0` (read
/// once) keeps it on the calling thread while products still share theirs,
/// to compare the two in one build.
fn elementwise_sharing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("DP_SPLIT_ELEMENTWISE").map_or(true, |v| v.trim() != "0"))
}

/// Lets tests compare split kernels against the serial ones on the same
/// thread: the split decision is taken on the calling thread.
#[cfg(test)]
pub(crate) mod test_mode {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;

    /// How [`super::should_split`] decides on this thread.
    #[derive(Clone, Copy)]
    pub(crate) enum Mode {
        /// As in production.
        Normal,
        /// Never split.
        Serial,
        /// Split whenever the size allows, even when the helper is backing
        /// off (so that a test cannot pass by not splitting).
        Split,
    }

    thread_local! {
        pub(crate) static MODE: Cell<Mode> = const { Cell::new(Mode::Normal) };
    }

    /// Splits taken in [`Mode::Split`] (by any thread).
    pub(crate) static SPLITS: AtomicUsize = AtomicUsize::new(0);

    /// `f()` with this thread's decisions made by `mode`.
    pub(crate) fn with<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
        let old = MODE.replace(mode);
        let r = f();
        MODE.set(old);
        r
    }
}

/// Calls `f(start, piece)` for consecutive pieces of `dst` ([`GRAIN`]
/// elements each, the last one shorter) covering it exactly, shared with the
/// helper when `dst` has at least `min` elements (see [`split_min`]) and the
/// helper is worthwhile; otherwise `f(0, dst)` once on this thread. `f` must
/// compute each element independently of how `dst` was cut, so that the
/// result does not depend on the thread count.
pub(crate) fn split_mut<T: Send>(dst: &mut [T], min: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let n = dst.len();
    if !should_split(n, min) {
        return f(0, dst);
    }
    let base = SharedMut(dst.as_mut_ptr());
    for_each_piece(n.div_ceil(GRAIN), |i| {
        let start = i * GRAIN;
        let len = GRAIN.min(n - start);
        // SAFETY: `for_each_piece` runs every `i < pieces` exactly once, so the
        // ranges `start..start + len` are disjoint and inside `dst`, which the
        // caller's `&mut` keeps borrowed until all pieces have finished.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), len) };
        f(start, piece);
    });
}

/// Calls `f(lo, hi, piece)` for consecutive ranges `lo..hi` of `rows` rows of
/// `row_len` elements each, where `piece` is `dst[lo * row_len..hi *
/// row_len]`: as [`split_mut`], but cut at row boundaries (pieces of about
/// [`GRAIN`] elements), for kernels that walk rows of a broadcast.
pub(crate) fn split_rows_mut<T: Send>(
    dst: &mut [T],
    rows: usize,
    row_len: usize,
    min: usize,
    f: impl Fn(usize, usize, &mut [T]) + Sync,
) {
    let n = dst.len();
    if rows < 2 || rows.checked_mul(row_len) != Some(n) || !should_split(n, min) {
        return f(0, rows, dst);
    }
    let per = GRAIN.div_ceil(row_len.max(1)).max(1);
    let base = SharedMut(dst.as_mut_ptr());
    for_each_piece(rows.div_ceil(per), |i| {
        let lo = i * per;
        let hi = (lo + per).min(rows);
        // SAFETY: as in `split_mut`: each `i` runs once, so the row ranges are
        // disjoint, and `hi * row_len <= rows * row_len == dst.len()`.
        let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(lo * row_len), (hi - lo) * row_len) };
        f(lo, hi, piece);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_piece_runs_once() {
        for pieces in 0..40 {
            let hits: Vec<AtomicUsize> = (0..pieces).map(|_| AtomicUsize::new(0)).collect();
            for_each_piece(pieces, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{pieces}");
        }
    }

    #[test]
    fn split_pieces_cover_the_slice_once() {
        for n in [
            0,
            1,
            GRAIN,
            GRAIN + 1,
            2 * GRAIN - 1,
            4 * GRAIN,
            4 * GRAIN + 1,
            7 * GRAIN + 333,
        ] {
            let mut v = vec![0u32; n];
            test_mode::with(test_mode::Mode::Split, || {
                split_mut(&mut v, 0, |lo, d| {
                    assert!(d.len() <= GRAIN && (lo % GRAIN == 0), "{n} {lo}");
                    for (i, x) in d.iter_mut().enumerate() {
                        *x += (lo + i) as u32 + 1;
                    }
                })
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 + 1), "{n}");
        }
    }

    #[test]
    fn split_rows_cover_the_rows_once() {
        for (rows, row_len) in [
            (0, 5),
            (1, 5 * GRAIN),
            (2, GRAIN),
            (3, GRAIN + 1),
            (1000, 1000),
            (70_000, 3),
            (5, 0),
        ] {
            let mut v = vec![0u32; rows * row_len];
            test_mode::with(test_mode::Mode::Split, || {
                split_rows_mut(&mut v, rows, row_len, 0, |lo, hi, d| {
                    assert_eq!(d.len(), (hi - lo) * row_len);
                    for (i, x) in d.iter_mut().enumerate() {
                        *x += (lo * row_len + i) as u32 + 1;
                    }
                })
            });
            assert!(
                v.iter().enumerate().all(|(i, &x)| x == i as u32 + 1),
                "{rows}x{row_len}"
            );
        }
    }

    #[test]
    fn concurrent_and_nested_calls_complete() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        for_each_piece(3, |_| {
                            for_each_piece(2, |_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 50 * 3 * 2);
    }
}
