//! dp's dict: string keys, iterated in key order, persistent (cloning is
//! O(1); an update of a shared dict leaves the other holders' dict as it was).
//!
//! Most dicts are small (a record, a layer's parameters, the options of a
//! call): those are a sorted slice behind an `Rc` (count and entries in one
//! block), so reading a field is a short scan and building one is one
//! allocation; adding or removing a key builds a new block. Past [`SMALL_MAX`] keys a
//! dict becomes a persistent B-tree (`im::OrdMap`), whose updates cost
//! O(log n) instead of a copy of the whole vector.

use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::syntax::span::Span;
use crate::value::Value;
use std::fmt;
use std::rc::Rc;

/// The most keys kept in the sorted-vector form.
const SMALL_MAX: usize = 32;

/// Up to this many keys a lookup scans the keys in order (fewer branches
/// than a binary search on the short dicts records are).
const SCAN_MAX: usize = 8;

/// A dict with string keys in key order.
#[derive(Clone)]
pub struct Dict(Repr);

#[derive(Clone)]
enum Repr {
    /// Sorted by key, no duplicates, at most [`SMALL_MAX`] entries.
    Small(Rc<[Entry]>),
    /// More than [`SMALL_MAX`] entries.
    Large(im::OrdMap<Rc<str>, Value>),
}

impl Default for Dict {
    fn default() -> Dict {
        Dict(Repr::Small(Rc::new([])))
    }
}

/// One key and its value.
type Entry = (Rc<str>, Value);

/// Where `k` is (`Ok`) or would go (`Err`) in a sorted entry list.
#[inline]
fn position(entries: &[Entry], k: &str) -> Result<usize, usize> {
    // Keys usually come from the same string as the stored key (a name in the
    // source, an element of a tuple of names): find that by address first,
    // which needs no string comparison at all.
    if let Some(i) = entries
        .iter()
        .position(|(key, _)| std::ptr::eq(key.as_ptr(), k.as_ptr()) && key.len() == k.len())
    {
        return Ok(i);
    }
    if entries.len() <= SCAN_MAX {
        for (i, (key, _)) in entries.iter().enumerate() {
            match (**key).cmp(k) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(i),
                std::cmp::Ordering::Greater => return Err(i),
            }
        }
        return Err(entries.len());
    }
    entries.binary_search_by(|(key, _)| (**key).cmp(k))
}

impl Dict {
    /// The empty dict.
    pub fn new() -> Dict {
        Dict::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    /// Whether the dict has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value under `k`.
    #[inline]
    pub fn get(&self, k: &str) -> Option<&Value> {
        match &self.0 {
            Repr::Small(v) => position(v, k).ok().map(|i| &v[i].1),
            Repr::Large(m) => m.get(k),
        }
    }

    /// Whether `k` is a key.
    pub fn contains_key(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    /// Sets `k` to `v`, returning the previous value. A dict shared with
    /// other holders is copied first (theirs is unchanged).
    pub fn insert(&mut self, k: Rc<str>, v: Value) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(entries) => match position(entries, &k) {
                Ok(i) => Some(std::mem::replace(&mut Rc::make_mut(entries)[i].1, v)),
                Err(i) if entries.len() < SMALL_MAX => {
                    let (before, after) = entries.split_at(i);
                    *entries = before
                        .iter()
                        .cloned()
                        .chain(std::iter::once((k, v)))
                        .chain(after.iter().cloned())
                        .collect();
                    None
                }
                Err(_) => {
                    let mut m: im::OrdMap<Rc<str>, Value> = entries.iter().cloned().collect();
                    m.insert(k, v);
                    self.0 = Repr::Large(m);
                    None
                }
            },
            Repr::Large(m) => m.insert(k, v),
        }
    }

    /// Sets `k` to `v` (see [`Dict::insert`]), dropping the previous value.
    /// The key is cloned only when it is new, and an existing entry is
    /// overwritten with [`crate::value::assign`] (the value arrives as
    /// just-written words: a plain move of it stalled, see `put`).
    pub fn set(&mut self, k: &Rc<str>, v: Value) {
        match &mut self.0 {
            Repr::Small(entries) => match position(entries, k) {
                Ok(i) => crate::value::assign(&mut Rc::make_mut(entries)[i].1, v),
                Err(_) => {
                    self.insert(k.clone(), v);
                }
            },
            Repr::Large(m) => {
                m.insert(k.clone(), v);
            }
        }
    }

    /// Removes `k`, returning its value if it was present.
    pub fn remove(&mut self, k: &str) -> Option<Value> {
        match &mut self.0 {
            Repr::Small(entries) => {
                let i = position(entries, k).ok()?;
                let old = entries[i].1.clone();
                *entries = entries
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, e)| e.clone())
                    .collect();
                Some(old)
            }
            // A large dict that shrinks stays a B-tree: cheap either way.
            Repr::Large(m) => m.remove(k),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(v) => Iter::Small(v.iter()),
            Repr::Large(m) => Iter::Large(m.iter()),
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &Rc<str>> {
        self.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.iter().map(|(_, v)| v)
    }
}

/// Iterator over a dict's entries in key order.
pub enum Iter<'a> {
    /// Over the sorted vector.
    Small(std::slice::Iter<'a, (Rc<str>, Value)>),
    /// Over the B-tree.
    Large(im::ordmap::Iter<'a, Rc<str>, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Rc<str>, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(k, v)| (k, v)),
            Iter::Large(it) => it.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Dict {
    type Item = (&'a Rc<str>, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Owning iterator over a dict's entries in key order.
pub enum IntoIter {
    /// Over the sorted slice: values are moved out when the dict was held
    /// only here, cloned otherwise.
    Small(Rc<[Entry]>, usize),
    /// Over the B-tree.
    Large(im::ordmap::ConsumingIter<(Rc<str>, Value)>),
}

impl Iterator for IntoIter {
    type Item = (Rc<str>, Value);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IntoIter::Small(entries, next) => {
                let i = *next;
                let entry = match Rc::get_mut(entries) {
                    Some(mine) => {
                        let (k, v) = mine.get_mut(i)?;
                        (k.clone(), std::mem::replace(v, Value::None))
                    }
                    None => entries.get(i)?.clone(),
                };
                *next = i + 1;
                Some(entry)
            }
            IntoIter::Large(it) => it.next(),
        }
    }
}

impl IntoIterator for Dict {
    type Item = (Rc<str>, Value);
    type IntoIter = IntoIter;
    fn into_iter(self) -> IntoIter {
        match self.0 {
            Repr::Small(v) => IntoIter::Small(v, 0),
            Repr::Large(m) => IntoIter::Large(m.into_iter()),
        }
    }
}

impl Dict {
    /// A dict from entries already sorted by key with no key twice (a dict
    /// literal, whose key order is worked out once when it is compiled):
    /// one allocation when it is small.
    pub fn from_sorted_unique(entries: impl ExactSizeIterator<Item = Entry>) -> Dict {
        if entries.len() <= SMALL_MAX {
            let entries: Rc<[Entry]> = entries.collect();
            debug_assert!(
                entries.windows(2).all(|w| w[0].0 < w[1].0),
                "entries must be sorted and unique"
            );
            Dict(Repr::Small(entries))
        } else {
            Dict(Repr::Large(entries.collect()))
        }
    }
}

impl FromIterator<(Rc<str>, Value)> for Dict {
    /// Later entries win over earlier ones with the same key.
    fn from_iter<I: IntoIterator<Item = (Rc<str>, Value)>>(iter: I) -> Dict {
        let mut entries: Vec<Entry> = iter.into_iter().collect();
        // Stable: entries with the same key stay in arrival order, the last kept.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<Entry> = Vec::with_capacity(entries.len());
        for e in entries {
            match unique.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => unique.push(e),
            }
        }
        Dict::from_sorted_unique(unique.into_iter())
    }
}

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The error for a dict key that is absent, with a suggestion.
pub fn missing_key(d: &Dict, k: &str, span: Span) -> Diagnostic {
    let mut diag = Diagnostic::new(ErrorKind::Index, format!("dict has no key `{k}`"))
        .at(span)
        .with_label("no such key");
    let keys: Vec<&str> = d.keys().map(|k| &**k).collect();
    let shown: Vec<String> = keys.iter().map(|k| crate::value::dict_key(k)).collect();
    diag = diag.with_note(if keys.is_empty() {
        "the dict is empty".to_string()
    } else {
        format!("its keys are: {}", shown.join(", "))
    });
    if let Some(s) = did_you_mean(k, keys.iter().copied()) {
        diag = diag.with_help(format!("did you mean `{s}`?"));
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Rc<str> {
        // Zero-padded so that numeric and key order agree.
        format!("k{i:04}").into()
    }

    #[test]
    fn small_and_large_dicts_agree_with_a_btreemap() {
        use std::collections::BTreeMap;
        let mut d = Dict::new();
        let mut reference: BTreeMap<Rc<str>, i64> = BTreeMap::new();
        // Inserts in a scrambled order past the small/large boundary, with
        // overwrites and removals along the way.
        for step in 0..200usize {
            let i = (step * 37) % 90;
            assert_eq!(
                d.insert(key(i), Value::Int(step as i64))
                    .map(|v| matches!(v, Value::Int(_))),
                reference.insert(key(i), step as i64).map(|_| true)
            );
            if step % 7 == 0 {
                let j = (step * 11) % 90;
                assert_eq!(d.remove(&key(j)).is_some(), reference.remove(&key(j)).is_some());
            }
            assert_eq!(d.len(), reference.len());
        }
        let got: Vec<(Rc<str>, i64)> = d
            .iter()
            .map(|(k, v)| match v {
                Value::Int(x) => (k.clone(), *x),
                _ => unreachable!("only ints were inserted"),
            })
            .collect();
        let want: Vec<(Rc<str>, i64)> = reference.into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn updates_leave_other_holders_unchanged() {
        for n in [3usize, 40] {
            let a: Dict = (0..n).map(|i| (key(i), Value::Int(i as i64))).collect();
            let mut b = a.clone();
            b.set(&key(0), Value::Int(-1));
            b.insert(key(1000), Value::Int(7));
            b.remove(&key(1));
            assert!(matches!(a.get(&key(0)), Some(Value::Int(0))));
            assert!(a.contains_key(&key(1)) && !a.contains_key(&key(1000)));
            assert_eq!(a.len(), n);
            assert_eq!(b.len(), n);
            assert!(matches!(b.get(&key(0)), Some(Value::Int(-1))));
            let mut c = b.clone();
            c.set(&key(2000), Value::Int(5));
            assert!(!b.contains_key(&key(2000)) && matches!(c.get(&key(2000)), Some(Value::Int(5))));
        }
    }

    #[test]
    fn from_iter_keeps_the_last_duplicate_and_sorts() {
        let d: Dict = [("b", 1), ("a", 2), ("b", 3)]
            .into_iter()
            .map(|(k, v)| (Rc::<str>::from(k), Value::Int(v)))
            .collect();
        let keys: Vec<&str> = d.keys().map(|k| &**k).collect();
        assert_eq!(keys, ["a", "b"]);
        assert!(matches!(d.get("b"), Some(Value::Int(3))));
        let owned: Vec<Rc<str>> = d.into_iter().map(|(k, _)| k).collect();
        assert_eq!(owned.len(), 2);
    }
}
