//! Graphs as values (issue: the extended graph as a program): `trace`,
//! `graph_stats`, `graph_dot`, `optimize`, `jit` and `jit_stats`.

use super::{native, register, Decl};
use crate::autodiff::optimize::{self, PassKind};
use crate::autodiff::stats::stats;
use crate::autodiff::traced::{trace_call, TracedGraph};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::value::{Dict, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// The graph argument `i`, or a report saying what was passed instead.
fn graph_arg<'a>(a: &super::Call<'a>, i: usize) -> R<&'a TracedGraph> {
    let v = a.value(i);
    TracedGraph::of(v).ok_or_else(|| {
        Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`{}` needs a graph made by `trace(f)(...)`, found {}",
                a.name(),
                v.describe()
            ),
        )
        .at(a.span_at(i))
    })
}

/// Reads `passes=`: a tuple of pass names.
fn passes_arg(a: &super::Call<'_>, i: usize) -> R<Vec<PassKind>> {
    let Some(v) = a.given(i) else {
        return Ok(PassKind::ALL.to_vec());
    };
    let names: Vec<Value> = match v {
        Value::Tuple(t) => t.iter().cloned().collect(),
        Value::Str(_) => vec![v.clone()],
        other => {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!("`passes` is a tuple of pass names, found {}", other.describe()),
            )
            .at(a.span_at(i)))
        }
    };
    names
        .iter()
        .map(|n| match n {
            Value::Str(s) => PassKind::parse(s).ok_or_else(|| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("no optimisation pass is called {}", crate::value::quote(s)),
                )
                .with_help("the passes are \"fold\", \"simplify\", \"cse\" and \"dce\"")
                .at(a.span_at(i))
            }),
            other => Err(Diagnostic::new(
                ErrorKind::Type,
                format!("`passes` holds pass names (strings), found {}", other.describe()),
            )
            .at(a.span_at(i))),
        })
        .collect()
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

/// Registers trace, run_graph, jit, graph_stats, graph_dot and optimize.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "run_graph(g: graph, *args)",
            summary: "Runs a traced graph again on new arguments, without running the traced function.",
            doc: "The arguments have the structure and shapes the graph was traced with, and the same ints, \
                  strings, bools and functions (the same function, not an equal one): those are constants of \
                  the graph, so another value is an error naming it (`jit(f)` traces once per value). The \
                  result has the structure of the traced function's result. Only the graph's primitive operations \
                  run: no dp code, no re-recording of a backward pass — the lecture's reuse of the \
                  extended graph. The graph is what the function computed for the traced arguments: \
                  where the function chose a branch by their values, the graph keeps that branch.",
            example: concat!(
                "let g = trace(grad(|x| x * sin(x)))(1.0);\n",
                "run_graph(g, 2.0)  # 0.0770037537313969",
            ),
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
            if let Some((k, d)) = g.foreign_argument(a.rest()).or_else(|| g.changed_argument(a.rest())) {
                return Err(d.at(a.span_of(k + 1)));
            }
            g.run(a.rest()).map_err(|d| d.at(a.args().span))
        },
    );
    register(
        t,
        Decl {
            sig: "trace(f: fn) -> fn",
            summary: "The graph of everything `f` computes, adjoint nodes of any `grad` inside included.",
            doc: "`trace(f)(args...)` runs `f` once on `args`, with every float and tensor leaf of the \
                  arguments an input of the graph, and returns the graph: one node per primitive \
                  operation, in the order they ran. When `f` differentiates (a `grad`, `vjp` or `jacrev` \
                  inside it, or `f` is itself `grad(g)`), the backward pass is recorded too, because \
                  derivative rules use the same operations as user code — the lecture's extended graph, \
                  with each adjoint node named `v̄k` (`adj2(vk)` for a second backward pass). Values the \
                  function reads from elsewhere (a captured tensor, the seed of a backward pass) are \
                  constants of the graph. The graph prints as a table with the source position of each \
                  node; `graph_dot` draws it, `graph_stats` counts it, `optimize` simplifies it. \
                  NumPy's `trace` (the sum of a matrix's diagonal) is `matrix_trace(x)` in dp.",
            example: "let g = trace(grad(|x| exp(x) + x * exp(x)))(0.5);\nprint(g);",
        },
        |_, a| {
            let f = a.func(0)?;
            let name = super::diff::fn_name(&f);
            Ok(native(format!("trace({name})"), move |it, args| {
                Ok(trace_call(it, &f, name.clone(), args, Default::default())?.into_value())
            }))
        },
    );
    register(
        t,
        Decl {
            sig: "jit(f: fn) -> fn",
            summary: "`f`, compiled: traced once per argument signature, optimised, then replayed.",
            doc: "The first call of `jit(f)` for a given signature of its arguments (keyword ones too) — their \
                  tree structure, the shapes of their floats and tensors, the values of their ints, keys, bools and \
                  strings — runs `f` while tracing it (see `trace`), optimises the graph (`optimize`) and keeps \
                  it as a plan; later calls with that signature run the plan on the new arguments: primitive \
                  operations only, no dp code, and for a `grad` inside `f` no re-recording of the backward pass. \
                  Once a call differs from an earlier one only in the values of its ints (a step count), `f` is \
                  traced with its ints as inputs of the plan: arithmetic on them and indexing a tensor with them are \
                  replayed, a use needing the number itself (a loop count, a comparison) is checked as below. An \
                  index computed from the arguments (`x[argmax(x)]`, `x[i, j]`, `x.at[i].add(v)`) is a step of the \
                  plan too; one out of range fails as without jit. Random keys that \
                  change every call (`fold_in(k, step)`, a key carried through `random.split`) become inputs \
                  the same way: keyed draws and key derivations are replayed on each call's key, with the \
                  numbers plain code draws, and a returned key comes out as a key. `jit(grad(f))`, \
                  `grad(jit(f))` and a whole training step `jit(step)(params, batch)` work. A plan never changes \
                  a result: where `f` branches on a traced value (`if loss > 1`, `int(n)`), the plan checks \
                  that value and traces again when it differs; module globals `f` reads are checked to hold the \
                  values traced with. A function whose trace cannot be replayed — it prints, saves, uses the \
                  global random generator (keyed random functions are fine), assigns a global, reads the \
                  elements of a tensor computed from its arguments (`tolist(x)`, `str(x)`), returns a function, or is traced more \
                  than 8 times — runs without jit from then on, \
                  and `dp` says once why, naming the line. Called inside `grad`, `jvp` or `vmap` of its \
                  arguments, `f` runs as without jit. Set `DP_JIT=all` to jit every function call of a program \
                  (its output must not change).",
            example: "let step = jit(|w, x, y| w - 0.1 * grad(|w| mean((x @ w - y) ** 2))(w));\n\
                      step(zeros((2,)), tensor([[1.0, 2.0], [3.0, 4.0]]), tensor([1.0, 2.0]))",
        },
        |_, a| {
            let f = a.func(0)?;
            let name = super::diff::fn_name(&f);
            let jitted = crate::autodiff::jit::Jitted::new(f, name.clone(), true);
            let payload: Rc<dyn std::any::Any> = jitted.clone();
            Ok(crate::value::native::native_with(
                format!("jit({name})"),
                payload,
                move |it, args| jitted.call(it, args),
            ))
        },
    );
    register(
        t,
        Decl {
            sig: "jit_stats(f: fn) -> dict",
            summary: "How a function made by `jit` has run: calls traced, calls that ran a plan, whether it gave up.",
            doc: "A dict with `traces` (calls that traced `f` and kept a plan, or tried to), `replays` (calls \
                  that ran a plan without running `f`) and `jitted` (false once the function runs without jit \
                  for good; the note printed then says why). A call made while an enclosing function is being \
                  traced (inside another `jit`, or any call under `DP_JIT=all`) runs as part of that trace and \
                  counts as neither, so under `DP_JIT=all` these counts can differ from a run without it.",
            example: "let f = jit(|x| x * x);\nf(1.0);\nf(2.0);\njit_stats(f)  # {jitted: true, replays: 1, traces: 1}",
        },
        |_, a| {
            let v = a.value(0);
            let stats = match v {
                Value::Native(n) => n
                    .payload
                    .as_ref()
                    .and_then(|p| p.clone().downcast::<crate::autodiff::jit::Jitted>().ok())
                    .map(|j| j.stats()),
                _ => None,
            };
            let Some(s) = stats else {
                return Err(Diagnostic::new(
                    ErrorKind::Type,
                    format!("`jit_stats` needs a function made by `jit(f)`, found {}", v.describe()),
                )
                .at(a.span_at(0)));
            };
            let pairs: [(&str, Value); 3] = [
                ("traces", int(s.traces)),
                ("replays", int(s.replays)),
                ("jitted", Value::Bool(!s.off)),
            ];
            Ok(Value::Dict(pairs.into_iter().map(|(k, v)| (Rc::from(k), v)).collect()))
        },
    );
    register(
        t,
        Decl {
            sig: "graph_stats(g: graph) -> dict",
            summary: "What a traced graph costs: nodes by operation, FLOPs, bytes of intermediates.",
            doc: "A dict with `nodes` (all, inputs included), `inputs`, `outputs`, `forward` and \
                  `backward` (computed nodes of the forward pass and of backward passes), `by_op` (a dict \
                  from operation name to count), `flops` (floating-point operations, approximately: \
                  2mkn per matmul, one per element for elementwise operations and reductions, none for \
                  reshapes, transposes and gathers) and `bytes` (of every computed node's value, 8 per \
                  float, 1 per bool).",
            example: "graph_stats(trace(grad(|x| sum(tanh(x))))(ones((3,))))",
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
            let s = stats(&g.graph);
            let by_op: Dict = s.by_op.iter().map(|(k, n)| (Rc::from(k.as_str()), int(*n))).collect();
            let pairs: [(&str, Value); 8] = [
                ("nodes", int(s.nodes)),
                ("inputs", int(s.inputs)),
                ("outputs", int(g.graph.outputs.len())),
                ("forward", int(s.forward)),
                ("backward", int(s.backward)),
                ("by_op", Value::Dict(by_op)),
                ("flops", int(s.flops)),
                ("bytes", int(s.bytes)),
            ];
            Ok(Value::Dict(pairs.into_iter().map(|(k, v)| (Rc::from(k), v)).collect()))
        },
    );
    register(
        t,
        Decl {
            sig: "graph_dot(g: graph) -> str",
            summary: "A traced graph in Graphviz DOT: adjoint nodes filled, sums of partial adjoints as `+`.",
            doc: "Inputs are boxes, constants dashed boxes, forward nodes ellipses, backward-pass nodes \
                  filled, nodes summing partial adjoints `+` circles, outputs double circles; a dotted \
                  line joins each forward node to its adjoint. Render with `dot -Tsvg`.",
            example: "let dot = graph_dot(trace(grad(|x| x * sin(x)))(1.0));",
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
            Ok(Value::Str(crate::autodiff::graph::to_dot(&g.graph, &g.sources).into()))
        },
    );
    register(
        t,
        Decl {
            sig: "graph_stablehlo(g: graph) -> str",
            summary: "A traced graph as a StableHLO program (MLIR text), which XLA, IREE and other OpenXLA compilers run.",
            doc: "The graph's inputs become the arguments of `@main` in order (the float and tensor leaves of \
                  the traced call's arguments), its outputs the results (the float and tensor leaves of the \
                  traced function's result); floats are `tensor<f64>`, bool tensors `i1`. Constants are \
                  written bit-exactly; only the nodes the outputs need are exported, so optimise the graph \
                  first for a smaller program. Exported: elementwise functions and operators (with NumPy \
                  broadcasting made explicit), comparisons, `where`, reductions, matrix products, shape \
                  operations, basic indexing and slicing, `take`, `concat`, `stack`, `erf`, `erfc`, `lgamma`, \
                  `digamma`, `polygamma`, `cholesky`, `triangular_solve`, convolutions and poolings (as \
                  `convolution`, `reduce_window`, `select_and_scatter`), and their adjoints — what forward \
                  and backward passes of models are made of. A graph that branched on or read a value it \
                  computed, or holds an operation without a StableHLO rule yet (the other linear-algebra \
                  decompositions, the Bessel functions), is reported with the line. With JAX \
                  installed, `jax._src.xla_bridge.get_backend(\"cpu\").compile_and_load(text, ...)` runs \
                  the program (docs/guide.md shows how).",
            example: "let g = optimize(trace(grad(|w, x| sum(tanh(x @ w))))(ones((3, 2)), ones((4, 3))));\nlet program = graph_stablehlo(g);",
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
            Ok(Value::Str(crate::autodiff::stablehlo::to_stablehlo(g)?.into()))
        },
    );
    register(
        t,
        Decl {
            sig: "optimize(g: graph, passes: tuple | str = none) -> graph",
            summary: "A traced graph simplified by optimisation passes: fold, simplify, cse, dce.",
            doc: "Runs the passes in order until they change nothing more: `\"fold\"` evaluates nodes whose \
                  operands are all constants (a backward pass's seed is one); `\"simplify\"` applies \
                  identities (`x * 1`, `x - 0`, `-(-x)`, a transpose of a transpose, a reshape to the \
                  same shape, ...) where the value stays the same; `\"cse\"` computes repeated \
                  subexpressions once; `\"dce\"` removes nodes the outputs do not need (not guards, nor int \
                  arithmetic, which fails on overflow). The result \
                  prints in the same table form, so before and after can be compared.",
            example: "let g = trace(grad(|x| exp(x) + x * exp(x)))(0.5);\nprint(optimize(g));",
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
            let passes = passes_arg(&a, 1)?;
            let (graph, _) = optimize::optimize(&g.graph, &passes);
            Ok(TracedGraph {
                name: g.name.clone(),
                graph,
                sources: g.sources.clone(),
                optimized: passes.iter().map(|p| p.name().to_string()).collect(),
                result: g.result.clone(),
                leaves: g.leaves,
                traced_args: g.traced_args.clone(),
            }
            .into_value())
        },
    );
}
