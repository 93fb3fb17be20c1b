//! Kernel benchmark: `cargo run -p dp-tensor --release --example bench`.
//! Prints one line per case: `name<TAB>microseconds` (median of repeated runs).
//! `/work/main/benches/kernels.py` prints the same table for NumPy and ratios.
use dp_tensor::*;
use std::hint::black_box;
use std::time::Instant;

fn time(name: &str, mut f: impl FnMut()) {
    f();
    // Calibrate repetitions to ~0.15 s per case.
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.15 / once) as usize).clamp(3, 20000);
    let mut samples = Vec::new();
    let per_sample = (reps / 7).max(1);
    for _ in 0..(reps / per_sample).max(3) {
        let t = Instant::now();
        for _ in 0..per_sample {
            f();
        }
        samples.push(t.elapsed().as_secs_f64() / per_sample as f64);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{}\t{:.2}", name, samples[samples.len() / 2] * 1e6);
}

fn main() {
    let filter: Option<String> = std::env::args().nth(1);
    let want = |n: &str| filter.as_deref().is_none_or(|f| n.contains(f));
    let mut rng = Rng::new(42);
    for n in [128usize, 256, 512, 1024, 2048] {
        let a = rng.uniform(&[n, n]).unwrap();
        let b = rng.uniform(&[n, n]).unwrap();
        let name = format!("matmul {n}x{n}");
        if want(&name) {
            time(&name, || {
                black_box(a.matmul(&b).unwrap());
            });
        }
    }
    {
        let a = rng.uniform(&[512, 512]).unwrap();
        let b = rng.uniform(&[512, 512]).unwrap();
        if want("matmul 512 a.T@b") {
            time("matmul 512 a.T@b", || {
                black_box(a.t().matmul(&b).unwrap());
            });
        }
        let a = rng.uniform(&[128, 64]).unwrap();
        let b = rng.uniform(&[64, 256]).unwrap();
        if want("matmul 128x64@64x256") {
            time("matmul 128x64@64x256", || {
                black_box(a.matmul(&b).unwrap());
            });
        }
        let a = rng.uniform(&[32, 64, 64]).unwrap();
        let b = rng.uniform(&[32, 64, 64]).unwrap();
        if want("matmul batch 32x64x64") {
            time("matmul batch 32x64x64", || {
                black_box(a.matmul(&b).unwrap());
            });
        }
        let a = rng.uniform(&[64, 64]).unwrap();
        let b = rng.uniform(&[64, 64]).unwrap();
        if want("matmul 64x64") {
            time("matmul 64x64", || {
                black_box(a.matmul(&b).unwrap());
            });
        }
        let v = rng.uniform(&[64]).unwrap();
        if want("matvec 64") {
            time("matvec 64", || {
                black_box(a.matmul(&v).unwrap());
            });
        }
    }
    let n = 1_000_000;
    let a = rng.uniform(&[n]).unwrap();
    let b = rng.uniform(&[n]).unwrap();
    let c = rng.uniform(&[n]).unwrap();
    let m = rng.uniform(&[1000, 1000]).unwrap();
    let row = rng.uniform(&[1000]).unwrap();
    let col = rng.uniform(&[1000, 1]).unwrap();
    type Case<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let cases: Vec<Case> = vec![
        (
            "add 1e6",
            Box::new(|| {
                black_box(a.binary(&b, BinaryOp::Add).unwrap());
            }),
        ),
        (
            "a*b+c 1e6",
            Box::new(|| {
                let t = a.binary(&b, BinaryOp::Mul).unwrap();
                black_box(t.binary_owned(&c, BinaryOp::Add).unwrap());
            }),
        ),
        (
            "a*2.0 1e6",
            Box::new(|| {
                black_box(a.binary_scalar(2.0, BinaryOp::Mul, false));
            }),
        ),
        (
            "p-0.1*g 1e6",
            Box::new(|| {
                let g = b.binary_scalar(0.1, BinaryOp::Mul, true);
                black_box(a.binary(&g, BinaryOp::Sub).unwrap());
            }),
        ),
        (
            "exp 1e6",
            Box::new(|| {
                black_box(a.unary(UnaryOp::Exp));
            }),
        ),
        (
            "tanh 1e6",
            Box::new(|| {
                black_box(a.unary(UnaryOp::Tanh));
            }),
        ),
        (
            "log 1e6",
            Box::new(|| {
                black_box(a.unary(UnaryOp::Log));
            }),
        ),
        (
            "sigmoid 1e6",
            Box::new(|| {
                black_box(a.unary(UnaryOp::Sigmoid));
            }),
        ),
        (
            "relu 1e6",
            Box::new(|| {
                black_box(a.unary(UnaryOp::Relu));
            }),
        ),
        (
            "maximum 1e6",
            Box::new(|| {
                black_box(a.binary(&b, BinaryOp::Maximum).unwrap());
            }),
        ),
        (
            "gt 1e6",
            Box::new(|| {
                black_box(a.binary(&b, BinaryOp::Gt).unwrap());
            }),
        ),
        (
            "row bcast 1000x1000",
            Box::new(|| {
                black_box(m.binary(&row, BinaryOp::Add).unwrap());
            }),
        ),
        (
            "col bcast 1000x1000",
            Box::new(|| {
                black_box(m.binary(&col, BinaryOp::Add).unwrap());
            }),
        ),
        (
            "m.T + m 1000x1000",
            Box::new(|| {
                black_box(m.t().binary(&m, BinaryOp::Add).unwrap());
            }),
        ),
        (
            "sum 1e6",
            Box::new(|| {
                black_box(a.reduce_all(ReduceOp::Sum).unwrap());
            }),
        ),
        (
            "max 1e6",
            Box::new(|| {
                black_box(a.reduce_all(ReduceOp::Max).unwrap());
            }),
        ),
        (
            "sum axis0 1000x1000",
            Box::new(|| {
                black_box(m.reduce(ReduceOp::Sum, &[0], false).unwrap());
            }),
        ),
        (
            "sum axis1 1000x1000",
            Box::new(|| {
                black_box(m.reduce(ReduceOp::Sum, &[1], false).unwrap());
            }),
        ),
        (
            "max axis1 1000x1000",
            Box::new(|| {
                black_box(m.reduce(ReduceOp::Max, &[1], false).unwrap());
            }),
        ),
        (
            "argmax axis1 1000x1000",
            Box::new(|| {
                black_box(m.argmax(Some(1), false).unwrap());
            }),
        ),
        (
            "chain sum(tanh(a*b+c)) 1e6",
            Box::new(|| {
                let t = a.binary(&b, BinaryOp::Mul).unwrap();
                let t = t.binary_owned(&c, BinaryOp::Add).unwrap();
                let t = t.unary_owned(UnaryOp::Tanh);
                black_box(t.reduce_all(ReduceOp::Sum).unwrap());
            }),
        ),
        (
            "chain sum((a-b)**2)/n 1e6",
            Box::new(|| {
                let t = a.binary(&b, BinaryOp::Sub).unwrap();
                let t = t.binary_scalar_owned(2.0, BinaryOp::Pow, false);
                black_box(t.reduce_all(ReduceOp::Sum).unwrap() / n as f64);
            }),
        ),
        (
            "take rows 1000x1000[512 idx]",
            Box::new(|| {
                let idx = Tensor::arange(0.0, 1000.0, 2.0).unwrap();
                black_box(m.take(&idx, 0).unwrap());
            }),
        ),
    ];
    for (name, f) in cases {
        if want(name) {
            time(name, f);
        }
    }
}
