//! NumPy's nested-bracket layout (`_formatArray` in `numpy/_core/arrayprint.py`),
//! given the element texts: one row per line, rows wrapped at the line width,
//! nested brackets indented, blank lines between blocks of 3-d and up, and
//! `...` in place of the middle of long axes when summarising.
//!
//! The layout only arranges text; which elements are shown and how each is
//! written is decided by the caller (see `render.rs`).

/// Separator between entries of an axis, as in `repr(array)`.
const SEPARATOR: &str = ", ";
/// What replaces the elided middle of a summarised axis.
const ELLIPSIS: &str = "...";

/// Which entries of an axis of length `n` are shown, in order: all of them,
/// or when summarising an axis longer than `2 * edgeitems`, the first and
/// last `edgeitems`. NumPy always shows the last entry, so with
/// `edgeitems == 0` a summarised axis still shows one.
pub(crate) fn shown_entries(n: usize, summarise: bool, edgeitems: usize) -> impl Iterator<Item = usize> {
    let elided = summarise && edgeitems.saturating_mul(2) < n;
    let (head, tail_start) = if elided {
        (edgeitems, n - edgeitems.max(1))
    } else {
        (n, n)
    };
    (0..head).chain(tail_start..n)
}

/// Whether summarising elides part of an axis of length `n`.
fn elides(n: usize, summarise: bool, edgeitems: usize) -> bool {
    summarise && edgeitems.saturating_mul(2) < n
}

/// Lays out a tensor of `shape` (at least one axis, no zero-size axis) whose
/// shown elements have the texts `texts`, in row-major order of the shown
/// entries (see [`shown_entries`]).
pub(crate) fn nested(shape: &[usize], summarise: bool, edgeitems: usize, linewidth: usize, texts: &[String]) -> String {
    let mut printer = Printer {
        shape,
        summarise,
        edgeitems,
        texts,
        next: 0,
    };
    // Widths may go negative for deep tensors on narrow lines, as in NumPy's
    // Python integers; `i64` holds any `usize` line width we care about.
    let width = i64::try_from(linewidth).unwrap_or(i64::MAX);
    // " " is NumPy's `next_line_prefix`: continuation lines start under the
    // first element, one column right of the opening bracket.
    printer.axis(0, 1, width)
}

/// Walks the shape, consuming one text per shown element.
struct Printer<'a> {
    shape: &'a [usize],
    summarise: bool,
    edgeitems: usize,
    texts: &'a [String],
    next: usize,
}

impl<'a> Printer<'a> {
    /// The next element text. The caller supplies exactly one per shown
    /// element; should it not, the missing ones print empty rather than panic.
    fn element(&mut self) -> &'a str {
        let text = self.texts.get(self.next).map_or("", String::as_str);
        self.next += 1;
        text
    }

    /// The bracketed text of the sub-tensor at `axis`, whose continuation
    /// lines start with `indent` spaces, fitted into `width` columns.
    fn axis(&mut self, axis: usize, indent: usize, width: i64) -> String {
        let n = self.shape[axis];
        let elided = elides(n, self.summarise, self.edgeitems);
        // Leading entries, then the trailing ones but the last, then the last
        // (always shown, even when summarising with no edge items).
        let (lead, trail) = if elided {
            (self.edgeitems, self.edgeitems)
        } else {
            (0, n)
        };
        let middle = trail.saturating_sub(1);
        // Inner brackets sit one column right and must leave room for the `]`.
        let (inner_indent, inner_width) = (indent + 1, width - 1);
        let mut s = String::new();
        if axis + 1 == self.shape.len() {
            // A row: elements flow along a line and wrap, leaving room for
            // the separator or closing bracket after each one.
            let elem_width = width - 1;
            let mut line = Line::new(indent);
            for _ in 0..lead {
                line.extend(&mut s, self.element(), elem_width);
                line.push(SEPARATOR);
            }
            if elided {
                line.extend(&mut s, ELLIPSIS, elem_width);
                line.push(SEPARATOR);
            }
            for _ in 0..middle {
                line.extend(&mut s, self.element(), elem_width);
                line.push(SEPARATOR);
            }
            line.extend(&mut s, self.element(), elem_width);
            s.push_str(&line.text);
        } else {
            // Sub-blocks go on their own lines, with one blank line more
            // between them for every further axis below (NumPy's 3-d gaps).
            let line_sep = format!("{}{}", SEPARATOR.trim_end(), "\n".repeat(self.shape.len() - axis - 1));
            let pad = " ".repeat(indent);
            for _ in 0..lead {
                let block = self.axis(axis + 1, inner_indent, inner_width);
                s.push_str(&pad);
                s.push_str(&block);
                s.push_str(&line_sep);
            }
            if elided {
                s.push_str(&pad);
                s.push_str(ELLIPSIS);
                s.push_str(&line_sep);
            }
            for _ in 0..middle {
                let block = self.axis(axis + 1, inner_indent, inner_width);
                s.push_str(&pad);
                s.push_str(&block);
                s.push_str(&line_sep);
            }
            let block = self.axis(axis + 1, inner_indent, inner_width);
            s.push_str(&pad);
            s.push_str(&block);
        }
        // `s` starts with the indent (ASCII spaces); the bracket replaces it.
        format!("[{}]", &s[indent.min(s.len())..])
    }
}

/// The row being filled, with its length in characters kept up to date
/// (counting it afresh for every word would be quadratic in long rows).
struct Line {
    text: String,
    chars: usize,
    /// Spaces that start every line of this row.
    indent: usize,
}

impl Line {
    fn new(indent: usize) -> Line {
        Line {
            text: " ".repeat(indent),
            chars: indent,
            indent,
        }
    }

    fn push(&mut self, t: &str) {
        self.text.push_str(t);
        self.chars += t.chars().count();
    }

    /// Appends `word`, first moving the line into `s` and starting a new one
    /// when `word` would cross `width` (NumPy's `_extendLine`). A line
    /// holding only its indent is never wrapped: that would not help.
    fn extend(&mut self, s: &mut String, word: &str, width: i64) {
        let word_chars = word.chars().count();
        let len = i64::try_from(self.chars.saturating_add(word_chars)).unwrap_or(i64::MAX);
        if len > width && self.chars > self.indent {
            s.push_str(self.text.trim_end());
            s.push('\n');
            *self = Line::new(self.indent);
        }
        self.text.push_str(word);
        self.chars += word_chars;
    }
}

/// Lays out a zero-size tensor on one line as nested empty brackets:
/// `[]`, `[[], []]`, `[[[]], [[]]]`. Axes after the first zero-length one
/// never show. When the brackets would number more than `threshold`, axes
/// are summarised like elements; entries are generated on the fly because a
/// zero-size tensor may have an astronomically long axis.
pub(crate) fn empty_nested(shape: &[usize], threshold: usize, edgeitems: usize) -> String {
    let mut entries: usize = 1;
    for &d in shape {
        if d == 0 {
            break;
        }
        entries = entries.saturating_mul(d);
    }
    let mut s = String::new();
    empty_axis(shape, entries > threshold, edgeitems, &mut s);
    s
}

/// Writes the empty sub-tensor of shape `shape` into `out`.
fn empty_axis(shape: &[usize], summarise: bool, edgeitems: usize, out: &mut String) {
    let Some((&n, inner)) = shape.split_first() else {
        // Unreachable for a zero-size shape: a zero axis stops the descent first.
        return;
    };
    out.push('[');
    if n > 0 {
        let elided = elides(n, summarise, edgeitems);
        let mut first = true;
        let entry = |out: &mut String, first: &mut bool| {
            if !*first {
                out.push_str(SEPARATOR);
            }
            *first = false;
            empty_axis(inner, summarise, edgeitems, out);
        };
        let (head, tail) = if elided { (edgeitems, edgeitems.max(1)) } else { (n, 0) };
        for _ in 0..head {
            entry(out, &mut first);
        }
        if elided {
            if !first {
                out.push_str(SEPARATOR);
            }
            out.push_str(ELLIPSIS);
            first = false;
        }
        for _ in 0..tail {
            entry(out, &mut first);
        }
    }
    out.push(']');
}
