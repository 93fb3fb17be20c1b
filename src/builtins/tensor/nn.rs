//! Neural-network helpers: `softmax`, `log_softmax`, `one_hot`,
//! `cross_entropy`. Written with differentiable primitives, so they
//! differentiate to any order without rules of their own.

use super::args::*;
use super::reduce::{log_sum_exp_shifted, mean, reduce, shifted_by_max};
use crate::builtins::{int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, as_tensor, shape_of};
use crate::value::Value;
use dp_tensor::{format_shape, ReduceOp};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    for (decl, log) in [
        (
            Decl {
                sig: "softmax(x: tensor, axis: int = -1) -> tensor",
                summary: "`exp(x) / sum(exp(x))` along `axis`, computed stably.",
                doc: "",
                example: "softmax(tensor([0.0, 0.0]))  # [0.5, 0.5]",
            },
            false,
        ),
        (
            Decl {
                sig: "log_softmax(x: tensor, axis: int = -1) -> tensor",
                summary: "`log(softmax(x))` along `axis`, computed stably.",
                doc: "",
                example: "log_softmax(tensor([0.0, 0.0]))",
            },
            true,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            let x = numeric(name, a.value(0))?;
            let axis = axis_arg(name, a.given(1), shape_of(&x).len().max(1), -1)
                .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
            let x = if shape_of(&x).is_empty() {
                ops::reshape(&x, &[1])?
            } else {
                x
            };
            if log {
                log_softmax(&x, axis)
            } else {
                softmax(&x, axis)
            }
        });
    }
    register(
        t,
        Decl {
            sig: "one_hot(labels: tensor, n: int) -> tensor",
            summary: "Rows of `n` zeros with a one at each label's index.",
            doc: "Labels must be integers in `0..n`.",
            example: concat!(
                "one_hot(tensor([0, 2]), 3)  # [[1.0, 0.0, 0.0],\n",
                "                            #  [0.0, 0.0, 1.0]]",
            ),
        },
        |_, a| {
            let l = numeric("one_hot", a.value(0))?;
            let n = int_arg("one_hot", "n", a.value(1)).map_err(at_param(&a, 1))?;
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`one_hot`: n must be non-negative, found {n}"),
                )
                .at(a.span_at(1))
            })?;
            check_labels("one_hot", &l, n).map_err(at_param(&a, 0))?;
            one_hot(&l, n)
        },
    );
    register(
        t,
        Decl {
            sig: "cross_entropy(logits: tensor, labels: tensor) -> float",
            summary: "The mean negative log-likelihood of integer class `labels` under `softmax(logits)`.",
            doc: "`logits` has the classes on its last axis; `labels` has the other axes.",
            example: "cross_entropy(tensor([[2.0, 0.0], [0.0, 2.0]]), tensor([0, 1]))",
        },
        |_, a| {
            let x = numeric("cross_entropy", a.value(0))?;
            let l = numeric("cross_entropy", a.value(1))?;
            let s = shape_of(&x);
            if let Some(&classes) = s.last() {
                if shape_of(&l)[..] == s[..s.len() - 1] {
                    check_labels("cross_entropy", &l, classes)
                        .map_err(|d| label_param(at_param(&a, 1)(d), &a, 0, &x))?;
                }
            }
            cross_entropy(&x, &l).map_err(|d| {
                if d.kind == ErrorKind::Shape && d.span.is_none() {
                    let at = if s.is_empty() { 0 } else { 1 };
                    label_param(at_param(&a, at)(d), &a, 0, &x)
                } else {
                    d
                }
            })
        },
    );
}

/// `(x - m) - log(sum(exp(x - m)))` along `axis` for the maximum `m`, as
/// JAX computes it. `x - logsumexp(x)` lost every digit of the result where
/// `|x|` dwarfs it: `log_softmax([1e16, 1e16])` was `[0, 0]`, not `-log 2`, and
/// a row of scores masked with -1e30 got softmax `[1, 1, 1]`.
pub(super) fn log_softmax(x: &Value, axis: usize) -> R<Value> {
    let axes = Some(vec![axis]);
    let s = shifted_by_max(x, &axes)?;
    ops::sub(&s.x, &log_sum_exp_shifted(&s, &axes)?)
}

/// `exp(x - m) / sum(exp(x - m))` along `axis` for the maximum `m` (JAX's form:
/// a tie of two entries is exactly 0.5 each).
fn softmax(x: &Value, axis: usize) -> R<Value> {
    let axes = Some(vec![axis]);
    let s = shifted_by_max(x, &axes)?;
    ops::div(&s.exp, &reduce(&s.exp, ReduceOp::Sum, axes, true)?)
}

pub(super) fn one_hot(labels: &Value, n: usize) -> R<Value> {
    // `peek`: traced labels are computed with recorded primitives below, so
    // this read only checks them (a jit plan does not check them again).
    let t = as_tensor(labels.peek())?;
    // Batched labels (inside `vmap`): the new axis goes last, so the batch axes stay in front.
    let hot = crate::autodiff::trace::rewrap_batches(labels, ops::from_tensor(te(t.one_hot(n))?));
    if crate::autodiff::trace::is_traced(labels) {
        // The same values through recorded primitives (the labels were
        // checked above), so a traced graph computes them from its input.
        let mut col = shape_of(labels);
        col.push(1);
        let classes = ops::from_tensor(te(dp_tensor::Tensor::arange(0.0, n as f64, 1.0))?);
        let eq = ops::binary(dp_tensor::BinaryOp::Eq, &ops::reshape(labels, &col)?, &classes)?;
        return ops::binary(dp_tensor::BinaryOp::Mul, &eq, &Value::Float(1.0));
    }
    Ok(hot)
}

/// `cross_entropy(logits, labels)`: mean negative log-likelihood of integer class labels.
pub fn cross_entropy(logits: &Value, labels: &Value) -> R<Value> {
    let s = shape_of(logits);
    if s.is_empty() {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            "`cross_entropy` expects logits with a class axis, found a scalar",
        ));
    }
    let classes = s[s.len() - 1];
    let ls = shape_of(labels);
    if ls[..] != s[..s.len() - 1] {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`cross_entropy`: logits of shape {} need labels of shape {}, found {}",
                format_shape(&s),
                format_shape(&s[..s.len() - 1]),
                format_shape(&ls)
            ),
        ));
    }
    let lp = log_softmax(logits, s.len() - 1)?;
    // Selected with `where`, not by multiplying with the one-hot mask: a logit
    // masked with -inf has log-probability -inf, and -inf * 0 would be nan.
    let picked = reduce(
        &ops::where_(&one_hot(labels, classes)?, &lp, &Value::Float(0.0))?,
        ReduceOp::Sum,
        Some(vec![s.len() - 1]),
        false,
    )?;
    ops::neg(&mean(&picked, None, false)?)
}

/// Checks class ids for `one_hot` / `cross_entropy`: integral and in `0..n`.
pub(super) fn check_labels(fname: &str, labels: &Value, n: usize) -> R<()> {
    // A check only (`peek`: see `one_hot`).
    for &l in as_tensor(labels.peek())?.to_vec().iter() {
        if l.fract() != 0.0 || !l.is_finite() {
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!(
                    "`{fname}`: label {} is not an integer class id",
                    dp_tensor::format_float(l)
                ),
            ));
        }
        if l < 0.0 || l >= n as f64 {
            let valid = if n == 0 {
                "there are none".to_string()
            } else {
                format!("valid class ids are 0..={}", n - 1)
            };
            return Err(Diagnostic::new(
                ErrorKind::Index,
                format!(
                    "`{fname}`: label {} is out of range for {n} classes ({valid})",
                    l as i64
                ),
            ));
        }
    }
    Ok(())
}
