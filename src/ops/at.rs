//! Functional updates `x.at[i].set(v)`, `.add(v)`, `.mul(v)` and `.get()`
//! (JAX's spelling). `x.at[...]` evaluates the index once, against a tensor
//! of flat positions shaped like `x` (so ints, slices, index tensors and bool
//! masks all mean exactly what they mean in `x[...]`), and gives a dict of
//! the four methods, which apply the `IndexUpdate` primitive to those
//! positions. The result is a new tensor; `x` is unchanged.

use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::index::{index, Item};
use crate::ops::{self, shape_of, Prim};
use crate::prim::{as_tensor, from_tensor, te, IndexUpdate};
use crate::syntax::span::Span;
use crate::value::native::{native, Args};
use crate::value::{Dict, Value};
use dp_tensor::{format_shape, Tensor, UpdateMode};

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
    let shape = shape_of(x);
    let n = shape.iter().product::<usize>();
    let iota = te(te(Tensor::arange(0.0, n as f64, 1.0))?.reshape(&shape))?;
    // Index values are never differentiated: the positions are constants.
    let items = items
        .into_iter()
        .map(|it| match it {
            Item::At(v, s) => Item::At(v.strip().clone(), s),
            Item::Slice(a, b, c) => {
                let plain = |p: Option<(Value, Span)>| p.map(|(v, s)| (v.strip().clone(), s));
                Item::Slice(plain(a), plain(b), plain(c))
            }
            Item::Ellipsis(s) => Item::Ellipsis(s),
        })
        .collect();
    let pos = index(&from_tensor(iota), items, recv_span, span)?;
    let pos = Value::Tensor(as_tensor(pos.strip())?);
    let mut d = Dict::new();
    for mode in [UpdateMode::Set, UpdateMode::Add, UpdateMode::Mul] {
        let (x, pos) = (x.clone(), pos.clone());
        d.insert(
            mode.name().into(),
            native(mode.name(), move |_, a: Args| {
                let v = one_arg(mode.name(), &a)?;
                update(mode, &x, &pos, v, a.span_of(0)).map_err(|d| d.at(a.span))
            }),
        );
    }
    let (x, p) = (x.clone(), pos);
    d.insert(
        "get".into(),
        native("get", move |_, a: Args| {
            if !a.pos.is_empty() || !a.kw.is_empty() {
                return Err(Diagnostic::new(ErrorKind::Type, "`.get()` takes no arguments").at(a.span));
            }
            let flat = ops::reshape(&x, &[n])?;
            ops::apply(&Prim::Take(crate::prim::Take(0)), &[flat, p.clone()])
        }),
    );
    Ok(Value::Dict(d))
}

/// The single positional argument of `.set(v)` and friends.
fn one_arg<'a>(name: &str, a: &'a Args) -> R<&'a Value> {
    match (&a.pos[..], a.kw.is_empty()) {
        ([v], true) => Ok(v),
        _ => Err(Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`.{name}(v)` takes one value, found {} arguments",
                a.pos.len() + a.kw.len()
            ),
        )
        .at(a.span)),
    }
}

/// `x` with the elements at `pos` updated by `v` (broadcast to the selection's shape).
fn update(mode: UpdateMode, x: &Value, pos: &Value, v: &Value, v_span: Span) -> R<Value> {
    let v = match v.strip() {
        Value::Bool(b) => Value::Tensor(std::rc::Rc::new(Tensor::scalar(f64::from(u8::from(*b))).marked_bool())),
        _ if v.is_numeric() => ops::num(v),
        other => {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "`.{}(v)` expects a number or tensor, found {}",
                    mode.name(),
                    other.describe()
                ),
            )
            .at(v_span))
        }
    };
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
                mode.name(),
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
