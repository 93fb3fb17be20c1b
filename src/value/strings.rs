//! Strings: character-indexed access in O(1) and size-checked building.
//!
//! dp strings are UTF-8 (`Rc<str>`) but indexed by characters, so `s[i]`
//! naively walks `i` characters: a loop over a long string became quadratic
//! (a 131 072-character string took 13 s). Here an ASCII string is indexed
//! by byte directly, and any other long string gets a table of the byte
//! offset of every [`STRIDE`]th character, so a lookup walks fewer than
//! `STRIDE` characters. The tables live in a small per-thread cache keyed by
//! the string's allocation (the cache holds a reference, so the address
//! cannot be reused by another string while it is cached).
//!
//! Strings built by dp code (`a + b`) are checked against the process-wide
//! memory budget of `dp_tensor` before they are allocated, like tensors.

use crate::diagnostics::Diagnostic;
use crate::value::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// Characters between two entries of a character index table.
const STRIDE: usize = 32;

/// Strings shorter than this (in bytes) are walked directly: building and
/// caching a table would cost more than the walk.
const DIRECT_MAX: usize = 256;

/// How many strings' tables are cached per thread (enough for a loop that
/// reads a few strings in step, e.g. comparing `a[i]` with `b[i]`).
const CACHE_SLOTS: usize = 4;

/// Where the characters of one string start.
struct CharIndex {
    /// The string the table describes (held, so its address stays unique).
    text: Rc<str>,
    /// Number of characters.
    chars: usize,
    /// Byte offset of characters `0, STRIDE, 2 * STRIDE, ...`; empty for ASCII.
    marks: Vec<usize>,
}

impl CharIndex {
    fn new(text: &Rc<str>) -> CharIndex {
        if text.is_ascii() {
            return CharIndex {
                text: text.clone(),
                chars: text.len(),
                marks: Vec::new(),
            };
        }
        let mut marks = Vec::with_capacity(text.len() / STRIDE + 1);
        let mut chars = 0;
        for (k, (byte, _)) in text.char_indices().enumerate() {
            if k % STRIDE == 0 {
                marks.push(byte);
            }
            chars = k + 1;
        }
        CharIndex {
            text: text.clone(),
            chars,
            marks,
        }
    }

    /// Byte offset of character `i` (`i <= chars`; `chars` gives the end).
    fn byte_of(&self, i: usize) -> usize {
        if self.marks.is_empty() {
            return i;
        }
        if i >= self.chars {
            return self.text.len();
        }
        let start = self.marks[i / STRIDE];
        let skip = i % STRIDE;
        self.text[start..]
            .char_indices()
            .nth(skip)
            .map_or(self.text.len(), |(b, _)| start + b)
    }
}

thread_local! {
    static CACHE: RefCell<(usize, Vec<CharIndex>)> = const { RefCell::new((0, Vec::new())) };
}

/// Runs `f` with the character index of `s`, building and caching it on first use.
fn with_index<R>(s: &Rc<str>, f: impl FnOnce(&CharIndex) -> R) -> R {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let (next, slots) = &mut *c;
        if let Some(hit) = slots.iter().find(|e| Rc::ptr_eq(&e.text, s)) {
            return f(hit);
        }
        let idx = CharIndex::new(s);
        let r = f(&idx);
        if slots.len() < CACHE_SLOTS {
            slots.push(idx);
        } else {
            slots[*next] = idx;
            *next = (*next + 1) % CACHE_SLOTS;
        }
        r
    })
}

/// Number of characters of `s` (O(1) for a string seen before).
pub fn char_len(s: &Rc<str>) -> usize {
    if s.len() < DIRECT_MAX {
        return s.chars().count();
    }
    with_index(s, |ix| ix.chars)
}

/// Characters `start..end` of `s` (`start <= end <= char_len(s)`), as a slice.
pub fn char_range(s: &Rc<str>, start: usize, end: usize) -> &str {
    if s.len() < DIRECT_MAX {
        let mut it = s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len()));
        let a = it.nth(start).unwrap_or(s.len());
        let b = if end > start {
            it.nth(end - start - 1).unwrap_or(s.len())
        } else {
            a
        };
        return &s[a..b];
    }
    let (a, b) = with_index(s, |ix| (ix.byte_of(start), ix.byte_of(end)));
    &s[a..b]
}

/// The character at index `i` (`i < char_len(s)`), as a one-character string.
pub fn char_at(s: &Rc<str>, i: usize) -> Value {
    Value::str(char_range(s, i, i + 1))
}

/// Checks that a string of `bytes` fits the memory budget; the report names the size.
pub fn check_size(bytes: u128) -> Result<(), Diagnostic> {
    dp_tensor::check_memory(bytes, || "this string".to_string()).map_err(crate::ops::tensor_error)
}

/// `a + b` for strings: checked against the memory budget and allocated
/// fallibly, so doubling a string in a loop ends in a report, not an abort.
pub fn concat(a: &str, b: &str) -> Result<Value, Diagnostic> {
    let n = a.len() as u128 + b.len() as u128;
    check_size(n)?;
    let mut s = String::new();
    s.try_reserve_exact(n as usize)
        .map_err(|_| crate::ops::tensor_error(refused(n, "this string".to_string())))?;
    s.push_str(a);
    s.push_str(b);
    Ok(Value::str(s))
}

/// The error for an allocation within the budget that the system refused.
pub(crate) fn refused(bytes: u128, what: String) -> dp_tensor::TensorError {
    dp_tensor::TensorError::OutOfMemory {
        what,
        bytes,
        limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(s: &str, a: usize, b: usize) -> String {
        s.chars().skip(a).take(b - a).collect()
    }

    #[test]
    fn character_ranges_match_a_naive_walk() {
        let texts = [
            "hello".to_string(),
            "h\u{e9}llo w\u{f6}rld \u{1f600}!".to_string(),
            "ab".repeat(300),
            "\u{e9}\u{1f600}x".repeat(200),
            String::new(),
        ];
        for t in texts {
            let s: Rc<str> = Rc::from(t.as_str());
            let n = t.chars().count();
            assert_eq!(char_len(&s), n);
            for a in (0..=n).step_by(7).chain([n]) {
                for b in (a..=n).step_by(13).chain([n]) {
                    assert_eq!(char_range(&s, a, b), naive(&t, a, b), "{a}..{b}");
                }
            }
        }
    }
}
