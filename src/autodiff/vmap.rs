//! `vmap(f, in_axes, out_axes)`: `f` applied to every example of a batch at
//! once.
//!
//! A call starts a batch level (`trace::start_batch`), in the same ordering
//! as the differentiation levels. Each batched argument leaf has its batch
//! axis moved to the front and is wrapped as a batched tracer of the level;
//! `f` runs once, and every primitive it applies to a batched value runs its
//! batching rule (`prim::Primitive::batch`) on the whole batch. The results
//! are unwrapped and their batch axes moved to `out_axes`. Because levels
//! nest, `vmap(grad(f))`, `grad(vmap(f))` and nested `vmap`s compose.

use super::trace::{batched, batched_at, is_batched, start_batch, unwrap_level, Level};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, num, shape_of};
use crate::prim::batching::move_axis;
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::tree::{self, path_string, PathStep};
use crate::value::Value;
use std::rc::Rc;

/// The report for user code that needs a concrete value (a bool for `if`,
/// an int for an index, ...) from a batched value, which stands for many.
pub fn batched_value_error(what: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Type,
        format!("vmap: {what} depends on a batched value, which differs between the examples"),
    )
    .with_help("inside `vmap` choose elementwise with `where(cond, a, b)` instead of branching on the value")
    .cannot_batch()
}

/// Fails with [`batched_value_error`] when `v` is batched by a running `vmap`.
pub fn require_unbatched(v: &Value, what: &str) -> R<()> {
    if is_batched(v) {
        Err(batched_value_error(what))
    } else {
        Ok(())
    }
}

/// How an argument leaf is named in reports: `argument 1` or `argument 0 at .w`.
fn leaf_name(i: usize, path: &[PathStep]) -> String {
    if path.is_empty() {
        format!("argument {i}")
    } else {
        format!("argument {i} at {}", path_string(path))
    }
}

fn axes_error(msg: String) -> Diagnostic {
    Diagnostic::new(ErrorKind::Value, msg)
        .with_help("give one int (or `none`) for everything, or a tuple/dict of them shaped like the value")
}

/// The axes spec `spec` spread over the leaves of `v`: an int or `none`
/// applies to every leaf below it; a tuple or dict must match `v`'s node.
fn spread(spec: &Value, v: &Value, what: &str, path: &mut Vec<PathStep>) -> R<Value> {
    match (spec, v) {
        (Value::Int(_) | Value::None, _) => tree::map_leaves(v, &mut |_, _| Ok(spec.clone())),
        (Value::Tuple(s), Value::Tuple(items)) if s.len() == items.len() => {
            let mut out = Vec::with_capacity(items.len());
            for (k, (si, vi)) in s.iter().zip(items.iter()).enumerate() {
                path.push(PathStep::Index(k));
                let r = spread(si, vi, what, path);
                path.pop();
                out.push(r?);
            }
            Ok(Value::tuple(out))
        }
        (Value::Dict(s), Value::Dict(d)) if s.len() == d.len() && s.iter().all(|(k, _)| d.get(k).is_some()) => {
            let mut out = crate::value::Dict::new();
            for (k, vi) in d.iter() {
                // Invariant: every key of `d` is in `s` (same size, and every key of `s` is in `d`).
                let si = s.get(k).cloned().unwrap_or(Value::None);
                path.push(PathStep::Key(k.clone()));
                let r = spread(&si, vi, what, path);
                path.pop();
                out.insert(k.clone(), r?);
            }
            Ok(Value::Dict(out))
        }
        (Value::Tuple(_) | Value::Dict(_), _) => Err(axes_error(format!(
            "vmap: {what} at {} is {} but the value there is {}",
            path_string(path),
            describe_node(spec),
            describe_node(v)
        ))),
        (other, _) => Err(axes_error(format!(
            "vmap: {what} must be ints, `none`, or tuples/dicts of them; found {} at {}",
            other.describe(),
            path_string(path)
        ))),
    }
}

fn describe_node(v: &Value) -> String {
    match v {
        Value::Tuple(t) => format!("a tuple of {} elements", t.len()),
        Value::Dict(d) => {
            let keys: Vec<String> = d.iter().map(|(k, _)| crate::value::dict_key(k)).collect();
            format!("a dict with keys ({})", keys.join(", "))
        }
        other => other.describe(),
    }
}

/// `axis` (negative counts from the end) as a position among `ndim` axes.
fn normalize(axis: i64, ndim: usize) -> Option<usize> {
    let a = if axis < 0 { axis + ndim as i64 } else { axis };
    (0..ndim as i64).contains(&a).then_some(a as usize)
}

/// Whether `items` is a batch of keys, as `key_split(k, n)` gives.
fn is_key_batch(items: &crate::value::tuple::Tuple) -> bool {
    !items.is_empty() && items.iter().all(|k| matches!(k.peek(), Value::Key(_)))
}

/// `v` with every tuple of keys that its axes `spec` batch (one int for the
/// whole tuple, `0` or `-1`) replaced by a stand-in vector with one element
/// per key, so it is batched like a tensor leaf; the tuples are kept in
/// `found` by their path (argument index first) to become batched keys, as
/// JAX batches a key array. Everything else is returned unchanged.
fn pack_keys(
    v: &Value,
    spec: &Value,
    path: &mut Vec<PathStep>,
    found: &mut Vec<(Vec<PathStep>, Value)>,
) -> R<(Value, Value)> {
    match (v, spec) {
        (Value::Tuple(items), Value::Tuple(specs))
            if is_key_batch(items)
                && (specs.iter().all(|s| matches!(s, Value::Int(0)))
                    || specs.iter().all(|s| matches!(s, Value::Int(-1)))) =>
        {
            found.push((path.clone(), v.clone()));
            let stand_in = crate::prim::te(dp_tensor::Tensor::zeros(&[items.len()]))?;
            Ok((Value::Tensor(Rc::new(stand_in)), Value::Int(0)))
        }
        (Value::Tuple(items), Value::Tuple(specs)) if items.len() == specs.len() => {
            let mut vs = Vec::with_capacity(items.len());
            let mut ss = Vec::with_capacity(items.len());
            for (k, (vi, si)) in items.iter().zip(specs.iter()).enumerate() {
                path.push(PathStep::Index(k));
                let r = pack_keys(vi, si, path, found);
                path.pop();
                let (a, b) = r?;
                vs.push(a);
                ss.push(b);
            }
            Ok((Value::tuple(vs), Value::tuple(ss)))
        }
        (Value::Dict(d), Value::Dict(sd)) => {
            let mut vs = crate::value::Dict::new();
            let mut ss = crate::value::Dict::new();
            for (k, vi) in d.iter() {
                let si = sd.get(k).cloned().unwrap_or(Value::None);
                path.push(PathStep::Key(k.clone()));
                let r = pack_keys(vi, &si, path, found);
                path.pop();
                let (a, b) = r?;
                vs.insert(k.clone(), a);
                ss.insert(k.clone(), b);
            }
            Ok((Value::Dict(vs), Value::Dict(ss)))
        }
        _ => Ok((v.clone(), spec.clone())),
    }
}

/// One batched argument leaf: where it is, its batch axis and its size.
struct Batched {
    name: String,
    axis: usize,
    size: usize,
}

/// Finds the batch axis and size of every batched leaf of the arguments.
/// `lenient` (for internal calls): leaves with no axis are shared, not errors.
fn batched_leaves(args: &[Value], axes: &[Value], lenient: bool) -> R<Vec<Option<Batched>>> {
    let mut out = Vec::new();
    for (i, (a, ax)) in args.iter().zip(axes).enumerate() {
        tree::map_many(&[a.clone(), ax.clone()], &mut |pair, path| {
            let (leaf, axis) = (&pair[0], &pair[1]);
            let Value::Int(axis) = axis else {
                out.push(None);
                return Ok(Value::None);
            };
            let name = leaf_name(i, path);
            if lenient && (!leaf.is_numeric() || shape_of(leaf).is_empty()) {
                out.push(None);
                return Ok(Value::None);
            }
            if !matches!(leaf.peek(), Value::Tensor(_) | Value::Float(_)) {
                return Err(Diagnostic::new(
                    ErrorKind::Type,
                    format!("vmap: {name} is {}, which has no axis to batch over", leaf.describe()),
                )
                .with_help("give it `none` in `in_axes` to pass it to every example unchanged"));
            }
            let shape = shape_of(leaf);
            let Some(ax) = normalize(*axis, shape.len()) else {
                return Err(Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "vmap: in_axes {axis} is out of range for {name}, of shape {}",
                        dp_tensor::format_shape(&shape)
                    ),
                ));
            };
            out.push(Some(Batched {
                name,
                axis: ax,
                size: shape[ax],
            }));
            Ok(Value::None)
        })?;
    }
    Ok(out)
}

/// The batch size shared by every batched leaf; mismatches name both leaves.
fn common_size(leaves: &[Option<Batched>]) -> R<usize> {
    let mut first: Option<&Batched> = None;
    for b in leaves.iter().flatten() {
        match first {
            None => first = Some(b),
            Some(f) if f.size != b.size => {
                return Err(Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "vmap: batch sizes differ: {} has {} examples (axis {}) but {} has {} (axis {})",
                        f.name, f.size, f.axis, b.name, b.size, b.axis
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    first.map(|f| f.size).ok_or_else(|| {
        Diagnostic::new(
            ErrorKind::Value,
            "vmap: no argument is batched (every in_axes entry is `none`)",
        )
        .with_help("give the batched arguments an axis in `in_axes`, e.g. `in_axes=0`")
    })
}

/// The in_axes spec spread over each positional argument.
fn spread_in_axes(in_axes: &Value, args: &[Value]) -> R<Vec<Value>> {
    match in_axes {
        Value::Tuple(t) => {
            if t.len() != args.len() {
                return Err(axes_error(format!(
                    "vmap: in_axes has {} entries but the function was called with {} arguments",
                    t.len(),
                    args.len()
                )));
            }
            t.iter()
                .zip(args)
                .enumerate()
                .map(|(i, (s, a))| spread(s, a, &format!("in_axes for argument {i}"), &mut Vec::new()))
                .collect()
        }
        Value::Int(_) | Value::None => args
            .iter()
            .map(|a| spread(in_axes, a, "in_axes", &mut Vec::new()))
            .collect(),
        other => Err(axes_error(format!(
            "vmap: in_axes must be an int, `none` or a tuple with one entry per argument, found {}",
            other.describe()
        ))),
    }
}

/// Calls `f` on every example of the batched arguments at once:
/// `vmap(f, in_axes, out_axes)(args...)`.
pub fn vmap_call(it: &mut Interp, f: &Value, in_axes: &Value, out_axes: &Value, args: Args) -> R<Value> {
    vmap_with(it, f, in_axes, out_axes, args, false)
}

fn vmap_with(it: &mut Interp, f: &Value, in_axes: &Value, out_axes: &Value, args: Args, lenient: bool) -> R<Value> {
    if let Some((k, _)) = args.kw.first() {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            format!("a vmapped function takes positional arguments only, found keyword `{k}`"),
        ));
    }
    let span = args.span;
    let pos: Vec<Value> = args.pos.to_vec();
    let axes = spread_in_axes(in_axes, &pos).map_err(|d| at_call(d, span))?;
    let mut key_batches = Vec::new();
    let mut packed = Vec::with_capacity(pos.len());
    let mut packed_axes = Vec::with_capacity(pos.len());
    for (i, (a, ax)) in pos.iter().zip(&axes).enumerate() {
        let (a, ax) =
            pack_keys(a, ax, &mut vec![PathStep::Index(i)], &mut key_batches).map_err(|d| at_call(d, span))?;
        packed.push(a);
        packed_axes.push(ax);
    }
    let (pos, axes) = (packed, packed_axes);
    let info = batched_leaves(&pos, &axes, lenient).map_err(|d| at_call(d, span))?;
    let n = common_size(&info).map_err(|d| at_call(d, span))?;
    let guard = start_batch(&it.diff, n);
    let level = guard.level.clone();
    let mut info = info.into_iter();
    let mut wrapped = Vec::with_capacity(pos.len());
    for (i, a) in pos.iter().enumerate() {
        wrapped.push(tree::map_leaves(a, &mut |leaf, path| match info.next().flatten() {
            Some(b) => {
                let keys = key_batches
                    .iter()
                    .find(|(p, _)| p.first() == Some(&PathStep::Index(i)) && p[1..] == *path);
                match keys {
                    Some((_, keys)) => Ok(batched(&level, keys.clone())),
                    None => Ok(batched(&level, move_axis(&num(leaf), b.axis, 0)?)),
                }
            }
            None => Ok(leaf.clone()),
        })?);
    }
    let out = it.call_pos(f, wrapped, span)?;
    let spec = spread(out_axes, &out, "out_axes", &mut Vec::new()).map_err(|d| at_call(d, span))?;
    tree::map_many(&[out, spec], &mut |pair, path| {
        let (leaf, axis) = (&pair[0], &pair[1]);
        let full = batched_at(leaf, &level);
        match axis {
            Value::None => match full {
                Some(_) => Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "vmap: the output at {} differs between the examples but its out_axes is `none`",
                        path_string(path)
                    ),
                )
                .with_help("give it an axis in `out_axes` to stack the examples along")),
                None => Ok(unwrap_level(leaf, &level)),
            },
            Value::Int(ax) => {
                let full = match full {
                    // A batch of keys leaves as a tuple of keys (only along its one axis).
                    Some(Value::Tuple(keys)) => {
                        return match normalize(*ax, 1) {
                            Some(_) => Ok(Value::Tuple(keys)),
                            None => Err(Diagnostic::new(
                                ErrorKind::Shape,
                                format!(
                                    "vmap: out_axes {ax} is out of range for the keys at {}, which are stacked along one axis",
                                    path_string(path)
                                ),
                            )),
                        };
                    }
                    Some(v) => v,
                    None if leaf.is_numeric() => {
                        // The same for every example: repeated along the batch axis.
                        let v = num(&unwrap_level(leaf, &level));
                        let mut s = vec![n];
                        s.extend(shape_of(&v));
                        ops::broadcast_to(&v, &s)?
                    }
                    None => return Ok(unwrap_level(leaf, &level)),
                };
                let nd = shape_of(&full).len();
                let Some(to) = normalize(*ax, nd) else {
                    return Err(Diagnostic::new(
                        ErrorKind::Shape,
                        format!(
                            "vmap: out_axes {ax} is out of range for the output at {}, which has {} axes with the batch axis",
                            path_string(path),
                            nd
                        ),
                    ));
                };
                move_axis(&full, 0, to)
            }
            // `spread` admits only ints and `none`.
            _ => Ok(leaf.clone()),
        }
    })
    .map_err(|d| at_call(d, span))
}

/// `d` located at the vmapped call when it has no place of its own.
fn at_call(d: Diagnostic, span: Span) -> Diagnostic {
    if d.span.is_none() {
        d.at(span)
    } else {
        d
    }
}

/// `vmap(f)` over the leading axis of every argument leaf that has one (the
/// others are shared), as the batching rules of calls with custom rules use it.
fn vmapped(f: &Value) -> Value {
    let f = f.clone();
    let name = match &f {
        Value::Native(n) => format!("vmap({})", n.name),
        _ => "vmap(fn)".to_string(),
    };
    crate::value::native::native(name, move |it, args| {
        vmap_with(it, &f, &Value::Int(0), &Value::Int(0), args, true)
    })
}

/// Rebuilds a call with a custom rule from its vmapped functions and arguments.
pub type Rebuild<'a> = dyn Fn(&mut Interp, &[Value], Args) -> R<Value> + 'a;

/// The batching rule of a call with a custom derivative rule (`custom_vjp`,
/// `custom_jvp`, `checkpoint`) at batch `level`: the same transformation of
/// the vmapped functions, applied to the whole batch (shared arguments
/// repeated, so that their cotangents sum over the examples), so that the
/// custom rule still applies at the levels around this one. `again` rebuilds
/// the call from the vmapped functions, given the unwrapped arguments.
pub fn batch_custom(
    it: &mut Interp,
    level: &Rc<Level>,
    args: &[Value],
    span: Span,
    fns: &[&Value],
    again: &Rebuild<'_>,
) -> R<Value> {
    let n = level.batch_size().unwrap_or(1);
    let mut unwrapped = Vec::with_capacity(args.len());
    for a in args {
        unwrapped.push(tree::map_leaves(a, &mut |l, _| match batched_at(l, level) {
            Some(v) => Ok(v),
            None if l.is_numeric() => {
                let v = num(&unwrap_level(l, level));
                let mut s = vec![n];
                s.extend(shape_of(&v));
                ops::broadcast_to(&v, &s)
            }
            None => Ok(unwrap_level(l, level)),
        })?);
    }
    let vfns: Vec<Value> = fns.iter().map(|f| vmapped(f)).collect();
    let out = again(it, &vfns, Args::positional(unwrapped, span))?;
    tree::map_leaves(&out, &mut |l, _| {
        Ok(if l.is_numeric() && !shape_of(l).is_empty() {
            batched(level, l.clone())
        } else {
            l.clone()
        })
    })
}
