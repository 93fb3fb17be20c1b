//! Tests of the vectorised kernels through the public API: transcendental
//! unary ops (against 300-bit mpmath values, the platform libm and exact
//! special values), matrix-vector products, argmax/argmin and the threaded
//! GEMM path.
// Expected values are mpmath's correctly rounded outputs, written as printed
// (some happen to equal std constants such as LN_2).
#![allow(clippy::approx_constant)]
use dp_tensor::Rng as DRng;
use dp_tensor::*;
use proptest::prelude::*;

/// Distance in units in the last place (0 for two NaNs; +0 and -0 are equal).
fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    let key = |v: f64| {
        let b = v.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    key(a).abs_diff(key(b))
}

/// A scalar reference function.
type Reference = fn(f64) -> f64;

fn t1(v: &[f64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

/// Applies `op` to `xs` both out of place and in place (buffer reuse).
fn both(op: UnaryOp, xs: &[f64]) -> [Vec<f64>; 2] {
    [t1(xs).unary(op).to_vec(), t1(xs).unary_owned(op).to_vec()]
}

fn check_within(op: UnaryOp, xs: &[f64], want: &[f64], max_ulps: u64) {
    for got in both(op, xs) {
        for ((x, g), w) in xs.iter().zip(&got).zip(want) {
            assert!(ulps(*g, *w) <= max_ulps, "{}({x:e}) = {g:e}, want {w:e}", op.name());
        }
    }
}

#[test]
fn transcendentals_match_mpmath() {
    // Correctly rounded values: [repr(float(mpmath.exp(x))) for x in xs] at 300 bits.
    check_within(
        UnaryOp::Exp,
        &[-745.0, -700.5, -20.0, -1.0, -1e-5, 1e-300, 0.3, 1.0, 2.5, 88.7, 709.7],
        &[
            5e-324,
            5.980196118639791e-305,
            2.061153622438558e-09,
            0.36787944117144233,
            0.9999900000499998,
            1.0,
            1.3498588075760032,
            2.718281828459045,
            12.182493960703473,
            3.325986980250579e+38,
            1.6549840276802644e+308,
        ],
        1,
    );
    check_within(
        UnaryOp::Expm1,
        &[-30.0, -0.5, -1e-10, 1e-10, 0.01, 0.4, 3.0, 700.0],
        &[
            -0.9999999999999064,
            -0.3934693402873666,
            -9.999999999500001e-11,
            1.00000000005e-10,
            0.010050167084168058,
            0.49182469764127035,
            19.085536923187668,
            1.0142320547350045e+304,
        ],
        1,
    );
    check_within(
        UnaryOp::Log,
        &[5e-324, 1e-300, 0.1, 0.75, 1.0000000001, 2.0, 10.0, 1e300],
        &[
            -744.4400719213812,
            -690.7755278982137,
            -2.3025850929940455,
            -0.2876820724517809,
            1.000000082690371e-10,
            0.6931471805599453,
            2.302585092994046,
            690.7755278982137,
        ],
        1,
    );
    check_within(
        UnaryOp::Log1p,
        &[-0.9999, -0.5, -1e-12, 1e-12, 0.5, 3.0, 1e10],
        &[
            -9.210340371976294,
            -0.6931471805599453,
            -1.0000000000005e-12,
            9.999999999995e-13,
            0.4054651081081644,
            1.3862943611198906,
            23.025850930040455,
        ],
        1,
    );
    check_within(
        UnaryOp::Tanh,
        &[-19.0, -3.0, -0.6, -0.3, -1e-8, 1e-8, 0.1, 0.5493, 0.55, 1.0, 5.0, 18.0],
        &[
            -0.9999999999999999,
            -0.9950547536867305,
            -0.5370495669980353,
            -0.2913126124515909,
            -1e-08,
            1e-08,
            0.09966799462495582,
            0.49999539173530155,
            0.5005202111902353,
            0.7615941559557649,
            0.9999092042625951,
            0.9999999999999996,
        ],
        1,
    );
    // 1 / (1 + mpmath.exp(-x)) and mpmath.log1p(mpmath.exp(x)).
    let xs = [-740.0, -50.0, -3.0, -1e-3, 0.0, 0.5, 4.0, 40.0];
    check_within(
        UnaryOp::Sigmoid,
        &xs,
        &[
            4.2e-322,
            1.9287498479639178e-22,
            0.04742587317756678,
            0.4997500000208333,
            0.5,
            0.6224593312018546,
            0.9820137900379085,
            1.0,
        ],
        1,
    );
    check_within(
        UnaryOp::Softplus,
        &xs,
        &[
            4.2e-322,
            1.9287498479639178e-22,
            0.04858735157374206,
            0.6926473055599401,
            0.6931471805599453,
            0.9740769841801067,
            4.0181499279178094,
            40.0,
        ],
        1,
    );
}

#[test]
fn special_values_match_std_exactly() {
    let inf = f64::INFINITY;
    let xs = [
        0.0,
        -0.0,
        inf,
        -inf,
        f64::NAN,
        709.8,
        710.0,
        -745.2,
        -746.0,
        -744.9,
        1000.0,
        -1000.0,
        1e300,
        -1e300,
        5e-324,
        -5e-324,
        -1.0,
        -2.0,
        1e-320,
    ];
    let std_ops: [(UnaryOp, Reference); 5] = [
        (UnaryOp::Exp, f64::exp),
        (UnaryOp::Expm1, f64::exp_m1),
        (UnaryOp::Log, f64::ln),
        (UnaryOp::Log1p, f64::ln_1p),
        (UnaryOp::Tanh, f64::tanh),
    ];
    for (op, f) in std_ops {
        for got in both(op, &xs) {
            for (x, g) in xs.iter().zip(&got) {
                let w = f(*x);
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{}({x:e}) = {g:e}, std gives {w:e}",
                    op.name()
                );
            }
        }
    }
    // Outside the kernels' range: exactly the stable scalar definitions (no overflow at +-1000).
    let outside: Vec<f64> = xs.iter().copied().filter(|x| x.abs() >= 708.0 || x.is_nan()).collect();
    for op in [UnaryOp::Sigmoid, UnaryOp::Softplus] {
        for got in both(op, &outside) {
            for (x, g) in outside.iter().zip(&got) {
                let w = op.apply(*x);
                assert!(
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                    "{}({x:e})",
                    op.name()
                );
            }
        }
    }
    let s = t1(&[1000.0, -1000.0, 800.0, -800.0]).unary(UnaryOp::Sigmoid).to_vec();
    assert_eq!(s, vec![1.0, 0.0, 1.0, 0.0]);
    let s = t1(&[1000.0, -1000.0]).unary(UnaryOp::Softplus).to_vec();
    assert_eq!(s, vec![1000.0, 0.0]);
    let s = t1(&[25.0, -25.0, 1e10, -inf]).unary(UnaryOp::Tanh).to_vec();
    assert_eq!(s, vec![1.0, -1.0, 1.0, -1.0]);
}

#[test]
fn strided_views_give_the_same_values() {
    let mut rng = DRng::new(7);
    let m = rng.normal(&[37, 29]).unwrap().binary_scalar(3.0, BinaryOp::Mul, false);
    for op in UnaryOp::ALL {
        let view = m.t();
        let a = view.unary(op).to_vec();
        let b = view.contiguous().unary(op).to_vec();
        let same = a
            .iter()
            .zip(&b)
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()));
        assert!(same, "{}", op.name());
    }
}

/// Finite doubles of every magnitude, plus the ranges where the kernels switch formulas.
fn wide_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::ANY,
        -750.0..750.0f64,
        -1.0..1.0f64,
        -0.02..0.02f64,
        -1e-6..1e-6f64,
    ]
}

proptest! {
    #[test]
    fn unary_kernels_within_ulps_of_libm(xs in prop::collection::vec(wide_f64(), 1..300)) {
        let cases: [(UnaryOp, Reference, u64); 7] = [
            (UnaryOp::Exp, f64::exp, 1),
            (UnaryOp::Expm1, f64::exp_m1, 1),
            (UnaryOp::Log, f64::ln, 1),
            (UnaryOp::Log1p, f64::ln_1p, 1),
            (UnaryOp::Tanh, f64::tanh, 2),
            (UnaryOp::Sigmoid, |x| UnaryOp::Sigmoid.apply(x), 2),
            (UnaryOp::Softplus, |x| UnaryOp::Softplus.apply(x), 2),
        ];
        for (op, f, tol) in cases {
            for got in both(op, &xs) {
                for (x, g) in xs.iter().zip(&got) {
                    let w = f(*x);
                    prop_assert!(ulps(*g, w) <= tol, "{}({:e}) = {:e}, libm {:e}", op.name(), x, g, w);
                    if w == 0.0 {
                        prop_assert_eq!(g.to_bits(), w.to_bits(), "sign of zero: {}({:e})", op.name(), x);
                    }
                }
            }
        }
    }

    #[test]
    fn matvec_matches_naive(m in 0usize..12, k in 0usize..40, transposed in any::<bool>(), seed in 0u64..1000) {
        let mut rng = DRng::new(seed);
        // Small integers: every summation order is exact.
        let int = |t: Tensor| t.map(|x| (x * 4.0).round());
        let a = if transposed { int(rng.normal(&[k, m]).unwrap()).t() } else { int(rng.normal(&[m, k]).unwrap()) };
        let x = int(rng.normal(&[k]).unwrap());
        let y = a.matmul(&x).unwrap();
        prop_assert_eq!(y.shape(), &[m][..]);
        for i in 0..m {
            let want: f64 = (0..k).map(|p| a.get(&[i, p]).unwrap() * x.get(&[p]).unwrap()).sum();
            prop_assert_eq!(y.get(&[i]).unwrap(), want);
        }
        let d = x.matmul(&x).unwrap().item().unwrap();
        prop_assert_eq!(d, x.to_vec().iter().map(|v| v * v).sum::<f64>());
    }

    #[test]
    fn arg_extreme_last_axis_matches_naive(rows in 1usize..5, n in 1usize..140, nan_at in 0usize..600, seed in 0u64..1000) {
        let mut rng = DRng::new(seed);
        // Few distinct values so ties are common; maybe one NaN.
        let mut v: Vec<f64> = rng.uniform(&[rows * n]).unwrap().to_vec().iter().map(|x| (x * 4.0).floor()).collect();
        if nan_at < v.len() {
            v[nan_at] = f64::NAN;
        }
        let t = Tensor::from_vec(v.clone(), &[rows, n]).unwrap();
        for is_max in [true, false] {
            let got = if is_max { t.argmax(Some(1), false) } else { t.argmin(Some(1), false) }.unwrap().to_vec();
            for r in 0..rows {
                let row = &v[r * n..(r + 1) * n];
                let want = match row.iter().position(|x| x.is_nan()) {
                    Some(p) => p,
                    None => {
                        let e = row.iter().copied().fold(row[0], |a, b| if is_max { a.max(b) } else { a.min(b) });
                        row.iter().position(|&x| x == e).unwrap()
                    }
                };
                prop_assert_eq!(got[r], want as f64);
            }
            let flat = if is_max { t.argmax(None, false) } else { t.argmin(None, false) }.unwrap().item().unwrap();
            let want = match v.iter().position(|x| x.is_nan()) {
                Some(p) => p,
                None => {
                    let e = v.iter().copied().fold(v[0], |a, b| if is_max { a.max(b) } else { a.min(b) });
                    v.iter().position(|&x| x == e).unwrap()
                }
            };
            prop_assert_eq!(flat, want as f64);
        }
    }
}

#[test]
fn threaded_gemm_matches_naive_from_many_threads() {
    // Sizes above the parallel threshold (split over m, over n, and batched),
    // run from several threads at once so the helper is sometimes busy.
    std::thread::scope(|s| {
        for seed in 0..3u64 {
            s.spawn(move || {
                let mut rng = DRng::new(seed);
                let int = |t: Tensor| t.map(|x| (x * 4.0).round());
                for (ashape, bshape) in [
                    (vec![150, 70], vec![70, 40]),
                    (vec![40, 70], vec![70, 150]),
                    (vec![128, 128], vec![128, 128]),
                    (vec![24, 33, 40], vec![24, 40, 35]),
                ] {
                    let a = int(rng.normal(&ashape).unwrap());
                    let b = int(rng.normal(&bshape).unwrap());
                    let c = a.matmul(&b).unwrap();
                    let nd = ashape.len();
                    let (m, k, n) = (ashape[nd - 2], ashape[nd - 1], bshape[nd - 1]);
                    let batch = if nd == 3 { ashape[0] } else { 1 };
                    let (av, bv, cv) = (a.to_vec(), b.to_vec(), c.to_vec());
                    for q in 0..batch {
                        for i in 0..m {
                            for j in 0..n {
                                let want: f64 = (0..k)
                                    .map(|p| av[q * m * k + i * k + p] * bv[q * k * n + p * n + j])
                                    .sum();
                                assert_eq!(cv[q * m * n + i * n + j], want);
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Naive `a @ b` for 2-d tensors (exact on small integers).
fn naive_matmul(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let mut out = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|p| a.get(&[i, p]).unwrap() * b.get(&[p, j]).unwrap()).sum();
        }
    }
    out
}

#[test]
fn gemm_b_in_place_and_packed_match_naive() {
    // Small row-contiguous B is read in place (masked loads for a partial
    // last column panel, several k-blocks when k > 256); a transposed,
    // column-sliced or large B is packed. Integer values: every order of
    // summation gives the exact product.
    let mut rng = DRng::new(9);
    let int = |t: Tensor| t.map(|x| (x * 4.0).round());
    let cols = |t: &Tensor, lo: i64, hi: i64| {
        let r = SliceSpec::Range {
            start: Some(lo),
            stop: Some(hi),
            step: 1,
        };
        t.slice(&[SliceSpec::full(), r]).unwrap()
    };
    for (m, k, n) in [
        (64, 64, 64),
        (30, 17, 17),
        (15, 40, 33),
        (70, 300, 20),
        (20, 300, 250),
        (9, 9, 100),
        (40, 200, 200),
    ] {
        let a = int(rng.normal(&[m, k]).unwrap());
        let b = int(rng.normal(&[k, n]).unwrap());
        let bt = int(rng.normal(&[n, k]).unwrap()).t();
        let wide = int(rng.normal(&[k, n + 7]).unwrap());
        let bs = cols(&wide, 3, 3 + n as i64);
        for b in [&b, &bt, &bs] {
            assert_eq!(
                a.matmul(b).unwrap().to_vec(),
                naive_matmul(&a, b),
                "{m}x{k}x{n} strides {:?}",
                b.strides()
            );
        }
    }
}

#[test]
fn gemm_a_in_place_and_packed_match_naive() {
    // A small A with a unit stride is read in place by the kernel: row-major
    // (also with a row stride above k, and with rows reversed), column-major
    // (a transposed view); a last row panel that the kernel for its size
    // would over-read (m % 14 not in {0, 4, 8}) is packed. Larger or strided
    // A is packed, a column-major one column by column. The output is
    // written without being zero-filled first. Integer values: every order
    // of summation gives the exact product.
    let mut rng = DRng::new(11);
    let int = |t: Tensor| t.map(|x| (x * 4.0).round());
    let range = |lo: i64, hi: i64, step: i64| SliceSpec::Range {
        start: Some(lo),
        stop: Some(hi),
        step,
    };
    let mut sizes: Vec<(usize, usize, usize)> = (1..=30).map(|m| (m, 24, 20)).collect();
    sizes.extend([
        (64, 64, 64),
        (70, 17, 33),
        (128, 64, 256),
        (9, 300, 40),
        (200, 100, 30),
        (300, 70, 50),
    ]);
    for (m, k, n) in sizes {
        let b = int(rng.normal(&[k, n]).unwrap());
        let a = int(rng.normal(&[m, k]).unwrap());
        let at = int(rng.normal(&[k, m]).unwrap()).t();
        let wide = int(rng.normal(&[m, k + 5]).unwrap());
        let a_sliced = wide.slice(&[SliceSpec::full(), range(2, 2 + k as i64, 1)]).unwrap();
        let a_flipped = a
            .slice(&[range(m as i64 - 1, -(m as i64) - 1, -1), SliceSpec::full()])
            .unwrap();
        let tall = int(rng.normal(&[2 * m, k]).unwrap());
        let a_strided = tall.slice(&[range(0, 2 * m as i64, 2), SliceSpec::full()]).unwrap();
        for a in [&a, &at, &a_sliced, &a_flipped, &a_strided] {
            assert_eq!(a.shape(), &[m, k]);
            assert_eq!(
                a.matmul(&b).unwrap().to_vec(),
                naive_matmul(a, &b),
                "{m}x{k}x{n} A strides {:?}",
                a.strides()
            );
        }
    }
}

#[test]
fn matmul_with_empty_inner_axis_is_zero() {
    // k = 0: the (not zero-filled) output must still be all zeros.
    for (m, n) in [(3, 4), (64, 64), (100, 200)] {
        let a = Tensor::zeros(&[2, m, 0]).unwrap();
        let b = Tensor::zeros(&[0, n]).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[2, m, n]);
        assert!(c.to_vec().iter().all(|&x| x == 0.0));
    }
}

#[test]
fn batched_outer_products_match_naive() {
    // k = 1 takes the outer-product path (no packing): a batch of column
    // times row products, B contiguous, transposed (column stride above 1)
    // and shared by the batch; A reversed (negative row stride).
    let a = Tensor::from_vec(vec![1.5, -2.0, 0.25, 3.0], &[2, 2, 1]).unwrap();
    let b = Tensor::from_vec(vec![2.0, -1.0, 0.5, 4.0, 0.125, -3.0], &[2, 1, 3]).unwrap();
    // From NumPy: (a @ b).ravel()
    let want = [3.0, -1.5, 0.75, -4.0, 2.0, -1.0, 1.0, 0.03125, -0.75, 12.0, 0.375, -9.0];
    assert_eq!(a.matmul(&b).unwrap().to_vec(), want);
    let mut rng = DRng::new(5);
    for (batch, m, n) in [(1, 1, 1), (3, 7, 5), (256, 64, 128), (4, 130, 33)] {
        let a = rng.normal(&[batch, m, 1]).unwrap();
        let b = rng.normal(&[batch, 1, n]).unwrap();
        let bt = rng.normal(&[batch, n, 1]).unwrap().transpose(&[0, 2, 1]).unwrap();
        let shared = rng.normal(&[1, n]).unwrap();
        let a_rev = a
            .slice(&[
                SliceSpec::full(),
                SliceSpec::Range {
                    start: Some(m as i64 - 1),
                    stop: Some(-(m as i64) - 1),
                    step: -1,
                },
                SliceSpec::full(),
            ])
            .unwrap();
        for a in [&a, &a_rev] {
            for b in [&b, &bt] {
                let got = a.matmul(b).unwrap();
                assert_eq!(got.shape(), &[batch, m, n]);
                for e in 0..batch {
                    let ae = a.slice(&[SliceSpec::Index(e as i64)]).unwrap();
                    let be = b.slice(&[SliceSpec::Index(e as i64)]).unwrap();
                    assert_eq!(
                        got.slice(&[SliceSpec::Index(e as i64)]).unwrap().to_vec(),
                        naive_matmul(&ae, &be)
                    );
                }
            }
            let got = a.matmul(&shared).unwrap();
            for e in 0..batch {
                let ae = a.slice(&[SliceSpec::Index(e as i64)]).unwrap();
                assert_eq!(
                    got.slice(&[SliceSpec::Index(e as i64)]).unwrap().to_vec(),
                    naive_matmul(&ae, &shared)
                );
            }
        }
    }
}

#[test]
fn matrix_times_batch_of_columns_matches_naive() {
    // A 2-d A against a contiguous [batch.., k, 1] B is one GEMM of the
    // stacked columns with A read transposed; A plain, transposed and sliced.
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let b = Tensor::from_vec(vec![1.0, 0.5, -1.0, 2.0, 0.0, 0.25], &[2, 3, 1]).unwrap();
    // From NumPy: (a @ b).ravel()
    assert_eq!(a.matmul(&b).unwrap().to_vec(), [-1.0, 0.5, 2.75, 9.5]);
    assert_eq!(a.matmul(&b).unwrap().shape(), &[2, 2, 1]);
    let mut rng = DRng::new(8);
    let int = |t: Tensor| t.map(|x| (x * 4.0).round());
    for (batch, m, k) in [(1, 1, 1), (5, 7, 3), (100, 100, 100), (3, 40, 300)] {
        let a = int(rng.normal(&[m, k]).unwrap());
        let at = int(rng.normal(&[k, m]).unwrap()).t();
        let b = int(rng.normal(&[batch, k, 1]).unwrap());
        let b4 = b.reshape(&[1, batch, k, 1]).unwrap();
        for a in [&a, &at] {
            let got = a.matmul(&b).unwrap();
            assert_eq!(got.shape(), &[batch, m, 1]);
            assert_eq!(a.matmul(&b4).unwrap().shape(), &[1, batch, m, 1]);
            assert_eq!(a.matmul(&b4).unwrap().to_vec(), got.to_vec());
            for e in 0..batch {
                let be = b.slice(&[SliceSpec::Index(e as i64)]).unwrap();
                assert_eq!(
                    got.slice(&[SliceSpec::Index(e as i64)]).unwrap().to_vec(),
                    naive_matmul(a, &be)
                );
            }
        }
    }
}

/// Values with signed zeros and a NaN among them (so the NaN condition counts as true).
fn mixed(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = DRng::new(seed);
    let v = rng.normal(&[n]).unwrap().to_vec();
    v.iter()
        .enumerate()
        .map(|(i, &x)| match i % 7 {
            0 => 0.0,
            3 => -0.0,
            5 if i % 3 == 0 => f64::NAN,
            _ => x,
        })
        .collect()
}

/// `where` over every mix of contiguous, broadcast (scalar, row, column)
/// and transposed operands, short and long rows, and empty shapes,
/// against the element-by-element definition.
#[test]
fn where_matches_elementwise_definition() {
    for (r, c) in [(256, 10), (1, 1), (3, 1), (1, 5), (7, 33), (0, 4), (4, 0)] {
        let full = |seed| Tensor::from_vec(mixed(r * c, seed), &[r, c]).unwrap();
        let tr = |seed| Tensor::from_vec(mixed(r * c, seed), &[c, r]).unwrap().t();
        let col = |seed| Tensor::from_vec(mixed(r, seed), &[r, 1]).unwrap();
        let row = |seed| Tensor::from_vec(mixed(c, seed), &[1, c]).unwrap();
        let sc = |seed: u64| Tensor::scalar(seed as f64 - 2.5);
        let zero = || Tensor::scalar(0.0);
        let makers: [&dyn Fn(u64) -> Tensor; 5] = [&full, &tr, &col, &row, &sc];
        for (i, mc) in makers.iter().enumerate() {
            for (j, ma) in makers.iter().enumerate() {
                for (k, mb) in makers.iter().enumerate() {
                    let (cond, a, b) = (mc(i as u64 + 1), ma(j as u64 + 11), mb(k as u64 + 21));
                    let cond = if i == 4 { zero() } else { cond };
                    let w = Tensor::where_(&cond, &a, &b).unwrap();
                    let shape =
                        broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape()).unwrap(), b.shape()).unwrap();
                    assert_eq!(w.shape(), &shape[..]);
                    let (r, c) = match shape[..] {
                        [] => (1, 1),
                        [p, q] => (p, q),
                        _ => unreachable!("operands are 0-d or 2-d"),
                    };
                    let w = w.reshape(&[r, c]).unwrap();
                    let at = |t: &Tensor, p: usize, q: usize| {
                        let s = t.shape();
                        match s.len() {
                            0 => t.item().unwrap(),
                            _ => t.get(&[p.min(s[0] - 1), q.min(s[1] - 1)]).unwrap(),
                        }
                    };
                    for p in 0..r {
                        for q in 0..c {
                            let want = if at(&cond, p, q) != 0.0 {
                                at(&a, p, q)
                            } else {
                                at(&b, p, q)
                            };
                            let got = w.get(&[p, q]).unwrap();
                            assert!(
                                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                                "{r}x{c} makers {i},{j},{k} at ({p},{q}): {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Materialising a broadcast view (a repeated row or column) copies the right elements.
#[test]
fn broadcast_views_materialise() {
    let col = Tensor::from_vec(vec![1.0, -0.0, 3.0], &[3, 1]).unwrap();
    let b = col.broadcast_to(&[2, 3, 4]).unwrap().contiguous();
    assert_eq!(b.shape(), &[2, 3, 4][..]);
    for (i, v) in b.to_vec().iter().enumerate() {
        assert_eq!(v.to_bits(), col.to_vec()[(i / 4) % 3].to_bits());
    }
    let row = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let t = row.broadcast_to(&[3, 2]).unwrap().t().contiguous();
    assert_eq!(t.to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
}
