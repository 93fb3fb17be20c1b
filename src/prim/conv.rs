//! Convolution and pooling primitives: `Conv` (a 2-d convolution or one of
//! its two adjoints) and `Pool` (max and average pooling and their adjoints).
//!
//! A convolution `y = conv(x, w)` is bilinear, and so are its adjoints
//! `input_grad(g, w)` (the transposed convolution) and `weight_grad(x, g)`.
//! The VJP of each of the three is written with the other two, and the JVP
//! of each is the sum of the primitive applied to one tangent at a time, so
//! every rule is again made of these primitives: derivatives of any order
//! close over the family (as JAX's `conv_general_dilated` transpose rules
//! do). 1-d convolutions are 2-d ones of height 1 (the builtins reshape).
//!
//! Max pooling's adjoints take the pooled input itself as a second,
//! non-differentiated argument and route through its argmax: `max_scatter(g,
//! x)` (the VJP) and `max_gather(v, x)` (the JVP) are linear in their first
//! argument and each other's transposes. Average pooling is linear.

use super::batching::{to_batched, with_no_examples};
use super::rule_util::sum_terms;
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops;
use crate::ops::shape_of;
use crate::value::Value;
use dp_tensor::{ConvSpec, PoolSpec, Tensor};
use std::rc::Rc;

/// Which map of the convolution family a [`Conv`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvRole {
    /// `conv(x, w)`: arguments `(x, w)`.
    Forward,
    /// `input_grad(g, w)`, the transposed convolution: arguments `(g, w)`,
    /// result shaped like the input (`Conv::shape`).
    InputGrad,
    /// `weight_grad(x, g)`: arguments `(x, g)`, result shaped like the
    /// weights (`Conv::shape`).
    WeightGrad,
}

/// A 2-d convolution (NCHW input, OIHW weights) or one of its adjoints.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// Which map.
    pub role: ConvRole,
    /// Stride, padding, dilation, groups.
    pub spec: ConvSpec,
    /// The result shape of an adjoint (unused, empty, for `Forward`).
    pub shape: Rc<[usize]>,
}

/// `conv(x, w)`, differentiable.
pub fn conv2d(x: &Value, w: &Value, spec: &ConvSpec) -> R<Value> {
    conv(ConvRole::Forward, spec, Rc::from(vec![]), x, w)
}

fn conv(role: ConvRole, spec: &ConvSpec, shape: Rc<[usize]>, a: &Value, b: &Value) -> R<Value> {
    let p = Prim::Conv(Conv {
        role,
        spec: *spec,
        shape,
    });
    super::apply(&p, &[a.clone(), b.clone()])
}

impl Conv {
    fn input_grad(&self, g: &Value, w: &Value, x_shape: Vec<usize>) -> R<Value> {
        conv(ConvRole::InputGrad, &self.spec, x_shape.into(), g, w)
    }
    fn weight_grad(&self, x: &Value, g: &Value, w_shape: Vec<usize>) -> R<Value> {
        conv(ConvRole::WeightGrad, &self.spec, w_shape.into(), x, g)
    }
    fn forward_of(&self, x: &Value, w: &Value) -> R<Value> {
        conv2d(x, w, &self.spec)
    }
    /// The same map applied to other arguments (for the JVP of a bilinear map).
    fn again(&self, a: &Value, b: &Value) -> R<Value> {
        super::apply(&Prim::Conv(self.clone()), &[a.clone(), b.clone()])
    }
}

impl Primitive for Conv {
    fn name(&self) -> String {
        match self.role {
            ConvRole::Forward => "conv",
            ConvRole::InputGrad => "conv_input_grad",
            ConvRole::WeightGrad => "conv_weight_grad",
        }
        .into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let (a, b) = (as_tensor(&x[0])?, as_tensor(&x[1])?);
        Ok(from_tensor(te(match self.role {
            ConvRole::Forward => a.conv2d(&b, &self.spec),
            ConvRole::InputGrad => Tensor::conv2d_input_grad(&a, &b, &self.shape, &self.spec),
            ConvRole::WeightGrad => Tensor::conv2d_weight_grad(&a, &b, &self.shape, &self.spec),
        })?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, c: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (a, b) = (&x[0], &x[1]);
        let (da, db) = match self.role {
            // y = conv(x, w): x̄ = input_grad(ȳ, w), w̄ = weight_grad(x, ȳ).
            ConvRole::Forward => (
                needs[0].then(|| self.input_grad(c, b, shape_of(a))),
                needs[1].then(|| self.weight_grad(a, c, shape_of(b))),
            ),
            // y = input_grad(g, w) = Aᵂᵀ g: ḡ = conv(ȳ, w), w̄ = weight_grad(ȳ, g).
            ConvRole::InputGrad => (
                needs[0].then(|| self.forward_of(c, b)),
                needs[1].then(|| self.weight_grad(c, a, shape_of(b))),
            ),
            // <ȳ, weight_grad(x, g)> = <conv(x, ȳ), g>: x̄ = input_grad(g, ȳ), ḡ = conv(x, ȳ).
            ConvRole::WeightGrad => (
                needs[0].then(|| self.input_grad(b, c, shape_of(a))),
                needs[1].then(|| self.forward_of(a, c)),
            ),
        };
        Ok(vec![da.transpose()?, db.transpose()?])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        // Bilinear: one term per tangent, the other argument held fixed.
        let ta = t[0].as_ref().map(|ta| self.again(ta, &x[1])).transpose()?;
        let tb = t[1].as_ref().map(|tb| self.again(&x[0], tb)).transpose()?;
        sum_terms(vec![ta, tb])
    }
    // Only the image-like argument batched (x of `Forward`, g of
    // `InputGrad`): the examples fold into N. Otherwise every example gets
    // its own channel groups: both arguments fold their batch axis into the
    // channel axis and the convolution runs with `n * groups` groups, which
    // keeps example `i`'s channels apart from example `j`'s.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        if n == 0 {
            // `n * groups` would be 0 groups, and the result's example shape
            // cannot be read back from a result of no elements.
            return with_no_examples(x, batched, |x| self.batch(x, batched, 1));
        }
        let into_n = matches!(self.role, ConvRole::Forward | ConvRole::InputGrad) && !batched[1];
        if into_n {
            let a = fold_leading(&x[0])?;
            let shape = match self.role {
                ConvRole::InputGrad => fold_shape(n, &self.shape)?,
                _ => self.shape.clone(),
            };
            let y = conv(self.role, &self.spec, shape, &a, &x[1])?;
            return unfold_leading(&y, n);
        }
        let (a, b) = (to_batched(&x[0], batched[0], n)?, to_batched(&x[1], batched[1], n)?);
        let spec = ConvSpec {
            groups: self.spec.groups * n,
            ..self.spec
        };
        match self.role {
            ConvRole::Forward | ConvRole::InputGrad => {
                let shape = match self.role {
                    ConvRole::InputGrad => channel_shape(n, &self.shape)?,
                    _ => self.shape.clone(),
                };
                let y = conv(self.role, &spec, shape, &into_channels(&a)?, &fold_leading(&b)?)?;
                from_channels(&y, n)
            }
            ConvRole::WeightGrad => {
                // The result [n * O, C/g, kh, kw] is already example-major.
                let shape = fold_shape(n, &self.shape)?;
                let y = conv(self.role, &spec, shape, &into_channels(&a)?, &into_channels(&b)?)?;
                let mut s = vec![n];
                s.extend(self.shape.iter().copied());
                ops::reshape(&y, &s)
            }
        }
    }
}

/// A shape error for a batching rule handed an argument of the wrong rank.
fn rank_error(what: &str, shape: &[usize]) -> crate::diagnostics::Diagnostic {
    super::tensor_error(dp_tensor::TensorError::Invalid(format!(
        "{what}: expected a batched 4-d argument, got shape {}",
        dp_tensor::format_shape(shape)
    )))
}

/// `[n, a, rest...]` reshaped to `[n * a, rest...]` (the batch folded into the leading axis).
fn fold_leading(x: &Value) -> R<Value> {
    let s = shape_of(x);
    if s.len() < 2 {
        return Err(rank_error("batching", &s));
    }
    let mut t = vec![s[0] * s[1]];
    t.extend_from_slice(&s[2..]);
    ops::reshape(x, &t)
}

/// `[n * a, rest...]` reshaped back to `[n, a, rest...]`.
fn unfold_leading(y: &Value, n: usize) -> R<Value> {
    let s = shape_of(y);
    match s.first() {
        Some(&lead) if n > 0 && lead.is_multiple_of(n) => {
            let mut t = vec![n, lead / n];
            t.extend_from_slice(&s[1..]);
            ops::reshape(y, &t)
        }
        _ => Err(rank_error("batching", &s)),
    }
}

/// An example shape `[a, rest...]` with its leading axis multiplied by `n`.
fn fold_shape(n: usize, shape: &[usize]) -> R<Rc<[usize]>> {
    let (first, rest) = shape.split_first().ok_or_else(|| rank_error("batching", shape))?;
    Ok(std::iter::once(n * first).chain(rest.iter().copied()).collect())
}

/// An example shape `[N, C, rest...]` with its channel axis multiplied by `n`.
fn channel_shape(n: usize, shape: &[usize]) -> R<Rc<[usize]>> {
    if shape.len() < 2 {
        return Err(rank_error("batching", shape));
    }
    let mut s = shape.to_vec();
    s[1] *= n;
    Ok(s.into())
}

/// `[n, N, C, H, W]` made `[N, n * C, H, W]`: example `i`'s channels become
/// the block `i * C .. (i + 1) * C`, matching weights folded example-major.
fn into_channels(x: &Value) -> R<Value> {
    let s = shape_of(x);
    if s.len() != 5 {
        return Err(rank_error("conv batching", &s));
    }
    let moved = ops::transpose(x, &[1, 0, 2, 3, 4])?;
    ops::reshape(&moved, &[s[1], s[0] * s[2], s[3], s[4]])
}

/// The inverse of [`into_channels`] for a result `[N, n * O, H, W]`: `[n, N, O, H, W]`.
fn from_channels(y: &Value, n: usize) -> R<Value> {
    let s = shape_of(y);
    if s.len() != 4 || n == 0 || !s[1].is_multiple_of(n) {
        return Err(rank_error("conv batching", &s));
    }
    let split = ops::reshape(y, &[s[0], n, s[1] / n, s[2], s[3]])?;
    ops::transpose(&split, &[1, 0, 2, 3, 4])
}

/// Which map of the pooling family a [`Pool`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolRole {
    /// `max_pool(x)`.
    Max,
    /// `max_gather(v, x)`: `v` read at the argmax of each window of `x`.
    MaxGather,
    /// `max_scatter(g, x)`: `g` added at the argmax of each window of `x`.
    MaxScatter,
    /// `avg_pool(x)`.
    Avg,
    /// The adjoint of `Avg`: `g` spread over each window, shaped `Pool::shape`.
    AvgSpread,
}

/// A 2-d pooling (NCHW) or one of its adjoints.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// Which map.
    pub role: PoolRole,
    /// Window size, stride, padding.
    pub spec: PoolSpec,
    /// The input shape, for `AvgSpread` (empty otherwise).
    pub shape: Rc<[usize]>,
}

/// `max_pool(x)` (`max = true`) or `avg_pool(x)`, differentiable.
pub fn pool2d(x: &Value, spec: &PoolSpec, max: bool) -> R<Value> {
    let role = if max { PoolRole::Max } else { PoolRole::Avg };
    pool(role, spec, Rc::from(vec![]), std::slice::from_ref(x))
}

fn pool(role: PoolRole, spec: &PoolSpec, shape: Rc<[usize]>, args: &[Value]) -> R<Value> {
    super::apply(
        &Prim::Pool(Pool {
            role,
            spec: *spec,
            shape,
        }),
        args,
    )
}

impl Pool {
    fn with(&self, role: PoolRole, args: &[Value]) -> R<Value> {
        pool(role, &self.spec, Rc::from(vec![]), args)
    }
    fn spread(&self, g: &Value, shape: Vec<usize>) -> R<Value> {
        pool(PoolRole::AvgSpread, &self.spec, shape.into(), std::slice::from_ref(g))
    }
}

impl Primitive for Pool {
    fn name(&self) -> String {
        match self.role {
            PoolRole::Max => "max_pool",
            PoolRole::MaxGather => "max_pool_gather",
            PoolRole::MaxScatter => "max_pool_scatter",
            PoolRole::Avg => "avg_pool",
            PoolRole::AvgSpread => "avg_pool_spread",
        }
        .into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let a = as_tensor(&x[0])?;
        let s = &self.spec;
        Ok(from_tensor(te(match self.role {
            PoolRole::Max => a.max_pool2d(s),
            PoolRole::MaxGather => a.max_pool2d_gather(&*as_tensor(&x[1])?, s),
            PoolRole::MaxScatter => Tensor::max_pool2d_scatter(&a, &*as_tensor(&x[1])?, s),
            PoolRole::Avg => a.avg_pool2d(s),
            PoolRole::AvgSpread => Tensor::avg_pool2d_backward(&a, &self.shape, s),
        })?))
    }
    fn vjp(&self, x: &[Value], _y: &Value, c: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(match self.role {
            PoolRole::Max => vec![Some(self.with(PoolRole::MaxScatter, &[c.clone(), x[0].clone()])?)],
            // Linear in the first argument; the argmax (second) is piecewise
            // constant in x, so its derivative is zero.
            PoolRole::MaxGather => vec![Some(self.with(PoolRole::MaxScatter, &[c.clone(), x[1].clone()])?), None],
            PoolRole::MaxScatter => vec![Some(self.with(PoolRole::MaxGather, &[c.clone(), x[1].clone()])?), None],
            PoolRole::Avg => vec![Some(self.spread(c, shape_of(&x[0]))?)],
            PoolRole::AvgSpread => vec![Some(self.with(PoolRole::Avg, std::slice::from_ref(c))?)],
        })
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        let Some(t0) = &t[0] else {
            // Only the argmax argument moved: zero tangent (see `vjp`).
            return Ok(None);
        };
        Ok(Some(match self.role {
            PoolRole::Max => self.with(PoolRole::MaxGather, &[t0.clone(), x[0].clone()])?,
            PoolRole::MaxGather | PoolRole::MaxScatter => {
                super::apply(&Prim::Pool(self.clone()), &[t0.clone(), x[1].clone()])?
            }
            PoolRole::Avg | PoolRole::AvgSpread => super::apply(&Prim::Pool(self.clone()), std::slice::from_ref(t0))?,
        }))
    }
    // Pooling works plane by plane: every argument folds its batch axis into N.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        if n == 0 {
            // The result's example shape cannot be read back from a result of
            // no elements (see `unfold_leading`).
            return with_no_examples(x, batched, |x| self.batch(x, batched, 1));
        }
        let args: Vec<Value> = x
            .iter()
            .zip(batched)
            .map(|(v, b)| fold_leading(&to_batched(v, *b, n)?))
            .collect::<R<_>>()?;
        let shape = if self.role == PoolRole::AvgSpread {
            fold_shape(n, &self.shape)?
        } else {
            self.shape.clone()
        };
        let y = pool(self.role, &self.spec, shape, &args)?;
        unfold_leading(&y, n)
    }
}
