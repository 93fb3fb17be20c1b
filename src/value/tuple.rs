//! dp's tuple: immutable and persistent (cloning is O(1); extending a tuple
//! that others still hold leaves theirs unchanged).
//!
//! A tuple built whole (a literal, `tuple(...)`, `map`, `tree_leaves`, a
//! gradient's leaves) is a slice behind an `Rc` (count and elements in one
//! block), built with one allocation and read with one index, whatever its
//! length. A tuple that *grows* past [`SMALL_MAX`] elements (`append`, `+`)
//! becomes a persistent vector (`im::Vector`, an RRB tree), so that
//! appending to a long tuple someone else still holds shares its structure
//! instead of copying it (`reduce(|acc, x| append(acc, x), xs, ())` stays
//! linear, as docs/language.md §3.1 promises: a long flat tuple is copied
//! into a tree once, at its first append).
//! Growing a small tuple moves its elements (when uniquely held) or clones
//! them into a block one longer: at most [`SMALL_MAX`] words-of-four each time.

use crate::value::Value;
use std::fmt;
use std::rc::Rc;

/// The most elements a growing tuple keeps in the flat form: copying that
/// many values (1 KB) to extend a shared tuple costs about as much as one
/// tree update.
const SMALL_MAX: usize = 32;

/// An immutable, persistent tuple of values.
#[derive(Clone)]
pub struct Tuple(Repr);

#[derive(Clone)]
enum Repr {
    /// Flat: any number of elements when built whole, at most
    /// [`SMALL_MAX`] when grown by appending.
    Small(Rc<[Value]>),
    /// More than [`SMALL_MAX`] elements, grown by appending (behind an
    /// `Rc`: an `im::Vector` is several words, and a `Value` must stay four).
    Large(Rc<im::Vector<Value>>),
}

impl Default for Tuple {
    fn default() -> Tuple {
        Tuple(Repr::Small(Rc::new([])))
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
            Repr::Small(v) if v.len() < SMALL_MAX => {
                // One exact-size allocation (a chain of exact-size iterators
                // is collected without an intermediate vector).
                let grown: Rc<[Value]> = match Rc::get_mut(v) {
                    Some(mine) => mine
                        .iter_mut()
                        .map(|x| std::mem::replace(x, Value::None))
                        .chain(std::iter::once(x))
                        .collect(),
                    None => v.iter().cloned().chain(std::iter::once(x)).collect(),
                };
                *v = grown;
            }
            Repr::Small(v) => {
                let mut large: im::Vector<Value> = v.iter().cloned().collect();
                large.push_back(x);
                self.0 = Repr::Large(Rc::new(large));
            }
            Repr::Large(v) => Rc::make_mut(v).push_back(x),
        }
    }
}

impl Tuple {
    /// A small tuple (at most [`SMALL_MAX`] elements) whose `N` elements
    /// `item(0), item(1), ...` are computed in order straight into its single
    /// allocation: a tuple literal. The first error is returned, with the
    /// elements made so far dropped.
    ///
    /// Why not an array then `Rc::from`: the elements arrive as just-written
    /// 8-byte words (see [`crate::value::put`]), and copying the array into
    /// the allocation read them back with 16-byte loads, a store-forwarding
    /// stall per element.
    #[inline(always)]
    pub fn try_build<const N: usize, E>(mut item: impl FnMut(usize) -> Result<Value, E>) -> Result<Tuple, E> {
        const { assert!(N <= SMALL_MAX) };
        let mut block: Rc<[std::mem::MaybeUninit<Value>]> = Rc::new_uninit_slice(N);
        let Some(slots) = Rc::get_mut(&mut block) else {
            // A block just allocated has no other holder.
            unreachable!("a new Rc is uniquely held")
        };
        for k in 0..N {
            match item(k) {
                Ok(v) => crate::value::put_uninit(&mut slots[k], v),
                Err(e) => {
                    for made in &mut slots[..k] {
                        // SAFETY: slots `..k` were initialised above; the
                        // block is dropped as uninitialised memory after.
                        unsafe { made.assume_init_drop() };
                    }
                    return Err(e);
                }
            }
        }
        // SAFETY: all `N` slots were initialised by the loop.
        Ok(Tuple(Repr::Small(unsafe { block.assume_init() })))
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
    /// Adds the items at the end, rebuilding a small tuple once (not once per item).
    fn extend<I: IntoIterator<Item = Value>>(&mut self, items: I) {
        match &mut self.0 {
            Repr::Small(v) => {
                let mut all: Vec<Value> = match Rc::get_mut(v) {
                    Some(mine) => mine.iter_mut().map(|x| std::mem::replace(x, Value::None)).collect(),
                    None => v.to_vec(),
                };
                all.extend(items);
                // Growing: past the flat limit, the form that appends cheaply.
                *self = if all.len() <= SMALL_MAX {
                    Tuple(Repr::Small(Rc::from(all)))
                } else {
                    Tuple(Repr::Large(Rc::new(all.into_iter().collect())))
                };
            }
            Repr::Large(v) => Rc::make_mut(v).extend(items),
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

impl<const N: usize> From<[Value; N]> for Tuple {
    /// A tuple of `N` values computed in place (a tuple literal): one
    /// allocation, no intermediate vector.
    fn from(items: [Value; N]) -> Tuple {
        Tuple(Repr::Small(Rc::from(items)))
    }
}

impl From<Vec<Value>> for Tuple {
    /// A tuple built whole: flat, one allocation (see the module doc).
    fn from(items: Vec<Value>) -> Tuple {
        Tuple(Repr::Small(Rc::from(items)))
    }
}

impl FromIterator<Value> for Tuple {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Tuple {
        // Straight into the shared slice: one allocation where the length is
        // known up front (a drained stack, a mapped slice).
        Tuple(Repr::Small(iter.into_iter().collect()))
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
    /// Over the flat form: elements are moved out when the tuple was held
    /// only here, cloned otherwise.
    Small(Rc<[Value]>, usize),
    /// Over the tree form held only here: elements are moved out.
    Large(im::vector::ConsumingIter<Value>),
    /// Over the tree form that others hold too (a `for` loop over a
    /// tuple still bound to a name): one leaf at a time is cloned into
    /// `leaf`, leaving the shared tree untouched. (Consuming a shared tree
    /// would copy each of its leaves first.)
    Shared {
        /// The tuple's tree.
        tree: Rc<im::Vector<Value>>,
        /// Clones of the current leaf's remaining elements.
        leaf: std::vec::IntoIter<Value>,
        /// Index of the first element after the current leaf.
        next: usize,
    },
}

impl Iterator for IntoIter {
    type Item = Value;
    fn next(&mut self) -> Option<Value> {
        match self {
            IntoIter::Small(items, next) => {
                let i = *next;
                let x = match Rc::get_mut(items) {
                    Some(mine) => std::mem::replace(mine.get_mut(i)?, Value::None),
                    None => items.get(i)?.clone(),
                };
                *next = i + 1;
                Some(x)
            }
            IntoIter::Large(it) => it.next(),
            IntoIter::Shared { tree, leaf, next } => {
                if let Some(x) = leaf.next() {
                    return Some(x);
                }
                if *next >= tree.len() {
                    return None;
                }
                let mut focus = tree.focus();
                let (range, items) = focus.chunk_at(*next);
                let start = *next - range.start;
                *leaf = Vec::from(&items[start..]).into_iter();
                *next = range.end;
                leaf.next()
            }
        }
    }
}

impl IntoIterator for Tuple {
    type Item = Value;
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        match self.0 {
            Repr::Small(v) => IntoIter::Small(v, 0),
            Repr::Large(v) => match Rc::try_unwrap(v) {
                Ok(mine) => IntoIter::Large(mine.into_iter()),
                Err(tree) => IntoIter::Shared {
                    tree,
                    leaf: Vec::new().into_iter(),
                    next: 0,
                },
            },
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

    /// Consumes `t` (moving or cloning its elements, see `IntoIter`).
    fn owned_ints(t: Tuple) -> Vec<i64> {
        t.into_iter()
            .map(|v| match v {
                Value::Int(x) => x,
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
    fn consuming_a_shared_or_unique_tuple_yields_every_element_and_leaves_others_intact() {
        for n in [0usize, 1, 3, 32, 33, 64, 65, 200, 5000] {
            let t: Tuple = (0..n as i64).map(Value::Int).collect();
            let other = t.clone();
            let shared = owned_ints(t);
            assert_eq!(shared, (0..n as i64).collect::<Vec<_>>(), "shared, n = {n}");
            assert_eq!(ints(&other), shared, "the other holder, n = {n}");
            let unique = owned_ints(other);
            assert_eq!(unique, shared, "unique, n = {n}");
        }
        let three = Tuple::from([Value::Int(7), Value::Float(0.5), Value::None]);
        let built = Tuple::try_build::<3, ()>(|k| Ok(three[k].clone())).unwrap_or_default();
        assert_eq!(ints(&built), ints(&three));
        let failed = Tuple::try_build::<3, i64>(|k| if k < 2 { Ok(Value::str("x")) } else { Err(k as i64) });
        assert!(matches!(failed, Err(2)));
        assert_eq!(three.len(), 3);
        assert!(matches!(three[0], Value::Int(7)) && matches!(three[2], Value::None));
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
