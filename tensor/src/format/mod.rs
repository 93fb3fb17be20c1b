//! Number and tensor formatting: floats as Python's `repr`, tensors laid out
//! as NumPy prints arrays (`np.array2string` with `", "` separators), with
//! dp's element text.
//!
//! - `options`: the print options (precision, threshold, edge items, ...).
//! - `float`: float elements (notation and column widths for a tensor).
//! - `spec`: per-element format specs (`{:8.3f}`).
//! - `boolean`: boolean elements (bool tensors).
//! - `render`: picks the shown elements and builds their texts.
//! - `layout`: arranges the texts in nested, wrapped, summarised brackets.

mod boolean;
mod float;
mod layout;
mod options;
mod render;
mod spec;

pub use boolean::BoolFormat;
pub use float::FloatFormat;
pub use options::{PrintOptions, Sign};
pub use render::{format_strided, ElementFormat, StridedView};
pub use spec::{ElementSpec, MAX_SPEC_DIGITS};

use crate::tensor::Tensor;
use layout::empty_nested;
use render::{lay_out, render, summarises};
use spec::SpecFormat;
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

/// The tensor printed NumPy-style with `opts`: nested brackets, one row per
/// line with aligned columns, rows wrapped at `opts.linewidth`, long axes
/// summarised with `...` beyond `opts.threshold` elements, and a whole
/// tensor in scientific notation when NumPy would switch. Elements read as
/// Python floats (`1.0`, `1e-08`, `nan`). A tensor that fits on one line is
/// not padded: `[1.0, 2.5, 3.25]`. A 0-d tensor prints as its float.
/// Zero-size tensors print as nested empty brackets on one line: `[[], []]`.
///
/// A bool tensor prints its elements as `true`/`false` (NumPy's `BoolFormat`).
pub fn format_tensor(t: &Tensor, opts: &PrintOptions) -> String {
    if t.is_bool() {
        return render(&view(t), opts, |_| StoredBool(BoolFormat));
    }
    render(&view(t), opts, |shown| FloatFormat::new(shown, opts))
}

/// Bool elements as they are stored (0.0/1.0), written by [`BoolFormat`].
struct StoredBool(BoolFormat);

impl ElementFormat<f64> for StoredBool {
    fn bare(&self, x: f64) -> String {
        self.0.bare(x != 0.0)
    }
    fn padded(&self, x: f64) -> String {
        self.0.padded(x != 0.0)
    }
}

/// The tensor laid out as [`format_tensor`] does, every element written to
/// `spec` (so `{:8.3f}` applies to each element, not to the whole text), and
/// columns padded to the widest element as the spec pads.
pub fn format_tensor_with(t: &Tensor, spec: &ElementSpec, opts: &PrintOptions) -> String {
    render(&view(t), opts, |shown| SpecFormat::new(spec, shown))
}

/// The tensor's own data as a view for the printer.
fn view(t: &Tensor) -> StridedView<'_, f64> {
    StridedView {
        data: t.raw_data(),
        shape: t.shape(),
        strides: t.strides(),
        offset: t.offset(),
    }
}

impl Tensor {
    /// The tensor laid out with the default [`PrintOptions`], every element
    /// written by `elem` (called once per shown element) and right-aligned
    /// in columns. [`format_tensor_with`] does this for a parsed spec.
    pub fn format_with(&self, elem: &mut dyn FnMut(f64) -> String) -> String {
        let opts = PrintOptions::default();
        let v = view(self);
        if v.shape.is_empty() {
            // A tensor's offset is always within its data.
            return elem(v.data[v.offset]);
        }
        if v.shape.contains(&0) {
            return empty_nested(v.shape, opts.threshold, opts.edgeitems);
        }
        let summarise = summarises(v.shape, &opts);
        let texts: Vec<String> = v.shown(summarise, opts.edgeitems).into_iter().map(&mut *elem).collect();
        let width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        lay_out(
            v.shape,
            summarise,
            &opts,
            || texts.clone(),
            || texts.iter().map(|t| format!("{t:>width$}")).collect(),
        )
    }
}

impl fmt::Display for Tensor {
    /// [`format_tensor`] with the default [`PrintOptions`]: `2.5`,
    /// `[1.0, 2.0]`, `[[1.0, 2.0],\n [3.0, 4.0]]`, `[]`, `[[], []]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_tensor(self, &PrintOptions::default()))
    }
}
