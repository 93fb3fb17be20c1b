//! Renders a captured extended graph (see [`super::capture`]) for people:
//! the lecture's table form — one line per node, `v2 = exp(v1)`, then the
//! adjoint nodes `v̄3 = v̄4`, `v̄2 = v̄3 * v1 + v̄4` — and Graphviz DOT, in
//! which adjoint nodes are drawn apart from forward ones and the nodes that
//! sum partial adjoints are marked.
//!
//! Naming follows the lecture: forward nodes (and the inputs) are `v1, v2,
//! ...` in evaluation order; the complete adjoint of a node `v` in the first
//! backward pass is `v̄`; in a later pass (differentiating the extended graph
//! again, as `grad(grad(f))` does) it is `adj2(v)`, `adj3(v)`, ... Other
//! values of a backward pass are written inline where they are used once and
//! named `t1, t2, ...` otherwise.

use super::capture::{AdjointRef, Extended};
use super::trace::{Node, Op};
use crate::diagnostics::SourceMap;
use crate::ops::shape_of;
use crate::prim::Prim;
use crate::value::Value;
use std::collections::HashMap;
use std::fmt::Write as _;

/// What a node of the extended graph is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// An input of the differentiation.
    Input,
    /// A value from outside that entered the graph (a traced function's
    /// captured tensor): a constant of the graph.
    Constant,
    /// Computed by the forward pass.
    Forward,
    /// The seed of backward pass `n` (the output's adjoint).
    Seed(u32),
    /// Computed by backward pass `n`.
    Backward(u32),
}

/// A one-line description of a value: a float's digits, a tensor's shape.
fn describe(v: &Value) -> String {
    match v.strip() {
        Value::Float(x) => dp_tensor::format_float(*x),
        Value::Int(n) => n.to_string(),
        Value::Tensor(_) => dp_tensor::format_shape(&shape_of(v)),
        other => other.type_name().to_string(),
    }
}

/// How a value the graph reads but does not compute is written inside an
/// expression: a number as its digits, a tensor as `const[5×4]`, so that it
/// cannot be mistaken for a tuple or a node (the value column still shows a
/// node's shape as `(5, 4)`).
fn constant(v: &Value) -> String {
    match v.strip() {
        Value::Tensor(t) if t.ndim() == 0 => t.item().map_or_else(|| describe(v), dp_tensor::format_float),
        Value::Tensor(t) => {
            let dims: Vec<String> = t.shape().iter().map(usize::to_string).collect();
            format!("const[{}]", dims.join("×"))
        }
        _ => describe(v),
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The name of the adjoint of `base` in backward pass `pass`.
fn adjoint_name(base: &str, pass: u32) -> String {
    if pass == 1 {
        let mut chars = base.chars();
        match chars.next() {
            // U+0304, the combining macron: `v̄2`.
            Some(first) => format!("{first}\u{0304}{}", chars.as_str()),
            None => base.to_string(),
        }
    } else {
        format!("adj{pass}({base})")
    }
}

/// How an operation is written: infix with a precedence, prefix minus, or a call.
enum Form {
    Infix(&'static str, u8),
    Neg,
    Call(String),
}

fn form(op: &Op) -> Form {
    let name = op.name().replace('`', "");
    match op {
        Op::Prim(Prim::FloatMod(_)) => Form::Infix("%", 2),
        Op::Prim(Prim::FloatFloorDiv(_)) => Form::Infix("//", 2),
        Op::Prim(Prim::Binary(_)) | Op::Prim(Prim::IntPow(_)) => match name.as_str() {
            "+" => Form::Infix("+", 1),
            "-" => Form::Infix("-", 1),
            "*" => Form::Infix("*", 2),
            "/" => Form::Infix("/", 2),
            "**" => Form::Infix("**", 4),
            "<" => Form::Infix("<", 0),
            "<=" => Form::Infix("<=", 0),
            ">" => Form::Infix(">", 0),
            ">=" => Form::Infix(">=", 0),
            "==" => Form::Infix("==", 0),
            "!=" => Form::Infix("!=", 0),
            _ => Form::Call(name),
        },
        Op::Prim(Prim::MatMul(_)) => Form::Infix("@", 2),
        Op::Prim(Prim::Unary(_)) if name == "neg" => Form::Neg,
        _ => Form::Call(name),
    }
}

/// The precedence of a written-out term (atoms and calls bind tightest).
const ATOM: u8 = 9;

/// The graph with names and roles worked out, ready to print.
struct View<'a> {
    g: &'a Extended,
    role: Vec<Role>,
    names: Vec<Option<String>>,
    /// Backward values used once and not named: written where they are used.
    inline: Vec<bool>,
    /// Lines that only restate a value (`v̄3 = v̄4`): the tape length they
    /// follow, their backward pass, the name and what it equals.
    aliases: Vec<(usize, u32, String, String)>,
}

impl<'a> View<'a> {
    fn new(g: &'a Extended) -> View<'a> {
        let nodes = &g.tape.nodes;
        let role: Vec<Role> = (0..nodes.len())
            .map(|i| {
                let innermost = g
                    .passes
                    .iter()
                    .filter(|p| p.begin <= i && i < p.end)
                    .max_by_key(|p| p.begin);
                match innermost {
                    Some(p) if g.seeds.contains(&(i as u32)) => Role::Seed(p.number),
                    Some(p) => Role::Backward(p.number),
                    None if nodes[i].op.is_leaf() && g.inputs.contains(&(i as u32)) => Role::Input,
                    None if nodes[i].op.is_leaf() => Role::Constant,
                    None => Role::Forward,
                }
            })
            .collect();
        let mut names: Vec<Option<String>> = vec![None; nodes.len()];
        let mut k = 0;
        for (i, r) in role.iter().enumerate() {
            if matches!(r, Role::Input | Role::Constant | Role::Forward) {
                k += 1;
                names[i] = Some(format!("v{k}"));
            }
        }
        let mut uses = vec![0usize; nodes.len()];
        for n in nodes {
            for p in n.parents.iter().flatten() {
                uses[*p as usize] += 1;
            }
        }
        // Which unnamed nodes need a name of their own (`t1`, ...): those an
        // adjoint of a later pass refers to, and those used more or less than
        // once. Named in tape order, before the adjoint names built on them.
        let mut adjoint_named = vec![false; nodes.len()];
        let mut temp = vec![false; nodes.len()];
        for note in g.adjoints.iter().filter(|n| (n.of as usize) < nodes.len()) {
            let of = note.of as usize;
            if names[of].is_none() && !adjoint_named[of] {
                temp[of] = true;
            }
            if let AdjointRef::Node(n) = note.adjoint {
                let n = n as usize;
                if names[n].is_none() && !temp[n] {
                    adjoint_named[n] = true;
                }
            }
        }
        // The graph's outputs are referred to by name in its last section.
        for out in &g.outputs {
            if let AdjointRef::Node(n) = out {
                let n = *n as usize;
                if n < nodes.len() && names[n].is_none() && !adjoint_named[n] {
                    temp[n] = true;
                }
            }
        }
        let mut temps = 0;
        for i in 0..nodes.len() {
            if names[i].is_none() && !adjoint_named[i] && (temp[i] || uses[i] != 1) {
                temps += 1;
                names[i] = Some(format!("t{temps}"));
            }
        }
        let mut aliases = Vec::new();
        for note in g.adjoints.iter().filter(|n| (n.of as usize) < nodes.len()) {
            let base = names[note.of as usize].clone().unwrap_or_default();
            let name = adjoint_name(&base, note.pass);
            match &note.adjoint {
                AdjointRef::Node(n) if names[*n as usize].is_none() => names[*n as usize] = Some(name),
                AdjointRef::Node(n) => {
                    let same = names[*n as usize].clone().unwrap_or_default();
                    if same != name {
                        aliases.push((note.at, note.pass, name, same));
                    }
                }
                AdjointRef::Const(v) => aliases.push((note.at, note.pass, name, describe(v))),
            }
        }
        let inline = names.iter().map(Option::is_none).collect();
        View {
            g,
            role,
            names,
            inline,
            aliases,
        }
    }

    /// Node `i`'s operation applied to its arguments, and the precedence of the result.
    fn expr(&self, i: usize) -> (String, u8) {
        let node = &self.g.tape.nodes[i];
        match self.role[i] {
            Role::Input => {
                let k = self.role[..i].iter().filter(|r| **r == Role::Input).count() + 1;
                return (format!("input {k}"), ATOM);
            }
            Role::Seed(_) => return (describe(&node.out), ATOM),
            Role::Constant => return ("constant".into(), ATOM),
            _ => {}
        }
        if let Op::Prim(Prim::IntPow(p)) = &node.op {
            let (a, pa) = self.arg(node, 0);
            return (format!("{} ** {}", paren(a, pa <= 4), p.0), 4);
        }
        let mut args: Vec<(String, u8)> = (0..node.parents.len()).map(|k| self.arg(node, k)).collect();
        if let Op::Prim(p) = &node.op {
            // A shape or axis is part of what the row computes: `broadcast_to(v̄18, (5, 4))`.
            args.extend(p.params().into_iter().map(|s| (s, ATOM)));
        }
        match form(&node.op) {
            Form::Infix(sym, prec) if args.len() == 2 => {
                let (a, pa) = &args[0];
                let (b, pb) = &args[1];
                // `**` groups to the right; `-` and `/` need brackets around a right operand of their own precedence.
                let left = paren(a.clone(), if sym == "**" { *pa <= prec } else { *pa < prec });
                let right = paren(
                    b.clone(),
                    if sym == "**" {
                        *pb < prec
                    } else {
                        *pb <= prec && (sym == "-" || sym == "/") || *pb < prec
                    },
                );
                (format!("{left} {sym} {right}"), prec)
            }
            Form::Neg if args.len() == 1 => (format!("-{}", paren(args[0].0.clone(), args[0].1 < ATOM)), 5),
            Form::Call(name) => {
                let list: Vec<String> = args.into_iter().map(|(a, _)| a).collect();
                (format!("{name}({})", list.join(", ")), ATOM)
            }
            _ => {
                let list: Vec<String> = args.into_iter().map(|(a, _)| a).collect();
                (
                    format!("{}({})", node.op.name().replace('`', ""), list.join(", ")),
                    ATOM,
                )
            }
        }
    }

    /// Argument `k` of `node`: a name, an inlined expression, or a constant.
    fn arg(&self, node: &Node, k: usize) -> (String, u8) {
        match node.parents.get(k).copied().flatten() {
            Some(p) if self.inline[p as usize] => self.expr(p as usize),
            Some(p) => (self.names[p as usize].clone().unwrap_or_default(), ATOM),
            None => match node.inputs.get(k) {
                Some(v) => (constant(v), ATOM),
                None => ("?".into(), ATOM),
            },
        }
    }

    fn header(&self, role: Role, sources: &SourceMap, first: bool) -> String {
        match role {
            Role::Input | Role::Constant | Role::Forward if first => "forward pass".into(),
            Role::Input | Role::Constant | Role::Forward => "forward pass (continued)".into(),
            Role::Seed(n) | Role::Backward(n) => self.pass_header(n, sources),
        }
    }

    fn pass_header(&self, n: u32, sources: &SourceMap) -> String {
        let at = self
            .g
            .passes
            .iter()
            .find(|p| p.number == n)
            .map(|p| sources.location(p.span))
            .unwrap_or_default();
        format!("backward pass {n} (of the differentiation at {at}): adjoints")
    }
}

fn paren(s: String, needed: bool) -> String {
    if needed {
        format!("({s})")
    } else {
        s
    }
}

/// Which section a role belongs to (inputs and forward nodes share one).
fn section(r: Role) -> Option<u32> {
    match r {
        Role::Input | Role::Constant | Role::Forward => None,
        Role::Seed(n) | Role::Backward(n) => Some(n),
    }
}

/// One line of the table: a section header, or the node, its value and its source position.
type Row = (Option<String>, String, String, String);

/// Adds the line `name = same` of backward pass `pass`, under that pass's header.
fn alias_row(
    rows: &mut Vec<Row>,
    current: &mut Option<Option<u32>>,
    view: &View<'_>,
    sources: &SourceMap,
    (pass, name, same): (u32, &String, &String),
) {
    if *current != Some(Some(pass)) {
        rows.push((
            Some(view.pass_header(pass, sources)),
            String::new(),
            String::new(),
            String::new(),
        ));
        *current = Some(Some(pass));
    }
    rows.push((None, format!("{name} = {same}"), String::new(), String::new()));
}

/// The lecture's table form of an extended graph: sections for the forward
/// pass and each backward pass in the order they ran; a line per named node
/// with its value (or shape) and the source position it comes from.
pub fn to_table(g: &Extended, sources: &SourceMap) -> String {
    to_table_marked(g, sources, &HashMap::new())
}

/// [`to_table`] with a note after the lines of some nodes (`dp graph
/// --optimized` marks the members of each fused kernel).
pub fn to_table_marked(g: &Extended, sources: &SourceMap, marks: &HashMap<u32, String>) -> String {
    let view = View::new(g);
    let mut rows: Vec<Row> = Vec::new();
    let mut current: Option<Option<u32>> = None;
    let mut forward_seen = false;
    let mut aliases = view.aliases.iter().peekable();
    let nodes = &g.tape.nodes;
    for (i, node) in nodes.iter().enumerate() {
        while let Some((_, pass, name, same)) = aliases.next_if(|(at, _, _, _)| *at <= i) {
            alias_row(&mut rows, &mut current, &view, sources, (*pass, name, same));
        }
        if view.inline[i] {
            continue;
        }
        let sec = section(view.role[i]);
        if current != Some(sec) {
            rows.push((
                Some(view.header(view.role[i], sources, !forward_seen || sec.is_some())),
                String::new(),
                String::new(),
                String::new(),
            ));
            forward_seen |= sec.is_none();
            current = Some(sec);
        }
        let name = view.names[i].clone().unwrap_or_default();
        let (expr, _) = view.expr(i);
        let (value, note) = match view.role[i] {
            _ if g.sums.contains(&(i as u32)) => (describe(&node.out), "  sum of partial adjoints"),
            _ if g.guards.contains(&(i as u32)) => (describe(&node.out), "  guard"),
            Role::Seed(_) => (String::new(), "  seed"),
            _ => (describe(&node.out), ""),
        };
        rows.push((
            None,
            format!("{name} = {expr}"),
            value,
            format!(
                "{}{note}{}",
                sources.location(node.span),
                marks.get(&(i as u32)).map_or("", |m| m.as_str())
            ),
        ));
    }
    for (_, pass, name, same) in aliases {
        alias_row(&mut rows, &mut current, &view, sources, (*pass, name, same));
    }
    if !g.outputs.is_empty() {
        rows.push((Some("outputs".into()), String::new(), String::new(), String::new()));
        for (k, out) in g.outputs.iter().enumerate() {
            let (what, value) = match out {
                AdjointRef::Node(n) => match view.names.get(*n as usize) {
                    Some(Some(name)) => (name.clone(), describe(&nodes[*n as usize].out)),
                    _ => (view.expr(*n as usize).0, describe(&nodes[*n as usize].out)),
                },
                AdjointRef::Const(v) => ("constant".into(), describe(v)),
            };
            rows.push((None, format!("output {} = {what}", k + 1), value, String::new()));
        }
    }
    let w1 = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| width(&r.2)).max().unwrap_or(0);
    let mut out = String::new();
    for (head, line, value, at) in rows {
        if let Some(h) = head {
            let _ = writeln!(out, "{h}");
            continue;
        }
        let pad1 = " ".repeat(w1 - width(&line));
        let pad2 = " ".repeat(w2 - width(&value));
        let text = format!("  {line}{pad1}  {value}{pad2}  {at}");
        let _ = writeln!(out, "{}", text.trim_end());
    }
    out
}

/// Columns a string takes in a terminal: combining marks (the bar of `v̄`) take none.
fn width(s: &str) -> usize {
    s.chars().filter(|c| !('\u{0300}'..='\u{036F}').contains(c)).count()
}

/// The DOT text of an extended graph: inputs and seeds are boxes, forward
/// nodes plain ellipses, backward-pass nodes filled and grouped by pass,
/// sums of partial adjoints drawn as `+` circles; constants are dashed.
pub fn to_dot(g: &Extended, sources: &SourceMap) -> String {
    let view = View::new(g);
    let mut out = String::from("digraph dp {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (i, n) in g.tape.nodes.iter().enumerate() {
        let name = view.names[i].clone().unwrap_or_else(|| format!("n{i}"));
        let op = n.op.name().replace('`', "");
        let value = describe(&n.out);
        let at = sources.location(n.span);
        let attrs = match view.role[i] {
            Role::Input => format!("shape=box, label=\"{name}\\ninput\\n{value}\""),
            Role::Constant => format!("shape=box, style=dashed, label=\"{name}\\nconstant\\n{value}\""),
            Role::Seed(p) => {
                format!("shape=box, style=filled, fillcolor=lightblue, label=\"{name}\\nseed of pass {p}\\n{value}\"")
            }
            Role::Forward => format!(
                "shape=ellipse, label=\"{name} = {}\\n{value}\\n{}\"",
                escape(&op),
                escape(&at)
            ),
            Role::Backward(_) if g.sums.contains(&(i as u32)) => {
                format!("shape=circle, style=filled, fillcolor=lightblue, label=\"+\\n{name}\\n{value}\"")
            }
            Role::Backward(_) => format!(
                "shape=ellipse, style=filled, fillcolor=lightblue, label=\"{name} = {}\\n{value}\\n{}\"",
                escape(&op),
                escape(&at)
            ),
        };
        let _ = writeln!(out, "  n{i} [{attrs}];");
        for (k, p) in n.parents.iter().enumerate() {
            match p {
                Some(p) => {
                    let _ = writeln!(out, "  n{p} -> n{i};");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  c{i}_{k} [shape=plaintext, label=\"{}\"];\n  c{i}_{k} -> n{i} [style=dashed];",
                        escape(&n.inputs.get(k).map(constant).unwrap_or_default())
                    );
                }
            }
        }
    }
    for (k, o) in g.outputs.iter().enumerate() {
        let _ = writeln!(out, "  out{k} [shape=doublecircle, label=\"output {}\"];", k + 1);
        match o {
            AdjointRef::Node(n) => {
                let _ = writeln!(out, "  n{n} -> out{k};");
            }
            AdjointRef::Const(v) => {
                let _ = writeln!(
                    out,
                    "  oc{k} [shape=plaintext, label=\"{}\"];\n  oc{k} -> out{k} [style=dashed];",
                    escape(&describe(v))
                );
            }
        }
    }
    for note in &g.adjoints {
        if let AdjointRef::Node(a) = note.adjoint {
            let _ = writeln!(
                out,
                "  n{a} -> n{} [style=dotted, arrowhead=none, color=gray, label=\"adjoint\"];",
                note.of
            );
        }
    }
    out.push_str("}\n");
    out
}
