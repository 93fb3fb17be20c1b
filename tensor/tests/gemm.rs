//! The GEMM paths (AVX-512 and AVX2 micro-kernels, the portable crate)
//! against a naive product: random shapes around the kernels' tile and
//! block edges (1, MR +- 1, NR +- 1, KC +- 1, MC + 1, NC + 1), operands in
//! every layout (row-major, transposed, column-sliced, row-strided,
//! reversed), products large enough to be shared with the helper thread.
//! Integer values make every summation order exact, so results must be equal.
use dp_tensor::*;
use proptest::prelude::*;

/// The paths this CPU can run.
fn paths() -> Vec<GemmPath> {
    [GemmPath::Avx512, GemmPath::Avx2, GemmPath::Portable]
        .into_iter()
        .filter(|p| p.supported())
        .collect()
}

/// Small integers from a seed (exact products and sums).
fn ints(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 33) % 9) as f64 - 4.0
        })
        .collect()
}

fn range(lo: i64, hi: i64, step: i64) -> SliceSpec {
    SliceSpec::Range {
        start: Some(lo),
        stop: Some(hi),
        step,
    }
}

/// An `r x c` operand with the given layout: 0 row-major, 1 transposed view
/// of a `c x r` matrix, 2 columns sliced out of a wider matrix, 3 every
/// other row of a taller one, 4 rows reversed (negative row stride).
fn operand(r: usize, c: usize, layout: u8, seed: u64) -> Tensor {
    let t = |shape: &[usize]| Tensor::from_vec(ints(seed, shape.iter().product()), shape).unwrap();
    match layout {
        1 => t(&[c, r]).t(),
        2 => t(&[r, c + 3])
            .slice(&[SliceSpec::full(), range(1, 1 + c as i64, 1)])
            .unwrap(),
        3 => t(&[2 * r, c])
            .slice(&[range(0, 2 * r as i64, 2), SliceSpec::full()])
            .unwrap(),
        4 => t(&[r, c])
            .slice(&[range(r as i64 - 1, -(r as i64) - 1, -1), SliceSpec::full()])
            .unwrap(),
        _ => t(&[r, c]),
    }
}

/// Naive `a @ b` of 2-d tensors.
fn naive(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let (av, bv) = (a.to_vec(), b.to_vec());
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = av[i * k + p];
            for j in 0..n {
                out[i * n + j] += x * bv[p * n + j];
            }
        }
    }
    out
}

/// Checks `a @ b` on every path against the naive product.
fn check(m: usize, k: usize, n: usize, la: u8, lb: u8, seed: u64) {
    let a = operand(m, k, la, seed);
    let b = operand(k, n, lb, seed + 1);
    assert_eq!(a.shape(), &[m, k]);
    assert_eq!(b.shape(), &[k, n]);
    let want = naive(&a, &b);
    for path in paths() {
        let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
        assert_eq!(got.shape(), &[m, n]);
        assert!(
            got.to_vec() == want,
            "{path:?} {m}x{k}x{n} layouts {la},{lb} strides {:?} {:?}",
            a.strides(),
            b.strides()
        );
    }
}

/// Sizes around every tile edge of both kernels and around the depth
/// blocks of this machine.
fn edge_sizes() -> Vec<usize> {
    let mut v = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 29, 31, 33, 47, 48, 49];
    for p in paths() {
        if let Some((kc, _, _)) = p.blocking() {
            v.extend([kc - 1, kc, kc + 1]);
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn gemm_matches_naive_at_edges(
        mi in 0usize..64, ki in 0usize..64, ni in 0usize..64,
        la in 0u8..5, lb in 0u8..5, seed in 0u64..1000,
    ) {
        let e = edge_sizes();
        let pick = |i: usize| e[i % e.len()];
        check(pick(mi), pick(ki), pick(ni), la, lb, seed);
    }

    #[test]
    fn gemm_matches_naive_random_shapes(
        m in 1usize..130, k in 1usize..300, n in 1usize..130,
        la in 0u8..5, lb in 0u8..5, seed in 0u64..1000,
    ) {
        check(m, k, n, la, lb, seed);
    }
}

#[test]
fn gemm_large_products_cross_every_block() {
    // Shared with the helper thread (>= 1e6 multiply-adds), several depth
    // blocks, more rows than one A block and more columns than one B block.
    for path in paths() {
        let Some((kc, mc, nc)) = path.blocking() else {
            continue;
        };
        for (m, k, n) in [
            (mc + 1, 2 * kc + 3, 40),
            (37, kc + 1, nc + 9),
            (200, 150, 260),
            (257, 255, 129),
        ] {
            for (la, lb) in [(0, 0), (1, 1), (2, 3), (4, 0)] {
                let a = operand(m, k, la, 5);
                let b = operand(k, n, lb, 6);
                let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
                assert!(got.to_vec() == naive(&a, &b), "{path:?} {m}x{k}x{n} {la},{lb}");
            }
        }
    }
}

#[test]
fn gemm_packs_a_once_across_column_blocks() {
    // More columns than one B block and A too large to read in place: A is
    // packed once per depth block ahead of all column blocks (in row chunks
    // of about 4 MiB), on two threads here (`one_thread.rs` runs it on
    // one). Several row, depth and column blocks with partial tiles, every
    // layout; then a product whose packed A needs two row chunks.
    for path in paths() {
        let Some((kc, mc, nc)) = path.blocking() else {
            continue;
        };
        let (m, k, n) = (2 * mc + 5, kc + 3, 2 * nc + 17);
        for (la, lb) in [(0, 0), (1, 1), (2, 3), (4, 0), (3, 2)] {
            let a = operand(m, k, la, 21);
            let b = operand(k, n, lb, 22);
            let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
            assert!(got.to_vec() == naive(&a, &b), "{path:?} {m}x{k}x{n} {la},{lb}");
        }
        let (m, n) = ((4 << 20) / (8 * kc) + mc + 5, nc + 17);
        for (la, lb) in [(0, 0), (1, 4)] {
            let a = operand(m, k, la, 23);
            let b = operand(k, n, lb, 24);
            let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
            assert!(got.to_vec() == naive(&a, &b), "{path:?} {m}x{k}x{n} {la},{lb}");
        }
    }
}

#[test]
fn gemm_packs_row_major_operands_serially_and_shared() {
    // Both operands large enough to be packed (not read in place), with row
    // layouts (the vectorised transposes of A and the eight-row copies of
    // B), partial tiles in every direction, depth blocks whose last one is
    // not a multiple of eight; once below the two-thread threshold (1e6
    // multiply-adds: one thread) and once above it (shared).
    for (m, k, n) in [(29, 603, 57), (131, 261, 133), (15, 1100, 70)] {
        for (la, lb) in [(0, 0), (2, 2), (4, 3), (3, 4), (0, 1), (1, 0)] {
            let a = operand(m, k, la, 7);
            let b = operand(k, n, lb, 8);
            let want = naive(&a, &b);
            for path in paths() {
                let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
                assert!(got.to_vec() == want, "{path:?} {m}x{k}x{n} {la},{lb}");
            }
        }
    }
}

#[test]
fn gemm_paths_agree_on_batches_and_vectors() {
    // Batched products (shared between threads as whole products), matrix
    // times vector and vector times matrix.
    let a = Tensor::from_vec(ints(1, 24 * 33 * 40), &[24, 33, 40]).unwrap();
    let b = Tensor::from_vec(ints(2, 24 * 40 * 35), &[24, 40, 35]).unwrap();
    let v = Tensor::from_vec(ints(3, 40), &[40]).unwrap();
    let want = with_gemm_path(GemmPath::Portable, || (a.matmul(&b).unwrap(), a.matmul(&v).unwrap())).unwrap();
    for path in paths() {
        let got = with_gemm_path(path, || (a.matmul(&b).unwrap(), a.matmul(&v).unwrap())).unwrap();
        assert_eq!(got.0.to_vec(), want.0.to_vec(), "{path:?}");
        assert_eq!(got.1.to_vec(), want.1.to_vec(), "{path:?}");
    }
}

#[test]
fn unsupported_path_is_refused_and_blocking_is_sane() {
    for path in [GemmPath::Avx512, GemmPath::Avx2, GemmPath::Portable] {
        let ran = with_gemm_path(path, || 1).is_some();
        assert_eq!(ran, path.supported());
        if let Some((kc, mc, nc)) = path.blocking() {
            assert!(kc >= 64 && mc >= 4 && nc >= 64, "{path:?} {kc} {mc} {nc}");
        }
    }
    assert!(GemmPath::Portable.supported());
    assert!(GemmPath::default_path().supported());
}

/// `tanh(a @ b + bias) * col - full` with the product fused into the GEMM
/// (each finished block through the kernel, see `FusedKernel::run_on_product`)
/// equals the product followed by the same kernel, bit for bit, on every path,
/// for shapes with several row, column and depth blocks (and two threads,
/// when the product is large enough to share).
#[test]
fn matmul_epilogue_is_bit_identical_to_product_then_kernel() {
    let step = |op, a, b| FusedStep { op, a, b };
    let kernel = FusedKernel {
        steps: vec![
            step(
                FusedOp::Binary(BinaryOp::Add),
                FusedOperand::Arg(0),
                FusedOperand::Arg(1),
            ),
            step(
                FusedOp::Unary(UnaryOp::Tanh),
                FusedOperand::Step(0),
                FusedOperand::Step(0),
            ),
            step(
                FusedOp::Binary(BinaryOp::Mul),
                FusedOperand::Step(1),
                FusedOperand::Arg(2),
            ),
            step(
                FusedOp::Binary(BinaryOp::Sub),
                FusedOperand::Step(2),
                FusedOperand::Arg(3),
            ),
        ],
        reduce: None,
    };
    let scaled = |t: Tensor| t.map(|x| x / 64.0);
    let mut sizes = vec![
        (1, 1, 1),
        (7, 3, 5),
        (256, 64, 128),
        (256, 128, 10),
        (128, 256, 10),
        (2050, 600, 10),
        (300, 70, 1100),
    ];
    for p in paths() {
        if let Some((kc, mc, nc)) = p.blocking() {
            sizes.push((mc + 5, kc + 3, nc + 9));
        }
    }
    for (m, k, n) in sizes {
        for layout in [0u8, 1] {
            let a = scaled(operand(m, k, layout, 11));
            let b = scaled(operand(k, n, 0, 12));
            let bias = scaled(operand(1, n, 0, 13)).reshape(&[n]).unwrap();
            let col = scaled(operand(m, 1, 0, 14));
            let full = scaled(operand(m, n, 0, 15));
            let args = || {
                vec![
                    FusedArg::Scalar(0.0),
                    FusedArg::Tensor(bias.clone()),
                    FusedArg::Tensor(col.clone()),
                    FusedArg::Tensor(full.clone()),
                ]
            };
            for path in paths() {
                let (fused, want) = with_gemm_path(path, || {
                    let fused = kernel.run_on_product(&a, &b, args(), 0).unwrap();
                    let mut plain = args();
                    plain[0] = FusedArg::Tensor(a.matmul(&b).unwrap());
                    (fused, kernel.run(plain, &[m, n]).unwrap())
                })
                .unwrap();
                assert_eq!(fused.shape(), &[m, n]);
                let bits = |t: &Tensor| t.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(bits(&fused) == bits(&want), "{path:?} {m}x{k}x{n} layout {layout}");
            }
        }
    }
    // A product that cannot be fused (1-d operand) still gives the kernel's value.
    let v = operand(5, 1, 0, 3).reshape(&[5]).unwrap();
    let m = operand(4, 5, 0, 4);
    let got = kernel
        .run_on_product(
            &m,
            &v,
            vec![
                FusedArg::Scalar(0.0),
                FusedArg::Scalar(1.0),
                FusedArg::Scalar(2.0),
                FusedArg::Scalar(0.5),
            ],
            0,
        )
        .unwrap();
    let want: Vec<f64> = m
        .matmul(&v)
        .unwrap()
        .to_vec()
        .iter()
        .map(|x| (x + 1.0).tanh() * 2.0 - 0.5)
        .collect();
    assert_eq!(got.shape(), &[4]);
    for (g, w) in got.to_vec().iter().zip(&want) {
        assert!((g - w).abs() <= 1e-15 * w.abs().max(1.0), "{g} vs {w}");
    }
}

/// Skinny products (C of at most four column panels) read a large A in
/// place instead of packing it (row-major, or column-major with columns at
/// most 512 elements apart). Reading in place or packed only changes where
/// the kernel loads A from, so each element of C must be the very same bits
/// as the same column of a wide product, whose A is packed; and with
/// integer values, equal to the naive product. Odd sizes, transposed and
/// strided views, once per path, on one thread and shared (above 1e6
/// multiply-adds); the epilogue test above covers skinny fused products.
#[test]
fn skinny_products_read_a_in_place_bit_identically() {
    let bits = |t: &Tensor| t.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // Non-integer values: rounding differs if any summation order does.
    let real = |t: Tensor| t.map(|x| (x * 0.37).sin());
    let sizes = [
        (256, 128, 10),
        (128, 256, 10),
        (131, 263, 16),
        (257, 129, 33),
        (301, 97, 64),
        (1030, 700, 17),
        (2050, 600, 10),
    ];
    let (wide, extra) = (100, 90);
    for (m, k, n) in sizes {
        for la in [0u8, 1, 2, 3, 4] {
            let a = operand(m, k, la, 21);
            let b_wide = operand(k, wide.max(n + extra), 0, 22);
            let b = b_wide.slice(&[SliceSpec::full(), range(0, n as i64, 1)]).unwrap();
            let want = naive(&a, &b);
            let (ar, br, bwr) = (real(a.clone()), real(b.clone()), real(b_wide.clone()));
            for path in paths() {
                let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
                assert!(got.to_vec() == want, "{path:?} {m}x{k}x{n} layout {la}");
                if path == GemmPath::Portable {
                    continue;
                }
                let (skinny, full) =
                    with_gemm_path(path, || (ar.matmul(&br).unwrap(), ar.matmul(&bwr).unwrap())).unwrap();
                let cols = full.slice(&[SliceSpec::full(), range(0, n as i64, 1)]).unwrap();
                assert!(bits(&skinny) == bits(&cols), "{path:?} {m}x{k}x{n} layout {la}");
            }
        }
    }
    // Column-major A with columns far apart (packed) and near (in place).
    for (m, k, n) in [(700, 300, 10), (300, 700, 12)] {
        let a = real(operand(m, k, 1, 23));
        let b = real(operand(k, n, 0, 24));
        let want = with_gemm_path(GemmPath::Portable, || a.matmul(&b).unwrap()).unwrap();
        for path in paths() {
            let got = with_gemm_path(path, || a.matmul(&b).unwrap()).unwrap();
            for (g, w) in got.to_vec().iter().zip(want.to_vec()) {
                assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{path:?} {m}x{k}x{n}");
            }
        }
    }
}

/// A column-major A (a transposed view, columns at most 512 apart) and a C
/// of at most 10 columns run the AVX-512 kernel in the transposed
/// orientation (vectors down C's columns): the same bits as the normal
/// orientation, which computes the same columns of a wide product. Every
/// width 1..=10, row tails around 8 and 16, several depth blocks (the
/// tile added to C, not stored), shared between threads (above 1e6
/// multiply-adds), with a fused epilogue, on every path.
#[test]
fn transposed_orientation_matches_the_normal_one_bit_for_bit() {
    let bits = |t: &Tensor| t.to_vec().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let real = |t: Tensor| t.map(|x| (x * 0.37).sin());
    let kernel = FusedKernel {
        steps: vec![FusedStep {
            op: FusedOp::Unary(UnaryOp::Tanh),
            a: FusedOperand::Arg(0),
            b: FusedOperand::Arg(0),
        }],
        reduce: None,
    };
    for (m, k) in [
        (1, 3),
        (7, 9),
        (8, 40),
        (9, 17),
        (16, 16),
        (17, 300),
        (130, 513),
        (500, 300),
    ] {
        for n in 1..=10 {
            let a = real(operand(m, k, 1, 31 + n as u64));
            let b_wide = real(operand(k, 100, 0, 32));
            let b = b_wide.slice(&[SliceSpec::full(), range(0, n as i64, 1)]).unwrap();
            for path in paths() {
                let (got, wide, fused) = with_gemm_path(path, || {
                    let fused = kernel.run_on_product(&a, &b, vec![FusedArg::Scalar(0.0)], 0).unwrap();
                    (a.matmul(&b).unwrap(), a.matmul(&b_wide).unwrap(), fused)
                })
                .unwrap();
                let cols = wide.slice(&[SliceSpec::full(), range(0, n as i64, 1)]).unwrap();
                // (Products of at most 4096 multiply-adds take a plain loop.)
                if path != GemmPath::Portable && m * k * n > 4096 {
                    assert!(bits(&got) == bits(&cols), "{path:?} {m}x{k}x{n}");
                }
                let want = with_gemm_path(path, || {
                    kernel.run(vec![FusedArg::Tensor(got.clone())], &[m, n]).unwrap()
                })
                .unwrap();
                assert!(bits(&fused) == bits(&want), "{path:?} {m}x{k}x{n} fused");
            }
        }
    }
}
