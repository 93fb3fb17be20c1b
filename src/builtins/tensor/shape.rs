//! Shape builtins: `size`, `shape`, `reshape`, `flatten`, `squeeze`,
//! `expand_dims`, `broadcast_to`, `concat`, `stack`, `take`, `tolist`,
//! `stop_gradient`.

use super::args::*;
use crate::builtins::{arg_type, int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::literal::property;
use crate::ops::{self, apply, as_tensor, shape_of, Prim};
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "size(x: tensor) -> int",
            summary: "The number of elements (`x.size`).",
            doc: "",
            example: "size(zeros((2, 3)))  # 6",
        },
        |_, a| property("size", &numeric("size", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "shape(x: tensor) -> tuple",
            summary: "The shape as a tuple of ints (`x.shape`).",
            doc: "",
            example: "shape(zeros((2, 3)))  # (2, 3)",
        },
        |_, a| property("shape", &numeric("shape", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "ndim(x: tensor) -> int",
            summary: "The number of axes (`x.ndim`).",
            doc: "",
            example: "ndim(zeros((2, 3)))  # 2",
        },
        |_, a| property("ndim", &numeric("ndim", a.value(0))?),
    );
    register(
        t,
        Decl {
            sig: "reshape(x: tensor, shape: shape, *more: int) -> tensor",
            summary: "`x` with the same elements in a new shape.",
            doc: "The shape is a tuple `reshape(x, (2, 3))` or the sizes one by one `reshape(x, 2, 3)`. One entry may be -1: it is inferred from the others.",
            example: "reshape(arange(6), (2, -1)).shape  # (2, 3)",
        },
        |_, a| {
            let x = numeric("reshape", a.value(0))?;
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let want: Vec<i64> = match a.value(1) {
                // Sizes one by one (`reshape(x, 2, 3)`): each is an int.
                first if !a.rest().is_empty() => std::iter::once(first)
                    .chain(a.rest())
                    .map(|d| int_arg("reshape", "a shape entry", d))
                    .collect::<R<_>>()
                    .map_err(bad)?,
                Value::Tuple(t) => t
                    .iter()
                    .map(|d| int_arg("reshape", "a shape entry", d))
                    .collect::<R<_>>()
                    .map_err(bad)?,
                Value::Tensor(t) if t.ndim() == 1 => t
                    .to_vec()
                    .iter()
                    .map(|d| int_arg("reshape", "a shape entry", &Value::Float(*d)))
                    .collect::<R<_>>()
                    .map_err(bad)?,
                other => vec![int_arg("reshape", "the shape", other)
                    .map_err(|_| arg_type("reshape", "the shape", "an int or a tuple of ints", other))
                    .map_err(bad)?],
            };
            // Resolved against the shape seen here (inside `vmap`, one example's).
            let seen = if crate::autodiff::trace::is_batched(&x) {
                std::rc::Rc::new(te(dp_tensor::Tensor::zeros(&shape_of(&x)))?)
            } else {
                // The shape only (`peek`: not a read of the elements).
                as_tensor(x.peek())?
            };
            let shape = te(seen.resolve_reshape(&want)).map_err(|d| bad(as_shape_error(d)))?;
            ops::reshape(&x, &shape)
        },
    );
    register(
        t,
        Decl {
            sig: "flatten(x: tensor) -> tensor",
            summary: "`x` as a 1-d tensor.",
            doc: "",
            example: "flatten(ones((2, 2)))  # [1.0, 1.0, 1.0, 1.0]",
        },
        |_, a| {
            let x = numeric("flatten", a.value(0))?;
            let n: usize = shape_of(&x).iter().product();
            ops::reshape(&x, &[n])
        },
    );
    register(
        t,
        Decl {
            sig: "squeeze(x: tensor, axis: int | tuple[int] = none) -> tensor",
            summary: "`x` without its axes of size 1 (all of them, or the given ones).",
            doc: "",
            example: "squeeze(zeros((1, 3, 1))).shape  # (3,)",
        },
        |_, a| {
            let x = numeric("squeeze", a.value(0))?;
            let s = shape_of(&x);
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let axes = axes_arg("squeeze", a.given(1), s.len()).map_err(bad)?;
            let out: Vec<usize> = match &axes {
                None => s.iter().copied().filter(|&d| d != 1).collect(),
                Some(ax) => {
                    if let Some(&i) = ax.iter().find(|&&i| s[i] != 1) {
                        return Err(bad(Diagnostic::new(
                            ErrorKind::Shape,
                            format!(
                                "`squeeze`: axis {i} of a tensor of shape {} has size {}, not 1",
                                format_shape(&s),
                                s[i]
                            ),
                        )));
                    }
                    s.iter()
                        .enumerate()
                        .filter(|(i, _)| !ax.contains(i))
                        .map(|(_, &d)| d)
                        .collect()
                }
            };
            ops::reshape(&x, &out)
        },
    );
    register(
        t,
        Decl {
            sig: "expand_dims(x: tensor, axis: int) -> tensor",
            summary: "`x` with a new axis of size 1 at `axis`.",
            doc: "",
            example: "expand_dims(zeros(3), 0).shape  # (1, 3)",
        },
        |_, a| {
            let x = numeric("expand_dims", a.value(0))?;
            let mut s = shape_of(&x);
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let ax = int_arg("expand_dims", "axis", a.value(1)).map_err(bad)?;
            let axis = normalize_axis(ax, s.len() + 1).map_err(|_| {
                let of = format!(
                    "a tensor with {} dimension{}",
                    s.len(),
                    if s.len() == 1 { "" } else { "s" }
                );
                bad(axis_error("expand_dims", ax, s.len() + 1, &of))
            })?;
            s.insert(axis, 1);
            ops::reshape(&x, &s)
        },
    );
    register(
        t,
        Decl {
            sig: "broadcast_to(x: tensor, shape: shape) -> tensor",
            summary: "`x` repeated along axes to the given shape (NumPy broadcasting).",
            doc: "The gradient sums over the repeated axes.",
            example: "broadcast_to(tensor([1.0, 2.0]), (3, 2)).shape  # (3, 2)",
        },
        |_, a| {
            let x = numeric("broadcast_to", a.value(0))?;
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let s = shape_arg("broadcast_to", a.value(1)).map_err(bad)?;
            // A check of the shapes only, of one example under `vmap` (not a
            // read of the elements).
            let seen = crate::autodiff::trace::shape_seen(&x);
            let example = te(dp_tensor::Tensor::scalar(0.0).broadcast_to(&seen)).map_err(bad)?;
            te(example.broadcast_to(&s)).map_err(bad)?;
            ops::broadcast_to(&x, &s)
        },
    );
    for (decl, stack) in [
        (
            Decl {
                sig: "concat(xs: tuple, axis: int = 0) -> tensor",
                summary: "The tensors of `xs` joined along an existing axis.",
                doc: "All other axes must agree.",
                example: "concat((ones(2), zeros(3)))  # [1.0, 1.0, 0.0, 0.0, 0.0]",
            },
            false,
        ),
        (
            Decl {
                sig: "stack(xs: tuple, axis: int = 0) -> tensor",
                summary: "The tensors of `xs` (all of one shape) stacked along a new axis.",
                doc: "",
                example: "stack((ones(2), zeros(2))).shape  # (2, 2)",
            },
            true,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let xs = tuple_of_tensors(name, a.value(0)).map_err(at_param(&a, 0))?;
            if xs.is_empty() {
                return Err(
                    Diagnostic::new(ErrorKind::Value, format!("`{name}` needs at least one tensor")).at(a.span_at(0)),
                );
            }
            let nd = shape_of(&xs[0]).len() + usize::from(stack);
            let axis = axis_arg(name, a.given(1), nd, 0).map_err(at_param(&a, 1))?;
            apply(
                &if stack {
                    Prim::Stack(crate::prim::Stack(axis))
                } else {
                    Prim::Concat(crate::prim::Concat(axis))
                },
                &xs,
            )
            .map_err(|d| at_param(&a, 0)(as_shape_error(d)))
        });
    }
    register(
        t,
        Decl {
            sig: "take(x: tensor, indices: tensor, axis: int = 0) -> tensor",
            summary: "The slices of `x` at `indices` along `axis` (gathering rows by default).",
            doc: "Indices must be integers; negative ones count from the end. The gradient adds into the taken slices.",
            example: "take(tensor([10.0, 20.0, 30.0]), tensor([2, 0]))  # [30.0, 10.0]",
        },
        |_, a| {
            let x = numeric("take", a.value(0))?;
            let idx = tensor_value(a.value(1)).map_err(at_param(&a, 1))?;
            let axis = axis_arg("take", a.given(2), shape_of(&x).len(), 0)
                .map_err(|d| label_param(at_param(&a, 2)(d), &a, 0, &x))?;
            // Indices are not differentiated, but batched ones (inside `vmap`) stay batched.
            let idx = crate::autodiff::trace::strip_diff(&idx);
            apply(&Prim::Take(crate::prim::Take(axis)), &[x.clone(), idx])
                .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))
        },
    );
    register(
        t,
        Decl {
            sig: "tolist(x: tensor) -> tuple",
            summary:
                "The elements of `x` as nested tuples of floats (a float for a 0-d tensor); of bools for a bool tensor.",
            doc: "",
            example: "tolist(tensor([[1, 2], [3, 4]]))  # ((1.0, 2.0), (3.0, 4.0))",
        },
        |_, a| {
            let xv = numeric("tolist", a.value(0))?;
            // Every level of nesting is a tuple per entry of the axes above it: a
            // zero-size tensor with a huge leading axis is a huge tuple of `()`s,
            // which must be reported before it is built.
            let mut rows: u128 = 1;
            for &d in &shape_of(&xv) {
                rows = rows.saturating_mul(d as u128);
                crate::value::tuple::check_len(rows).map_err(|d| d.at(a.span_of(0)))?;
            }
            if matches!(xv, Value::Dual(_)) {
                // Being differentiated: split by indexing, which is recorded, so the leaves carry gradients.
                fn split(x: &Value) -> R<Value> {
                    let n = match shape_of(x).first() {
                        None => return ops::reshape(x, &[]),
                        Some(&n) => n,
                    };
                    let mut items = Vec::with_capacity(n);
                    for i in 0..n {
                        let row = apply(
                            &Prim::Slice(crate::prim::Slice(vec![dp_tensor::SliceSpec::Index(i as i64)].into())),
                            std::slice::from_ref(x),
                        )?;
                        items.push(split(&row)?);
                    }
                    Ok(Value::Tuple(crate::value::Tuple::from(items)))
                }
                return split(&xv);
            }
            crate::autodiff::vmap::require_unbatched(&xv, "`tolist`").map_err(|d| d.at(a.span))?;
            let x = as_tensor(&xv)?;
            // A bool tensor's leaves are bools, as NumPy's `tolist` gives Python bools.
            fn build(data: &[f64], shape: &[usize], bools: bool) -> Value {
                match shape.split_first() {
                    None => {
                        let v = data.first().copied().unwrap_or(0.0);
                        if bools {
                            Value::Bool(v != 0.0)
                        } else {
                            Value::Float(v)
                        }
                    }
                    Some((&n, rest)) => {
                        let step: usize = rest.iter().product();
                        Value::tuple((0..n).map(|i| build(&data[i * step..], rest, bools)))
                    }
                }
            }
            Ok(build(&x.to_vec(), x.shape(), x.is_bool()))
        },
    );
    register(
        t,
        Decl {
            sig: "stop_gradient(x)",
            summary: "`x` itself, treated as a constant by differentiation.",
            doc: "Applies to every leaf of a tree.",
            example: "grad(|x| x * stop_gradient(x))(3.0)  # 3.0",
        },
        |_, a| crate::value::tree::map_leaves(a.value(0), &mut |x, _| Ok(crate::autodiff::trace::strip_diff(x))),
    );
}

pub(super) fn tuple_of_tensors(fname: &str, v: &Value) -> R<Vec<Value>> {
    match v {
        Value::Tuple(items) => items.iter().map(|x| numeric(fname, x)).collect(),
        other => Err(arg_type(fname, "its first argument", "a tuple of tensors", other)),
    }
}
