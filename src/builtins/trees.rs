//! Tree utilities in the style of `jax.tree_util` (docs/language.md §7):
//! flattening a tree to its leaves and a structure, rebuilding it, and
//! `ravel`, which packs every differentiable leaf into one flat vector.
//!
//! As in JAX, `none` is an empty subtree, not a leaf: `tree_flatten` skips it
//! and the structure keeps it, so gradients with `none` entries flatten and
//! rebuild cleanly.

use super::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops;
use crate::prim::{Prim, Slice};
use crate::value::native::native;
use crate::value::tree::{self, path_string};
use crate::value::Value;
use dp_tensor::SliceSpec;
use std::collections::HashMap;
use std::rc::Rc;

/// The placeholder that marks a leaf in a tree structure (printed `"*"`, as
/// JAX prints `PyTreeDef((*, *))`).
const LEAF: &str = "*";

/// The structure of `t`: every leaf but `none` replaced by the placeholder.
fn structure(t: &Value) -> R<Value> {
    let star = Value::str(LEAF);
    tree::map_leaves(t, &mut |x, _| {
        Ok(match x {
            Value::None => Value::None,
            _ => star.clone(),
        })
    })
}

/// The leaves of `t` that are not `none`, in order.
fn leaves_without_none(t: &Value) -> R<Vec<Value>> {
    Ok(tree::leaves(t)?
        .into_iter()
        .filter(|x| !matches!(x, Value::None))
        .collect())
}

/// Rebuilds `def` with its non-`none` leaves taken in order from `leaves`,
/// which must hold exactly as many as the structure has.
fn unflatten(def: &Value, leaves: &[Value]) -> R<Value> {
    let mut next = 0usize;
    let out = tree::map_leaves(def, &mut |x, p| match x {
        Value::None => Ok(Value::None),
        _ => {
            let leaf = leaves.get(next).cloned().ok_or_else(|| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "`tree_unflatten`: the structure has more leaves than the {} given (the first missing one is at {})",
                        leaves.len(),
                        path_string(p)
                    ),
                )
            })?;
            next += 1;
            Ok(leaf)
        }
    })?;
    if next != leaves.len() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`tree_unflatten`: the structure has {next} leaves but {} were given",
                leaves.len()
            ),
        ));
    }
    Ok(out)
}

/// A 1-d view of a differentiable leaf (a float becomes one element).
fn flat(x: &Value) -> R<Value> {
    let n = ops::shape_of(x).iter().product::<usize>();
    ops::reshape(&ops::num(x), &[n])
}

/// Registers the tree utilities.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "tree_flatten(tree) -> tuple",
            summary: "`(leaves, structure)`: the leaves of a tree in order and its structure, for `tree_unflatten`.",
            doc: "`none` is an empty subtree, not a leaf (as in JAX): it is kept in the structure. The \
                  structure is the tree with each leaf replaced by `\"*\"`.",
            example: "tree_flatten({b: (1.0, 2.0), a: 3.0})  # ((3.0, 1.0, 2.0), {a: \"*\", b: (\"*\", \"*\")})",
        },
        |_, a| {
            let tree = a.value(0);
            Ok(Value::tuple([
                Value::tuple(leaves_without_none(tree)?),
                structure(tree)?,
            ]))
        },
    );
    register(
        t,
        Decl {
            sig: "tree_unflatten(structure, leaves: tuple) -> any",
            summary: "Rebuilds a tree from a structure (from `tree_flatten` or `tree_structure`) and its leaves.",
            doc: "The number of leaves must match the structure.",
            example: "let (leaves, s) = tree_flatten({w: 1.0, b: 2.0});\ntree_unflatten(s, map(|x| x * 10, leaves))",
        },
        |_, a| {
            let Value::Tuple(leaves) = a.value(1) else {
                return Err(
                    Diagnostic::new(ErrorKind::Type, "`tree_unflatten` needs the leaves as a tuple").at(a.span_at(1)),
                );
            };
            let leaves: Vec<Value> = leaves.iter().cloned().collect();
            unflatten(a.value(0), &leaves).map_err(|d| d.at(a.span))
        },
    );
    register(
        t,
        Decl {
            sig: "tree_structure(tree) -> any",
            summary: "The structure of a tree: each leaf replaced by `\"*\"`, `none` kept.",
            doc: "Two trees have the same structure when their structures are equal (`==`).",
            example: "tree_structure(({w: 1.0}, none))  # ({w: \"*\"}, none)",
        },
        |_, a| structure(a.value(0)),
    );
    register(
        t,
        Decl {
            sig: "ravel(tree) -> tuple",
            summary: "`(flat, unravel)`: the float and tensor leaves of a tree joined into one vector, and the \
                      function that rebuilds the tree from such a vector.",
            doc: "Both directions are differentiable, so `grad(|v| loss(unravel(v)))` and a Newton step on \
                  `flat` work. Other leaves (ints, strings, `none`) are not in the vector; `unravel` puts \
                  them back unchanged.",
            example: "let (v, unravel) = ravel({w: ones((2, 2)), b: 0.5});\nunravel(v * 2.0)",
        },
        |_, a| {
            let tree = a.value(0).clone();
            let mut parts = Vec::new();
            // (position in the vector, leaf shape) of each differentiable leaf, in order.
            let mut layout: Vec<(usize, Vec<usize>, bool)> = Vec::new();
            let mut at = 0usize;
            for leaf in tree::leaves(&tree)? {
                if tree::is_differentiable(&leaf) {
                    let shape = ops::shape_of(&leaf);
                    let n: usize = shape.iter().product();
                    let is_float = matches!(leaf.peek(), Value::Float(_));
                    layout.push((at, shape, is_float));
                    parts.push(flat(&leaf)?);
                    at += n;
                }
            }
            let total = at;
            let flat_vec = if parts.is_empty() {
                Value::Tensor(Rc::new(dp_tensor::Tensor::zeros(&[0]).map_err(ops::tensor_error)?))
            } else {
                ops::apply(&Prim::Concat(crate::prim::Concat(0)), &parts)?
            };
            let unravel = native("unravel", move |_, args| {
                let [v] = args.pos.as_slice() else {
                    return Err(Diagnostic::new(ErrorKind::Arity, "`unravel` takes one vector").at(args.span));
                };
                let v = ops::num(v);
                let shape = ops::shape_of(&v);
                if shape != [total] {
                    return Err(Diagnostic::new(
                        ErrorKind::Shape,
                        format!("`unravel` needs a vector of {total} elements, found {}", v.describe()),
                    )
                    .at(args.span));
                }
                let mut k = 0usize;
                tree::map_leaves(&tree, &mut |leaf, _| {
                    if !tree::is_differentiable(leaf) {
                        return Ok(leaf.clone());
                    }
                    // `tree` is the tree `layout` was built from: its k-th differentiable leaf has an entry.
                    let (start, shape, is_float) = &layout[k];
                    k += 1;
                    let n: usize = shape.iter().product();
                    let spec = SliceSpec::Range {
                        start: Some(*start as i64),
                        stop: Some((*start + n) as i64),
                        step: 1,
                    };
                    let piece = ops::apply(&Prim::Slice(Slice(vec![spec].into())), std::slice::from_ref(&v))?;
                    if *is_float {
                        // A float leaf comes back a float (a 0-d value), as it went in.
                        ops::reshape(&piece, &[])
                    } else {
                        ops::reshape(&piece, shape)
                    }
                })
                .map_err(|d| d.at(args.span))
            });
            Ok(Value::tuple([flat_vec, unravel]))
        },
    );
}
