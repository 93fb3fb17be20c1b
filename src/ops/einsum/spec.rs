//! Reading `einsum` subscripts ("ij,jk->ik", "...ij,...jk", "ii->i") and
//! checking them against the operands' shapes. The result is a plan in
//! terms of numeric labels, with no tensors in it: the lowering to
//! primitives (`super`) works from it.

use crate::diagnostics::{Diagnostic, ErrorKind};
use dp_tensor::format_shape;
use std::collections::BTreeMap;

/// An index label: a letter is its character code; the axes an ellipsis
/// stands for are `ELLIPSIS + k` for the `k`-th broadcast ellipsis axis
/// (counted from the left of the widest ellipsis).
pub type Label = u32;

/// The first label used for ellipsis axes (above every character code of a letter).
const ELLIPSIS: Label = 1 << 16;

/// A failure to read or apply the subscripts, and which operand it is
/// about (`None` when the subscripts themselves are wrong), so the builtin
/// can underline the right argument.
#[derive(Debug)]
pub struct SpecError {
    /// The report.
    pub diag: Diagnostic,
    /// The operand at fault (0-based), if any.
    pub operand: Option<usize>,
    /// Another operand the fault is relative to (where a size was first seen).
    pub related: Option<usize>,
}

/// One item of a term: a letter or `...`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Item {
    Letter(char),
    Ellipsis,
}

/// The checked subscripts of one `einsum` call.
#[derive(Debug)]
pub struct Plan {
    /// The labels of each operand's axes, in axis order.
    pub inputs: Vec<Vec<Label>>,
    /// The labels of the output's axes, in order.
    pub output: Vec<Label>,
    /// The size of every label (after broadcasting size-1 axes).
    pub sizes: BTreeMap<Label, usize>,
}

fn spec_error(msg: String) -> SpecError {
    SpecError {
        diag: Diagnostic::new(ErrorKind::Value, msg),
        operand: None,
        related: None,
    }
}

/// Splits one term (the text between commas) into items.
fn parse_term(term: &str, whole: &str) -> Result<Vec<Item>, SpecError> {
    let mut items = Vec::new();
    let mut chars = term.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_alphabetic() => items.push(Item::Letter(c)),
            c if c.is_whitespace() => {}
            '.' => {
                // An ellipsis is exactly three dots.
                if chars.next() != Some('.') || chars.next() != Some('.') {
                    return Err(spec_error(format!(
                        "`einsum`: a '.' in subscripts {whole:?} must be part of an ellipsis '...'"
                    )));
                }
                if items.contains(&Item::Ellipsis) {
                    return Err(spec_error(format!(
                        "`einsum`: the term {:?} of subscripts {whole:?} has more than one ellipsis '...'",
                        term.trim()
                    )));
                }
                items.push(Item::Ellipsis);
            }
            other => {
                return Err(spec_error(format!(
                    "`einsum`: invalid character {other:?} in subscripts {whole:?} (only letters a-z, A-Z, \
                     ',', '->' and '...' are allowed)"
                ))
                .with_help_text("each index is one letter, e.g. \"ij,jk->ik\""));
            }
        }
    }
    Ok(items)
}

impl SpecError {
    fn with_help_text(mut self, help: &str) -> SpecError {
        self.diag = self.diag.with_help(help);
        self
    }
}

/// Reads `subscripts` for operands of the given shapes and checks them:
/// one term per operand, each term naming as many axes as its operand has
/// (an ellipsis takes the rest), one size per letter (size 1 broadcasts),
/// and output letters that occur in the inputs, once each.
pub fn plan(subscripts: &str, shapes: &[Vec<usize>]) -> Result<Plan, SpecError> {
    let (lhs, rhs) = match subscripts.split_once("->") {
        Some((l, r)) => {
            if r.contains("->") {
                return Err(spec_error(format!(
                    "`einsum`: subscripts {subscripts:?} have more than one '->'"
                )));
            }
            (l, Some(r))
        }
        None => (subscripts, None),
    };
    if rhs.is_some_and(|r| r.contains(',')) {
        return Err(spec_error(format!(
            "`einsum`: the output of subscripts {subscripts:?} must be a single term (no ',' after '->')"
        )));
    }
    let terms: Vec<Vec<Item>> = lhs
        .split(',')
        .map(|t| parse_term(t, subscripts))
        .collect::<Result<_, _>>()?;
    if terms.len() != shapes.len() {
        let d = Diagnostic::new(
            ErrorKind::Arity,
            format!(
                "`einsum`: subscripts {subscripts:?} name {} operand{} but {} {} given",
                terms.len(),
                if terms.len() == 1 { "" } else { "s" },
                shapes.len(),
                if shapes.len() == 1 { "was" } else { "were" }
            ),
        )
        .with_help("write one comma-separated term per operand, e.g. einsum(\"ij,jk->ik\", a, b)");
        return Err(SpecError {
            diag: d,
            operand: None,
            related: None,
        });
    }
    let output_items = rhs.map(|r| parse_term(r, subscripts)).transpose()?;

    // How many axes each ellipsis stands for; the widest sets the broadcast width.
    let mut ell_len = vec![0usize; shapes.len()];
    for (i, (term, shape)) in terms.iter().zip(shapes).enumerate() {
        let letters = term.iter().filter(|t| matches!(t, Item::Letter(_))).count();
        let has_ell = term.contains(&Item::Ellipsis);
        let fits = if has_ell {
            shape.len() >= letters
        } else {
            shape.len() == letters
        };
        if !fits {
            let text: String = term
                .iter()
                .map(|t| match t {
                    Item::Letter(c) => c.to_string(),
                    Item::Ellipsis => "...".into(),
                })
                .collect();
            let d = Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`einsum`: operand {} has {} dimension{} (shape {}) but its subscripts {text:?} name {}{letters}",
                    i + 1,
                    shape.len(),
                    if shape.len() == 1 { "" } else { "s" },
                    format_shape(shape),
                    if has_ell { "at least " } else { "" },
                ),
            );
            return Err(SpecError {
                diag: d,
                operand: Some(i),
                related: None,
            });
        }
        ell_len[i] = shape.len() - letters;
    }
    let width = ell_len.iter().copied().max().unwrap_or(0);

    // Label each axis, and agree on each label's size (size 1 broadcasts).
    let mut sizes: BTreeMap<Label, usize> = BTreeMap::new();
    let mut first_seen: BTreeMap<Label, (usize, usize)> = BTreeMap::new();
    let mut inputs = Vec::with_capacity(terms.len());
    for (i, (term, shape)) in terms.iter().zip(shapes).enumerate() {
        let mut labels = Vec::with_capacity(shape.len());
        for item in term {
            match *item {
                Item::Letter(c) => labels.push(c as Label),
                Item::Ellipsis => {
                    let skip = width - ell_len[i];
                    labels.extend((0..ell_len[i]).map(|k| ELLIPSIS + (skip + k) as Label));
                }
            }
        }
        for (&label, &n) in labels.iter().zip(shape) {
            let known = *sizes.entry(label).or_insert(n);
            if known == n || n == 1 {
                continue;
            }
            if known == 1 {
                sizes.insert(label, n);
                first_seen.insert(label, (i, n));
                continue;
            }
            // `known` is not 1, so it was recorded with where it was first seen.
            let (j, m) = first_seen.get(&label).copied().unwrap_or((i, known));
            let what = if label >= ELLIPSIS {
                "the dimensions covered by '...'".to_string()
            } else {
                format!("index '{}'", char::from_u32(label).unwrap_or('?'))
            };
            let d = Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`einsum`: {what} has size {m} in operand {} but size {n} in operand {} (shape {})",
                    j + 1,
                    i + 1,
                    format_shape(shape)
                ),
            )
            .with_help("an index must have the same size wherever it occurs (or size 1, which broadcasts)");
            return Err(SpecError {
                diag: d,
                operand: Some(i),
                related: (j != i).then_some(j),
            });
        }
        for (&label, &n) in labels.iter().zip(shape) {
            if n != 1 {
                first_seen.entry(label).or_insert((i, n));
            }
        }
        inputs.push(labels);
    }

    let ellipsis_labels: Vec<Label> = (0..width).map(|k| ELLIPSIS + k as Label).collect();
    let output = match output_items {
        None => {
            // Implicit mode (NumPy): the ellipsis axes, then the letters that
            // occur exactly once, in alphabetical (character code) order.
            let mut count: BTreeMap<Label, usize> = BTreeMap::new();
            for l in inputs.iter().flatten().filter(|&&l| l < ELLIPSIS) {
                *count.entry(*l).or_insert(0) += 1;
            }
            let mut out = ellipsis_labels;
            out.extend(count.into_iter().filter(|&(_, c)| c == 1).map(|(l, _)| l));
            out
        }
        Some(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Item::Ellipsis => out.extend_from_slice(&ellipsis_labels),
                    Item::Letter(c) => {
                        let l = c as Label;
                        if !sizes.contains_key(&l) {
                            return Err(spec_error(format!(
                                "`einsum`: output index '{c}' in subscripts {subscripts:?} does not occur in any input"
                            )));
                        }
                        if out.contains(&l) {
                            return Err(spec_error(format!(
                                "`einsum`: output index '{c}' occurs more than once in subscripts {subscripts:?}"
                            ))
                            .with_help_text("an output index names one axis; for a diagonal use it twice on an input, e.g. \"ii->i\""));
                        }
                        out.push(l);
                    }
                }
            }
            out
        }
    };
    Ok(Plan { inputs, output, sizes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(c: char) -> Label {
        c as Label
    }

    #[test]
    fn implicit_output_is_sorted_single_letters() {
        let p = plan("bA,Ac", &[vec![2, 3], vec![3, 4]]).unwrap();
        assert_eq!(p.output, vec![l('b'), l('c')]);
        let p = plan("ba", &[vec![2, 3]]).unwrap();
        assert_eq!(p.output, vec![l('a'), l('b')]);
    }

    #[test]
    fn ellipsis_axes_broadcast_from_the_right() {
        let p = plan("...ij,...jk", &[vec![5, 1, 2, 3], vec![4, 3, 2]]).unwrap();
        assert_eq!(p.inputs[0][..2], [ELLIPSIS, ELLIPSIS + 1]);
        assert_eq!(p.inputs[1][..1], [ELLIPSIS + 1]);
        assert_eq!(p.sizes[&(ELLIPSIS + 1)], 4);
        assert_eq!(p.output, vec![ELLIPSIS, ELLIPSIS + 1, l('i'), l('k')]);
    }

    #[test]
    fn mistakes_are_reported() {
        let bad = |s: &str, shapes: &[Vec<usize>]| plan(s, shapes).unwrap_err().diag.message.clone();
        assert!(bad("ij,jk", &[vec![2, 3]]).contains("name 2 operands but 1 was given"));
        assert!(bad("ij", &[vec![2, 3, 4]]).contains("has 3 dimensions"));
        assert!(bad("ij,jk", &[vec![2, 3], vec![4, 5]]).contains("index 'j' has size 3 in operand 1 but size 4"));
        assert!(bad("i1", &[vec![2, 3]]).contains("invalid character '1'"));
        assert!(bad("ij->k", &[vec![2, 3]]).contains("'k'"));
        assert!(bad("ij->ii", &[vec![2, 3]]).contains("more than once"));
        assert!(bad("i..j", &[vec![2, 3]]).contains("ellipsis"));
        assert!(bad("...i...", &[vec![2, 3]]).contains("more than one ellipsis"));
        assert!(bad("i->i->i", &[vec![2]]).contains("more than one '->'"));
    }
}
