//! Helpers shared by the batching rules (`Primitive::batch`, for `vmap`).
//!
//! A batched input holds its `n` examples stacked along its leading axis, and
//! every rule returns its output the same way: `vmap` moves the axes it is
//! given to the front once, so no rule tracks a batch axis. The helpers work
//! on the values one level below the `vmap` (possibly tracers of enclosing
//! levels) with `crate::ops`, so enclosing levels record what they do.

use super::indexing::Slice;
use super::shape::Concat;
use super::{apply, from_tensor, te, Prim, R};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor};

/// The shape of one example of `x` (its shape without the leading axis when batched).
pub fn example_shape(x: &Value, batched: bool) -> Vec<usize> {
    let s = shape_of(x);
    if batched && !s.is_empty() {
        s[1..].to_vec()
    } else {
        s
    }
}

/// `x` with its examples stacked along the leading axis: an unbatched `x`
/// is repeated `n` times (for rules that need every input batched).
pub fn to_batched(x: &Value, batched: bool, n: usize) -> R<Value> {
    if batched {
        return Ok(x.clone());
    }
    let mut s = vec![n];
    s.extend(shape_of(x));
    ops::broadcast_to(x, &s)
}

/// A batched `x` whose examples are given `rank` axes by inserting size-1
/// axes after the batch axis, so that NumPy broadcasting (which aligns
/// shapes from the right) keeps the batch axis in front.
pub fn with_rank(x: &Value, rank: usize) -> R<Value> {
    let s = shape_of(x);
    let k = s.len().saturating_sub(1);
    if k >= rank || s.is_empty() {
        return Ok(x.clone());
    }
    let mut t = vec![s[0]];
    t.extend(std::iter::repeat_n(1, rank - k));
    t.extend_from_slice(&s[1..]);
    ops::reshape(x, &t)
}

/// The rule of a broadcasting elementwise primitive: batched inputs are
/// given the rank of the widest example, then the primitive broadcasts as usual.
pub fn broadcasting(prim: &Prim, x: &[Value], batched: &[bool]) -> R<Value> {
    let rank = x
        .iter()
        .zip(batched)
        .map(|(v, b)| example_shape(v, *b).len())
        .max()
        .unwrap_or(0);
    let args: Vec<Value> = x
        .iter()
        .zip(batched)
        .map(|(v, b)| if *b { with_rank(v, rank) } else { Ok(v.clone()) })
        .collect::<R<_>>()?;
    apply(prim, &args)
}

/// Every input repeated to the batch, for rules that treat all inputs alike.
pub fn all_batched(x: &[Value], batched: &[bool], n: usize) -> R<Vec<Value>> {
    x.iter().zip(batched).map(|(v, b)| to_batched(v, *b, n)).collect()
}

/// `x` (batched) reshaped to `n` followed by `example`.
pub fn reshape_examples(x: &Value, n: usize, example: &[usize]) -> R<Value> {
    let mut s = vec![n];
    s.extend_from_slice(example);
    ops::reshape(x, &s)
}

/// The permutation moving axis `from` to position `to` (the others keep their order).
pub fn move_axis_perm(ndim: usize, from: usize, to: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..ndim).filter(|&i| i != from).collect();
    perm.insert(to.min(perm.len()), from);
    perm
}

/// `x` with axis `from` moved to position `to`.
pub fn move_axis(x: &Value, from: usize, to: usize) -> R<Value> {
    let nd = shape_of(x).len();
    if from == to || nd < 2 {
        return Ok(x.clone());
    }
    ops::transpose(x, &move_axis_perm(nd, from, to))
}

/// The batching rule `rule` for a batch of no examples (`n = 0`), for rules
/// that cannot run with `n = 0` themselves (a convolution with `0 * groups`
/// groups, a result whose example shape is lost in a reshape of nothing).
/// Every batched input gets one example of zeros, `rule` runs on that one
/// example (`n = 1`) and none of its result is kept: the result has the
/// right shape `[0, ...]`, and it is still computed from every input, so an
/// enclosing `grad` sees them used and gets zero (not missing) gradients.
pub fn with_no_examples(x: &[Value], batched: &[bool], rule: impl FnOnce(&[Value]) -> R<Value>) -> R<Value> {
    let padded: Vec<Value> = x
        .iter()
        .zip(batched)
        .map(|(v, b)| if *b { with_zero_example(v) } else { Ok(v.clone()) })
        .collect::<R<_>>()?;
    let y = rule(&padded)?;
    let none = SliceSpec::Range {
        start: Some(0),
        stop: Some(0),
        step: 1,
    };
    apply(
        &Prim::Slice(Slice(std::iter::once(none).collect())),
        std::slice::from_ref(&y),
    )
}

/// A batched `x` of no examples (`[0, rest...]`) with one example of zeros
/// appended: `[1, rest...]`.
fn with_zero_example(x: &Value) -> R<Value> {
    let mut s = shape_of(x);
    match s.first_mut() {
        Some(lead) => *lead = 1,
        None => return Ok(x.clone()),
    }
    let zero = from_tensor(te(Tensor::zeros(&s))?);
    apply(&Prim::Concat(Concat(0)), &[x.clone(), zero])
}
