//! Operands read in place: locals, constants, and elements or fields of
//! locals (`t[0]`, `t[i]`, `p.x`, `d["k"]`). An operator whose operands are
//! places combines two numbers where they lie in the frame: no compiled code
//! is called for the operand, nothing is cloned, and no intermediate value
//! travels back through memory (`t[0] * 0.5` was an indirect call returning
//! a copied value, then the multiply). Anything but the plain case (a tensor,
//! a tracer, a missing element) runs the operand's general code, so results,
//! errors and the spans recorded for differentiation stay those of the
//! expression as written.

use super::compile::{expr, Code};
use super::interp::{Exec, Frame, Interp};
use super::ir::{self, ExprKind as K};
use crate::syntax::span::Span;
use crate::value::Value;
use std::rc::Rc;

/// An operand that can be read in place from the frame without running code.
pub(super) trait Place: 'static {
    /// The operand's value in place, when it is there to read (a local, a
    /// constant, an in-range tuple element, a present dict key); `None`
    /// sends the caller to [`Place::owned`].
    fn get<'a>(&'a self, i: &mut Interp, f: &'a Frame<'_>) -> Option<&'a Value>;

    /// The operand's value as the general code computes it (with its errors).
    fn owned(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value>;

    /// The operand's value: a clone of it in place, else [`Place::owned`].
    #[inline(always)]
    fn fetch(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value> {
        match self.get(i, f) {
            Some(v) => Ok(v.clone()),
            None => self.owned(i, f),
        }
    }
}

/// A local variable.
pub(super) struct LocalPlace(pub(super) u32);

impl Place for LocalPlace {
    #[inline(always)]
    fn get<'a>(&'a self, _: &mut Interp, f: &'a Frame<'_>) -> Option<&'a Value> {
        Some(&f.slots[self.0 as usize])
    }

    #[inline(always)]
    fn owned(&self, _: &mut Interp, f: &mut Frame) -> Exec<Value> {
        Ok(f.slots[self.0 as usize].clone())
    }
}

/// A constant.
pub(super) struct ConstPlace(pub(super) Value);

impl Place for ConstPlace {
    #[inline(always)]
    fn get<'a>(&'a self, _: &mut Interp, _: &'a Frame<'_>) -> Option<&'a Value> {
        Some(&self.0)
    }

    #[inline(always)]
    fn owned(&self, _: &mut Interp, _: &mut Frame) -> Exec<Value> {
        Ok(self.0.clone())
    }
}

/// An element or field of a local: `t[0]`, `t[i]`, `d["k"]`, `p.x`.
pub(super) struct ItemPlace {
    read: Read,
    /// The expression's own compiled code: everything but the plain read.
    general: Code,
}

/// How an [`ItemPlace`] reads its value.
enum Read {
    /// `x[n]` with a constant `n >= 0`: a tuple element.
    Element { x: u32, n: usize, span: Span },
    /// `x[k]` with `k` a local: a tuple element or a dict value.
    ElementAt { x: u32, k: u32, span: Span },
    /// `x.name` (no span), or `x["name"]` (the index's span): a dict value.
    Key { x: u32, name: Rc<str>, span: Option<Span> },
}

impl Place for ItemPlace {
    #[inline(always)]
    fn get<'a>(&'a self, i: &mut Interp, f: &'a Frame<'_>) -> Option<&'a Value> {
        match &self.read {
            Read::Element { x, n, span } => {
                // As the indexing code does: later operations without a span
                // of their own (`-t[0]`) are attributed to the index.
                i.diff.set_span(*span);
                match &f.slots[*x as usize] {
                    Value::Tuple(t) => t.get(*n),
                    _ => None,
                }
            }
            Read::ElementAt { x, k, span } => {
                i.diff.set_span(*span);
                match (&f.slots[*x as usize], &f.slots[*k as usize]) {
                    (Value::Tuple(t), Value::Int(n)) if *n >= 0 => t.get(*n as usize),
                    (Value::Dict(d), Value::Str(name)) => d.get(name),
                    _ => None,
                }
            }
            Read::Key { x, name, span } => {
                if let Some(span) = span {
                    i.diff.set_span(*span);
                }
                match &f.slots[*x as usize] {
                    Value::Dict(d) => d.get(name),
                    _ => None,
                }
            }
        }
    }

    #[inline(always)]
    fn owned(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value> {
        self.general.run(i, f)
    }
}

/// An operand of an operator: a place, or code to run.
pub(super) enum Side {
    /// A local.
    Local(LocalPlace),
    /// A constant.
    Const(ConstPlace),
    /// An element or field of a local.
    Item(ItemPlace),
    /// Anything else.
    Code(Code),
}

impl Side {
    /// Compiles an operand.
    pub(super) fn new(e: ir::Expr) -> Side {
        match (&e.kind, item_read(&e)) {
            (K::Local(s), _) => Side::Local(LocalPlace(*s)),
            (K::Const(v), _) => Side::Const(ConstPlace(v.clone())),
            (_, Some(read)) => Side::Item(ItemPlace { read, general: expr(e) }),
            _ => Side::Code(expr(e)),
        }
    }
}

impl Side {
    /// The operand's value (a place's value is cloned where it lies).
    #[inline(always)]
    pub(super) fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value> {
        match self {
            Side::Local(p) => p.fetch(i, f),
            Side::Const(p) => p.fetch(i, f),
            Side::Item(p) => p.fetch(i, f),
            Side::Code(c) => c.run(i, f),
        }
    }
}

/// How `e` reads an element or field of a local in place, if it is one.
fn item_read(e: &ir::Expr) -> Option<Read> {
    match &e.kind {
        K::Index(x, items) => {
            let (K::Local(x), [ir::IndexItem::At(k)]) = (&x.kind, items.as_slice()) else {
                return None;
            };
            let (x, span) = (*x, e.span);
            match &k.kind {
                K::Const(Value::Int(n)) if *n >= 0 => Some(Read::Element {
                    x,
                    n: *n as usize,
                    span,
                }),
                K::Const(Value::Str(name)) => Some(Read::Key {
                    x,
                    name: name.clone(),
                    span: Some(span),
                }),
                K::Local(k) => Some(Read::ElementAt { x, k: *k, span }),
                _ => None,
            }
        }
        K::Field(x, name, _) => match &x.kind {
            K::Local(x) => Some(Read::Key {
                x: *x,
                name: name.clone(),
                span: None,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// Runs `$body` with `$p` bound to the place of operand `$side` (a
/// [`LocalPlace`], [`ConstPlace`] or [`ItemPlace`]: one monomorphised copy
/// of `$body` each), or `$code` with `$c` bound to its code.
macro_rules! with_place {
    ($side:expr, |$p:ident| $body:expr, |$c:ident| $code:expr) => {
        match $side {
            $crate::eval::places::Side::Local($p) => $body,
            $crate::eval::places::Side::Const($p) => $body,
            $crate::eval::places::Side::Item($p) => $body,
            $crate::eval::places::Side::Code($c) => $code,
        }
    };
}
pub(super) use with_place;
