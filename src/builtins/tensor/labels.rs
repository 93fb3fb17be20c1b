//! `encode_labels(column)`: class labels (strings, or numbers) to integer
//! codes and the sorted classes, as scikit-learn's `LabelEncoder` and
//! `numpy.unique(..., return_inverse=True)` do. The stdlib offers it as
//! `data.encode`.

use super::args::*;
use crate::autodiff::trace::is_batched;
use crate::builtins::{arg_type, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::prim::as_tensor;
use crate::value::{Tuple, Value};
use dp_tensor::Tensor;
use std::collections::HashMap;
use std::rc::Rc;

/// Codes (as floats, the element type of tensors) of strings: each string's
/// position among the sorted distinct strings.
fn encode_strings(items: &[Rc<str>]) -> (Vec<f64>, Vec<Rc<str>>) {
    let mut classes: Vec<Rc<str>> = items.to_vec();
    classes.sort();
    classes.dedup();
    let codes = items
        .iter()
        // Every item is among the classes, so the search finds it.
        .map(|s| classes.binary_search(s).unwrap_or(0) as f64)
        .collect();
    (codes, classes)
}

/// Codes of numbers against their sorted distinct values (NaNs are one class, last).
fn encode_numbers(x: &Tensor) -> R<(Vec<f64>, Tensor)> {
    let classes = te(x.unique())?;
    let cv = classes.to_vec();
    let codes = x
        .to_vec()
        .iter()
        .map(|&v| {
            if v.is_nan() {
                cv.len().saturating_sub(1) as f64
            } else {
                cv.partition_point(|&c| c < v) as f64
            }
        })
        .collect();
    Ok((codes, classes))
}

/// Registers `encode_labels`.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "encode_labels(column: tuple | tensor) -> tuple",
            summary: "`(codes, classes)`: each label's index among the sorted distinct labels, and those labels.",
            doc: "For a tuple of strings (a string column of `load_csv(..., columns=true)`) the classes are \
                  a tuple of strings in sorted order; for numbers, a tensor (as `unique`). The codes are a \
                  tensor of whole numbers of the column's shape, ready for `one_hot` or `cross_entropy`. \
                  Also `data.encode`.",
            example: "encode_labels((\"b\", \"a\", \"b\"))  # ([1.0, 0.0, 1.0], (\"a\", \"b\"))",
        },
        |_, a| {
            let column = a.value(0);
            if let Value::Tuple(items) = column {
                if items.iter().any(|v| matches!(v, Value::Str(_))) || items.is_empty() {
                    let mut strs = Vec::with_capacity(items.len());
                    for (i, v) in items.iter().enumerate() {
                        match v {
                            Value::Str(s) => strs.push(s.clone()),
                            other => {
                                return Err(Diagnostic::new(
                                    ErrorKind::Type,
                                    format!(
                                        "`encode_labels` expects a column of strings or numbers, but item {i} is {} \
                                         among strings",
                                        other.describe()
                                    ),
                                )
                                .at(a.span_at(0)))
                            }
                        }
                    }
                    let (codes, classes) = encode_strings(&strs);
                    let n = codes.len();
                    let codes = Tensor::from_vec(codes, &[n]).map_err(ops::tensor_error)?;
                    let classes: Tuple = classes.into_iter().map(Value::Str).collect();
                    return Ok(Value::tuple([ops::from_tensor(codes), Value::Tuple(classes)]));
                }
            }
            let x = numeric("encode_labels", column).map_err(|_| {
                arg_type("encode_labels", "`column`", "a tuple of strings or a tensor", column).at(a.span_at(0))
            })?;
            if is_batched(&x) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    "`encode_labels` has a value-dependent number of classes, so it cannot run inside `vmap`",
                )
                .cannot_batch()
                .at(a.span));
            }
            let shape = shape_of(&x);
            let xt = as_tensor(&x.strip().clone())?;
            let (codes, classes) = encode_numbers(&xt)?;
            let codes = Tensor::from_vec(codes, &shape).map_err(ops::tensor_error)?;
            Ok(Value::tuple([ops::from_tensor(codes), ops::from_tensor(classes)]))
        },
    );
}
