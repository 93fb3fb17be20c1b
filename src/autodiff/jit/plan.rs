//! A jit plan: an optimised traced graph, the signature it was traced for,
//! and the module globals it depends on — or the reason a trace cannot
//! become one.

use super::program::{Outcome, Program};
use super::result::Recipe;
use super::signature::Signature;
use super::watch::{GlobalRead, Watch};
use crate::autodiff::capture::{AdjointRef, Extended};
use crate::autodiff::optimize::{optimize, PassKind};
use crate::autodiff::trace::Op;
use crate::autodiff::traced::TracedGraph;
use crate::diagnostics::R;
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::Value;

/// Why a trace cannot be replayed: what the function did, where, and why
/// that stops a plan.
#[derive(Debug)]
pub struct Refusal {
    /// What the function did ("it calls `print`").
    pub what: String,
    /// Where.
    pub at: Option<Span>,
    /// Why a plan cannot do it (empty when evident).
    pub because: &'static str,
}

fn refuse<T>(what: impl Into<String>, at: Option<Span>, because: &'static str) -> Result<T, Refusal> {
    Err(Refusal {
        what: what.into(),
        at,
        because,
    })
}

/// How one run of a plan ended.
pub enum Run {
    /// The call's result.
    Done(Value),
    /// A guard (the condition, or the read of a value, at this span) came
    /// out differently; whether the value read was a random key.
    Diverged(Span, bool),
}

/// One cached plan.
pub struct Plan {
    signature: Signature,
    /// How to build a call's result (`None`: nested too deeply to compile;
    /// the traced result is walked instead).
    result: Option<Recipe>,
    reads: Vec<GlobalRead>,
    graph: TracedGraph,
    program: Program,
}

/// Refuses a graph with a node no program can run: a derivative rule
/// written in dp, or a value differentiated outside the graph.
pub(super) fn check_nodes(g: &Extended) -> Result<(), Refusal> {
    for n in &g.tape.nodes {
        if matches!(n.op, Op::Custom(_) | Op::Output(_)) {
            return refuse(
                "it calls a function with a derivative rule written in dp (custom_vjp, custom_jvp or checkpoint)",
                Some(n.span),
                "whose rule a plan cannot run",
            );
        }
        if n.inputs
            .iter()
            .chain(std::iter::once(&n.out))
            .any(|v| matches!(v, Value::Dual(_)))
        {
            return refuse(
                "it computes with a value that is being differentiated outside it",
                Some(n.span),
                "",
            );
        }
    }
    Ok(())
}

impl Plan {
    /// The plan for a finished trace, unless the trace cannot be repeated.
    pub fn new(traced: TracedGraph, watch: Watch, signature: Signature) -> Result<Plan, Refusal> {
        if let Some((what, span)) = watch.effect {
            return refuse(
                format!("it {what}"),
                Some(span),
                "a side effect, which a plan of primitive operations would not repeat",
            );
        }
        check_result(&traced.result)?;
        let g = &traced.graph;
        check_nodes(g)?;
        if g.outputs.iter().any(|o| matches!(o, AdjointRef::Const(Value::Dual(_)))) {
            return refuse("it returns a value that is being differentiated outside it", None, "");
        }
        for &(node, at) in &g.reads {
            let n = &g.tape.nodes[node as usize];
            if crate::ops::shape_of(&n.out).iter().product::<usize>() > 1 {
                return refuse(
                    "it reads the elements of a tensor computed from its arguments",
                    Some(at),
                    "to use them outside the primitive operations (to convert, format or index with them), \
                     which a plan cannot repeat",
                );
            }
        }
        let (graph, _) = optimize(g, &PassKind::ALL);
        let mut program = Program::new(&graph);
        if super::profile::enabled() {
            program.profile(&graph, &traced.name, &traced.sources);
        }
        Ok(Plan {
            signature,
            result: Recipe::new(&traced.result, traced.leaves),
            reads: watch.reads,
            graph: TracedGraph {
                graph,
                optimized: PassKind::ALL.iter().map(|p| p.name().to_string()).collect(),
                ..traced
            },
            program,
        })
    }

    /// The plan's inputs in `args` if the plan is for them: arguments of
    /// the same signature, or of one differing in int (key) values only
    /// when the ints (keys) are inputs of the plan. Matching and collecting
    /// ([`crate::autodiff::traced::Leaves::inputs_of`]) are one walk.
    pub fn inputs_if_admitted(&self, args: &Args) -> Option<Vec<Value>> {
        let l = self.graph.leaves;
        let mut inputs = Vec::new();
        let ok = self
            .signature
            .admits_visiting(args, l.ints, l.keys, l.keywords, &mut |x| {
                if l.takes(x) {
                    inputs.push(l.input(x));
                }
            });
        ok.then_some(inputs)
    }

    /// Runs the plan on `inputs`, its inputs in arguments of its signature
    /// (from [`Plan::inputs_if_admitted`]).
    pub fn run_inputs(&self, inputs: &[Value]) -> R<Run> {
        match self.program.run(inputs)? {
            Outcome::Done(outputs) => Ok(Run::Done(match &self.result {
                Some(recipe) => recipe.build(outputs),
                None => self.graph.result_from(outputs)?,
            })),
            // Where code read the value (`int(x)`), else the comparison (`x > 0`).
            Outcome::Diverged(node) => {
                let g = &self.graph.graph;
                let at = g.reads.iter().find(|(n, _)| *n == node).map(|&(_, at)| at);
                let n = &g.tape.nodes[node as usize];
                Ok(Run::Diverged(at.unwrap_or(n.span), matches!(n.out, Value::Key(_))))
            }
        }
    }

    /// The first module global the plan read that holds another value now.
    pub fn changed_global(&self) -> Option<&GlobalRead> {
        self.reads.iter().find(|r| !r.holds())
    }
}

/// Refuses results holding values a plan cannot make afresh: functions
/// (whose captured values the trace fixed), graphs and progress bars.
fn check_result(v: &Value) -> Result<(), Refusal> {
    match v {
        Value::Func(_) | Value::Native(_) => refuse(
            "it returns a function",
            None,
            "whose captured values a plan cannot make afresh",
        ),
        Value::Object(_) | Value::Progress(_) => refuse(
            format!("it returns a {}", v.type_name()),
            None,
            "which a plan cannot make afresh",
        ),
        Value::Tuple(items) => items.iter().try_for_each(check_result),
        Value::Dict(d) => d.values().try_for_each(check_result),
        _ => Ok(()),
    }
}
