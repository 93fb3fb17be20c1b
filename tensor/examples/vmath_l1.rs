//! Cycles of the vectorised transcendentals on cache-resident data, without
//! the page faults of a fresh 8 MB result: `cargo run -p dp-tensor --release
//! --example vmath_l1 [OP]` prints thread CPU nanoseconds per element (best of 7; run with
//! `DP_NUM_THREADS=1`) for
//! exp, log, tanh, sigmoid on 4096 elements in `[0.01, 4)`.
use dp_tensor::*;
use std::hint::black_box;

/// This thread's CPU time in seconds (steady under machine load).
fn cpu_now() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let filter = std::env::args().nth(1);
    let n = 4096;
    let mut rng = Rng::new(7);
    let x = rng
        .uniform(&[n])
        .unwrap()
        .binary_scalar(3.99, BinaryOp::Mul, false)
        .binary_scalar(0.01, BinaryOp::Add, false);
    for (name, op) in [
        ("exp", UnaryOp::Exp),
        ("log", UnaryOp::Log),
        ("tanh", UnaryOp::Tanh),
        ("sigmoid", UnaryOp::Sigmoid),
    ] {
        if filter.as_deref().is_some_and(|f| f != name) {
            continue;
        }
        let reps = 4000;
        let mut best = f64::INFINITY;
        for _ in 0..7 {
            let t = cpu_now();
            for _ in 0..reps {
                black_box(black_box(&x).unary(op));
            }
            best = best.min((cpu_now() - t) / (reps * n) as f64);
        }
        println!("{name}\t{:.3} ns/element", best * 1e9);
    }
}
