//! Calls with their own backward pass: user-defined derivative rules
//! (`custom_vjp`, `custom_jvp`) and rematerialization (`checkpoint`).
//!
//! Each is handled at the highest active level among its arguments' tracers,
//! like a primitive. In reverse mode the call becomes one node of that
//! level's tape (`trace::record_custom`) whose pullback runs dp code — the
//! user's `bwd`, the transpose of the user's JVP rule, or `f` itself again
//! under a fresh tape. That code runs on values that still carry the tracers
//! of enclosing levels, so an outer differentiation records it and
//! derivatives of any order go through the rules.

use super::api::unwrap_tree;
use super::trace::{self, backward, dual, leaf, node_at, start_tape, tangent_at, Custom, Level};
use super::vmap::batch_custom;
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, num, shape_of};
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::tree::{self, is_array_leaf, is_differentiable, path_string};
use crate::value::Value;
use std::rc::Rc;

/// A call's arguments (already resolved to positional ones, see
/// [`Interp::resolve_kwargs`]) as one tree, and its leaves.
fn arguments(args: &Args) -> R<(Value, Vec<Value>)> {
    let tree = Value::tuple(args.pos.iter().cloned());
    let leaves = tree::leaves(&tree)?;
    Ok((tree, leaves))
}

fn positional(tree: &Value, span: Span) -> Args {
    let pos = match tree {
        Value::Tuple(t) => t.iter().cloned().collect(),
        other => vec![other.clone()],
    };
    Args::positional(pos, span)
}

fn closes_over(name: &str, what: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Differentiation,
        format!("`{name}`: {what} uses a value being differentiated that is not one of its arguments"),
    )
    .with_help("a function with a custom derivative rule must get every differentiated value as an argument (not from an enclosing scope); pass it as an extra argument")
}

/// `v` as the pair `what` names, e.g. "fwd (output, residuals)".
fn pair(name: &str, what: &str, v: Value) -> R<(Value, Value)> {
    match &v {
        Value::Tuple(t) if t.len() == 2 => Ok((t[0].clone(), t[1].clone())),
        other => {
            let (who, parts) = match what.split_once(" (") {
                Some((w, p)) => (w, format!(" ({p}")),
                None => (what, String::new()),
            };
            Err(Diagnostic::new(
                ErrorKind::Differentiation,
                format!("`{name}`: {who} must return a pair{parts}, found {}", other.describe()),
            ))
        }
    }
}

/// Checks that leaf `d` (a tangent or cotangent) fits the differentiable leaf `like`; `none` is zero.
fn fits(name: &str, what: &str, like: &Value, d: &Value, path: &[tree::PathStep]) -> R<Option<Value>> {
    if matches!(d, Value::None) {
        return Ok(None);
    }
    if !d.is_numeric() {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`{name}`: {what} at {} must be a float or tensor, found {}",
                path_string(path),
                d.describe()
            ),
        ));
    }
    if shape_of(like) != shape_of(d) {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{name}`: {what} at {} has shape {} but the value there has shape {}",
                path_string(path),
                ops::describe_shape(d),
                ops::describe_shape(like)
            ),
        ));
    }
    Ok(Some(num(d)))
}

/// Names a structural mismatch with both structures.
fn mismatch(name: &str, what: &str, a: &Value, b: &Value, d: Diagnostic) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "`{name}`: {what} ({})",
            d.message.trim_start_matches("tree structures differ at ")
        ),
    )
    .with_note(format!("expected the structure of {}, found {}", short(a), short(b)))
}

/// A one-line rendering of a value's structure for reports.
fn short(v: &Value) -> String {
    let s = tree::map_leaves(v, &mut |x, _| {
        Ok(Value::Str(Rc::from(match x.peek() {
            Value::Float(_) => "float".to_string(),
            Value::Tensor(_) => format!("tensor{}", ops::describe_shape(x)),
            other => other.type_name().to_string(),
        })))
    })
    .map(|t| t.repr().replace('"', ""))
    .unwrap_or_else(|_| v.describe());
    if s.len() > 160 {
        format!("{}...", &s[..s.char_indices().nth(157).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

/// The differentiable output leaves of `out`, to be recorded as a custom node's outputs.
fn diff_leaves(out: &Value) -> R<Vec<Value>> {
    Ok(tree::leaves(out)?
        .into_iter()
        .filter(is_array_leaf)
        .map(|x| num(&x))
        .collect())
}

/// `out` with its differentiable leaves replaced, in order, by `new`.
fn replace_diff(out: &Value, new: Vec<Value>) -> R<Value> {
    let mut it = new.into_iter();
    tree::map_leaves(out, &mut |x, _| {
        Ok(if is_array_leaf(x) {
            it.next().unwrap_or_else(|| x.clone())
        } else {
            x.clone()
        })
    })
}

/// The inputs of a custom node: the argument leaves produced on `level`.
struct Inputs {
    /// Leaf position (among all argument leaves) of each input.
    pos: Vec<usize>,
    values: Vec<Value>,
    parents: Vec<Option<u32>>,
}

fn node_inputs(leaves: &[Value], level: &Level) -> Inputs {
    let mut inp = Inputs {
        pos: Vec::new(),
        values: Vec::new(),
        parents: Vec::new(),
    };
    for (k, l) in leaves.iter().enumerate() {
        if let Some(n) = node_at(l, level) {
            inp.pos.push(k);
            inp.values.push(trace::unwrap_level(l, level));
            inp.parents.push(Some(n));
        }
    }
    inp
}

/// Whether a call with a derivative rule, whose highest level is `level`,
/// runs its function as written: when `level` is a `trace` (or `jit`) and
/// nothing below it is differentiated, no rule is needed yet, and recording
/// the function's primitives lets a plan replay the call. (A rule used by a
/// differentiation inside the trace runs as dp code there, and what it
/// computes is recorded the same way.)
fn traced_plainly(level: &Level, argt: &Value) -> R<bool> {
    if !level.is_trace() {
        return Ok(false);
    }
    Ok(trace::top_level(&tree::leaves(&unwrap_tree(argt, level)?)?).is_none())
}

/// `f` made to use `fwd` and `bwd` in reverse mode: `custom_vjp(f, fwd, bwd)(args...)`.
pub fn custom_vjp_call(it: &mut Interp, f: &Value, fwd: &Value, bwd: &Value, name: &str, args: Args) -> R<Value> {
    let args = it.resolve_kwargs(f, args)?;
    let (argt, leaves) = arguments(&args)?;
    let Some(level) = trace::top_level(&leaves) else {
        return it.call(f, args);
    };
    if level.batch_size().is_some() {
        let name = name.to_string();
        return batch_custom(it, &level, &args.pos, args.span, &[f, fwd, bwd], &|it, v, a| {
            custom_vjp_call(it, &v[0], &v[1], &v[2], &name, a)
        });
    }
    if traced_plainly(&level, &argt)? {
        return it.call(f, args);
    }
    if !level.is_reverse() {
        return custom_vjp_forward(it, &level, [fwd, bwd], name, &argt, args.span);
    }
    let span = args.span;
    let peeled = unwrap_tree(&argt, &level)?;
    let inputs = node_inputs(&leaves, &level);
    let before = level.tape_len();
    let (out, res) = pair(
        name,
        "fwd (output, residuals)",
        it.call(fwd, positional(&peeled, span))?,
    )?;
    if level.tape_len() != before {
        return Err(closes_over(name, "fwd"));
    }
    let outs = diff_leaves(&out)?;
    let n_args = args.pos.len();
    let (bwd, out_tree, name_s) = (bwd.clone(), out.clone(), name.to_string());
    let pos = inputs.pos.clone();
    let pullback = move |it: &mut Interp, gs: Vec<Option<Value>>| -> R<Vec<Option<Value>>> {
        let mut gs = gs.into_iter();
        let ct = tree::map_leaves(&out_tree, &mut |o, _| {
            if !is_array_leaf(o) {
                return Ok(Value::None);
            }
            match gs.next().flatten() {
                Some(g) => Ok(g),
                None => ops::zeros_like(o),
            }
        })?;
        let r = it.call_pos(&bwd, vec![res.clone(), ct], span)?;
        let flat = bwd_cotangents(&name_s, n_args, &peeled, r)?;
        Ok(pos.iter().map(|k| flat.get(*k).cloned().flatten()).collect())
    };
    let custom = Custom {
        name: name.to_string(),
        n_out: outs.len(),
        pullback: Box::new(pullback),
    };
    let wrapped = trace::record_custom(&level, custom, inputs.values, inputs.parents, outs);
    replace_diff(&out, wrapped)
}

/// The flat list of `bwd`'s cotangents, one per leaf of the arguments
/// `peeled` (`None` for a leaf without one), checked against the arguments.
fn bwd_cotangents(name: &str, n_args: usize, peeled: &Value, r: Value) -> R<Vec<Option<Value>>> {
    let cts = match &r {
        Value::Tuple(t) if t.len() == n_args => t.clone(),
        other => {
            return Err(Diagnostic::new(
                ErrorKind::Differentiation,
                format!(
                    "`{name}`: bwd must return a tuple with one cotangent per argument ({n_args}), found {}",
                    other.describe()
                ),
            )
            .with_help("return e.g. `(g,)` for a function of one argument; `none` for an argument with no cotangent"))
        }
    };
    let mut flat: Vec<Option<Value>> = Vec::new();
    let Value::Tuple(arg_items) = peeled else {
        return Ok(Vec::new());
    };
    for (i, (a, c)) in arg_items.iter().zip(cts.iter()).enumerate() {
        if matches!(c, Value::None) {
            flat.extend(tree::leaves(a)?.iter().map(|_| None));
            continue;
        }
        let what = format!("bwd's cotangent for argument {i}");
        let names = ["the argument", "the cotangent"];
        tree::map_many_named(&[a.clone(), c.clone()], &names, &mut |pair, p| {
            flat.push(if is_differentiable(&pair[0]) {
                fits(name, &what, &pair[0], &pair[1], p)?
            } else {
                None
            });
            Ok(Value::None)
        })
        .map_err(|d| {
            if d.message.starts_with("tree structures differ") {
                mismatch(name, &format!("{what} does not match the argument"), a, c, d)
            } else {
                d
            }
        })?;
    }
    Ok(flat)
}

/// A `custom_vjp` call at a forward-mode level (`jvp`, `jacfwd`,
/// `linearize`). The rule gives `u -> J^T u` (`bwd`, linear in the
/// cotangent `u`); forward mode needs `t -> J t`, its transpose, which is the
/// gradient of `<bwd(res, u), t>` with respect to `u`. So `bwd` is recorded
/// on a fresh tape from zero cotangents and that tape is run backward from
/// the tangents, as reverse mode transposes a `custom_jvp` rule. (JAX refuses
/// forward mode here; the Jacobian is the one `jacrev` gives.) As in reverse
/// mode (and JAX), the levels below differentiate `fwd` and `bwd` as written,
/// so `jacfwd(jacfwd(f))` equals `hessian(f)`.
fn custom_vjp_forward(
    it: &mut Interp,
    level: &Rc<Level>,
    [fwd, bwd]: [&Value; 2],
    name: &str,
    argt: &Value,
    span: Span,
) -> R<Value> {
    let peeled = unwrap_tree(argt, level)?;
    let n_args = match &peeled {
        Value::Tuple(t) => t.len(),
        _ => 1,
    };
    let tangents: Vec<Option<Value>> = tree::leaves(argt)?
        .iter()
        .map(|l| {
            if is_differentiable(l) {
                tangent_at(l, level)
            } else {
                None
            }
        })
        .collect();
    let (out, res) = pair(
        name,
        "fwd (output, residuals)",
        it.call(fwd, positional(&peeled, span))?,
    )?;
    if node_or_tangent_escaped(&out, level)? || node_or_tangent_escaped(&res, level)? {
        return Err(closes_over(name, "fwd"));
    }
    if tangents.iter().all(Option::is_none) {
        return Ok(out);
    }
    let guard = start_tape(&it.diff);
    let inner = guard.level.clone();
    inner.start_transposing();
    let mut ids = Vec::new();
    let ct = tree::map_leaves(&out, &mut |o, _| {
        if !is_array_leaf(o) {
            return Ok(Value::None);
        }
        let (u, id) = leaf(&guard, ops::zeros_like(o)?);
        ids.push(id);
        Ok(u)
    })?;
    let r = it.call_pos(bwd, vec![res, ct], span)?;
    if let Some(at) = inner.tangent_read() {
        return Err(reads_cotangent(name, at));
    }
    let flat = bwd_cotangents(name, n_args, &peeled, r)?;
    let seeds: Vec<(u32, Value)> = flat
        .iter()
        .zip(&tangents)
        .filter_map(|(c, t)| Some((node_at(c.as_ref()?, &inner)?, t.clone()?)))
        .collect();
    let tape = guard.finish();
    let adj = backward(it, &tape, seeds)?;
    let mut touts = ids.iter().map(|id| adj.get(*id as usize).cloned().flatten());
    tree::map_leaves(&out, &mut |o, _| {
        if !is_array_leaf(o) {
            return Ok(o.clone());
        }
        Ok(match touts.next().flatten() {
            Some(t) => dual(level, num(o), t),
            None => o.clone(),
        })
    })
}

/// The report for a `custom_vjp` rule whose `bwd`, transposed for forward
/// mode, read the value of its cotangents at `at` (see [`reads_tangent`]).
fn reads_cotangent(name: &str, at: Span) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "`{name}`: bwd reads the value of its cotangents, so forward mode (`jvp`, `jacfwd`, `linearize`) cannot transpose it"
        ),
    )
    .at(at)
    .with_label("the cotangent's value is read here")
    .with_note(
        "forward mode transposes bwd, which must be linear in the cotangents: it runs bwd once for \
         every cotangent at once, so they have no values to compare, branch on or convert",
    )
    .with_help("use `jacrev` or `grad`/`vjp`, or give the function a forward-mode rule with `custom_jvp`")
}

/// `f` made to use `rule` for its derivatives: `custom_jvp(f, rule)(args...)`.
/// In forward mode the rule gives the tangent; in reverse mode its tangent
/// output, which is linear in the tangents, is transposed by a reverse pass.
pub fn custom_jvp_call(it: &mut Interp, f: &Value, rule: &Value, name: &str, args: Args) -> R<Value> {
    let args = it.resolve_kwargs(f, args)?;
    let (argt, leaves) = arguments(&args)?;
    let Some(level) = trace::top_level(&leaves) else {
        return it.call(f, args);
    };
    if level.batch_size().is_some() {
        let name = name.to_string();
        return batch_custom(it, &level, &args.pos, args.span, &[f, rule], &|it, v, a| {
            custom_jvp_call(it, &v[0], &v[1], &name, a)
        });
    }
    if traced_plainly(&level, &argt)? {
        return it.call(f, args);
    }
    let span = args.span;
    let peeled = unwrap_tree(&argt, &level)?;
    let before = level.tape_len();
    if !level.is_reverse() {
        let tangents = tree::map_leaves(&argt, &mut |l, _| {
            if !is_differentiable(l) {
                return Ok(Value::None);
            }
            match tangent_at(l, &level) {
                Some(t) => Ok(t),
                None => ops::zeros_like(&trace::unwrap_level(l, &level)),
            }
        })?;
        let (out, tout) = pair(
            name,
            "the JVP rule (output, tangent output)",
            it.call_pos(rule, vec![peeled, tangents], span)?,
        )?;
        if node_or_tangent_escaped(&out, &level)? {
            return Err(closes_over(name, "the JVP rule"));
        }
        let names = ["the output", "the tangent output"];
        return tree::map_many_named(&[out.clone(), tout.clone()], &names, &mut |pair, p| {
            let (o, t) = (&pair[0], &pair[1]);
            if !is_array_leaf(o) {
                return Ok(o.clone());
            }
            Ok(match fits(name, "the JVP rule's tangent output", o, t, p)? {
                Some(t) => dual(&level, num(o), t),
                None => o.clone(),
            })
        })
        .map_err(|d| {
            if d.message.starts_with("tree structures differ") {
                mismatch(
                    name,
                    "the JVP rule's tangent output does not match its output",
                    &out,
                    &tout,
                    d,
                )
            } else {
                d
            }
        });
    }
    let inputs = node_inputs(&leaves, &level);
    // The primal output, with the rule used again at the levels below.
    let out = custom_jvp_call(it, f, rule, name, positional(&peeled, span))?;
    if level.tape_len() != before {
        return Err(closes_over(name, "the function"));
    }
    let outs = diff_leaves(&out)?;
    let (rule, name_s) = (rule.clone(), name.to_string());
    let pos = inputs.pos.clone();
    let pullback = move |it: &mut Interp, gs: Vec<Option<Value>>| -> R<Vec<Option<Value>>> {
        // Transpose the rule's tangent map: record it on a fresh tape from zero
        // tangents and run that tape backward from the output cotangents.
        let guard = start_tape(&it.diff);
        let inner = guard.level.clone();
        inner.start_transposing();
        let mut ids = Vec::new();
        let mut k = 0;
        let tangents = tree::map_leaves(&peeled, &mut |l, _| {
            let here = k;
            k += 1;
            if !is_differentiable(l) {
                return Ok(Value::None);
            }
            let z = ops::zeros_like(l)?;
            if pos.contains(&here) {
                let (t, id) = leaf(&guard, z);
                ids.push(id);
                Ok(t)
            } else {
                Ok(z)
            }
        })?;
        let (o, tout) = pair(
            &name_s,
            "the JVP rule (output, tangent output)",
            it.call_pos(&rule, vec![peeled.clone(), tangents], span)?,
        )?;
        if let Some(at) = inner.tangent_read() {
            return Err(reads_tangent(&name_s, at));
        }
        let mut seeds = Vec::new();
        let mut gs = gs.into_iter();
        let names = ["the output", "the tangent output"];
        tree::map_many_named(&[o.clone(), tout.clone()], &names, &mut |pair, p| {
            if is_array_leaf(&pair[0]) {
                let g = gs.next().flatten();
                fits(&name_s, "the JVP rule's tangent output", &pair[0], &pair[1], p)?;
                if let (Some(g), Some(n)) = (g, node_at(&pair[1], &inner)) {
                    seeds.push((n, g));
                }
            }
            Ok(Value::None)
        })
        .map_err(|d| {
            if d.message.starts_with("tree structures differ") {
                mismatch(
                    &name_s,
                    "the JVP rule's tangent output does not match its output",
                    &o,
                    &tout,
                    d,
                )
            } else {
                d
            }
        })?;
        let tape = guard.finish();
        let adj = backward(it, &tape, seeds)?;
        Ok(ids.iter().map(|id| adj.get(*id as usize).cloned().flatten()).collect())
    };
    let custom = Custom {
        name: name.to_string(),
        n_out: outs.len(),
        pullback: Box::new(pullback),
    };
    let wrapped = trace::record_custom(&level, custom, inputs.values, inputs.parents, outs);
    replace_diff(&out, wrapped)
}

/// The report for a `custom_jvp` rule that, transposed for reverse mode,
/// read the value of its tangents at `at`. The transpose holds for a rule
/// linear in the tangents, where it stands for every tangent at once; there
/// the tangents have no values to branch on (JAX raises a
/// `TracerBoolConversionError` here). Forward mode has concrete tangents,
/// so the same rule works under `jvp` and `jacfwd`.
fn reads_tangent(name: &str, at: Span) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Value,
        format!(
            "`{name}`: the JVP rule reads the value of its tangents, so reverse mode (`grad`, `vjp`, `jacrev`, `hessian`) cannot transpose it"
        ),
    )
    .at(at)
    .with_label("the tangent's value is read here")
    .with_note(
        "reverse mode transposes the rule's tangent output, which must be linear in the tangents: \
         it runs the rule once for every tangent at once, so the tangents have no values to compare, \
         branch on or convert (forward mode, `jvp` and `jacfwd`, has them and accepts the rule)",
    )
    .with_help(
        "compute the tangent output from the tangents with arithmetic only (a zero tangent needs no \
         special case: `3.0 * x ** 2 * t` is already zero), branch on the primals with `if` or `where`, \
         or give the function a `custom_vjp` rule",
    )
}

/// Whether any leaf of `v` is still a tracer of `level` (a closed-over differentiated value).
fn node_or_tangent_escaped(v: &Value, level: &Level) -> R<bool> {
    Ok(tree::leaves(v)?
        .iter()
        .any(|l| tangent_at(l, level).is_some() || node_at(l, level).is_some()))
}

/// `checkpoint(f)(args...)`: in reverse mode the call is one node keeping
/// only its inputs and outputs; its pullback runs `f` again under a fresh
/// tape and backpropagates through that.
pub fn checkpoint_call(it: &mut Interp, f: &Value, name: &str, args: Args) -> R<Value> {
    let args = it.resolve_kwargs(f, args)?;
    let (argt, leaves) = arguments(&args)?;
    let Some(level) = trace::top_level(&leaves) else {
        return it.call(f, args);
    };
    if level.batch_size().is_some() {
        let name = name.to_string();
        return batch_custom(it, &level, &args.pos, args.span, &[f], &|it, v, a| {
            checkpoint_call(it, &v[0], &name, a)
        });
    }
    if traced_plainly(&level, &argt)? {
        return it.call(f, args);
    }
    if !level.is_reverse() {
        // Forward mode keeps nothing to save.
        return it.call(f, args);
    }
    let span = args.span;
    let peeled = unwrap_tree(&argt, &level)?;
    let before = level.tape_len();
    let out = checkpoint_call(it, f, name, positional(&peeled, span))?;
    if level.tape_len() != before {
        // `f` used a differentiated value from an enclosing scope: the
        // recomputation could not reach it, so this call is recorded as usual
        // (correct, without the memory saving; docs/guide.md says so).
        level.truncate(before);
        return it.call(f, args);
    }
    let inputs = node_inputs(&leaves, &level);
    let outs = diff_leaves(&out)?;
    let f2 = f.clone();
    let pos = inputs.pos.clone();
    let pullback = move |it: &mut Interp, gs: Vec<Option<Value>>| -> R<Vec<Option<Value>>> {
        let guard = start_tape(&it.diff);
        let inner = guard.level.clone();
        inner.start_transposing();
        let mut ids = Vec::new();
        let mut k = 0;
        let wrapped = tree::map_leaves(&peeled, &mut |l, _| {
            let here = k;
            k += 1;
            if pos.contains(&here) {
                let (t, id) = leaf(&guard, num(l));
                ids.push(id);
                Ok(t)
            } else {
                Ok(l.clone())
            }
        })?;
        let out = it.call(&f2, positional(&wrapped, span))?;
        let mut seeds = Vec::new();
        let mut gs = gs.into_iter();
        for o in tree::leaves(&out)? {
            if is_array_leaf(&trace::unwrap_level(&o, &inner)) {
                if let (Some(g), Some(n)) = (gs.next().flatten(), node_at(&o, &inner)) {
                    seeds.push((n, g));
                }
            }
        }
        let tape = guard.finish();
        let adj = backward(it, &tape, seeds)?;
        Ok(ids.iter().map(|id| adj.get(*id as usize).cloned().flatten()).collect())
    };
    let custom = Custom {
        name: name.to_string(),
        n_out: outs.len(),
        pullback: Box::new(pullback),
    };
    let wrapped = trace::record_custom(&level, custom, inputs.values, inputs.parents, outs);
    replace_diff(&out, wrapped)
}
