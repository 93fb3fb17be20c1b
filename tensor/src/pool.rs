//! One persistent helper thread for splitting a kernel in two.
//!
//! Spawning a thread per matrix product costs tens of microseconds, as much
//! as a whole 128x128 product, so products that are worth splitting hand one
//! half to a lazily started helper that lives for the rest of the process.
//! The helper spins briefly after each job (back-to-back products, as in a
//! training loop, then start without a wake-up) before it sleeps on a
//! condition variable. If the helper is busy (another thread is using it, or
//! a job itself asks for it) the caller simply runs both halves itself.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the helper (and a waiting caller) spin before sleeping.
const SPIN: Duration = Duration::from_micros(50);

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
        // SAFETY: the submitter keeps the pointee alive until `done` is set.
        let f: JobRef = unsafe { *job };
        if catch_unwind(AssertUnwindSafe(f)).is_err() {
            p.panicked.store(true, Ordering::Relaxed);
        }
        p.done.store(true, Ordering::Release);
        let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.finished.notify_one();
    }
}

/// Blocks until the helper has finished the submitted job, even when the
/// caller's own half panics (the job borrows the caller's stack).
struct WaitDone(&'static Pool);

impl Drop for WaitDone {
    fn drop(&mut self) {
        let p = self.0;
        if !spin_until(|| p.done.load(Ordering::Acquire)) {
            let mut guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
            while !p.done.load(Ordering::Acquire) {
                guard = p.finished.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
        p.taken.store(false, Ordering::Release);
    }
}

/// Runs `a` on the calling thread and `b` on the helper thread at the same
/// time, returning when both have finished. Runs both here (`a` then `b`) if
/// the helper is unavailable or busy.
pub(crate) fn join(a: impl FnOnce(), b: impl Fn() + Sync) {
    let p = match pool() {
        Some(p) if !p.taken.swap(true, Ordering::Acquire) => p,
        _ => {
            a();
            b();
            return;
        }
    };
    let job: JobRef = &b;
    p.done.store(false, Ordering::Relaxed);
    p.panicked.store(false, Ordering::Relaxed);
    // The cast only erases the lifetime; `WaitDone` keeps `b` alive long enough.
    p.job
        .store(&job as *const JobRef as *mut JobRef<'static>, Ordering::Release);
    {
        let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.wake.notify_one();
    }
    let wait = WaitDone(p);
    a();
    drop(wait);
    if p.panicked.load(Ordering::Relaxed) {
        panic!("dp-tensor helper thread job panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn join_runs_both_halves() {
        for _ in 0..200 {
            let (x, y) = (AtomicUsize::new(0), AtomicUsize::new(0));
            join(
                || {
                    x.fetch_add(1, Ordering::Relaxed);
                },
                || {
                    y.fetch_add(2, Ordering::Relaxed);
                },
            );
            assert_eq!((x.into_inner(), y.into_inner()), (1, 2));
        }
    }

    #[test]
    fn concurrent_and_nested_joins_fall_back_to_serial() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let add = || {
                            total.fetch_add(1, Ordering::Relaxed);
                        };
                        join(add, || join(add, add));
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 4 * 50 * 3);
    }
}
