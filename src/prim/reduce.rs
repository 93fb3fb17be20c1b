//! Reductions: `Reduce` (`sum`, `prod`, `max`, `min` over some axes).

use super::rule_util::{f, tangent_or_zero};
use super::{as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::ops::{self, div, mul, shape_of, unbroadcast};
use crate::value::Value;
use dp_tensor::{BinaryOp, ReduceOp, SliceSpec, Tensor, UnaryOp};
use std::rc::Rc;

/// A reduction over `axes` (`None`: all axes), keeping the reduced axes as
/// size 1 when `keepdims`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reduce {
    /// Which reduction.
    pub op: ReduceOp,
    /// The reduced axes (`None`: all).
    pub axes: Option<Rc<[usize]>>,
    /// Whether reduced axes stay as size 1.
    pub keepdims: bool,
}

impl Reduce {
    /// A reduction as a primitive.
    pub fn prim(op: ReduceOp, axes: Option<Rc<[usize]>>, keepdims: bool) -> Prim {
        Prim::Reduce(Reduce { op, axes, keepdims })
    }
}

/// Re-inserts reduced axes (as size 1) so `g` broadcasts against the input.
fn keep_reduced_dims(g: &Value, input_shape: &[usize], axes: &Option<Rc<[usize]>>, keepdims: bool) -> R<Value> {
    if keepdims {
        return Ok(g.clone());
    }
    let kept: Vec<usize> = match axes {
        None => vec![1; input_shape.len()],
        Some(ax) => input_shape
            .iter()
            .enumerate()
            .map(|(i, &d)| if ax.contains(&i) { 1 } else { d })
            .collect(),
    };
    ops::reshape(g, &kept)
}

/// `∂ prod(x) / ∂ x_i`, shaped like `x`: the product of the other elements of
/// `x_i`'s group. That is `y / x_i` where the quotient is exact enough: no
/// element is zero or infinite and `y` is a normal float. Elsewhere (a zero
/// element, an infinite one, a product that overflowed or underflowed) it is
/// formed as the exclusive products from the left times those from the right,
/// as JAX does: `grad(prod)([2, 0, 3]) == [0, 6, 0]`, `grad(prod)([1e300,
/// 1e300, 1e-300]) == [1, 1, inf]` (the quotient gave `[inf, inf, inf]`),
/// `grad(prod)([2, inf]) == [inf, 2]`. Both forms use the ops users call, so
/// they are differentiable at every order. Forward mode multiplies each
/// tangent by its partial, so a zero tangent meets an infinite partial of an
/// overflowed product as nan: `jacfwd(prod)([1e300, 1e300, 1e-300])` is
/// `[nan, nan, inf]` where `jacrev` (and JAX's tree-reduction JVP) give
/// `[1, 1, inf]`.
fn prod_partials(x: &Value, y: &Value, axes: &Option<Rc<[usize]>>, keepdims: bool) -> R<Value> {
    let shape = shape_of(x);
    if shape.is_empty() {
        return Ok(f(1.0));
    }
    if !quotient_unsafe(x, y)? {
        return div(&keep_reduced_dims(y, &shape, axes, keepdims)?, x);
    }
    let nd = shape.len();
    let red: Vec<usize> = match axes {
        None => (0..nd).collect(),
        Some(a) => a.to_vec(),
    };
    // Move the reduced axes last and flatten them into one axis of length n.
    let perm: Vec<usize> = (0..nd)
        .filter(|i| !red.contains(i))
        .chain(red.iter().copied())
        .collect();
    let rest: usize = perm[..nd - red.len()].iter().map(|&i| shape[i]).product();
    let n: usize = red.iter().map(|&i| shape[i]).product();
    let xt = ops::reshape(&ops::transpose(x, &perm)?, &[rest, n])?;
    let reversed = |v: &Value| super::apply(&columns(None, None, -1), std::slice::from_ref(v));
    let left = exclusive_cumprod(&xt, rest, n)?;
    let right = reversed(&exclusive_cumprod(&reversed(&xt)?, rest, n)?)?;
    let others = mul(&left, &right)?;
    let permuted: Vec<usize> = perm.iter().map(|&i| shape[i]).collect();
    let mut inv = vec![0; nd];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    ops::transpose(&ops::reshape(&others, &permuted)?, &inv)
}

/// Whether `y / x_i` may differ from the product of the other elements by
/// more than a rounding: some `x_i` is zero or not finite, or some `y` is
/// zero, subnormal, infinite or nan. For a value a running trace computed
/// (every example's at once inside `vmap`, as plain code reads them) the test
/// is recorded and read, so it is a guard: a jit plan holds while the answer
/// stays the same instead of reading every element.
fn quotient_unsafe(x: &Value, y: &Value) -> R<bool> {
    let Some(wx) = crate::autodiff::trace::traced_examples(x) else {
        let bad_x = as_tensor(x.strip())?
            .to_vec()
            .iter()
            .any(|v| *v == 0.0 || !v.is_finite());
        return Ok(bad_x || as_tensor(y.strip())?.to_vec().iter().any(|v| !v.is_normal()));
    };
    let wy = crate::autodiff::trace::traced_examples(y).unwrap_or_else(|| y.clone());
    let count = |v: Value| ops::sum(&v, None, false);
    let not_finite = |v: &Value| ops::where_(&ops::unary(UnaryOp::IsFinite, v)?, &f(0.0), &f(1.0));
    let zero_x = count(ops::binary(BinaryOp::Eq, &wx, &f(0.0))?)?;
    let tiny_y = count(ops::binary(
        BinaryOp::Lt,
        &ops::unary(UnaryOp::Abs, &wy)?,
        &f(f64::MIN_POSITIVE),
    )?)?;
    let bad = ops::add(
        &ops::add(&zero_x, &count(not_finite(&wx)?)?)?,
        &ops::add(&tiny_y, &count(not_finite(&wy)?)?)?,
    )?;
    Ok(match ops::binary(BinaryOp::Gt, &bad, &f(0.0))?.strip() {
        Value::Bool(b) => *b,
        // Inside a rule the test is a float mask, outside it a bool.
        other => as_tensor(other)?.item().is_some_and(|v| v != 0.0),
    })
}

/// `x[:, start:stop:step]` of a 2-d value, as a primitive.
fn columns(start: Option<i64>, stop: Option<i64>, step: i64) -> Prim {
    let all = SliceSpec::Range {
        start: None,
        stop: None,
        step: 1,
    };
    Prim::Slice(super::indexing::Slice(Rc::from([
        all,
        SliceSpec::Range { start, stop, step },
    ])))
}

/// The exclusive running products along the last axis of a `[rest, n]`
/// value: column `i` is the product of columns `0..i` (1 for column 0). The
/// input shifted right by one column, then `log2(n)` steps of multiplying
/// with a copy shifted by 1, 2, 4, ... columns (Hillis-Steele), so a few
/// primitives whatever `n`, each differentiable.
fn exclusive_cumprod(x: &Value, rest: usize, n: usize) -> R<Value> {
    if n == 0 {
        return Ok(x.clone());
    }
    let ones = |k: usize| -> R<Value> { Ok(from_tensor(te(Tensor::full(&[rest, k], 1.0))?)) };
    let shifted = |v: &Value, d: usize| -> R<Value> {
        let kept = super::apply(&columns(None, Some((n - d) as i64), 1), std::slice::from_ref(v))?;
        super::apply(&Prim::Concat(super::shape::Concat(1)), &[ones(d)?, kept])
    };
    let mut s = shifted(x, 1)?;
    let mut d = 1;
    while d < n {
        s = mul(&s, &shifted(&s, d)?)?;
        d *= 2;
    }
    Ok(s)
}

/// The share of the result each element of `x` gets for `max`/`min`: 1 over
/// the number of elements that attain it, 0 elsewhere (ties split equally).
fn extremum_shares(x: &Value, y: &Value, axes: &Option<Rc<[usize]>>, keepdims: bool) -> R<Value> {
    let yk = keep_reduced_dims(y, &shape_of(x), axes, keepdims)?;
    let mask = ops::binary(BinaryOp::Eq, x, &yk)?;
    let count = ops::sum(&mask, axes.clone(), true)?;
    div(&mask, &count)
}

impl Primitive for Reduce {
    fn name(&self) -> String {
        self.op.name().into()
    }
    fn params(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(axes) = &self.axes {
            p.push(match &axes[..] {
                [a] => format!("axis={a}"),
                _ => format!("axis={}", dp_tensor::format_shape(axes)),
            });
        }
        if self.keepdims {
            p.push("keepdims=true".into());
        }
        p
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        if let (Value::Float(v), false) = (&x[0], self.keepdims) {
            if self.axes.as_ref().is_none_or(|a| a.is_empty()) {
                return Ok(Value::Float(*v));
            }
        }
        let t = as_tensor(&x[0])?;
        Ok(match &self.axes {
            None if !self.keepdims => Value::Float(te(t.reduce_all(self.op))?),
            None => {
                let all: Vec<usize> = (0..t.ndim()).collect();
                from_tensor(te(t.reduce(self.op, &all, true))?)
            }
            Some(ax) => from_tensor(te(t.reduce(self.op, ax, self.keepdims))?),
        })
    }
    fn vjp(&self, x: &[Value], y: &Value, g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        let (axes, keepdims) = (&self.axes, self.keepdims);
        let shape = shape_of(&x[0]);
        let gk = keep_reduced_dims(g, &shape, axes, keepdims)?;
        let gx = match self.op {
            ReduceOp::Sum => ops::broadcast_to(&gk, &shape)?,
            ReduceOp::Max | ReduceOp::Min => mul(&gk, &extremum_shares(&x[0], y, axes, keepdims)?)?,
            ReduceOp::Prod => mul(&gk, &prod_partials(&x[0], y, axes, keepdims)?)?,
        };
        Ok(vec![Some(unbroadcast(&ops::broadcast_to(&gx, &shape)?, &x[0])?)])
    }
    fn jvp(&self, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
        let (axes, keepdims) = (&self.axes, self.keepdims);
        let tx = tangent_or_zero(&t[0], &x[0])?;
        Ok(Some(match self.op {
            ReduceOp::Sum => super::apply(&Prim::Reduce(self.clone()), &[tx])?,
            ReduceOp::Max | ReduceOp::Min => ops::sum(
                &mul(&tx, &extremum_shares(&x[0], y, axes, keepdims)?)?,
                axes.clone(),
                keepdims,
            )?,
            ReduceOp::Prod => ops::sum(
                &mul(&tx, &prod_partials(&x[0], y, axes, keepdims)?)?,
                axes.clone(),
                keepdims,
            )?,
        }))
    }
    // The reduced axes move one place right, past the batch axis.
    fn batch(&self, x: &[Value], _batched: &[bool], _n: usize) -> R<Value> {
        let k = super::batching::example_shape(&x[0], true).len();
        let axes: Rc<[usize]> = match &self.axes {
            None => (1..=k).collect(),
            Some(a) => a.iter().map(|&i| i + 1).collect(),
        };
        if axes.is_empty() {
            // Reducing over no axis (a batched scalar) leaves each example as it is.
            return Ok(x[0].clone());
        }
        super::apply(&Reduce::prim(self.op, Some(axes), self.keepdims), x)
    }
}
