//! With `DP_NUM_THREADS=1` no helper thread is ever started: large products
//! (which would otherwise share their blocks with it) run on the caller
//! alone, so nothing spins or yields on the other core. Its own process,
//! because the setting is read once.
use dp_tensor::*;

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn one_thread_starts_no_helper() {
    std::env::set_var("DP_NUM_THREADS", "1");
    let mut rng = Rng::new(3);
    let a = rng.uniform(&[300, 200]).unwrap();
    let b = rng.uniform(&[200, 250]).unwrap();
    let batch = rng.uniform(&[64, 40, 40]).unwrap();
    for path in [GemmPath::Avx512, GemmPath::Avx2, GemmPath::Portable] {
        with_gemm_path(path, || {
            let c = a.matmul(&b).unwrap();
            assert_eq!(c.shape(), &[300, 250]);
            batch.matmul(&batch).unwrap();
        });
    }
    // A product crossing row, depth and column blocks (A packed once ahead
    // of all column blocks) on the caller alone, against the portable path
    // (small integers: every summation order is exact).
    for path in [GemmPath::Avx512, GemmPath::Avx2] {
        let Some((kc, mc, nc)) = path.blocking() else {
            continue;
        };
        let (m, k, n) = (2 * mc + 5, kc + 9, nc + 21);
        let ints = |len: usize| (0..len).map(|i| ((i * 7919) % 11) as f64 - 5.0).collect::<Vec<_>>();
        let a = Tensor::from_vec(ints(m * k), &[m, k]).unwrap();
        let b = Tensor::from_vec(ints(n * k), &[n, k]).unwrap().t();
        let want = with_gemm_path(GemmPath::Portable, || a.matmul(&b).unwrap()).unwrap();
        if let Some(got) = with_gemm_path(path, || a.matmul(&b).unwrap()) {
            assert!(got.to_vec() == want.to_vec(), "{path:?} {m}x{k}x{n}");
        }
    }
    if cfg!(target_os = "linux") {
        let names = thread_names();
        assert!(!names.is_empty());
        assert!(!names.iter().any(|n| n.starts_with("dp-tensor")), "{names:?}");
    }
}
