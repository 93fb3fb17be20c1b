//! Trees: tuples and dicts walked down to their leaves, each leaf with a path
//! like `.w[0]`. Used by grad, vjp, jvp, tree_map, assert_close, save/load and
//! check_grad alike.

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::{dict_key, Dict, Tuple, Value};

/// One step of a leaf's path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathStep {
    /// A tuple position.
    Index(usize),
    /// A dict key.
    Key(std::rc::Rc<str>),
}

/// A function of one leaf and its path, as mapped over a tree.
pub type LeafFn<'a> = dyn FnMut(&Value, &[PathStep]) -> Result<Value, Diagnostic> + 'a;

/// A function of the leaves at one path of several trees, and that path.
pub type LeavesFn<'a> = dyn FnMut(&[Value], &[PathStep]) -> Result<Value, Diagnostic> + 'a;

/// Renders a path as users read it: `[0].w`, or `(root)` for the whole value.
pub fn path_string(path: &[PathStep]) -> String {
    if path.is_empty() {
        return "(root)".into();
    }
    let mut s = String::new();
    for p in path {
        match p {
            PathStep::Index(i) => s.push_str(&format!("[{i}]")),
            PathStep::Key(k) => {
                let k = dict_key(k);
                if k.starts_with('"') {
                    s.push_str(&format!("[{k}]"));
                } else {
                    s.push('.');
                    s.push_str(&k);
                }
            }
        }
    }
    s
}

/// Rebuilds `v` with every leaf replaced by `f(leaf, path)`.
pub fn map_leaves(v: &Value, f: &mut LeafFn<'_>) -> Result<Value, Diagnostic> {
    let mut path = Vec::new();
    map_rec(v, &mut path, f)
}

fn map_rec(v: &Value, path: &mut Vec<PathStep>, f: &mut LeafFn<'_>) -> Result<Value, Diagnostic> {
    check_depth(path)?;
    match v {
        Value::Tuple(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                let r = map_rec(x, path, f);
                path.pop();
                out.push(r?);
            }
            Ok(Value::Tuple(Tuple::from(out)))
        }
        Value::Dict(d) => {
            let mut out = Vec::with_capacity(d.len());
            for (k, x) in d.iter() {
                path.push(PathStep::Key(k.clone()));
                let r = map_rec(x, path, f);
                path.pop();
                out.push((k.clone(), r?));
            }
            // The keys come in the dict's own (sorted) order.
            Ok(Value::Dict(Dict::from_sorted_unique(out.into_iter())))
        }
        leaf => f(leaf, path),
    }
}

/// The leaves of `v` in order, with their paths; a tree nested deeper than
/// the limit is an error (never a silently shorter list).
pub fn leaves_with_paths(v: &Value) -> Result<Vec<(Vec<PathStep>, Value)>, Diagnostic> {
    let mut out = Vec::new();
    map_leaves(v, &mut |x, p| {
        out.push((p.to_vec(), x.clone()));
        Ok(Value::None)
    })?;
    Ok(out)
}

/// The leaves of `v` in order; a tree nested deeper than the limit is an error.
pub fn leaves(v: &Value) -> Result<Vec<Value>, Diagnostic> {
    let mut out = Vec::new();
    for_each_leaf(v, &mut |x| out.push(x.clone()))?;
    Ok(out)
}

/// Calls `f` on every leaf of `v` in order, without building paths or a
/// rebuilt tree (what [`leaves`] and the tree reductions need); a tree
/// nested deeper than the limit is an error.
pub fn for_each_leaf(v: &Value, f: &mut dyn FnMut(&Value)) -> Result<(), Diagnostic> {
    fn walk(v: &Value, depth: usize, f: &mut dyn FnMut(&Value)) -> Result<(), Diagnostic> {
        match v {
            Value::Tuple(items) => {
                check_depth_at(depth + 1)?;
                items.iter().try_for_each(|x| walk(x, depth + 1, f))
            }
            Value::Dict(d) => {
                check_depth_at(depth + 1)?;
                d.values().try_for_each(|x| walk(x, depth + 1, f))
            }
            leaf => {
                f(leaf);
                Ok(())
            }
        }
    }
    walk(v, 0, f)
}

/// Rebuilds `v` with every leaf replaced by `f(leaf)`: [`map_leaves`]
/// without the paths, for hot paths that never report one (a jit plan's
/// result, rebuilt on every call); a tree nested deeper than the limit is an
/// error.
pub fn rebuild_leaves(v: &Value, f: &mut dyn FnMut(&Value) -> Value) -> Result<Value, Diagnostic> {
    fn walk(v: &Value, depth: usize, f: &mut dyn FnMut(&Value) -> Value) -> Result<Value, Diagnostic> {
        match v {
            Value::Tuple(items) => {
                check_depth_at(depth + 1)?;
                let out: Result<Vec<Value>, Diagnostic> = items.iter().map(|x| walk(x, depth + 1, f)).collect();
                Ok(Value::Tuple(Tuple::from(out?)))
            }
            Value::Dict(d) => {
                check_depth_at(depth + 1)?;
                let mut out = Vec::with_capacity(d.len());
                for (k, x) in d.iter() {
                    out.push((k.clone(), walk(x, depth + 1, f)?));
                }
                // The keys come in the dict's own (sorted) order.
                Ok(Value::Dict(Dict::from_sorted_unique(out.into_iter())))
            }
            leaf => Ok(f(leaf)),
        }
    }
    walk(v, 0, f)
}

/// Rebuilds `like`'s structure with leaves taken in order from `items`.
pub fn unflatten(like: &Value, items: &mut dyn Iterator<Item = Value>) -> Result<Value, Diagnostic> {
    map_leaves(like, &mut |_, p| {
        items.next().ok_or_else(|| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("too few leaves to rebuild the tree at {}", path_string(p)),
            )
        })
    })
}

/// Maps `f` over several trees of equal structure at once, leaf by leaf.
/// A structural mismatch is reported with the first path where the trees
/// differ; the trees are called "tree 1", "tree 2", ... in the message.
pub fn map_many(trees: &[Value], f: &mut LeavesFn<'_>) -> Result<Value, Diagnostic> {
    let names: Vec<String> = (1..=trees.len()).map(|i| format!("tree {i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    map_many_named(trees, &names, f)
}

/// [`map_many`], naming the trees in mismatch reports (e.g. "actual", "expected").
pub fn map_many_named(trees: &[Value], names: &[&str], f: &mut LeavesFn<'_>) -> Result<Value, Diagnostic> {
    let mut path = Vec::new();
    many_rec(trees, names, &mut path, f)
}

/// How a node of a tree is described in a mismatch: "a tuple of 2 elements",
/// "a dict with keys (b, w)", "a float".
fn node_desc(v: &Value) -> String {
    match v {
        Value::Tuple(t) => format!("a tuple of {} element{}", t.len(), if t.len() == 1 { "" } else { "s" }),
        Value::Dict(d) => {
            let keys: Vec<String> = d.keys().map(|k| dict_key(k)).collect();
            format!("a dict with keys ({})", keys.join(", "))
        }
        Value::None => "none".into(),
        other => {
            let d = other.describe();
            let article = if d.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {d}")
        }
    }
}

fn many_rec(
    trees: &[Value],
    names: &[&str],
    path: &mut Vec<PathStep>,
    f: &mut LeavesFn<'_>,
) -> Result<Value, Diagnostic> {
    check_depth(path)?;
    let first = &trees[0];
    for (i, t) in trees.iter().enumerate().skip(1) {
        let differs = match (first, t) {
            (Value::Tuple(a), Value::Tuple(b)) => a.len() != b.len(),
            (Value::Dict(a), Value::Dict(b)) => !a.keys().eq(b.keys()),
            (a, b) => matches!(a, Value::Tuple(_) | Value::Dict(_)) || matches!(b, Value::Tuple(_) | Value::Dict(_)),
        };
        if differs {
            let name = |k: usize| names.get(k).copied().unwrap_or("a tree");
            return Err(Diagnostic::new(
                ErrorKind::Value,
                format!(
                    "tree structures differ at {}: {} has {} but {} has {}",
                    path_string(path),
                    name(0),
                    node_desc(first),
                    name(i),
                    node_desc(t)
                ),
            ));
        }
    }
    match first {
        Value::Tuple(a) => {
            let mut out = Vec::with_capacity(a.len());
            for i in 0..a.len() {
                let sub: Vec<Value> = trees
                    .iter()
                    .map(|t| match t {
                        Value::Tuple(x) => x[i].clone(),
                        _ => Value::None,
                    })
                    .collect();
                path.push(PathStep::Index(i));
                let r = many_rec(&sub, names, path, f);
                path.pop();
                out.push(r?);
            }
            Ok(Value::Tuple(Tuple::from(out)))
        }
        Value::Dict(a) => {
            let mut out = Vec::with_capacity(a.len());
            for k in a.keys() {
                let sub: Vec<Value> = trees
                    .iter()
                    .map(|t| match t {
                        Value::Dict(x) => x.get(k).cloned().unwrap_or(Value::None),
                        _ => Value::None,
                    })
                    .collect();
                path.push(PathStep::Key(k.clone()));
                let r = many_rec(&sub, names, path, f);
                path.pop();
                out.push((k.clone(), r?));
            }
            // The keys come in the dict's own (sorted) order.
            Ok(Value::Dict(Dict::from_sorted_unique(out.into_iter())))
        }
        _ => f(trees, path),
    }
}

/// Whether a leaf can be differentiated: a float or a float tensor. A bool
/// tensor is data, as a bool is (JAX refuses bool inputs to `grad`): its
/// entries have no neighbourhood to move in, and a gradient for it would be
/// zero or not, depending on whether an operation kept it bool.
pub fn is_differentiable(v: &Value) -> bool {
    match v.peek() {
        Value::Float(_) => true,
        Value::Tensor(t) => !t.is_bool(),
        _ => false,
    }
}

/// Whether a leaf is numeric data: a float or a tensor of any dtype. A
/// traced graph or a jit plan takes it as an input and gives it as an
/// output (a bool mask changes from call to call as a float tensor does),
/// and as a result of a differentiated function it carries a derivative (a
/// zero one for a bool tensor: `jvp` gives it a tangent of zeros).
pub fn is_array_leaf(v: &Value) -> bool {
    matches!(v.peek(), Value::Float(_) | Value::Tensor(_))
}

/// The error for a leaf missing where a structure was expected.
pub fn structure_error(msg: impl Into<String>) -> Diagnostic {
    Diagnostic::new(ErrorKind::Value, msg)
}

/// Tree walks recurse per level: refuse absurdly deep structures instead of overflowing the stack.
fn check_depth(path: &[PathStep]) -> Result<(), Diagnostic> {
    check_depth_at(path.len())
}

/// [`check_depth`] for a leaf or node `depth` steps below the root.
fn check_depth_at(depth: usize) -> Result<(), Diagnostic> {
    if depth > crate::value::MAX_DEPTH {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "this structure is nested more than {} levels deep",
                crate::value::MAX_DEPTH
            ),
        ));
    }
    Ok(())
}
