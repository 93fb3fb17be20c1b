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

/// A fixed instant the backoff deadline is measured from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`].
fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether splitting work with the helper is currently worthwhile: false for
/// a while after the helper lagged far behind the caller in a shared job.
pub(crate) fn helper_worthwhile() -> bool {
    !single_threaded() && now_nanos() >= BACKOFF_UNTIL.load(Ordering::Relaxed)
}

/// Whether the user asked for one thread (`DP_NUM_THREADS=1`, read once):
/// then no work is ever shared with the helper.
pub(crate) fn single_threaded() -> bool {
    static ONE: OnceLock<bool> = OnceLock::new();
    *ONE.get_or_init(|| std::env::var("DP_NUM_THREADS").is_ok_and(|v| v.trim() == "1"))
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

/// Spins until `ready()` holds or [`SPIN`] has passed; returns `ready()`.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() > SPIN {
            return ready();
        }
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
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= pieces {
            break;
        }
        f(i);
    };
    let p = match pool() {
        Some(p) if pieces > 1 && !p.taken.swap(true, Ordering::Acquire) => p,
        _ => return work(),
    };
    let job: JobRef = &work;
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
    work();
    let own = start.elapsed();
    drop(wait);
    if start.elapsed() > own + own / 2 {
        // The caller waited longer than half its own share for the helper.
        let backoff = u64::try_from(BACKOFF.as_nanos()).unwrap_or(u64::MAX);
        BACKOFF_UNTIL.store(now_nanos().saturating_add(backoff), Ordering::Relaxed);
    }
    if p.panicked.load(Ordering::Relaxed) {
        panic!("dp-tensor helper thread job panicked");
    }
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
