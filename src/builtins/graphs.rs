//! Graphs as values (issue: the extended graph as a program): `trace`,
//! `graph_stats`, `graph_dot` and `optimize`.

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

/// Registers trace, run_graph, graph_stats, graph_dot and optimize.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "run_graph(g: graph, *args)",
            summary: "Runs a traced graph again on new arguments, without running the traced function.",
            doc: "The arguments have the structure and shapes the graph was traced with; the result has \
                  the structure of the traced function's result. Only the graph's primitive operations \
                  run: no dp code, no re-recording of a backward pass — the lecture's reuse of the \
                  extended graph. The graph is what the function computed for the traced arguments: \
                  where the function chose a branch by their values, the graph keeps that branch.",
            example: "let g = trace(grad(|x| x * sin(x)))(1.0);\nrun_graph(g, 2.0)  # = grad(|x| x * sin(x))(2.0)",
        },
        |_, a| {
            let g = graph_arg(&a, 0)?;
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
                  node; `graph_dot` draws it, `graph_stats` counts it, `optimize` simplifies it.",
            example: "let g = trace(grad(|x| exp(x) + x * exp(x)))(0.5);\nprint(g);",
        },
        |_, a| {
            let f = a.func(0)?;
            let name = super::diff::fn_name(&f);
            Ok(native(format!("trace({name})"), move |it, args| {
                Ok(trace_call(it, &f, name.clone(), args)?.into_value())
            }))
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
            sig: "optimize(g: graph, passes: tuple | str = none) -> graph",
            summary: "A traced graph simplified by optimisation passes: fold, simplify, cse, dce.",
            doc: "Runs the passes in order until they change nothing more: `\"fold\"` evaluates nodes whose \
                  operands are all constants (a backward pass's seed is one); `\"simplify\"` applies \
                  identities (`x * 1`, `x + 0`, `-(-x)`, a transpose of a transpose, a reshape to the \
                  same shape, ...) where the value stays the same; `\"cse\"` computes repeated \
                  subexpressions once; `\"dce\"` removes nodes the outputs do not need. The result \
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
            }
            .into_value())
        },
    );
}
