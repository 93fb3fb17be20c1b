//! The signature a jit plan is cached under: the arguments' tree structure,
//! the shape of every float and tensor leaf (their values are the plan's
//! inputs), and the value of every other leaf (an int picks a loop count, a
//! string a branch: the plan is only valid for those values).

use crate::value::native::Args;
use crate::value::Value;
use std::rc::Rc;

/// One step of the walk over the arguments.
#[derive(Debug)]
enum Part {
    /// A float leaf (an input of the plan).
    Float,
    /// A tensor leaf (an input of the plan) of this shape; bool tensors apart.
    Tensor(Vec<usize>, bool),
    /// A tuple of this many items follows.
    Tuple(usize),
    /// A dict with these keys (their values follow in order).
    Dict(Vec<Rc<str>>),
    /// A keyword argument with this name follows.
    Keyword(Rc<str>),
    /// Any other leaf, which the plan is specific to: ints, bools, strings
    /// and ranges by value, functions and graphs by identity (the plan holds
    /// a clone, so an address is never reused while compared).
    Exact(Value),
}

impl PartialEq for Part {
    fn eq(&self, other: &Part) -> bool {
        match (self, other) {
            (Part::Float, Part::Float) => true,
            (Part::Tensor(a, x), Part::Tensor(b, y)) => a == b && x == y,
            (Part::Tuple(a), Part::Tuple(b)) => a == b,
            (Part::Dict(a), Part::Dict(b)) => a == b,
            (Part::Keyword(a), Part::Keyword(b)) => a == b,
            (Part::Exact(a), Part::Exact(b)) => identical(a, b),
            _ => false,
        }
    }
}

/// Whether two values are the same for a plan: equal scalars and strings,
/// the very same function, tensor or container otherwise.
pub fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        // Bitwise, so that a nan read equals itself and -0.0 differs from 0.0.
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Range(a1, b1, s1), Value::Range(a2, b2, s2)) => (a1, b1, s1) == (a2, b2, s2),
        (Value::Key(x), Value::Key(y)) => x == y,
        (Value::Tensor(x), Value::Tensor(y)) => Rc::ptr_eq(x, y),
        (Value::Func(x), Value::Func(y)) => Rc::ptr_eq(x, y),
        (Value::Native(x), Value::Native(y)) => Rc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => std::ptr::addr_eq(Rc::as_ptr(x), Rc::as_ptr(y)),
        (Value::Progress(x), Value::Progress(y)) => Rc::ptr_eq(x, y),
        (Value::Dual(x), Value::Dual(y)) => Rc::ptr_eq(x, y),
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| identical(a, b))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.keys().zip(y.keys()).all(|(a, b)| a == b)
                && x.values().zip(y.values()).all(|(a, b)| identical(a, b))
        }
        _ => false,
    }
}

/// The signature of one call's arguments.
#[derive(Debug, PartialEq)]
pub struct Signature(Vec<Part>);

/// Deeper argument trees are not cached (walking them would cost more than a plan saves).
const MAX_DEPTH: usize = 64;

impl Signature {
    /// The signature of `args`; `None` when a call with them cannot use a
    /// plan: a leaf is being differentiated or batched (the call runs
    /// inside `grad` or `vmap`), or the tree is too deep.
    pub fn of(args: &Args) -> Option<Signature> {
        let mut parts = Vec::with_capacity(args.pos.len() + 2 * args.kw.len());
        for a in &args.pos {
            walk(a, &mut parts, 0)?;
        }
        // Keyword arguments are not inputs of the trace (see `trace_call`):
        // the plan is specific to their values.
        for (name, v) in &args.kw {
            parts.push(Part::Keyword(name.clone()));
            let at = parts.len();
            walk(v, &mut parts, 0)?;
            parts.truncate(at);
            parts.push(Part::Exact(v.clone()));
        }
        Some(Signature(parts))
    }
}

fn walk(v: &Value, parts: &mut Vec<Part>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    match v {
        Value::Float(_) => parts.push(Part::Float),
        Value::Tensor(t) => parts.push(Part::Tensor(t.shape().to_vec(), t.is_bool())),
        Value::Dual(_) => return None,
        Value::Tuple(items) => {
            parts.push(Part::Tuple(items.len()));
            for x in items.iter() {
                walk(x, parts, depth + 1)?;
            }
        }
        Value::Dict(d) => {
            parts.push(Part::Dict(d.keys().cloned().collect()));
            for x in d.values() {
                walk(x, parts, depth + 1)?;
            }
        }
        other => parts.push(Part::Exact(other.clone())),
    }
    Some(())
}
