//! Indexing (`x[i]`, `x[a:b:c]`, gathers) and iteration (`for x in v`).

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self, Prim};
use crate::syntax::span::Span;
use crate::value::Value;
use dp_tensor::SliceSpec;

/// One evaluated position of `x[...]`.
#[derive(Clone)]
pub enum Item {
    /// An index or tensor of indices.
    At(Value, Span),
    /// `a:b:c`, each part optional.
    Slice(Option<(Value, Span)>, Option<(Value, Span)>, Option<(Value, Span)>),
    /// `...`: as many `:` as the other items leave axes (tensors only).
    Ellipsis(Span),
}

fn as_index(v: &Value, span: Span, what: &str) -> Result<i64, Diagnostic> {
    crate::autodiff::vmap::require_unbatched(v, what).map_err(|d| d.at(span))?;
    match v.strip() {
        Value::Int(i) => Ok(*i),
        Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(*x as i64),
        Value::Float(x) => Err(Diagnostic::new(
            ErrorKind::Index,
            format!("{what} must be an integer, found {}", dp_tensor::format_float(*x)),
        )
        .at(span)),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("{what} must be an int, found {}", other.describe()),
        )
        .with_label(format!("this is {}", other.describe()))
        .at(span)),
    }
}

fn norm_index(i: i64, len: usize, span: Span) -> Result<usize, Diagnostic> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if j < 0 || j >= n {
        return Err(
            Diagnostic::new(ErrorKind::Index, format!("index {i} is out of range for length {len}"))
                .at(span)
                .with_label(format!(
                    "valid indices are {}..{} (or -{}..-1)",
                    0,
                    n.max(1) - 1,
                    n.max(1)
                )),
        );
    }
    Ok(j as usize)
}

/// A slice `a:b:c` of a sequence of `len` items, resolved as Python's
/// `slice.indices` does, in O(1): the first index, the step and the count.
/// (In i128: bounds near the ends of the int range must not overflow.)
fn slice_params(
    a: &Option<(Value, Span)>,
    b: &Option<(Value, Span)>,
    c: &Option<(Value, Span)>,
    len: u64,
) -> Result<(i128, i128, u64), Diagnostic> {
    let opt = |p: &Option<(Value, Span)>| -> Result<Option<i128>, Diagnostic> {
        match p {
            None => Ok(None),
            Some((Value::None, _)) => Ok(None),
            Some((v, s)) => Ok(Some(i128::from(as_index(v, *s, "a slice bound")?))),
        }
    };
    let step = opt(c)?.unwrap_or(1);
    if step == 0 {
        return Err(Diagnostic::new(ErrorKind::Value, "slice step cannot be zero")
            .at(c.as_ref().map(|x| x.1).unwrap_or_default()));
    }
    let n = i128::from(len);
    let clamp = |v: Option<i128>, default: i128, lo: i128, hi: i128| -> i128 {
        match v {
            None => default,
            Some(v) => {
                let v = if v < 0 { v + n } else { v };
                v.clamp(lo, hi)
            }
        }
    };
    let (first, count) = if step > 0 {
        let (s, e) = (clamp(opt(a)?, 0, 0, n), clamp(opt(b)?, n, 0, n));
        (s, if e > s { (e - s - 1) / step + 1 } else { 0 })
    } else {
        let (s, e) = (clamp(opt(a)?, n - 1, -1, n - 1), clamp(opt(b)?, -1, -1, n - 1));
        (s, if s > e { (s - e - 1) / -step + 1 } else { 0 })
    };
    // `count <= len`, so it fits.
    Ok((first, step, count as u64))
}

/// The indices a slice selects from `len` items, in order.
fn slice_bounds(
    a: &Option<(Value, Span)>,
    b: &Option<(Value, Span)>,
    c: &Option<(Value, Span)>,
    len: usize,
) -> Result<impl Iterator<Item = usize>, Diagnostic> {
    let (first, step, count) = slice_params(a, b, c, len as u64)?;
    Ok((0..count).map(move |k| (first + i128::from(k) * step) as usize))
}

/// `v[items]` for tuples, strings, dicts and tensors.
pub fn index(v: &Value, items: Vec<Item>, recv_span: Span, span: Span) -> Result<Value, Diagnostic> {
    match v {
        Value::Tuple(t) => match one_item(items, "a tuple", span)? {
            Item::At(i, s) => {
                let i = norm_index(as_index(&i, s, "a tuple index")?, t.len(), s)?;
                Ok(t[i].clone())
            }
            Item::Slice(a, b, c) => Ok(Value::Tuple(
                slice_bounds(&a, &b, &c, t.len())?.map(|i| t[i].clone()).collect(),
            )),
            Item::Ellipsis(s) => Err(not_here(s, "a tuple")),
        },
        Value::Str(s) => {
            // Characters are found through a cached index: O(1) per lookup, not O(i).
            let n = crate::value::strings::char_len(s);
            match one_item(items, "a string", span)? {
                Item::At(i, sp) => {
                    let i = norm_index(as_index(&i, sp, "a string index")?, n, sp)?;
                    Ok(crate::value::strings::char_at(s, i))
                }
                Item::Slice(a, b, c) => {
                    let (first, step, count) = slice_params(&a, &b, &c, n as u64)?;
                    if step == 1 {
                        let start = first as usize;
                        return Ok(Value::str(crate::value::strings::char_range(
                            s,
                            start,
                            start + count as usize,
                        )));
                    }
                    let mut out = String::new();
                    for k in 0..count {
                        let i = (first + i128::from(k) * step) as usize;
                        out.push_str(crate::value::strings::char_range(s, i, i + 1));
                    }
                    Ok(Value::str(out))
                }
                Item::Ellipsis(sp) => Err(not_here(sp, "a string")),
            }
        }
        Value::Dict(d) => match one_item(items, "a dict", span)? {
            Item::At(Value::Str(k), s) => d
                .get(&k)
                .cloned()
                .ok_or_else(|| crate::value::dict::missing_key(d, &k, s)),
            Item::At(other, s) => Err(Diagnostic::new(
                ErrorKind::Type,
                format!("dict keys are strings, found {}", other.describe()),
            )
            .at(s)),
            Item::Slice(..) => Err(Diagnostic::new(ErrorKind::Type, "cannot slice a dict").at(span)),
            Item::Ellipsis(s) => Err(not_here(s, "a dict")),
        },
        Value::Range(a, b, st) => range_index(*a, *b, *st, v, items, recv_span, span),
        other if other.is_numeric() => tensor_index(other, items, span),
        other => Err(
            Diagnostic::new(ErrorKind::Type, format!("{} cannot be indexed", other.describe()))
                .at(recv_span)
                .with_label("this value"),
        ),
    }
}

/// `range(a, b, st)[...]` by arithmetic, never materialising the range: an
/// index gives an int, a slice a tuple of just the selected elements (as
/// slicing a range always has in dp), checked against the memory budget.
fn range_index(
    a: i64,
    b: i64,
    st: i64,
    v: &Value,
    items: Vec<Item>,
    recv_span: Span,
    span: Span,
) -> Result<Value, Diagnostic> {
    let len = range_len(a, b, st).ok_or_else(|| {
        Diagnostic::new(ErrorKind::Value, "the range has more elements than an int can count")
            .at(recv_span)
            .with_label(format!("{} has more than 9223372036854775807 elements", v.repr()))
    })?;
    // Every element lies between a and b, so it fits an i64.
    let at = |k: i128| Value::Int((i128::from(a) + k * i128::from(st)) as i64);
    match one_item(items, "a range", span)? {
        Item::At(i, s) => {
            let i = as_index(&i, s, "a range index")?;
            let j = if i < 0 {
                i128::from(i) + i128::from(len)
            } else {
                i128::from(i)
            };
            if j < 0 || j >= i128::from(len) {
                return Err(
                    Diagnostic::new(ErrorKind::Index, format!("index {i} is out of range for length {len}"))
                        .at(s)
                        .with_label(format!(
                            "valid indices are 0..{} (or -{}..-1)",
                            len.max(1) - 1,
                            len.max(1)
                        )),
                );
            }
            Ok(at(j))
        }
        Item::Slice(x, y, z) => {
            let (first, step, count) = slice_params(&x, &y, &z, len as u64)?;
            crate::value::tuple::check_len(u128::from(count)).map_err(|d| d.at(span))?;
            Ok(Value::Tuple(
                (0..count).map(|k| at(first + i128::from(k) * step)).collect(),
            ))
        }
        Item::Ellipsis(s) => Err(not_here(s, "a range")),
    }
}

fn one_item(mut items: Vec<Item>, what: &str, span: Span) -> Result<Item, Diagnostic> {
    if items.len() != 1 {
        return Err(Diagnostic::new(
            ErrorKind::Index,
            format!("{what} takes exactly one index, found {}", items.len()),
        )
        .at(span));
    }
    match items.remove(0) {
        Item::Ellipsis(s) => Err(not_here(s, what)),
        it => Ok(it),
    }
}

/// `...` used where only tensors take it.
fn not_here(s: Span, what: &str) -> Diagnostic {
    Diagnostic::new(ErrorKind::Index, format!("`...` indexes tensors, not {what}"))
        .at(s)
        .with_label("`...` stands for the remaining axes of a tensor")
}

/// A bool mask used as an index: checked against the axes it covers and
/// turned into the flat positions of its true elements.
fn mask_positions(mask: &dp_tensor::Tensor, covered: &[usize], at: usize, s: Span) -> Result<Value, Diagnostic> {
    if mask.ndim() == 0 {
        return Err(Diagnostic::new(ErrorKind::Index, "a 0-d bool cannot index a tensor")
            .at(s)
            .with_help("index with a bool tensor of the tensor's shape (or of its leading axes)"));
    }
    if mask.shape() != covered {
        return Err(Diagnostic::new(
            ErrorKind::Index,
            format!(
                "boolean mask of shape {} does not match the indexed axes of shape {} (axes {}..{})",
                dp_tensor::format_shape(mask.shape()),
                dp_tensor::format_shape(covered),
                at,
                at + covered.len()
            ),
        )
        .at(s)
        .with_label(format!("a mask of shape {}", dp_tensor::format_shape(mask.shape())))
        .with_help("a mask selects along the axes it covers, so its shape must equal theirs"));
    }
    Ok(crate::prim::from_tensor(crate::prim::te(mask.mask_positions())?))
}

fn is_none_item(it: &Item) -> bool {
    matches!(it, Item::At(v, _) if matches!(v.peek(), Value::None))
}

/// The number of axes of the indexed tensor an item consumes: a bool mask
/// one per axis of its own, `none` and `...` none (`...` is resolved by
/// [`expand_items`]), anything else one.
fn consumed(it: &Item) -> usize {
    match it {
        // The kind of item only (a metadata read, see `Value::peek`).
        Item::At(v, _) => match v.peek() {
            // A mask batched by `vmap` covers the axes of one example.
            Value::Tensor(t) if t.is_bool() => crate::autodiff::trace::shape_seen(v).len(),
            Value::None => 0,
            _ => 1,
        },
        Item::Slice(..) => 1,
        Item::Ellipsis(_) => 0,
    }
}

/// The items of `x[items]` for a tensor of `ndim` axes with `...` replaced
/// by as many `:` as the other items leave axes (NumPy's rule), checked for
/// too many indices.
pub fn expand_items(items: Vec<Item>, ndim: usize, shape: &[usize], span: Span) -> Result<Vec<Item>, Diagnostic> {
    let wanted: usize = items.iter().map(consumed).sum();
    let mut ellipses = items.iter().filter_map(|it| match it {
        Item::Ellipsis(s) => Some(*s),
        _ => None,
    });
    let first = ellipses.next();
    if let Some(second) = ellipses.next() {
        return Err(Diagnostic::new(ErrorKind::Index, "an index can have only one `...`")
            .at(second)
            .with_label("a second `...`"));
    }
    if wanted > ndim {
        return Err(Diagnostic::new(
            ErrorKind::Index,
            format!(
                "too many indices: {} given for a tensor of shape {} ({} dimensions)",
                wanted,
                dp_tensor::format_shape(shape),
                ndim
            ),
        )
        .at(span));
    }
    if first.is_none() {
        return Ok(items);
    }
    let mut out = Vec::with_capacity(items.len() + ndim - wanted);
    for it in items {
        match it {
            Item::Ellipsis(_) => out.extend((0..ndim - wanted).map(|_| Item::Slice(None, None, None))),
            other => out.push(other),
        }
    }
    Ok(out)
}

/// One advanced index of `x[...]` (a tensor of indices or a bool mask): the
/// first axis of the sliced tensor it selects along, how many axes it covers
/// (a k-d mask covers k), its indices (flat positions into the covered axes)
/// and their span.
struct Advanced {
    axis: usize,
    covers: usize,
    idx: Value,
    span: Span,
    /// Indices a running trace computed, found valid by a recorded check
    /// (see [`checked_traced`]): not read to be checked again.
    checked: bool,
}

/// Checks that the indices of `v` (a tensor) are integers within `-n..n`,
/// reporting the first bad one at `s`.
fn check_index_tensor(v: &Value, n: usize, axis: usize, s: Span) -> Result<(), Diagnostic> {
    let t = crate::prim::as_tensor(v.strip())?;
    let nf = n as f64;
    for i in t.to_vec() {
        if i.fract() != 0.0 || !i.is_finite() {
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!("tensor indices must be integers, found {}", dp_tensor::format_float(i)),
            )
            .at(s)
            .with_help("round them with `round` (or `floor`) first"));
        }
        if i < -nf || i >= nf {
            return Err(Diagnostic::new(
                ErrorKind::Index,
                // An integer here (checked above), within i64 for any real tensor.
                format!("index {} is out of range for axis {axis} of size {n}", i as i64),
            )
            .at(s)
            .with_label(if n == 0 {
                "the axis is empty".to_string()
            } else {
                format!("valid indices are -{n}..={}", n - 1)
            }));
        }
    }
    Ok(())
}

/// Records the check that `v`, indices a running trace computed, are valid
/// for an axis of length `len` (integers within `-len..len`), and returns
/// whether they are. The check is a guard of a jit plan, so a call whose
/// indices are not valid is traced afresh and fails where plain code does,
/// with its error (the gather's own, or `check_index_tensor`'s), rather
/// than inside the plan.
fn checked_traced(v: &Value, len: usize) -> Result<bool, Diagnostic> {
    let check = ops::apply(&Prim::IndexCheck(crate::prim::IndexCheck(len)), std::slice::from_ref(v))?;
    Ok(matches!(check.peek(), Value::Bool(true)))
}

/// Whether `v`, one scalar index into an axis of length `len`, stays traced:
/// an int or float a running trace computed (`x[argmax(x)]`, `x[i + 1]`
/// with an int input `i` of a jit plan), which is then taken along its axis
/// by `Take` (a gather with a 0-d index, whose derivative is a scatter-add)
/// so a plan indexes with each call's own value. The check that it is a
/// valid index is recorded too, as a guard ([`crate::prim::IndexCheck`]): a
/// call where it is not is traced afresh and fails here as plain code does.
/// An index that is not valid now is left to be read and reported.
fn dynamic_index(v: &Value, len: usize) -> Result<bool, Diagnostic> {
    let trace = crate::autodiff::trace::is_traced(v) && !crate::autodiff::trace::is_batched(v);
    if !trace || !matches!(v.peek(), Value::Int(_) | Value::Float(_)) {
        return Ok(false);
    }
    checked_traced(v, len)
}

fn tensor_index(x: &Value, items: Vec<Item>, span: Span) -> Result<Value, Diagnostic> {
    let shape = ops::shape_of(x);
    let items = expand_items(items, shape.len(), &shape, span)?;
    // `none` inserts an axis of length 1: reshape first, then index that axis with `:`.
    let (x, shape, items) = if items.iter().any(is_none_item) {
        let mut grown = Vec::with_capacity(shape.len() + items.len());
        let mut axis = 0usize;
        for it in &items {
            if is_none_item(it) {
                grown.push(1);
            } else {
                let k = consumed(it);
                grown.extend_from_slice(&shape[axis..axis + k]);
                axis += k;
            }
        }
        grown.extend_from_slice(&shape[axis..]);
        let items: Vec<Item> = items
            .into_iter()
            .map(|it| {
                if is_none_item(&it) {
                    Item::Slice(None, None, None)
                } else {
                    it
                }
            })
            .collect();
        (ops::reshape(x, &grown).map_err(|d| d.at(span))?, grown, items)
    } else {
        (x.clone(), shape, items)
    };
    let mut specs = Vec::with_capacity(items.len());
    let mut adv: Vec<Advanced> = Vec::new();
    // Traced scalar indices (see `dynamic_index`): the axis of the sliced
    // tensor each takes from, the index and its span. Only without tensor
    // indices, whose gather would have to merge them (those are read).
    let mut dynamic: Vec<(usize, Value, Span)> = Vec::new();
    let may_be_dynamic = !items
        .iter()
        .any(|it| matches!(it, Item::At(v, _) if matches!(v.peek(), Value::Tensor(_))));
    let mut dropped_before = 0usize;
    // Positions of the advanced indices (the tensors of indices and, as in
    // NumPy, the integer scalars), for NumPy's rule on where the gathered axes go.
    let mut advanced = Vec::new();
    // The axis of `x` the next item indexes.
    let mut axis = 0usize;
    for (pos, it) in items.into_iter().enumerate() {
        if let Item::At(..) = it {
            advanced.push(pos);
        }
        match it {
            Item::At(v, s) => match v.peek() {
                Value::Tensor(t) => {
                    let t = t.clone();
                    let batched = crate::autodiff::trace::is_batched(&v);
                    // Indices a trace computed (or took as an argument) stay
                    // traced: the gather checks them each time it runs, so a
                    // jit plan replays `x[idx]` for new indices. A mask's
                    // positions, and the indices of several advanced items
                    // (merged into one flat index below), are read here.
                    let traced = !batched && crate::autodiff::trace::is_traced(&v);
                    // Per-example indices a trace computed (`jit(vmap(f))`):
                    // checked as one traced tensor of every example's, below.
                    let whole = if batched && !t.is_bool() {
                        crate::autodiff::trace::traced_examples(&v)
                    } else {
                        None
                    };
                    if t.is_bool() || !(traced || whole.is_some()) {
                        let _ = v.strip();
                    }
                    let (idx, covers) = if t.is_bool() && batched {
                        return Err(Diagnostic::new(
                            ErrorKind::Index,
                            "vmap: a boolean mask that differs per example cannot select: the result's shape would differ per example",
                        )
                        .at(s)
                        .with_help("use `where(mask, x, 0.0)` to keep the shape"));
                    } else if t.is_bool() {
                        let k = t.ndim();
                        (mask_positions(&t, &shape[axis..axis + k], axis, s)?, k)
                    } else if batched || traced {
                        // Batched indices (inside `vmap`) stay batched: the gather batches them.
                        (v.clone(), 1)
                    } else {
                        (Value::Tensor(t.clone()), 1)
                    };
                    let checked = match &whole {
                        Some(w) => checked_traced(w, shape[axis])?,
                        None => traced && !t.is_bool() && checked_traced(&v, shape[axis])?,
                    };
                    adv.push(Advanced {
                        axis: axis - dropped_before,
                        covers,
                        idx,
                        span: s,
                        checked,
                    });
                    for _ in 0..covers {
                        specs.push(SliceSpec::full());
                    }
                    axis += covers;
                }
                _ if may_be_dynamic && dynamic_index(&v, shape[axis])? => {
                    dynamic.push((axis - dropped_before, v, s));
                    specs.push(SliceSpec::full());
                    axis += 1;
                }
                _ => {
                    let i = as_index(&v, s, "a tensor index")?;
                    let n = shape[axis] as i64;
                    if i < -n || i >= n {
                        return Err(Diagnostic::new(
                            ErrorKind::Index,
                            format!("index {i} is out of range for axis {axis} of size {n}"),
                        )
                        .at(s)
                        .with_label(if n == 0 {
                            "the axis is empty".to_string()
                        } else {
                            format!("valid indices are -{n}..={}", n - 1)
                        }));
                    }
                    specs.push(SliceSpec::Index(i));
                    dropped_before += 1;
                    axis += 1;
                }
            },
            Item::Slice(a, b, c) => {
                let opt = |p: &Option<(Value, Span)>| -> Result<Option<i64>, Diagnostic> {
                    match p {
                        None | Some((Value::None, _)) => Ok(None),
                        Some((v, s)) => Ok(Some(as_index(v, *s, "a slice bound")?)),
                    }
                };
                let step = opt(&c)?.unwrap_or(1);
                if step == 0 {
                    return Err(Diagnostic::new(ErrorKind::Value, "slice step cannot be zero")
                        .at(c.as_ref().map_or(span, |x| x.1)));
                }
                specs.push(SliceSpec::Range {
                    start: opt(&a)?,
                    stop: opt(&b)?,
                    step,
                });
                axis += 1;
            }
            // Unreachable: `expand_items` replaced it; an error rather than a panic.
            Item::Ellipsis(s) => {
                return Err(Diagnostic::new(ErrorKind::Index, "an index can have only one `...`").at(s))
            }
        }
    }
    let trivial = specs.iter().all(|s| *s == SliceSpec::full());
    let sliced = if trivial {
        x
    } else {
        ops::apply(&Prim::Slice(crate::prim::Slice(specs.into())), &[ops::num(&x)]).map_err(|d| d.at(span))?
    };
    if adv.is_empty() {
        // Each traced index takes from its axis, the last first so the
        // axes of the others stay where they are.
        let mut taken = sliced;
        for (axis, i, s) in dynamic.into_iter().rev() {
            taken = ops::apply(&Prim::Take(crate::prim::Take(axis)), &[ops::num(&taken), i]).map_err(|d| d.at(s))?;
        }
        return Ok(taken);
    }
    // NumPy: when a slice separates the advanced indices (`x[0, :, idx]`), the
    // gathered axes come first; when they are adjacent they stay in place.
    let adjacent = advanced
        .last()
        .zip(advanced.first())
        .is_none_or(|(hi, lo)| hi - lo + 1 == advanced.len());
    // `at`: where the gathered axes are in `taken`; `first_axis`: where the
    // first advanced index was.
    let first_axis = adv[0].axis;
    let (taken, k, at) = if adv.len() == 1 {
        let Advanced {
            axis,
            covers,
            idx,
            span: s,
            ..
        } = adv.remove(0);
        let sliced = if covers == 1 {
            sliced
        } else {
            // A k-d mask selects from the k axes it covers as one flattened axis.
            let ss = ops::shape_of(&sliced);
            let mut merged = ss[..axis].to_vec();
            merged.push(ss[axis..axis + covers].iter().product());
            merged.extend_from_slice(&ss[axis + covers..]);
            ops::reshape(&sliced, &merged).map_err(|d| d.at(span))?
        };
        let k = ops::shape_of(&idx).len();
        let taken = ops::apply(&Prim::Take(crate::prim::Take(axis)), &[sliced, idx]).map_err(|d| d.at(s))?;
        (taken, k, axis)
    } else {
        let (taken, k) = gather_several(&sliced, adv, span)?;
        (taken, k, 0)
    };
    let target = if adjacent { first_axis } else { 0 };
    if at == target || k == 0 {
        return Ok(taken);
    }
    let n = ops::shape_of(&taken).len();
    let mut rest: Vec<usize> = (0..n).filter(|a| !(at..at + k).contains(a)).collect();
    let tail = rest.split_off(target);
    let perm: Vec<usize> = rest.into_iter().chain(at..at + k).chain(tail).collect();
    ops::transpose(&taken, &perm).map_err(|d| d.at(span))
}
/// `sliced[i1, i2, ...]` for several advanced indices (NumPy's rule: the
/// index tensors broadcast together, and each result element is the one at
/// their coordinates): the advanced axes are moved to the front and merged
/// into one, the coordinates into one flat index, and one `Take` gathers, so
/// the derivative is `Take`'s (a scatter-add). The gathered axes come first
/// in the result; returns it and their number.
fn gather_several(sliced: &Value, adv: Vec<Advanced>, span: Span) -> Result<(Value, usize), Diagnostic> {
    let ss = ops::shape_of(sliced);
    let mut bshape: Vec<usize> = Vec::new();
    for (k, a) in adv.iter().enumerate() {
        let sh = ops::shape_of(&a.idx);
        bshape = match dp_tensor::broadcast_shapes(&bshape, &sh) {
            Some(b) => b.to_vec(),
            None => {
                return Err(Diagnostic::new(
                    ErrorKind::Index,
                    format!(
                        "index tensors of shapes {} and {} cannot be broadcast together",
                        dp_tensor::format_shape(&bshape),
                        dp_tensor::format_shape(&sh)
                    ),
                )
                .at(a.span)
                .with_label(format!("index {} has shape {}", k + 1, dp_tensor::format_shape(&sh)))
                .with_help("index tensors used together must broadcast to one shape, as in NumPy"))
            }
        };
    }
    // Flat index over the merged advanced axes, written with `ops` so batched
    // indices (inside `vmap`) stay batched.
    let mut flat = Value::Float(0.0);
    let mut stride = 1usize;
    for a in adv.iter().rev() {
        let n: usize = ss[a.axis..a.axis + a.covers].iter().product();
        let i = if a.covers == 1 {
            if !a.checked {
                check_index_tensor(&a.idx, n, a.axis, a.span)?;
            }
            let neg = ops::binary(dp_tensor::BinaryOp::Lt, &a.idx, &Value::Float(0.0))?;
            ops::where_(&neg, &ops::add(&a.idx, &Value::Float(n as f64))?, &a.idx)?
        } else {
            // Mask positions are already in range and non-negative.
            a.idx.clone()
        };
        flat = ops::add(&flat, &ops::mul(&i, &Value::Float(stride as f64))?)?;
        stride *= n;
    }
    let flat = ops::broadcast_to(&flat, &bshape)?;
    let covered: Vec<usize> = adv.iter().flat_map(|a| a.axis..a.axis + a.covers).collect();
    let others: Vec<usize> = (0..ss.len()).filter(|a| !covered.contains(a)).collect();
    let perm: Vec<usize> = covered.iter().chain(&others).copied().collect();
    let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
        sliced.clone()
    } else {
        ops::transpose(sliced, &perm).map_err(|d| d.at(span))?
    };
    let mut merged = vec![stride];
    merged.extend(others.iter().map(|&a| ss[a]));
    let moved = ops::reshape(&moved, &merged).map_err(|d| d.at(span))?;
    let taken = ops::apply(&Prim::Take(crate::prim::Take(0)), &[moved, flat]).map_err(|d| d.at(span))?;
    Ok((taken, bshape.len()))
}

/// The elements of an iterable value, in order.
pub fn iterate(v: &Value) -> Result<Box<dyn Iterator<Item = Result<Value, Diagnostic>>>, Diagnostic> {
    Ok(match v {
        Value::Range(a, b, s) => {
            let (a, b, s) = (*a, *b, *s);
            let mut i = a;
            Box::new(std::iter::from_fn(move || {
                if (s > 0 && i < b) || (s < 0 && i > b) {
                    let r = i;
                    i = i.saturating_add(s);
                    if i == r {
                        i = b;
                    }
                    Some(Ok(Value::Int(r)))
                } else {
                    None
                }
            }))
        }
        Value::Tuple(t) => Box::new(t.clone().into_iter().map(Ok)),
        // Only a `for` loop draws the bar; anything else iterates the wrapped value.
        Value::Progress(p) => return iterate(&p.inner),
        Value::Dict(d) => Box::new(
            d.keys()
                .cloned()
                .collect::<Vec<_>>()
                .into_iter()
                .map(|k| Ok(Value::Str(k))),
        ),
        Value::Str(s) => Box::new(
            s.chars()
                .map(|c| Ok(Value::str(c.to_string())))
                .collect::<Vec<_>>()
                .into_iter(),
        ),
        other if matches!(other.peek(), Value::Tensor(_)) => {
            let Some(&n) = ops::shape_of(other).first() else {
                // NumPy: "iteration over a 0-d array" is a TypeError, not an empty loop.
                return Err(Diagnostic::new(ErrorKind::Type, "cannot iterate over a 0-d tensor")
                    .with_label("this is a tensor of shape ()")
                    .with_help("a 0-d tensor holds one number: use it directly, or `float(x)`"));
            };
            let x = other.clone();
            Box::new((0..n).map(move |i| {
                ops::apply(
                    &Prim::Slice(crate::prim::Slice(vec![SliceSpec::Index(i as i64)].into())),
                    std::slice::from_ref(&x),
                )
            }))
        }
        other => {
            return Err(
                Diagnostic::new(ErrorKind::Type, format!("cannot iterate over {}", other.describe()))
                    .with_label(format!("this is {}", other.describe()))
                    .with_help(
                        "`for` iterates over ranges, tuples, dicts (their keys), strings and tensors (their rows)",
                    ),
            )
        }
    })
}

/// The number of elements of `range(a, b, s)`, if it fits in an int.
pub fn range_len(a: i64, b: i64, s: i64) -> Option<i64> {
    // In i128: `b - a` can exceed i64 for ranges spanning most of the int line.
    let (a, b, s) = (i128::from(a), i128::from(b), i128::from(s));
    let n = if s > 0 && b > a {
        (b - a - 1) / s + 1
    } else if s < 0 && a > b {
        (a - b - 1) / (-s) + 1
    } else {
        0
    };
    i64::try_from(n).ok()
}
