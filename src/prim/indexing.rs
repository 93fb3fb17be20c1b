//! Indexing primitives: `Slice` (basic indexing) and `Take` (gather along an
//! axis), with their adjoints `SliceScatter` and `TakeScatter`, and the
//! functional update `IndexUpdate` (`x.at[...].set/add/mul`).

use super::batching::{example_shape, move_axis, to_batched};
use super::rule_util::{linear, reshape_like, tangent_or_zero};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops;
use crate::ops::shape_of;
use crate::value::Value;
use dp_tensor::{SliceSpec, Tensor, UpdateMode};
use std::rc::Rc;

/// `specs` behind a full range, for the batch axis in front.
fn with_full_first(specs: &[SliceSpec]) -> Rc<[SliceSpec]> {
    std::iter::once(SliceSpec::full())
        .chain(specs.iter().cloned())
        .collect()
}

fn axis_error(axis: usize, shape: &[usize]) -> crate::diagnostics::Diagnostic {
    super::tensor_error(dp_tensor::TensorError::Invalid(format!(
        "axis {axis} is out of range for shape {}",
        dp_tensor::format_shape(shape)
    )))
}

/// Per-example indices (`[n, q...]`, into an axis of length `d`) made
/// indices into the `n * d` positions of the examples flattened along that
/// axis: negative ones counted from the end, then example `i`'s shifted by
/// `i * d`. An index out of range is reported here, where it would otherwise
/// select from another example. Indices a running trace computed
/// (`jit(vmap(f))`) are checked by a recorded [`IndexCheck`], a guard of the
/// plan, rather than read: a call whose indices fail it is traced afresh
/// and fails here as plain code does.
fn offset_indices(idx: &Value, n: usize, d: usize, nq: usize) -> R<Value> {
    let dl = d as f64;
    let checked = match crate::autodiff::trace::traced_examples(idx) {
        Some(whole) => matches!(
            super::apply(&Prim::IndexCheck(IndexCheck(d)), &[whole])?.peek(),
            Value::Bool(true)
        ),
        None => false,
    };
    if !checked {
        let plain = as_tensor(idx.strip())?;
        if let Some(bad) = plain.to_vec().into_iter().find(|&i| i >= dl || i < -dl) {
            return Err(super::tensor_error(dp_tensor::TensorError::Invalid(format!(
                "index {bad} is out of range for an axis of length {d}"
            ))));
        }
    }
    // With `ops`, so an enclosing `vmap` that batches the indices too batches this.
    let neg = ops::binary(dp_tensor::BinaryOp::Lt, idx, &Value::Float(0.0))?;
    let wrapped = ops::where_(&neg, &ops::add(idx, &Value::Float(dl))?, idx)?;
    let offsets: Vec<f64> = (0..n).map(|i| (i * d) as f64).collect();
    let mut oshape = vec![n];
    oshape.extend(std::iter::repeat_n(1, nq));
    let offsets = from_tensor(te(Tensor::from_vec(offsets, &oshape))?);
    ops::add(&wrapped, &offsets)
}

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
    // A full range over the batch axis in front of the example's specs.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        super::apply(&Prim::Slice(Slice(with_full_first(&self.0))), x)
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
    fn batch(&self, x: &[Value], _batched: &[bool], n: usize) -> R<Value> {
        let shape: Rc<[usize]> = std::iter::once(n).chain(self.1.iter().copied()).collect();
        super::apply(&Prim::SliceScatter(SliceScatter(with_full_first(&self.0), shape)), x)
    }
}

/// Whether indices (its one input: an int, a float or a tensor) are all
/// ones `x[i]` accepts for an axis of this length: integers within
/// `-len..len`. A jit trace records it before a `Take` of traced indices,
/// and its bool result is a guard of the plan: a call whose indices would
/// fail is traced afresh, so it fails with the very error plain code gives
/// (see `ops::index`). No derivative.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexCheck(pub usize);

impl IndexCheck {
    /// The check itself, on index values (`false` for anything but numbers).
    pub fn holds(&self, i: &Value) -> bool {
        let n = self.0 as f64;
        // In range implies below 2^53 in size, where `as_index` takes a float.
        let ok = |i: f64| i.fract() == 0.0 && (-n..n).contains(&i);
        match i.peek() {
            Value::Int(i) => ok(*i as f64),
            Value::Float(x) => ok(*x),
            Value::Tensor(t) if !t.is_bool() => t.to_vec().into_iter().all(ok),
            _ => false,
        }
    }
}

impl Primitive for IndexCheck {
    fn name(&self) -> String {
        "index_check".into()
    }
    fn params(&self) -> Vec<String> {
        vec![format!("len={}", self.0)]
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        Ok(Value::Bool(self.holds(&x[0])))
    }
    fn zero_derivative(&self) -> bool {
        true
    }
    fn vjp(&self, _x: &[Value], _y: &Value, _g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![None])
    }
    fn jvp(&self, _x: &[Value], _t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(None)
    }
}

/// `take(x, indices, axis)`; the second argument holds the indices (not differentiable).
#[derive(Clone, Debug, PartialEq)]
pub struct Take(pub usize);

impl Primitive for Take {
    fn name(&self) -> String {
        "take".into()
    }
    fn params(&self) -> Vec<String> {
        vec![format!("axis={}", self.0)]
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
    // Shared indices: a take one axis further right. Per-example indices:
    // one gather from the examples flattened into the taken axis, each
    // example's indices offset to its own block.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let axis = self.0;
        if !batched[1] {
            return super::apply(&Prim::Take(Take(axis + 1)), x);
        }
        let src = to_batched(&x[0], batched[0], n)?;
        let e = example_shape(&src, true);
        let q = example_shape(&x[1], true);
        let d = *e.get(axis).ok_or_else(|| axis_error(axis, &e))?;
        // [n, d, rest...] flattened to [n * d, rest...].
        let moved = move_axis(&src, axis + 1, 1)?;
        let rest: Vec<usize> = e
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, &s)| s)
            .collect();
        let flat_shape: Vec<usize> = std::iter::once(n * d).chain(rest.iter().copied()).collect();
        let flat = ops::reshape(&moved, &flat_shape)?;
        let idx = offset_indices(&x[1], n, d, q.len())?;
        // [n, q..., rest...] -> [n, e[..axis], q..., e[axis + 1..]].
        let got = super::apply(&Prim::Take(Take(0)), &[flat, idx])?;
        let nq = q.len();
        let mut perm = vec![0];
        perm.extend((0..axis).map(|i| 1 + nq + i));
        perm.extend((0..nq).map(|i| 1 + i));
        perm.extend((axis..rest.len()).map(|i| 1 + nq + i));
        ops::transpose(&got, &perm)
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
    // The transpose of `Take`'s rule: shared indices scatter one axis further
    // right; per-example indices scatter into the examples flattened along the axis.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let (axis, shape) = (self.0, &self.1);
        let full: Rc<[usize]> = std::iter::once(n).chain(shape.iter().copied()).collect();
        if !batched[1] {
            let g = to_batched(&x[0], batched[0], n)?;
            return super::apply(&Prim::TakeScatter(TakeScatter(axis + 1, full)), &[g, x[1].clone()]);
        }
        let g = to_batched(&x[0], batched[0], n)?;
        let q = example_shape(&x[1], true);
        let d = *shape.get(axis).ok_or_else(|| axis_error(axis, shape))?;
        let nq = q.len();
        // g: [n, e[..axis], q..., e[axis + 1..]] -> [n, q..., rest...].
        let ge = example_shape(&g, true);
        let mut perm = vec![0];
        perm.extend((0..nq).map(|i| 1 + axis + i));
        perm.extend((0..axis).map(|i| 1 + i));
        perm.extend((axis + nq..ge.len()).map(|i| 1 + i));
        let g = ops::transpose(&g, &perm)?;
        let rest: Vec<usize> = shape
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, &s)| s)
            .collect();
        let flat_shape: Rc<[usize]> = std::iter::once(n * d).chain(rest.iter().copied()).collect();
        let idx = offset_indices(&x[1], n, d, nq)?;
        let flat = super::apply(&Prim::TakeScatter(TakeScatter(0, flat_shape)), &[g, idx])?;
        let blocks: Vec<usize> = [n, d].into_iter().chain(rest.iter().copied()).collect();
        move_axis(&ops::reshape(&flat, &blocks)?, 1, axis + 1)
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

/// Whether what depends on the repeats among positions is computed by a
/// primitive (`Order::LastWriters`, `Order::HasRepeats`) rather than from
/// their values: positions a running trace computed (a jit plan finds the
/// repeats of each call's indices) or that `vmap` batches (each example's
/// repeats its own, by the primitives' batching rules).
fn positions_by_prim(pos: &Value) -> bool {
    crate::autodiff::trace::is_traced(pos) || crate::autodiff::trace::is_batched(pos)
}

/// Rejects the derivative of `.mul` in `v` when a position repeats (the
/// product of the others would be needed; JAX does not define it either).
/// The test of a running trace's positions is recorded and read as a guard
/// (one bool over every example).
fn check_unique_for_mul(x: &Value, pos: &Value) -> R<()> {
    let size = shape_of(x).iter().product::<usize>();
    let repeats = if positions_by_prim(pos) {
        let r = super::apply(
            &Prim::Order(super::Order::HasRepeats { size }),
            std::slice::from_ref(pos),
        )?;
        match crate::autodiff::trace::traced_examples(&r) {
            Some(whole) => {
                let count = ops::sum(&whole, None, false)?;
                match ops::binary(dp_tensor::BinaryOp::Gt, &count, &Value::Float(0.0))?.strip() {
                    Value::Bool(b) => *b,
                    other => as_tensor(other)?.item().is_some_and(|v| v != 0.0),
                }
            }
            None => as_tensor(r.strip())?.to_vec().iter().any(|&v| v != 0.0),
        }
    } else {
        te(Tensor::has_repeats(&*as_tensor(pos.strip())?, size))?
    };
    if repeats {
        return Err(crate::diagnostics::Diagnostic::new(
            crate::diagnostics::ErrorKind::Differentiation,
            "the derivative of `.at[...].mul(v)` in `v` needs distinct indices, but an element is selected more than once",
        )
        .with_help("multiply the repeated factors together first, or use `.set` with the product"));
    }
    Ok(())
}

/// The derivative coefficients of `y = x.at[pos].max(v)` (or `.min`), as
/// JAX's scatter_max/scatter_min: every value that ends up as the result of
/// its element (the element itself when it is kept, and each update equal to
/// the result) shares that element's derivative equally. Returns the
/// coefficient of each element of `x` and of each update. Written with
/// comparisons (derivative zero), so derivatives of the rule are the
/// coefficients times derivatives of the tangents, at any order.
fn extremal_coefs(x: &Value, pos: &Value, v: &Value, y: &Value) -> R<(Value, Value)> {
    use crate::ops::{add, binary, div, where_, zeros_like};
    use dp_tensor::BinaryOp::Eq;
    let one = Value::Float(1.0);
    let won = binary(Eq, v, &gather_flat(y, pos)?)?;
    let kept = binary(Eq, x, y)?;
    let winners = update(UpdateMode::Add, &zeros_like(x)?, pos, &won)?;
    let cx = where_(&kept, &div(&one, &add(&winners, &one)?)?, &Value::Float(0.0))?;
    let sharers = add(&gather_flat(&winners, pos)?, &gather_flat(&kept, pos)?)?;
    let cv = where_(&won, &div(&one, &sharers)?, &Value::Float(0.0))?;
    Ok((reshape_like(&cx, x)?, reshape_like(&cv, v)?))
}

impl Primitive for IndexUpdate {
    fn name(&self) -> String {
        format!("at.{}", self.0.name())
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (t, pos, v) = (as_tensor(&x[0])?, as_tensor(&x[1])?, as_tensor(&x[2])?);
        Ok(from_tensor(te(t.update_at(&pos, &v, self.0))?))
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
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
                        let winners = if positions_by_prim(pos) {
                            super::apply(
                                &Prim::Order(super::Order::LastWriters { size }),
                                std::slice::from_ref(pos),
                            )?
                        } else {
                            from_tensor(te(Tensor::last_writers(&*as_tensor(pos.strip())?, size))?)
                        };
                        crate::ops::mul(&gather_flat(g, pos)?, &winners)
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
            UpdateMode::Max | UpdateMode::Min => {
                let (cx, cv) = extremal_coefs(xv, pos, v, y)?;
                (
                    needs[0].then(|| crate::ops::mul(&cx, g)).transpose()?,
                    needs[2]
                        .then(|| crate::ops::mul(&cv, &gather_flat(g, pos)?))
                        .transpose()?,
                )
            }
        };
        Ok(vec![
            gx.map(|g| reshape_like(&g, xv)).transpose()?,
            None,
            gv.map(|g| reshape_like(&g, v)).transpose()?,
        ])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        let (xv, pos, v) = (&x[0], &x[1], &x[2]);
        let tx = tangent_or_zero(&t[0], xv)?;
        match self.0 {
            UpdateMode::Max | UpdateMode::Min => {
                let (cx, cv) = extremal_coefs(xv, pos, v, y)?;
                let tv = tangent_or_zero(&t[2], v)?;
                let zeros = crate::ops::zeros_like(xv)?;
                Ok(Some(crate::ops::add(
                    &crate::ops::mul(&cx, &tx)?,
                    &update(UpdateMode::Add, &zeros, pos, &crate::ops::mul(&cv, &tv)?)?,
                )?))
            }
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
    // Positions are flat row-major positions into one example, so example
    // `i`'s are those into the stacked `[n, ...]` tensor shifted by
    // `i * size`: one update of the whole batch, with `x` and `v` repeated
    // where they are shared.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let xb = to_batched(&x[0], batched[0], n)?;
        let size = example_shape(&xb, true).iter().product::<usize>();
        let q = example_shape(&x[1], batched[1]);
        let offsets: Vec<f64> = (0..n).map(|i| (i * size) as f64).collect();
        let mut oshape = vec![n];
        oshape.extend(std::iter::repeat_n(1, q.len()));
        let offsets = from_tensor(te(Tensor::from_vec(offsets, &oshape))?);
        // `ops::add` broadcasts shared positions `[q...]` to `[n, q...]`.
        let pos = ops::add(&x[1], &offsets)?;
        let v = to_batched(&x[2], batched[2], n)?;
        update(self.0, &xb, &pos, &v)
    }
}
