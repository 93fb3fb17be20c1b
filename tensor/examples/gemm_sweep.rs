//! GEMM throughput per size and path:
//! `cargo run -p dp-tensor --release --example gemm_sweep [SIZES...]`.
//! Prints `path<TAB>n<TAB>best ms<TAB>GFLOP/s` for square products, taking
//! the best of repeated runs (the least disturbed by other load), for
//! every path this CPU supports (or those named: `avx512 avx2 portable`). `DP_NUM_THREADS=1` runs one thread.
use dp_tensor::*;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![64, 128, 256, 512, 1024, 2048]
    } else {
        sizes
    };
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|s| s.parse::<usize>().is_err())
        .map(|s| s.to_lowercase())
        .collect();
    let mut rng = Rng::new(1);
    for &n in &sizes {
        let a = rng.uniform(&[n, n]).unwrap();
        let b = rng.uniform(&[n, n]).unwrap();
        for path in [GemmPath::Avx512, GemmPath::Avx2, GemmPath::Portable] {
            if !only.is_empty() && !only.contains(&format!("{path:?}").to_lowercase()) {
                continue;
            }
            let Some(best) = with_gemm_path(path, || {
                // About half a second per case, at least 5 runs.
                let t0 = Instant::now();
                black_box(a.matmul(&b).unwrap());
                let once = t0.elapsed().as_secs_f64();
                let reps = ((0.5 / once) as usize).clamp(5, 5000);
                let mut best = f64::INFINITY;
                for _ in 0..reps {
                    let t = Instant::now();
                    black_box(a.matmul(&b).unwrap());
                    best = best.min(t.elapsed().as_secs_f64());
                }
                best
            }) else {
                continue;
            };
            let gflops = 2.0 * (n as f64).powi(3) / best / 1e9;
            println!("{path:?}\t{n}\t{:.3}\t{gflops:.1}", best * 1e3);
        }
    }
}
