//! Indexing primitives: `Slice` (basic indexing) and `Take` (gather along an
//! axis), with their adjoints `SliceScatter` and `TakeScatter`.

use super::rule_util::{linear, reshape_like};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::shape_of;
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor};
use std::rc::Rc;

/// Basic indexing: one spec (index or range) per leading axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice(pub Rc<[SliceSpec]>);

impl Primitive for Slice {
    fn name(&self) -> String {
        "indexing".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.slice(&self.0))?.contiguous()))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let shape: Rc<[usize]> = shape_of(&x[0]).into();
        let scatter = Prim::SliceScatter(SliceScatter(self.0.clone(), shape));
        Ok(vec![Some(reshape_like(
            &super::apply(&scatter, std::slice::from_ref(g))?,
            &x[0],
        )?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::Slice(self.clone()), x, t)
    }
}

/// The adjoint of `Slice`: place into zeros of the input's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceScatter(pub Rc<[SliceSpec]>, pub Rc<[usize]>);

impl Primitive for SliceScatter {
    fn name(&self) -> String {
        "slice_scatter".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(Tensor::slice_scatter(
            &*as_tensor(&x[0])?,
            &self.0,
            &self.1,
        ))?))
    }
    fn vjp(&self, _x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let slice = Prim::Slice(Slice(self.0.clone()));
        Ok(vec![Some(super::apply(&slice, std::slice::from_ref(g))?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        linear(&Prim::SliceScatter(self.clone()), x, t)
    }
}

/// `take(x, indices, axis)`; the second argument holds the indices (not differentiable).
#[derive(Clone, Debug, PartialEq)]
pub struct Take(pub usize);

impl Primitive for Take {
    fn name(&self) -> String {
        "take".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(as_tensor(&x[0])?.take(&*as_tensor(&x[1])?, self.0))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let shape: Rc<[usize]> = shape_of(&x[0]).into();
        let scatter = Prim::TakeScatter(TakeScatter(self.0, shape));
        Ok(vec![
            Some(reshape_like(
                &super::apply(&scatter, &[g.clone(), x[1].clone()])?,
                &x[0],
            )?),
            None,
        ])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        t[0].as_ref()
            .map(|tx| super::apply(&Prim::Take(self.clone()), &[tx.clone(), x[1].clone()]))
            .transpose()
    }
}

/// The adjoint of `Take`: scatter-add into zeros of the input's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct TakeScatter(pub usize, pub Rc<[usize]>);

impl Primitive for TakeScatter {
    fn name(&self) -> String {
        "take_scatter".into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(from_tensor(te(Tensor::take_scatter(
            &*as_tensor(&x[0])?,
            &*as_tensor(&x[1])?,
            self.0,
            &self.1,
        ))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let take = Prim::Take(Take(self.0));
        Ok(vec![Some(super::apply(&take, &[g.clone(), x[1].clone()])?), None])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        t[0].as_ref()
            .map(|tx| super::apply(&Prim::TakeScatter(self.clone()), &[tx.clone(), x[1].clone()]))
            .transpose()
    }
}
