//! Sorting and scans along an axis: `sort`, `argsort`, `partition`,
//! `argpartition`, `topk`, `unique`, `cumsum`, `cumprod`, `diff`. The orders come from the `dp_tensor`
//! kernels on the concrete values; the differentiable results are gathers
//! (`Take`) at those positions, or compositions of slices and `concat`, so
//! derivatives of every order come from existing primitives.

use super::args::*;
use super::arrange::{concat, slice_axis};
use crate::autodiff::trace::{batch_axes, is_batched, rewrap_batches};
use crate::builtins::{int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, apply, shape_of, Prim};
use crate::prim::as_tensor;
use crate::value::Value;
use dp_tensor::{normalize_axis, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

/// The axis argument `i` of the call, normalised against `x`'s (example) shape.
fn axis_of(a: &crate::builtins::Call<'_>, i: usize, x: &Value) -> R<usize> {
    let nd = shape_of(x).len();
    let ax = int_arg(a.name(), "axis", a.value(i)).map_err(at_param(a, i))?;
    te(normalize_axis(ax, nd)).map_err(|d| label_param(at_param(a, i)(d), a, 0, x))
}

/// Runs a kernel producing indices on the concrete data of `x` along
/// `axis` (an example's axis). Inside `vmap` the batch axes lead the data,
/// so the kernel runs on all examples at once and the result is wrapped
/// back as batched (indices are constants: no derivative).
pub(super) fn indices_along(
    x: &Value,
    axis: usize,
    kernel: impl Fn(&Tensor, usize) -> dp_tensor::Result<Tensor>,
) -> R<Value> {
    let k = batch_axes(x);
    let full = as_tensor(x)?;
    let r = ops::from_tensor(te(kernel(&full, axis + k))?);
    Ok(if k > 0 { rewrap_batches(x, r) } else { r })
}

/// The indices that sort each lane of `x` along `axis` (see
/// [`crate::prim::order::sort_order`]). Of a value a running trace computed,
/// a recorded primitive (a jit plan sorts its new inputs), batched by its
/// rule inside `vmap`.
pub(super) fn order_along(x: &Value, axis: usize, descending: bool) -> R<Value> {
    if crate::autodiff::trace::is_traced(x) {
        return apply(
            &Prim::Order(crate::prim::Order::Sort { axis, descending }),
            std::slice::from_ref(x),
        );
    }
    indices_along(x, axis, |t, ax| crate::prim::order::sort_order(t, ax, descending))
}

/// `x` gathered along `axis` at `idx` (shaped like `x` except along
/// `axis`): one `Take` from the flattened `x` at flat row-major positions,
/// so the gradient is the matching scatter and every order records again.
pub(super) fn gather_along(x: &Value, idx: &Value, axis: usize) -> R<Value> {
    let shape = shape_of(x);
    let ishape = shape_of(idx);
    let strides: Vec<usize> = (0..shape.len()).map(|d| shape[d + 1..].iter().product()).collect();
    let m: usize = ishape.iter().product();
    // The position of each index's lane start: all coordinates but `axis`.
    let mut base = Vec::with_capacity(m);
    for flat in 0..m {
        let (mut rem, mut off) = (flat, 0);
        for d in (0..ishape.len()).rev() {
            let c = rem % ishape[d];
            rem /= ishape[d];
            if d != axis {
                off += c * strides[d];
            }
        }
        base.push(off as f64);
    }
    let base = ops::from_tensor(te(Tensor::from_vec(base, &ishape))?);
    let pos = ops::add(&ops::scale(idx, strides[axis] as f64)?, &base)?;
    let n: usize = shape.iter().product();
    let flat = ops::reshape(x, &[n])?;
    apply(&Prim::Take(crate::prim::Take(0)), &[flat, pos])
}

/// The running combination of `x` along `axis`: slices combined one after
/// another and joined again, so it differentiates like its parts (and works
/// with zeros, unlike a quotient formula).
fn scan(x: &Value, axis: usize, step: impl Fn(&Value, &Value) -> R<Value>) -> R<Value> {
    let n = shape_of(x)[axis] as i64;
    if n == 0 {
        return Ok(x.clone());
    }
    let mut acc = slice_axis(x, axis, Some(0), Some(1), 1)?;
    let mut parts = vec![acc.clone()];
    for i in 1..n {
        acc = step(&acc, &slice_axis(x, axis, Some(i), Some(i + 1), 1)?)?;
        parts.push(acc.clone());
    }
    concat(&parts, axis)
}

/// The scan builtins' input and axis: flattened when `axis` is none.
fn scan_input(a: &crate::builtins::Call<'_>) -> R<(Value, usize)> {
    let x = numeric(a.name(), a.value(0))?;
    let x = if shape_of(&x).is_empty() {
        ops::reshape(&x, &[1])?
    } else {
        x
    };
    match a.value(1) {
        Value::None => {
            let n = shape_of(&x).iter().product();
            Ok((ops::reshape(&x, &[n])?, 0))
        }
        _ => {
            let ax = axis_of(a, 1, &x)?;
            Ok((x, ax))
        }
    }
}

/// An error for a 0-d argument of a builtin that works along an axis.
fn needs_axis(a: &crate::builtins::Call<'_>, x: &Value) -> R<()> {
    if shape_of(x).is_empty() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{}` needs a tensor with at least one axis, found a 0-d value",
                a.name()
            ),
        )
        .at(a.span_at(0)));
    }
    Ok(())
}

/// `partition`'s and `argpartition`'s input and axis (the flattened input
/// when `axis` is none), after checking every `kth` against the axis size.
fn partition_input(a: &crate::builtins::Call<'_>) -> R<(Value, usize)> {
    let x = numeric(a.name(), a.value(0))?;
    let (x, axis) = match a.value(2) {
        Value::None => {
            let n = shape_of(&x).iter().product();
            (ops::reshape(&x, &[n])?, 0)
        }
        _ => {
            needs_axis(a, &x)?;
            let ax = axis_of(a, 2, &x)?;
            (x, ax)
        }
    };
    let n = shape_of(&x)[axis] as i64;
    let kth: Vec<i64> = match a.value(1) {
        Value::Tuple(t) => t.iter().map(|k| int_arg(a.name(), "kth", k)).collect::<R<_>>(),
        k => int_arg(a.name(), "kth", k).map(|k| vec![k]),
    }
    .map_err(at_param(a, 1))?;
    if let Some(k) = kth.iter().find(|&&k| k < -n || k >= n) {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{}`: kth = {k} is out of range for an axis of size {n} (valid: {}..={})",
                a.name(),
                -n,
                n - 1
            ),
        )
        .at(a.span_at(1)));
    }
    Ok((x, axis))
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "sort(x: tensor, axis: int = -1, descending: bool = false) -> tensor",
            summary: "The elements of `x` sorted along `axis`, ascending (NaNs last, as NumPy) or with `descending=true` descending (NaNs first).",
            doc: "Differentiable to any order: the gradient flows back to the position each element came from (ties keep their order, as a stable sort; `descending` as `jax.numpy.sort`).",
            example: "sort(tensor([3.0, 1.0, 2.0]))  # [1.0, 2.0, 3.0]",
        },
        |_, a| {
            let x = numeric("sort", a.value(0))?;
            needs_axis(&a, &x)?;
            let axis = axis_of(&a, 1, &x)?;
            let desc = a.bool(2)?;
            let idx = order_along(&x, axis, desc)?;
            gather_along(&x, &idx, axis)
        },
    );
    register(
        t,
        Decl {
            sig: "argsort(x: tensor, axis: int = -1, descending: bool = false) -> tensor",
            summary: "The indices that sort `x` along `axis`, ascending (stable; NaNs last) or with `descending=true` descending.",
            doc: "A tensor of integral floats; no derivative. Both orders are stable as `jax.numpy.argsort`: \
                  equal elements keep their original order (so `descending=true` is not the reverse of the \
                  ascending order when there are ties).",
            example: "argsort(tensor([3.0, 1.0, 2.0]))  # [1.0, 2.0, 0.0]",
        },
        |_, a| {
            let x = numeric("argsort", a.value(0))?;
            needs_axis(&a, &x)?;
            let axis = axis_of(&a, 1, &x)?;
            let desc = a.bool(2)?;
            order_along(&x, axis, desc)
        },
    );
    register(
        t,
        Decl {
            sig: "partition(x: tensor, kth: int | tuple[int], axis: int | none = -1) -> tensor",
            summary: "`x` rearranged along `axis` so that each `kth` element is where sorting would put it, smaller elements before it and larger after (NumPy's `partition`).",
            doc: "`kth` is an int or a tuple of ints, negative counting from the end; `axis=none` partitions the \
                  flattened `x`. dp returns the fully sorted lane (the same as `sort`): it meets NumPy's contract, \
                  which fixes only the `kth` positions and leaves the order on either side unspecified, so elements \
                  away from `kth` may stand elsewhere than in NumPy's result. Differentiable to any order, as `sort`.",
            example: "partition(tensor([3.0, 4.0, 2.0, 1.0]), 2)  # [1.0, 2.0, 3.0, 4.0]",
        },
        |_, a| {
            let (x, axis) = partition_input(&a)?;
            // The ascending stable order is `Tensor::argsort`'s.
            let idx = order_along(&x, axis, false)?;
            gather_along(&x, &idx, axis)
        },
    );
    register(
        t,
        Decl {
            sig: "argpartition(x: tensor, kth: int | tuple[int], axis: int | none = -1) -> tensor",
            summary: "The indices that `partition` `x` along `axis` (NumPy's `argpartition`).",
            doc: "As `partition`, dp returns a full (stable) sort order, `argsort`'s, which meets NumPy's contract. \
                  A tensor of integral floats; no derivative.",
            example: "argpartition(tensor([3.0, 4.0, 2.0, 1.0]), 2)  # [3.0, 2.0, 0.0, 1.0]",
        },
        |_, a| {
            let (x, axis) = partition_input(&a)?;
            order_along(&x, axis, false)
        },
    );
    register(
        t,
        Decl {
            sig: "topk(x: tensor, k: int) -> tuple",
            summary: "The `k` largest elements along the last axis, descending, and their indices: `(values, indices)`.",
            doc: "As `jax.lax.top_k`: of equal elements the lower index comes first; NaN counts as the largest. The values are differentiable to any order (the gradient goes to the picked positions); the indices are integral floats.",
            example: "topk(tensor([1.0, 4.0, 2.0, 3.0]), 2)  # ([4.0, 3.0], [1.0, 3.0])",
        },
        |_, a| {
            let x = numeric("topk", a.value(0))?;
            needs_axis(&a, &x)?;
            let k = a.int(1)?;
            let axis = shape_of(&x).len() - 1;
            let n = shape_of(&x)[axis];
            let k = usize::try_from(k).ok().filter(|&k| k <= n).ok_or_else(|| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`topk`: k = {k} must be between 0 and the size of the last axis ({n})"),
                )
                .at(a.span_at(1))
            })?;
            // Of a value a running trace computed: a recorded primitive, as `order_along`.
            let idx = if crate::autodiff::trace::is_traced(&x) {
                apply(&Prim::Order(crate::prim::Order::TopK { k }), std::slice::from_ref(&x))?
            } else {
                indices_along(&x, axis, |t, _| t.topk(k).map(|(_, i)| i))?
            };
            let values = gather_along(&x, &idx, axis)?;
            Ok(Value::tuple([values, idx]))
        },
    );
    register(
        t,
        Decl {
            sig: "unique(x: tensor, return_index: bool = false, return_inverse: bool = false, return_counts: bool = false) -> tensor | tuple",
            summary: "The sorted distinct values of the flattened `x` (NaNs collapse into one, last), and on request where they are.",
            doc: "As `numpy.unique`: with any of `return_index` (the flat index of each value's first occurrence), \
                  `return_inverse` (for each element of `x`, the index of its value; shaped like `x`) and \
                  `return_counts` (how often each value occurs) the result is a tuple of the values and the \
                  requested extras, in that order; the values keep `x`'s dtype (a bool tensor gives bools), the \
                  extras are integral floats. Its size depends on the \
                  values, so it has no derivative and does not work inside `vmap`.",
            example: "unique(tensor([3.0, 1.0, 3.0, 2.0]))  # [1.0, 2.0, 3.0]",
        },
        |_, a| {
            let x = numeric("unique", a.value(0))?;
            if is_batched(&x) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    "`unique` has a value-dependent size, so it cannot run inside `vmap`".to_string(),
                )
                .cannot_batch()
                .at(a.span));
            }
            let (want_index, want_inverse, want_counts) = (a.bool(1)?, a.bool(2)?, a.bool(3)?);
            let plain = as_tensor(&x)?;
            let u = te(plain.unique_all())?;
            if !(want_index || want_inverse || want_counts) {
                return Ok(ops::from_tensor(u.values));
            }
            let mut out = vec![ops::from_tensor(u.values)];
            if want_index {
                out.push(ops::from_tensor(u.indices));
            }
            if want_inverse {
                // NumPy 2 (and `jax.numpy`) shape the inverse like `x`.
                out.push(ops::from_tensor(te(u.inverse.reshape(plain.shape()))?));
            }
            if want_counts {
                out.push(ops::from_tensor(u.counts));
            }
            Ok(Value::tuple(out))
        },
    );
    register(
        t,
        Decl {
            sig: "cumsum(x: tensor, axis: int = none) -> tensor",
            summary: "Running sums along `axis` (of the flattened `x` when `axis` is none).",
            doc: "Differentiable to any order (the gradient is the reversed running sum of the cotangent).",
            example: "cumsum(tensor([1.0, 2.0, 3.0]))  # [1.0, 3.0, 6.0]",
        },
        |_, a| {
            let (x, axis) = scan_input(&a)?;
            let sums = crate::prim::Prim::Cumsum(crate::prim::Cumsum { axis, reverse: false });
            ops::apply(&sums, &[x])
        },
    );
    register(
        t,
        Decl {
            sig: "cumprod(x: tensor, axis: int = none) -> tensor",
            summary: "Running products along `axis` (of the flattened `x` when `axis` is none).",
            doc: "Differentiable to any order, also where elements are zero (no division is involved).",
            example: "cumprod(tensor([1.0, 2.0, 3.0]))  # [1.0, 2.0, 6.0]",
        },
        |_, a| {
            let (x, axis) = scan_input(&a)?;
            match &x {
                // Plain values: the kernel (the same products in the same order).
                Value::Tensor(t) => Ok(ops::from_tensor(te(t.cumprod(axis))?)),
                _ => scan(&x, axis, ops::mul),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "diff(x: tensor, n: int = 1, axis: int = -1) -> tensor",
            summary: "The `n`-th forward difference `x[i + 1] - x[i]` along `axis` (as `numpy.diff`).",
            doc: "Each difference shortens `axis` by one. Differentiable to any order.",
            example: "diff(tensor([1.0, 4.0, 9.0, 16.0]))  # [3.0, 5.0, 7.0]",
        },
        |_, a| {
            let mut x = numeric("diff", a.value(0))?;
            needs_axis(&a, &x)?;
            let n = a.int(1)?;
            if n < 0 {
                return Err(
                    Diagnostic::new(ErrorKind::Value, format!("`diff`: n = {n} must not be negative")).at(a.span_at(1)),
                );
            }
            let axis = axis_of(&a, 2, &x)?;
            for _ in 0..n {
                if shape_of(&x)[axis] == 0 {
                    break;
                }
                let hi = slice_axis(&x, axis, Some(1), None, 1)?;
                let lo = slice_axis(&x, axis, None, Some(-1), 1)?;
                x = ops::sub(&hi, &lo)?;
            }
            Ok(x)
        },
    );
}
