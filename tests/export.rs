//! `graph_stablehlo(g)`: traced graphs exported as StableHLO programs. The
//! text of a small program is checked exactly; a set of forward and backward
//! passes covering every exported operation is run by XLA (through jaxlib,
//! `tests/export/run_xla.py`) and compared with dp's own results — on a
//! machine with `pip install jax`; elsewhere that test says it was skipped.

use dp::repl::Session;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs REPL entries in one session; returns what the last one printed.
fn run(entries: &[&str]) -> String {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let mut last = String::new();
    for e in entries {
        let r = s.eval_entry(e);
        assert_eq!(r.stderr, "", "`{e}` failed");
        last = cap.take() + &r.stdout;
    }
    last
}

fn stderr_of(entries: &[&str]) -> String {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap), std::env::temp_dir(), false);
    let mut err = String::new();
    for e in entries {
        err += &s.eval_entry(e).stderr;
    }
    err
}

#[test]
fn a_small_program_reads_as_stablehlo() {
    let out = run(&[
        "fn f(x, w) { sum(tanh(x @ w) * 2.0) }",
        "print(graph_stablehlo(trace(f)(ones((2, 3)), ones((3, 4)))))",
    ]);
    let want = "module @dp_f {
  func.func public @main(%arg0: tensor<2x3xf64>, %arg1: tensor<3x4xf64>) -> (tensor<f64>) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [1] x [0], precision = [DEFAULT, DEFAULT] : (tensor<2x3xf64>, tensor<3x4xf64>) -> tensor<2x4xf64>
    %1 = stablehlo.tanh %0 : tensor<2x4xf64>
    %2 = stablehlo.constant dense<0x4000000000000000> : tensor<f64>
    %3 = stablehlo.broadcast_in_dim %2, dims = [] : (tensor<f64>) -> tensor<2x4xf64>
    %4 = stablehlo.multiply %1, %3 : tensor<2x4xf64>
    %5 = stablehlo.constant dense<0x0000000000000000> : tensor<f64>
    %6 = stablehlo.reduce(%4 init: %5) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x4xf64>, tensor<f64>) -> tensor<f64>
    return %6 : tensor<f64>
  }
}
";
    assert_eq!(out.trim_end(), want.trim_end());
}

#[test]
fn graphs_that_cannot_be_exported_say_why_and_where() {
    let err = stderr_of(&[
        "let g = trace(|x| if sum(x) > 0.0 { x } else { -x })(ones((2,)));",
        "graph_stablehlo(g)",
    ]);
    assert!(err.contains("cannot be exported: the traced code"), "{err}");
    let err = stderr_of(&["let g = trace(|a| det(a))(eye(3));", "graph_stablehlo(g)"]);
    assert!(err.contains("has no rule for this operation yet (`det`)"), "{err}");
    let err = stderr_of(&["graph_stablehlo(3.0)"]);
    assert!(err.contains("to be a graph"), "{err}");
}

/// Each case: dp definitions, then the traced call `f(ARGS)`.
const CASES: &[(&str, &str, &str)] = &[
    (
        "mlp gradient",
        "fn loss(p, x, y) { mean((tanh(x @ p.w + p.b) - y) ** 2) }
         let f = grad(loss);",
        "{w: reshape(sin(arange(6.0)), (3, 2)), b: tensor([0.1, -0.2])}, reshape(cos(arange(12.0)), (4, 3)), reshape(sin(arange(8.0) * 0.5), (4, 2))",
    ),
    (
        "slices and their adjoints",
        "fn g(x) { sum(x[::-2, 1:3] * 2.0) + x[1, -1] * x[0, 0] + sum(x[:, ::3] ** 2) + sum(x[none, 1, ::-1]) }
         let f = |x| (g(x), grad(g)(x));",
        "reshape(sin(arange(20.0) * 0.7), (4, 5))",
    ),
    (
        "take and its scatter",
        "fn g(x) { sum(take(x, tensor([2, 0, 2, -1]), axis=1) ** 2) + sum(take(x, tensor([[1, 0], [1, 1]]), axis=0)) }
         let f = |x| (g(x), grad(g)(x));",
        "reshape(cos(arange(12.0) * 0.3), (3, 4))",
    ),
    (
        "a lone -0.0 through take's scatter",
        "fn g(x) { sum(minimum(-1.0, take(x, tensor([0, 2]), axis=0)) * -2.0) }
         let f = grad(g);",
        "tensor([3.0, 1.0, -4.0, 2.0])",
    ),
    (
        "joins, comparisons, where, reductions",
        "fn g(x) {
             let m = max(x, axis=1, keepdims=true);
             let y = where(x > 0.0, x, 0.1 * x);
             sum(concat((y, stack((x[:, 0], x[:, 1]), axis=1)), axis=1) * m) + sum(x[0] * x[1]) + min(x) + mean(x >= 0.2)
         }
         let f = |x| (g(x), grad(g)(x), x == 0.5);",
        "reshape(sin(arange(12.0) * 1.3), (3, 4))",
    ),
    (
        "elementwise functions",
        "fn g(x) {
             let a = abs(x) + 0.5;
             sum(sinh(x) + cosh(x) + asinh(x) + atan(x) + tanh(x) + log2(a) + log10(a) + exp2(x) + sigmoid(x)
                 + softplus(x) + relu(x) + sign(x) + floor(x) + ceil(x) + round(x * 3.0) + a ** 2.5 + sqrt(a)
                 + log1p(a) + expm1(x) + sin(x) * cos(x) + tan(x * 0.3) + reciprocal(a) + square(x)
                 + asin(x * 0.4) + acos(x * 0.4) + atanh(x * 0.4) + acosh(a + 1.0) + maximum(x, 0.1) + minimum(x, -0.1)
                 + atan2(x, a) + x / a - x ** 3 + x % 0.7 + (x * 1e5) % -0.3 + 2.5 % a
                 + x // 0.1 + (x * 1e5) // -0.3 + 2.5 // a + x // inf + cumsum(x * x))
         }
         let f = |x| (g(x), grad(g)(x));",
        "tensor([-1.3, -0.4, 0.0, 0.35, 0.9, 1.7])",
    ),
    (
        "batched and vector products",
        "fn g(a, b, v) { sum(a @ b) + sum(v @ b) + sum((a @ b) @ v[:2]) + v @ v }
         let f = |a, b, v| (g(a, b, v), grad(g, argnums=(0, 1, 2))(a, b, v));",
        "reshape(sin(arange(24.0)), (2, 3, 4)), reshape(cos(arange(8.0)), (4, 2)), tensor([0.5, -1.0, 2.0, 0.25])",
    ),
    (
        "special functions",
        "fn g(x) { sum(erf(x) + erfc(x) * 2.0 + lgamma(x + 2.0) + digamma(x + 2.0) + polygamma(1, x + 2.0)) }
         let f = |x| (g(x), grad(g)(x));",
        "tensor([-1.3, -0.4, 0.0, 0.35, 0.9, 1.7])",
    ),
    (
        "cholesky and triangular solves",
        "fn g(a, b) {
             let l = cholesky(a @ a.T + 3.0 * eye(3));
             sum(l) + sum(triangular_solve(l, b, lower=true)) + sum(triangular_solve(l.T, b, lower=false))
         }
         let f = |a, b| (g(a, b), grad(g, argnums=(0, 1))(a, b));",
        "reshape(sin(arange(9.0) * 0.7), (3, 3)), reshape(cos(arange(6.0)), (3, 2))",
    ),
    (
        "convolutions and their adjoints",
        "fn g(x, w) {
             let y = conv2d(x, w, stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 2), groups=2);
             let z = conv2d(tanh(y), reshape(w, (4, 3, 3, 3))[:, :, ::-1, :] * 0.5, padding=\"same\", groups=2);
             sum(y ** 2) + sum(sin(z)) + sum(conv1d(x[:, :, 0, :], w[:2, :, 0, :], stride=2, groups=2))
         }
         let f = |x, w| (g(x, w), grad(g, argnums=(0, 1))(x, w), grad(|v| sum(grad(g)(v, w) ** 2))(x));",
        "reshape(sin(arange(2.0 * 4 * 6 * 6) * 0.7), (2, 4, 6, 6)), reshape(cos(arange(6.0 * 2 * 3 * 3) * 0.3), (6, 2, 3, 3))",
    ),
    (
        "poolings and their adjoints",
        "fn g(x) {
             let m = max_pool2d(x, (3, 2), stride=(2, 1), padding=((1, 1), (0, 1)));
             let a = avg_pool2d(x, 2, stride=(1, 2), padding=((1, 0), (1, 1)));
             sum(m ** 2) + sum(a * m[:, :, :1, :1]) + sum(max_pool1d(x[:, :, 0, :], 2))
         }
         let f = |x, t| (g(x), grad(g)(x), jvp(g, (x,), (t,)), grad(|v| sum(grad(g)(v) ** 3))(x));",
        "reshape(sin(arange(2.0 * 3 * 5 * 6) * 1.7), (2, 3, 5, 6)), reshape(cos(arange(2.0 * 3 * 5 * 6)), (2, 3, 5, 6))",
    ),
];

#[test]
fn exported_programs_run_by_xla_match_dp() {
    let has_jax = Command::new("python3")
        .args(["-c", "import jax"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_jax {
        eprintln!("skipped: XLA check needs python3 with jax (pip install jax)");
        return;
    }
    let mut json = String::from("[");
    for (k, (name, defs, args)) in CASES.iter().enumerate() {
        let hlo = run(&[defs, &format!("print(graph_stablehlo(optimize(trace(f)({args}))))")]);
        let inputs = run(&[defs, &format!("print(repr(tree_leaves(({args},))))")]);
        let outputs = run(&[defs, &format!("print(repr(tree_leaves((f({args}),))))")]);
        if k > 0 {
            json.push(',');
        }
        json += &format!(
            "{{\"name\": {name:?}, \"hlo\": {hlo:?}, \"inputs\": {:?}, \"outputs\": {:?}}}",
            inputs.trim(),
            outputs.trim()
        );
    }
    json.push(']');
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/export/run_xla.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(json.as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("python3 finishes");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "XLA disagrees with dp:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok")).count(),
        CASES.len(),
        "{report}"
    );
}
