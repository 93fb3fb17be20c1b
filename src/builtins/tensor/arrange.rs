//! Rearranging tensors (NumPy names): `flip`, `roll`, `rot90`, `pad`,
//! `repeat`, `tile`, `moveaxis`, `swapaxes`, `split`/`array_split`/
//! `hsplit`/`vsplit`, `vstack`/`hstack`/`dstack`/`column_stack`,
//! `atleast_1d/2d/3d`, `meshgrid`. Each is written with the linear shape
//! primitives (slices, `take`, `concat`, transposes, reshapes), so
//! derivatives of every order come from theirs.

use super::args::*;
use crate::builtins::{int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, apply, shape_of, Prim};
use crate::value::Value;
use dp_tensor::{normalize_axis, SliceSpec, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

fn err(kind: ErrorKind, msg: String) -> Diagnostic {
    Diagnostic::new(kind, msg)
}

/// A constant tensor of indices.
fn index_tensor(idx: Vec<usize>) -> R<Value> {
    let n = idx.len();
    Ok(Value::Tensor(Rc::new(te(Tensor::from_vec(
        idx.into_iter().map(|i| i as f64).collect(),
        &[n],
    ))?)))
}

/// `x` gathered at `idx` along `axis`.
fn take(x: &Value, idx: Vec<usize>, axis: usize) -> R<Value> {
    apply(&Prim::Take(crate::prim::Take(axis)), &[x.clone(), index_tensor(idx)?])
}

/// `x[..., start:stop:step, ...]` along `axis`.
pub(super) fn slice_axis(x: &Value, axis: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> R<Value> {
    let mut specs = vec![SliceSpec::full(); axis];
    specs.push(SliceSpec::Range { start, stop, step });
    apply(&Prim::Slice(crate::prim::Slice(specs.into())), std::slice::from_ref(x))
}

/// Joins along `axis`.
pub(super) fn concat(xs: &[Value], axis: usize) -> R<Value> {
    apply(&Prim::Concat(crate::prim::Concat(axis)), xs).map_err(as_shape_error)
}

/// The ints of an int or a tuple of ints.
fn ints(fname: &str, what: &str, v: &Value) -> R<Vec<i64>> {
    match v {
        Value::Tuple(t) => t.iter().map(|x| int_arg(fname, what, x)).collect(),
        other => Ok(vec![int_arg(fname, what, other)?]),
    }
}

/// Normalised axes of an int / tuple argument (`None` or `none`: all axes).
fn axes_or_all(fname: &str, v: Option<&Value>, nd: usize) -> R<Vec<usize>> {
    match v {
        None | Some(Value::None) => Ok((0..nd).collect()),
        Some(v) => ints(fname, "axis", v)?
            .into_iter()
            .map(|a| te(normalize_axis(a, nd)))
            .collect(),
    }
}

/// `x` reversed along `axes`.
pub(super) fn flip(x: &Value, axes: &[usize]) -> R<Value> {
    let mut specs = Vec::new();
    let last = axes.iter().copied().max().map_or(0, |m| m + 1);
    for i in 0..last {
        specs.push(if axes.contains(&i) {
            SliceSpec::Range {
                start: None,
                stop: None,
                step: -1,
            }
        } else {
            SliceSpec::full()
        });
    }
    if specs.is_empty() {
        return Ok(x.clone());
    }
    apply(&Prim::Slice(crate::prim::Slice(specs.into())), std::slice::from_ref(x))
}

/// How `pad` fills past the ends of an axis from the axis itself.
#[derive(Clone, Copy)]
enum PadMode {
    Edge,
    Reflect,
    Symmetric,
    Wrap,
}

impl PadMode {
    /// The position in `0..n` (`n > 0`) whose element lands at position `i`
    /// of the padded axis (`i < 0` before the start, `i >= n` past the end).
    /// NumPy pads a width past `n` by repeating the reflection (or wrap), so
    /// each mode is periodic: this closed form gives the same elements.
    fn source(self, i: i64, n: usize) -> usize {
        let n = n as i64;
        let j = match self {
            PadMode::Edge => i.clamp(0, n - 1),
            PadMode::Wrap => i.rem_euclid(n),
            // Period 2n - 2: ..., 2, 1, | 0, 1, ..., n - 1, | n - 2, ...
            PadMode::Reflect if n == 1 => 0,
            PadMode::Reflect => {
                let p = i.rem_euclid(2 * n - 2);
                if p < n {
                    p
                } else {
                    2 * n - 2 - p
                }
            }
            // Period 2n: ..., 1, 0, | 0, 1, ..., n - 1, | n - 1, ...
            PadMode::Symmetric => {
                let p = i.rem_euclid(2 * n);
                if p < n {
                    p
                } else {
                    2 * n - 1 - p
                }
            }
        };
        // Every branch lands in 0..n.
        j as usize
    }
}

/// The fill of `pad`'s constant mode, in the element type of the padded
/// tensor: NumPy casts `constant_values` to the array's dtype, so a bool
/// tensor stays bool and is padded with `false` (with `true` for any
/// non-zero constant, NaN included, as `astype(bool)` reads it).
#[derive(Clone, Copy)]
enum PadConstant {
    Float(f64),
    Bool(bool),
}

impl PadConstant {
    /// A block of `shape` filled with the constant.
    fn block(self, shape: &[usize]) -> R<Tensor> {
        Ok(match self {
            PadConstant::Float(c) => te(Tensor::full(shape, c))?,
            PadConstant::Bool(b) => te(Tensor::full(shape, f64::from(u8::from(b))))?.marked_bool(),
        })
    }
}

/// `pad`'s `constant_values` (argument 3) for the tensor `x`: a number, or
/// a bool (`true` is 1.0 for a float tensor, as NumPy casts it).
fn pad_constant(a: &crate::builtins::Call<'_>, x: &Value) -> R<PadConstant> {
    let c = match a.value(3) {
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => a.float(3)?,
    };
    Ok(if super::dtype_name(x) == Some("bool") {
        PadConstant::Bool(c != 0.0)
    } else {
        PadConstant::Float(c)
    })
}

/// Swaps two axes.
fn swapaxes(x: &Value, a: usize, b: usize) -> R<Value> {
    let mut perm: Vec<usize> = (0..shape_of(x).len()).collect();
    perm.swap(a, b);
    ops::transpose(x, &perm)
}

/// NumPy `atleast_{1,2,3}d` of one value.
fn atleast(x: &Value, n: usize) -> R<Value> {
    let s = shape_of(x);
    if s.len() >= n {
        return Ok(x.clone());
    }
    let want: Vec<usize> = match (n, s.len()) {
        (_, 0) => vec![1; n],
        (2, 1) => vec![1, s[0]],
        (3, 1) => vec![1, s[0], 1],
        (3, 2) => vec![s[0], s[1], 1],
        _ => s.clone(),
    };
    ops::reshape(x, &want)
}

/// The pieces of `x` split along `axis` at the given boundaries.
fn split_at(x: &Value, axis: usize, bounds: &[usize]) -> R<Value> {
    let n = shape_of(x)[axis];
    let mut parts = Vec::new();
    let mut start = 0usize;
    for &b in bounds.iter().chain(std::iter::once(&n)) {
        let (s, e) = (start.min(n), b.clamp(start.min(n), n));
        parts.push(slice_axis(x, axis, Some(s as i64), Some(e as i64), 1)?);
        start = e.max(b.min(n));
    }
    Ok(Value::tuple(parts))
}

/// Boundaries for `sections` pieces of `n` elements: equal ones, or (`uneven`)
/// the first `n % sections` one longer, as NumPy's `array_split`.
fn section_bounds(fname: &str, n: usize, sections: i64, uneven: bool) -> R<Vec<usize>> {
    if sections <= 0 {
        return Err(err(
            ErrorKind::Value,
            format!("`{fname}`: the number of sections must be positive, found {sections}"),
        ));
    }
    let k = sections as usize;
    // Beyond the axis length the extra sections are empty; a tuple of
    // billions of empty tensors is never meant (and would exhaust memory).
    if k > n.max(1 << 16) {
        return Err(err(
            ErrorKind::Value,
            format!("`{fname}`: {k} sections of an axis of length {n}: all but {n} would be empty"),
        )
        .with_help("ask for at most as many sections as the axis has elements"));
    }
    if !uneven && !n.is_multiple_of(k) {
        return Err(err(
            ErrorKind::Value,
            format!("`{fname}`: an axis of length {n} cannot be split into {k} equal sections"),
        )
        .with_help("`array_split` allows unequal sections"));
    }
    let (q, r) = (n / k, n % k);
    let mut out = Vec::with_capacity(k - 1);
    let mut at = 0;
    for i in 0..k - 1 {
        at += q + usize::from(i < r);
        out.push(at);
    }
    Ok(out)
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "flip(x: tensor, axis: int | tuple[int] = none) -> tensor",
            summary: "`x` with the order of elements reversed along `axis` (all axes by default).",
            doc: "",
            example: "flip(tensor([1.0, 2.0, 3.0]))  # [3.0, 2.0, 1.0]",
        },
        |_, a| {
            let x = numeric("flip", a.value(0))?;
            let axes = axes_or_all("flip", a.given(1), shape_of(&x).len()).map_err(at_param(&a, 1))?;
            flip(&x, &axes)
        },
    );
    register(
        t,
        Decl {
            sig: "roll(x: tensor, shift: int | tuple[int], axis: int | tuple[int] = none) -> tensor",
            summary: "`x` shifted cyclically by `shift` places along `axis` (the flattened `x` by default).",
            doc: "Elements shifted past the end come back at the start; `shift` and `axis` may be tuples of equal length.",
            example: "roll(tensor([1.0, 2.0, 3.0]), 1)  # [3.0, 1.0, 2.0]",
        },
        |_, a| {
            let x = numeric("roll", a.value(0))?;
            let shifts = ints("roll", "shift", a.value(1))?;
            let shape = shape_of(&x);
            let (mut y, axes) = match a.given(2) {
                None | Some(Value::None) => {
                    let n = shape.iter().product();
                    (ops::reshape(&x, &[n])?, vec![0])
                }
                Some(v) => (
                    x.clone(),
                    ints("roll", "axis", v)?
                        .into_iter()
                        .map(|ax| te(normalize_axis(ax, shape.len())))
                        .collect::<R<Vec<_>>>()
                        .map_err(at_param(&a, 2))?,
                ),
            };
            if shifts.len() != axes.len() {
                return Err(err(
                    ErrorKind::Value,
                    format!("`roll`: {} shifts for {} axes", shifts.len(), axes.len()),
                )
                .at(a.span_at(1)));
            }
            for (&s, &ax) in shifts.iter().zip(&axes) {
                let n = shape_of(&y)[ax];
                if n == 0 {
                    continue;
                }
                let s = s.rem_euclid(n as i64) as usize;
                y = take(&y, (0..n).map(|i| (i + n - s) % n).collect(), ax)?;
            }
            match a.given(2) {
                None | Some(Value::None) => ops::reshape(&y, &shape),
                _ => Ok(y),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "rot90(x: tensor, k: int = 1, axes: tuple[int] = none) -> tensor",
            summary: "`x` rotated by 90 degrees `k` times in the plane of `axes` (counter-clockwise, as NumPy).",
            doc: "`axes` defaults to `(0, 1)`.",
            example: concat!(
                "rot90(tensor([[1.0, 2.0], [3.0, 4.0]]))  # [[2.0, 4.0],\n",
                "                                         #  [1.0, 3.0]]",
            ),
        },
        |_, a| {
            let x = numeric("rot90", a.value(0))?;
            let nd = shape_of(&x).len();
            let ax = match a.value(2) {
                Value::None => vec![0, 1],
                v => ints("rot90", "axes", v)?,
            };
            if ax.len() != 2 || nd < 2 {
                return Err(err(
                    ErrorKind::Value,
                    "`rot90` needs two axes of a tensor with at least 2 dimensions".into(),
                )
                .at(a.span));
            }
            let (a0, a1) = (
                te(normalize_axis(ax[0], nd)).map_err(at_param(&a, 2))?,
                te(normalize_axis(ax[1], nd)).map_err(at_param(&a, 2))?,
            );
            if a0 == a1 {
                return Err(err(ErrorKind::Value, "`rot90`: the two axes must differ".into()).at(a.span_at(2)));
            }
            match a.int(1)?.rem_euclid(4) {
                0 => Ok(x),
                1 => swapaxes(&flip(&x, &[a1])?, a0, a1),
                2 => flip(&x, &[a0, a1]),
                _ => flip(&swapaxes(&x, a0, a1)?, &[a1]),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "pad(x: tensor, pad_width: int | tuple, mode: str = \"constant\", constant_values: float | bool = 0.0) -> tensor",
            summary: "`x` extended before and after each axis: with `constant_values`, or by `mode` from its own elements (NumPy's `pad`).",
            doc: "`pad_width` is `n` (every side), `(before, after)` (every axis) or one `(before, after)` per axis. \
                  `mode` is `\"constant\"` (the default), `\"edge\"` (the edge element repeated), `\"reflect\"` \
                  (mirrored without repeating the edge: `[3, 2, | 1, 2, 3]`), `\"symmetric\"` (mirrored with the \
                  edge: `[2, 1, | 1, 2, 3]`) or `\"wrap\"` (periodic), with NumPy's results also for widths past \
                  the axis length. A bool tensor stays bool, padded with `false` (or `true` for a non-zero \
                  constant, as NumPy casts it). Differentiable in `x` to any order (the modes other than constant gather from \
                  `x`, so the gradient adds up where an element was copied).",
            example: "pad(tensor([1.0, 2.0, 3.0]), (2, 1), mode=\"reflect\")  # [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]",
        },
        |_, a| {
            let x = numeric("pad", a.value(0))?;
            let mode = match a.value(2) {
                Value::Str(s) => match &**s {
                    "constant" => None,
                    "edge" => Some(PadMode::Edge),
                    "reflect" => Some(PadMode::Reflect),
                    "symmetric" => Some(PadMode::Symmetric),
                    "wrap" => Some(PadMode::Wrap),
                    _ => None,
                },
                _ => None,
            };
            if mode.is_none() && !matches!(a.value(2), Value::Str(s) if &**s == "constant") {
                return Err(err(
                    ErrorKind::Value,
                    format!(
                        "`pad`: mode must be \"constant\", \"edge\", \"reflect\", \"symmetric\" or \"wrap\", found {}",
                        a.value(2).repr()
                    ),
                )
                .at(a.span_at(2)));
            }
            let c = pad_constant(&a, &x)?;
            let nd = shape_of(&x).len();
            let widths: Vec<(i64, i64)> = match a.value(1) {
                Value::Tuple(t) if t.iter().all(|v| matches!(v, Value::Tuple(_))) => {
                    if t.len() != nd {
                        return Err(err(ErrorKind::Value, format!("`pad`: {} (before, after) pairs for {} axes", t.len(), nd)).at(a.span_at(1)));
                    }
                    t.iter()
                        .map(|p| {
                            let v = ints("pad", "a pad width", p)?;
                            match v[..] {
                                [b, e] => Ok((b, e)),
                                _ => Err(err(ErrorKind::Value, "`pad`: each axis needs (before, after)".into())),
                            }
                        })
                        .collect::<R<_>>()
                        .map_err(at_param(&a, 1))?
                }
                v => match ints("pad", "a pad width", v).map_err(at_param(&a, 1))?[..] {
                    [n] => vec![(n, n); nd],
                    [b, e] => vec![(b, e); nd],
                    _ => return Err(err(ErrorKind::Value, "`pad`: pad_width must be n, (before, after) or one pair per axis".into()).at(a.span_at(1))),
                },
            };
            if widths.iter().any(|&(b, e)| b < 0 || e < 0) {
                return Err(err(ErrorKind::Value, "`pad`: pad widths must be non-negative".into()).at(a.span_at(1)));
            }
            let mut y = x;
            if let Some(mode) = mode {
                if a.given(3).is_some() {
                    return Err(err(
                        ErrorKind::Value,
                        format!("`pad`: constant_values only applies to mode \"constant\", not {}", a.value(2).repr()),
                    )
                    .at(a.span_at(3)));
                }
                for (ax, &(b, e)) in widths.iter().enumerate() {
                    if b == 0 && e == 0 {
                        continue;
                    }
                    let n = shape_of(&y)[ax];
                    if n == 0 {
                        return Err(err(
                            ErrorKind::Value,
                            format!("`pad`: cannot extend the empty axis {ax} with mode {}", a.value(2).repr()),
                        )
                        .at(a.span_at(1))
                        .with_secondary(a.span_at(0), y.describe()));
                    }
                    // The padded shape must fit the memory budget before its index map is built.
                    let mut padded = shape_of(&y);
                    padded[ax] = (n as u64).saturating_add(b as u64).saturating_add(e as u64) as usize;
                    te(dp_tensor::checked_size(&padded)).map_err(at_param(&a, 1))?;
                    // So must the index map itself (the other axes may be empty).
                    te(dp_tensor::checked_size(&padded[ax..=ax])).map_err(at_param(&a, 1))?;
                    let idx: Vec<usize> = (-b..n as i64 + e).map(|i| mode.source(i, n)).collect();
                    y = take(&y, idx, ax)?;
                }
                return Ok(y);
            }
            for (ax, &(b, e)) in widths.iter().enumerate() {
                let mut parts = Vec::new();
                for (w, before) in [(b, true), (e, false)] {
                    if w > 0 {
                        let mut s = shape_of(&y);
                        s[ax] = w as usize;
                        let block = Value::Tensor(Rc::new(c.block(&s)?));
                        parts.push((before, block));
                    }
                }
                let mut all: Vec<Value> = parts.iter().filter(|p| p.0).map(|p| p.1.clone()).collect();
                all.push(y.clone());
                all.extend(parts.iter().filter(|p| !p.0).map(|p| p.1.clone()));
                if all.len() > 1 {
                    y = concat(&all, ax)?;
                }
            }
            Ok(y)
        },
    );
    register(
        t,
        Decl {
            sig: "repeat(x: tensor, repeats: int | tuple[int], axis: int = none) -> tensor",
            summary: "Each element of `x` repeated `repeats` times along `axis` (of the flattened `x` by default).",
            doc: "`repeats` is one count for all, or one count per element along the axis.",
            example: "repeat(tensor([1.0, 2.0]), 2)  # [1.0, 1.0, 2.0, 2.0]",
        },
        |_, a| {
            let x = numeric("repeat", a.value(0))?;
            let (y, ax) = match a.given(2) {
                None | Some(Value::None) => {
                    let n = shape_of(&x).iter().product();
                    (ops::reshape(&x, &[n])?, 0)
                }
                Some(v) => {
                    let nd = shape_of(&x).len();
                    (
                        x.clone(),
                        te(normalize_axis(int_arg("repeat", "axis", v)?, nd)).map_err(at_param(&a, 2))?,
                    )
                }
            };
            let n = shape_of(&y)[ax];
            let reps = ints("repeat", "repeats", a.value(1))?;
            let reps: Vec<i64> = match reps.len() {
                1 => vec![reps[0]; n],
                k if k == n => reps,
                k => {
                    return Err(err(
                        ErrorKind::Value,
                        format!("`repeat`: {k} counts for an axis of length {n}"),
                    )
                    .at(a.span_at(1)))
                }
            };
            if reps.iter().any(|&r| r < 0) {
                return Err(err(ErrorKind::Value, "`repeat`: counts must be non-negative".into()).at(a.span_at(1)));
            }
            // The result's size (and the index list's) is checked before the
            // list is built: `repeat(ones(10), 10**12)` aborted on an 8 TB allocation.
            let total = reps.iter().try_fold(0usize, |acc, &r| acc.checked_add(r as usize));
            let mut out_shape = shape_of(&y);
            out_shape[ax] = total.unwrap_or(usize::MAX);
            let size = te(dp_tensor::checked_size(&out_shape)).map_err(at_param(&a, 1))?;
            let bytes = (size as u128 + out_shape[ax] as u128) * 8;
            te(dp_tensor::check_memory(bytes, || {
                format!("`repeat`'s result of shape {}", dp_tensor::format_shape(&out_shape))
            }))
            .map_err(at_param(&a, 1))?;
            let idx: Vec<usize> = reps
                .iter()
                .enumerate()
                .flat_map(|(i, &r)| std::iter::repeat_n(i, r as usize))
                .collect();
            take(&y, idx, ax)
        },
    );
    register(
        t,
        Decl {
            sig: "tile(x: tensor, reps: int | tuple[int]) -> tensor",
            summary: "`x` repeated as a whole `reps` times along each axis, as NumPy's `tile`.",
            doc: "",
            example: "tile(tensor([1.0, 2.0]), 2)  # [1.0, 2.0, 1.0, 2.0]",
        },
        |_, a| {
            let x = numeric("tile", a.value(0))?;
            let reps = ints("tile", "reps", a.value(1))?;
            if reps.iter().any(|&r| r < 0) {
                return Err(err(ErrorKind::Value, "`tile`: counts must be non-negative".into()).at(a.span_at(1)));
            }
            let s = shape_of(&x);
            let nd = s.len().max(reps.len());
            let s: Vec<usize> = std::iter::repeat_n(1, nd - s.len()).chain(s).collect();
            let r: Vec<usize> = std::iter::repeat_n(1, nd - reps.len())
                .chain(reps.iter().map(|&r| r as usize))
                .collect();
            // (1, d0, 1, d1, ...) broadcast to (r0, d0, r1, d1, ...), then merged pairwise.
            let inter: Vec<usize> = s.iter().flat_map(|&d| [1, d]).collect();
            let wide: Vec<usize> = s.iter().zip(&r).flat_map(|(&d, &k)| [k, d]).collect();
            let out: Vec<usize> = s.iter().zip(&r).map(|(&d, &k)| d * k).collect();
            let y = ops::broadcast_to(&ops::reshape(&x, &inter)?, &wide)?;
            ops::reshape(&y, &out)
        },
    );
    register(
        t,
        Decl {
            sig: "moveaxis(x: tensor, source: int | tuple[int], destination: int | tuple[int]) -> tensor",
            summary: "`x` with axes `source` moved to positions `destination`, the others keeping their order.",
            doc: "",
            example: "moveaxis(zeros((2, 3, 4)), 0, -1).shape  # (3, 4, 2)",
        },
        |_, a| {
            let x = numeric("moveaxis", a.value(0))?;
            let nd = shape_of(&x).len();
            let norm = |i: usize| -> R<Vec<usize>> {
                ints("moveaxis", "an axis", a.value(i))?
                    .into_iter()
                    .map(|v| te(normalize_axis(v, nd)))
                    .collect::<R<_>>()
                    .map_err(at_param(&a, i))
            };
            let (src, dst) = (norm(1)?, norm(2)?);
            if src.len() != dst.len() {
                return Err(err(
                    ErrorKind::Value,
                    "`moveaxis`: source and destination must have the same number of axes".into(),
                )
                .at(a.span));
            }
            let mut order: Vec<usize> = (0..nd).filter(|i| !src.contains(i)).collect();
            let mut pairs: Vec<(usize, usize)> = dst.iter().copied().zip(src.iter().copied()).collect();
            pairs.sort_unstable();
            for (d, s) in pairs {
                order.insert(d.min(order.len()), s);
            }
            ops::transpose(&x, &order)
        },
    );
    register(
        t,
        Decl {
            sig: "swapaxes(x: tensor, axis1: int, axis2: int) -> tensor",
            summary: "`x` with two axes exchanged.",
            doc: "",
            example: "swapaxes(zeros((2, 3)), 0, 1).shape  # (3, 2)",
        },
        |_, a| {
            let x = numeric("swapaxes", a.value(0))?;
            let nd = shape_of(&x).len();
            let p = te(normalize_axis(a.int(1)?, nd)).map_err(at_param(&a, 1))?;
            let q = te(normalize_axis(a.int(2)?, nd)).map_err(at_param(&a, 2))?;
            swapaxes(&x, p, q)
        },
    );
    for (decl, kind) in [
        (
            Decl {
                sig: "split(x: tensor, indices_or_sections: int | tuple[int], axis: int = 0) -> tuple",
                summary: "A tuple of pieces of `x` along `axis`: `n` equal sections, or cut at the given indices.",
                doc: "An int that does not divide the axis length is an error (see `array_split`).",
                example: "split(arange(6), 3)  # ([0.0, 1.0], [2.0, 3.0], [4.0, 5.0])",
            },
            0,
        ),
        (
            Decl {
                sig: "array_split(x: tensor, indices_or_sections: int | tuple[int], axis: int = 0) -> tuple",
                summary: "Like `split`, but `n` sections need not be equal: the first ones get one element more.",
                doc: "",
                example: "array_split(arange(5), 2)  # ([0.0, 1.0, 2.0], [3.0, 4.0])",
            },
            1,
        ),
        (
            Decl {
                sig: "hsplit(x: tensor, indices_or_sections: int | tuple[int]) -> tuple",
                summary: "`split` along axis 1 (axis 0 for a 1-d tensor).",
                doc: "",
                example: "map(shape, hsplit(ones((2, 4)), 2))  # ((2, 2), (2, 2))",
            },
            2,
        ),
        (
            Decl {
                sig: "vsplit(x: tensor, indices_or_sections: int | tuple[int]) -> tuple",
                summary: "`split` along axis 0 of a tensor with at least 2 dimensions.",
                doc: "",
                example: "map(shape, vsplit(ones((4, 2)), 2))  # ((2, 2), (2, 2))",
            },
            3,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let nd = shape_of(&x).len();
            if nd == 0 || (kind == 3 && nd < 2) {
                return Err(err(
                    ErrorKind::Shape,
                    format!(
                        "`{name}` needs a tensor with at least {} dimension(s)",
                        if kind == 3 { 2 } else { 1 }
                    ),
                )
                .at(a.span_at(0)));
            }
            let axis = match kind {
                0 | 1 => axis_arg(name, a.given(2), nd, 0).map_err(at_param(&a, 2))?,
                2 => usize::from(nd > 1),
                _ => 0,
            };
            let n = shape_of(&x)[axis];
            let bounds = match a.value(1) {
                Value::Tuple(items) => items
                    .iter()
                    .map(|v| {
                        let i = int_arg(name, "a split index", v)?;
                        Ok(if i < 0 {
                            (i + n as i64).max(0) as usize
                        } else {
                            i as usize
                        })
                    })
                    .collect::<R<Vec<_>>>()?,
                v => section_bounds(name, n, int_arg(name, "the number of sections", v)?, kind == 1)
                    .map_err(at_param(&a, 1))?,
            };
            split_at(&x, axis, &bounds)
        });
    }
    for (decl, kind) in [
        (
            Decl {
                sig: "vstack(xs: tuple) -> tensor",
                summary: "The tensors of `xs` joined along axis 0, 1-d ones taken as rows.",
                doc: "",
                example: "vstack((tensor([1.0, 2.0]), tensor([3.0, 4.0]))).shape  # (2, 2)",
            },
            0,
        ),
        (
            Decl {
                sig: "hstack(xs: tuple) -> tensor",
                summary: "The tensors of `xs` joined along axis 1 (axis 0 when they are 1-d).",
                doc: "",
                example: "hstack((tensor([1.0]), tensor([2.0, 3.0])))  # [1.0, 2.0, 3.0]",
            },
            1,
        ),
        (
            Decl {
                sig: "dstack(xs: tuple) -> tensor",
                summary: "The tensors of `xs` joined along axis 2, each made at least 3-d (as NumPy).",
                doc: "",
                example: "dstack((ones((2, 2)), zeros((2, 2)))).shape  # (2, 2, 2)",
            },
            2,
        ),
        (
            Decl {
                sig: "column_stack(xs: tuple) -> tensor",
                summary: "The tensors of `xs` side by side as columns: 1-d ones become columns, 2-d ones are joined along axis 1.",
                doc: "",
                example: "column_stack((tensor([1.0, 2.0]), tensor([3.0, 4.0]))).shape  # (2, 2)",
            },
            3,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let xs = super::shape::tuple_of_tensors(name, a.value(0)).map_err(at_param(&a, 0))?;
            if xs.is_empty() {
                return Err(err(ErrorKind::Value, format!("`{name}` needs at least one tensor")).at(a.span_at(0)));
            }
            let (parts, axis) = match kind {
                0 => (xs.iter().map(|x| atleast(x, 2)).collect::<R<Vec<_>>>()?, 0),
                1 => {
                    let p = xs.iter().map(|x| atleast(x, 1)).collect::<R<Vec<_>>>()?;
                    let ax = usize::from(shape_of(&p[0]).len() > 1);
                    (p, ax)
                }
                2 => (xs.iter().map(|x| atleast(x, 3)).collect::<R<Vec<_>>>()?, 2),
                _ => (
                    xs.iter()
                        .map(|x| match shape_of(x).len() {
                            0 | 1 => {
                                let n = shape_of(x).iter().product();
                                ops::reshape(x, &[n, 1])
                            }
                            _ => Ok(x.clone()),
                        })
                        .collect::<R<Vec<_>>>()?,
                    1,
                ),
            };
            concat(&parts, axis).map_err(at_param(&a, 0))
        });
    }
    for (decl, n) in [
        (
            Decl {
                sig: "atleast_1d(*xs: tensor) -> tensor | tuple",
                summary: "Each argument as a tensor with at least 1 dimension (a number becomes shape `(1,)`).",
                doc: "One argument gives a tensor, several a tuple.",
                example: "atleast_1d(2.0)  # [2.0]",
            },
            1,
        ),
        (
            Decl {
                sig: "atleast_2d(*xs: tensor) -> tensor | tuple",
                summary: "Each argument with at least 2 dimensions (a 1-d tensor becomes one row).",
                doc: "One argument gives a tensor, several a tuple.",
                example: "atleast_2d(tensor([1.0, 2.0])).shape  # (1, 2)",
            },
            2,
        ),
        (
            Decl {
                sig: "atleast_3d(*xs: tensor) -> tensor | tuple",
                summary: "Each argument with at least 3 dimensions (`(n,)` becomes `(1, n, 1)`, `(m, n)` becomes `(m, n, 1)`).",
                doc: "One argument gives a tensor, several a tuple.",
                example: "atleast_3d(ones((2, 3))).shape  # (2, 3, 1)",
            },
            3,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let out: Vec<Value> = a
                .rest()
                .iter()
                .map(|x| atleast(&numeric(name, x)?, n))
                .collect::<R<_>>()?;
            match out.len() {
                1 => Ok(out.into_iter().next().unwrap_or(Value::None)),
                _ => Ok(Value::tuple(out)),
            }
        });
    }
    register(
        t,
        Decl {
            sig: "meshgrid(*xs: tensor, indexing: str = \"xy\") -> tuple",
            summary: "Coordinate grids from 1-d coordinate vectors, as NumPy (`indexing=\"xy\"` or `\"ij\"`).",
            doc: "With `\"xy\"` (the default) the first two output axes are swapped, as for image coordinates.",
            example: "meshgrid(tensor([1.0, 2.0, 3.0]), tensor([4.0, 5.0]))[0].shape  # (2, 3)",
        },
        |_, a| {
            let xs: Vec<Value> = a.rest().iter().map(|x| numeric("meshgrid", x)).collect::<R<_>>()?;
            let ij = match a.value(0) {
                Value::Str(s) if &**s == "ij" => true,
                Value::Str(s) if &**s == "xy" => false,
                other => {
                    return Err(err(
                        ErrorKind::Value,
                        format!("`meshgrid`: indexing must be \"xy\" or \"ij\", found {}", other.repr()),
                    ))
                }
            };
            let lens: Vec<usize> = xs.iter().map(|x| shape_of(x).iter().product()).collect();
            let mut out_shape = lens.clone();
            if !ij && lens.len() >= 2 {
                out_shape.swap(0, 1);
            }
            let nd = lens.len();
            let mut out = Vec::with_capacity(nd);
            for (i, x) in xs.iter().enumerate() {
                let mut pos = i;
                if !ij && nd >= 2 && i < 2 {
                    pos = 1 - i;
                }
                let mut s = vec![1; nd];
                s[pos] = lens[i];
                out.push(ops::broadcast_to(&ops::reshape(x, &s)?, &out_shape)?);
            }
            Ok(Value::tuple(out))
        },
    );
}
