//! Graphs as values: `trace(f)(...)` records everything `f` computes (the
//! extended graph when `f` differentiates), `optimize` runs the passes one
//! by one or together, `run_graph` replays a graph on new inputs with the
//! same results as running the function, `graph_stats` counts it, and
//! `dp graph --optimized` shows a program's graph before and after.

use dp::repl::Session;
use std::process::Command;

const DP: &str = env!("CARGO_BIN_EXE_dp");

/// Runs REPL entries in one session; returns the last entry's stdout, and
/// fails on any stderr unless `errors_ok`.
fn run(entries: &[&str]) -> String {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let mut last = String::new();
    for e in entries {
        let r = s.eval_entry(e);
        assert_eq!(r.stderr, "", "`{e}` failed");
        // What `print` wrote, then the REPL's own echo of a value.
        last = cap.take() + &r.stdout;
    }
    last
}

/// The stderr of the last entry (the others must succeed).
fn error_of(entries: &[&str]) -> String {
    let cap = dp::SharedBuffer::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let (last, setup) = entries.split_last().expect("entries");
    for e in setup {
        assert_eq!(s.eval_entry(e).stderr, "", "`{e}` failed");
    }
    s.eval_entry(last).stderr
}

/// Table lines without their source column, runs of spaces collapsed.
fn shape(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| {
            let l = match l.find("  <repl:") {
                Some(k) => format!(
                    "{} {}",
                    &l[..k],
                    l[k + 2..].split_once(' ').map_or("", |(_, rest)| rest)
                ),
                None => l.to_string(),
            };
            l.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .collect()
}

const LECTURE: &str = "fn f(x) { let v2 = exp(x); v2 + x * v2 }";

#[test]
fn a_traced_gradient_is_the_extended_graph_with_its_output() {
    let t = run(&[LECTURE, "print(trace(grad(f))(0.5))"]);
    assert_eq!(
        shape(&t),
        [
            "graph of grad(f): 10 nodes, 1 input, 1 output",
            "forward pass",
            "v1 = input 1 0.5",
            "v2 = exp(v1) 1.6487212707001282",
            "v3 = v1 * v2 0.8243606353500641",
            "v4 = v2 + v3 2.4730819060501923",
            "backward pass 1 (of the differentiation at <repl:2>:1:7): adjoints",
            "v̄4 = 1.0 seed",
            "v̄3 = v̄4",
            "v̄2 = v̄4 + v̄4 * v1 1.5 sum of partial adjoints",
            "v̄1 = v̄4 * v2 + v̄2 * v2 4.121803176750321 sum of partial adjoints",
            "outputs",
            "output 1 = v̄1 4.121803176750321",
        ]
    );
}

#[test]
fn optimizing_folds_the_seed_and_drops_what_the_gradient_does_not_need() {
    let t = run(&[LECTURE, "print(optimize(trace(grad(f))(0.5)))"]);
    assert_eq!(
        shape(&t),
        [
            "graph of grad(f): 5 nodes, 1 input, 1 output (optimized: fold, simplify, cse, dce)",
            "forward pass",
            "v1 = input 1 0.5",
            "v2 = exp(v1) 1.6487212707001282",
            "backward pass 1 (of the differentiation at <repl:2>:1:16): adjoints",
            "v̄2 = 1.0 + v1 1.5 sum of partial adjoints",
            "v̄1 = v2 + v̄2 * v2 4.121803176750321 sum of partial adjoints",
            "outputs",
            "output 1 = v̄1 4.121803176750321",
        ]
    );
    // The second derivative, from the twice-extended graph: exp(x) (3 + x).
    let t = run(&[LECTURE, "print(optimize(trace(grad(grad(f)))(0.5)))"]);
    let s = shape(&t);
    assert_eq!(
        s[0],
        "graph of grad(grad(f)): 6 nodes, 1 input, 1 output (optimized: fold, simplify, cse, dce)"
    );
    assert!(
        s.contains(&"adj2(v1) = v2 + adj2(v2) * v2 5.770524447450449 sum of partial adjoints".to_string()),
        "{t}"
    );
}

/// The node count of `graph` after only `passes`.
fn nodes_after(setup: &str, graph: &str, passes: &str) -> (i64, i64) {
    let out = run(&[
        setup,
        &format!("let g = {graph}"),
        &format!("print(graph_stats(g).nodes, graph_stats(optimize(g, passes={passes})).nodes)"),
    ]);
    let v: Vec<i64> = out.split_whitespace().map(|n| n.parse().expect("a count")).collect();
    (v[0], v[1])
}

#[test]
fn each_pass_does_its_own_job() {
    // fold: the seed (a constant) disappears, `seed * v` keeps its node until simplify.
    assert_eq!(nodes_after(LECTURE, "trace(grad(f))(0.5)", "(\"fold\",)"), (10, 9));
    // cse: sin(x) computed twice is computed once.
    assert_eq!(nodes_after("", "trace(|x| sin(x) * sin(x))(1.0)", "(\"cse\",)"), (4, 3));
    // simplify: x * 1 - 0, + -0.0 and / 1 are x; what remains is dead, not yet removed.
    let out = run(&[
        "let g = optimize(trace(|x| (x * 1.0 - 0.0 + -0.0) / 1.0)(2.0), passes=(\"simplify\",))",
        "print(g)",
    ]);
    assert!(out.contains("output 1 = v1"), "{out}");
    // ... but x + 0.0 is not x where x is -0.0: it stays.
    let out = run(&[
        "let g = optimize(trace(|x| x + 0.0)(2.0), passes=(\"simplify\",))",
        "print(g)",
    ]);
    assert!(out.contains("v2 = v1 + 0.0"), "{out}");
    // dce: a value nothing uses goes.
    assert_eq!(
        nodes_after("", "trace(|x| { let unused = exp(x); x * 2.0 })(1.0)", "\"dce\""),
        (3, 2)
    );
    // -(-x), transpose(transpose(x)), reshape to the same shape, x * -1.
    let out = run(&[
        "let g = optimize(trace(|x| -(-transpose(transpose(reshape(x, (2, 2))))) * -1.0)(ones((2, 2))))",
        "print(graph_stats(g).by_op)",
    ]);
    assert_eq!(out.trim(), "{neg: 1}");
}

#[test]
fn a_replayed_graph_gives_what_the_function_gives() {
    let setup = [
        "seed(0)",
        "let params = {w1: randn((4, 5)) * 0.1, b1: zeros((5,)), w2: randn((5, 3)) * 0.1, b2: zeros((3,))}",
        "fn loss(p, X, y) { cross_entropy(tanh(X @ p.w1 + p.b1) @ p.w2 + p.b2, y) }",
        "fn step(p, X, y) { tree_map(|a, b| a - 0.1 * b, p, grad(loss)(p, X, y)) }",
        "let g = trace(step)(params, randn((8, 4)), randint(0, 3, (8,)))",
        "let o = optimize(g)",
        "let (X, y) = (randn((8, 4)), randint(0, 3, (8,)))",
        "let want = step(params, X, y)",
    ];
    let mut entries: Vec<&str> = setup.to_vec();
    entries.push("print(tree_map(|a, b| max(abs(a - b)), want, run_graph(g, params, X, y)))");
    assert_eq!(run(&entries).trim(), "{b1: 0.0, b2: 0.0, w1: 0.0, w2: 0.0}");
    entries.pop();
    entries.push("print(tree_map(|a, b| max(abs(a - b)), want, run_graph(o, params, X, y)))");
    assert_eq!(run(&entries).trim(), "{b1: 0.0, b2: 0.0, w1: 0.0, w2: 0.0}");
    // The optimised step is smaller: the loss value and the seed are gone.
    entries.pop();
    entries.push("print(graph_stats(o).nodes < graph_stats(g).nodes, graph_stats(o).outputs)");
    assert_eq!(run(&entries).trim(), "true 4");
    // Inputs of another shape need a new trace.
    entries.pop();
    entries.push("run_graph(g, params, randn((9, 4)), randint(0, 3, (9,)))");
    let err = error_of(&entries);
    assert!(
        err.contains("was traced with shape (8, 4), but has shape (9, 4)"),
        "{err}"
    );
}

#[test]
fn graph_stats_counts_flops_and_bytes() {
    let out = run(&[
        "let s = graph_stats(trace(|a, b| sum(a @ b))(ones((2, 3)), ones((3, 4))))",
        "print(s)",
    ]);
    // matmul 2·2·3·4 = 48 flops, the sum 8; values: 8 + 1 floats.
    assert_eq!(
        out.trim(),
        "{backward: 0, by_op: {\"@\": 1, sum: 1}, bytes: 72, flops: 56, forward: 2, inputs: 2, nodes: 4, outputs: 1}"
    );
}

#[test]
fn tracing_errors_are_reported_and_leave_the_session_usable() {
    let err = error_of(&["trace(|x| x + \"a\")(1.0)"]);
    assert!(err.contains("unsupported operand"), "{err}");
    let out = run(&[
        "let bad = |x| x + \"a\"",
        LECTURE,
        "print(graph_stats(trace(f)(1.0)).nodes)",
    ]);
    assert_eq!(out.trim(), "4");
    let err = error_of(&["graph_stats(1.0)"]);
    assert!(
        err.contains("`graph_stats` expects `g` to be a graph, found float"),
        "{err}"
    );
    let err = error_of(&["optimize(trace(|x| x * 2.0)(1.0), passes=(\"fuse\",))"]);
    assert!(err.contains("no optimisation pass is called \"fuse\""), "{err}");
}

/// The stdout of `dp graph --optimized` on the program `src` (which must succeed).
fn dp_graph_optimized(name: &str, src: &str) -> String {
    let dir = std::env::temp_dir().join(format!("dp-traced-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("{name}.dp"));
    std::fs::write(&file, src).expect("write");
    let out = Command::new(DP)
        .args(["graph", "--optimized"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("run dp graph");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    text
}

#[test]
fn dp_graph_optimized_shows_before_passes_and_after() {
    let text = dp_graph_optimized("lecture", &format!("{LECTURE}\nprint(grad(f)(0.5));\n"));
    assert!(
        text.starts_with(
            "before optimisation: 10 nodes (1 input, 3 forward, 5 backward, 1 seed), 8 FLOPs, 64 bytes of intermediates\n"
        ),
        "{text}"
    );
    assert!(text.contains("passes:\n  fold      10 -> 9 nodes\n"), "{text}");
    assert!(text.contains("after optimisation: 5 nodes"), "{text}");
    assert!(text.contains("v̄1 = v2 + v̄2 * v2"), "{text}");
    // Every pass is listed, also one that changed nothing.
    assert!(text.contains("  cse       no change\n"), "{text}");
    // Floats only: nothing for fusion, which groups tensor operations.
    assert!(
        text.contains("  fuse      nothing to fuse (no chain of elementwise tensor operations)\n"),
        "{text}"
    );
}

/// A tensor the graph reads but does not differentiate (the data of a loss) is
/// written `const[5×4]`, not as a bare shape that reads like a tuple.
#[test]
fn dp_graph_writes_constant_tensors_with_their_shape() {
    let text = dp_graph_optimized(
        "consts",
        "let x = ones((5, 4));\nprint(grad(|w| sum(tanh(x @ w)))(ones((4, 3))));\n",
    );
    assert!(text.contains("= const[5×4] @ v1"), "{text}");
    assert!(!text.contains("(5, 4) @"), "{text}");
}

/// `dp graph --optimized` shows which nodes a plan runs as one fused kernel:
/// the bias add, the tanh and the tanh's backward `1 - y * y` run as one pass.
#[test]
fn dp_graph_optimized_shows_fused_kernels() {
    let text = dp_graph_optimized(
        "layer",
        "fn loss(w, x) { sum(tanh(x @ w + 0.5)) }\n\
         print(grad(loss)(ones((3, 2)), reshape(arange(6.0), (2, 3))));\n",
    );
    assert!(
        text.contains(
            "  fuse      4 elementwise nodes and 1 matmul epilogue -> 1 kernel (4 intermediates never stored)\n"
        ),
        "{text}"
    );
    // Only the gradient is an output, so the forward `tanh` is needed by the
    // backward pass alone: the product `x @ w` (computed into the kernel by
    // the GEMM), bias add, tanh and `1.0 - v4 * v4` are one pass (the
    // product `v4 * v4` is printed inside the line of its consumer).
    let after = &text[text.find("after optimisation").expect("after")..];
    assert_eq!(after.matches("fused #1").count(), 4, "{after}");
    assert!(after.contains("fused #1 (matmul, epilogue in the GEMM)"), "{after}");
    assert!(after.contains("v̄3 = 1.0 - v4 * v4"), "{after}");
}

/// A `broadcast_to` that only a fused kernel uses (the backward of a sum
/// along an axis) is read by the kernel with broadcasting, never stored.
#[test]
fn dp_graph_optimized_counts_broadcasts_read_by_kernels() {
    let text = dp_graph_optimized(
        "bcast",
        "fn loss(x) { sum(tanh(x) * sum(x, axis=1, keepdims=true)) + sum(mean(x, axis=0) * x) }\n\
         print(grad(loss)(reshape(sin(arange(12.0)), (3, 4))));\n",
    );
    assert!(
        text.contains("  fuse      8 elementwise nodes, 2 broadcasts -> 1 kernel (9 intermediates never stored)\n"),
        "{text}"
    );
}

#[test]
fn dp_graph_optimized_shows_the_memory_plan() {
    // The plan's tensor results, in order: x @ w (48 bytes, new), its row
    // sums (16, new; the product's last use frees it), the fused tanh and
    // its derivative (written over the sums, read for the last time), a
    // reshape of that (a view), the broadcast of the view (48, new; frees
    // the fused buffer) and the weight gradient (72, new): at most 48 + 72
    // bytes alive, 184 for all four buffers.
    let text = dp_graph_optimized(
        "memory",
        "let x = reshape(arange(6.0), (2, 3));\n\
         fn f(w) { sum(tanh(sum(x @ w, axis=1))) }\n\
         print(grad(f)(reshape(arange(9.0) / 9.0, (3, 3))));\n",
    );
    assert!(
        text.contains(
            "  memory    6 tensor results: 4 new buffers, 1 written in place over an operand's last use, 1 view; \
             each buffer freed after its last use: at most 120 bytes alive at once (184 if every buffer lived to the end)\n"
        ),
        "{text}"
    );
    // Scalar code keeps its values in registers.
    let text = dp_graph_optimized("scalar_memory", "fn f(x) { x * sin(x) }\nprint(grad(f)(1.5));\n");
    assert!(
        text.contains("  memory    no tensor intermediates (scalars live in registers)\n"),
        "{text}"
    );
}

#[test]
fn a_branch_taken_by_value_is_a_guard_checked_on_every_run() {
    let setup = [
        "fn f(x) { if x > 0.0 { x * 2.0 } else { -x } }",
        "let g = trace(f)(1.0)",
    ];
    let out = run(&[setup[0], setup[1], "print(g)"]);
    assert!(shape(&out).contains(&"v2 = v1 > 0.0 1.0 guard".to_string()), "{out}");
    assert_eq!(
        run(&[setup[0], setup[1], "print(run_graph(optimize(g), 3.0))"]).trim(),
        "6.0"
    );
    let err = error_of(&[setup[0], setup[1], "run_graph(optimize(g), -1.0)"]);
    assert!(err.contains("was true; for these arguments it is false"), "{err}");
    // A one-element tensor read by `while` is a guard too, and survives the passes.
    let setup = [
        "fn h(x) { let y = x; while sum(y) < 10.0 { y = y * 2.0; } y }",
        "let g = optimize(trace(h)(ones((2,))))",
    ];
    // Same path for 1.2 (three doublings), so the same result as running h.
    let replayed = run(&[setup[0], setup[1], "print(run_graph(g, tensor([1.2, 1.2])))"]);
    assert_eq!(replayed, run(&[setup[0], "print(h(tensor([1.2, 1.2])))"]));
    let err = error_of(&[setup[0], setup[1], "run_graph(g, tensor([1.5, 1.5]))"]);
    assert!(err.contains("the graph was traced where the condition"), "{err}");
}
