//! `jit(f)`: the first call per argument signature traces and keeps a plan,
//! later calls run it; the answers are those of `f` itself, whatever `f`
//! does — branches on traced values, reads globals, prints, draws random
//! numbers — and `jit` composes with `grad`, `vmap` and itself.

use dp::repl::Session;
use std::process::Command;

const DP: &str = env!("CARGO_BIN_EXE_dp");

/// Runs REPL entries in one session; returns the last entry's stdout
/// (what it printed, then its echoed value). Every entry must succeed.
fn run(entries: &[&str]) -> String {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let mut last = String::new();
    for e in entries {
        let r = s.eval_entry(e);
        assert_eq!(r.stderr, "", "`{e}` failed");
        last = cap.take() + &r.stdout;
    }
    last.trim().to_string()
}

/// Runs a program with the binary; returns (stdout, stderr).
fn run_file(src: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("dp-jit-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // A name of its own: tests run in parallel, and two programs of one
    // length must not overwrite each other's file.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("p{n}-{}.dp", src.len()));
    std::fs::write(&path, src).expect("write program");
    let out = Command::new(DP)
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run dp");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const LOSS: &str = "fn loss(p, x, y) { mean((tanh(x @ p.w + p.b) - y) ** 2) }";
const DATA: &str = "let x = reshape(sin(arange(12.0)), (4, 3)); let y = cos(arange(4.0));";

#[test]
fn a_training_step_runs_its_plan_and_matches_plain_steps() {
    let out = run(&[
        LOSS,
        DATA,
        "fn step(p, x, y) { tree_map(|q, g| q - 0.1 * g, p, grad(loss)(p, x, y)) }",
        "let fast = jit(step);",
        "let p = {w: ones((3,)) * 0.1, b: 0.0}; let q = p;",
        "for i in range(20) { p = fast(p, x, y); q = step(q, x, y); }",
        "assert_close(p, q, rtol=1e-12, atol=0.0); jit_stats(fast)",
    ]);
    assert_eq!(out, "{jitted: true, replays: 19, traces: 1}");
}

#[test]
fn jit_of_grad_and_grad_of_jit_agree_with_grad() {
    let out = run(&[
        LOSS,
        DATA,
        "let p = {w: tensor([0.1, -0.2, 0.3]), b: 0.5};",
        "let g0 = grad(loss)(p, x, y);",
        "let jg = jit(grad(loss)); jg(p, x, y); let g1 = jg(p, x, y);",
        "let g2 = grad(jit(loss))(p, x, y);",
        "assert_close(g1, g0, rtol=1e-13, atol=0.0); assert_close(g2, g0, rtol=1e-13, atol=0.0);",
        "let h = grad(grad(jit(|t| sin(t) * t)))(1.0); assert_close(h, 2.0 * cos(1.0) - sin(1.0));",
        "jit_stats(jg)",
    ]);
    assert_eq!(out, "{jitted: true, replays: 1, traces: 1}");
}

#[test]
fn a_new_argument_signature_traces_a_new_plan() {
    let out = run(&[
        "let f = jit(|x, n| { let s = 0.0; for i in range(n) { s = s + x * i; }; s });",
        "print(f(1.0, 3), f(2.0, 3), f(2.0, 4), f(ones((2,)), 4)); jit_stats(f)",
    ]);
    // Ints are part of the signature, like tensor shapes: (float, 3), (float, 4), (tensor (2,), 4).
    assert_eq!(out, "3.0 6.0 12.0 [6.0, 6.0]\n{jitted: true, replays: 1, traces: 3}");
}

#[test]
fn a_branch_on_a_traced_value_is_guarded_and_retraced() {
    let out = run(&[
        "let f = jit(|x| if x > 0.0 { x * 2.0 } else { -x });",
        "print(f(1.0), f(2.0), f(-3.0), f(-4.0), f(5.0)); jit_stats(f)",
    ]);
    // Two plans (one per branch); each later call finds the one whose guard holds.
    assert_eq!(out, "2.0 4.0 3.0 4.0 10.0\n{jitted: true, replays: 3, traces: 2}");
}

#[test]
fn a_value_read_outside_the_primitives_is_guarded() {
    let out = run(&[
        "let k = jit(|x| str(x) + \"!\");",
        "let n = jit(|x| { let s = 0.0; for i in range(int(x)) { s = s + 1.0; }; s });",
        "print(k(1.0), k(2.0), k(1.0)); print(n(2.0), n(3.0), n(3.0));",
    ]);
    assert_eq!(out, "1.0! 2.0! 1.0!\n2.0 3.0 3.0");
}

#[test]
fn globals_read_by_a_plan_are_checked() {
    let out = run(&[
        "let scale = 2.0;",
        "fn times(x) { x * scale }",
        "let f = jit(times);",
        "print(f(1.0), f(1.0));",
        "scale = 3.0;",
        "print(f(1.0));",
        "fn times(x) { x * scale + 1.0 }",
        "print(f(1.0)); jit_stats(f)",
    ]);
    // The redefinition is a new global function; the jitted one keeps the old.
    assert_eq!(out, "3.0\n{jitted: true, replays: 2, traces: 2}");
}

#[test]
fn side_effects_happen_on_every_call_in_order() {
    let (out, err) = run_file(
        "let f = jit(|x| { print(\"x is\", x); x + 1.0 });\n\
         print(f(1.0), f(2.0));\n\
         seed(0); let r = jit(|s| randn((2,)) * s);\n\
         let a = r(1.0); let b = r(1.0);\n\
         seed(0); let c = randn((2,)); let d = randn((2,));\n\
         assert_close(a, c); assert_close(b, d); print(\"random ok\");\n",
    );
    assert_eq!(out, "x is 1.0\nx is 2.0\n2.0 3.0\nrandom ok\n");
    assert!(
        err.contains("jit(<lambda>) runs without jit from here on: it calls `print` at "),
        "{err}"
    );
    assert!(
        err.contains("jit(<lambda>) runs without jit from here on: it calls `randn` at "),
        "{err}"
    );
    assert_eq!(err.matches("note:").count(), 2, "one note per function: {err}");
}

#[test]
fn a_function_whose_branch_keeps_changing_gives_up_and_says_where() {
    let (out, err) = run_file(
        "let f = jit(|x| if x > 0.0 { x } else { -x });\n\
         let s = 0.0;\n\
         for i in range(12) { s = s + f(float(i % 2) - 0.5 + float(i)); }\n\
         print(s);\n",
    );
    let plain: f64 = (0..12)
        .map(|i| {
            let x = (i % 2) as f64 - 0.5 + i as f64;
            x.abs()
        })
        .sum();
    assert_eq!(out.trim().parse::<f64>().ok(), Some(plain));
    assert_eq!(err, "", "two plans cover both branches: no retracing");
    let (out, err) = run_file(
        "let f = jit(|x| { let s = 0.0; for i in range(int(x)) { s = s + 1.0; }; s });\n\
         let t = 0.0;\n\
         for i in range(12) { t = t + f(float(i)); }\n\
         print(t);\n",
    );
    assert_eq!(out.trim(), "66.0");
    assert!(
        err.contains("it branches on at ") && err.contains("came out differently for the arguments of 8 calls"),
        "{err}"
    );
    assert!(err.contains(".dp:1:47 "), "names the read, `int(x)`: {err}");
    // An int argument read by a builtin (the loop count of `range(n)`): the
    // note names that call, not the jitted function's.
    let (out, err) = run_file(
        "let f = jit(|x, n| {\n\
           let s = x;\n\
           for i in range(n) { s = s * 1.5; }\n\
           s\n\
         });\n\
         let t = 0.0;\n\
         for k in range(12) { t = t + f(1.0, k); }\n\
         print(t);\n",
    );
    assert_eq!(out.trim(), format!("{}", (0..12).map(|k| 1.5f64.powi(k)).sum::<f64>()));
    assert!(err.contains(".dp:3:10 "), "names `range(n)`: {err}");
}

#[test]
fn refusals_name_the_reason() {
    let (out, err) = run_file(
        "let f = jit(|w| |x| x * w);\n\
         print(f(2.0)(3.0), f(4.0)(3.0));\n\
         let g = jit(|x| sum(x) + float(len(str(x))));\n\
         print(g(tensor([1.0, 3.0, 2.0])), g(tensor([3.0, 1.0, 2.0])));\n",
    );
    assert_eq!(out, "6.0 12.0\n21.0 21.0\n");
    assert!(err.contains("it returns a function"), "{err}");
    assert!(
        err.contains("it reads the elements of a tensor computed from its arguments"),
        "{err}"
    );
}

/// Calls with derivative rules written in dp (`custom_vjp`, `custom_jvp`,
/// `checkpoint`) are planned: a jitted forward pass records the function as
/// written, and the rules of a `grad` inside the jitted function run as dp
/// code during the trace, so their primitives are replayed.
#[test]
fn custom_rules_and_checkpoint_are_planned() {
    let out = run(&[
        "let s2 = custom_vjp(|x| sin(x), |x| (sin(x), x), |x, g| (g * cos(x) * 2.0,));",
        "let lse = custom_jvp(|x| log(1.0 + exp(x)), |p, t| (log(1.0 + exp(p[0])), t[0] * sigmoid(p[0])));",
        "let ck = checkpoint(|a, b| sin(a * b) * b);",
        "fn loss(x) { sum(s2(x) * x) + sum(lse(x)) + sum(ck(x, 2.0)) }",
        "let jl = jit(loss); let jg = jit(grad(loss)); let x = tensor([0.3, 1.7, -2.2]);",
        "for k in range(3) { let z = x * (k + 1.0); \
         assert_close(jl(z), loss(z), rtol=1e-13, atol=0.0); assert_close(jg(z), grad(loss)(z), rtol=1e-13, atol=0.0); }",
        "print(jit_stats(jl)); jit_stats(jg)",
    ]);
    assert_eq!(
        out,
        "{jitted: true, replays: 2, traces: 1}\n{jitted: true, replays: 2, traces: 1}"
    );
}

#[test]
fn jit_inside_vmap_and_vmap_inside_jit() {
    let out = run(&[
        "let f = |x, w| sum(tanh(x * w));",
        "let xs = reshape(arange(6.0), (3, 2)); let w = tensor([0.5, -0.25]);",
        "let a = vmap(jit(f), in_axes=(0, none))(xs, w);",
        "let b = jit(vmap(f, in_axes=(0, none))); b(xs, w); let c = b(xs, w);",
        "let d = vmap(f, in_axes=(0, none))(xs, w);",
        "assert_close(a, d, rtol=1e-14, atol=0.0); assert_close(c, d, rtol=1e-14, atol=0.0);",
        "jit_stats(b)",
    ]);
    assert_eq!(out, "{jitted: true, replays: 1, traces: 1}");
}

#[test]
fn results_keep_their_structure_and_keyword_arguments_count() {
    let out = run(&[
        "fn g(p, scale=1.0) { ({a: p.x * scale, n: 3, s: \"k\"}, p.x + 1.0) }",
        "let f = jit(g); let p = {x: tensor([1.0, 2.0])};",
        "f(p); print(f(p)); print(f(p, scale=2.0)); print(f(p, scale=2.0)); jit_stats(f)",
    ]);
    assert_eq!(
        out,
        "({a: [1.0, 2.0], n: 3, s: \"k\"}, [2.0, 3.0])\n({a: [2.0, 4.0], n: 3, s: \"k\"}, [2.0, 3.0])\n\
         ({a: [2.0, 4.0], n: 3, s: \"k\"}, [2.0, 3.0])\n{jitted: true, replays: 2, traces: 2}"
    );
}

#[test]
fn jit_stats_of_something_else_is_a_type_error() {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap), std::env::temp_dir(), false);
    let err = s.eval_entry("jit_stats(|x| x)").stderr;
    assert!(err.contains("`jit_stats` needs a function made by `jit(f)`"), "{err}");
}

/// Scalar arithmetic replays on float registers: chains of float operators,
/// constants, unary functions, scalars that come out of tensor reductions and
/// flow back into tensors, and a guarded scalar branch all give exactly the
/// plain function's bits, value and gradient, on inputs the trace never saw.
#[test]
fn scalar_register_programs_reproduce_plain_results_exactly() {
    let out = run(&[
        "fn f(a, b, v) {
            let s = a * 0.999 + (a * b) * 1e-4 - exp(-b) / (1.0 + a * a);
            let t = sum(v * s) + tanh(s) * sqrt(abs(b) + 1.0);
            let u = if t > 0.0 { t * t } else { -t };
            mean(v * u) + log1p(u) + relu(s - 0.5)
        }",
        "let vg = value_and_grad(f, argnums=(0, 1, 2)); let fast = jit(vg);",
        "let ok = true;
         for k in range(24) {
             let a = sin(k * 1.7) * 2.0; let b = cos(k * 0.3) - 0.2; let v = sin(arange(5.0) + k);
             let (x, g) = vg(a, b, v); let (y, h) = fast(a, b, v);
             ok = ok and x == y and g[0] == h[0] and g[1] == h[1] and all(g[2] == h[2]);
         }",
        // Branches (the `if`, and the kinks of `abs` and `relu`) make a plan per
        // combination met; later calls replay them.
        "let st = jit_stats(fast); (ok, st.replays >= 12, st.traces + st.replays == 24)",
    ]);
    assert_eq!(out, "(true, true, true)");
}

/// Elementwise chains run as fused kernels in a plan (tanh's backward
/// `g * (1 - y * y)`, a bias broadcast, a ReLU mask, scalars computed on
/// registers, a transposed operand, a comparison inside the chain, sums of
/// all elements and along the last axis that end a kernel): values
/// and gradients are bit-identical to the plain function on inputs the trace
/// never saw, and buffers the plan gives up are reused without corrupting
/// values still needed.
/// A jitted SGD step of an MLP computes its products' epilogues inside the
/// GEMM (`tanh(x @ w1 + b1)`, the backward `(g @ w2.T) * (1 - h * h)`, the
/// update `w - lr * (h.T @ g)`), on shapes large enough for several blocks
/// and two threads, and gives bit for bit the unjitted steps.
#[test]
fn matmul_epilogues_reproduce_plain_training_steps_exactly() {
    let out = run(&[
        "fn loss(p, x, y) {
            let h = tanh(x @ p.w1 + p.b1);
            let z = h @ p.w2 + p.b2;
            -mean(sum(y * log_softmax(z), axis=1))
        }",
        "fn step(p, x, y) {
            let g = grad(loss)(p, x, y);
            (tree_map(|a, b| a - 0.1 * b, p, g), loss(p, x, y))
        }",
        "let fast = jit(step);",
        "let x = reshape(sin(arange(300.0 * 70.0) * 0.37), (300, 70));
         let y = one_hot(arange(300.0) % 10.0, 10);
         let p = {w1: reshape(cos(arange(70.0 * 260.0) * 0.3), (70, 260)) * 0.1, b1: sin(arange(260.0)) * 0.1,
                  w2: reshape(cos(arange(260.0 * 10.0) * 0.7), (260, 10)) * 0.1, b2: zeros(10)};
         let (a, b) = (p, p); let ok = true;
         for k in range(4) {
             let (a2, la) = step(a, x, y); let (b2, lb) = fast(b, x, y);
             ok = ok and la == lb and all(a2.w1 == b2.w1) and all(a2.b1 == b2.b1) and all(a2.w2 == b2.w2) and all(a2.b2 == b2.b2);
             a = a2; b = b2;
         }",
        "let st = jit_stats(fast); (ok, st.traces, st.replays)",
    ]);
    assert_eq!(out, "(true, 1, 3)");
}

/// Broadcasts that feed fused kernels only (backward passes of sums and
/// means along axes, explicit `broadcast_to`) are read by the kernels with
/// broadcasting: the plan's values equal plain code's bit for bit.
#[test]
fn broadcasts_read_by_fused_kernels_reproduce_plain_results_exactly() {
    let out = run(&[
        "fn f(x, v) {
            let a = tanh(x) * sum(x, axis=1, keepdims=true) + mean(x, axis=0) * x;
            let b = broadcast_to(v, (5, 4)) * x + broadcast_to(sum(v), (5, 4)) - broadcast_to(reshape(v, (1, 4)), (5, 4)) ** 2;
            sum(a * b) + sum(exp(-x) * broadcast_to(max(x, axis=0), (5, 4)))
        }",
        "let g = grad(f, argnums=(0, 1)); let fast = jit(g);",
        "let ok = true;
         for k in range(4) {
             let x = reshape(sin(arange(20.0) * (0.3 + k * 0.1)), (5, 4));
             let v = cos(arange(4.0) * (1.0 + k));
             ok = ok and repr(g(x, v)) == repr(fast(x, v));
         }
         let st = jit_stats(fast); (ok, st.traces, st.replays)",
    ]);
    assert_eq!(out, "(true, 1, 3)");
}

#[test]
fn fused_elementwise_kernels_reproduce_plain_results_exactly() {
    let out = run(&[
        "fn f(p, x) {
            let h = tanh(x @ p.w + p.b);
            let s = sum(h) * 1e-3 + 0.5;
            let r = relu(h * s - 0.1) + sigmoid(h.T @ h)[0, 0] * (h > 0.2);
            let z = exp(-r * r) * (1.0 - h * h) + log1p(abs(h)) / (2.0 + s);
            let rows = sum(exp(h * 0.5) - 1.0, axis=-1) + sum(z * h, axis=1, keepdims=true)[:, 0];
            mean(z * z) + sum(h * r) * 0.01 + mean(rows * rows)
        }",
        "let vg = value_and_grad(f); let fast = jit(vg);",
        "let ok = true;
         for k in range(6) {
             let x = reshape(sin(arange(600.0) * (0.37 + k * 0.01)), (50, 12));
             let p = {w: reshape(cos(arange(12.0 * 40.0) * 0.3 + k), (12, 40)) * 0.4, b: sin(arange(40.0) + k) * 0.1};
             let (v1, g1) = vg(p, x); let (v2, g2) = fast(p, x);
             ok = ok and v1 == v2 and all(g1.w == g2.w) and all(g1.b == g2.b);
         }",
        "let st = jit_stats(fast); (ok, st.traces, st.replays)",
    ]);
    assert_eq!(out, "(true, 1, 5)");
}

/// A derivative rule's scalar masks (relu's `x > 0`, abs's sign, the ties of
/// `maximum`) are data in a plan, not guards: a jitted gradient of a
/// micrograd-style network traces once however the kinks flip, and products
/// merged into the sums they feed (`a * b + c`, `c + a * b`, `a * b - c`,
/// `c - a * b`) round as the two operations do.
#[test]
fn scalar_masks_are_data_and_merged_products_round_as_plain_code() {
    let out = run(&[
        "fn net(w, x) {
            let h1 = relu(w[0] * x + w[1]);
            let h2 = abs(w[2] * x - w[3]) + maximum(h1, w[4] * x);
            let h3 = w[5] - h2 * w[6] + (w[7] - w[0] * h1);
            relu(h3) * h3 - 0.5 * x * x
        }",
        "let vg = value_and_grad(net); let fast = jit(vg);",
        "let ok = true;
         for k in range(40) {
             let w = tuple(map(|i| sin(k * 1.3 + i * 0.7) * 2.0, tuple(range(8))));
             let x = cos(k * 0.9) * 3.0;
             let (a, g) = vg(w, x); let (b, h) = fast(w, x);
             ok = ok and a == b and all(tensor(g) == tensor(h));
         }",
        "let st = jit_stats(fast); (ok, st.traces, st.replays)",
    ]);
    assert_eq!(out, "(true, 1, 39)");
}

/// Programs jit once got wrong: a closure reading a top-level name defined
/// after it (read at each call) sees the new value; a value read as a string
/// keeps the sign of zero; `debug_nans(true)` still stops at the rule that
/// made a nan; `jit_stats` inside jitted code is current.
#[test]
fn late_globals_signed_zeros_debug_nans_and_stats_behave_as_without_jit() {
    let (out, err) = run_file(
        "let h = jit(|x| x * later);
let later = 3.0;
print(h(2.0));
later = -1.0;
print(h(2.0));
let s = jit(|x| str(x));
print(s(0.0), s(-0.0));
let m = jit(|x| x % 3.0);
print(m(-3.0), -3.0 % 3.0, m(-0.0), -0.0 % 3.0);
let c = jit(|x| x * 2.0);
fn report(x) { c(x); jit_stats(c).replays }
let r = jit(report);
print(r(1.0), r(2.0), r(3.0));
fn f(x) { sqrt(x) * 0.0 + x }
let d = jit(grad(f));
debug_nans(true);
print(d(1.0));
print(d(0.0));
",
    );
    // `report`'s first call traces it, and `c` inside a trace is part of it
    // (no call of `c`'s own); then `jit_stats` stops the plan and reads afresh.
    assert_eq!(out, "6.0\n-2.0\n0.0 -0.0\n0.0 0.0 0.0 0.0\n0 0 1\n1.0\n");
    assert!(err.contains("became non-finite"), "{err}");
}

/// A product small enough for the plain loop (no FMA) is not given a fused
/// epilogue, which needs the packed GEMM: an exact fit's residual is exactly
/// zero with and without jit. A gather by indices the function takes as an
/// argument is planned (the gather checks them each run) and replays for
/// new indices.
#[test]
fn small_fused_products_and_argument_gathers_match_plain_code() {
    let out = run(&[
        "let x = reshape(cos(arange(15.0)), (5, 3)); let w = reshape(sin(arange(6.0)), (3, 2)); let y = x @ w;",
        "fn residual(w, x, y) { tanh(x @ w - y) }",
        "let r = jit(residual); r(w, x, y);",
        "let g = jit(|x, i| x[i] * 2.0); g(x, [0.0, 2.0]);",
        "(all(r(w, x, y) == residual(w, x, y)), all(g(x, [4.0, -1.0]) == x[[4.0, -1.0]] * 2.0), jit_stats(g).replays)",
    ]);
    assert_eq!(out, "(true, true, 1)");
}

/// An error raised while a plan runs is reported as `f`'s own would be:
/// at the user's line, with the call of `f` on its stack.
#[test]
fn errors_of_a_replayed_plan_name_the_call() {
    let src = "fn f(a) {\n  let l = cholesky(a);\n  sum(l)\n}\nlet g = jit(f);\nprint(g([[4.0, 1.0], [1.0, 3.0]]));\nprint(g([[1.0, 2.0], [2.0, 1.0]]));\n";
    let (out, err) = run_file(src);
    assert!(out.starts_with("4.158"), "{out}");
    assert!(err.contains("in `f`, called at") && err.contains(":7:7"), "{err}");
    assert!(err.contains("cholesky"), "{err}");
}

#[test]
fn the_profile_names_each_step_of_a_plan_with_its_time_and_line() {
    let dir = std::env::temp_dir().join(format!("dp-jit-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("step.dp");
    let src = format!(
        "{LOSS}\n{DATA}\nfn step(p, x, y) {{ tree_map(|q, g| q - 0.1 * g, p, grad(loss)(p, x, y)) }}\n\
         let fast = jit(step);\nlet p = {{w: ones((3,)) * 0.1, b: 0.0}};\n\
         for i in range(5) {{ p = fast(p, x, y); }}\nprint(p.b);\n"
    );
    std::fs::write(&path, src).expect("write program");
    let run = |profile: &str| {
        let out = Command::new(DP)
            .arg(&path)
            .env("NO_COLOR", "1")
            .env("DP_JIT_PROFILE", profile)
            .output()
            .expect("run dp");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (text(&out.stdout), text(&out.stderr))
    };
    let (plain_out, plain_err) = run("0");
    let (out, err) = run("1");
    // The program's own output is unchanged; the table goes to stderr.
    assert_eq!(out, plain_out);
    assert_eq!(plain_err, "");
    let mut lines = err.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("jit profile of `step`: 4 runs, "), "{err}");
    assert!(lines.next().unwrap_or_default().contains("us/run"), "{err}");
    let rows: Vec<&str> = lines.collect();
    let steps: usize = header
        .split(", ")
        .find_map(|part| part.strip_suffix(" steps (DP_JIT_PROFILE)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(rows.len(), steps, "{err}");
    // The forward tanh of the loss (line 1) is a step of its own or part of a fused one.
    assert!(
        rows.iter().any(|r| r.contains("tanh") && r.contains("step.dp:1:")),
        "{err}"
    );
    // Times are numbers, slowest first.
    let times: Vec<f64> = rows
        .iter()
        .map(|r| r.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap_or(-1.0))
        .collect();
    assert!(times.iter().all(|&t| t >= 0.0), "{err}");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{err}");
}

/// A step count kept in the arguments (Adam's `t`) changes every call: the
/// second call traces a plan with the int as an input, which every later
/// call runs, bit for bit as the plain steps compute.
#[test]
fn an_adam_step_count_is_an_input_of_the_plan() {
    let out = run(&[
        "import optim;",
        LOSS,
        DATA,
        "fn step(p, s, x, y) { optim.adam(p, grad(loss)(p, x, y), s, lr=0.01) }",
        "let fast = jit(step);",
        "let p = {w: ones((3,)) * 0.1, b: 0.0}; let s = optim.adam_init(p); let q = p; let r = s;",
        "for i in range(20) { let a = fast(p, s, x, y); p = a[0]; s = a[1]; let b = step(q, r, x, y); q = b[0]; r = b[1]; }",
        "assert(p == q and s == r); print(s.t, type(s.t)); jit_stats(fast)",
    ]);
    assert_eq!(out, "20 int\n{jitted: true, replays: 18, traces: 2}");
}

/// Ints computed from an int input stay ints, meet floats and tensors as
/// plain code has them meet (`as f64`), and convert with `float`; a read of
/// one (`range`, an index, a comparison) makes the plan specific to it.
#[test]
fn int_inputs_compute_as_plain_ints_do() {
    let out = run(&[
        "fn g(x, s) { let t = s.t + 1; ({t: t, u: t * 3 - 1, v: -t}, x * float(t) + x / t + 0.5 ** t + t + t ** 0.5) }",
        "let jg = jit(g); let s = {t: 0, u: 0, v: 0}; let ok = true;",
        "for i in range(6) { let a = jg(ones((2,)), s); let b = g(ones((2,)), s); ok = ok and a == b and type(a[0].u) == \"int\"; s = a[0]; }",
        "print(ok, s); jit_stats(jg)",
    ]);
    assert_eq!(out, "true {t: 6, u: 17, v: -6}\n{jitted: true, replays: 4, traces: 2}");
    let out = run(&[
        "fn h(x, n) { let s = 0.0; for i in range(n) { s = s + x * i; }; (s, n + 1) }",
        "let jh = jit(h); let total = 0.0;",
        "for n in range(5) { let a = jh(2.0, n); assert(a == h(2.0, n)); total = total + a[0]; }",
        "print(total); jit_stats(jh)",
    ]);
    assert_eq!(out, "20.0\n{jitted: true, replays: 0, traces: 5}");
}

/// Keyword arguments' tensors are inputs of the plan, as positional ones are.
#[test]
fn keyword_tensors_are_inputs_of_the_plan() {
    let out = run(&[
        "fn g(x, w=1.0) { sum(x * w) }",
        "let f = jit(g);",
        "let a = 0.0; for i in range(5) { a = a + f(ones((3,)), w=arange(3.0) * float(i)); }",
        "print(a); jit_stats(f)",
    ]);
    assert_eq!(out, "30.0\n{jitted: true, replays: 4, traces: 1}");
}

/// `isnan`, `isinf` and `isfinite` of a tensor are primitives of the plan.
#[test]
fn nan_tests_are_planned() {
    let out = run(&[
        "fn f(x) { (isnan(x), isinf(x), isfinite(x), where(isfinite(x), x, 0.0), isnan(sum(x))) }",
        "let jf = jit(f); let ok = true;",
        "for i in range(4) { let x = tensor([1.0, 0.0 / 0.0, 1.0 / 0.0, -2.0]) * float(i); ok = ok and str(jf(x)) == str(f(x)); }",
        "print(ok); jit_stats(jf)",
    ]);
    assert_eq!(out, "true\n{jitted: true, replays: 3, traces: 1}");
}

/// A plan dropped because a global it reads changed: the note names it.
#[test]
fn a_changing_global_is_named_when_jit_gives_up() {
    let (out, err) = run_file(
        "let scale = 1.0;\n\
         fn f(x) { x * scale }\n\
         let g = jit(f);\n\
         let s = 0.0;\n\
         for i in range(10) { scale = float(i); s = s + g(1.0); }\n\
         print(s);\n",
    );
    assert_eq!(out.trim(), "45.0");
    assert!(
        err.contains("the global `scale` it reads held a different value at each of 8 calls"),
        "{err}"
    );
}

/// Pure builtins that used to read a traced tensor's elements — sorting,
/// arg-extrema along an axis, `.at[]` updates by a traced value,
/// `interp`, keyed `categorical` — are primitives of the plan: one trace,
/// and the answers of plain code for new inputs.
#[test]
fn sorting_searching_updates_and_keyed_draws_are_planned() {
    for body in [
        "(sort(x, axis=1), sort(x, axis=0, descending=true), argsort(x, axis=1))",
        "(argmax(x, axis=1), argmin(x, axis=0, keepdims=true))",
        "x.at[0, 1].set(5.0) + x.at[1].add(x[0]) + x.at[0].mul(x[1])",
        "interp(x, tensor([0.0, 1.0, 5.0]), tensor([0.0, 10.0, 5.0])) + interp(0.5, x[0] ** 2, x[1])",
        "interp(x, tensor([0.0, 1.0, 5.0]), tensor([0.0, 10.0, 5.0]), period=3.0)",
        "categorical(key(3), x, shape=(4, 2))",
    ] {
        let out = run(&[
            &format!("fn f(x) {{ {body} }}"),
            "let jf = jit(f); let ok = true;",
            "for i in range(4) { let x = tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]]) * float(i + 1) - float(i); ok = ok and str(jf(x)) == str(f(x)); }",
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, "true\n{jitted: true, replays: 3, traces: 1}", "{body}");
    }
}

/// Per-example indices inside `jit(vmap(f))` — sorting and arg-extrema of
/// each example, `topk`, `x[idx]` and `take` with indices that differ per
/// example, repeated ones under `grad` (a scatter-add per example) — are
/// steps of the plan: one trace, every later call replayed, and the
/// answers of the unjitted `vmap` bit for bit. (They used to be read, so
/// jit gave up at the first call.)
#[test]
fn per_example_indices_in_a_vmap_inside_jit_are_planned() {
    for body in [
        "x[argsort(x)]",
        "(sort(x, descending=true), argsort(x, descending=true), partition(x, 1), argpartition(x, 2))",
        "topk(x, 2)",
        "(x[argmax(x)] + x[argmin(x)], argmax(x), argmin(x, keepdims=true))",
        "let m = reshape(x, (2, 3)); (argmax(m, axis=1), argmin(m, axis=0, keepdims=true), m[:, argsort(m[0])])",
        "take(x, argsort(x)[:3], 0) + x[argsort(x)[tensor([0, 0, 1])]]",
        "let m = reshape(x, (2, 3)); take(m, argsort(m[1], descending=true), 1) * 2.0",
        "grad(|x| sum(x[argsort(x)][tensor([0, 0, 5, 0])] ** 2))(x)",
        "grad(|x| { let m = reshape(x, (3, 2)); sum(take(m, argmax(m, axis=0), 0) ** 3) })(x)",
        "let i = argsort(x); x.at[i[:2]].add(1.0) + x.at[i[0]].set(0.0)",
    ] {
        let out = run(&[
            &format!("fn f(x) {{ {body} }}"),
            "let jf = jit(vmap(f)); let ok = true;",
            "for k in range(8) { let x = reshape(sin(arange(24.0) * float(k + 1)), (4, 6)); ok = ok and str(jf(x)) == str(vmap(f)(x)); }",
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, "true\n{jitted: true, replays: 7, traces: 1}", "{body}");
    }
    // Per-example index arguments: one plan for every call, and an index out
    // of range fails with the unjitted error once the plan's check fails.
    let out = run(&[
        "let g = vmap(|x, i| (x[i], take(x, i, 0))); let jg = jit(g); let ok = true;",
        "let X = reshape(arange(12.0), (4, 3));",
        "for k in range(6) { let i = tensor([k % 3, (k + 1) % 3, 2, -1 - k % 3]); ok = ok and str(jg(X, i)) == str(g(X, i)); }",
        "print(ok); jit_stats(jg)",
    ]);
    assert_eq!(out, "true\n{jitted: true, replays: 5, traces: 1}");
    let calls = "let X = reshape(arange(6.0), (3, 2));\n\
                 print(g(X, tensor([0, 1, 1]))); print(g(X, tensor([1, -2, 0]))); print(g(X, tensor([1, 2, 0])));\n";
    let jitted = run_file(&format!("fn h(x, i) {{ x[i] }}\nlet g = jit(vmap(h));\n{calls}"));
    let plain = run_file(&format!("fn h(x, i) {{ x[i] }}\nlet g = ((vmap(h)));\n{calls}"));
    assert_eq!(jitted.0, plain.0);
    assert!(plain.1.contains("out of range"), "{}", plain.1);
    assert_eq!(without_paths(&jitted.1), without_paths(&plain.1));
}

/// `x.at[idx]` with a tensor of indices computed from the arguments (or
/// passed in), repeats included, is a step of the plan for every method
/// whose answer does not depend on reading the indices, gradients included:
/// what the derivatives of `.set` and `.mul` need of the repeats is a
/// recorded step (`.set`: which write wins) or guard (`.mul`: whether any
/// repeats). One trace, and plain code's bits for every call.
#[test]
fn at_updates_with_computed_index_tensors_are_planned() {
    for (body, stats) in [
        (
            "sum(x.at[i].add(x[i] * 2.0) ** 2)",
            "{jitted: true, replays: 5, traces: 1}",
        ),
        (
            "sum(x.at[i].set(x[0] * x[i]) ** 2)",
            "{jitted: true, replays: 5, traces: 1}",
        ),
        (
            "sum(x.at[i].max(x[i[::-1]]) ** 2) + sum(x.at[i].min(1.5) * x) + sum(x.at[i].get())",
            "{jitted: true, replays: 5, traces: 1}",
        ),
        (
            "sum(x.at[argsort(x)[:2]].subtract(x[:2]) ** 2)",
            "{jitted: true, replays: 5, traces: 1}",
        ),
        (
            "sum(x.at[i].mul(3.0) ** 2) + sum(x.at[i[:1]].mul(x[1]))",
            "{jitted: true, replays: 5, traces: 1}",
        ),
    ] {
        let out = run(&[
            &format!("fn f(x, i) {{ {body} }} let g = grad(f);"),
            "let jg = jit(g); let ok = true; let x = tensor([1.0, -2.0, 3.0, 0.5]);",
            "for k in range(6) { let i = if k < 3 { tensor([k % 4, (k + 2) % 4, 3]) } else { tensor([k % 4, k % 4, 1]) }; \
             let a = str(jg(x * float(k + 1), i)); let b = str(g(x * float(k + 1), i)); ok = ok and a == b; }",
            "print(ok); jit_stats(jg)",
        ]);
        assert_eq!(out, format!("true\n{stats}"), "{body}");
    }
    // `.mul`'s derivative in `v` is an error where an index repeats: whether
    // one does is a guard, so a call with repeats fails as plain code does.
    let calls = "let x = tensor([1.0, -2.0, 3.0]);\n\
                 print(g(x, tensor([0, 2]))); print(g(x * 2.0, tensor([2, 1]))); print(g(x, tensor([1, 1])));\n";
    let f = "fn f(x, i) { sum(x.at[i].mul(x[1] * 3.0) ** 2) }";
    let jitted = run_file(&format!("{f}\nlet g = jit(grad(f));\n{calls}"));
    let plain = run_file(&format!("{f}\nlet g = ((grad(f)));\n{calls}"));
    assert_eq!(jitted.0, plain.0);
    assert!(plain.1.contains("distinct indices"), "{}", plain.1);
    assert_eq!(without_paths(&jitted.1), without_paths(&plain.1));
}

/// The derivatives of `.at[i].set(v)` and `.at[i].mul(v)` in `v` with
/// indices that differ per example (`vmap(grad(f))`, plain and jitted): each
/// example's repeats are its own. (`.set` used to take the winning writes
/// of the whole batch at once and failed to reshape them; `.mul` counted an
/// index two examples share as a repeat.)
#[test]
fn at_set_and_mul_gradients_with_per_example_indices_are_per_example() {
    let out = run(&[
        "let X = tensor([1.0, 2.0, 3.0]); let V = tensor([[10.0, 20.0], [30.0, 40.0]]);",
        "let s1 = grad(|v, i| sum(X.at[i].set(v) ** 2)); let m1 = grad(|v, i| sum(X.at[i].mul(v) ** 2));",
        "let s = vmap(s1); let m = vmap(m1); let js = jit(s); let jm = jit(m); let ok = true;",
        "for i in (tensor([[0, 1], [1, 2]]), tensor([[0, 0], [1, 1]]), tensor([[2, 1], [1, 1]])) { \
           let each = stack((s1(V[0], i[0]), s1(V[1], i[1]))); ok = ok and str(s(V, i)) == str(each) and str(js(V, i)) == str(each); }",
        "for i in (tensor([[0, 1], [1, 2]]), tensor([[1, 0], [1, 0]]), tensor([[2, 0], [2, 1]])) { \
           let each = stack((m1(V[0], i[0]), m1(V[1], i[1]))); ok = ok and str(m(V, i)) == str(each) and str(jm(V, i)) == str(each); }",
        "print(ok, jit_stats(js), jit_stats(jm))",
    ]);
    assert_eq!(
        out,
        "true {jitted: true, replays: 2, traces: 1} {jitted: true, replays: 2, traces: 1}"
    );
}

/// Piecewise-constant parts of library functions that used to be read from
/// a traced tensor (so jit gave up) are steps or guards of the plan: `lu`'s
/// permutation and `slogdet`'s sign are recorded; `expm`'s Padé degree and
/// squarings, and whether `prod`'s gradient meets a zero, are guards, so a
/// new plan is traced only when they change, and each call gives plain
/// code's bits (the gradient of `prod` through a zero included).
#[test]
fn piecewise_constant_parts_of_linalg_and_prod_are_planned() {
    for (body, args, stats) in [
        (
            "(lu(x)[0], lu(x)[2], slogdet(x))",
            ["x", "x[::-1]", "-x", "x * 2.0"],
            "{jitted: true, replays: 3, traces: 1}",
        ),
        // Degree 13 with 3, 3, 3 and 4 squarings: the fourth retraces.
        (
            "expm(x)",
            ["x * 3.0", "x * 3.5", "x * -3.0", "x * 20.0"],
            "{jitted: true, replays: 2, traces: 2}",
        ),
        // Zeros, zeros elsewhere, none, none: two plans.
        (
            "grad(|x| sum(prod(x, axis=0)))(x)",
            [
                "x * 0.0 + tensor([[0.0, 1.0], [2.0, 3.0]])",
                "x * 0.0 + tensor([[1.0, 0.0], [2.0, 0.0]])",
                "x + 10.0",
                "x * 2.0 + 10.0",
            ],
            "{jitted: true, replays: 2, traces: 2}",
        ),
    ] {
        let calls: Vec<String> = args
            .iter()
            .map(|a| format!("let y = {a}; ok = ok and str(jf(y)) == str(f(y)) and str(jv(stack((y, y * 0.5)))) == str(vmap(f)(stack((y, y * 0.5))));"))
            .collect();
        let out = run(&[
            &format!("fn f(x) {{ {body} }}"),
            "let jf = jit(f); let jv = jit(vmap(f)); let ok = true; let x = tensor([[1.0, 2.0], [3.0, -0.5]]);",
            &calls.join(" "),
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, format!("true\n{stats}"), "{body}");
    }
}

/// Inputs of the library sweep: `mk(k, n)`, the `k`th call's argument of
/// size `n` for each kind, and `s(t)`, a scalar of every leaf of a result
/// (for `grad`).
const LIB_SETUP: &str = "import nn; import losses; import optim;\
    fn mat(k, n) { reshape(sin(arange(float(n * 4)) * (float(k) + 1.3)) * 2.0, (n, 4)) }\
    fn sq(k, n) { let a = reshape(sin(arange(float(n * n)) * (float(k) + 1.3)), (n, n)); a @ transpose(a) + eye(n) }\
    fn img(k, n) { reshape(sin(arange(float(2 * (n + 1) * (n + 1))) * (float(k) + 1.3)), (1, 2, n + 1, n + 1)) }\
    fn s(t) { let a = 0.0; for l in tree_leaves(t) { a = a + sum(sin(l * 1.3)); }; a }\
    let W2 = reshape(cos(arange(36.0)), (2, 2, 3, 3)); let W1 = reshape(cos(arange(12.0)), (2, 2, 3));";

/// The library functions users call in models, each with the kind of its
/// argument (`mat`: `(n, 4)`, `sq`: a symmetric positive definite `(n, n)`,
/// `img`: `(1, 2, n + 1, n + 1)`) and whether `grad` and `vmap` of it are
/// checked too.
const LIB: &[(&str, &str, bool, bool)] = &[
    ("softmax(x) + log_softmax(x, axis=0)", "mat", true, true),
    ("logsumexp(x, axis=1)", "mat", true, true),
    ("cross_entropy(x, argmax(x * -1.0, axis=1))", "mat", true, false),
    (
        "losses.cross_entropy(x, softmax(x * 2.0)) + losses.huber(x, x * 0.5) + losses.bce_with_logits(x, x > 0.0)",
        "mat",
        true,
        true,
    ),
    ("one_hot(argmax(x, axis=-1), 4) * x", "mat", true, true),
    ("nn.layer_norm(x, gamma=2.0, beta=0.5)", "mat", true, true),
    ("clip(x, -0.5, 0.5) + where(x > 0.0, x, x * 0.1)", "mat", true, true),
    (
        "(cumsum(x, axis=1), cumprod(x, axis=0), diff(x, axis=-1))",
        "mat",
        true,
        true,
    ),
    (
        "(sort(x), sort(x, axis=0, descending=true), argsort(x, axis=0))",
        "mat",
        true,
        true,
    ),
    ("topk(x, 2)", "mat", true, true),
    ("x[argsort(x[:, 0])] + x[:, argmax(x[0])][0]", "mat", true, true),
    (
        "x.at[:, argmin(x[-1])].set(0.0) + x.at[argmax(x[:, 1])].add(x[0])",
        "mat",
        true,
        true,
    ),
    (
        "interp(x, tensor([-1.0, 0.0, 2.0]), tensor([0.0, 1.0, 5.0]))",
        "mat",
        true,
        true,
    ),
    (
        "einsum(\"ij,kj->ik\", x, x) + einsum(\"ij->j\", x)[0]",
        "mat",
        true,
        true,
    ),
    ("tree_map(|a| a * 2.0 + 1.0, {a: x, b: (x[0], 1.0)})", "mat", true, true),
    (
        "(var(x, axis=0), std(x, axis=1), prod(x, axis=0), max(x, axis=1), min(x), mean(x))",
        "mat",
        true,
        true,
    ),
    ("(norm(x), norm(x, axis=1))", "mat", true, true),
    (
        "gelu(x) + silu(x) + elu(x) + leaky_relu(x) + log_sigmoid(x) + softplus(x) + logaddexp(x, x * 0.5)",
        "mat",
        true,
        true,
    ),
    (
        "roll(x, 1, axis=1) + flip(x, axis=0) * tril(x) - triu(x, 1)",
        "mat",
        true,
        true,
    ),
    ("pinv(x)", "mat", true, false),
    ("(solve(x, x[0]), inv(x), det(x), slogdet(x))", "sq", true, true),
    (
        "(cholesky(x), eigvalsh(x), matrix_power(x, 3), expm(x * 0.02))",
        "sq",
        true,
        true,
    ),
    ("(qr(x), eigh(x), svd(x))", "sq", true, true),
    ("lu(x)", "sq", true, true),
    ("lstsq(x, x[:, 0])", "sq", true, false),
    (
        "(conv2d(x, W2, padding=1), max_pool2d(x, 2), avg_pool2d(x, 2, stride=1))",
        "img",
        true,
        true,
    ),
    (
        "(conv1d(x[0, :, 0], W1, stride=2), max_pool1d(x[0], 2), avg_pool1d(x[0], 2))",
        "img",
        true,
        true,
    ),
    ("(max_pool2d(x, 2, padding=1), avg_pool2d(x, 3, padding=1), conv2d(x, W2, stride=2))", "img", true, true),
    ("nn.attention(x, x * 0.5, x + 1.0, causal=true) + nn.attention(x, x, x, mask=(x @ x.T) > 0.0)", "mat", true, true),
    ("nn.batch_norm(x, nn.batch_norm_init(4))", "mat", true, false),
    ("optim.clip_by_global_norm({a: x, b: x[0]}, 1.0)", "mat", true, false),
    ("losses.kl_div(log_softmax(x), softmax(x * 0.5)) + losses.nll(log_softmax(x), argmax(x, axis=1)) + losses.hinge(x, sign(x))", "mat", true, true),
    ("(tensordot(x, x, axes=((1,), (1,))), kron(x[:2, :2], x[:1]), cross(x[:, :3], x[::-1, :3]))", "mat", true, true),
    ("(diagonal(x), tile(x, (2, 1)), repeat(x, 2, axis=0), pad(x, 1), moveaxis(x, 0, 1), hstack((x, x)))", "mat", true, true),
    ("(nanmax(x, axis=0), nansum(x), nanmean(x, axis=1), round(x), floor(x), x % 0.7, x // 0.7)", "mat", true, true),
    ("(log10(abs(x) + 1.0), exp2(x), hypot(x, 1.0), sinc(x), erf(x), lgamma(abs(x) + 0.5), digamma(abs(x) + 0.5))", "mat", true, true),
    ("(matrix_trace(x), svdvals(x), norm(x, ord=\"fro\"), inv(x) @ x)", "sq", true, true),
    // Tests: `isclose` is recorded, `allclose`'s one bool a guard.
    ("(isclose(x, x * 1.0001), isclose(x[0], 0.5, atol=0.6), allclose(x, x + 1e-9), allclose(x[0, 0], x[0, 0]))", "mat", false, false),
];

/// Differential sweep of the library under jit: each function of `LIB`,
/// plain, jitted, and as `jit(grad(...))` and `jit(vmap(...))`, over calls
/// with changing values and once a changed shape, prints exactly what the
/// unjitted calls print, and every jitted form replays its plans (none
/// falls back to running without jit, or retraces per value).
#[test]
fn library_functions_under_jit_match_plain_calls() {
    let calls = [(0, 3), (1, 3), (2, 3), (3, 4), (4, 3), (5, 4)];
    for &(body, kind, grad, vmap) in LIB {
        let mut r = Repl::new();
        let defs = format!(
            "{LIB_SETUP} fn f(x) {{ {body} }} let jf = jit(f); \
             let g = grad(|x| s(f(x))); let jg = jit(g); let v = vmap(f); let jv = jit(v);"
        );
        assert!(r.out(&defs).1, "{defs}");
        let mut forms = vec![("jf", "f")];
        if grad {
            forms.push(("jg", "g"));
        }
        if vmap {
            forms.push(("jv", "v"));
        }
        for &(k, n) in &calls {
            for &(jitted, plain) in &forms {
                let arg = if plain == "v" {
                    format!("stack(({kind}({k}, {n}), {kind}({}, {n})))", k + 7)
                } else {
                    format!("{kind}({k}, {n})")
                };
                r.agree(jitted, plain, &arg, &format!("{plain}: {body} on {kind}({k}, {n})"));
            }
        }
        for &(jitted, plain) in &forms {
            let (stats, _) = r.out(&format!("print(jit_stats({jitted}))"));
            assert_eq!(stats.trim(), "{jitted: true, replays: 4, traces: 2}", "{plain}: {body}");
        }
    }
}

/// A fresh key each call (`fold_in(key0, i)`, the canonical JAX loop) is an
/// input of the plan after one more trace: 20 calls trace twice, and the
/// plan draws exactly what the unjitted step draws.
#[test]
fn a_fresh_key_each_step_is_an_input_of_the_plan() {
    let out = run(&[
        "fn step(w, k) { let noise = normal(k, (4,)); sum((w + 0.1 * noise) ** 2) }",
        "let js = jit(step); let key0 = key(0); let a = (); let b = ();",
        "for i in range(20) { a = a + (js(ones((4,)), fold_in(key0, i)),); b = b + (step(ones((4,)), fold_in(key0, i)),); }",
        "print(str(a) == str(b), a[19] != a[18]); jit_stats(js)",
    ]);
    assert_eq!(out, "true true\n{jitted: true, replays: 18, traces: 2}");
}

/// A key carried through the step (`(params, key) -> (params, key)` with
/// `split`) comes out of the plan as a real key, and dropout-style draws
/// (`bernoulli`, `uniform`, `randint`, `permutation`, `choice`,
/// `categorical`) from it match the unjitted loop.
#[test]
fn a_key_carried_through_split_comes_out_as_a_key() {
    let out = run(&[
        "import random;",
        "fn step(w, k) { let (k, sub) = random.split(k); let (s1, s2) = random.split(sub); \
         let mask = bernoulli(s1, 0.8, (5,)); \
         let w2 = w * mask / 0.8 + uniform(s2, (5,), lo=-0.1, hi=0.1) \
           + take(w, random.permutation(s1, 5)) + take(w, choice(s2, 5, (5,), replace=false)) \
           + random.randint(s1, (5,), 0, 3) + categorical(s2, -w); (w2 * 0.5, k) }",
        "let js = jit(step); let w = arange(5.0); let k = key(3); let v = w; let kk = k; let ok = true;",
        "for i in range(20) { let a = js(w, k); let b = step(v, kk); w = a[0]; k = a[1]; v = b[0]; kk = b[1]; \
         ok = ok and str(w) == str(v) and k == kk and type(k) == \"key\"; }",
        "print(ok, k == kk, k); jit_stats(js)",
    ]);
    let (first, stats) = out.split_once('\n').expect("two lines");
    assert!(first.starts_with("true true key("), "{out}");
    assert_eq!(stats, "{jitted: true, replays: 18, traces: 2}");
}

/// The gradient of a loss with a dropout mask drawn from a key input, taken
/// inside the jitted step, and `grad` of a jitted function that takes a key
/// (keys have no gradient) give what plain code gives.
#[test]
fn grad_with_key_inputs_matches_plain_code() {
    let out = run(&[
        "fn loss(w, k) { let m = bernoulli(k, 0.5, shape(w)); sum((w * m) ** 2) + sum(w * normal(k, shape(w))) }",
        "fn step(w, k) { w - 0.1 * grad(loss)(w, k) }",
        "let js = jit(step); let w = ones((6,)); let v = w; let ok = true;",
        "for i in range(10) { let k = fold_in(key(9), i); w = js(w, k); v = step(v, k); ok = ok and str(w) == str(v); }",
        "let jl = jit(loss); let g = grad(jl)(ones((3,)), key(2)); jl(ones((3,)), key(2)); jl(ones((3,)), key(4));",
        "print(ok, jit_stats(js)); \
         str(g) == str(grad(loss)(ones((3,)), key(2))) and jl(ones((3,)), key(5)) == loss(ones((3,)), key(5))",
    ]);
    assert_eq!(out, "true {jitted: true, replays: 8, traces: 2}\ntrue");
}

/// Keys split from a key input and batched into `vmap` (per-example noise
/// or dropout, JAX's `vmap(f)(split(key, n))`) stay inputs of the plan:
/// fresh keys each step replay it and draw what the unjitted step draws,
/// also under a `grad`. A vmapped function that reads its key still gets
/// plain answers (the plan is then for one key, as for any such read).
#[test]
fn keys_batched_into_vmap_stay_inputs_of_the_plan() {
    let out = run(&[
        "fn step(w, k) { let ks = key_split(k, 4); \
           let noise = vmap(|kk, x| x * bernoulli(kk, 0.5, (3,)) + normal(kk, (3,)))(ks, ones((4, 3))); \
           w - 0.1 * grad(|w| sum(w * noise))(w) }",
        "fn reads(w, k) { sum(vmap(|kk| normal(kk, (2,)) + float(len(str(kk))))(key_split(k, 3))) + sum(w) }",
        "let js = jit(step); let jr = jit(reads); let w = ones((4, 3)); let v = w; let ok = true;",
        "for i in range(12) { let k = fold_in(key(5), i); w = js(w, k); v = step(v, k); \
           ok = ok and str(w) == str(v) and jr(w, k) == reads(w, k); }",
        "print(ok); print(jit_stats(js)); jit_stats(jr)[\"traces\"] > 1",
    ]);
    assert_eq!(out, "true\n{jitted: true, replays: 10, traces: 2}\ntrue");
}

/// Keys and ints that are inputs of a plan pass through a jitted function
/// called inside the traced step (which is then part of the trace) as
/// they pass through plain code: the plan replays for new values.
#[test]
fn key_and_int_inputs_pass_through_a_nested_jit() {
    let out = run(&[
        "fn inner(w, k, n) { sum(w * normal(k, shape(w))) * float(n) + float(n * 2) }",
        "let ji = jit(inner);",
        "fn step(w, k, n) { ji(w, k, n) + jvp(|w| inner(w, k, n), (w,), (ones(shape(w)),))[1] }",
        "let js = jit(step); let w = ones((3,)); let ok = true;",
        "for i in range(12) { let k = fold_in(key(5), i); ok = ok and js(w, k, i) == step(w, k, i); }",
        "print(ok); jit_stats(js)",
    ]);
    assert_eq!(out, "true\n{jitted: true, replays: 10, traces: 2}");
}

/// `x.at[i]` with `mode="clip"` or `"drop"` (and `.get` with a fill value)
/// of an int input `i` is a step of the plan: indices in range, negative
/// (counted from the end or not) and past the end all replay one plan and
/// give exactly what plain code gives.
#[test]
fn clip_and_drop_updates_of_an_int_input_replay_one_plan() {
    let methods = [
        "x.at[i].set(5.0, mode=\"clip\")",
        "x.at[i].add(1.0, mode=\"drop\")",
        "x.at[i, 1:].mul(3.0, mode=\"drop\", wrap_negative_indices=false)",
        "x.at[i].get(mode=\"fill\", fill_value=-7.0)",
        "x.at[1, i].max(9.0, mode=\"clip\", wrap_negative_indices=false)",
        "x.at[i].apply(|v| v * 2.0 + 1.0, mode=\"clip\")",
    ];
    for m in methods {
        let out = run(&[
            &format!("fn f(x, i) {{ {m} }}"),
            "let jf = jit(f); let x = reshape(arange(12.0), (4, 3)); let ok = true;",
            "for i in range(12) { ok = ok and str(jf(x, i - 5)) == str(f(x, i - 5)); }",
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, "true\n{jitted: true, replays: 10, traces: 2}", "{m}");
    }
    // `.apply` with `"drop"` reads the index (a plan per value): a plan traced
    // for a dropped index must not serve one in range.
    let out = run(&[
        "fn f(x, i) { x.at[i].apply(|v| v * 2.0 + 1.0, mode=\"drop\") }",
        "let jf = jit(f); let x = arange(4.0); let ok = true;",
        "for i in (0, 9, 1, 2, -9, 3) { ok = ok and str(jf(x, i)) == str(f(x, i)); }",
        "ok",
    ]);
    assert_eq!(out, "true");
}

/// A use of a key input the plan cannot repeat for a new key (here
/// formatting it) makes each plan specific to one key: the answers stay
/// those of plain code, and when jit gives up the note says it was the key.
#[test]
fn a_key_used_other_than_to_draw_keeps_plain_answers_and_is_named() {
    let (out, err) = run_file(
        "fn f(x, k) { x + float(len(str(k))) + normal(k) }\n\
         let g = jit(f);\n\
         let ok = true;\n\
         for i in range(12) { let k = fold_in(key(1), i); ok = ok and g(1.0, k) == f(1.0, k); }\n\
         print(ok, jit_stats(g));\n",
    );
    assert_eq!(out.trim(), "true {jitted: false, replays: 0, traces: 9}");
    assert!(err.contains("the random key it uses at"), "{err}");
    assert!(err.contains("was a different one at each of 8 calls"), "{err}");
}

/// The same keys again reuse the plans traced for them; the global
/// generator (`seed`, keyless draws) still gives up on jit, in order.
#[test]
fn keyless_draws_still_run_unjitted_in_order() {
    let out = run(&[
        "fn f(x, k) { x + normal(k) + randn() }",
        "let g = jit(f); seed(0); let a = (); for i in range(4) { a = a + (g(0.0, key(i)),); }",
        "seed(0); let b = (); for i in range(4) { b = b + (f(0.0, key(i)),); }",
        "print(a == b); jit_stats(g).jitted",
    ]);
    assert_eq!(out, "true\nfalse");
}

/// CSE merges constants only when their bits agree: `x * [0.0]` and
/// `x * [-0.0]` are different nodes (merged, the second product's zero lost
/// its sign on every replay).
#[test]
fn constants_equal_as_numbers_but_not_in_bits_stay_apart() {
    let out = run(&[
        "fn f(x) { (x * tensor([0.0, 1.0]), x * tensor([-0.0, 1.0])) }",
        "let jf = jit(f);",
        "let got = (); for i in range(3) { got = append(got, jf(tensor([2.0, 3.0]) * (1.0 + i))); }",
        "(got[2], f(tensor([6.0, 9.0])))",
    ]);
    assert_eq!(out, "(([0.0, 9.0], [-0.0, 9.0]), ([0.0, 9.0], [-0.0, 9.0]))");
}

/// Many distinct constants of one shape (the rows of an identity matrix, one
/// per `jvp`) each get their own node, and the plan gives what plain calls give.
#[test]
fn many_distinct_constants_of_one_shape_stay_distinct() {
    let out = run(&[
        "fn f(x) { sum(sin(x) * x) }",
        "fn by_jvp(x) { let b = eye(shape(x)[0]); let cols = (); for i in range(shape(x)[0]) { cols = append(cols, jvp(f, (x,), (b[i],))[1]); } tensor(cols) }",
        "let x = linspace(0.0, 1.0, 200); let j = jit(by_jvp);",
        "j(x); (all(j(x * 0.5) == by_jvp(x * 0.5)), jit_stats(j).replays)",
    ]);
    assert_eq!(out, "(true, 1)");
}

/// Every simplification a plan makes keeps IEEE values bit for bit: `x + 0.0`
/// is `0.0` where `x` is `-0.0`, so it stays; `x - 0.0`, `x * 1`, `x / 1`
/// and the rest are `x` for every `x`, signed zeros, infinities and NaN included.
#[test]
fn simplified_plans_keep_signed_zeros_infinities_and_nans() {
    let out = run(&[
        "fn f(x) { (x + 0.0, 0.0 + x, x + zeros((3,)), x + -0.0, x - 0.0, x - -0.0, x * 0.0, x * 1.0, x / 1.0, x * -1.0, x ** 1.0, -(-x), 0.0 - x, x - x, x + x * 0.0) }",
        "let x = tensor([-0.0, -inf, nan]); let jf = jit(f);",
        "for i in range(3) { jf(x); }",
        "let a = jf(x); let b = f(x);",
        "(jit_stats(jf).replays, format(\"{}\", a) == format(\"{}\", b))",
    ]);
    assert_eq!(out, "(3, true)");
}

/// A `vmap` inside a jitted function: masks, shifts and indices that
/// builtins keep out of differentiation (`where`'s condition,
/// `logsumexp`'s shift, `any`/`all`, `stop_gradient`)
/// stay batched, so each example uses its own. (They lost their batch to
/// the trace: `where(x > 0.5, x, 0.0)` broadcast the whole batch's mask
/// against each example, a result of shape (2, 2, 3) for (2, 3).)
#[test]
fn masks_and_shifts_in_a_vmap_inside_jit_stay_per_example() {
    for body in [
        "where(x > 0.5, x, 0.0)",
        "logsumexp(x) + logsumexp(stack((x, x * 2.0)), axis=0)",
        "logaddexp(x, 1.0 - x)",
        "(any(x > 0.0), all(x > -0.7), count_nonzero(x))",
        "where(stop_gradient(x) > 0.0, x, -x)",
        "stop_gradient(x) * x + nansum(x)",
        "isclose(x, tensor([0.0, -0.5, nan]), equal_nan=true)",
    ] {
        let out = run(&[
            &format!("fn f(x) {{ {body} }}"),
            "let jf = jit(vmap(f)); let ok = true;",
            "for k in range(4) { let a = stack((tensor([0.0, 0.5, 2.5]), tensor([-1.0, -0.5, nan]))) * float(k - 1); \
             ok = ok and str(jf(a)) == str(vmap(f)(a)); }",
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, "true\n{jitted: true, replays: 3, traces: 1}", "{body}");
    }
}

/// A plan replayed on an empty tensor: whole reductions of a fused chain
/// over no elements (`var` of shape (0,): `mean((x - mean(x)) ** 2)`) give
/// `nan` as plain code does, and the sum of a product with row 1 of an empty
/// stack is 0 (the replay divided by the length 0, or sliced past the end
/// of the empty buffer, and failed).
#[test]
fn plans_replay_on_empty_tensors() {
    let out = run(&[
        "fn f(x) { (x + var(x), std(x), mean(reshape(x, (0, 2)) - 1.0, axis=0), sum(x * stack((x, x * 0.5))[1])) }",
        "let jf = jit(f); let ok = true;",
        "for k in range(3) { ok = ok and str(jf(zeros((0,)))) == str(f(zeros((0,)))); }",
        "print(ok, jf(zeros((0,)))); jit_stats(jf)",
    ]);
    assert_eq!(
        out,
        "true ([], nan, [nan, nan], 0.0)\n{jitted: true, replays: 3, traces: 1}"
    );
}

/// Int arithmetic on a plan's int inputs overflows as plain code does even
/// where its result goes unused: dead-code elimination keeps it (it dropped
/// `let u = n * big;`, and the plan answered where plain code fails); and
/// the report names every call on the way, as plain code's does (the plan's
/// own error named only the jitted function's call).
#[test]
fn unused_int_arithmetic_still_overflows_in_a_plan() {
    for body in [
        "let u = float(n * 4611686018427387904); x * 2.0",
        "let u = -9223372036854775807 - n; x",
        // Inside a call `f` makes: the report names both calls.
        "x + float(inner(n))",
    ] {
        let src = format!(
            "fn inner(n) {{ n * 4611686018427387904 }}\nfn f(x, n) {{ {body} }}\nlet g = ((F));\nprint(g(1.0, 0), g(1.0, 1), g(1.0, 0));\nprint(g(1.0, 0));\nprint(g(1.0, 2));\n"
        );
        let jitted = run_file(&src.replace("((F))", "jit(f)"));
        let plain = run_file(&src.replace("((F))", "(((f)))"));
        assert_eq!(jitted.0, plain.0, "{body}");
        assert!(plain.1.contains("integer overflow"), "{}", plain.1);
        assert_eq!(without_paths(&jitted.1), without_paths(&plain.1), "{body}");
    }
}

mod common;
use common::Gen;

/// Hostile element values: signed zeros, infinities, NaN, subnormals, and
/// magnitudes where exp over- and underflows.
const HOSTILE: &[&str] = &[
    "-0.0", "0.0", "1.0", "-1.0", "2.5", "-3.75", "0.1", "1e300", "-1e-310", "inf", "-inf", "nan", "700.0", "-745.0",
];

/// A random elementwise/broadcast/reduction expression over `a` (3, 4) and
/// `b` (of `b`'s shape), `depth` levels deep.
fn expr(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.below(5) == 0 {
        return match g.below(4) {
            0 | 1 => "a".to_string(),
            2 => "b".to_string(),
            _ => format!("({})", g.pick(HOSTILE)),
        };
    }
    let x = expr(g, depth - 1);
    match g.below(30) {
        0 => format!("-({x})"),
        1 => format!("exp({x})"),
        2 => format!("log({x})"),
        3 => format!("sqrt({x})"),
        4 => format!("abs({x})"),
        5 => format!("tanh({x})"),
        6 => format!("sin({x})"),
        7 => format!("sigmoid({x})"),
        8 => format!("relu({x})"),
        9 => format!("floor({x})"),
        10 => format!("({x}) ** 2"),
        11 => format!("1.0 / ({x})"),
        12 => format!("sum(({x}) + zeros((3, 4)), axis=-1, keepdims=true)"),
        13 => format!("max(({x}) + zeros((3, 4)), axis=0, keepdims=true)"),
        14 => format!("mean({x})"),
        15 => format!("(({x}) + zeros((3, 4))) @ reshape(cos(arange(16.0)), (4, 4))"),
        16 => format!("softmax(({x}) + zeros((3, 4)), axis=-1)"),
        17 => format!("cumsum(({x}) + zeros((3, 4)), axis=1)"),
        18 => format!("reshape(transpose(({x}) + zeros((3, 4))), (3, 4))"),
        19 => format!("clip({x}, -1.0, 2.0)"),
        // (A scalar bool is a guard by design: conditions are kept tensors.)
        20 => format!("where(isnan(({x}) + zeros((3, 4))), 0.0, {x})"),
        21 => format!("logsumexp(({x}) + zeros((3, 4)), axis=0)"),
        _ => {
            let y = expr(g, depth - 1);
            match g.below(8) {
                0 => format!("({x}) + ({y})"),
                1 => format!("({x}) - ({y})"),
                2 => format!("({x}) * ({y})"),
                3 => format!("({x}) / ({y})"),
                4 => format!("maximum({x}, {y})"),
                5 => format!("minimum({x}, {y})"),
                6 => format!("where(({x}) + zeros((3, 4)) > ({y}), {x}, {y})"),
                _ => format!("({x}) * ({y}) + ({x})"),
            }
        }
    }
}

/// A tensor literal of `shape` with hostile elements.
fn hostile_tensor(g: &mut Gen, shape: &[usize]) -> String {
    let n: usize = shape.iter().product();
    let elems: Vec<&str> = (0..n).map(|_| g.pick(HOSTILE)).collect();
    let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("reshape(tensor([{}]), ({},))", elems.join(", "), shape.join(", "))
}

/// Differential test of the whole jit pipeline (trace, fold, simplify, CSE,
/// DCE, fusion, replay): random expressions over hostile values give, from a
/// replayed plan, exactly what plain calls give, printed digit for digit
/// (signed zeros and NaN included), or the same kind of failure.
/// Found by the random-program generator (seed 2204): the cotangent of
/// `.at[i]` with a traced index went through a slice's adjoint that added
/// into zeros, turning a -0.0 into 0.0, so `jit(grad(f))` printed `-0.0`
/// where `grad(f)` printed `0.0`.
#[test]
fn a_traced_index_keeps_the_sign_of_a_zero_cotangent() {
    let setup = [
        "let W = tensor([-0.0, 1.0, 1.0])",
        "fn f(x) { sum(x.at[argmin(x)].mul(-2.0) * W) }",
        "let X = tensor([-2.0, -1.0, 2.5])",
    ];
    let out = run(&[
        setup[0],
        setup[1],
        setup[2],
        "print(grad(f)(X), jit(grad(f))(X), jit(grad(f))(X))",
    ]);
    assert_eq!(out, "[0.0, 1.0, 1.0] [0.0, 1.0, 1.0] [0.0, 1.0, 1.0]");
    // A slice's cotangent keeps a -0.0 where the slice reads (as JAX's pad).
    let out = run(&["print(grad(|x| sum(x[1:] * tensor([-0.0, 1.0])))(tensor([1.0, 2.0, 3.0])))"]);
    assert_eq!(out, "[0.0, -0.0, 1.0]");
    // Indexing by a computed int is a `take` under jit: its adjoint keeps a
    // lone -0.0 as plain indexing's does (seed 2298 of
    // `random_programs_with_control_flow_and_compositions_match_plain_calls`).
    let out = run(&[
        "fn f(x, y) { sum(minimum(y, x[argmax(x)]) * y) }",
        "let X = tensor([3.0, -2.0, 1.0])",
        "print(grad(f)(X, -3.75), jit(grad(f))(X, -3.75), jit(grad(f))(X, -3.75))",
    ]);
    assert_eq!(out, "[-0.0, 0.0, 0.0] [-0.0, 0.0, 0.0] [-0.0, 0.0, 0.0]");
    // Repeated indices still accumulate.
    let out =
        run(&["print(jit(grad(|x, i| sum(x[tensor([i, i, 0])] * tensor([5.0, 2.0, 3.0]))))(tensor([1.0, 2.0]), 1))"]);
    assert_eq!(out, "[3.0, 7.0]");
}

/// The seed and case count of a random-program test: its own, unless
/// `JIT_FUZZ_SEED` and `JIT_FUZZ_CASES` ask by hand for other programs, and
/// more. The given seed is mixed with the test's `salt` (so that one seed
/// gives each test other programs; the control-flow test's salt is 0, which
/// keeps the seeds named in earlier fixes reproducible).
fn fuzz_knobs(own_seed: u64, salt: u64, own_cases: usize) -> (u64, usize) {
    let knob = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = knob("JIT_FUZZ_SEED").map_or(own_seed, |s| s ^ salt);
    let cases = knob("JIT_FUZZ_CASES").map_or(own_cases, |c| c as usize);
    (seed, cases)
}

#[test]
fn random_programs_on_hostile_values_replay_exactly() {
    let b_shapes: [&[usize]; 4] = [&[3, 4], &[4], &[3, 1], &[1, 4]];
    let (seed, cases) = fuzz_knobs(0x005e_ed0f_d1ff, 0x005e_ed0f_d1ff, 1000);
    let mut g = Gen(seed);
    for case in 0..cases {
        let e = expr(&mut g, 4);
        let bs = b_shapes[g.below(b_shapes.len())];
        let args: Vec<String> = (0..3)
            .map(|_| format!("({}, {})", hostile_tensor(&mut g, &[3, 4]), hostile_tensor(&mut g, bs)))
            .collect();
        let mut r = Repl::new();
        let setup = format!(
            "fn f(a, b) {{ {e} }}; let jf = jit(f); let xs = ({}, {}, {});",
            args[0], args[1], args[2]
        );
        assert!(r.out(&setup).1, "case {case}: {setup}");
        // Two calls trace and start replaying; the third replays.
        r.out("jf(xs[0][0], xs[0][1]); jf(xs[1][0], xs[1][1]);");
        let last = "xs[2][0], xs[2][1]";
        if r.agree("jf", "f", last, &format!("case {case}: {setup}")) {
            let stats = r.out("print(jit_stats(jf))").0;
            assert!(
                stats.contains("replays: 2"),
                "case {case}: the plan did not replay: {stats}\n{setup}"
            );
        }
        // The extended graph too: the gradient of the summed result.
        r.out("let gf = grad(|a, b| sum(f(a, b)), argnums=(0, 1)); let jg = jit(gf);");
        r.out("jg(xs[0][0], xs[0][1]); jg(xs[1][0], xs[1][1]);");
        r.agree("jg", "gf", last, &format!("case {case} (gradient): {setup}"));
    }
}

/// A REPL session for the differential tests, its printed output captured.
struct Repl {
    session: dp::repl::Session,
    cap: dp::SharedBuffer,
}

impl Repl {
    fn new() -> Repl {
        let cap = dp::SharedBuffer::default();
        let session = dp::repl::Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
        Repl { session, cap }
    }

    /// What `entry` printed (and echoed), and whether it succeeded.
    fn out(&mut self, entry: &str) -> (String, bool) {
        let r = self.session.eval_entry(entry);
        (self.cap.take() + &r.stdout, r.stderr.is_empty())
    }

    /// Prints `jitted(args)` and `plain(args)`: the same text, and both
    /// fail or neither. Returns whether the plain call succeeded.
    fn agree(&mut self, jitted: &str, plain: &str, args: &str, what: &str) -> bool {
        let (j, j_ok) = self.out(&format!("print({jitted}({args}))"));
        let (p, p_ok) = self.out(&format!("print({plain}({args}))"));
        assert_eq!(j, p, "{what}");
        assert_eq!(j_ok, p_ok, "{what}");
        p_ok
    }
}

/// Indices computed from the arguments — `argmax`/`argmin` without an axis
/// (an int, as plain code gives), `x[i]`, `x[i, j]`, `x[i, :]` and
/// `x.at[i]` with such an `i` — are steps of the plan: one trace, no note,
/// and for new values the answers of plain code bit for bit, derivatives
/// included.
#[test]
fn computed_indices_are_planned() {
    for body in [
        "x[argmax(x)] * 2.0",
        "(argmax(x), argmin(x), argmax(x, keepdims=true), argmin(reshape(x, (7, 1))))",
        "let i = argmax(x); x[i] + x[i - 1] + x[argmax(x, axis=0)]",
        "x.at[argmin(x)].set(0.0) + x.at[argmax(x)].add(x[0]) + x.at[argmax(x)].mul(3.0)",
        "let m = reshape(x[:6], (2, 3)); let i = argmax(m[:, 0]); let j = argmin(m[1]); \
         m[i, j] + sum(m[i]) + sum(m[:, j]) + sum(m.at[i, :].add(1.0)) + m.at[i, j].get()",
        "let m = reshape(x[:6], (2, 3)); m[argmin(m, axis=0)[:2], argmax(m, axis=1)] + m[:, argmax(m, axis=1)][0]",
        "grad(|x| x[argmax(x)] ** 2 + x[argmin(x)])(x)",
        "let m = reshape(x[:6], (2, 3)); grad(|m| sum(m[argmin(m, axis=0)[:2], argmax(m, axis=1)] ** 2))(m)",
        "grad(|x| sum(x.at[argmax(x)].set(x[0] * 3.0) ** 2) + sum(x.at[argmin(x)].mul(x[1])))(x)",
        "jvp(|x| x[argmax(x)] ** 3, (x,), (ones((7,)),))",
    ] {
        let out = run(&[
            &format!("fn f(x) {{ {body} }}"),
            "let jf = jit(f); let ok = true;",
            "for k in range(12) { let x = sin(arange(7.0) * float(k + 1)); ok = ok and str(jf(x)) == str(f(x)); }",
            "print(ok); jit_stats(jf)",
        ]);
        assert_eq!(out, "true\n{jitted: true, replays: 11, traces: 1}", "{body}");
    }
    let src = "fn f(x) { x[argmax(x)] * 2.0 + x[argmin(x)] }\n\
               let jf = jit(f);\n\
               for k in range(12) { print(jf(sin(arange(5.0) * float(k + 1)))); }\n";
    let (out, err) = run_file(src);
    assert_eq!(out.lines().count(), 12, "{out}");
    assert!(!err.contains("note:"), "no give-up note: {err}");
}

/// `text` with the paths of `run_file`'s programs (which differ from run to
/// run) replaced by `P.dp`.
fn without_paths(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dp-jit-test-{}", std::process::id()));
    let dir = dir.to_string_lossy().into_owned();
    let mut out = String::new();
    let mut rest = text;
    while let Some(k) = rest.find(&dir) {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        let end = rest.find(".dp").map_or(rest.len(), |e| e + 3);
        out.push_str("P.dp");
        rest = &rest[end..];
    }
    out + rest
}

/// A computed index out of range under jit fails with exactly the error of
/// the unjitted function (a plan's index check diverges, and the call traced
/// afresh reports it), after answers from the plan for indices in range.
#[test]
fn a_computed_index_out_of_range_fails_as_without_jit() {
    for (body, calls) in [
        (
            "let i = argmax(x); x[i + 1] + x.at[i].get()",
            "print(g(tensor([1.0, 5.0, 2.0]))); print(g(tensor([1.0, 0.0, 2.0]))); print(g(tensor([1.0, 3.0, 2.0])));",
        ),
        (
            "x.at[argmax(x) - 4].set(0.0)",
            "print(g(tensor([1.0, 5.0, 2.0]))); print(g(tensor([1.0, 0.0, 2.0]))); print(g(tensor([7.0, 0.0, 2.0])));",
        ),
        (
            "let y = x * 2.0; y[argmax(x, axis=0, keepdims=true) + 1.0]",
            "print(g(tensor([1.0, 5.0, 2.0]))); print(g(tensor([3.0, 5.0, 2.0]))); print(g(tensor([1.0, 2.0, 5.0])));",
        ),
        (
            "let m = reshape(x, (3, 1)); m[argmax(x, axis=0, keepdims=true) * 2.0, argmin(x, axis=0, keepdims=true) * 0.0]",
            "print(g(tensor([9.0, 5.0, 2.0]))); print(g(tensor([1.0, 0.0, -2.0]))); print(g(tensor([1.0, 3.0, 5.0])));",
        ),
        (
            "let m = reshape(x, (3, 1)); m[argmax(x) * 2, 0]",
            "print(g(tensor([9.0, 5.0, 2.0]))); print(g(tensor([1.0, 0.0, -2.0]))); print(g(tensor([1.0, 3.0, 5.0])));",
        ),
    ] {
        let jitted = run_file(&format!("fn f(x) {{ {body} }}\nlet g = jit(f);\n{calls}\n"));
        let plain = run_file(&format!("fn f(x) {{ {body} }}\nlet g = ((f));\n{calls}\n"));
        assert_eq!(jitted.0, plain.0, "{body}");
        assert!(plain.1.contains("index error"), "{}", plain.1);
        assert_eq!(without_paths(&jitted.1), without_paths(&plain.1), "{body}");
    }
}

/// A random expression over the floats `a` and `b`, `depth` levels deep.
fn scalar_expr(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.below(6) == 0 {
        return match g.below(5) {
            0 | 1 => "a".to_string(),
            2 | 3 => "b".to_string(),
            _ => format!("({})", g.pick(HOSTILE)),
        };
    }
    let x = scalar_expr(g, depth - 1);
    match g.below(21) {
        // relu's derivative and `where` select on registers.
        19 => format!("relu({x})"),
        20 => format!("where(({x}) > 0.5, {x}, -({x}))"),
        0 => format!("-({x})"),
        1 => format!("exp({x})"),
        2 => format!("log({x})"),
        3 => format!("sqrt({x})"),
        4 => format!("abs({x})"),
        5 => format!("tanh({x})"),
        6 => format!("sigmoid({x})"),
        7 => format!("floor({x})"),
        8 => format!("({x}) ** {}", g.pick(&["2", "3", "-1", "0"])),
        // Int constants meet floats as plain code converts them.
        9 => format!("({x}) * 3 - 2 / ({x})"),
        _ => {
            let y = scalar_expr(g, depth - 1);
            match g.below(9) {
                7 => format!("({x}) % ({y})"),
                8 => format!("({x}) // ({y})"),
                0 => format!("({x}) + ({y})"),
                1 => format!("({x}) - ({y})"),
                2 => format!("({x}) * ({y})"),
                3 => format!("({x}) / ({y})"),
                4 => format!("maximum({x}, {y})"),
                5 => format!("({x}) * ({y}) + ({x})"),
                _ => format!("({y}) - ({x}) * ({y})"),
            }
        }
    }
}

/// The scalar replay machine (plans of float operations, with fused
/// multiply-add forms and the previous result kept in a register) against
/// plain calls: random float programs on hostile values, value and
/// gradient, digit for digit.
#[test]
fn random_scalar_programs_on_hostile_values_replay_exactly() {
    let (seed, cases) = fuzz_knobs(0x0000_5ca1_a2f0, 0x0000_5ca1_a2f0, 600);
    let mut g = Gen(seed);
    let mut replayed = 0;
    for case in 0..cases {
        let e = scalar_expr(&mut g, 5);
        let vals: Vec<String> = (0..6).map(|_| g.pick(HOSTILE).to_string()).collect();
        let mut r = Repl::new();
        let setup = format!(
            "fn f(a, b) {{ let y = a; for i in range(3) {{ y = {e}; a = y * 0.5; }} y }}; \
             let vg = value_and_grad(f, argnums=(0, 1)); let jf = jit(vg);"
        );
        assert!(r.out(&setup).1, "case {case}: {setup}");
        r.out(&format!("jf({}, {}); jf({}, {});", vals[0], vals[1], vals[2], vals[3]));
        let last = format!("{}, {}", vals[4], vals[5]);
        r.agree("jf", "vg", &last, &format!("case {case}: {setup} on {vals:?}"));
        if r.out("print(jit_stats(jf).replays)").0.trim() != "0" {
            replayed += 1;
        }
    }
    // Guards (a `floor` that changes a branch, say) may retrace some; most replay.
    assert!(
        cases == 0 || replayed > cases * 2 / 3,
        "only {replayed} of {cases} programs replayed a plan"
    );
}

/// Values for the control-flow programs: mild ones, so that branches and
/// loops go both ways, with signed zeros; `HOSTILE` ones now and then.
const MILD: &[&str] = &[
    "-0.0", "0.0", "1.0", "-1.0", "2.5", "-3.75", "0.1", "0.5", "3.0", "-2.0",
];

/// A random expression over the tensors `x0`, `x1` (the length of the
/// argument `x`), the floats `ys`, `pw` and the int `n`, `depth` levels deep:
/// elementwise maths, reductions, scans, sorting, reversed slices, gathers
/// with repeated indices and `.at[]` updates (by ints computed from `n`,
/// with `mode="clip"`, `"drop"` and `"fill"` too).
fn flow_expr(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.below(4) == 0 {
        return match g.below(6) {
            0 | 1 => "x0".to_string(),
            2 => "x1".to_string(),
            3 => "ys".to_string(),
            4 => "pw".to_string(),
            _ => format!("({})", g.pick(MILD)),
        };
    }
    let x = flow_expr(g, depth - 1);
    // `v` has the argument's shape, for the operations that need a tensor.
    let v = format!("(({x}) + zeros(shape(x0)))");
    let i = g.pick(&["n", "-n", "n + 1", "2 * n - 3", "7", "-9", "n // 2", "-n % 3"]);
    match g.below(34) {
        0 => format!("-({x})"),
        1 => format!("exp({x})"),
        2 => format!("tanh({x})"),
        3 => format!("sin({x})"),
        4 => format!("abs({x})"),
        5 => format!("relu({x})"),
        6 => format!("({x}) ** 2"),
        7 => format!("sqrt(abs({x}))"),
        8 => format!("cumsum({v})"),
        9 => format!("cumprod({v})"),
        10 => format!("{v}[::-1]"),
        11 => format!("sort({v})"),
        12 => format!("{v}[argsort({v})]"),
        13 => format!("sum({x})"),
        14 => format!("max({v})"),
        15 => format!("mean({x})"),
        16 => format!("where({x} > 0.0, {x}, 0.5 * ({x}))"),
        17 => format!("{v}.at[0].set(3.0)"),
        18 => format!("{v}.at[-1].add(ys)"),
        19 => format!("{v}.at[{i}].set(2.0, mode=\"clip\")"),
        20 => format!("{v}.at[{i}].add(1.5, mode=\"drop\")"),
        21 => format!("{v}.at[{i}].get(mode=\"fill\", fill_value=-4.0)"),
        22 => format!("{v}[argmax({v})]"),
        23 => format!("sum({v}[[0, 0, 1]] * tensor([1.0, 2.0, 3.0]))"),
        24 => format!("{v}.at[[0, 0, 1]].add(pw)"),
        25 => format!("sum({v}[::-2])"),
        26 => format!("floor({x})"),
        27 => format!("sign({x})"),
        28 => format!("{v}.at[argmin({v})].mul(-2.0)"),
        29 => format!("cumsum({v}[::-1])[::-1]"),
        _ => {
            let y = flow_expr(g, depth - 1);
            match g.below(8) {
                0 => format!("({x}) + ({y})"),
                1 => format!("({x}) - ({y})"),
                2 => format!("({x}) * ({y})"),
                3 => format!("({x}) / ({y})"),
                4 => format!("maximum({x}, {y})"),
                5 => format!("minimum({x}, {y})"),
                6 => format!("where({v} > ({y}), {x}, {y})"),
                _ => format!("({x}) * ({y}) + ({x})"),
            }
        }
    }
}

/// A condition on traced values (a guard under jit) or on the int `n`.
fn flow_cond(g: &mut Gen) -> String {
    let e = flow_expr(g, 2);
    match g.below(7) {
        0 => format!("sum({e}) > 0.0"),
        1 => format!("max(({e}) + zeros(shape(x0))) < 1.0"),
        2 => format!("{} > {}", g.pick(&["ys", "pw"]), g.pick(MILD)),
        3 => format!("any({e} > 2.0)"),
        4 => format!("n > {}", g.below(4)),
        5 => format!("all(({e}) + zeros(shape(x0)) >= 0.0)"),
        _ => format!("mean({e}) != mean({e})"),
    }
}

/// Statements that read values in ways a plan must repeat or guard: ints,
/// strings and bools in the result, int arithmetic (floor division, modulo,
/// overflow), keyed draws, indices from `n` (out of range for some calls),
/// masks, element reads (`tolist`), bool tensors.
const FLOW_EXTRA: &[&str] = &[
    "print(\"at\", n, sum(x0));",
    "x0 = x0 + normal(fold_in(key(7), n), shape(x0));",
    "x1 = x1 * float(n // 2) + float(n % 3) - float(-n // 3);",
    "ys = ys + float(int(floor(clip(ys, -50.0, 50.0))));",
    "x0 = x0[n % 3 - 3] + x0;",
    "x1 = x1 + x0[n];",
    "if n > 2 { x0 = x0[n + 5] + x0; }",
    "acc = append(acc, (n, str(n) + \"s\", n > 1, x0 > 0.0));",
    "x0 = x0 + sum(astype(x1 > x0, \"float64\"));",
    "x1 = astype(logical_and(x0 > 0.0, x1 < 1.0), \"float64\") * x0 + x1;",
    "x1 = x1 + float(argmax(x1)) * 0.5;",
    "x0 = tensor(tolist(x0));",
    "ys = ys + sum(x0[x0 > 0.0]);",
    "x0 = x0 + sum(sort(x1, descending=true)[:2]);",
    "x1 = stack((x0, x1))[n % 2];",
    "x1 = x1.at[[0, 0, 1]].max(x0[0]);",
    "x0 = x0.at[n].set(ys, mode=\"clip\").at[-n - 1].mul(2.0, mode=\"drop\");",
    "ys = ys + float(n * 4611686018427387904);",
    "ys = ys + float(n ** 3) / 7.0;",
    "x1 = x1 + var(x0) + std(x1);",
    "ys = ys * float(any(x0 > 0.0));",
];

/// Appends random statements to `out`: assignments, `if`/`else` and
/// `while` on guards, `for` over `range(n)` with `break`/`continue`, early
/// `return`, recursion (`rec`) and a call with a branch (`helper`).
fn flow_stmts(g: &mut Gen, depth: usize, out: &mut String, budget: &mut usize) {
    for _ in 0..1 + g.below(4) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let t = g.pick(&["x0", "x1"]);
        let k = if depth > 0 { g.below(17) } else { g.below(6) };
        match k {
            0..=2 => out.push_str(&format!("{t} = {} + zeros(shape(x0));\n", flow_expr(g, 3))),
            3 => out.push_str(&format!(
                "{} = sum({}) * 0.25;\n",
                g.pick(&["ys", "pw"]),
                flow_expr(g, 2)
            )),
            4 => out.push_str(&format!("acc = append(acc, {});\n", flow_expr(g, 1))),
            6 | 7 => {
                out.push_str(&format!("if {} {{\n", flow_cond(g)));
                flow_stmts(g, depth - 1, out, budget);
                if g.below(2) == 0 {
                    out.push_str("} else {\n");
                    flow_stmts(g, depth - 1, out, budget);
                }
                out.push_str("}\n");
            }
            8 => {
                out.push_str(&format!(
                    "let it{depth} = 0;\nwhile {} and it{depth} < {} {{\n",
                    flow_cond(g),
                    1 + g.below(4)
                ));
                out.push_str(&format!("it{depth} = it{depth} + 1;\n"));
                flow_stmts(g, depth - 1, out, budget);
                out.push_str("}\n");
            }
            9 => {
                out.push_str(&format!("for i{depth} in range({}) {{\n", g.pick(&["n", "2", "n + 1"])));
                flow_stmts(g, depth - 1, out, budget);
                if g.below(3) == 0 {
                    out.push_str(&format!(
                        "if {} {{ {}; }}\n",
                        flow_cond(g),
                        g.pick(&["break", "continue"])
                    ));
                }
                out.push_str("}\n");
            }
            10 => out.push_str(&format!(
                "if {} {{ return ({}, acc); }}\n",
                flow_cond(g),
                flow_expr(g, 2)
            )),
            11 => out.push_str(&format!("{t} = rec({t}, {});\n", g.pick(&["n", "2", "0"]))),
            12 => out.push_str(&format!("{t} = helper({t}, {});\n", g.pick(&["ys", "pw"]))),
            _ => {
                out.push_str(g.pick(FLOW_EXTRA));
                out.push('\n');
            }
        }
    }
}

/// The definitions every control-flow program uses: a recursive function,
/// one with a branch, and the sum of a result's number leaves (for `grad`).
const FLOW_HELPERS: &str = "fn rec(x, k) { if k <= 0 { x } else { rec(sin(x) * 1.5 + 0.25, k - 1) } }; \
    fn helper(x, s) { if sum(x) > s { x - s } else { x * 0.5 + s } }; \
    fn leaves_sum(t) { let s = 0.0; for l in tree_leaves(t) { if type(l) == \"float\" or type(l) == \"tensor\" { s = s + sum(l * 1.0); } }; s }";

/// How a program's `f` is wrapped (`W` is `jit` or the identity) and
/// called (`X`, `Y`, `N`, `P` are the arguments, `K` the call's number):
/// plain calls, keyword calls, structure changes of a dict argument,
/// `jit(grad)`, `grad(jit)`, `value_and_grad` with `has_aux`, `jit(vmap)`,
/// `vmap(jit)`, `jvp` through jit, nested jit, and a function reading a
/// global tensor that changes between calls.
const FLOW_COMPOSITIONS: &[(&str, &str)] = &[
    ("let F = W(f);", "print(F(X, Y, N, P));"),
    ("let F = W(f);", "print(F(X, p=P, n=N, y=Y));"),
    (
        "let F = W(f);",
        "print(F(X, Y, N, [P, {w: Y, v: X}, {v: (X,), ...P}, {...P, s: \"s\" + str(K % 2)}][K % 4]));",
    ),
    (
        "let F = W(grad(|x, y, n, p| leaves_sum(f(x, y, n, p)), argnums=(0, 1, 3)));",
        "print(F(X, Y, N, P));",
    ),
    ("let F = W(f);", "print(value_and_grad(|x, y, p| leaves_sum(F(x, y, N, p)), argnums=(0, 1, 2))(X, Y, P));"),
    (
        "let F = W(value_and_grad(|x, y, n, p| { let r = f(x, y, n, p); (leaves_sum(r), r) }, argnums=(0, 3), has_aux=true));",
        "print(F(X, Y, N, P));",
    ),
    ("let F = W(vmap(|x, y| f(x, y, 1, {w: y}), in_axes=(0, none)));", "print(F(stack((X, X * -1.0)), Y));"),
    ("let F = W(f);", "print(vmap(|x| F(x, Y, N, P))(stack((X, X * 2.0))));"),
    ("let F = W(f);", "print(jvp(|x| F(x, Y, N, P), (X,), (ones(shape(X)),)));"),
    ("let F0 = W(f); let F = W(|x, y, n, p| F0(x * 2.0, y, n, p));", "print(F(X, Y, N, P));"),
    (
        "let cap = tensor([1.0, -2.0, 0.5]); fn fc(x, y, n, p) { f(x * cap[0], y, n, p) }; let F = W(fc);",
        "cap = cap * -1.5 + float(K % 2); print(F(X, Y, N, P));",
    ),
];

/// The stderr of an entry without jit's notes (which say when a function
/// stops being jitted) and with the REPL's entry numbers (which differ
/// between the plain and the jitted run) left out.
fn comparable_stderr(err: &str) -> String {
    let mut out = String::new();
    for line in err.lines() {
        let line = line.find("note: jit(").map_or(line, |k| &line[..k]);
        if !line.is_empty() {
            let mut rest = line;
            while let Some(k) = rest.find("<repl:") {
                out.push_str(&rest[..k + 6]);
                rest = rest[k + 6..].trim_start_matches(|c: char| c.is_ascii_digit());
            }
            out.push_str(rest);
            out.push('\n');
        }
    }
    out
}

/// Differential test of jit on programs with control flow and
/// compositions: `if`/`while`/`for` on traced values (guards and
/// retraces, and the give-up path after too many), early `return`,
/// recursion, prints, keyed draws, int arithmetic, computed and clipped
/// indices, non-tensor results; wrapped in `grad`, `vmap`, `jvp`,
/// `value_and_grad(has_aux)`, nested jit, a global that changes, dict
/// arguments that change structure. Several calls with changing values (and
/// now and then a changed shape) must print exactly what the unjitted
/// calls print — the same values digit for digit, or the same error at the
/// same place.
#[test]
fn random_programs_with_control_flow_and_compositions_match_plain_calls() {
    let (seed, cases) = fuzz_knobs(0x00f1_0c0f_f1e5, 0, 160);
    let mut g = Gen(seed);
    let mut replayed = 0;
    for case in 0..cases {
        let mut body = String::new();
        flow_stmts(&mut g, 3, &mut body, &mut 14);
        let result = g.pick(&[
            "(x0, x1, ys, acc)",
            "(sum(x0 * x1) + ys, acc)",
            "{a: x0, b: ys + pw, c: acc}",
            "x0 * ys",
        ]);
        let f = format!(
            "fn f(x, y, n, p) {{\nlet x0 = x; let x1 = x * 0.5; let ys = y; let pw = p.w; let acc = ();\n{body}{result}\n}}"
        );
        let (setup, call) = FLOW_COMPOSITIONS[g.below(FLOW_COMPOSITIONS.len())];
        let pool = if g.below(4) == 0 { HOSTILE } else { MILD };
        // Ten calls, about half of them repeating an earlier one (so plans
        // replay), the others with new values (so guards fail and, more than
        // 8 times, jit gives up), a different length now and then.
        let mut calls: Vec<[String; 4]> = Vec::new();
        for k in 0..10 {
            if k > 0 && g.below(2) == 0 {
                calls.push(calls[g.below(k)].clone());
                continue;
            }
            let len = if g.below(6) == 0 { g.below(5) } else { 3 };
            let xs: Vec<&str> = (0..len).map(|_| g.pick(pool)).collect();
            let x = if len == 0 {
                "zeros((0,))".to_string()
            } else {
                format!("tensor([{}])", xs.join(", "))
            };
            calls.push([
                x,
                g.pick(pool).to_string(),
                g.below(4).to_string(),
                format!("{{w: {}}}", g.pick(pool)),
            ]);
        }
        let mut runs = Vec::new();
        // (Wrappers of one length, so both runs' messages have the same columns.)
        for wrap in ["|h| h", "(jit)"] {
            let mut r = Repl::new();
            let defs = format!("{FLOW_HELPERS}; {f}; let W = {wrap}; {setup}");
            assert!(r.out(&defs).1, "case {case}: {defs}");
            let mut printed = String::new();
            for (k, [x, y, n, p]) in calls.iter().enumerate() {
                let entry = call
                    .replace('X', x)
                    .replace('Y', y)
                    .replace('N', n)
                    .replace('P', p)
                    .replace('K', &k.to_string());
                let res = r.session.eval_entry(&entry);
                printed += &(r.cap.take() + &res.stdout + &comparable_stderr(&res.stderr));
            }
            if wrap == "(jit)" && r.out("print(jit_stats(F).replays > 0)").0.trim() == "true" {
                replayed += 1;
            }
            runs.push(printed);
        }
        let what = format!("case {case}: {setup} {call} on {calls:?}\n{f}");
        assert_eq!(runs[1], runs[0], "{what}");
    }
    // Most programs replay a plan at least once (the rest give up or run
    // unjitted inside `grad`/`vmap`/`jvp`, as designed).
    assert!(
        cases == 0 || replayed > cases / 3,
        "only {replayed} of {cases} programs replayed a plan"
    );
}

/// A plan times its first runs to choose which steps use the second core
/// (`jit/sharing.rs`): through every phase of that choice (serial, shared,
/// mixed and settled runs) it gives the bits the plain function gives, and
/// the profile says what it chose.
#[test]
fn a_plan_choosing_its_threads_by_timing_gives_the_same_bits_on_every_run() {
    let src = "
let X = reshape(sin(arange(256 * 64) * 0.37 + 0.1), (256, 64));
let y = minimum(floor(5.0 * (X[:, 0] + 1.0)), 9.0);
fn loss(p, X, y) { cross_entropy(tanh(X @ p.w1 + p.b1) @ p.w2, y) }
fn step(p, X, y) { tree_map(|q, g| q - 0.1 * g, p, grad(loss)(p, X, y)) }
let fast = jit(step);
let p = {w1: 0.1 * reshape(cos(arange(64 * 128) * 0.11), (64, 128)), b1: zeros((128,)),
         w2: 0.1 * reshape(sin(arange(128 * 10) * 0.23), (128, 10))};
let q = p;
let same = true;
for i in range(60) {
    p = fast(p, X, y);
    q = step(q, X, y);
    same = same and all(p.w1 == q.w1) and all(p.b1 == q.b1) and all(p.w2 == q.w2);
}
print(same, jit_stats(fast).replays);
";
    let dir = std::env::temp_dir().join(format!("dp-jit-sharing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("sharing.dp");
    std::fs::write(&path, src).expect("write program");
    let out = Command::new(DP)
        .arg(&path)
        .env("NO_COLOR", "1")
        .env("DP_JIT_PROFILE", "1")
        .env_remove("DP_NUM_THREADS")
        .env_remove("DP_JIT_TUNE")
        .output()
        .expect("run dp");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(stdout.trim(), "true 59", "{stderr}");
    assert!(stderr.contains("jit profile of `step`"), "{stderr}");
    // Under heavy load (tests running in parallel) the helper may back off
    // through every run that allowed sharing; the plan then leaves sharing
    // to the kernels and prints no decision. Where it decided, the header
    // says which way.
    if let Some(line) = stderr.lines().find(|l| l.trim_start().starts_with("runs on")) {
        assert!(
            line.contains("runs on one thread (measured")
                || line.contains("runs on two threads wherever a kernel splits (measured")
                || line.contains("runs on two threads for the steps marked 2 (measured"),
            "{stderr}"
        );
    }
}
