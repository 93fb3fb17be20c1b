//! Number and tensor formatting (Python `repr` for floats, NumPy-like tensors).

use crate::tensor::Tensor;
use std::fmt;

/// Formats a float exactly like Python's `repr(float)`: the shortest string
/// that round-trips, in positional notation when the decimal exponent is in
/// `-4..16` and in scientific notation (`1e-08`, `1.5e+20`) otherwise.
/// Special values print as `nan`, `inf` and `-inf`; negative zero is `-0.0`.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.5e-7".
    let sci = format!("{:e}", x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mantissa, sign, exp.abs())
    } else {
        let s = format!("{}", x);
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    }
}

/// Maximum number of elements printed in full before summarising.
const SUMMARY_THRESHOLD: usize = 1000;
/// Number of leading/trailing entries shown per summarised axis.
const EDGE_ITEMS: usize = 3;

/// Writes the sub-tensor at `axis`/`offset`. Indices are generated on the
/// fly (never collected): an axis may be astronomically long when the tensor
/// has zero size, and then the summary keeps the output short.
fn write_rec(
    t: &Tensor,
    out: &mut dyn fmt::Write,
    elem: &mut dyn FnMut(f64) -> String,
    axis: usize,
    offset: isize,
    summarise: bool,
) -> fmt::Result {
    let shape = t.shape();
    if axis == shape.len() {
        let v = t.raw_data()[offset as usize];
        return out.write_str(&elem(v));
    }
    let n = shape[axis];
    let stride = t.strides()[axis];
    out.write_str("[")?;
    let elided = summarise && n > 2 * EDGE_ITEMS;
    let head = if elided { EDGE_ITEMS } else { n };
    for i in 0..head {
        if i > 0 {
            out.write_str(", ")?;
        }
        write_rec(t, out, elem, axis + 1, offset + i as isize * stride, summarise)?;
    }
    if elided {
        out.write_str(", ...")?;
        for i in n - EDGE_ITEMS..n {
            out.write_str(", ")?;
            write_rec(t, out, elem, axis + 1, offset + i as isize * stride, summarise)?;
        }
    }
    out.write_str("]")
}

/// Whether printing `t` in full would write more than [`SUMMARY_THRESHOLD`]
/// entries. For a zero-size tensor the entries are the empty brackets: a
/// `(3, 0)` tensor prints `[[], [], []]`, but one with 10^18 rows is summarised.
fn needs_summary(t: &Tensor) -> bool {
    let mut entries: usize = 1;
    for &d in t.shape() {
        if d == 0 {
            break;
        }
        entries = entries.saturating_mul(d);
    }
    entries > SUMMARY_THRESHOLD
}

impl Tensor {
    /// The tensor as nested brackets with every element written by `elem`,
    /// summarised like [`Display`](fmt::Display). Printing and `format`
    /// placeholders with a precision share this one layout.
    pub fn format_with(&self, elem: &mut dyn FnMut(f64) -> String) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = write_rec(self, &mut s, elem, 0, self.offset() as isize, needs_summary(self));
        s
    }
}

impl fmt::Display for Tensor {
    /// Nested brackets of [`format_float`] numbers on a single line, NumPy-like:
    /// `2.5`, `[1.0, 2.0]`, `[[1.0, 2.0], [3.0, 4.0]]`, `[]`, `[[], []]`.
    /// Tensors with more than 1000 entries are summarised: every axis longer
    /// than 6 shows its first 3 and last 3 entries with `...` between.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rec(
            self,
            f,
            &mut format_float,
            0,
            self.offset() as isize,
            needs_summary(self),
        )
    }
}
