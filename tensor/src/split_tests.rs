//! Elementwise kernels split between the caller and the helper thread give
//! exactly the serial kernels' bits: sizes around each split threshold and
//! piece boundary, odd lengths, broadcasts, views, in-place variants and
//! fused kernels, inputs sprinkled with special values; convolutions whose
//! chunks of samples run on both threads.

use crate::pool::test_mode::{with, Mode, SPLITS};
use crate::pool::{split_min, GRAIN};
use crate::{BinaryOp, ConvSpec, FusedArg, FusedKernel, FusedOp, FusedOperand, FusedStep, Tensor, UnaryOp};
use std::sync::atomic::Ordering;

/// Lengths around every threshold and piece boundary.
fn sizes() -> Vec<usize> {
    let mut v = vec![1, 1000, GRAIN - 1, GRAIN, GRAIN + 1, 3 * GRAIN + 17];
    for m in [split_min::COSTLY, split_min::CHEAP] {
        v.extend([m - 1, m, m + 1, m + GRAIN - 1, m + GRAIN + 1]);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// `n` inputs in `[-4, 4)` from a fixed generator, with zeros, negative
/// zeros, infinities, NaNs, huge and subnormal values sprinkled in.
fn inputs(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        800.0,
        -800.0,
        1e-310,
        1.0,
    ];
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if i % 997 == 5 {
                specials[(s % specials.len() as u64) as usize]
            } else {
                (s >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0
            }
        })
        .collect()
}

fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

/// A uniquely owned copy (so the in-place kernels may reuse its buffer).
fn own(x: &Tensor) -> Tensor {
    Tensor::from_vec(x.to_vec(), x.shape()).unwrap()
}

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec().iter().map(|x| x.to_bits()).collect()
}

/// `f()` serial and split: the same shape and bits. Also checks that a
/// split happened when `must_split` (so the test cannot pass by accident).
fn same(what: &str, must_split: bool, f: impl Fn() -> Tensor) {
    let serial = with(Mode::Serial, &f);
    let before = SPLITS.load(Ordering::Relaxed);
    let split = with(Mode::Split, &f);
    if must_split {
        assert!(SPLITS.load(Ordering::Relaxed) > before, "{what}: did not split");
    }
    assert_eq!(serial.shape(), split.shape(), "{what}");
    assert!(bits(&serial) == bits(&split), "{what}: bits differ");
}

const UNARY: [UnaryOp; 11] = [
    UnaryOp::Exp,
    UnaryOp::Expm1,
    UnaryOp::Log,
    UnaryOp::Log1p,
    UnaryOp::Tanh,
    UnaryOp::Sigmoid,
    UnaryOp::Softplus,
    UnaryOp::Neg,
    UnaryOp::Sqrt,
    UnaryOp::Sin,
    UnaryOp::Square,
];

#[test]
fn unary_ops_out_of_place_in_place_and_on_views() {
    for n in sizes() {
        let x = t(inputs(n, n as u64), &[n]);
        for op in UNARY {
            let min = if crate::vmath::supports(op) || op == UnaryOp::Sin {
                split_min::COSTLY
            } else {
                split_min::CHEAP
            };
            let what = format!("{op:?} {n}");
            same(&what, n >= min, || x.unary(op));
            same(&what, n >= min, || own(&x).unary_owned(op));
        }
    }
    // A strided view is copied, then mapped in place.
    let n = split_min::COSTLY + 3 * GRAIN + 5;
    let x = t(inputs(2 * n, 7), &[n, 2]);
    let col = x.t();
    same("exp of a transposed view", true, || col.unary(UnaryOp::Exp));
}

const BINARY: [BinaryOp; 6] = [
    BinaryOp::Add,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Pow,
    BinaryOp::Maximum,
    BinaryOp::Gt,
];

#[test]
fn binary_and_scalar_ops() {
    for n in sizes() {
        let x = t(inputs(n, 1), &[n]);
        let y = t(inputs(n, 2), &[n]);
        for op in BINARY {
            let min = if op == BinaryOp::Pow {
                split_min::COSTLY
            } else {
                split_min::CHEAP
            };
            let what = format!("{op:?} {n}");
            same(&what, n >= min, || x.binary(&y, op).unwrap());
            same(&what, n >= min, || own(&x).binary_owned(&y, op).unwrap());
            same(&what, n >= min, || x.binary_scalar(0.75, op, false));
            same(&what, n >= min, || x.binary_scalar(-1.5, op, true));
            same(&what, n >= min, || own(&x).binary_scalar_owned(2.5, op, false));
            same(&what, n >= min, || own(&x).binary_scalar_owned(2.5, op, true));
        }
    }
}

#[test]
fn broadcasts_views_and_where() {
    // Shapes whose first axis is split: square, long thin, short wide (one
    // row per piece is more than a grain), odd.
    for (rows, cols) in [(1000, 1000), (70_001, 3), (3, 70_001), (523, 257), (1, 300_000)] {
        let n = rows * cols;
        let must = rows > 1 && n >= split_min::CHEAP;
        let m = t(inputs(n, 3), &[rows, cols]);
        let row = t(inputs(cols, 4), &[cols]);
        let col = t(inputs(rows, 5), &[rows, 1]);
        let what = format!("{rows}x{cols}");
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Lt] {
            same(&what, must, || m.binary(&row, op).unwrap());
            same(&what, must, || col.binary(&m, op).unwrap());
            same(&what, must, || row.binary(&col, op).unwrap());
            same(&what, must, || own(&m).binary_owned(&row, op).unwrap());
            same(&what, must, || own(&m).binary_owned(&col, op).unwrap());
        }
        let mt = t(inputs(n, 6), &[cols, rows]).t();
        same(&what, must, || mt.binary(&m, BinaryOp::Mul).unwrap());
        same(&what, must, || own(&m).binary_owned(&mt, BinaryOp::Mul).unwrap());
        let cond = m.binary(&row, BinaryOp::Gt).unwrap();
        same(&what, must, || Tensor::where_(&cond, &m, &col).unwrap());
        same(&what, must, || Tensor::where_(&col, &row, &mt).unwrap());
        same(&what, must, || Tensor::where_(&cond, &Tensor::scalar(1.0), &m).unwrap());
    }
    // Empty and 0-d results.
    for shape in [vec![0, 3], vec![3, 0], vec![0], vec![]] {
        let n = shape.iter().product();
        let m = t(inputs(n, 13), &shape);
        let last = shape.last().map_or(vec![], |&c| vec![c]);
        let row = t(inputs(last.iter().product(), 14), &last);
        let what = format!("{shape:?}");
        same(&what, false, || m.binary(&row, BinaryOp::Add).unwrap());
        same(&what, false, || row.binary(&m, BinaryOp::Add).unwrap());
        same(&what, false, || own(&m).binary_owned(&row, BinaryOp::Add).unwrap());
        same(&what, false, || Tensor::where_(&m, &row, &m).unwrap());
        same(&what, false, || m.unary(UnaryOp::Exp));
        let b = shape.iter().map(|_| 1).collect::<Vec<_>>();
        let one = t(vec![2.0], &b);
        same(&what, false, || m.binary(&one, BinaryOp::Mul).unwrap());
        assert_eq!(m.binary(&row, BinaryOp::Add).unwrap().size(), n, "{what}");
    }
    // Three axes, the first one short.
    let x = t(inputs(4 * 300 * 200, 8), &[4, 300, 200]);
    let b = t(inputs(200, 9), &[200]);
    same("3-d", true, || x.binary(&b, BinaryOp::Div).unwrap());
    same("3-d in place", true, || {
        own(&x).binary_owned(&b, BinaryOp::Div).unwrap()
    });
}

/// `tanh(x * w + b)` with `b` a broadcast row and `w` a scalar.
fn tanh_affine() -> FusedKernel {
    let step = |op, a, b| FusedStep { op, a, b };
    FusedKernel {
        steps: vec![
            step(
                FusedOp::Binary(BinaryOp::Mul),
                FusedOperand::Arg(0),
                FusedOperand::Arg(1),
            ),
            step(
                FusedOp::Binary(BinaryOp::Add),
                FusedOperand::Step(0),
                FusedOperand::Arg(2),
            ),
            step(
                FusedOp::Unary(UnaryOp::Tanh),
                FusedOperand::Step(1),
                FusedOperand::Step(1),
            ),
            step(
                FusedOp::Binary(BinaryOp::Sub),
                FusedOperand::Step(2),
                FusedOperand::Arg(0),
            ),
        ],
        reduce: None,
    }
}

#[test]
fn fused_kernels_fresh_reused_and_broadcast() {
    let k = tanh_affine();
    for (rows, cols) in [
        (1, 1),
        (64, GRAIN / 64),
        (300, 300),
        (257, 513),
        (1000, 1000),
        (5, 70_001),
    ] {
        let n = rows * cols;
        let x = t(inputs(n, 10), &[rows, cols]);
        let b = t(inputs(cols, 11), &[cols]);
        let must = n >= split_min::COSTLY;
        let what = format!("fused {rows}x{cols}");
        let shape = [rows, cols];
        // `x` is also held by the test: a fresh output.
        same(&what, must, || {
            let args = vec![
                FusedArg::Tensor(x.clone()),
                FusedArg::Scalar(0.5),
                FusedArg::Tensor(b.clone()),
            ];
            k.run(args, &shape).unwrap()
        });
        // A private copy lends its buffer to the result.
        same(&what, must, || {
            let args = vec![
                FusedArg::Tensor(own(&x)),
                FusedArg::Scalar(0.5),
                FusedArg::Tensor(b.clone()),
            ];
            k.run(args, &shape).unwrap()
        });
        // A transposed argument is gathered block by block.
        let xt = t(inputs(n, 12), &[cols, rows]).t();
        same(&what, must, || {
            let args = vec![
                FusedArg::Tensor(xt.clone()),
                FusedArg::Scalar(-2.0),
                FusedArg::Tensor(b.clone()),
            ];
            k.run(args, &shape).unwrap()
        });
    }
}

#[test]
fn convolutions_sharing_their_chunks_of_samples() {
    // 5 samples of 16x40x40 with 3x3 taps unfold to 230400 elements each:
    // one sample per chunk on any L2 below 7 MiB, so 5 chunks to share.
    let spec = ConvSpec {
        stride: [1, 1],
        padding: [[1, 1], [1, 1]],
        dilation: [1, 1],
        groups: 1,
    };
    let x = t(inputs(5 * 16 * 40 * 40, 7), &[5, 16, 40, 40]);
    let w = t(inputs(8 * 16 * 9, 8), &[8, 16, 3, 3]);
    let g = t(inputs(5 * 8 * 40 * 40, 9), &[5, 8, 40, 40]);
    same("conv2d", true, || x.conv2d(&w, &spec).unwrap());
    same("conv2d input gradient", true, || {
        Tensor::conv2d_input_grad(&g, &w, x.shape(), &spec).unwrap()
    });
    same("conv2d weight gradient", true, || {
        Tensor::conv2d_weight_grad(&x, &g, w.shape(), &spec).unwrap()
    });
}
