//! One graph node as StableHLO operations: the lowering rule of each
//! primitive. Rules get their operands as written so far and the node's
//! result type (known from the trace), and return a value that
//! [`super::text::Emitter::coerce`] makes exactly of that type. A primitive
//! without a rule here is reported by name; the graph is not exported.

use super::text::{compare_type, list, Elem, Emitter, Ty, V};
use crate::prim::Prim;
use dp_tensor::{BinaryOp, ReduceOp, SliceSpec, UnaryOp};

/// Why a node cannot be lowered (the caller adds where).
type Lowered = Result<V, String>;

/// The operations computing `prim` of `args`, whose result has type `out`.
pub fn lower(e: &mut Emitter, prim: &Prim, args: &[V], out: &Ty) -> Lowered {
    let arg = |k: usize| args.get(k).cloned().ok_or_else(|| "a missing operand".to_string());
    match prim {
        Prim::Unary(u) => Ok(unary(e, u.0, arg(0)?)),
        Prim::Binary(b) => Ok(binary(e, b.0, arg(0)?, arg(1)?, &out.shape)),
        Prim::IntPow(p) => {
            let x = e.f64(arg(0)?);
            let n = e.full(f64::from(p.0), &x.ty);
            Ok(elementwise(e, "power", &[x, n]))
        }
        Prim::Atan2(_) => {
            let (y, x) = (e.f64(arg(0)?), e.f64(arg(1)?));
            let (y, x) = (e.broadcast(y, &out.shape), e.broadcast(x, &out.shape));
            Ok(elementwise(e, "atan2", &[y, x]))
        }
        Prim::FloatMod(_) => {
            let (a, b) = (e.f64(arg(0)?), e.f64(arg(1)?));
            let (a, b) = (e.broadcast(a, &out.shape), e.broadcast(b, &out.shape));
            Ok(python_mod(e, a, b))
        }
        Prim::FloatFloorDiv(_) => {
            let (a, b) = (e.f64(arg(0)?), e.f64(arg(1)?));
            let (a, b) = (e.broadcast(a, &out.shape), e.broadcast(b, &out.shape));
            Ok(python_floor_div(e, a, b))
        }
        Prim::Where(_) => {
            let c = e.convert(arg(0)?, Elem::I1);
            let c = e.broadcast(c, &out.shape);
            let a = e.convert(arg(1)?, out.elem);
            let a = e.broadcast(a, &out.shape);
            let b = e.convert(arg(2)?, out.elem);
            let b = e.broadcast(b, &out.shape);
            Ok(select(e, c, a, b))
        }
        Prim::Reduce(r) => {
            let x = e.f64(arg(0)?);
            let axes: Vec<usize> = match &r.axes {
                Some(a) => a.to_vec(),
                None => (0..x.ty.shape.len()).collect(),
            };
            Ok(reduce(e, r.op, x, &axes))
        }
        Prim::MatMul(_) => matmul(e, arg(0)?, arg(1)?, out),
        Prim::Transpose(t) => {
            let x = arg(0)?;
            let ty = out.with_elem(x.ty.elem);
            Ok(e.op(
                &format!(
                    "stablehlo.transpose {}, dims = {} : ({}) -> {ty}",
                    x.name,
                    list(&t.0),
                    x.ty
                ),
                ty,
            ))
        }
        Prim::Reshape(_) => {
            let x = arg(0)?;
            Ok(e.reshape(x, &out.shape))
        }
        Prim::BroadcastTo(_) => {
            let x = arg(0)?;
            Ok(e.broadcast(x, &out.shape))
        }
        Prim::SumTo(s) => Ok(sum_to(e, arg(0)?, &s.0)),
        Prim::Slice(s) => slice(e, arg(0)?, &s.0, out),
        Prim::SliceScatter(s) => slice_scatter(e, arg(0)?, &s.0, &s.1),
        Prim::Take(t) => Ok(take(e, arg(0)?, arg(1)?, t.0, out)),
        Prim::TakeScatter(t) => Ok(take_scatter(e, arg(0)?, arg(1)?, t.0, &t.1)),
        Prim::Concat(c) => Ok(concatenate(e, args, c.0, out)),
        Prim::Stack(s) => {
            let mut parts = Vec::with_capacity(args.len());
            for a in args {
                let mut shape = a.ty.shape.clone();
                shape.insert(s.0.min(shape.len()), 1);
                parts.push(e.reshape(a.clone(), &shape));
            }
            Ok(concatenate(e, &parts, s.0, out))
        }
        Prim::Special(f) => special(e, &f.0, arg(0)?),
        Prim::Cholesky(_) => {
            // dp's factor reads the lower triangle, as XLA's with `lower = true`.
            let a = e.f64(arg(0)?);
            let ty = a.ty.clone();
            Ok(e.op(
                &format!("\"stablehlo.cholesky\"({}) {{lower = true}} : ({ty}) -> {ty}", a.name),
                ty,
            ))
        }
        Prim::TriSolve(t) => {
            let (a, b) = (e.f64(arg(0)?), e.f64(arg(1)?));
            let batch = |v: &V, keep: usize| v.ty.shape[..v.ty.shape.len().saturating_sub(keep)].to_vec();
            if b.ty.shape.len() != a.ty.shape.len() || batch(&a, 2) != batch(&b, 2) {
                return Err(
                    "a triangular solve whose right-hand side is not a matrix with the triangle's batch axes".into(),
                );
            }
            let transpose = if t.trans { "TRANSPOSE" } else { "NO_TRANSPOSE" };
            Ok(e.op(
                &format!(
                    "\"stablehlo.triangular_solve\"({}, {}) {{left_side = true, lower = {}, unit_diagonal = {}, transpose_a = #stablehlo<transpose {transpose}>}} : ({}, {}) -> {}",
                    a.name, b.name, t.lower, t.unit_diagonal, a.ty, b.ty, b.ty
                ),
                b.ty.clone(),
            ))
        }
        Prim::Conv(c) => super::window::conv(e, c, arg(0)?, arg(1)?, out),
        Prim::Pool(p) => super::window::pool(e, p, args, out),
        Prim::Cumsum(c) => {
            let x = e.f64(arg(0)?);
            Ok(super::window::cumsum(e, x, c.axis, c.reverse))
        }
        _ => Err("StableHLO export has no rule for this operation yet".to_string()),
    }
}

/// A special function as the `chlo` operation JAX emits for it; the Bessel
/// functions (which JAX expands into polynomials of its own) have no rule.
fn special(e: &mut Emitter, f: &crate::prim::SpecialFn, x: V) -> Lowered {
    use crate::prim::SpecialFn as S;
    let x = e.f64(x);
    Ok(match f {
        S::Erf => chlo(e, "erf", x),
        S::Erfc => chlo(e, "erfc", x),
        S::Lgamma => chlo(e, "lgamma", x),
        S::Polygamma(0) => chlo(e, "digamma", x),
        S::Polygamma(n) => {
            let ty = x.ty.clone();
            let order = e.full(f64::from(*n), &ty);
            e.op(
                &format!("chlo.polygamma {}, {} : {ty}, {ty} -> {ty}", order.name, x.name),
                ty,
            )
        }
        S::I0 | S::I0e | S::I1 | S::I1e => {
            return Err("StableHLO export has no rule for the Bessel functions yet".into())
        }
    })
}

/// `stablehlo.NAME` applied elementwise to operands of one type.
fn elementwise(e: &mut Emitter, name: &str, xs: &[V]) -> V {
    let names: Vec<&str> = xs.iter().map(|x| x.name.as_str()).collect();
    let ty = xs[0].ty.clone();
    e.op(&format!("stablehlo.{name} {} : {ty}", names.join(", ")), ty)
}

/// `chlo.NAME x` (the OpenXLA client ops JAX also emits for these functions).
fn chlo(e: &mut Emitter, name: &str, x: V) -> V {
    let ty = x.ty.clone();
    e.op(&format!("chlo.{name} {} : {ty} -> {ty}", x.name), ty)
}

/// Python's float `%` of two f64 tensors of one shape: C's `fmod`
/// (`stablehlo.remainder`), plus the divisor where the signs differ, and +0
/// for a zero remainder (as `ops::arith::float_mod`).
fn python_mod(e: &mut Emitter, a: V, b: V) -> V {
    let r = elementwise(e, "remainder", &[a, b.clone()]);
    let zero = e.full(0.0, &r.ty);
    let r_negative = compare(e, "LT", r.clone(), zero.clone());
    let b_negative = compare(e, "LT", b.clone(), zero.clone());
    let signs_differ = elementwise(e, "xor", &[r_negative, b_negative]);
    let nonzero = compare(e, "NE", r.clone(), zero.clone());
    let shift = elementwise(e, "and", &[signs_differ, nonzero.clone()]);
    let shifted = elementwise(e, "add", &[r.clone(), b]);
    let adjusted = select(e, shift, shifted, r);
    select(e, nonzero, adjusted, zero)
}

/// Python's float `//` from the exact remainder, step for step as
/// `ops::arith::float_floor_div`: `(a - rem(a, b)) / b`, one less where the
/// remainder's sign differs from `b`'s, snapped to the nearest integer (ties
/// down), a zero with the sign of `a / b`, and `a / b` for a zero divisor.
fn python_floor_div(e: &mut Emitter, a: V, b: V) -> V {
    let r = elementwise(e, "remainder", &[a.clone(), b.clone()]);
    let zero = e.full(0.0, &r.ty);
    let one = e.full(1.0, &r.ty);
    let half = e.full(0.5, &r.ty);
    let exact = elementwise(e, "subtract", &[a.clone(), r.clone()]);
    let q = elementwise(e, "divide", &[exact, b.clone()]);
    let r_negative = compare(e, "LT", r.clone(), zero.clone());
    let b_negative = compare(e, "LT", b.clone(), zero.clone());
    let signs_differ = elementwise(e, "xor", &[r_negative, b_negative]);
    let nonzero = compare(e, "NE", r, zero.clone());
    let shift = elementwise(e, "and", &[signs_differ, nonzero]);
    let lowered = elementwise(e, "subtract", &[q.clone(), one.clone()]);
    let q = select(e, shift, lowered, q);
    let floor = elementwise(e, "floor", std::slice::from_ref(&q));
    let frac = elementwise(e, "subtract", &[q.clone(), floor.clone()]);
    let up = compare(e, "GT", frac, half);
    let raised = elementwise(e, "add", &[floor.clone(), one]);
    let snapped = select(e, up, raised, floor);
    // A zero quotient carries the sign of `a / b`: 0 * sign(a / b).
    let ratio = elementwise(e, "divide", &[a, b.clone()]);
    let sign = elementwise(e, "sign", std::slice::from_ref(&ratio));
    let signed_zero = elementwise(e, "multiply", &[zero.clone(), sign]);
    let q_zero = compare(e, "EQ", q, zero.clone());
    let result = select(e, q_zero, signed_zero, snapped);
    let b_zero = compare(e, "EQ", b, zero);
    select(e, b_zero, ratio, result)
}

/// `stablehlo.select`: `a` where `c` (i1) holds, else `b` (both of one type).
fn select(e: &mut Emitter, c: V, a: V, b: V) -> V {
    let ty = a.ty.clone();
    e.op(
        &format!("stablehlo.select {}, {}, {} : {}, {ty}", c.name, a.name, b.name, c.ty),
        ty,
    )
}

fn compare(e: &mut Emitter, dir: &str, a: V, b: V) -> V {
    let ty = a.ty.with_elem(Elem::I1);
    e.op(
        &format!(
            "stablehlo.compare {dir}, {}, {}, {} : ({}, {}) -> {ty}",
            a.name,
            b.name,
            compare_type(a.ty.elem),
            a.ty,
            b.ty
        ),
        ty,
    )
}

fn unary(e: &mut Emitter, op: UnaryOp, x: V) -> V {
    use UnaryOp as U;
    let x = e.f64(x);
    let simple = match op {
        U::Neg => Some("negate"),
        U::Exp => Some("exponential"),
        U::Log => Some("log"),
        U::Log1p => Some("log_plus_one"),
        U::Expm1 => Some("exponential_minus_one"),
        U::Sqrt => Some("sqrt"),
        U::Abs => Some("abs"),
        U::Sin => Some("sine"),
        U::Cos => Some("cosine"),
        U::Tan => Some("tan"),
        U::Tanh => Some("tanh"),
        U::Sigmoid => Some("logistic"),
        U::Sign => Some("sign"),
        U::Floor => Some("floor"),
        U::Ceil => Some("ceil"),
        // NumPy rounds halves to even.
        U::Round => Some("round_nearest_even"),
        _ => None,
    };
    if let Some(name) = simple {
        return elementwise(e, name, &[x]);
    }
    let chlo_name = match op {
        U::Sinh => Some("sinh"),
        U::Cosh => Some("cosh"),
        U::Asinh => Some("asinh"),
        U::Acosh => Some("acosh"),
        U::Atanh => Some("atanh"),
        U::Asin => Some("asin"),
        U::Acos => Some("acos"),
        U::Atan => Some("atan"),
        _ => None,
    };
    if let Some(name) = chlo_name {
        return chlo(e, name, x);
    }
    let ty = x.ty.clone();
    match op {
        U::Relu => {
            let z = e.full(0.0, &ty);
            elementwise(e, "maximum", &[x, z])
        }
        U::Softplus => {
            // max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|.
            let z = e.full(0.0, &ty);
            let m = elementwise(e, "maximum", &[x.clone(), z]);
            let a = elementwise(e, "abs", &[x]);
            let na = elementwise(e, "negate", &[a]);
            let ex = elementwise(e, "exponential", &[na]);
            let l = elementwise(e, "log_plus_one", &[ex]);
            elementwise(e, "add", &[m, l])
        }
        U::Recip => {
            let one = e.full(1.0, &ty);
            elementwise(e, "divide", &[one, x])
        }
        U::Square => elementwise(e, "multiply", &[x.clone(), x]),
        U::Log2 | U::Log10 => {
            let l = elementwise(e, "log", &[x]);
            let base = e.full(
                if op == U::Log2 {
                    std::f64::consts::LN_2
                } else {
                    std::f64::consts::LN_10
                },
                &ty,
            );
            elementwise(e, "divide", &[l, base])
        }
        U::Exp2 => {
            let ln2 = e.full(std::f64::consts::LN_2, &ty);
            let p = elementwise(e, "multiply", &[x, ln2]);
            elementwise(e, "exponential", &[p])
        }
        U::IsNan => compare(e, "NE", x.clone(), x),
        U::IsFinite => {
            let t = ty.with_elem(Elem::I1);
            e.op(&format!("stablehlo.is_finite {} : ({ty}) -> {t}", x.name), t)
        }
        U::IsInf => {
            let a = elementwise(e, "abs", &[x]);
            let inf = e.full(f64::INFINITY, &ty);
            compare(e, "EQ", a, inf)
        }
        // Every other op is handled above; this keeps the match total.
        _ => x,
    }
}

fn binary(e: &mut Emitter, op: BinaryOp, a: V, b: V, shape: &[usize]) -> V {
    use BinaryOp as B;
    let (a, b) = (e.f64(a), e.f64(b));
    let (a, b) = (e.broadcast(a, shape), e.broadcast(b, shape));
    let name = match op {
        B::Add => "add",
        B::Sub => "subtract",
        B::Mul => "multiply",
        B::Div => "divide",
        B::Pow => "power",
        B::Maximum => "maximum",
        B::Minimum => "minimum",
        B::Eq => return compare(e, "EQ", a, b),
        B::Ne => return compare(e, "NE", a, b),
        B::Lt => return compare(e, "LT", a, b),
        B::Le => return compare(e, "LE", a, b),
        B::Gt => return compare(e, "GT", a, b),
        B::Ge => return compare(e, "GE", a, b),
    };
    elementwise(e, name, &[a, b])
}

/// A reduction of float `x` over `axes` (dropped from the shape).
fn reduce(e: &mut Emitter, op: ReduceOp, x: V, axes: &[usize]) -> V {
    let (init, body) = match op {
        ReduceOp::Sum => (0.0, "add"),
        ReduceOp::Prod => (1.0, "multiply"),
        ReduceOp::Max => (f64::NEG_INFINITY, "maximum"),
        ReduceOp::Min => (f64::INFINITY, "minimum"),
    };
    let init = e.scalar(init, Elem::F64);
    let shape: Vec<usize> = (0..x.ty.shape.len())
        .filter(|d| !axes.contains(d))
        .map(|d| x.ty.shape[d])
        .collect();
    let ty = Ty::new(&shape, Elem::F64);
    e.op(
        &format!(
            "stablehlo.reduce({} init: {}) applies stablehlo.{body} across dimensions = {} : ({}, {}) -> {ty}",
            x.name,
            init.name,
            list(axes),
            x.ty,
            init.ty
        ),
        ty,
    )
}

/// The adjoint of broadcasting: `x` summed down to `target`.
fn sum_to(e: &mut Emitter, x: V, target: &[usize]) -> V {
    let x = e.f64(x);
    let lead = x.ty.shape.len().saturating_sub(target.len());
    let axes: Vec<usize> = (0..x.ty.shape.len())
        .filter(|&d| d < lead || (target[d - lead] == 1 && x.ty.shape[d] != 1))
        .collect();
    let r = if axes.is_empty() {
        x
    } else {
        reduce(e, ReduceOp::Sum, x, &axes)
    };
    e.reshape(r, target)
}

/// NumPy `matmul` as one `dot_general`: 1-d operands promoted to matrices,
/// batch dimensions broadcast to their common shape first.
fn matmul(e: &mut Emitter, a: V, b: V, out: &Ty) -> Lowered {
    let (a, b) = (e.f64(a), e.f64(b));
    let (sa, sb) = (a.ty.shape.clone(), b.ty.shape.clone());
    if sa.is_empty() || sb.is_empty() {
        return Err("matmul of a scalar".to_string());
    }
    let a = if sa.len() == 1 { e.reshape(a, &[1, sa[0]]) } else { a };
    let b = if sb.len() == 1 { e.reshape(b, &[sb[0], 1]) } else { b };
    let (sa, sb) = (a.ty.shape.clone(), b.ty.shape.clone());
    let batch = dp_tensor::broadcast_shapes(&sa[..sa.len() - 2], &sb[..sb.len() - 2])
        .ok_or_else(|| "matmul batch dimensions that do not broadcast".to_string())?;
    let nb = batch.len();
    let with = |m: &[usize]| batch.iter().chain(m).copied().collect::<Vec<usize>>();
    let (m, k, n) = (sa[sa.len() - 2], sa[sa.len() - 1], sb[sb.len() - 1]);
    let a = e.broadcast(a, &with(&[m, k]));
    let b = e.broadcast(b, &with(&[k, n]));
    let bdims: Vec<usize> = (0..nb).collect();
    let ty = Ty::new(&with(&[m, n]), Elem::F64);
    let batching = if nb > 0 {
        format!("batching_dims = {} x {}, ", list(&bdims), list(&bdims))
    } else {
        String::new()
    };
    let r = e.op(
        &format!(
            "stablehlo.dot_general {}, {}, {batching}contracting_dims = [{}] x [{}], precision = [DEFAULT, DEFAULT] : ({}, {}) -> {ty}",
            a.name,
            b.name,
            nb + 1,
            nb,
            a.ty,
            b.ty
        ),
        ty,
    );
    Ok(e.reshape(r, &out.shape))
}

/// What a basic index selects along one input axis: `count` positions
/// from `start` by `step` (negative steps walk backward). (An integer
/// index picks one position; the node's result shape drops its axis.)
struct AxisPick {
    start: i64,
    step: i64,
    count: usize,
}

/// Python's slice semantics for each axis of `shape` (axes after the
/// specs are taken whole; `NewAxis` selects nothing).
fn resolve(specs: &[SliceSpec], shape: &[usize]) -> Result<Vec<AxisPick>, String> {
    let mut picks = Vec::with_capacity(shape.len());
    let mut axis = 0;
    for s in specs {
        let len = *shape.get(axis).unwrap_or(&0) as i64;
        match s {
            SliceSpec::NewAxis => continue,
            SliceSpec::Index(i) => {
                let i = if *i < 0 { i + len } else { *i };
                picks.push(AxisPick {
                    start: i,
                    step: 1,
                    count: 1,
                });
            }
            SliceSpec::Range { start, stop, step } => {
                let step = *step;
                if step == 0 {
                    return Err("a slice with step 0".to_string());
                }
                let fix = |v: i64, lo: i64, hi: i64| (if v < 0 { v + len } else { v }).clamp(lo, hi);
                let (start, count) = if step > 0 {
                    let b = start.map_or(0, |v| fix(v, 0, len));
                    let s = stop.map_or(len, |v| fix(v, 0, len));
                    (b, if s > b { (s - b + step - 1) / step } else { 0 })
                } else {
                    let b = start.map_or(len - 1, |v| fix(v, -1, len - 1));
                    let s = stop.map_or(-1, |v| fix(v, -1, len - 1));
                    (b, if b > s { (b - s - step - 1) / -step } else { 0 })
                };
                picks.push(AxisPick {
                    start,
                    step,
                    count: count as usize,
                });
            }
        }
        axis += 1;
    }
    for &len in shape.iter().skip(axis) {
        picks.push(AxisPick {
            start: 0,
            step: 1,
            count: len,
        });
    }
    Ok(picks)
}

/// The picks with negative steps turned around: the axes to reverse, and
/// each pick as (first position, positive step, count) in the reversed tensor.
fn forward_picks(picks: &[AxisPick], shape: &[usize]) -> (Vec<usize>, Vec<(usize, usize, usize)>) {
    let mut reversed = Vec::new();
    let mut fwd = Vec::with_capacity(picks.len());
    for (d, p) in picks.iter().enumerate() {
        if p.step < 0 {
            reversed.push(d);
            fwd.push((
                (shape[d] as i64 - 1 - p.start).max(0) as usize,
                (-p.step) as usize,
                p.count,
            ));
        } else {
            fwd.push((p.start.max(0) as usize, p.step as usize, p.count));
        }
    }
    (reversed, fwd)
}

fn reverse(e: &mut Emitter, x: V, dims: &[usize]) -> V {
    if dims.is_empty() {
        return x;
    }
    let ty = x.ty.clone();
    e.op(
        &format!("stablehlo.reverse {}, dims = {} : {ty}", x.name, list(dims)),
        ty,
    )
}

/// Basic indexing: reverse the axes walked backward, take a strided
/// `slice`, reshape away indexed axes (and in new ones).
fn slice(e: &mut Emitter, x: V, specs: &[SliceSpec], out: &Ty) -> Lowered {
    let shape = x.ty.shape.clone();
    let picks = resolve(specs, &shape)?;
    let (rev, fwd) = forward_picks(&picks, &shape);
    let x = reverse(e, x, &rev);
    let ranges: Vec<String> = fwd
        .iter()
        .map(|&(b, s, c)| {
            let end = if c == 0 { b } else { b + (c - 1) * s + 1 };
            format!("{b}:{end}:{s}")
        })
        .collect();
    let counts: Vec<usize> = fwd.iter().map(|f| f.2).collect();
    let ty = Ty::new(&counts, x.ty.elem);
    let r = e.op(
        &format!(
            "stablehlo.slice {} [{}] : ({}) -> {ty}",
            x.name,
            ranges.join(", "),
            x.ty
        ),
        ty,
    );
    Ok(e.reshape(r, &out.shape))
}

/// The adjoint of basic indexing: zeros of `shape` with `g` where the
/// index reads — `pad` with zeros around and between the picked positions.
fn slice_scatter(e: &mut Emitter, g: V, specs: &[SliceSpec], shape: &[usize]) -> Lowered {
    let picks = resolve(specs, shape)?;
    let g = e.f64(g);
    // g broadcasts to the indexed result; its size-1 axes for integer
    // indices and without the new axes are the picked block.
    let mut sliced = Vec::new();
    let mut axis = 0;
    for s in specs {
        match s {
            SliceSpec::NewAxis => sliced.push(1),
            SliceSpec::Index(_) => axis += 1,
            SliceSpec::Range { .. } => {
                sliced.push(picks[axis].count);
                axis += 1;
            }
        }
    }
    sliced.extend(picks.iter().skip(axis).map(|p| p.count));
    let g = e.broadcast(g, &sliced);
    let block: Vec<usize> = picks.iter().map(|p| p.count).collect();
    let g = e.reshape(g, &block);
    let (rev, fwd) = forward_picks(&picks, shape);
    let ty = Ty::new(shape, Elem::F64);
    if block.contains(&0) {
        return Ok(e.full(0.0, &ty));
    }
    let low: Vec<usize> = fwd.iter().map(|f| f.0).collect();
    let interior: Vec<usize> = fwd.iter().map(|f| f.1 - 1).collect();
    let high: Vec<usize> = fwd
        .iter()
        .zip(shape)
        .map(|(&(b, s, c), &len)| len - (b + (c - 1) * s + 1))
        .collect();
    let zero = e.scalar(0.0, Elem::F64);
    let padded = e.op(
        &format!(
            "stablehlo.pad {}, {}, low = {}, high = {}, interior = {} : ({}, {}) -> {ty}",
            g.name,
            zero.name,
            list(&low),
            list(&high),
            list(&interior),
            g.ty,
            zero.ty
        ),
        ty,
    );
    Ok(reverse(e, padded, &rev))
}

/// `take` indices as int64 with a trailing index-vector axis, negative
/// ones counted from the end of an axis of length `len`.
fn gather_indices(e: &mut Emitter, idx: V, len: usize) -> V {
    let i = e.convert(idx, Elem::I64);
    let zero = e.full(0.0, &i.ty);
    let neg = compare(e, "LT", i.clone(), zero);
    let n = e.full(len as f64, &i.ty);
    let wrapped = elementwise(e, "add", &[i.clone(), n]);
    let fixed = select(e, neg, wrapped, i);
    let mut shape = fixed.ty.shape.clone();
    shape.push(1);
    e.reshape(fixed, &shape)
}

/// The output positions of the operand's axes other than `axis` in a
/// `take` along `axis` with `q` index axes.
fn window_dims(rank: usize, axis: usize, q: usize) -> Vec<usize> {
    (0..axis).chain(axis + q..rank - 1 + q).collect()
}

/// NumPy `take(x, idx, axis)` as a `gather` of one-position slices.
fn take(e: &mut Emitter, x: V, idx: V, axis: usize, out: &Ty) -> V {
    let q = idx.ty.shape.len();
    let rank = x.ty.shape.len();
    let i = gather_indices(e, idx, x.ty.shape[axis]);
    let mut sizes = x.ty.shape.clone();
    sizes[axis] = 1;
    let ty = out.with_elem(x.ty.elem);
    e.op(
        &format!(
            "\"stablehlo.gather\"({}, {}) <{{dimension_numbers = #stablehlo.gather<offset_dims = {}, collapsed_slice_dims = [{axis}], start_index_map = [{axis}], index_vector_dim = {q}>, indices_are_sorted = false, slice_sizes = array<i64: {}>}}> : ({}, {}) -> {ty}",
            x.name,
            i.name,
            list(&window_dims(rank, axis, q)),
            sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
            x.ty,
            i.ty
        ),
        ty,
    )
}

/// The adjoint of `take`: `g` scatter-added into zeros of `shape`
/// (repeated indices accumulate), with dp's signs of zero: the sums start
/// from -0.0, which adds to anything without changing it (so a lone -0.0
/// stays -0.0, as dp writes each position's first contribution), and the
/// positions no index reaches are then +0.0.
fn take_scatter(e: &mut Emitter, g: V, idx: V, axis: usize, shape: &[usize]) -> V {
    let g = e.f64(g);
    let i = gather_indices(e, idx, shape[axis]);
    let ty = Ty::new(shape, Elem::F64);
    let start = e.full(-0.0, &ty);
    let sums = scatter_add(e, start, &i, &g, axis);
    let zeros = e.full(0.0, &ty);
    let ones = e.full(1.0, &g.ty);
    let hits = scatter_add(e, zeros.clone(), &i, &ones, axis);
    let reached = compare(e, "NE", hits, zeros.clone());
    select(e, reached, sums, zeros)
}

/// `into` with the slices `g` (one per index of `i`, along `axis`) added at
/// those indices.
fn scatter_add(e: &mut Emitter, into: V, i: &V, g: &V, axis: usize) -> V {
    let q = i.ty.shape.len() - 1;
    let rank = into.ty.shape.len();
    let ty = into.ty.clone();
    let s = Ty::new(&[], Elem::F64);
    e.op(
        &format!(
            "\"stablehlo.scatter\"({}, {}, {}) <{{indices_are_sorted = false, scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = {}, inserted_window_dims = [{axis}], scatter_dims_to_operand_dims = [{axis}], index_vector_dim = {q}>, unique_indices = false}}> ({{\n    ^bb0(%lhs: {s}, %rhs: {s}):\n      %sum = stablehlo.add %lhs, %rhs : {s}\n      stablehlo.return %sum : {s}\n    }}) : ({ty}, {}, {}) -> {ty}",
            into.name,
            i.name,
            g.name,
            list(&window_dims(rank, axis, q)),
            i.ty,
            g.ty
        ),
        ty,
    )
}

fn concatenate(e: &mut Emitter, parts: &[V], axis: usize, out: &Ty) -> V {
    let parts: Vec<V> = parts.iter().map(|p| e.convert(p.clone(), out.elem)).collect();
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    let types: Vec<String> = parts.iter().map(|p| p.ty.to_string()).collect();
    e.op(
        &format!(
            "stablehlo.concatenate {}, dim = {axis} : ({}) -> {out}",
            names.join(", "),
            types.join(", ")
        ),
        out.clone(),
    )
}
