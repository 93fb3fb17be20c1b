//! The extended computational graph as people read it — `dp graph` (table and
//! DOT) and the REPL's `:graph`, on the lecture's example, on a gradient of a
//! gradient and on a dict of parameters. The tables are checked line by line:
//! they are what a student compares with the lecture notes.

use dp::repl::Session;
use std::process::Command;

const DP: &str = env!("CARGO_BIN_EXE_dp");

/// Program output, captured in memory.
use dp::SharedBuffer as Capture;

/// The table `:graph` prints for `entry` after `setup`, with trailing spaces
/// and the source column left as printed.
fn graph_of(setup: &str, entry: &str) -> String {
    let cap = Capture::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let r = s.eval_entry(setup);
    assert_eq!(r.stderr, "", "setup failed");
    let r = s.eval_entry(&format!(":graph {entry}"));
    assert_eq!(r.stderr, "", "`:graph {entry}` failed");
    r.stdout
}

/// The lines of a table without their source column (positions in `<repl:N>`
/// entries are checked separately), with runs of spaces collapsed.
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

#[test]
fn the_lecture_example_shows_every_adjoint_node() {
    // y = exp(v1) + v1 * exp(v1), with exp(v1) computed once as in the notes.
    let t = graph_of("fn f(x) { let v2 = exp(x); v2 + x * v2 }", "grad(f)(0.5)");
    assert_eq!(
        shape(&t),
        [
            "forward pass",
            "v1 = input 1 0.5",
            "v2 = exp(v1) 1.6487212707001282",
            "v3 = v1 * v2 0.8243606353500641",
            "v4 = v2 + v3 2.4730819060501923",
            "backward pass 1 (of the differentiation at <repl:2>:1:1): adjoints",
            "v̄4 = 1.0 seed",
            "v̄3 = v̄4",
            "v̄2 = v̄4 + v̄4 * v1 1.5 sum of partial adjoints",
            "v̄1 = v̄4 * v2 + v̄2 * v2 4.121803176750321 sum of partial adjoints",
        ]
    );
    // Each node names the source position of the expression it comes from
    // (an adjoint node: the forward expression it differentiates).
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[2].ends_with("<repl:1>:1:20"), "{}", lines[2]);
    assert!(lines[8].contains("<repl:1>:1:33"), "{}", lines[8]);
    // The columns line up although `v̄` has a combining mark.
    let col = |l: &str| {
        l.chars()
            .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
            .position(|c| c == '<')
    };
    assert_eq!(col(lines[2]), col(lines[9]));
}

#[test]
fn a_gradient_of_a_gradient_differentiates_the_extended_graph() {
    let t = graph_of("fn f(x) { let v2 = exp(x); v2 + x * v2 }", "grad(grad(f))(0.5)");
    let s = shape(&t);
    let pass2 = s
        .iter()
        .position(|l| l.starts_with("backward pass 2"))
        .expect("a second pass");
    // The second pass starts from the first pass's result, v̄1, and reaches the input:
    // f''(x) = exp(x) (3 + x) = 5.770524447450449 at 0.5.
    assert_eq!(s[pass2 + 1], "adj2(v̄1) = 1.0 seed");
    let last = s.last().expect("lines");
    assert!(last.starts_with("adj2(v1) = "), "{last}");
    assert!(last.contains("5.770524447450449"), "{last}");
    // Values of the first pass that the second one differentiates get names of their own.
    assert!(s.iter().any(|l| l.starts_with("t1 = ")), "{t}");
}

#[test]
fn a_dict_of_parameters_gets_one_input_per_leaf() {
    let t = graph_of("let p = {a: 1.0, b: 2.0}", "grad(|p| p.a * p.b + sin(p.a))(p)");
    assert_eq!(
        shape(&t),
        [
            "forward pass",
            "v1 = input 1 1.0",
            "v2 = input 2 2.0",
            "v3 = v1 * v2 2.0",
            "v4 = sin(v1) 0.8414709848078965",
            "v5 = v3 + v4 2.8414709848078967",
            "backward pass 1 (of the differentiation at <repl:2>:1:1): adjoints",
            "v̄5 = 1.0 seed",
            "v̄4 = v̄5",
            "v̄3 = v̄5",
            "v̄2 = v̄5 * v1 1.0",
            "v̄1 = v̄5 * cos(v1) + v̄5 * v2 2.5403023058681398 sum of partial adjoints",
        ]
    );
}

#[test]
fn shape_operations_show_their_shape_and_axis_arguments() {
    // A broadcast bias and a mean: the backward pass sums the bias's adjoint
    // back to its shape and broadcasts the mean's seed; without their shape
    // arguments the rows would not say what they compute.
    let t = graph_of(
        "let w = ones((3, 2)); let b = ones(2); let x = ones((4, 3))",
        "grad(|w, b| mean(sum(tanh(x @ w + b), axis=1)), argnums=(0, 1))(w, b)",
    );
    let rows = shape(&t);
    let has = |needle: &str| rows.iter().any(|r| r.contains(needle));
    assert!(has("v6 = sum(v5, axis=1) (4,)"), "{t}");
    assert!(has("v̄2 = sum_to(v̄4, (2,)) (2,)"), "{t}");
    assert!(has("v̄5 = broadcast_to(reshape(v̄6, (4, 1)), (4, 2)) (4, 2)"), "{t}");
}

#[test]
fn tensors_show_shapes_and_no_grad_says_so() {
    let t = graph_of("let w = ones((2, 3))", "grad(|w| sum(tanh(w)))(w)");
    assert!(t.contains("v2 = tanh(v1)"), "{t}");
    assert!(t.contains("[2, 3]") || t.contains("(2, 3)"), "{t}");
    let cap = Capture::default();
    let mut s = Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let r = s.eval_entry(":graph 1 + 2");
    assert!(r.stderr.contains("no graph"), "{}", r.stderr);
    let r = s.eval_entry(":graph");
    assert!(r.stderr.contains("usage: :graph EXPR"), "{}", r.stderr);
}

fn dp_graph(args: &[&str], src: &str, tag: &str) -> (String, String, Option<i32>) {
    let dir = std::env::temp_dir().join(format!("dp-graph-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("lecture.dp");
    std::fs::write(&file, src).expect("write script");
    let out = Command::new(DP)
        .arg("graph")
        .args(args)
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("run dp graph");
    let _ = std::fs::remove_dir_all(&dir);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

const LECTURE: &str = "fn f(x) {\n    let v2 = exp(x);\n    v2 + x * v2\n}\nprint(grad(f)(0.5));\n";

#[test]
fn dp_graph_prints_the_table_and_the_program_output_goes_to_stderr() {
    let (out, err, code) = dp_graph(&[], LECTURE, "table");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.trim(), "4.121803176750321");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "forward pass");
    assert!(lines[2].starts_with("  v2 = exp(v1) "), "{out}");
    assert!(lines[2].ends_with("lecture.dp:2:14"), "{out}");
    assert!(lines[8].starts_with("  v̄2 = v̄4 + v̄4 * v1 "), "{out}");
    assert!(lines[8].ends_with("lecture.dp:3:10  sum of partial adjoints"), "{out}");
}

#[test]
fn dp_graph_shows_the_gradient_inside_a_jitted_training_step() {
    // A training step is usually jitted: its `grad` is the one to show, and
    // the program still computes what it computes without `dp graph`.
    let src = "fn loss(w, x) { sum(tanh(x @ w)) }\n\
               let step = jit(|w, x| w - 0.1 * grad(loss)(w, x));\n\
               let w = ones((3, 2));\n\
               for i in range(3) { w = step(w, ones((4, 3))); }\n\
               print(w[0, 0]);\n";
    let (out, err, code) = dp_graph(&["--optimized"], src, "jitted");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.trim(), "0.9878739561363518");
    assert!(out.contains("v2 = const[4×3] @ v1"), "{out}");
    assert!(out.contains("v3 = tanh(v2)"), "{out}");
    assert!(out.contains("backward pass 1"), "{out}");
    assert!(out.contains("after optimisation"), "{out}");
}

#[test]
fn dp_graph_dot_draws_adjoint_nodes_and_sums_apart() {
    let (out, err, code) = dp_graph(&["--dot"], LECTURE, "dot");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("digraph dp {"), "{out}");
    assert!(out.contains("n0 [shape=box, label=\"v1\\ninput\\n0.5\"];"), "{out}");
    assert!(out.contains("label=\"v2 = exp\\n1.6487212707001282"), "{out}");
    // The seed, the adjoint nodes and the sums are filled; sums are `+` circles.
    assert!(
        out.contains("shape=box, style=filled, fillcolor=lightblue, label=\"v̄4\\nseed of pass 1"),
        "{out}"
    );
    assert!(
        out.contains("shape=circle, style=filled, fillcolor=lightblue, label=\"+\\nv̄2\\n1.5\""),
        "{out}"
    );
    assert!(
        out.contains("[style=dotted, arrowhead=none, color=gray, label=\"adjoint\"]"),
        "{out}"
    );
    let (_, err, code) = dp_graph(&[], "print(1 + 2);\n", "none");
    assert_eq!(code, Some(1));
    assert!(err.contains("ran no grad"), "{err}");
}

#[test]
fn examples_run_from_any_directory() {
    // `script_dir()` makes the data path independent of where dp starts.
    let root = env!("CARGO_MANIFEST_DIR");
    for name in ["digits.dp", "hessian.dp"] {
        // digits.dp's curves go to the scratch folder, not next to the script in the repository.
        let curves = std::env::temp_dir().join(format!("dp_graph_test_{}_curves.svg", std::process::id()));
        let out = Command::new(DP)
            .arg(format!("{root}/examples/{name}"))
            .arg(&curves)
            .current_dir(std::env::temp_dir())
            .env("NO_COLOR", "1")
            .output()
            .expect("run an example");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(DP)
        .args(["-e", "print(script_dir())"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run dp -e");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ".");
}
