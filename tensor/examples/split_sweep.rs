//! Where splitting elementwise work with the helper thread starts to pay:
//! `cargo run -p dp-tensor --release --example split_sweep [OP]` prints the
//! median wall time (us) of `add`, `mul_scalar`, `exp`, `tanh` over sizes
//! from 16k to 1M elements. Run it with `DP_NUM_THREADS=1` and without, in
//! alternation, on a quiet machine, and compare (see `pool::split_min`).
use dp_tensor::*;
use std::hint::black_box;
use std::time::Instant;

fn median_us(mut f: impl FnMut()) -> f64 {
    f();
    let t0 = Instant::now();
    f();
    let once = t0.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.05 / once) as usize).clamp(5, 5000);
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2] * 1e6
}

fn main() {
    let filter = std::env::args().nth(1);
    let mut rng = Rng::new(3);
    let sizes = [
        16_384usize,
        32_768,
        49_152,
        65_536,
        98_304,
        131_072,
        196_608,
        262_144,
        524_288,
        1_048_576,
    ];
    print!("{:12}", "op");
    for n in sizes {
        print!("{n:>9}");
    }
    println!();
    for name in ["add", "mul_scalar", "exp", "tanh"] {
        if filter.as_deref().is_some_and(|f| f != name) {
            continue;
        }
        print!("{name:12}");
        for n in sizes {
            let a = rng.uniform(&[n]).unwrap();
            let b = rng.uniform(&[n]).unwrap();
            let us = match name {
                "add" => median_us(|| {
                    black_box(a.binary(&b, BinaryOp::Add).unwrap());
                }),
                "mul_scalar" => median_us(|| {
                    black_box(a.binary_scalar(2.0, BinaryOp::Mul, false));
                }),
                "exp" => median_us(|| {
                    black_box(a.unary(UnaryOp::Exp));
                }),
                _ => median_us(|| {
                    black_box(a.unary(UnaryOp::Tanh));
                }),
            };
            print!("{us:9.1}");
        }
        println!();
    }
}
