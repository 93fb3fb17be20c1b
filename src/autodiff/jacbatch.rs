//! The batched passes behind `jacfwd` and `jacrev`: instead of one forward
//! pass per input element (or one backward pass per output element), the
//! basis tangents (cotangents) are stacked as the examples of a batch level,
//! so a single pass pushes a block of them through the batching rules — `vmap`
//! of `jvp` (of `vjp`) over the basis, as JAX builds its Jacobians. The blocks
//! hold at most [`MAX_BASIS_ELEMS`] basis elements, which bounds the memory
//! of the stacked identity (a 10⁴-element input would otherwise stack a
//! 10⁸-element one).

use super::trace::{batched_at, unwrap_level, Level};
use crate::diagnostics::{Diagnostic, R};
use crate::ops::{self, apply, num, shape_of, Prim};
use crate::value::Value;
use dp_tensor::Tensor;
use std::rc::Rc;

/// The most elements one stacked block of basis vectors may hold (32 MB of f64).
const MAX_BASIS_ELEMS: usize = 1 << 22;

/// The basis vectors of an `n`-element value taken per batched pass.
pub fn block_len(n: usize) -> usize {
    (MAX_BASIS_ELEMS / n.max(1)).clamp(1, n.max(1))
}

/// Basis vectors `start .. start + count` of a value of `shape` (one-hot
/// each), stacked along a new leading axis: shape `[count, *shape]`.
pub fn basis_block(shape: &[usize], start: usize, count: usize) -> R<Value> {
    let n: usize = shape.iter().product();
    let mut data = vec![0.0; count * n];
    for k in 0..count {
        data[k * n + start + k] = 1.0;
    }
    let mut s = vec![count];
    s.extend_from_slice(shape);
    Ok(Value::Tensor(Rc::new(
        Tensor::from_vec(data, &s).map_err(ops::tensor_error)?,
    )))
}

/// `v` at batch `level` as `count` stacked examples of shape `example`:
/// its batched data, or (when it is the same for every basis vector, or
/// symbolically zero) repeated along the leading axis.
pub fn stacked(v: Option<&Value>, level: &Rc<Level>, count: usize, example: &[usize]) -> R<Value> {
    let mut full = vec![count];
    full.extend_from_slice(example);
    match v {
        Some(v) => match batched_at(v, level) {
            Some(b) => Ok(b),
            None => ops::broadcast_to(&num(&unwrap_level(v, level)), &full),
        },
        None => zeros_stack(count, example),
    }
}

/// Zeros of shape `[count, *example]`: the stacked derivatives of a value
/// that does not depend on the differentiated one.
pub fn zeros_stack(count: usize, example: &[usize]) -> R<Value> {
    let mut full = vec![count];
    full.extend_from_slice(example);
    Ok(Value::Tensor(Rc::new(Tensor::zeros(&full).map_err(ops::tensor_error)?)))
}

/// The blocks of one Jacobian slab joined along their leading axis.
pub fn join(mut parts: Vec<Value>) -> R<Value> {
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    apply(&Prim::Concat(crate::prim::Concat(0)), &parts)
}

/// Whether a batched pass failed only because of batching (user code or a
/// custom rule needs a concrete value from the stacked basis, a primitive
/// has no batching rule, a size depends on the values): then the
/// per-element passes, which need none of that, give the Jacobian instead.
/// Decided by the error's structured marker, never by its wording (which
/// may be extended on the way out, e.g. "... (in the backward pass of f)").
pub fn batching_failed(d: &Diagnostic) -> bool {
    d.cannot_batch
}

/// `x` (of shape `[n, *rest]`) with its leading axis moved to the end.
pub fn lead_to_end(x: &Value) -> R<Value> {
    let nd = shape_of(x).len();
    crate::prim::batching::move_axis(x, 0, nd.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::ErrorKind;

    #[test]
    fn fallback_is_decided_by_the_marker_not_the_wording() {
        // Wording that used to be matched, without the marker: no fallback.
        let d = Diagnostic::new(ErrorKind::Type, "vmap: x depends on a batched value");
        assert!(!batching_failed(&d));
        // The marker survives rewording (as the backward pass appends its op).
        let mut d = Diagnostic::new(ErrorKind::Differentiation, "p has no batching rule").cannot_batch();
        d.message = format!("{} (in the backward pass of f)", d.message);
        assert!(batching_failed(&d));
        // The errors that say so carry it.
        assert!(batching_failed(&crate::autodiff::vmap::batched_value_error("`if`")));
    }
}
