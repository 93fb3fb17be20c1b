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

fn write_rec(t: &Tensor, f: &mut fmt::Formatter<'_>, axis: usize, offset: isize, summarise: bool) -> fmt::Result {
    let shape = t.shape();
    if axis == shape.len() {
        let v = t.raw_data()[offset as usize];
        return f.write_str(&format_float(v));
    }
    let n = shape[axis];
    let stride = t.strides()[axis];
    f.write_str("[")?;
    let indices: Vec<Option<usize>> = if summarise && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    for (k, idx) in indices.iter().enumerate() {
        if k > 0 {
            f.write_str(", ")?;
        }
        match idx {
            Some(i) => write_rec(t, f, axis + 1, offset + *i as isize * stride, summarise)?,
            None => f.write_str("...")?,
        }
    }
    f.write_str("]")
}

impl fmt::Display for Tensor {
    /// Nested brackets of [`format_float`] numbers on a single line, NumPy-like:
    /// `2.5`, `[1.0, 2.0]`, `[[1.0, 2.0], [3.0, 4.0]]`, `[]`, `[[], []]`.
    /// Tensors with more than 1000 elements are summarised: every axis longer
    /// than 6 shows its first 3 and last 3 entries with `...` between.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarise = self.size() > SUMMARY_THRESHOLD;
        write_rec(self, f, 0, self.offset() as isize, summarise)
    }
}
