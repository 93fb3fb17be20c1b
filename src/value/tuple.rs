//! dp's tuple: immutable and persistent (cloning is O(1); extending a tuple
//! that others still hold leaves theirs unchanged).
//!
//! Most tuples are small (parameters, shapes, `(loss, grad)` pairs, records
//! of a few fields): those are a plain vector behind an `Rc`, built with one
//! allocation and read with one index. Past [`SMALL_MAX`] elements a tuple
//! becomes a persistent vector (`im::Vector`, an RRB tree), so that
//! appending to a long tuple someone else still holds shares its structure
//! instead of copying it (`reduce(|acc, x| append(acc, x), xs, ())` stays
//! linear, as docs/language.md §3.1 promises).
//! A uniquely held small tuple grows in place (`t = append(t, x)`).

use crate::value::Value;
use std::fmt;
use std::rc::Rc;

/// The most elements kept in the flat form: copying that many values (1 KB)
/// to extend a shared tuple costs about as much as one tree update.
const SMALL_MAX: usize = 32;

/// An immutable, persistent tuple of values.
#[derive(Clone)]
pub struct Tuple(Repr);

#[derive(Clone)]
enum Repr {
    /// At most [`SMALL_MAX`] elements.
    Small(Rc<Vec<Value>>),
    /// More than [`SMALL_MAX`] elements (behind an `Rc`: an `im::Vector`
    /// is several words, and a `Value` must stay four).
    Large(Rc<im::Vector<Value>>),
}

impl Default for Tuple {
    fn default() -> Tuple {
        Tuple(Repr::Small(Rc::new(Vec::new())))
    }
}

impl Tuple {
    /// The empty tuple.
    pub fn new() -> Tuple {
        Tuple::default()
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(v) => v.len(),
        }
    }

    /// Whether the tuple has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `i`, if in range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => v.get(i),
            Repr::Large(v) => v.get(i),
        }
    }

    /// The elements in order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter()),
            Repr::Large(v) => Iter::Large(v.iter()),
        }
    }

    /// Adds `x` at the end: in place when this is the only holder, else on
    /// a copy (small) or a path copy (large) that the other holders never see.
    pub fn push(&mut self, x: Value) {
        match &mut self.0 {
            Repr::Small(v) if v.len() < SMALL_MAX => Rc::make_mut(v).push(x),
            Repr::Small(v) => {
                let mut large: im::Vector<Value> = v.iter().cloned().collect();
                large.push_back(x);
                self.0 = Repr::Large(Rc::new(large));
            }
            Repr::Large(v) => Rc::make_mut(v).push_back(x),
        }
    }
}

/// Checks that a tuple of `len` elements fits the memory budget (the
/// elements' own contents aside: a tuple stores one value, four words, per
/// element). Every operation that can grow a tuple by more than one element
/// (`+`, `tuple(...)`, `zip`, `map`, `tolist`) checks before building it.
pub fn check_len(len: u128) -> Result<(), crate::diagnostics::Diagnostic> {
    let bytes = len.saturating_mul(std::mem::size_of::<Value>() as u128);
    dp_tensor::check_memory(bytes, || format!("a tuple of {len} elements")).map_err(crate::ops::tensor_error)
}

/// Collects the elements of a tuple being built (`expected` of them when
/// known), with fallible reservations: a request the system refuses (an
/// address-space limit, exhausted memory) below the budget of [`check_len`]
/// is a report, not an abort; growth doubles, but never past the budget.
pub fn collect_elements<E: From<crate::diagnostics::Diagnostic>>(
    items: impl Iterator<Item = Result<Value, E>>,
    expected: Option<usize>,
) -> Result<Vec<Value>, E> {
    let (low, high) = items.size_hint();
    let mut out: Vec<Value> = Vec::new();
    reserve(&mut out, expected.or(high).unwrap_or(low))?;
    for x in items {
        if out.len() == out.capacity() {
            // Doubling, cut to what the budget allows (at least one more).
            let room = dp_tensor::memory_limit().unwrap_or(usize::MAX) / std::mem::size_of::<Value>();
            let extra = out.len().max(4).min(room.saturating_sub(out.len())).max(1);
            reserve(&mut out, extra)?;
        }
        out.push(x?);
    }
    Ok(out)
}

/// `v.try_reserve_exact(extra)`, with a refusal reported as an out-of-memory error.
fn reserve<E: From<crate::diagnostics::Diagnostic>>(v: &mut Vec<Value>, extra: usize) -> Result<(), E> {
    let len = v.len() as u128 + extra as u128;
    check_len(len)?;
    v.try_reserve_exact(extra).map_err(|_| {
        crate::ops::tensor_error(dp_tensor::TensorError::OutOfMemory {
            what: format!("a tuple of {len} elements"),
            bytes: len * std::mem::size_of::<Value>() as u128,
            limit: None,
        })
        .into()
    })
}

impl Extend<Value> for Tuple {
    fn extend<I: IntoIterator<Item = Value>>(&mut self, items: I) {
        for x in items {
            self.push(x);
        }
    }
}

impl std::ops::Index<usize> for Tuple {
    type Output = Value;
    /// The element at `i`; callers check the range first (as for a slice).
    fn index(&self, i: usize) -> &Value {
        match &self.0 {
            Repr::Small(v) => &v[i],
            Repr::Large(v) => &v[i],
        }
    }
}

impl From<Vec<Value>> for Tuple {
    fn from(items: Vec<Value>) -> Tuple {
        if items.len() <= SMALL_MAX {
            Tuple(Repr::Small(Rc::new(items)))
        } else {
            Tuple(Repr::Large(Rc::new(items.into_iter().collect())))
        }
    }
}

impl FromIterator<Value> for Tuple {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Tuple {
        Tuple::from(iter.into_iter().collect::<Vec<Value>>())
    }
}

/// Iterator over a tuple's elements.
pub enum Iter<'a> {
    /// Over the flat form.
    Small(std::slice::Iter<'a, Value>),
    /// Over the tree form.
    Large(im::vector::Iter<'a, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Value;
    #[inline]
    fn next(&mut self) -> Option<&'a Value> {
        match self {
            Iter::Small(it) => it.next(),
            Iter::Large(it) => it.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Tuple {
    type Item = &'a Value;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Owning iterator over a tuple's elements.
pub enum IntoIter {
    /// Over the flat form.
    Small(std::vec::IntoIter<Value>),
    /// Over the tree form.
    Large(im::vector::ConsumingIter<Value>),
}

impl Iterator for IntoIter {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        match self {
            IntoIter::Small(it) => it.next(),
            IntoIter::Large(it) => it.next(),
        }
    }
}

impl IntoIterator for Tuple {
    type Item = Value;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        match self.0 {
            Repr::Small(v) => IntoIter::Small(Rc::try_unwrap(v).unwrap_or_else(|rc| (*rc).clone()).into_iter()),
            Repr::Large(v) => IntoIter::Large(Rc::try_unwrap(v).unwrap_or_else(|rc| (*rc).clone()).into_iter()),
        }
    }
}

impl fmt::Debug for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(t: &Tuple) -> Vec<i64> {
        t.iter()
            .map(|v| match v {
                Value::Int(x) => *x,
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn pushing_across_the_small_limit_keeps_order_and_other_holders() {
        let mut t = Tuple::new();
        let mut snapshots = Vec::new();
        for i in 0..100 {
            snapshots.push(t.clone());
            t.push(Value::Int(i));
        }
        assert_eq!(ints(&t), (0..100).collect::<Vec<_>>());
        for (n, s) in snapshots.iter().enumerate() {
            assert_eq!(ints(s), (0..n as i64).collect::<Vec<_>>(), "snapshot {n}");
        }
        assert!(matches!(t[99], Value::Int(99)) && t.get(100).is_none());
        let owned: Vec<Value> = t.into_iter().collect();
        assert_eq!(owned.len(), 100);
    }

    #[test]
    fn from_vec_and_extend_agree() {
        for n in [0usize, 1, 32, 33, 200] {
            let v: Vec<Value> = (0..n as i64).map(Value::Int).collect();
            let a = Tuple::from(v.clone());
            let mut b = Tuple::new();
            b.extend(v);
            assert_eq!(ints(&a), ints(&b));
            assert_eq!(a.len(), n);
        }
    }
}
