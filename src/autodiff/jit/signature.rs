//! The signature a jit plan is cached under: the arguments' tree structure
//! (keyword arguments by name), the shape of every float and tensor leaf
//! (their values are the plan's inputs), the value of every int leaf, and
//! the value of every other leaf (a string picks a branch: the plan is only
//! valid for those values). An int may pick a loop count too, but an int
//! that changes from call to call (Adam's step count) usually does not: a
//! plan traced with the int leaves as inputs applies to every signature
//! that differs only in their values (see [`Signature::same_but`]). Random
//! keys are the same: a fresh key each call (`fold_in(k, step)`, a key
//! carried through `key_split`) makes them inputs of the plan, which then
//! draws from each call's key.

use crate::value::native::Args;
use crate::value::Value;
use std::rc::Rc;

/// One step of the walk over the arguments.
#[derive(Clone, Debug)]
enum Part {
    /// A float leaf (an input of the plan).
    Float,
    /// A tensor leaf (an input of the plan) of this shape; bool tensors apart.
    Tensor(Vec<usize>, bool),
    /// An int leaf with this value.
    Int(i64),
    /// A random key with these bits.
    Key(u64),
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
            (Part::Int(a), Part::Int(b)) => a == b,
            (Part::Key(a), Part::Key(b)) => a == b,
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
#[derive(Clone, Debug, PartialEq)]
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
        // Keyword arguments' leaves are inputs of the plan as positional ones
        // are (see `Leaves::keywords`): the name comes first.
        for (name, v) in &args.kw {
            parts.push(Part::Keyword(name.clone()));
            walk(v, &mut parts, 0)?;
        }
        Some(Signature(parts))
    }

    /// Whether the arguments hold an int leaf.
    pub fn has_ints(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Int(_)))
    }

    /// Whether the arguments hold a key.
    pub fn has_keys(&self) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Key(_)))
    }

    /// Whether the two signatures are the same but for the values of their
    /// int leaves (when `ints`) and keys (when `keys`): a plan traced with
    /// those as inputs applies to either.
    pub fn same_but(&self, other: &Signature, ints: bool, keys: bool) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|(a, b)| match (a, b) {
                (Part::Int(_), Part::Int(_)) if ints => true,
                (Part::Key(_), Part::Key(_)) if keys => true,
                _ => a == b,
            })
    }

    /// Whether `args` have this signature but for the values of their int
    /// leaves (when `ints`) and keys (when `keys`): [`Signature::of`] and
    /// [`Signature::same_but`] in one walk that builds nothing, which is
    /// what every call of a jitted function asks first (a model's parameter
    /// tree can have hundreds of leaves).
    pub fn admits(&self, args: &Args, ints: bool, keys: bool) -> bool {
        self.admits_visiting(args, ints, keys, false, &mut |_| {})
    }

    /// [`Signature::admits`], calling `leaf` on each leaf of `args` in
    /// order as it is matched (positional arguments, then keyword ones when
    /// `keywords`), so a plan collects its inputs in the same walk.
    pub fn admits_visiting(
        &self,
        args: &Args,
        ints: bool,
        keys: bool,
        keywords: bool,
        leaf: &mut dyn FnMut(&Value),
    ) -> bool {
        let mut at = 0;
        let mut skip = |_: &Value| {};
        args.pos.iter().all(|a| self.admit(a, &mut at, ints, keys, 0, leaf))
            && args.kw.iter().all(|(name, v)| {
                let named = matches!(self.0.get(at), Some(Part::Keyword(n)) if n == name);
                at += 1;
                let visit: &mut dyn FnMut(&Value) = if keywords { &mut *leaf } else { &mut skip };
                named && self.admit(v, &mut at, ints, keys, 0, visit)
            })
            && at == self.0.len()
    }

    /// Whether `v` matches the parts from `at` on (as [`walk`] would write
    /// them), moving `at` past them.
    fn admit(
        &self,
        v: &Value,
        at: &mut usize,
        ints: bool,
        keys: bool,
        depth: usize,
        leaf: &mut dyn FnMut(&Value),
    ) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(part) = self.0.get(*at) else {
            return false;
        };
        *at += 1;
        let matched = match (v, part) {
            (Value::Tuple(items), Part::Tuple(n)) => {
                return items.len() == *n && items.iter().all(|x| self.admit(x, at, ints, keys, depth + 1, leaf));
            }
            (Value::Dict(d), Part::Dict(names)) => {
                return d.len() == names.len()
                    && d.keys().zip(names).all(|(a, b)| a == b)
                    && d.values().all(|x| self.admit(x, at, ints, keys, depth + 1, leaf));
            }
            (Value::Float(_), Part::Float) => true,
            (Value::Int(i), Part::Int(j)) => ints || i == j,
            (Value::Key(k), Part::Key(l)) => keys || k == l,
            (Value::Tensor(t), Part::Tensor(shape, is_bool)) => t.shape() == &shape[..] && t.is_bool() == *is_bool,
            // The kinds `walk` gives a part of their own match no other part.
            (
                Value::Float(_)
                | Value::Int(_)
                | Value::Key(_)
                | Value::Tensor(_)
                | Value::Dual(_)
                | Value::Tuple(_)
                | Value::Dict(_),
                _,
            ) => false,
            (other, Part::Exact(e)) => identical(other, e),
            _ => false,
        };
        if matched {
            leaf(v);
        }
        matched
    }

    /// How `other` differs from this signature when only int and key values
    /// do: whether some int differs, whether some key does (`None`: the
    /// signatures differ in more than that).
    pub fn changed_values(&self, other: &Signature) -> Option<(bool, bool)> {
        if !self.same_but(other, true, true) {
            return None;
        }
        let differ = |int: bool| {
            self.0
                .iter()
                .zip(&other.0)
                .any(|(a, b)| a != b && matches!((a, int), (Part::Int(_), true) | (Part::Key(_), false)))
        };
        Some((differ(true), differ(false)))
    }
}

fn walk(v: &Value, parts: &mut Vec<Part>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    match v {
        Value::Float(_) => parts.push(Part::Float),
        Value::Int(i) => parts.push(Part::Int(*i)),
        Value::Key(k) => parts.push(Part::Key(*k)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Dict;
    use dp_tensor::Tensor;

    fn args(pos: Vec<Value>, kw: Vec<(&str, Value)>) -> Args {
        Args {
            pos,
            kw: kw.into_iter().map(|(k, v)| (Rc::from(k), v)).collect(),
            span: Default::default(),
            spans: Vec::new(),
        }
    }

    fn tensor(shape: &[usize]) -> Value {
        let n = shape.iter().product();
        // Invariant: the data has exactly the shape's element count.
        Value::Tensor(Rc::new(Tensor::from_vec(vec![0.5; n], shape).unwrap()))
    }

    fn dict(entries: Vec<(&str, Value)>) -> Value {
        Value::Dict(entries.into_iter().map(|(k, v)| (Rc::from(k), v)).collect::<Dict>())
    }

    fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(items.into())
    }

    /// `admits` answers what building the signature and comparing does, for
    /// every pair of a set of argument lists that differ in one place each.
    #[test]
    fn admits_agrees_with_building_the_signature() {
        let s: Value = Value::Str(Rc::from("relu"));
        let cases = vec![
            args(vec![Value::Float(1.0)], vec![]),
            args(vec![Value::Float(2.0)], vec![]),
            args(vec![Value::Int(3)], vec![]),
            args(vec![Value::Int(4)], vec![]),
            args(vec![Value::Key(7)], vec![]),
            args(vec![Value::Key(8)], vec![]),
            args(vec![tensor(&[2, 3])], vec![]),
            args(vec![tensor(&[3, 2])], vec![]),
            args(vec![tensor(&[6])], vec![]),
            args(vec![tuple(vec![Value::Float(1.0), tensor(&[2])])], vec![]),
            args(vec![tuple(vec![Value::Float(1.0)]), tensor(&[2])], vec![]),
            args(vec![tuple(vec![Value::Float(1.0), Value::Int(3)])], vec![]),
            args(vec![tuple(vec![Value::Float(1.0), Value::Int(5)])], vec![]),
            args(vec![dict(vec![("b", Value::Float(0.0)), ("w", tensor(&[2]))])], vec![]),
            args(vec![dict(vec![("b", Value::Float(0.0)), ("v", tensor(&[2]))])], vec![]),
            args(vec![dict(vec![("b", Value::Float(0.0))])], vec![]),
            args(vec![Value::Float(1.0)], vec![("act", s.clone())]),
            args(vec![Value::Float(1.0)], vec![("act", Value::Str(Rc::from("tanh")))]),
            args(vec![Value::Float(1.0)], vec![("mode", s.clone())]),
            args(vec![Value::Float(1.0), s.clone()], vec![]),
            args(vec![Value::Float(1.0), Value::Bool(true)], vec![]),
            args(vec![Value::Float(1.0), Value::Bool(false)], vec![]),
            args(vec![Value::Float(1.0), Value::None], vec![]),
            args(vec![], vec![]),
        ];
        for (i, a) in cases.iter().enumerate() {
            // Invariant: none of these arguments is being differentiated.
            let sig = Signature::of(a).unwrap();
            for (j, b) in cases.iter().enumerate() {
                let other = Signature::of(b).unwrap();
                for (ints, keys) in [(false, false), (true, false), (false, true), (true, true)] {
                    assert_eq!(
                        sig.admits(b, ints, keys),
                        sig.same_but(&other, ints, keys),
                        "case {i} against case {j}, ints {ints}, keys {keys}"
                    );
                }
            }
            // An admitting walk visits the leaves `for_each_leaf` visits, in order.
            let mut visited = Vec::new();
            assert!(sig.admits_visiting(a, false, false, true, &mut |x| visited.push(x.clone())));
            let mut leaves = Vec::new();
            for v in a.pos.iter().chain(a.kw.iter().map(|(_, v)| v)) {
                // Invariant: these trees are shallow, so the walk cannot fail.
                crate::value::tree::for_each_leaf(v, &mut |x| leaves.push(x.clone())).unwrap();
            }
            assert!(
                visited.len() == leaves.len() && visited.iter().zip(&leaves).all(|(x, y)| identical(x, y)),
                "case {i}: {visited:?} against {leaves:?}"
            );
        }
    }
}
