//! The value `progress(iterable, label=...)` returns: the iterable it wraps,
//! with what a `for` loop needs to draw a progress bar over it (see
//! `crate::progress` for the drawing).

use crate::value::Value;
use std::rc::Rc;

/// An iterable wrapped by `progress`: a `for` loop over it iterates `inner`
/// and reports each step; everything else that iterates sees `inner` alone.
#[derive(Debug)]
pub struct ProgressIter {
    /// The wrapped range, tuple, dict, string or tensor.
    pub inner: Value,
    /// The label shown before the bar (may be empty).
    pub label: Rc<str>,
    /// How many items `inner` yields (the length of the bar).
    pub total: u64,
}
