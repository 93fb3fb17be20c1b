//! Shape primitives: `Transpose`, `Reshape`, `BroadcastTo` and its adjoint
//! `SumTo`, `Concat`, `Stack`. All are linear: each JVP applies the primitive
//! to the tangents.

use super::batching::{all_batched, example_shape, reshape_examples, with_rank};
use super::indexing::Slice;
use super::rule_util::{linear, reshape_like};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, shape_of, unbroadcast};
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor};
use std::rc::Rc;

/// Axis permutation.
#[derive(Clone, Debug, PartialEq)]
pub struct Transpose(pub Rc<[usize]>);

impl Primitive for Transpose {
    fn name(&self) -> String {
        "transpose".into()
    }
    fn params(&self) -> Vec<String> {
        vec![dp_tensor::format_shape(&self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.transpose(&self.0))?))
    }
    fn vjp(&self, _x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let mut inv = vec![0; self.0.len()];
        for (i, &p) in self.0.iter().enumerate() {
            inv[p] = i;
        }
        Ok(vec![Some(ops::transpose(g, &inv)?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Transpose(self.clone()), x, t)
    }
    // The batch axis stays in front; the example's axes move as before.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        let perm: Vec<usize> = std::iter::once(0).chain(self.0.iter().map(|&p| p + 1)).collect();
        ops::transpose(&x[0], &perm)
    }
}

/// Reshape to a shape with the same number of elements.
#[derive(Clone, Debug, PartialEq)]
pub struct Reshape(pub Rc<[usize]>);

impl Primitive for Reshape {
    fn name(&self) -> String {
        "reshape".into()
    }
    fn params(&self) -> Vec<String> {
        vec![dp_tensor::format_shape(&self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.reshape(&self.0))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![Some(reshape_like(g, &x[0])?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Reshape(self.clone()), x, t)
    }
    fn batch(&self, x: &[Value], _batched: &[bool], n: usize) -> R<Value> {
        reshape_examples(&x[0], n, &self.0)
    }
}

/// NumPy broadcasting to a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct BroadcastTo(pub Rc<[usize]>);

impl Primitive for BroadcastTo {
    fn name(&self) -> String {
        "broadcast_to".into()
    }
    fn params(&self) -> Vec<String> {
        vec![dp_tensor::format_shape(&self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.broadcast_to(&self.0))?.contiguous()))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![Some(unbroadcast(g, &x[0])?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::BroadcastTo(self.clone()), x, t)
    }
    // The example gets the target's rank first, so the batch axis stays in front.
    fn batch(&self, x: &[Value], _batched: &[bool], n: usize) -> R<Value> {
        let v = with_rank(&x[0], self.0.len())?;
        let mut s = vec![n];
        s.extend_from_slice(&self.0);
        ops::broadcast_to(&v, &s)
    }
}

/// The adjoint of broadcasting: sum down to a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct SumTo(pub Rc<[usize]>);

impl Primitive for SumTo {
    fn name(&self) -> String {
        "sum_to".into()
    }
    fn params(&self) -> Vec<String> {
        vec![dp_tensor::format_shape(&self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let t = as_tensor(&x[0])?;
        if t.shape() == &self.0[..] {
            Ok(from_tensor(t))
        } else {
            Ok(from_tensor(te(t.sum_to_shape(&self.0))?))
        }
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![Some(ops::broadcast_to(g, &shape_of(&x[0]))?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::SumTo(self.clone()), x, t)
    }
    // Sums to the target padded with leading 1s to the example's rank (the
    // batch axis is kept), then drops those 1s.
    fn batch(&self, x: &[Value], _batched: &[bool], n: usize) -> R<Value> {
        let k = example_shape(&x[0], true).len();
        let mut padded = vec![n];
        padded.extend(std::iter::repeat_n(1, k.saturating_sub(self.0.len())));
        padded.extend_from_slice(&self.0);
        let s = super::apply(&Prim::SumTo(SumTo(padded.into())), x)?;
        reshape_examples(&s, n, &self.0)
    }
}

/// The tensors of a list of arguments.
fn tensors(x: &[Value]) -> R<Vec<Rc<Tensor>>> {
    x.iter().map(as_tensor).collect()
}

/// `g[..., start:stop]` along `axis` (or `g[..., i]` for `Index`), as a primitive.
fn slice_along(g: &Value, axis: usize, last: SliceSpec) -> R<Value> {
    let mut specs = vec![SliceSpec::full(); axis];
    specs.push(last);
    super::apply(&Prim::Slice(Slice(specs.into())), std::slice::from_ref(g))
}

/// Joining tensors along an existing axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Concat(pub usize);

impl Primitive for Concat {
    fn name(&self) -> String {
        "concat".into()
    }
    fn params(&self) -> Vec<String> {
        vec![format!("axis={}", self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let ts = tensors(x)?;
        let refs: Vec<&Tensor> = ts.iter().map(|t| &**t).collect();
        Ok(from_tensor(te(Tensor::concat(&refs, self.0))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let axis = self.0;
        let mut start = 0i64;
        let mut out = Vec::with_capacity(x.len());
        for (xi, need) in x.iter().zip(needs) {
            let len = shape_of(xi)[axis] as i64;
            out.push(if *need {
                let range = SliceSpec::Range {
                    start: Some(start),
                    stop: Some(start + len),
                    step: 1,
                };
                Some(slice_along(g, axis, range)?)
            } else {
                None
            });
            start += len;
        }
        Ok(out)
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Concat(self.clone()), x, t)
    }
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        super::apply(&Prim::Concat(Concat(self.0 + 1)), &all_batched(x, batched, n)?)
    }
}

/// Joining tensors along a new axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack(pub usize);

impl Primitive for Stack {
    fn name(&self) -> String {
        "stack".into()
    }
    fn params(&self) -> Vec<String> {
        vec![format!("axis={}", self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let ts = tensors(x)?;
        let refs: Vec<&Tensor> = ts.iter().map(|t| &**t).collect();
        if refs.is_empty() {
            Ok(Value::Tensor(Rc::new(te(Tensor::zeros(&[0]))?)))
        } else {
            Ok(from_tensor(te(Tensor::stack(&refs, self.0))?))
        }
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let mut out = Vec::with_capacity(x.len());
        for (i, (xi, need)) in x.iter().zip(needs).enumerate() {
            out.push(if *need {
                Some(reshape_like(&slice_along(g, self.0, SliceSpec::Index(i as i64))?, xi)?)
            } else {
                None
            });
        }
        Ok(out)
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Stack(self.clone()), x, t)
    }
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        super::apply(&Prim::Stack(Stack(self.0 + 1)), &all_batched(x, batched, n)?)
    }
}
