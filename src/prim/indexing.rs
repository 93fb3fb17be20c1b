//! Indexing primitives: `Slice` (basic indexing) and `Take` (gather along an
//! axis), with their adjoints `SliceScatter` and `TakeScatter`, and the
//! functional update `IndexUpdate` (`x.at[...].set/add/mul`).

use super::rule_util::{linear, reshape_like, tangent_or_zero};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::shape_of;
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor, UpdateMode};
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

/// The functional update `x.at[...].set(v)` / `.add(v)` / `.mul(v)`: inputs
/// `(x, positions, v)`, where `positions` holds flat row-major positions into
/// `x` (one per selected element; not differentiable) and `v` has their
/// shape. Differentiable in `x` and `v` at every order: the rules are written
/// with this primitive and `Take`, so they record again.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexUpdate(pub UpdateMode);

/// `g` flattened and gathered at `pos` (the cotangent each updated element receives).
fn gather_flat(g: &Value, pos: &Value) -> R<Value> {
    let n = shape_of(g).iter().product::<usize>();
    let flat = crate::ops::reshape(g, &[n])?;
    super::apply(&Prim::Take(Take(0)), &[flat, pos.clone()])
}

/// The update of `mode` applied to `(x, pos, v)`.
fn update(mode: UpdateMode, x: &Value, pos: &Value, v: &Value) -> R<Value> {
    super::apply(
        &Prim::IndexUpdate(IndexUpdate(mode)),
        &[x.clone(), pos.clone(), v.clone()],
    )
}

/// Rejects the derivative of `.mul` in `v` when a position repeats (the
/// product of the others would be needed; JAX does not define it either).
fn check_unique_for_mul(x: &Value, pos: &Value) -> R<()> {
    let size = shape_of(x).iter().product::<usize>();
    if te(Tensor::has_repeats(&*as_tensor(pos.strip())?, size))? {
        return Err(crate::diagnostics::Diagnostic::new(
            crate::diagnostics::ErrorKind::Differentiation,
            "the derivative of `.at[...].mul(v)` in `v` needs distinct indices, but an element is selected more than once",
        )
        .with_help("multiply the repeated factors together first, or use `.set` with the product"));
    }
    Ok(())
}

impl Primitive for IndexUpdate {
    fn name(&self) -> String {
        format!("at.{}", self.0.name())
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (t, pos, v) = (as_tensor(&x[0])?, as_tensor(&x[1])?, as_tensor(&x[2])?);
        Ok(from_tensor(te(t.update_at(&pos, &v, self.0))?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (xv, pos, v) = (&x[0], &x[1], &x[2]);
        let (gx, gv) = match self.0 {
            UpdateMode::Set => {
                // Overwritten elements get no cotangent; each value gets the
                // cotangent of the element it ends up in (the last write wins).
                let gx = needs[0]
                    .then(|| update(UpdateMode::Set, g, pos, &crate::ops::zeros_like(v)?))
                    .transpose()?;
                let gv = needs[2]
                    .then(|| {
                        let size = shape_of(xv).iter().product::<usize>();
                        let winners = te(Tensor::last_writers(&*as_tensor(pos.strip())?, size))?;
                        crate::ops::mul(&gather_flat(g, pos)?, &from_tensor(winners))
                    })
                    .transpose()?;
                (gx, gv)
            }
            UpdateMode::Add => (
                needs[0].then(|| g.clone()),
                needs[2].then(|| gather_flat(g, pos)).transpose()?,
            ),
            UpdateMode::Mul => {
                let gx = needs[0].then(|| update(UpdateMode::Mul, g, pos, v)).transpose()?;
                let gv = needs[2]
                    .then(|| {
                        check_unique_for_mul(xv, pos)?;
                        gather_flat(&crate::ops::mul(g, xv)?, pos)
                    })
                    .transpose()?;
                (gx, gv)
            }
        };
        Ok(vec![
            gx.map(|g| reshape_like(&g, xv)).transpose()?,
            None,
            gv.map(|g| reshape_like(&g, v)).transpose()?,
        ])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        let (xv, pos, v) = (&x[0], &x[1], &x[2]);
        let tx = tangent_or_zero(&t[0], xv)?;
        match self.0 {
            // Set and add are linear in (x, v) together.
            UpdateMode::Set | UpdateMode::Add => {
                let tv = tangent_or_zero(&t[2], v)?;
                Ok(Some(update(self.0, &tx, pos, &tv)?))
            }
            UpdateMode::Mul => {
                let from_x = update(UpdateMode::Mul, &tx, pos, v)?;
                let Some(tv) = &t[2] else {
                    return Ok(Some(from_x));
                };
                check_unique_for_mul(xv, pos)?;
                let from_v = crate::ops::mul(&gather_flat(xv, pos)?, tv)?;
                let zeros = crate::ops::zeros_like(xv)?;
                Ok(Some(crate::ops::add(
                    &from_x,
                    &update(UpdateMode::Add, &zeros, pos, &from_v)?,
                )?))
            }
        }
    }
}
