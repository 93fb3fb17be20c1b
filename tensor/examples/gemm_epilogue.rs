//! A product with a fused elementwise epilogue against the same work unfused:
//! `cargo run -p dp-tensor --release --example gemm_epilogue [MxKxN ...]`.
//! For each size prints, in microseconds (best of repeated runs), the
//! product `A @ B`, `tanh(A @ B + b)` fused into the product (as the jit runs
//! the first layer of an MLP), the same unfused, and `tanh` alone on a result
//! of that shape. Default size: 256x64x128. Times are the thread's CPU time,
//! so run it with `DP_NUM_THREADS=1`.
use dp_tensor::*;
use std::hint::black_box;
use std::time::Instant;

/// This thread's CPU time in seconds (Linux; time spent descheduled on a
/// loaded machine is not counted), or the wall clock elsewhere.
fn now(origin: Instant) -> f64 {
    #[cfg(target_os = "linux")]
    {
        let _ = origin;
        let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `t` is a valid timespec to write.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    origin.elapsed().as_secs_f64()
}

/// The best time of `f` in microseconds, over about a quarter of a second.
fn best(mut f: impl FnMut()) -> f64 {
    let origin = Instant::now();
    let t0 = now(origin);
    f();
    let reps = ((0.25 / (now(origin) - t0)) as usize).clamp(5, 5000);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = now(origin);
        f();
        let d = now(origin) - t;
        if d > 0.0 {
            best = best.min(d);
        }
    }
    best * 1e6
}

fn main() {
    let sizes: Vec<(usize, usize, usize)> = std::env::args()
        .skip(1)
        .filter_map(|s| {
            let p: Vec<usize> = s.split('x').map(|x| x.parse().ok()).collect::<Option<_>>()?;
            match p[..] {
                [m, k, n] => Some((m, k, n)),
                _ => None,
            }
        })
        .collect();
    let sizes = if sizes.is_empty() { vec![(256, 64, 128)] } else { sizes };
    let mut rng = Rng::new(1);
    // Step 0: product + bias (arg 1); step 1: tanh of it.
    let kernel = FusedKernel {
        steps: vec![
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Add),
                a: FusedOperand::Arg(0),
                b: FusedOperand::Arg(1),
            },
            FusedStep {
                op: FusedOp::Unary(UnaryOp::Tanh),
                a: FusedOperand::Step(0),
                b: FusedOperand::Step(0),
            },
        ],
        reduce: None,
    };
    println!("size\tproduct\tfused\tunfused\ttanh");
    for (m, k, n) in sizes {
        let a = rng.uniform(&[m, k]).unwrap();
        let b = rng.uniform(&[k, n]).unwrap();
        let bias = rng.uniform(&[n]).unwrap();
        let h = rng.uniform(&[m, n]).unwrap();
        let product = best(|| {
            black_box(a.matmul(&b).unwrap());
        });
        let fused = best(|| {
            let args = vec![FusedArg::Scalar(0.0), FusedArg::Tensor(bias.clone())];
            black_box(kernel.run_on_product(&a, &b, args, 0).unwrap());
        });
        let unfused = best(|| {
            let p = a.matmul(&b).unwrap();
            black_box(p.binary_owned(&bias, BinaryOp::Add).unwrap().unary_owned(UnaryOp::Tanh));
        });
        let tanh = best(|| {
            black_box(h.unary(UnaryOp::Tanh));
        });
        println!("{m}x{k}x{n}\t{product:.1}\t{fused:.1}\t{unfused:.1}\t{tanh:.1}");
    }
}
