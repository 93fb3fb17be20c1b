//! `progress(iterable, label=...)`: wraps an iterable so that a `for` loop
//! over it shows its progress (drawn by `crate::progress`).

use super::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{index, shape_of};
use crate::value::progress::ProgressIter;
use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// How many items a `for` loop over `v` runs, or why `v` cannot be iterated.
fn count(v: &Value) -> Result<u64, Diagnostic> {
    let n = match v.strip() {
        Value::Range(a, b, s) => index::range_len(*a, *b, *s)
            .ok_or_else(|| Diagnostic::new(ErrorKind::Value, "the range has more elements than an int can count"))?
            as u64,
        Value::Tuple(t) => t.len() as u64,
        Value::Dict(d) => d.len() as u64,
        Value::Str(s) => s.chars().count() as u64,
        Value::Progress(p) => p.total,
        Value::Tensor(_) => match shape_of(v).first() {
            Some(&n) => n as u64,
            // `iterate` gives the error for a 0-d tensor, in the words of `for`.
            None => return index::iterate(v).map(|_| 0),
        },
        // Anything else cannot be iterated: the same error a `for` loop gives.
        other => return index::iterate(other).map(|_| 0),
    };
    Ok(n)
}

/// Registers `progress`.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    let decl = Decl {
        sig: "progress(iterable, label: str = \"\") -> progress",
        summary: "`iterable` (a range, tuple, dict, string or tensor) with a progress bar drawn while a `for` loop runs over it.",
        doc: "On a terminal the bar shows the count, the elapsed time, the estimated time left and the \
              rate, and whatever the loop prints appears above it; it stays when the loop ends (nested \
              loops draw one bar each, the inner ones cleared after each round), and is cleared after an \
              error or Ctrl-C. When output is not a terminal (a pipe, a file), the loop prints a plain \
              line at 0%, 25%, 50%, 75% and 100% (`label: 50% 5/10`, with the rate and elapsed time \
              when run by `dp`), and `label: stopped at ...` when `break` leaves it. Anything other \
              than a `for` loop sees the wrapped iterable unchanged.",
        example: "for epoch in progress(range(3), label=\"epoch\") { print(epoch) }",
    };
    register(t, decl, |_, a| {
        let inner = a.value(0).clone();
        let total = count(&inner).map_err(|d| d.at(a.span_at(0)))?;
        let label = a.str_as(1, "label")?;
        // Re-wrapping a progress value relabels it: one bar, not two.
        let inner = match inner {
            Value::Progress(p) => p.inner.clone(),
            other => other,
        };
        Ok(Value::Progress(Rc::new(ProgressIter { inner, label, total })))
    });
}
