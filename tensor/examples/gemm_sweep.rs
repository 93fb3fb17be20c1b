//! GEMM throughput per size and path:
//! `cargo run -p dp-tensor --release --example gemm_sweep [SIZES...] [PATHS...]`.
//! A size is `N` (square) or `MxKxN` (an `M x K` times a `K x N`), with
//! `:at` / `:bt` appended to pass A / B as a transposed view (of a
//! row-major `K x M` / `N x K`); the default is 64 to 2048 square. Prints `path<TAB>size<TAB>best ms<TAB>GFLOP/s`,
//! taking the best of repeated runs (the least disturbed by other load), for
//! every path this CPU supports (or those named: `avx512 avx2 portable`).
//! `DP_NUM_THREADS=1` runs one thread; `benches/gemm_matrix.py` compares the
//! same cases against NumPy. With `cpu` among the arguments the time is the
//! thread's CPU time instead of wall time: on a loaded machine it still
//! measures one thread's work (time spent descheduled is not counted), so it
//! is only meaningful with `DP_NUM_THREADS=1`.
use dp_tensor::*;
use std::hint::black_box;
use std::time::Instant;

/// `N` or `MxKxN` (without its `:at`/`:bt` suffix) as `(m, k, n)`.
fn shape(s: &str) -> Option<(usize, usize, usize)> {
    let s = s.split(':').next()?;
    let p: Vec<usize> = s.split('x').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    match p[..] {
        [n] => Some((n, n, n)),
        [m, k, n] => Some((m, k, n)),
        _ => None,
    }
}

/// This thread's CPU time in seconds (Linux), or the wall clock elsewhere.
fn cpu_now(start: Instant) -> f64 {
    #[cfg(target_os = "linux")]
    {
        let _ = start;
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `t` is a valid timespec to write.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shapes: Vec<(String, (usize, usize, usize))> =
        args.iter().filter_map(|s| Some((s.clone(), shape(s)?))).collect();
    let shapes = if shapes.is_empty() {
        [64, 128, 256, 512, 1024, 2048]
            .iter()
            .map(|&n| (n.to_string(), (n, n, n)))
            .collect()
    } else {
        shapes
    };
    let cpu = args.iter().any(|s| s == "cpu");
    let only: Vec<String> = args
        .iter()
        .filter(|s| shape(s).is_none() && *s != "cpu")
        .map(|s| s.to_lowercase())
        .collect();
    let origin = Instant::now();
    let now = || {
        if cpu {
            cpu_now(origin)
        } else {
            origin.elapsed().as_secs_f64()
        }
    };
    let mut rng = Rng::new(1);
    for (name, (m, k, n)) in &shapes {
        let a = if name.ends_with(":at") {
            rng.uniform(&[*k, *m]).unwrap().transpose(&[1, 0]).unwrap()
        } else {
            rng.uniform(&[*m, *k]).unwrap()
        };
        let b = if name.ends_with(":bt") {
            rng.uniform(&[*n, *k]).unwrap().transpose(&[1, 0]).unwrap()
        } else {
            rng.uniform(&[*k, *n]).unwrap()
        };
        for path in [GemmPath::Avx512, GemmPath::Avx2, GemmPath::Portable] {
            if !only.is_empty() && !only.contains(&format!("{path:?}").to_lowercase()) {
                continue;
            }
            let Some(best) = with_gemm_path(path, || {
                // About half a second per case, at least 5 runs.
                let t0 = now();
                black_box(a.matmul(&b).unwrap());
                let once = now() - t0;
                let reps = ((0.5 / once) as usize).clamp(5, 5000);
                let mut best = f64::INFINITY;
                for _ in 0..reps {
                    let t = now();
                    black_box(a.matmul(&b).unwrap());
                    let d = now() - t;
                    if d > 0.0 {
                        // (A CPU clock can read the same twice within one tick.)
                        best = best.min(d);
                    }
                }
                best
            }) else {
                continue;
            };
            let gflops = 2.0 * (*m as f64) * (*k as f64) * (*n as f64) / best / 1e9;
            println!("{path:?}\t{name}\t{:.5}\t{gflops:.1}", best * 1e3);
        }
    }
}
