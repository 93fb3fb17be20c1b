//! Shared by `gemm_blocks.rs` and `gemm_blocks_l2.rs`: the GEMM paths with
//! tiny blocks forced through `DP_GEMM_BLOCK`, against the portable path.
//! Modest shapes then cross many depth, row and column blocks (and the
//! shared-B phases on two threads). Each loop order runs in its own test
//! process because the setting is read once.
use dp_tensor::*;

/// Small integers (exact products and sums).
fn ints(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 33) % 7) as f64 - 3.0
        })
        .collect()
}

/// Checks many shapes on every supported path with the blocking `setting`.
pub fn check_all(setting: &str, kc: usize) {
    std::env::set_var("DP_GEMM_BLOCK", setting);
    // The setting took effect (the depth needs no rounding).
    for path in [GemmPath::Avx512, GemmPath::Avx2] {
        if path.supported() {
            assert_eq!(path.blocking().map(|b| b.0), Some(kc), "{path:?}");
        }
    }
    for path in [GemmPath::Avx512, GemmPath::Avx2] {
        if !path.supported() {
            continue;
        }
        for (m, k, n) in [
            (1, 1, 1),
            (7, 9, 33),
            (61, 67, 71),
            (130, 40, 300),
            (200, 150, 130),
            (33, 300, 64),
            // A packed (not in place) across several column blocks.
            (150, 120, 200),
        ] {
            for transposed in [false, true] {
                let a = Tensor::from_vec(ints(m as u64, m * k), &[m, k]).unwrap();
                let b = if transposed {
                    Tensor::from_vec(ints(n as u64 + 7, n * k), &[n, k]).unwrap().t()
                } else {
                    Tensor::from_vec(ints(n as u64 + 7, k * n), &[k, n]).unwrap()
                };
                let want = with_gemm_path(GemmPath::Portable, || a.matmul(&b).unwrap()).unwrap();
                let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
                assert!(
                    got.to_vec() == want.to_vec(),
                    "{setting} {path:?} {m}x{k}x{n} {transposed}"
                );
            }
        }
    }
}
