//! One reverse-mode (VJP) and one forward-mode (JVP) rule per primitive, side
//! by side. Rules are written with the same primitives users call (through
//! `crate::ops`), so when an outer differentiation is active the rules'
//! own computations are recorded and can be differentiated again.
//!
//! Conventions at non-smooth points follow JAX (docs/language.md §8.4): `relu'(0) = 0`,
//! `abs'(0) = 1`, `maximum`/`minimum`/`max`/`min` split ties equally,
//! `sqrt'(0) = inf`, `d(a ** b)/db = 0` at `a = 0`, a float power's
//! `d(a ** b)/da = b * a ** (b - 1)` with no special case (so nan at `a = 0`
//! where `b - 1 < 0`), an int power's exact at every order, `prod` exact
//! through zeros, and ops without a derivative (`sign`, `floor`, `round`,
//! comparisons) have zero derivative.

use crate::diagnostics::Diagnostic;
use crate::ops::{self, add, apply, div, mul, neg, scale, shape_of, sub, unbroadcast, Prim};
use crate::value::Value;
use dp_tensor::{BinaryOp, ReduceOp, SliceSpec, UnaryOp};
use std::rc::Rc;

type R<T> = Result<T, Diagnostic>;

/// Whether a primitive has zero derivative everywhere (it is then never recorded).
pub fn is_nondifferentiable(prim: &Prim) -> bool {
    match prim {
        Prim::Unary(op) => matches!(op, UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Round | UnaryOp::IsNan),
        Prim::Binary(op) => matches!(
            op,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        ),
        _ => false,
    }
}

fn f(x: f64) -> Value {
    Value::Float(x)
}

fn un(op: UnaryOp, x: &Value) -> R<Value> {
    ops::unary(op, x)
}

fn bin(op: BinaryOp, a: &Value, b: &Value) -> R<Value> {
    ops::binary(op, a, b)
}

/// The local derivative of a unary op at `x` with output `y`, as a value to multiply by.
fn unary_derivative(op: UnaryOp, x: &Value, y: &Value) -> R<Option<Value>> {
    use UnaryOp::*;
    Ok(Some(match op {
        Neg => f(-1.0),
        Exp => y.clone(),
        Log => un(Recip, x)?,
        Log1p => un(Recip, &add(x, &f(1.0))?)?,
        Expm1 => add(y, &f(1.0))?,
        Sqrt => div(&f(0.5), y)?,
        // abs'(0) = 1: the derivative is +1 where x >= 0 and -1 elsewhere.
        Abs => sub(&scale(&bin(BinaryOp::Ge, x, &f(0.0))?, 2.0)?, &f(1.0))?,
        Sin => un(Cos, x)?,
        Cos => neg(&un(Sin, x)?)?,
        Tan => add(&f(1.0), &mul(y, y)?)?,
        Tanh => sub(&f(1.0), &mul(y, y)?)?,
        Sigmoid => mul(y, &sub(&f(1.0), y)?)?,
        // relu'(0) = 0.
        Relu => bin(BinaryOp::Gt, x, &f(0.0))?,
        Softplus => un(Sigmoid, x)?,
        Recip => neg(&mul(y, y)?)?,
        Square => scale(x, 2.0)?,
        Sign | Floor | Round | IsNan => return Ok(None),
    }))
}

/// Masks for `maximum`/`minimum`: where each operand wins, ties split equally.
fn select_masks(op: BinaryOp, a: &Value, b: &Value) -> R<(Value, Value)> {
    let (wins_a, wins_b) = if op == BinaryOp::Maximum {
        (BinaryOp::Gt, BinaryOp::Lt)
    } else {
        (BinaryOp::Lt, BinaryOp::Gt)
    };
    let tie = scale(&bin(BinaryOp::Eq, a, b)?, 0.5)?;
    Ok((add(&bin(wins_a, a, b)?, &tie)?, add(&bin(wins_b, a, b)?, &tie)?))
}

/// `d(a ** b)/da = b * a ** (b - 1)` for a float exponent, with no special
/// case at `b == 0`: JAX's rule, so `a ** 0.0` has derivative `0 * 0 ** -1 =
/// nan` at `a = 0` (an int exponent is [`Prim::IntPow`], exact there).
fn pow_da(a: &Value, b: &Value) -> R<Value> {
    if let Value::Float(e) = b {
        return scale(&bin(BinaryOp::Pow, a, &f(e - 1.0))?, *e);
    }
    mul(b, &bin(BinaryOp::Pow, a, &sub(b, &f(1.0))?)?)
}

/// `d(x ** n)/dx = n * x ** (n - 1)` for an int exponent (`None`: zero, for `n == 0`).
fn int_pow_derivative(n: i32, x: &Value) -> R<Option<Value>> {
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(scale(
        &apply(&Prim::IntPow(n - 1), std::slice::from_ref(x))?,
        f64::from(n),
    )?))
}

/// `d(a ** b)/db = a ** b * log(a)`, with `log(0)` taken as 0 (as JAX does).
fn pow_db(a: &Value, y: &Value) -> R<Value> {
    let is_zero = bin(BinaryOp::Eq, a, &f(0.0))?;
    let safe = ops::where_(&is_zero, &f(1.0), a)?;
    mul(y, &un(UnaryOp::Log, &safe)?)
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
/// `x_i`'s group. Without zeros that is `y / x_i`; where `x` has a zero the
/// exclusive products are formed explicitly (each group repeated with one
/// element replaced by 1), which is exact at every order, as JAX is
/// (`grad(prod)([2, 0, 3]) == [0, 6, 0]`, not `nan`).
fn prod_partials(x: &Value, y: &Value, axes: &Option<Rc<[usize]>>, keepdims: bool) -> R<Value> {
    let shape = shape_of(x);
    if shape.is_empty() {
        return Ok(f(1.0));
    }
    let has_zero = ops::as_tensor(x.strip())?.to_vec().contains(&0.0);
    if !has_zero {
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
    let xt = ops::reshape(&ops::transpose(x, &perm)?, &[rest, 1, n])?;
    let eye = Value::Tensor(std::rc::Rc::new(dp_tensor::Tensor::eye(n).map_err(ops::tensor_error)?));
    // Row i of each group: the group with its i-th element replaced by 1.
    let rows = ops::where_(&eye, &f(1.0), &xt)?;
    let others = apply(&Prim::Reduce(ReduceOp::Prod, Some(Rc::from([2usize])), false), &[rows])?;
    let permuted: Vec<usize> = perm.iter().map(|&i| shape[i]).collect();
    let mut inv = vec![0; nd];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    ops::transpose(&ops::reshape(&others, &permuted)?, &inv)
}

fn swap_last_two(x: &Value) -> R<Value> {
    let n = shape_of(x).len();
    let mut perm: Vec<usize> = (0..n).collect();
    perm.swap(n - 2, n - 1);
    ops::transpose(x, &perm)
}

/// Adjoints of NumPy matmul for `a @ b` with cotangent `g`.
fn matmul_vjp(a: &Value, b: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
    let (sa, sb) = (shape_of(a), shape_of(b));
    // Promote 1-d operands to matrices, as NumPy does, and work with 2-d+ shapes.
    let a2 = if sa.len() == 1 {
        ops::reshape(a, &[1, sa[0]])?
    } else {
        a.clone()
    };
    let b2 = if sb.len() == 1 {
        ops::reshape(b, &[sb[0], 1])?
    } else {
        b.clone()
    };
    let out2 = {
        let (sa2, sb2) = (shape_of(&a2), shape_of(&b2));
        let batch = dp_tensor::broadcast_shapes(&sa2[..sa2.len() - 2], &sb2[..sb2.len() - 2]).unwrap_or_default();
        let mut s = batch;
        s.push(sa2[sa2.len() - 2]);
        s.push(sb2[sb2.len() - 1]);
        s
    };
    let g2 = ops::reshape(g, &out2)?;
    let mut res = vec![None, None];
    if needs[0] {
        let ga = apply(&Prim::MatMul, &[g2.clone(), swap_last_two(&b2)?])?;
        let ga = unbroadcast(&ga, &a2)?;
        res[0] = Some(ops::reshape(&ga, &sa)?);
    }
    if needs[1] {
        let gb = apply(&Prim::MatMul, &[swap_last_two(&a2)?, g2])?;
        let gb = unbroadcast(&gb, &b2)?;
        res[1] = Some(ops::reshape(&gb, &sb)?);
    }
    Ok(res)
}

/// The VJP rule: given the inputs, the output and the output's cotangent `g`,
/// the cotangent of each input (`None` where not needed or zero).
pub fn vjp(prim: &Prim, x: &[Value], y: &Value, g: &Value, needs: &[bool]) -> R<Vec<Option<Value>>> {
    Ok(match prim {
        Prim::Leaf => vec![],
        Prim::Unary(op) => vec![match unary_derivative(*op, &x[0], y)? {
            Some(d) => Some(unbroadcast(&mul(g, &d)?, &x[0])?),
            None => None,
        }],
        Prim::Binary(op) => {
            let (a, b) = (&x[0], &x[1]);
            let (ga, gb): (Option<Value>, Option<Value>) = match op {
                BinaryOp::Add => (Some(g.clone()), Some(g.clone())),
                BinaryOp::Sub => (Some(g.clone()), if needs[1] { Some(neg(g)?) } else { None }),
                BinaryOp::Mul => (
                    if needs[0] { Some(mul(g, b)?) } else { None },
                    if needs[1] { Some(mul(g, a)?) } else { None },
                ),
                BinaryOp::Div => (
                    if needs[0] { Some(div(g, b)?) } else { None },
                    if needs[1] {
                        Some(neg(&div(&mul(g, y)?, b)?)?)
                    } else {
                        None
                    },
                ),
                BinaryOp::Pow => (
                    if needs[0] { Some(mul(g, &pow_da(a, b)?)?) } else { None },
                    if needs[1] { Some(mul(g, &pow_db(a, y)?)?) } else { None },
                ),
                BinaryOp::Maximum | BinaryOp::Minimum => {
                    let (ma, mb) = select_masks(*op, a, b)?;
                    (Some(mul(g, &ma)?), Some(mul(g, &mb)?))
                }
                _ => (None, None),
            };
            vec![
                match ga {
                    Some(v) if needs[0] => Some(unbroadcast(&v, a)?),
                    _ => None,
                },
                match gb {
                    Some(v) if needs[1] => Some(unbroadcast(&v, b)?),
                    _ => None,
                },
            ]
        }
        Prim::IntPow(n) => vec![match int_pow_derivative(*n, &x[0])? {
            Some(d) => Some(mul(g, &d)?),
            None => None,
        }],
        Prim::Where => {
            let c = &x[0];
            let zero = f(0.0);
            vec![
                None,
                if needs[1] {
                    Some(unbroadcast(&ops::where_(c, g, &zero)?, &x[1])?)
                } else {
                    None
                },
                if needs[2] {
                    Some(unbroadcast(&ops::where_(c, &zero, g)?, &x[2])?)
                } else {
                    None
                },
            ]
        }
        Prim::Reduce(op, axes, keepdims) => {
            let shape = shape_of(&x[0]);
            let gk = keep_reduced_dims(g, &shape, axes, *keepdims)?;
            let gx = match op {
                ReduceOp::Sum => ops::broadcast_to(&gk, &shape)?,
                ReduceOp::Max | ReduceOp::Min => {
                    let yk = keep_reduced_dims(y, &shape, axes, *keepdims)?;
                    let mask = bin(BinaryOp::Eq, &x[0], &yk)?;
                    let count = ops::sum(&mask, axes.clone(), true)?;
                    mul(&gk, &div(&mask, &count)?)?
                }
                ReduceOp::Prod => mul(&gk, &prod_partials(&x[0], y, axes, *keepdims)?)?,
            };
            vec![Some(unbroadcast(&ops::broadcast_to(&gx, &shape)?, &x[0])?)]
        }
        Prim::MatMul => matmul_vjp(&x[0], &x[1], g, needs)?,
        Prim::Transpose(perm) => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            vec![Some(ops::transpose(g, &inv)?)]
        }
        Prim::Reshape(_) => vec![Some(reshape_like(g, &x[0])?)],
        Prim::BroadcastTo(_) => vec![Some(unbroadcast(g, &x[0])?)],
        Prim::SumTo(_) => vec![Some(ops::broadcast_to(g, &shape_of(&x[0]))?)],
        Prim::Slice(specs) => {
            let shape: Rc<[usize]> = shape_of(&x[0]).into();
            vec![Some(reshape_like(
                &apply(&Prim::SliceScatter(specs.clone(), shape), std::slice::from_ref(g))?,
                &x[0],
            )?)]
        }
        Prim::SliceScatter(specs, _) => vec![Some(apply(&Prim::Slice(specs.clone()), std::slice::from_ref(g))?)],
        Prim::Take(axis) => {
            let shape: Rc<[usize]> = shape_of(&x[0]).into();
            vec![
                Some(reshape_like(
                    &apply(&Prim::TakeScatter(*axis, shape), &[g.clone(), x[1].clone()])?,
                    &x[0],
                )?),
                None,
            ]
        }
        Prim::TakeScatter(axis, _) => vec![Some(apply(&Prim::Take(*axis), &[g.clone(), x[1].clone()])?), None],
        Prim::Concat(axis) => {
            let mut start = 0i64;
            let mut out = Vec::with_capacity(x.len());
            for (xi, need) in x.iter().zip(needs) {
                let len = shape_of(xi)[*axis] as i64;
                if *need {
                    let mut specs = vec![SliceSpec::full(); *axis];
                    specs.push(SliceSpec::Range {
                        start: Some(start),
                        stop: Some(start + len),
                        step: 1,
                    });
                    out.push(Some(apply(&Prim::Slice(specs.into()), std::slice::from_ref(g))?));
                } else {
                    out.push(None);
                }
                start += len;
            }
            out
        }
        Prim::Stack(axis) => {
            let mut out = Vec::with_capacity(x.len());
            for (i, (xi, need)) in x.iter().zip(needs).enumerate() {
                if *need {
                    let mut specs = vec![SliceSpec::full(); *axis];
                    specs.push(SliceSpec::Index(i as i64));
                    out.push(Some(reshape_like(
                        &apply(&Prim::Slice(specs.into()), std::slice::from_ref(g))?,
                        xi,
                    )?));
                } else {
                    out.push(None);
                }
            }
            out
        }
    })
}

/// `g` reshaped to the shape of `like` (a float when `like` is a float).
fn reshape_like(g: &Value, like: &Value) -> R<Value> {
    match like.strip() {
        Value::Tensor(t) => ops::reshape(g, t.shape()),
        _ => match g.strip() {
            Value::Tensor(_) => ops::reshape(g, &[]),
            _ => Ok(g.clone()),
        },
    }
}

/// A tangent of an input, or zeros shaped like the input where it is constant.
fn tangent_or_zero(t: &Option<Value>, x: &Value) -> R<Value> {
    match t {
        Some(t) => Ok(t.clone()),
        None => ops::zeros_like(x),
    }
}

/// Makes a tangent the shape of the output (tangents of broadcast inputs are smaller).
fn to_out_shape(t: Value, y: &Value) -> R<Value> {
    let s = shape_of(y);
    if shape_of(&t) == s {
        Ok(t)
    } else {
        ops::broadcast_to(&t, &s)
    }
}

/// Sums optional terms; `None` when every term is zero.
fn sum_terms(terms: Vec<Option<Value>>) -> R<Option<Value>> {
    let mut acc: Option<Value> = None;
    for t in terms.into_iter().flatten() {
        acc = Some(match acc {
            None => t,
            Some(a) => add(&a, &t)?,
        });
    }
    Ok(acc)
}

/// The JVP rule: given the inputs, their tangents (`None`: zero) and the
/// output, the output's tangent (`None`: zero).
pub fn jvp(prim: &Prim, x: &[Value], t: &[Option<Value>], y: &Value) -> R<Option<Value>> {
    if t.iter().all(Option::is_none) || is_nondifferentiable(prim) {
        return Ok(None);
    }
    let linear = |p: &Prim| -> R<Option<Value>> {
        let tan: Vec<Value> = t
            .iter()
            .zip(x)
            .map(|(ti, xi)| tangent_or_zero(ti, xi))
            .collect::<R<_>>()?;
        Ok(Some(apply(p, &tan)?))
    };
    let out = match prim {
        Prim::Leaf => None,
        Prim::Unary(op) => match (unary_derivative(*op, &x[0], y)?, &t[0]) {
            (Some(d), Some(tx)) => Some(mul(tx, &d)?),
            _ => None,
        },
        Prim::Binary(op) => {
            let (a, b) = (&x[0], &x[1]);
            let (ta, tb) = (&t[0], &t[1]);
            let term = |tv: &Option<Value>, k: &dyn Fn(&Value) -> R<Value>| -> R<Option<Value>> {
                match tv {
                    Some(v) => Ok(Some(k(v)?)),
                    None => Ok(None),
                }
            };
            match op {
                BinaryOp::Add => sum_terms(vec![ta.clone(), tb.clone()])?,
                BinaryOp::Sub => sum_terms(vec![ta.clone(), term(tb, &|v| neg(v))?])?,
                BinaryOp::Mul => sum_terms(vec![term(ta, &|v| mul(v, b))?, term(tb, &|v| mul(a, v))?])?,
                BinaryOp::Div => sum_terms(vec![
                    term(ta, &|v| div(v, b))?,
                    term(tb, &|v| neg(&div(&mul(v, y)?, b)?))?,
                ])?,
                BinaryOp::Pow => sum_terms(vec![
                    term(ta, &|v| mul(v, &pow_da(a, b)?))?,
                    term(tb, &|v| mul(v, &pow_db(a, y)?))?,
                ])?,
                BinaryOp::Maximum | BinaryOp::Minimum => {
                    let (ma, mb) = select_masks(*op, a, b)?;
                    sum_terms(vec![term(ta, &|v| mul(v, &ma))?, term(tb, &|v| mul(v, &mb))?])?
                }
                _ => None,
            }
        }
        Prim::IntPow(n) => match (int_pow_derivative(*n, &x[0])?, &t[0]) {
            (Some(d), Some(tx)) => Some(mul(tx, &d)?),
            _ => None,
        },
        Prim::Where => {
            let zero = f(0.0);
            let ta = t[1].clone().unwrap_or_else(|| zero.clone());
            let tb = t[2].clone().unwrap_or(zero);
            Some(ops::where_(&x[0], &ta, &tb)?)
        }
        Prim::Reduce(op, axes, keepdims) => {
            let tx = tangent_or_zero(&t[0], &x[0])?;
            match op {
                ReduceOp::Sum => Some(apply(prim, &[tx])?),
                ReduceOp::Max | ReduceOp::Min => {
                    let shape = shape_of(&x[0]);
                    let yk = keep_reduced_dims(y, &shape, axes, *keepdims)?;
                    let mask = bin(BinaryOp::Eq, &x[0], &yk)?;
                    let count = ops::sum(&mask, axes.clone(), true)?;
                    Some(ops::sum(&mul(&tx, &div(&mask, &count)?)?, axes.clone(), *keepdims)?)
                }
                ReduceOp::Prod => Some(ops::sum(
                    &mul(&tx, &prod_partials(&x[0], y, axes, *keepdims)?)?,
                    axes.clone(),
                    *keepdims,
                )?),
            }
        }
        Prim::MatMul => {
            let ta = t[0]
                .as_ref()
                .map(|v| apply(&Prim::MatMul, &[v.clone(), x[1].clone()]))
                .transpose()?;
            let tb = t[1]
                .as_ref()
                .map(|v| apply(&Prim::MatMul, &[x[0].clone(), v.clone()]))
                .transpose()?;
            sum_terms(vec![ta, tb])?
        }
        Prim::Take(axis) => match &t[0] {
            Some(tx) => Some(apply(&Prim::Take(*axis), &[tx.clone(), x[1].clone()])?),
            None => None,
        },
        Prim::TakeScatter(axis, shape) => match &t[0] {
            Some(tx) => Some(apply(
                &Prim::TakeScatter(*axis, shape.clone()),
                &[tx.clone(), x[1].clone()],
            )?),
            None => None,
        },
        Prim::Transpose(_)
        | Prim::Reshape(_)
        | Prim::BroadcastTo(_)
        | Prim::SumTo(_)
        | Prim::Slice(_)
        | Prim::SliceScatter(..)
        | Prim::Concat(_)
        | Prim::Stack(_) => linear(prim)?,
    };
    match out {
        Some(v) => Ok(Some(to_out_shape(v, y)?)),
        None => Ok(None),
    }
}
