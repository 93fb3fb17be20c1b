//! From a strided view of elements to text: picks the elements that are
//! shown (all, or the edges of a summarised tensor), builds the element
//! formatter from them, and hands their texts to the layout.
//!
//! The element type is generic so that other element types (booleans) print
//! through the same layout as floats: each supplies an [`ElementFormat`].

use super::layout::{empty_nested, nested, shown_entries};
use super::options::PrintOptions;
use crate::error::{check_ndim, Result, TensorError, MAX_ELEMENTS};

/// Writes the elements of one tensor. It is built from the elements that will
/// be shown (so it can pick a notation and a common column width for them, as
/// NumPy's per-dtype format functions do) and then asked for each one.
pub trait ElementFormat<T> {
    /// The element's own text, without column padding. Used when the whole
    /// tensor fits on one line, where there are no columns to align.
    fn bare(&self, x: T) -> String;
    /// The element's text padded to the tensor's common column width.
    fn padded(&self, x: T) -> String;
    /// The only element of a 0-d tensor, which prints without brackets.
    fn scalar(&self, x: T) -> String {
        self.bare(x)
    }
}

/// An n-d strided view of elements of any type, as the printer walks it:
/// element `(i, j, ...)` is `data[offset + i * strides[0] + j * strides[1] + ...]`.
#[derive(Clone, Copy, Debug)]
pub struct StridedView<'a, T> {
    /// The buffer the view reads.
    pub data: &'a [T],
    /// Length of every axis.
    pub shape: &'a [usize],
    /// Step in `data` along every axis (may be negative or zero).
    pub strides: &'a [isize],
    /// Position of element `(0, 0, ...)` in `data`.
    pub offset: usize,
}

impl<T: Copy> StridedView<'_, T> {
    /// Rejects views that would read outside `data`, have mismatched shape
    /// and strides, too many axes, or more than [`MAX_ELEMENTS`] elements.
    fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(TensorError::Invalid(format!("cannot print this strided view: {what}")));
        if self.shape.len() != self.strides.len() {
            return bad("shape and strides have different lengths");
        }
        check_ndim(self.shape.len())?;
        if self.shape.contains(&0) {
            // No element is ever read.
            return Ok(());
        }
        let size = self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if size.is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(TensorError::TooLarge {
                shape: self.shape.to_vec(),
            });
        }
        // The lowest and highest positions read; i128 with checked steps,
        // since a bogus view may have sizes and strides near 2^63.
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for (&d, &s) in self.shape.iter().zip(self.strides) {
            let span = (d as i128 - 1).checked_mul(s as i128);
            let Some(span) = span else {
                return bad("its strides overflow");
            };
            let moved = if span < 0 {
                lo.checked_add(span)
            } else {
                hi.checked_add(span)
            };
            match (moved, span < 0) {
                (Some(v), true) => lo = v,
                (Some(v), false) => hi = v,
                (None, _) => return bad("its strides overflow"),
            }
        }
        if lo < 0 || hi >= self.data.len() as i128 {
            return bad("it reaches outside its data");
        }
        Ok(())
    }

    /// The shown elements in row-major order (see [`shown_entries`]).
    pub(crate) fn shown(&self, summarise: bool, edgeitems: usize) -> Vec<T> {
        let mut out = Vec::new();
        self.collect(0, self.offset as isize, summarise, edgeitems, &mut out);
        out
    }

    fn collect(&self, axis: usize, pos: isize, summarise: bool, edgeitems: usize, out: &mut Vec<T>) {
        if axis == self.shape.len() {
            // In range: checked by `check`, or a tensor's own invariant.
            out.push(self.data[pos as usize]);
            return;
        }
        for i in shown_entries(self.shape[axis], summarise, edgeitems) {
            self.collect(
                axis + 1,
                pos + i as isize * self.strides[axis],
                summarise,
                edgeitems,
                out,
            );
        }
    }
}

/// Prints a strided view NumPy-style with the element formatter that `make`
/// builds from the shown elements. Fails only for an invalid view (one
/// reading outside `data`, or of more than [`MAX_ELEMENTS`] elements).
///
/// This is the printer behind `format_tensor`, open to element types other
/// than `f64`: e.g. `format_strided(&view, &opts, BoolFormat::new)`.
pub fn format_strided<T: Copy, F: ElementFormat<T>>(
    view: &StridedView<'_, T>,
    opts: &PrintOptions,
    make: impl FnOnce(&[T]) -> F,
) -> Result<String> {
    view.check()?;
    Ok(render(view, opts, make))
}

/// [`format_strided`] for a view known to be valid (a tensor's own).
pub(crate) fn render<T: Copy, F: ElementFormat<T>>(
    view: &StridedView<'_, T>,
    opts: &PrintOptions,
    make: impl FnOnce(&[T]) -> F,
) -> String {
    if view.shape.is_empty() {
        // In range: checked by `check`, or a tensor's own invariant.
        let x = view.data[view.offset];
        return make(&[x]).scalar(x);
    }
    if view.shape.contains(&0) {
        return empty_nested(view.shape, opts.threshold, opts.edgeitems);
    }
    let summarise = summarises(view.shape, opts);
    let shown = view.shown(summarise, opts.edgeitems);
    let fmt = make(&shown);
    lay_out(
        view.shape,
        summarise,
        opts,
        || shown.iter().map(|&x| fmt.bare(x)).collect(),
        || shown.iter().map(|&x| fmt.padded(x)).collect(),
    )
}

/// Whether a tensor of `shape` (no zero-length axis) has more elements than
/// the threshold, so that long axes are summarised.
pub(crate) fn summarises(shape: &[usize], opts: &PrintOptions) -> bool {
    let size = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    size.is_none_or(|n| n > opts.threshold)
}

/// Lays out a tensor of `shape` (at least one axis, none of length zero)
/// from the texts of its shown elements: the `bare` ones when the result fits
/// on one line, where there are no columns to align (so `[0.5, 0.25]` rather
/// than NumPy's `[0.5 , 0.25]`), else the `padded` ones. Each list of texts is
/// only computed when needed.
pub(crate) fn lay_out(
    shape: &[usize],
    summarise: bool,
    opts: &PrintOptions,
    bare: impl FnOnce() -> Vec<String>,
    padded: impl FnOnce() -> Vec<String>,
) -> String {
    let rows = &shape[..shape.len().saturating_sub(1)];
    // Any outer axis longer than 1 puts rows on separate lines anyway.
    if rows.iter().all(|&d| d <= 1) {
        let line = nested(shape, summarise, opts.edgeitems, opts.linewidth, &bare());
        if !line.contains('\n') {
            return line;
        }
    }
    nested(shape, summarise, opts.edgeitems, opts.linewidth, &padded())
}
