//! Functional updates `x.at[i].set(v)`, `.add(v)`, `.subtract(v)`,
//! `.mul(v)`, `.divide(v)`, `.power(v)`, `.min(v)`, `.max(v)`, `.apply(f)`
//! and `.get()` (JAX's spelling). `x.at[...]` resolves the index against a tensor of flat
//! positions shaped like `x` (so ints, slices, index tensors, bool masks,
//! `none` and `...` all mean exactly what they mean in `x[...]`), and gives a
//! dict of the methods, which apply the `IndexUpdate` primitive (or `Take`)
//! to those positions. The result is a new tensor; `x` is unchanged.
//!
//! Each method takes `mode=`, JAX's treatment of out-of-range indices:
//! by default (and with `"promise_in_bounds"`) an out-of-range index is an
//! error, as in `x[...]`; `"clip"` clamps it into range; `"drop"`/`"fill"`
//! skip it (an update does not happen, `.get` gives `fill_value`, NaN by
//! default). For those the positions come from a tensor with one extra slot
//! per axis indexed by ints, holding -1: an out-of-range index is sent there.
//!
//! And `wrap_negative_indices=` (default `true`): with `false` a negative int
//! index is not counted from the end but out of range, treated by `mode=`
//! (JAX's `normalize_indices`; slices are unaffected).

use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::interp::Interp;
use crate::ops::index::{expand_items, index, Item};
use crate::ops::{self, shape_of, Prim};
use crate::prim::{as_tensor, from_tensor, te, IndexUpdate};
use crate::syntax::span::Span;
use crate::value::native::{native, Args};
use crate::value::{Dict, Value};
use dp_tensor::{format_shape, BinaryOp, Tensor, UpdateMode};
use std::cell::OnceCell;
use std::rc::Rc;

/// JAX's `mode=` for out-of-range indices.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// An out-of-range index is an error (dp's default; JAX's promise is not checked there).
    Raise,
    /// Clamped into range.
    Clip,
    /// Skipped: no update, or `fill_value` for `.get`.
    Drop,
}

/// The methods of `x.at[...]` and what each does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    /// An `IndexUpdate` of this mode (`subtract` is `add` of `-v`).
    Update(UpdateMode, bool),
    /// `x / ones.at[i].mul(v)`, as JAX writes it.
    Divide,
    /// `x ** ones.at[i].mul(v)`, as JAX writes it.
    Power,
}

const METHODS: [(&str, Method); 9] = [
    ("set", Method::Update(UpdateMode::Set, false)),
    ("add", Method::Update(UpdateMode::Add, false)),
    ("subtract", Method::Update(UpdateMode::Add, true)),
    ("mul", Method::Update(UpdateMode::Mul, false)),
    // JAX's name; `mul` is its alias there too.
    ("multiply", Method::Update(UpdateMode::Mul, false)),
    ("divide", Method::Divide),
    ("power", Method::Power),
    ("min", Method::Update(UpdateMode::Min, false)),
    ("max", Method::Update(UpdateMode::Max, false)),
];

/// `x.at[items]`: the updater for the elements `x[items]` selects.
pub fn at(x: &Value, items: Vec<Item>, recv_span: Span, span: Span) -> R<Value> {
    if !x.is_numeric() {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            format!("`.at[...]` updates tensors, found {}", x.describe()),
        )
        .at(recv_span)
        .with_label(format!("this is {}", x.describe())));
    }
    // Index values are never differentiated: the positions are constants.
    // Indices that differ per example (inside `vmap`) stay batched, so the
    // positions do too and the update or gather batches them.
    let items: Rc<[Item]> = items
        .into_iter()
        .map(|it| match it {
            Item::At(v, s) if crate::autodiff::trace::is_batched(&v) => Item::At(v, s),
            // A traced scalar index stays traced, so the positions are (see
            // `positions`); so does a traced tensor of indices (`x.at[idx]`
            // with `idx` computed from a jit plan's inputs) for the default
            // `mode=`: the gather of the positions checks it (a guard), and
            // what the derivatives need of its repeats are steps (see
            // `prim::indexing`). Other uses read it (see `settled`).
            Item::At(v, s) if is_traced_scalar(&v) || is_traced_tensor(&v) => Item::At(v, s),
            Item::At(v, s) => Item::At(v.strip().clone(), s),
            Item::Slice(a, b, c) => {
                let plain = |p: Option<(Value, Span)>| p.map(|(v, s)| (v.strip().clone(), s));
                Item::Slice(plain(a), plain(b), plain(c))
            }
            Item::Ellipsis(s) => Item::Ellipsis(s),
        })
        .collect();
    // Resolved once with the default mode when a method first uses it; a
    // method with another `mode=` resolves them again. A bad index is
    // reported (at the index) when a method is called, since `mode=` may
    // make it valid. (Resolving up front would also make a traced index's
    // range check a guard of a trace that only clips or drops it.)
    let default: Rc<OnceCell<R<Value>>> = Rc::new(OnceCell::new());
    let mut d = Dict::new();
    for (name, method) in METHODS {
        let (x, items, default) = (x.clone(), items.clone(), default.clone());
        d.insert(
            name.into(),
            native(name, move |_, a: Args| {
                let k = method_args(name, &a, Kind::Update)?;
                debug_assert!(k.fill.is_none());
                let pos = positions_for(&default, &x, &items, k.mode, k.wrap, recv_span, span)?;
                apply_method(method, name, &x, &pos, k.value, a.span_of(0)).map_err(|d| d.at(a.span))
            }),
        );
    }
    {
        let (x, items) = (x.clone(), items.clone());
        d.insert(
            "apply".into(),
            native("apply", move |it, a: Args| {
                let k = method_args("apply", &a, Kind::Apply)?;
                let f = match k.value {
                    f @ (Value::Func(_) | Value::Native(_)) => f.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!("`.apply(f)` expects a function, found {}", other.describe()),
                        )
                        .at(a.span_of(0))
                        .with_help("pass a function of one element, such as `sin` or `|v| 2.0 * v`"))
                    }
                };
                // `apply_fn` counts repeats on the positions' values: traced
                // tensors of indices are read (no positions resolved up front).
                let read = read_tensors(&items);
                let pos = positions_for(&OnceCell::new(), &x, &read, k.mode, k.wrap, recv_span, span)?;
                apply_fn(it, &x, &pos, &f, a.span, k.mode == Mode::Drop)
            }),
        );
    }
    let (x, items) = (x.clone(), items.clone());
    d.insert(
        "get".into(),
        native("get", move |_, a: Args| {
            let k = method_args("get", &a, Kind::Get)?;
            let pos = positions_for(&default, &x, &items, k.mode, k.wrap, recv_span, span)?;
            get(&x, &pos, k.mode, k.fill.unwrap_or(Value::Float(f64::NAN)))
        }),
    );
    Ok(Value::Dict(d))
}

/// The positions for a method called with `mode` and `wrap`
/// (`wrap_negative_indices`): those resolved up front (`default`) under the
/// default mode, resolved again under another. Under the default mode
/// without wrapping a negative index is out of range, so an error; the
/// positions are otherwise the up-front ones.
fn positions_for(
    default: &OnceCell<R<Value>>,
    x: &Value,
    items: &[Item],
    mode: Mode,
    wrap: bool,
    recv_span: Span,
    span: Span,
) -> R<Value> {
    let default = || {
        default
            .get_or_init(|| positions(x, items, Mode::Raise, true, recv_span, span))
            .clone()
    };
    match mode {
        Mode::Raise if !wrap => {
            check_not_negative(x, &settled(items, false))?;
            default()
        }
        Mode::Raise => default(),
        // A traced int index stays traced: `fix_index` clamps it or sends it
        // to the padding slot by arithmetic, so a jit plan does that for each
        // call's index (other traced indices are read).
        _ => positions(x, &settled(items, true), mode, wrap, recv_span, span),
    }
}

/// Whether `v` is a scalar index a running trace computed: `x.at[i]` then
/// gives positions a jit plan computes afresh for each call's `i` (under the
/// default `mode=`; other modes read all but ints, see [`settled`]).
fn is_traced_scalar(v: &Value) -> bool {
    crate::autodiff::trace::is_traced(v) && matches!(v.peek(), Value::Int(_) | Value::Float(_))
}

/// Whether `v` is a tensor of indices a running trace computed (not
/// batched inside it): `x.at[idx]` keeps it traced under the default `mode=`.
fn is_traced_tensor(v: &Value) -> bool {
    crate::autodiff::trace::is_traced(v)
        && !crate::autodiff::trace::is_batched(v)
        && matches!(v.peek(), Value::Tensor(t) if !t.is_bool())
}

/// `items` with traced indices read, where plain code decides on their
/// values (`wrap_negative_indices=false`; `mode="clip"`/`"drop"` for all but
/// ints, which `fix_traced_int` handles when `keep_ints`). Traced tensors
/// of indices are always read here.
fn settled(items: &[Item], keep_ints: bool) -> Vec<Item> {
    items
        .iter()
        .map(|it| match it {
            Item::At(v, s) if is_traced_scalar(v) && !(keep_ints && matches!(v.peek(), Value::Int(_))) => {
                Item::At(v.strip().clone(), *s)
            }
            Item::At(v, s) if is_traced_tensor(v) => Item::At(v.strip().clone(), *s),
            other => other.clone(),
        })
        .collect()
}

/// `items` with traced tensors of indices read (see [`is_traced_tensor`]).
fn read_tensors(items: &[Item]) -> Vec<Item> {
    items
        .iter()
        .map(|it| match it {
            Item::At(v, s) if is_traced_tensor(v) => Item::At(v.strip().clone(), *s),
            other => other.clone(),
        })
        .collect()
}

/// Reports the first negative int index among `items` (an error under the
/// default mode with `wrap_negative_indices=false`), at that index.
fn check_not_negative(x: &Value, items: &[Item]) -> R<()> {
    let shape = shape_of(x);
    let mut axis = 0usize;
    for it in items {
        let Item::At(v, s) = it else {
            axis += usize::from(matches!(it, Item::Slice(..)));
            continue;
        };
        let (negative, k) = match v.peek() {
            Value::None => (None, 0),
            Value::Tensor(t) if t.is_bool() => (None, t.ndim()),
            Value::Int(i) => ((*i < 0).then_some(*i as f64), 1),
            Value::Float(f) => ((*f < 0.0).then_some(*f), 1),
            Value::Tensor(t) => (t.to_vec().into_iter().find(|&i| i < 0.0), 1),
            _ => (None, 1),
        };
        if let Some(i) = negative {
            let len = shape.get(axis).copied().unwrap_or(0);
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!("index {i} is out of range for axis {axis} of size {len} (wrap_negative_indices=false)"),
            )
            .at(*s)
            .with_label("negative indices do not count from the end here")
            .with_help("with wrap_negative_indices=false, pass mode=\"clip\" or mode=\"drop\" to allow them"));
        }
        axis += k;
    }
    Ok(())
}

/// The flat positions into `x` that `x[items]` selects, shaped like the
/// selection; under `Clip` out-of-range ints are clamped, under `Drop` they
/// give -1. Negative ints count from the end when `wrap`, else are out of range.
fn positions(x: &Value, items: &[Item], mode: Mode, wrap: bool, recv_span: Span, span: Span) -> R<Value> {
    let shape = shape_of(x);
    let n: usize = shape.iter().product();
    if mode == Mode::Raise {
        let iota = te(te(Tensor::arange(0.0, n as f64, 1.0))?.reshape(&shape))?;
        return plain_positions(index(&from_tensor(iota), items.to_vec(), recv_span, span)?);
    }
    let items = expand_items(items.to_vec(), shape.len(), &shape, span)?;
    let mut padded = vec![false; shape.len()];
    let mut axis = 0usize;
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let Item::At(v, s) = &it else {
            axis += usize::from(matches!(it, Item::Slice(..)));
            out.push(it);
            continue;
        };
        let (v, s) = (v.clone(), *s);
        let len = shape.get(axis).copied().unwrap_or(0);
        let (fixed, k) = match v.peek() {
            Value::None => (v, 0),
            Value::Tensor(t) if t.is_bool() => (v.clone(), t.ndim()),
            Value::Int(_) | Value::Float(_) | Value::Tensor(_) if len > 0 => (fix_index(&v, len, mode, wrap)?, 1),
            // Left for `index` to report.
            _ => (v, 1),
        };
        let is_int_index = k == 1 && !matches!(&fixed, Value::Tensor(t) if t.is_bool());
        if is_int_index && mode == Mode::Drop && axis < shape.len() {
            padded[axis] = true;
        }
        out.push(Item::At(fixed, s));
        axis += k;
    }
    // The positions tensor: `x`'s flat positions, with one more slot (-1) on
    // each padded axis.
    let pshape: Vec<usize> = shape.iter().zip(&padded).map(|(&d, &p)| d + usize::from(p)).collect();
    let total = dp_tensor::checked_size(&pshape).map_err(crate::prim::tensor_error)?;
    let mut data = Vec::with_capacity(total);
    let mut coord = vec![0usize; pshape.len()];
    for _ in 0..total {
        let mut flat = 0usize;
        let mut inside = true;
        for (a, &c) in coord.iter().enumerate() {
            inside &= c < shape[a];
            flat = flat * shape[a] + c.min(shape[a].saturating_sub(1));
        }
        data.push(if inside { flat as f64 } else { -1.0 });
        for a in (0..pshape.len()).rev() {
            coord[a] += 1;
            if coord[a] < pshape[a] {
                break;
            }
            coord[a] = 0;
        }
    }
    let iota = te(Tensor::from_vec(data, &pshape))?;
    plain_positions(index(&from_tensor(iota), out, recv_span, span)?)
}

/// Index values `i` into an axis of `len > 0` made valid: negative ones
/// counted from the end (when `wrap`), then clamped (`Clip`) or, when out of
/// range, sent to the padding slot `len` (`Drop`). Written with `ops`, so
/// batched indices stay batched; non-integers are left for `index` to report.
fn fix_index(i: &Value, len: usize, mode: Mode, wrap: bool) -> R<Value> {
    if is_traced_scalar(i) && matches!(i.peek(), Value::Int(_)) {
        return fix_traced_int(i, len, mode, wrap);
    }
    if let Value::Int(i) = i {
        let n = len as i64;
        let j = if *i < 0 && wrap { i.saturating_add(n) } else { *i };
        return Ok(Value::Int(match mode {
            Mode::Clip => j.clamp(0, n - 1),
            _ if (0..n).contains(&j) => j,
            _ => n,
        }));
    }
    let n = Value::Float(len as f64);
    let j = if wrap {
        let neg = ops::binary(BinaryOp::Lt, i, &Value::Float(0.0))?;
        ops::where_(&neg, &ops::add(i, &n)?, i)?
    } else {
        i.clone()
    };
    match mode {
        Mode::Clip => {
            let lo = ops::binary(BinaryOp::Maximum, &j, &Value::Float(0.0))?;
            ops::binary(BinaryOp::Minimum, &lo, &Value::Float(len as f64 - 1.0))
        }
        _ => {
            let below = ops::binary(BinaryOp::Lt, &j, &Value::Float(0.0))?;
            let above = ops::binary(BinaryOp::Ge, &j, &n)?;
            let out = ops::add(&below, &above)?;
            let out = ops::binary(BinaryOp::Gt, &out, &Value::Float(0.0))?;
            ops::where_(&out, &n, &j)
        }
    }
}

/// [`fix_index`] of an int a running trace computed, by float arithmetic
/// alone: a comparison of traced scalars would be a guard on the index (a
/// jit plan traced again for each value), while `maximum`, `minimum`, `+`
/// and `*` are steps of the plan. For an int `i`, `min(max(-i, 0), 1)` is 1
/// exactly when `i < 0`, and every step is exact below 2^53.
fn fix_traced_int(i: &Value, len: usize, mode: Mode, wrap: bool) -> R<Value> {
    let (zero, one, n) = (Value::Float(0.0), Value::Float(1.0), Value::Float(len as f64));
    let max = |a: &Value, b: &Value| ops::binary(BinaryOp::Maximum, a, b);
    let min = |a: &Value, b: &Value| ops::binary(BinaryOp::Minimum, a, b);
    // 1.0 where the int `v` is negative, else 0.0.
    let negative = |v: &Value| min(&max(&ops::neg(v)?, &zero)?, &one);
    let j = if wrap {
        ops::add(i, &ops::mul(&n, &negative(i)?)?)?
    } else {
        ops::num(i)
    };
    match mode {
        Mode::Clip => min(&max(&j, &zero)?, &Value::Float(len as f64 - 1.0)),
        _ => {
            // Out of range (below 0 or from `len` on) goes to the padding slot `len`.
            let above = negative(&ops::sub(&Value::Float(len as f64 - 1.0), &j)?)?;
            let out = max(&negative(&j)?, &above)?;
            ops::add(&j, &ops::mul(&out, &ops::sub(&n, &j)?)?)
        }
    }
}

/// Positions as a plain tensor, or batched when the indices were, or
/// traced when a trace computed an index (see [`is_traced_scalar`]).
fn plain_positions(pos: Value) -> R<Value> {
    if crate::autodiff::trace::is_batched(&pos) || crate::autodiff::trace::is_traced(&pos) {
        return Ok(pos);
    }
    Ok(Value::Tensor(as_tensor(pos.strip())?))
}

/// Whether any position is -1 (an index out of range under `"drop"`), over
/// every example when the positions are batched. Positions a running trace
/// computed may be for another call: they count as dropped, so the path
/// taken (which gives the same values when none is) holds for every call.
fn any_dropped(pos: &Value) -> R<bool> {
    if crate::autodiff::trace::is_traced(pos) {
        return Ok(true);
    }
    Ok(as_tensor(pos.peek())?.to_vec().iter().any(|&i| i < 0.0))
}

/// `where(pos < 0, to, pos)`, with `ops` so batched positions stay batched.
fn replace_dropped(pos: &Value, to: f64) -> R<Value> {
    let neg = ops::binary(BinaryOp::Lt, pos, &Value::Float(0.0))?;
    ops::where_(&neg, &Value::Float(to), pos)
}

/// Which method's arguments [`method_args`] reads.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `.set(v)` and the other updates: one value.
    Update,
    /// `.apply(f)`: one function.
    Apply,
    /// `.get()`: no value, and `fill_value=` too.
    Get,
}

/// The arguments of a method call: its one positional value (`none` for
/// `.get`) and its keywords.
struct MethodArgs<'a> {
    value: &'a Value,
    mode: Mode,
    /// `wrap_negative_indices`.
    wrap: bool,
    fill: Option<Value>,
}

/// The value and keywords of `.set(v, mode=...)` and friends (`get`: no
/// value, and `fill_value=` too; `apply`: a function).
fn method_args<'a>(name: &str, a: &'a Args, kind: Kind) -> R<MethodArgs<'a>> {
    let get = kind == Kind::Get;
    let want = usize::from(!get);
    if a.pos.len() != want {
        return Err(Diagnostic::new(
            ErrorKind::Type,
            match kind {
                Kind::Get => format!("`.get()` takes no positional arguments, found {}", a.pos.len()),
                Kind::Apply => format!(
                    "`.apply(f)` takes one function, found {} positional arguments",
                    a.pos.len()
                ),
                Kind::Update => format!(
                    "`.{name}(v)` takes one value, found {} positional arguments",
                    a.pos.len()
                ),
            },
        )
        .at(a.span));
    }
    let mut mode = Mode::Raise;
    let mut fill = None;
    let mut wrap = true;
    for (i, (k, v)) in a.kw.iter().enumerate() {
        let ks = a.spans.get(a.pos.len() + i).copied().unwrap_or(a.span);
        match &**k {
            "mode" => {
                mode = match v {
                    Value::None => Mode::Raise,
                    Value::Str(m) => match &**m {
                        "promise_in_bounds" => Mode::Raise,
                        "clip" => Mode::Clip,
                        "drop" | "fill" => Mode::Drop,
                        other => {
                            return Err(
                                Diagnostic::new(ErrorKind::Value, format!("unknown index mode \"{other}\""))
                                    .at(ks)
                                    .with_help("modes are \"promise_in_bounds\", \"clip\", \"drop\" and \"fill\""),
                            )
                        }
                    },
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!("`mode` must be a string, found {}", other.describe()),
                        )
                        .at(ks))
                    }
                }
            }
            // JAX's promises about the indices: dp checks what it needs
            // (`.mul`'s derivative checks uniqueness itself), so they only
            // have to be bools.
            "unique_indices" | "indices_are_sorted" | "wrap_negative_indices" => {
                let Value::Bool(b) = v else {
                    return Err(Diagnostic::new(
                        ErrorKind::Type,
                        format!("`{k}` must be a bool, found {}", v.describe()),
                    )
                    .at(ks));
                };
                if &**k == "wrap_negative_indices" {
                    wrap = *b;
                }
            }
            "fill_value" if get => {
                if !v.is_numeric() && !matches!(v, Value::None) {
                    return Err(Diagnostic::new(
                        ErrorKind::Type,
                        format!("`fill_value` must be a number, found {}", v.describe()),
                    )
                    .at(ks));
                }
                fill = (!matches!(v, Value::None)).then(|| ops::num(v));
            }
            other => {
                return Err(
                    Diagnostic::new(ErrorKind::Type, format!("`.{name}` has no keyword `{other}`"))
                        .at(ks)
                        .with_help(if get {
                            "`.get` takes `mode=`, `fill_value=` and `wrap_negative_indices=`"
                        } else {
                            "the update methods take `mode=` and `wrap_negative_indices=`"
                        }),
                )
            }
        }
    }
    Ok(MethodArgs {
        value: a.pos.first().unwrap_or(&Value::None),
        mode,
        wrap,
        fill,
    })
}

/// `x.at[...].apply(f)`: `f` applied to each element at the positions `pos`
/// (-1: out of range, skipped), once per occurrence, so an element selected
/// `k` times becomes `f(f(...f(x)))` (JAX's `scatter_apply`).
///
/// In rounds: round `r` takes the `r`-th occurrence of every position, so
/// the positions of a round are distinct; it gathers them, maps `f` over
/// them elementwise (`vmap`, so `f` sees one element, as JAX's does) and
/// sets the results. Occurrences not in the round (and dropped ones) point
/// at padding elements of their own, appended to `x` and cut off at the
/// end. Everything is `Take`, `IndexUpdate` and `f`'s own operations, so
/// derivatives in `x` and through `f`'s closure come from their rules.
fn apply_fn(it: &mut Interp, x: &Value, pos: &Value, f: &Value, span: Span, may_drop: bool) -> R<Value> {
    let shape = shape_of(x);
    let n = shape.iter().product::<usize>();
    let sel_shape = shape_of(pos);
    let sel = sel_shape.iter().product::<usize>();
    // Occurrence ranks from the concrete positions: of every example, when
    // the positions are batched (their data has the batch axes in front).
    // Positions a trace computed from one scalar index are one position,
    // the same for every call, unless `"drop"` may drop it: then the ranks
    // read it (a jit plan is for that position only).
    let concrete = if may_drop { pos.strip() } else { pos.peek() };
    let data = as_tensor(concrete)?.to_vec();
    let mut rank = vec![-1.0; data.len()];
    let mut rounds = 0usize;
    for (example, chunk) in data.chunks(sel.max(1)).enumerate() {
        let mut seen = std::collections::HashMap::new();
        for (i, &p) in chunk.iter().enumerate() {
            if p < 0.0 {
                continue;
            }
            let c = seen.entry(p as i64).or_insert(0usize);
            rank[example * sel + i] = *c as f64;
            *c += 1;
            rounds = rounds.max(*c);
        }
    }
    if rounds == 0 || n == 0 {
        return Ok(ops::num(x));
    }
    let flat = ops::reshape(x, &[n])?;
    // One distinct round with nothing dropped: the positions as they are.
    if rounds == 1 && rank.iter().all(|&r| r == 0.0) {
        let y = apply_round(it, &flat, pos, f, sel, span)?;
        return ops::reshape(&y, &shape);
    }
    let pads = from_tensor(te(Tensor::zeros(&[sel]))?);
    let mut y = ops::apply(&Prim::Concat(crate::prim::Concat(0)), &[flat, pads])?;
    let rank = from_tensor(te(Tensor::from_vec(rank, as_tensor(pos.peek())?.shape()))?);
    let rank = crate::autodiff::trace::rewrap_batches(pos, rank);
    // Occurrence `i` of the selection has the padding element `n + i`.
    let own_pad = from_tensor(te(
        te(Tensor::arange(n as f64, (n + sel) as f64, 1.0))?.reshape(&sel_shape)
    )?);
    for r in 0..rounds {
        let this = ops::binary(BinaryOp::Eq, &rank, &Value::Float(r as f64))?;
        let pr = ops::where_(&this, pos, &own_pad)?;
        y = apply_round(it, &y, &pr, f, sel, span)?;
    }
    first_n(&y, n, &shape)
}

/// One round of [`apply_fn`]: `flat` with the elements at the distinct
/// positions `pos` (`sel` of them) replaced by `f` of each.
fn apply_round(it: &mut Interp, flat: &Value, pos: &Value, f: &Value, sel: usize, span: Span) -> R<Value> {
    let taken = ops::apply(&Prim::Take(crate::prim::Take(0)), &[flat.clone(), pos.clone()])?;
    let taken = ops::reshape(&taken, &[sel])?;
    let mapped = crate::autodiff::vmap::vmap_call(
        it,
        f,
        &Value::Int(0),
        &Value::Int(0),
        Args::positional(vec![taken], span),
    )?;
    if !mapped.is_numeric() || shape_of(&mapped) != [sel] {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`.apply(f)`: `f` must map one element to one number, but it gave {}",
                if mapped.is_numeric() {
                    format!(
                        "a tensor of shape {}",
                        format_shape(shape_of(&mapped).get(1..).unwrap_or(&[]))
                    )
                } else {
                    mapped.describe()
                }
            ),
        )
        .at(span));
    }
    let mapped = ops::reshape(&mapped, &shape_of(pos))?;
    ops::apply(
        &Prim::IndexUpdate(IndexUpdate(UpdateMode::Set)),
        &[flat.clone(), pos.clone(), mapped],
    )
}

/// `x[...]` at the positions `pos` (-1: out of range, giving `fill`).
fn get(x: &Value, pos: &Value, mode: Mode, fill: Value) -> R<Value> {
    let n = shape_of(x).iter().product::<usize>();
    let flat = ops::reshape(x, &[n])?;
    if mode != Mode::Drop || !any_dropped(pos)? {
        return ops::apply(&Prim::Take(crate::prim::Take(0)), &[flat, pos.clone()]);
    }
    if n == 0 {
        // Every position is dropped: nothing to gather from.
        let like = ops::mul(pos, &Value::Float(0.0))?;
        return ops::add(&like, &fill);
    }
    let inside = ops::binary(BinaryOp::Ge, pos, &Value::Float(0.0))?;
    let taken = ops::apply(&Prim::Take(crate::prim::Take(0)), &[flat, replace_dropped(pos, 0.0)?])?;
    ops::where_(&inside, &taken, &fill)
}

/// One method applied: `v` broadcast to the selection, out-of-range
/// positions (-1) sent to an extra element that is cut off afterwards.
fn apply_method(method: Method, name: &str, x: &Value, pos: &Value, v: &Value, v_span: Span) -> R<Value> {
    if !any_dropped(pos)? {
        return method_at(method, name, x, pos, v, v_span);
    }
    let shape = shape_of(x);
    let n = shape.iter().product::<usize>();
    let flat = ops::reshape(x, &[n])?;
    let ext = ops::apply(
        &Prim::Concat(crate::prim::Concat(0)),
        &[flat, from_tensor(te(Tensor::zeros(&[1]))?)],
    )?;
    let moved = replace_dropped(pos, n as f64)?;
    let y = method_at(method, name, &ext, &moved, v, v_span)?;
    first_n(&y, n, &shape)
}

/// `method` at in-range positions `pos` of `x`.
fn method_at(method: Method, name: &str, x: &Value, pos: &Value, v: &Value, v_span: Span) -> R<Value> {
    match method {
        Method::Update(mode, negate) => {
            let v = if negate {
                ops::neg(&value_arg(name, v, v_span)?)?
            } else {
                v.clone()
            };
            update(mode, name, x, pos, &v, v_span)
        }
        Method::Divide | Method::Power => {
            let ones = from_tensor(te(Tensor::full(&shape_of(x), 1.0))?);
            let by = update(UpdateMode::Mul, name, &ones, pos, v, v_span)?;
            let op = if method == Method::Divide {
                BinaryOp::Div
            } else {
                BinaryOp::Pow
            };
            ops::binary(op, x, &by)
        }
    }
}

/// `v` of a method, checked to be a number or tensor.
fn value_arg(name: &str, v: &Value, v_span: Span) -> R<Value> {
    // The kind decides (a peek): a traced tensor's elements are not read.
    match v.peek() {
        Value::Bool(b) => Ok(Value::Tensor(std::rc::Rc::new(
            Tensor::scalar(f64::from(u8::from(*b))).marked_bool(),
        ))),
        _ if v.is_numeric() => Ok(ops::num(v)),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("`.{name}(v)` expects a number or tensor, found {}", other.describe()),
        )
        .at(v_span)),
    }
}

/// `x` with the elements at `pos` updated by `v` (broadcast to the selection's shape).
fn update(mode: UpdateMode, name: &str, x: &Value, pos: &Value, v: &Value, v_span: Span) -> R<Value> {
    let v = value_arg(name, v, v_span)?;
    let sel = shape_of(pos);
    let vs = shape_of(&v);
    let v = if vs == sel {
        v
    } else if dp_tensor::broadcast_shapes(&vs, &sel).as_deref() == Some(&sel[..]) {
        ops::broadcast_to(&v, &sel)?
    } else {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "cannot {} a value of shape {} into the {} selected elements of shape {}",
                name,
                format_shape(&vs),
                sel.iter().product::<usize>(),
                format_shape(&sel)
            ),
        )
        .at(v_span)
        .with_label(format!("shape {}", format_shape(&vs)))
        .with_help("the value must broadcast to the shape of `x[...]` for the same index"));
    };
    ops::apply(&Prim::IndexUpdate(IndexUpdate(mode)), &[ops::num(x), pos.clone(), v])
}

/// The first `n` elements of the flat `y` (without the padding elements
/// appended after them), reshaped to `shape`.
fn first_n(y: &Value, n: usize, shape: &[usize]) -> R<Value> {
    let range = dp_tensor::SliceSpec::Range {
        start: Some(0),
        stop: Some(n as i64),
        step: 1,
    };
    let kept = ops::apply(
        &Prim::Slice(crate::prim::Slice(vec![range].into())),
        std::slice::from_ref(y),
    )?;
    ops::reshape(&kept, shape)
}
