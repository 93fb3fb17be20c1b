//! Property tests of the differentiation machinery (docs/language.md §8).
//!
//! For every primitive of `dp::ops::Prim` and the composite tensor builtins,
//! over random shapes with size-1 axes and broadcasting, three properties:
//!
//! (a) reverse mode equals central differences of `s(x) = <u, f(x)>`;
//! (b) forward and reverse agree: `<J v, u> == <v, Jᵀ u>`;
//! (c) second order: the Hessian-vector product of `s` computed three ways
//!     (reverse over reverse, forward over reverse, reverse over forward)
//!     equals central differences of the gradient along `v`.
//!
//! The functions are driven through `dp::autodiff::trace` directly (levels,
//! tapes, duals) — the same machinery `grad`/`jvp` use — so nested
//! differentiation exercises the extended graph exactly as user code does.
//! Inputs stay away from kinks here; the conventions at kinks are tested with
//! exact values at the bottom of the file.

use dp::autodiff::trace::{backward, dual, leaf, node_at, start_forward, start_tape, tangent_at, unwrap_level};
use dp::builtins::Args;
use dp::ops::{self, apply, shape_of, Prim};
use dp::{Diagnostic, Interp, Value};
use dp_tensor::{BinaryOp, ReduceOp, Rng, SliceSpec, Tensor, UnaryOp};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::rc::Rc;

type R<T> = Result<T, Diagnostic>;

/// A function under test: several inputs, one numeric output.
type Fun = Rc<dyn Fn(&mut Interp, &[Value]) -> R<Value>>;

/// A function with several numeric outputs (used for gradients).
type MultiFun<'a> = &'a dyn Fn(&mut Interp, &[Value]) -> R<Vec<Value>>;

fn interp() -> Interp {
    Interp::new(Box::new(std::io::sink()))
}

fn value(t: Tensor) -> Value {
    ops::from_tensor(t)
}

fn data(v: &Value) -> Vec<f64> {
    ops::as_tensor(v.strip()).map(|t| t.to_vec()).unwrap_or_default()
}

fn dot(a: &Value, b: &Value) -> f64 {
    data(a).iter().zip(data(b)).map(|(x, y)| x * y).sum()
}

/// `sum(a * b)`, differentiable in `a` (and `b`).
fn dot_v(a: &Value, b: &Value) -> R<Value> {
    ops::sum(&ops::mul(a, b)?, None, false)
}

/// Uniform values in `[lo, hi)` of `shape` (a float for `()`).
fn uni(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Value {
    let t = rng.uniform(shape).expect("small shape");
    value(t.map(|u| lo + (hi - lo) * u))
}

/// Values whose magnitude is in `[lo, hi)`, with random signs: away from 0.
fn away(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Value {
    let m = rng.uniform(shape).expect("small shape");
    let s = rng.uniform(shape).expect("small shape");
    let v: Vec<f64> = m
        .to_vec()
        .iter()
        .zip(s.to_vec())
        .map(|(m, s)| (lo + (hi - lo) * m) * if s < 0.5 { -1.0 } else { 1.0 })
        .collect();
    value(Tensor::from_vec(v, shape).expect("shape"))
}

fn normal(rng: &mut Rng, shape: &[usize]) -> Value {
    value(rng.normal(shape).expect("small shape"))
}

/// Replaces element `k` of `x` by `x[k] + d` (keeping floats floats).
fn bump(x: &Value, k: usize, d: f64) -> Value {
    let mut v = data(x);
    v[k] += d;
    match x.strip() {
        Value::Float(_) => Value::Float(v[0]),
        _ => value(Tensor::from_vec(v, &shape_of(x)).expect("shape")),
    }
}

/// `x + c * v`, elementwise (plain values).
fn axpy(x: &Value, c: f64, v: &Value) -> Value {
    let xs = data(x);
    let r: Vec<f64> = xs.iter().zip(data(v)).map(|(a, b)| a + c * b).collect();
    match x.strip() {
        Value::Float(_) => Value::Float(r[0]),
        _ => value(Tensor::from_vec(r, &shape_of(x)).expect("shape")),
    }
}

/// Reverse mode: the outputs and the adjoint of every input for the output cotangents `us`.
fn vjp(it: &mut Interp, f: MultiFun, xs: &[Value], us: &[Value]) -> R<(Vec<Value>, Vec<Value>)> {
    let guard = start_tape(&it.diff);
    let level = guard.level.clone();
    let mut wrapped = Vec::new();
    let mut ids = Vec::new();
    for x in xs {
        let (w, id) = leaf(&guard, x.clone());
        wrapped.push(w);
        ids.push(id);
    }
    let outs = f(it, &wrapped)?;
    // The outputs are read while the level is active: afterwards its tracers are constants.
    let mut seeds = Vec::new();
    for (o, u) in outs.iter().zip(us) {
        if let Some(n) = node_at(o, &level) {
            seeds.push((n, u.clone()));
        }
    }
    let ys = outs.iter().map(|o| unwrap_level(o, &level)).collect();
    let tape = guard.finish();
    let adj = backward(it, &tape, seeds)?;
    let grads = ids
        .iter()
        .zip(xs)
        .map(|(id, x)| match &adj[*id as usize] {
            Some(g) => Ok(g.clone()),
            None => ops::zeros_like(x),
        })
        .collect::<R<Vec<_>>>()?;
    Ok((ys, grads))
}

/// Forward mode: the outputs and their tangents for input tangents `ts`.
fn jvp(it: &mut Interp, f: MultiFun, xs: &[Value], ts: &[Value]) -> R<(Vec<Value>, Vec<Value>)> {
    let active = start_forward(&it.diff);
    let level = active.level.clone();
    let args: Vec<Value> = xs
        .iter()
        .zip(ts)
        .map(|(x, t)| dual(&level, x.clone(), t.clone()))
        .collect();
    let outs = f(it, &args)?;
    let ys: Vec<Value> = outs.iter().map(|o| unwrap_level(o, &level)).collect();
    let tys = outs
        .iter()
        .zip(&ys)
        .map(|(o, y)| match tangent_at(o, &level) {
            Some(t) => Ok(t),
            None => ops::zeros_like(y),
        })
        .collect::<R<Vec<_>>>()?;
    Ok((ys, tys))
}

fn single(f: &Fun) -> impl Fn(&mut Interp, &[Value]) -> R<Vec<Value>> + '_ {
    move |it, xs| Ok(vec![f(it, xs)?])
}

/// The gradient of `<u, f(x)>` (works on tracers of outer levels too).
fn grad_s(it: &mut Interp, f: &Fun, xs: &[Value], u: &Value) -> R<Vec<Value>> {
    Ok(vjp(it, &single(f), xs, std::slice::from_ref(u))?.1)
}

fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    // Equal infinities (a -inf output of log_softmax) are close.
    a == b || (a - b).abs() <= atol + rtol * a.abs().max(b.abs())
}

/// `x` with some elements set to -inf (a mask, as attention and padding use),
/// never where `keep` holds for the element's multi-index.
fn mask_neg_inf(rng: &mut Rng, x: &Value, keep: impl Fn(&[usize]) -> bool) -> Value {
    let shape = shape_of(x);
    let coins = rng.uniform(&shape).expect("small shape").to_vec();
    let mut v = data(x);
    for (j, c) in coins.iter().enumerate() {
        let mut idx = vec![0; shape.len()];
        let mut r = j;
        for a in (0..shape.len()).rev() {
            idx[a] = r % shape[a];
            r /= shape[a];
        }
        if *c < 0.4 && !keep(&idx) {
            v[j] = f64::NEG_INFINITY;
        }
    }
    match x.strip() {
        Value::Float(_) => Value::Float(v[0]),
        _ => value(Tensor::from_vec(v, &shape).expect("shape")),
    }
}

/// `f` with its -inf outputs replaced by 0, so `<u, f(x)>` stays finite.
fn finite_part(f: Fun) -> Fun {
    Rc::new(move |it, xs| {
        let y = f(it, xs)?;
        let finite: Vec<f64> = data(&y).iter().map(|v| f64::from(u8::from(v.is_finite()))).collect();
        let mask = match y.strip() {
            Value::Float(_) => Value::Float(finite[0]),
            _ => value(Tensor::from_vec(finite, &shape_of(&y)).expect("shape")),
        };
        ops::where_(&mask, &y, &Value::Float(0.0))
    })
}

fn fail(name: &str, what: &str, detail: String) -> TestCaseError {
    TestCaseError::fail(format!("{name}: {what}: {detail}"))
}

fn ok<T>(name: &str, r: R<T>) -> Result<T, TestCaseError> {
    r.map_err(|d| fail(name, "error", d.message.to_string()))
}

fn compare_all(name: &str, what: &str, a: &[Value], b: &[Value], rtol: f64, atol: f64) -> Result<(), TestCaseError> {
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        if shape_of(x) != shape_of(y) {
            return Err(fail(
                name,
                what,
                format!("input {k}: shape {:?} vs {:?}", shape_of(x), shape_of(y)),
            ));
        }
        for (j, (p, q)) in data(x).iter().zip(data(y)).enumerate() {
            if !close(*p, q, rtol, atol) {
                return Err(fail(name, what, format!("input {k} element {j}: {p} vs {q}")));
            }
        }
    }
    Ok(())
}

/// Checks properties (a), (b) and (c) for `f` at `xs`; `seed` draws `u` and `v`.
fn check(name: &str, f: &Fun, xs: &[Value], seed: u64) -> Result<(), TestCaseError> {
    let mut it = interp();
    let it = &mut it;
    let mut rng = Rng::new(seed);
    let y = ok(name, f(it, xs))?;
    let u = normal(&mut rng, &shape_of(&y));
    let vs: Vec<Value> = xs.iter().map(|x| normal(&mut rng, &shape_of(x))).collect();
    let s = |it: &mut Interp, xs: &[Value]| -> R<f64> { Ok(dot(&f(it, xs)?, &u)) };

    // (a) reverse mode against central differences, element by element.
    let g = ok(name, grad_s(it, f, xs, &u))?;
    let eps = 1e-6;
    let mut num = Vec::new();
    for (k, x) in xs.iter().enumerate() {
        let mut gk = Vec::new();
        for j in 0..data(x).len() {
            let mut plus = xs.to_vec();
            plus[k] = bump(x, j, eps);
            let mut minus = xs.to_vec();
            minus[k] = bump(x, j, -eps);
            gk.push((ok(name, s(it, &plus))? - ok(name, s(it, &minus))?) / (2.0 * eps));
        }
        num.push(match x.strip() {
            Value::Float(_) => Value::Float(gk[0]),
            _ => value(Tensor::from_vec(gk, &shape_of(x)).expect("shape")),
        });
    }
    compare_all(name, "reverse vs central differences", &g, &num, 1e-5, 1e-6)?;

    // (b) forward vs reverse: <J v, u> == <v, Jᵀ u>.
    let (ys, tys) = ok(name, jvp(it, &single(f), xs, &vs))?;
    compare_all(name, "forward-mode primal", &ys, std::slice::from_ref(&y), 0.0, 0.0)?;
    let jv_u = dot(&tys[0], &u);
    let v_jtu: f64 = vs.iter().zip(&g).map(|(v, g)| dot(v, g)).sum();
    if !close(jv_u, v_jtu, 1e-9, 1e-10) {
        return Err(fail(name, "<Jv,u> vs <v,J^T u>", format!("{jv_u} vs {v_jtu}")));
    }

    // (c) second order: H v three ways, against central differences of the gradient.
    let h = 1e-5;
    let xp: Vec<Value> = xs.iter().zip(&vs).map(|(x, v)| axpy(x, h, v)).collect();
    let xm: Vec<Value> = xs.iter().zip(&vs).map(|(x, v)| axpy(x, -h, v)).collect();
    let gp = ok(name, grad_s(it, f, &xp, &u))?;
    let gm = ok(name, grad_s(it, f, &xm, &u))?;
    let fd: Vec<Value> = gp
        .iter()
        .zip(&gm)
        .map(|(a, b)| {
            let d: Vec<f64> = data(a).iter().zip(data(b)).map(|(p, q)| (p - q) / (2.0 * h)).collect();
            match a.strip() {
                Value::Float(_) => Value::Float(d[0]),
                _ => value(Tensor::from_vec(d, &shape_of(a)).expect("shape")),
            }
        })
        .collect();
    let (rtol2, atol2) = (1e-5, 1e-5);
    // Reverse over reverse: grad of <grad s, v>.
    let inner_dot = |it: &mut Interp, xs: &[Value]| -> R<Vec<Value>> {
        let g = grad_s(it, f, xs, &u)?;
        let mut acc = Value::Float(0.0);
        for (gk, vk) in g.iter().zip(&vs) {
            acc = ops::add(&acc, &dot_v(gk, vk)?)?;
        }
        Ok(vec![acc])
    };
    let rr = ok(name, vjp(it, &inner_dot, xs, &[Value::Float(1.0)]))?.1;
    compare_all(name, "reverse-over-reverse H v", &rr, &fd, rtol2, atol2)?;
    // Forward over reverse: the tangent of grad s along v.
    let grad_fn = |it: &mut Interp, xs: &[Value]| grad_s(it, f, xs, &u);
    let fr = ok(name, jvp(it, &grad_fn, xs, &vs))?.1;
    compare_all(name, "forward-over-reverse H v", &fr, &fd, rtol2, atol2)?;
    // Reverse over forward: grad of <J v, u>.
    let jv_dot = |it: &mut Interp, xs: &[Value]| -> R<Vec<Value>> {
        let (_, t) = jvp(it, &single(f), xs, &vs)?;
        Ok(vec![dot_v(&t[0], &u)?])
    };
    let rf = ok(name, vjp(it, &jv_dot, xs, &[Value::Float(1.0)]))?.1;
    compare_all(name, "reverse-over-forward H v", &rf, &fd, rtol2, atol2)?;
    Ok(())
}

// ---------------------------------------------------------------- strategies

/// A shape of `lo..=hi` axes with sizes 1..=3 (so size-1 axes are common).
fn shape(lo: usize, hi: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, lo..=hi)
}

/// A shape that broadcasts to `base`: some leading axes dropped, some axes set to 1.
fn derived(base: &[usize], drop: usize, ones: &[bool]) -> Vec<usize> {
    let drop = drop.min(base.len());
    base[drop..]
        .iter()
        .zip(ones)
        .map(|(&d, &one)| if one { 1 } else { d })
        .collect()
}

/// Two shapes that broadcast together (either may be the smaller one).
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        shape(0, 3),
        0usize..=3,
        prop::collection::vec(any::<bool>(), 3),
        any::<bool>(),
    )
        .prop_map(|(base, drop, ones, swap)| {
            let d = derived(&base, drop, &ones);
            if swap {
                (d, base)
            } else {
                (base, d)
            }
        })
}

/// Reduction axes (`None`: all) for a shape, and keepdims.
fn reduction() -> impl Strategy<Value = (Vec<usize>, Option<Vec<usize>>, bool)> {
    (
        shape(0, 3),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 3),
        any::<bool>(),
    )
        .prop_map(|(s, all, pick, keep)| {
            let axes = if all {
                None
            } else {
                Some((0..s.len()).filter(|&i| pick[i]).collect())
            };
            (s, axes, keep)
        })
}

/// `n` increasing sample positions from about 0.1, at least 0.3 apart
/// (`interp`'s samples, `gradient`'s coordinates).
fn increasing(rng: &mut Rng, n: usize) -> Value {
    let steps = rng.uniform(&[n]).expect("small").to_vec();
    let xs: Vec<f64> = steps
        .iter()
        .scan(-0.2, |acc, u| {
            *acc += 0.3 + 0.3 * u;
            Some(*acc)
        })
        .collect();
    value(Tensor::from_vec(xs, &[n]).expect("shape"))
}

/// Points in `[-1, 3.5]` at least 0.02 from every sample and from every
/// sample's images under the period `p` (where `interp`'s slope jumps).
fn away_from_samples(rng: &mut Rng, shape: &[usize], samples: &[f64], p: f64) -> Value {
    let near = |x: f64| {
        samples.iter().any(|s| {
            let d = (x - s).rem_euclid(p);
            d < 0.02 || d > p - 0.02 || (x - s).abs() < 0.02
        })
    };
    let size: usize = shape.iter().product();
    let mut out = Vec::with_capacity(size);
    while out.len() < size {
        let x = -1.0 + 4.5 * rng.uniform(&[1]).expect("small").to_vec()[0];
        if !near(x) {
            out.push(x);
        }
    }
    value(Tensor::from_vec(out, shape).expect("shape"))
}

fn prim_fun(p: Prim) -> Fun {
    Rc::new(move |_, xs| apply(&p, xs))
}

/// A call of a builtin by name with positional and keyword arguments.
fn builtin_fun(name: &'static str, kw: Vec<(&'static str, Value)>) -> Fun {
    Rc::new(move |it, xs| {
        let f = it.builtins.get(name).cloned().expect("builtin exists");
        let mut args = Args::positional(xs.to_vec(), Default::default());
        args.kw = kw.iter().map(|(k, v)| (Rc::from(*k), v.clone())).collect();
        it.call(&f, args)
    })
}

/// `f` as a dp function value.
fn fn_value(f: &Fun) -> Value {
    let f = f.clone();
    dp::value::native::native("f", move |it, a: Args| f(it, &a.pos))
}

/// A call of a builtin from Rust with positional arguments.
fn call_builtin(it: &mut Interp, name: &str, pos: Vec<Value>) -> R<Value> {
    let b = it.builtins.get(name).cloned().expect("builtin exists");
    it.call(&b, Args::positional(pos, Default::default()))
}

/// `checkpoint(f)`: must have exactly `f`'s derivatives, in every mode and order.
fn checkpointed(f: Fun) -> Fun {
    Rc::new(move |it, xs| {
        let g = call_builtin(it, "checkpoint", vec![fn_value(&f)])?;
        it.call(&g, Args::positional(xs.to_vec(), Default::default()))
    })
}

/// `custom_jvp(f, rule)` with the true rule `jvp(f, primals, tangents)`: in
/// reverse mode the rule is transposed, so every property must hold as for `f`.
fn custom_jvp_of(f: Fun) -> Fun {
    Rc::new(move |it, xs| {
        let fv = fn_value(&f);
        let fv2 = fv.clone();
        let rule = dp::value::native::native("rule", move |it2, a: Args| {
            call_builtin(it2, "jvp", vec![fv2.clone(), a.pos[0].clone(), a.pos[1].clone()])
        });
        let g = call_builtin(it, "custom_jvp", vec![fv, rule])?;
        it.call(&g, Args::positional(xs.to_vec(), Default::default()))
    })
}

fn min_gap(vals: &[f64]) -> f64 {
    let mut s = vals.to_vec();
    s.sort_by(f64::total_cmp);
    s.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min)
}

fn axes_value(axes: &Option<Vec<usize>>) -> Value {
    match axes {
        None => Value::None,
        Some(a) => Value::tuple(a.iter().map(|&i| Value::Int(i as i64))),
    }
}

/// 32 cases from a fixed seed (deterministic runs); `PROPTEST_CASES` and
/// `PROPTEST_RNG_SEED` override either for a longer or different search.
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let env = |k: &str| std::env::var_os(k).is_some();
    ProptestConfig {
        cases: if env("PROPTEST_CASES") { default.cases } else { 32 },
        rng_seed: if env("PROPTEST_RNG_SEED") {
            default.rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(0x00d1_ff00)
        },
        failure_persistence: None,
        ..default
    }
}

// ---------------------------------------------------------------- properties

/// Every mode of the `IndexUpdate` primitive (`x.at[...]`).
const UPDATE_MODES: [dp_tensor::UpdateMode; 5] = [
    dp_tensor::UpdateMode::Set,
    dp_tensor::UpdateMode::Add,
    dp_tensor::UpdateMode::Mul,
    dp_tensor::UpdateMode::Max,
    dp_tensor::UpdateMode::Min,
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unary_ops(s in shape(0, 3), seed in any::<u64>()) {
        use UnaryOp::*;
        let mut rng = Rng::new(seed);
        let cases: Vec<(UnaryOp, Value)> = vec![
            (Neg, uni(&mut rng, &s, -2.0, 2.0)),
            (Exp, uni(&mut rng, &s, -2.0, 2.0)),
            (Log, uni(&mut rng, &s, 0.5, 2.0)),
            (Log1p, uni(&mut rng, &s, -0.5, 2.0)),
            (Expm1, uni(&mut rng, &s, -2.0, 2.0)),
            (Sqrt, uni(&mut rng, &s, 0.5, 2.0)),
            (Abs, away(&mut rng, &s, 0.2, 2.0)),
            (Sin, uni(&mut rng, &s, -3.0, 3.0)),
            (Cos, uni(&mut rng, &s, -3.0, 3.0)),
            (Tan, uni(&mut rng, &s, -1.2, 1.2)),
            (Tanh, uni(&mut rng, &s, -2.0, 2.0)),
            (Sigmoid, uni(&mut rng, &s, -3.0, 3.0)),
            (Relu, away(&mut rng, &s, 0.2, 2.0)),
            (Softplus, uni(&mut rng, &s, -3.0, 3.0)),
            (Recip, away(&mut rng, &s, 0.5, 2.0)),
            (Square, uni(&mut rng, &s, -2.0, 2.0)),
            (Sinh, uni(&mut rng, &s, -2.0, 2.0)),
            (Cosh, uni(&mut rng, &s, -2.0, 2.0)),
            (Asinh, uni(&mut rng, &s, -2.0, 2.0)),
            (Acosh, uni(&mut rng, &s, 1.2, 3.0)),
            (Atanh, uni(&mut rng, &s, -0.8, 0.8)),
            (Asin, uni(&mut rng, &s, -0.8, 0.8)),
            (Acos, uni(&mut rng, &s, -0.8, 0.8)),
            (Atan, uni(&mut rng, &s, -2.0, 2.0)),
            (Log2, uni(&mut rng, &s, 0.5, 2.0)),
            (Log10, uni(&mut rng, &s, 0.5, 2.0)),
            (Exp2, uni(&mut rng, &s, -2.0, 2.0)),
        ];
        for (op, x) in cases {
            check(op.name(), &prim_fun(Prim::Unary(dp::prim::Unary(op))), &[x], seed)?;
        }
    }

    /// sign/floor/round/isnan and comparisons have zero derivative (away from their jumps).
    #[test]
    fn nondifferentiable_ops((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = away(&mut rng, &sa, 0.1, 0.4);
        for op in [UnaryOp::Sign, UnaryOp::Floor, UnaryOp::Ceil, UnaryOp::Round, UnaryOp::IsNan, UnaryOp::IsFinite, UnaryOp::IsInf] {
            check(op.name(), &prim_fun(Prim::Unary(dp::prim::Unary(op))), std::slice::from_ref(&x), seed)?;
        }
        let a = uni(&mut rng, &sa, -2.0, 2.0);
        let b = uni(&mut rng, &sb, -2.0, 2.0);
        for op in [BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge] {
            let mut it = interp();
            let g = grad_s(&mut it, &prim_fun(Prim::Binary(dp::prim::Binary(op))), &[a.clone(), b.clone()], &normal(&mut rng, &shape_of(&ops::raw(&Prim::Binary(dp::prim::Binary(op)), &[a.clone(), b.clone()]).unwrap())));
            let g = ok("compare", g)?;
            prop_assert!(g.iter().all(|v| data(v).iter().all(|x| *x == 0.0)));
        }
        // Float `//` away from its jumps (a / b inside (1, 2)).
        let a = uni(&mut rng, &sa, 7.6, 13.5);
        let b = uni(&mut rng, &sb, 7.0, 7.5);
        check("//", &prim_fun(Prim::FloatFloorDiv(dp::prim::FloatFloorDiv)), &[a, b], seed)?;
    }

    #[test]
    fn checkpoint_and_custom_jvp_keep_derivatives((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let a = uni(&mut rng, &sa, -2.0, 2.0);
        let b = uni(&mut rng, &sb, 0.5, 2.0);
        // A composite of several primitives with broadcasting: tanh(a) * b / (1 + a^2).
        let f: Fun = Rc::new(|_, xs| {
            let num = ops::mul(&ops::unary(UnaryOp::Tanh, &xs[0])?, &xs[1])?;
            let den = ops::add(&Value::Float(1.0), &ops::mul(&xs[0], &xs[0])?)?;
            ops::div(&num, &den)
        });
        check("checkpoint(f)", &checkpointed(f.clone()), &[a.clone(), b.clone()], seed)?;
        check("custom_jvp(f, jvp of f)", &custom_jvp_of(f.clone()), &[a.clone(), b.clone()], seed)?;
        check("checkpoint(custom_jvp(f))", &checkpointed(custom_jvp_of(f)), &[a, b], seed)?;
    }

    #[test]
    fn binary_ops((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        use BinaryOp::*;
        let mut rng = Rng::new(seed);
        let mut cases = vec![
            (Add, uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0)),
            (Sub, uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0)),
            (Mul, uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0)),
            (Div, uni(&mut rng, &sa, -2.0, 2.0), away(&mut rng, &sb, 0.5, 2.0)),
            // Tensor exponents: both operands differentiated.
            (Pow, uni(&mut rng, &sa, 0.5, 2.0), uni(&mut rng, &sb, -2.0, 2.0)),
        ];
        let (a, b) = (uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0));
        // maximum/minimum away from ties (central differences need a gap).
        let diff = ops::raw(&Prim::Binary(dp::prim::Binary(Sub)), &[a.clone(), b.clone()]).unwrap();
        if data(&diff).iter().all(|d| d.abs() > 1e-3) {
            cases.push((Maximum, a.clone(), b.clone()));
            cases.push((Minimum, a, b));
        }
        for (op, a, b) in cases {
            check(op.symbol(), &prim_fun(Prim::Binary(dp::prim::Binary(op))), &[a, b], seed)?;
        }
    }

    /// `atan2(y, x)` with both operands differentiated, away from the origin.
    #[test]
    fn atan2_op((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let y = uni(&mut rng, &sa, -2.0, 2.0);
        let x = away(&mut rng, &sb, 0.5, 2.0);
        check("atan2", &prim_fun(Prim::Atan2(dp::prim::Atan2)), &[y, x], seed)?;
    }

    /// Float `%` with both operands differentiated, away from its jumps: a / b
    /// stays inside (1, 2) or (-2, -1), where the derivatives are 1 and
    /// -floor(a / b).
    #[test]
    fn float_mod_op((sa, sb) in broadcast_pair(), negative in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let (lo, hi) = if negative { (-13.5, -7.6) } else { (7.6, 13.5) };
        let a = uni(&mut rng, &sa, lo, hi);
        let b = uni(&mut rng, &sb, 7.0, 7.5);
        check("%", &prim_fun(Prim::FloatMod(dp::prim::FloatMod)), &[a, b], seed)?;
    }

    /// The composed elementwise builtins of issue 11 (away from their kinks).
    #[test]
    fn composed_elementwise((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = away(&mut rng, &sa, 0.2, 2.0);
        for name in ["sinc", "deg2rad", "rad2deg", "gelu", "silu", "leaky_relu", "elu", "log_sigmoid"] {
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&x), seed)?;
        }
        let a = away(&mut rng, &sa, 0.2, 2.0);
        let b = uni(&mut rng, &sb, -2.0, 2.0);
        let gap = |p: &Value, q: &Value| data(p).iter().zip(data(q)).all(|(u, v)| (u.abs() - v.abs()).abs() > 1e-3);
        let (ba, bb) = (ops::broadcast_to(&a, &shape_of(&ops::add(&a, &b).unwrap())).unwrap(), ops::broadcast_to(&b, &shape_of(&ops::add(&a, &b).unwrap())).unwrap());
        if gap(&ba, &bb) && data(&b).iter().all(|d| d.abs() > 1e-3) {
            check("hypot", &builtin_fun("hypot", vec![]), &[a.clone(), b.clone()], seed)?;
        }
        check("logaddexp", &builtin_fun("logaddexp", vec![]), &[a, b], seed)?;
    }

    /// The rearranging builtins of issue 11 (linear: composed of slices, takes, concats and transposes).
    #[test]
    fn arrange_ops(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = uni(&mut rng, &[2, 3], -2.0, 2.0);
        let i = Value::Int;
        let cases: Vec<(&'static str, Vec<(&'static str, Value)>)> = vec![
            ("flip", vec![]),
            ("roll", vec![("shift", i(2)), ("axis", i(1))]),
            ("rot90", vec![("k", i(3))]),
            ("pad", vec![("pad_width", i(1)), ("constant_values", Value::Float(2.0))]),
            ("repeat", vec![("repeats", Value::tuple([i(2), i(0), i(1)])), ("axis", i(1))]),
            ("tile", vec![("reps", Value::tuple([i(2), i(1), i(2)]))]),
            ("moveaxis", vec![("source", i(0)), ("destination", i(1))]),
            ("atleast_3d", vec![]),
        ];
        for (name, kw) in cases {
            check(name, &builtin_fun(name, kw), std::slice::from_ref(&x), seed)?;
        }
        // pad's modes that copy elements of `x` (gathers, widths past the axis length too).
        let widths = Value::tuple([Value::tuple([i(1), i(4)]), Value::tuple([i(3), i(0)])]);
        for mode in ["edge", "reflect", "symmetric", "wrap"] {
            let kw = vec![("pad_width", widths.clone()), ("mode", Value::str(mode))];
            check(&format!("pad mode={mode}"), &builtin_fun("pad", kw), std::slice::from_ref(&x), seed)?;
        }
    }

    /// Sorting and scans of issue 11: `sort`/`topk` (gathers at the sorting
    /// permutation, checked away from ties), `cumsum`/`cumprod`/`diff`
    /// (slices and concats; `cumprod` also with a zero), exact `gelu`, and
    /// their batching rules under `vmap`.
    #[test]
    fn sorting_and_scans(s in shape(1, 3), ax in 0usize..3, n in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let ax = Value::Int((ax % s.len()) as i64);
        let x = uni(&mut rng, &s, -2.0, 2.0);
        if min_gap(&data(&x)) > 0.05 {
            check("sort", &builtin_fun("sort", vec![("axis", ax.clone())]), std::slice::from_ref(&x), seed)?;
            let desc = vec![("axis", ax.clone()), ("descending", Value::Bool(true))];
            check("sort descending", &builtin_fun("sort", desc), std::slice::from_ref(&x), seed)?;
            let k = Value::Int(*s.last().unwrap_or(&1) as i64 / 2 + 1);
            let topk_values: Fun = Rc::new(move |it, xs| {
                let r = call_builtin(it, "topk", vec![xs[0].clone(), k.clone()])?;
                match r {
                    Value::Tuple(t) => Ok(t[0].clone()),
                    other => Ok(other),
                }
            });
            check("topk", &topk_values, std::slice::from_ref(&x), seed)?;
            let (bs, bax) = with_batch(&s, 0, n);
            let xb = uni(&mut rng, &bs, -2.0, 2.0);
            if min_gap(&data(&xb)) > 1e-9 {
                check_batch("sort", &builtin_fun("sort", vec![("axis", ax.clone())]), std::slice::from_ref(&xb), &[Some(bax)], 0, n)?;
                let desc = vec![("axis", ax.clone()), ("descending", Value::Bool(true))];
                check_batch("sort descending", &builtin_fun("sort", desc), std::slice::from_ref(&xb), &[Some(bax)], 0, n)?;
            }
        }
        let mut z = data(&x);
        z[0] = 0.0;
        let z = value(Tensor::from_vec(z, &s).unwrap());
        for name in ["cumsum", "cumprod", "diff"] {
            check(name, &builtin_fun(name, vec![("axis", ax.clone())]), std::slice::from_ref(&x), seed)?;
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&z), seed)?;
            let (bs, bax) = with_batch(&s, 0, n);
            let xb = uni(&mut rng, &bs, -2.0, 2.0);
            check_batch(name, &builtin_fun(name, vec![("axis", ax.clone())]), std::slice::from_ref(&xb), &[Some(bax)], 0, n)?;
        }
        check("gelu exact", &builtin_fun("gelu", vec![("approximate", Value::Bool(false))]), std::slice::from_ref(&x), seed)?;
    }

    /// `x ** c` for constant exponents, including the special-cased 0, 1 and 2.
    #[test]
    fn pow_constant_exponent(s in shape(0, 3), seed in any::<u64>(), e in prop::sample::select(vec![0.0, 1.0, 2.0, 3.0, -1.0, -2.0, -1.5, 0.5, 2.5])) {
        let mut rng = Rng::new(seed);
        let x = uni(&mut rng, &s, 0.5, 2.0);
        let f: Fun = Rc::new(move |_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Float(e)));
        check("pow const", &f, std::slice::from_ref(&x), seed)?;
        // Integral exponents also on negative bases.
        if e.fract() == 0.0 {
            check("pow const (negative base)", &f, &[away(&mut rng, &s, 0.5, 2.0)], seed)?;
        }
        // The same exponent as an int (integer_pow).
        if e.fract() == 0.0 {
            let n = e as i64;
            let fi: Fun = Rc::new(move |_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Int(n)));
            check("int pow", &fi, &[away(&mut rng, &s, 0.5, 2.0)], seed)?;
        }
        // A constant base with a differentiated exponent.
        let g: Fun = Rc::new(move |_, xs| ops::binary(BinaryOp::Pow, &Value::Float(1.7), &xs[0]));
        check("pow const base", &g, &[uni(&mut rng, &s, -2.0, 2.0)], seed)?;
        // Exponents 0..=3 are polynomials, smooth at a base of exactly 0 (x ** 0.0 has derivative 0 there).
        if e.fract() == 0.0 && e >= 0.0 {
            let zs = rng.uniform(&s).unwrap().to_vec();
            let x0: Vec<f64> = data(&x).iter().zip(zs).map(|(v, z)| if z < 0.5 { 0.0 } else { *v }).collect();
            let x0 = match x.strip() { Value::Float(_) => Value::Float(x0[0]), _ => value(Tensor::from_vec(x0, &s).unwrap()) };
            check("pow const at 0", &f, &[x0], seed)?;
        }
    }

    /// A constant tensor of exponents in 0..=3 (some exactly 0 or 1) over bases with exact zeros.
    #[test]
    fn pow_tensor_exponents_at_zero((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let b = value(rng.uniform(&sb).unwrap().map(|u| (u * 4.0).floor()));
        let zs = rng.uniform(&sa).unwrap().to_vec();
        let a: Vec<f64> = data(&uni(&mut rng, &sa, -2.0, 2.0)).iter().zip(zs).map(|(v, z)| if z < 0.5 { 0.0 } else { *v }).collect();
        let a = if sa.is_empty() { Value::Float(a[0]) } else { value(Tensor::from_vec(a, &sa).unwrap()) };
        let f: Fun = Rc::new(move |_, xs| ops::binary(BinaryOp::Pow, &xs[0], &b));
        check("pow tensor exponents at 0", &f, &[a], seed)?;
    }

    #[test]
    fn where_op(base in shape(0, 3), drops in prop::collection::vec(0usize..=3, 3), ones in prop::collection::vec(prop::collection::vec(any::<bool>(), 3), 3), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let sc = derived(&base, drops[0], &ones[0]);
        let sa = derived(&base, drops[1], &ones[1]);
        let sb = derived(&base, drops[2], &ones[2]);
        let c = value(rng.uniform(&sc).unwrap().map(|u| if u < 0.5 { 0.0 } else { 1.0 }));
        let f: Fun = Rc::new(move |_, xs| ops::where_(&c, &xs[0], &xs[1]));
        check("where", &f, &[uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0)], seed)?;
    }

    #[test]
    fn reductions((s, axes, keep) in reduction(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let axes_rc: Option<Rc<[usize]>> = axes.as_ref().map(|a| a.as_slice().into());
        let x = uni(&mut rng, &s, -2.0, 2.0);
        check("sum", &prim_fun(dp::prim::Reduce::prim(ReduceOp::Sum, axes_rc.clone(), keep)), std::slice::from_ref(&x), seed)?;
        let p = away(&mut rng, &s, 0.5, 1.5);
        check("prod", &prim_fun(dp::prim::Reduce::prim(ReduceOp::Prod, axes_rc.clone(), keep)), std::slice::from_ref(&p), seed)?;
        // With exact zeros (prod is a polynomial, so differences are still exact there).
        let zs = rng.uniform(&s).unwrap().to_vec();
        let pz: Vec<f64> = data(&p).iter().zip(zs).map(|(v, z)| if z < 0.4 { 0.0 } else { *v }).collect();
        let pz = match p { Value::Float(_) => Value::Float(pz[0]), _ => value(Tensor::from_vec(pz, &s).unwrap()) };
        check("prod with zeros", &prim_fun(dp::prim::Reduce::prim(ReduceOp::Prod, axes_rc.clone(), keep)), &[pz], seed)?;
        if !s.is_empty() {
            let axis = (seed % s.len() as u64) as usize;
            for reverse in [false, true] {
                check("cumsum", &prim_fun(Prim::Cumsum(dp::prim::Cumsum { axis, reverse })), std::slice::from_ref(&x), seed)?;
            }
        }
        if min_gap(&data(&x)) > 1e-3 {
            check("max", &prim_fun(dp::prim::Reduce::prim(ReduceOp::Max, axes_rc.clone(), keep)), std::slice::from_ref(&x), seed)?;
            check("min", &prim_fun(dp::prim::Reduce::prim(ReduceOp::Min, axes_rc, keep)), &[x], seed)?;
        }
    }

    /// `@` in every NumPy form: 1-d·1-d, matrix·vector, vector·matrix, batched with broadcast batch axes.
    #[test]
    fn matmul_forms(k in 1usize..=3, m in 1usize..=3, n in 1usize..=3, (ba, bb) in broadcast_pair(), a1 in any::<bool>(), b1 in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mut sa = if a1 { vec![] } else { ba[ba.len().saturating_sub(2)..].to_vec() };
        let mut sb = if b1 { vec![] } else { bb[bb.len().saturating_sub(2)..].to_vec() };
        if a1 { sa.push(k) } else { sa.extend([m, k]) }
        if b1 { sb.push(k) } else { sb.extend([k, n]) }
        let (a, b) = (uni(&mut rng, &sa, -2.0, 2.0), uni(&mut rng, &sb, -2.0, 2.0));
        check(&format!("matmul {sa:?}@{sb:?}"), &prim_fun(Prim::MatMul(dp::prim::MatMul)), &[a, b], seed)?;
    }

    #[test]
    fn transpose_op(perm in shape(1, 4).prop_flat_map(|s| { let n = s.len(); (Just(s), Just((0..n).collect::<Vec<_>>()).prop_shuffle()) }), seed in any::<u64>()) {
        let (s, p) = perm;
        let mut rng = Rng::new(seed);
        check("transpose", &prim_fun(Prim::Transpose(dp::prim::Transpose(p.into()))), &[uni(&mut rng, &s, -2.0, 2.0)], seed)?;
    }

    #[test]
    fn reshape_op(sp in shape(0, 3).prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())), ones in 0usize..=2, seed in any::<u64>()) {
        let (s, mut target) = sp;
        for _ in 0..ones { target.insert(target.len() / 2, 1) }
        let mut rng = Rng::new(seed);
        check("reshape", &prim_fun(Prim::Reshape(dp::prim::Reshape(target.into()))), &[uni(&mut rng, &s, -2.0, 2.0)], seed)?;
    }

    /// broadcast_to and its adjoint sum_to.
    #[test]
    fn broadcast_and_sum_to(base in shape(0, 3), drop in 0usize..=3, ones in prop::collection::vec(any::<bool>(), 3), seed in any::<u64>()) {
        let small = derived(&base, drop, &ones);
        let mut rng = Rng::new(seed);
        check("broadcast_to", &prim_fun(Prim::BroadcastTo(dp::prim::BroadcastTo(base.clone().into()))), &[uni(&mut rng, &small, -2.0, 2.0)], seed)?;
        check("sum_to", &prim_fun(Prim::SumTo(dp::prim::SumTo(small.into()))), &[uni(&mut rng, &base, -2.0, 2.0)], seed)?;
    }

    /// Basic slicing (indices, negative indices, ranges with negative steps, new axes) and its adjoint.
    #[test]
    fn slicing(s in shape(1, 3), raw_specs in prop::collection::vec((0u8..4, -4i64..4, -4i64..4, prop::sample::select(vec![-2i64, -1, 1, 2]), any::<bool>(), any::<bool>()), 0..=3), seed in any::<u64>()) {
        let mut specs = Vec::new();
        let mut axis = 0;
        for (kind, a, b, step, has_a, has_b) in raw_specs {
            if kind == 3 {
                specs.push(SliceSpec::NewAxis);
                continue;
            }
            if axis >= s.len() { break }
            let d = s[axis] as i64;
            specs.push(if kind == 0 {
                SliceSpec::Index(a.rem_euclid(2 * d) - d)
            } else {
                SliceSpec::Range { start: has_a.then_some(a), stop: has_b.then_some(b), step }
            });
            axis += 1;
        }
        let mut rng = Rng::new(seed);
        let x = uni(&mut rng, &s, -2.0, 2.0);
        let specs: Rc<[SliceSpec]> = specs.into();
        check(&format!("slice {specs:?}"), &prim_fun(Prim::Slice(dp::prim::Slice(specs.clone()))), std::slice::from_ref(&x), seed)?;
        let out_shape = shape_of(&ops::raw(&Prim::Slice(dp::prim::Slice(specs.clone())), &[x]).unwrap());
        let g = uni(&mut rng, &out_shape, -2.0, 2.0);
        check("slice_scatter", &prim_fun(Prim::SliceScatter(dp::prim::SliceScatter(specs, s.into()))), &[g], seed)?;
    }

    /// Gather (`take`, `x[idx]`) with repeated and negative indices, and its scatter-add adjoint.
    #[test]
    fn take_op(s in shape(1, 3), ax in 0usize..3, si in shape(0, 2), seed in any::<u64>()) {
        let axis = ax % s.len();
        let d = s[axis] as f64;
        let mut rng = Rng::new(seed);
        let idx = value(rng.uniform(&si).unwrap().map(|u| (u * 2.0 * d).floor() - d));
        let x = uni(&mut rng, &s, -2.0, 2.0);
        let i2 = idx.clone();
        let f: Fun = Rc::new(move |_, xs| apply(&Prim::Take(dp::prim::Take(axis)), &[xs[0].clone(), i2.clone()]));
        check("take", &f, std::slice::from_ref(&x), seed)?;
        let out_shape = shape_of(&ops::raw(&Prim::Take(dp::prim::Take(axis)), &[x, idx.clone()]).unwrap());
        let shape: Rc<[usize]> = s.into();
        let g: Fun = Rc::new(move |_, xs| apply(&Prim::TakeScatter(dp::prim::TakeScatter(axis, shape.clone())), &[xs[0].clone(), idx.clone()]));
        check("take_scatter", &g, &[uni(&mut rng, &out_shape, -2.0, 2.0)], seed)?;
    }

    /// `x.at[...].set/add/mul/max/min(v)` at flat positions: repeated
    /// positions for set (the last write wins), add (accumulates) and max/min
    /// (random values: no ties), distinct ones for mul.
    #[test]
    fn index_update_op(s in shape(0, 3), k in 0usize..=4, mode in 0u8..5, seed in any::<u64>()) {
        let n: usize = s.iter().product();
        let mut rng = Rng::new(seed);
        let mode = UPDATE_MODES[mode as usize];
        let draws = rng.uniform(&[k]).unwrap().to_vec();
        let mut pos: Vec<f64> = draws.iter().map(|u| (u * n as f64).floor()).collect();
        if mode == dp_tensor::UpdateMode::Mul {
            pos.sort_by(f64::total_cmp);
            pos.dedup();
        }
        let kk = pos.len();
        let pos = value(Tensor::from_vec(pos, &[kk]).unwrap());
        let x = uni(&mut rng, &s, -2.0, 2.0);
        let v = away(&mut rng, &[kk], 0.5, 2.0);
        let f: Fun = Rc::new(move |_, xs| apply(&Prim::IndexUpdate(dp::prim::IndexUpdate(mode)), &[xs[0].clone(), pos.clone(), xs[1].clone()]));
        check(mode.name(), &f, &[x, v], seed)?;
    }

    #[test]
    fn concat_op(s in shape(1, 3), ax in 0usize..3, lens in prop::collection::vec(1usize..=3, 1..=3), seed in any::<u64>()) {
        let axis = ax % s.len();
        let mut rng = Rng::new(seed);
        let xs: Vec<Value> = lens.iter().map(|&l| { let mut si = s.clone(); si[axis] = l; uni(&mut rng, &si, -2.0, 2.0) }).collect();
        check("concat", &prim_fun(Prim::Concat(dp::prim::Concat(axis))), &xs, seed)?;
    }

    /// stack, also of floats (the tensor literal `[a, b]`).
    #[test]
    fn stack_op(s in shape(0, 2), ax in 0usize..3, n in 1usize..=3, seed in any::<u64>()) {
        let axis = ax % (s.len() + 1);
        let mut rng = Rng::new(seed);
        let xs: Vec<Value> = (0..n).map(|_| uni(&mut rng, &s, -2.0, 2.0)).collect();
        check("stack", &prim_fun(Prim::Stack(dp::prim::Stack(axis))), &xs, seed)?;
    }

    /// softmax, log_softmax, logsumexp, mean, var, std as the builtins users call.
    #[test]
    fn composites((s, axes, keep) in reduction(), ax in 0usize..3, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = uni(&mut rng, &s, -2.0, 2.0);
        let axis = if s.is_empty() { Value::Int(-1) } else { Value::Int((ax % s.len()) as i64) };
        for name in ["softmax", "log_softmax"] {
            check(name, &builtin_fun(name, vec![("axis", axis.clone())]), std::slice::from_ref(&x), seed)?;
        }
        let red = vec![("axis", axes_value(&axes)), ("keepdims", Value::Bool(keep))];
        for name in ["logsumexp", "mean", "var", "nansum", "nanmean", "nanvar", "nanprod"] {
            check(name, &builtin_fun(name, red.clone()), std::slice::from_ref(&x), seed)?;
        }
        let mut red1 = red.clone();
        red1.push(("ddof", Value::Int(1)));
        let count1: usize = match &axes { None => s.iter().product(), Some(a) => a.iter().map(|&i| s[i]).product() };
        if count1 >= 2 {
            check("var ddof=1", &builtin_fun("var", red1.clone()), std::slice::from_ref(&x), seed)?;
            check("nanstd ddof=1", &builtin_fun("nanstd", red1), std::slice::from_ref(&x), seed)?;
        }
        // std needs a positive variance: at least two reduced elements.
        let count: usize = match &axes { None => s.iter().product(), Some(a) => a.iter().map(|&i| s[i]).product() };
        if count >= 2 {
            check("std", &builtin_fun("std", red), &[x], seed)?;
        }
    }

    /// The softmax family with -inf entries (masked logits); one entry per group stays finite.
    #[test]
    fn composites_with_neg_inf(s in shape(1, 3), ax in 0usize..3, keep in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let axis = ax % s.len();
        let x = uni(&mut rng, &s, -2.0, 2.0);
        let x = mask_neg_inf(&mut rng, &x, |i| i[axis] == 0);
        let a = Value::Int(axis as i64);
        check("softmax -inf", &builtin_fun("softmax", vec![("axis", a.clone())]), std::slice::from_ref(&x), seed)?;
        check("log_softmax -inf", &finite_part(builtin_fun("log_softmax", vec![("axis", a.clone())])), std::slice::from_ref(&x), seed)?;
        let red = vec![("axis", a), ("keepdims", Value::Bool(keep))];
        check("logsumexp -inf", &builtin_fun("logsumexp", red), &[x], seed)?;
    }

    #[test]
    fn cross_entropy_op(b in prop::option::of(1usize..=3), c in 1usize..=4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let (ls, ll): (Vec<usize>, Vec<usize>) = match b { Some(b) => (vec![b, c], vec![b]), None => (vec![c], vec![]) };
        let labels = value(rng.uniform(&ll).unwrap().map(|u| (u * c as f64).floor()));
        let lab = data(&labels);
        let l2 = labels.clone();
        let f: Fun = Rc::new(move |it, xs| builtin_fun("cross_entropy", vec![])(it, &[xs[0].clone(), labels.clone()]));
        let x = uni(&mut rng, &ls, -2.0, 2.0);
        check("cross_entropy", &f, std::slice::from_ref(&x), seed)?;
        // Logits masked with -inf anywhere but at the label: the loss and its derivatives stay finite.
        let masked = mask_neg_inf(&mut rng, &x, |i| {
            let row = if i.len() == 2 { i[0] } else { 0 };
            lab[row] as usize == i[i.len() - 1]
        });
        let mut it = interp();
        let y = ok("cross_entropy -inf", f(&mut it, std::slice::from_ref(&masked)))?;
        prop_assert!(data(&y)[0].is_finite(), "cross_entropy with -inf logits: {:?}", data(&y));
        let _ = l2;
        check("cross_entropy -inf", &f, &[masked], seed)?;
    }
}

/// `einsum` patterns as (subscripts, the letters naming each operand's axes);
/// an ellipsis's axes are named by the upper-case letters in front.
const EINSUM_PATTERNS: &[(&str, &[&str])] = &[
    ("ij,jk->ik", &["ij", "jk"]),
    ("ij,jk", &["ij", "jk"]),
    ("bij,bjk->bik", &["bij", "bjk"]),
    ("bij,bkj->bik", &["bij", "bkj"]),
    ("ii->", &["ii"]),
    ("ii->i", &["ii"]),
    ("iij->ji", &["iij"]),
    ("ij->", &["ij"]),
    ("ij->j", &["ij"]),
    ("i,i->", &["i", "i"]),
    ("i,j->ij", &["i", "j"]),
    ("ij,ij->ij", &["ij", "ij"]),
    ("i,ij,j->", &["i", "ij", "j"]),
    ("ij,jk,kl->il", &["ij", "jk", "kl"]),
    ("bn,anm,bm->ba", &["bn", "anm", "bm"]),
    ("...ij,...jk->...ik", &["XYij", "Yjk"]),
    ("...i,...i->...", &["Xi", "Xi"]),
    ("ii,i->i", &["ii", "i"]),
    ("ijk->kji", &["ijk"]),
];

/// The einsum builtin with fixed subscripts, as a function of its operands.
fn einsum_fun(spec: &'static str) -> Fun {
    Rc::new(move |it, xs| {
        let pos = std::iter::once(Value::Str(spec.into()))
            .chain(xs.iter().cloned())
            .collect();
        call_builtin(it, "einsum", pos)
    })
}

proptest! {
    #![proptest_config(config())]

    /// `norm` (issue 11) for every vector and matrix order, away from its
    /// kinks (elements away from 0; random matrices have distinct singular
    /// values, column and row sums), and under `vmap`.
    #[test]
    fn norm_orders(m in 1usize..=3, n in 1usize..=3, nb in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let f = |ord: Value, axis: Value| builtin_fun("norm", vec![("ord", ord), ("axis", axis)]);
        let v = away(&mut rng, &[m + 1], 0.3, 2.0);
        let ords = [Value::None, Value::Float(2.0), Value::Float(1.0), Value::Float(3.0), Value::Float(0.5), Value::Float(-1.5), Value::Str("inf".into()), Value::Str("-inf".into())];
        for ord in ords {
            if matches!(ord, Value::Str(_)) && min_gap(&data(&ops::unary(UnaryOp::Abs, &v).expect("abs"))) < 1e-3 {
                continue;
            }
            check(&format!("norm vector {ord:?}"), &f(ord, Value::None), std::slice::from_ref(&v), seed)?;
        }
        let x = away(&mut rng, &[2, m, n], 0.3, 2.0);
        let axes = Value::tuple([Value::Int(-2), Value::Int(-1)]);
        let ords = [Value::None, Value::Str("fro".into()), Value::Str("nuc".into()), Value::Float(2.0), Value::Float(-2.0), Value::Float(1.0), Value::Float(-1.0), Value::Str("inf".into()), Value::Str("-inf".into())];
        for ord in ords {
            check(&format!("norm matrix {ord:?}"), &f(ord.clone(), axes.clone()), std::slice::from_ref(&x), seed)?;
            let xb = away(&mut rng, &[nb, m, n], 0.3, 2.0);
            check_batch("norm matrix", &f(ord, axes.clone()), &[xb], &[Some(0)], 0, nb)?;
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// `einsum` (issue 11) is lowered to transpose, reshape, take, sum, mul and
    /// matmul: every pattern must have their derivatives in every mode and order,
    /// and batch under `vmap` (first operand batched, the others shared).
    #[test]
    fn einsum_patterns(which in 0usize..EINSUM_PATTERNS.len(), sizes in prop::collection::vec(1usize..=3, 5), n in 1usize..4, seed in any::<u64>()) {
        let (spec, terms) = EINSUM_PATTERNS[which];
        let mut rng = Rng::new(seed);
        let shape = |t: &str| -> Vec<usize> { t.chars().map(|c| sizes[c as usize % sizes.len()]).collect() };
        let xs: Vec<Value> = terms.iter().map(|t| uni(&mut rng, &shape(t), -2.0, 2.0)).collect();
        check(spec, &einsum_fun(spec), &xs, seed)?;
        let mut batched = xs.clone();
        batched[0] = uni(&mut rng, &with_batch(&shape(terms[0]), 0, n).0, -2.0, 2.0);
        let mut axes = vec![None; xs.len()];
        axes[0] = Some(0);
        check_batch(spec, &einsum_fun(spec), &batched, &axes, 0, n)?;
    }
}

// ---------------------------------------------------------------- kinks, exactly

fn t1(v: &[f64]) -> Value {
    value(Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap())
}

/// The gradient of `sum(f(x))` in reverse mode and in forward mode (one basis direction at a time).
fn both_modes(f: Fun, x: &Value) -> (Vec<f64>, Vec<f64>) {
    let mut it = interp();
    let y = f(&mut it, std::slice::from_ref(x)).unwrap();
    let ones = value(Tensor::full(&shape_of(&y), 1.0).unwrap());
    let rev = grad_s(&mut it, &f, std::slice::from_ref(x), &ones).unwrap();
    let n = data(x).len();
    let mut fwd = Vec::new();
    for j in 0..n {
        let e = bump(&ops::zeros_like(x).unwrap(), j, 1.0);
        let (_, t) = jvp(&mut it, &single(&f), std::slice::from_ref(x), &[e]).unwrap();
        fwd.push(data(&t[0]).iter().sum());
    }
    (data(&rev[0]), fwd)
}

fn assert_grad(f: Fun, x: &[f64], want: &[f64]) {
    let (rev, fwd) = both_modes(f, &t1(x));
    let same =
        |a: &[f64]| a.len() == want.len() && a.iter().zip(want).all(|(p, q)| p == q || (p.is_nan() && q.is_nan()));
    assert!(same(&rev), "reverse: {rev:?}, want {want:?}");
    assert!(same(&fwd), "forward: {fwd:?}, want {want:?}");
}

#[test]
fn kink_relu_abs_sqrt() {
    assert_grad(
        prim_fun(Prim::Unary(dp::prim::Unary(UnaryOp::Relu))),
        &[-1.0, 0.0, 2.0],
        &[0.0, 0.0, 1.0],
    );
    assert_grad(
        prim_fun(Prim::Unary(dp::prim::Unary(UnaryOp::Abs))),
        &[-1.0, 0.0, 2.0],
        &[-1.0, 1.0, 1.0],
    );
    // One element at a time: in forward mode a zero tangent times inf is nan (as in JAX).
    assert_grad(
        prim_fun(Prim::Unary(dp::prim::Unary(UnaryOp::Sqrt))),
        &[0.0],
        &[f64::INFINITY],
    );
    assert_grad(prim_fun(Prim::Unary(dp::prim::Unary(UnaryOp::Sqrt))), &[4.0], &[0.25]);
}

#[test]
fn kink_ties_split_equally() {
    // maximum/minimum: ties give half to each side.
    let y = t1(&[1.0, 2.0, 3.0]);
    let y2 = y.clone();
    assert_grad(
        Rc::new(move |_, xs| ops::binary(BinaryOp::Maximum, &xs[0], &y2)),
        &[0.0, 2.0, 5.0],
        &[0.0, 0.5, 1.0],
    );
    assert_grad(
        Rc::new(move |_, xs| ops::binary(BinaryOp::Minimum, &y, &xs[0])),
        &[0.0, 2.0, 5.0],
        &[1.0, 0.5, 0.0],
    );
    // max/min reductions: ties share the gradient equally.
    assert_grad(
        prim_fun(dp::prim::Reduce::prim(ReduceOp::Max, None, false)),
        &[3.0, 1.0, 3.0, 3.0],
        &[1.0 / 3.0, 0.0, 1.0 / 3.0, 1.0 / 3.0],
    );
    assert_grad(
        prim_fun(dp::prim::Reduce::prim(ReduceOp::Min, None, false)),
        &[1.0, 1.0, 3.0],
        &[0.5, 0.5, 0.0],
    );
    // clip at a bound (maximum then minimum, as jnp.clip): half.
    assert_grad(
        builtin_fun_clip(),
        &[-1.0, 0.0, 0.5, 1.0, 2.0],
        &[0.0, 0.5, 1.0, 0.5, 0.0],
    );
}

fn builtin_fun_clip() -> Fun {
    Rc::new(|it, xs| builtin_fun("clip", vec![])(it, &[xs[0].clone(), Value::Float(0.0), Value::Float(1.0)]))
}

#[test]
fn kink_where_routes_by_condition() {
    // where(x > 0, x, 0) at 0 routes to the zero branch; a nan in the unused branch's value does not leak
    // into the used one's gradient when the branch's own derivative is finite.
    let f: Fun = Rc::new(|_, xs| {
        let c = ops::binary(BinaryOp::Gt, &xs[0], &Value::Float(0.0))?;
        ops::where_(
            &c,
            &ops::mul(&xs[0], &Value::Float(3.0))?,
            &ops::mul(&xs[0], &Value::Float(-2.0))?,
        )
    });
    assert_grad(f, &[-1.0, 0.0, 1.0], &[-2.0, -2.0, 3.0]);
}

#[test]
fn kink_pow() {
    // d/db a**b at a = 0 is 0 (log(0) taken as 0):
    // jax.grad(lambda b: jnp.sum(jnp.array([0., 0., 2.]) ** b))(jnp.array([2., .5, 3.])) == [0, 0, 8 ln 2]
    let b_only: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &t1(&[0.0, 0.0, 2.0]), &xs[0]));
    assert_grad(b_only, &[2.0, 0.5, 3.0], &[0.0, 0.0, 8.0 * 2f64.ln()]);
    // d/da a**b is exactly 0 where b == 0 (a ** 0 is constant): 0 at a = 0 too,
    // where JAX's rule b * a**(b-1) gives 0 * inf = nan (HIPS autograd gives 0).
    let zero_exp: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Float(0.0)));
    assert_grad(zero_exp.clone(), &[0.0], &[0.0]);
    assert_grad(zero_exp, &[2.0], &[0.0]);
    let zero_texp: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &xs[0], &t1(&[0.0])));
    assert_grad(zero_texp, &[0.0], &[0.0]);
    let mixed: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &xs[0], &t1(&[0.0, 1.0, 2.0, 3.0])));
    assert_grad(mixed, &[0.0, 0.0, 0.0, 2.0], &[0.0, 1.0, 0.0, 12.0]);
    // An int exponent is JAX's integer_pow: exact, also at 0 and at high orders.
    // jax.grad(lambda a: a ** 0)(0.0) == 0; jax.grad(lambda a: a ** 2)(-3.0) == -6
    let int0: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Int(0)));
    assert_grad(int0, &[0.0, 2.0], &[0.0, 0.0]);
    let sq: Fun = Rc::new(|_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Int(2)));
    assert_grad(sq.clone(), &[0.0, -3.0], &[0.0, -6.0]);
    // Higher orders at 0: d²/da² a**2.0 = 2, d²/da² a**1.0 = 0, d³/da³ a**2.0 = 0 (JAX: nan for the last two).
    let second = |f: Fun| {
        let mut it = interp();
        let d1 = move |it: &mut Interp, xs: &[Value]| grad_s(it, &f, xs, &Value::Float(1.0));
        let d2 = vjp(&mut it, &d1, &[Value::Float(0.0)], &[Value::Float(1.0)]).unwrap().1;
        data(&d2[0])[0]
    };
    let third = |f: Fun| {
        let mut it = interp();
        let d1 = move |it: &mut Interp, xs: &[Value]| grad_s(it, &f, xs, &Value::Float(1.0));
        let d2 = move |it: &mut Interp, xs: &[Value]| Ok(vjp(it, &d1, xs, &[Value::Float(1.0)])?.1);
        let d3 = vjp(&mut it, &d2, &[Value::Float(0.0)], &[Value::Float(1.0)]).unwrap().1;
        data(&d3[0])[0]
    };
    let float_pow = |e: f64| -> Fun { Rc::new(move |_, xs| ops::binary(BinaryOp::Pow, &xs[0], &Value::Float(e))) };
    assert_eq!(third(sq), 0.0);
    assert_eq!(second(float_pow(2.0)), 2.0);
    assert_eq!(second(float_pow(1.0)), 0.0);
    assert_eq!(third(float_pow(2.0)), 0.0);
    assert_eq!(third(float_pow(3.0)), 6.0);
}

#[test]
fn kink_prod_with_zeros() {
    // jax.grad(jnp.prod)(jnp.array([2., 0., 3.])) == [0., 6., 0.]; with two zeros, all zero.
    let p = prim_fun(dp::prim::Reduce::prim(ReduceOp::Prod, None, false));
    assert_grad(p.clone(), &[2.0, 0.0, 3.0], &[0.0, 6.0, 0.0]);
    assert_grad(p, &[0.0, 0.0, 3.0], &[0.0, 0.0, 0.0]);
    // Second order through a zero: d²/dx0dx1 prod([x0, x1, x2]) = x2 at x1 = 0.
    let mut it = interp();
    let x = t1(&[2.0, 0.0, 3.0]);
    let pf = prim_fun(dp::prim::Reduce::prim(ReduceOp::Prod, None, false));
    let e0 = t1(&[1.0, 0.0, 0.0]);
    let grad_fn = |it: &mut Interp, xs: &[Value]| grad_s(it, &pf, xs, &Value::Float(1.0));
    let hv = jvp(&mut it, &grad_fn, &[x], &[e0]).unwrap().1;
    assert_eq!(data(&hv[0]), vec![0.0, 3.0, 0.0]);
    // Two zeros: the first derivative is 0 everywhere but the Hessian is not.
    // jax.hessian(jnp.prod)(jnp.array([0., 0., 3.]))[0] == [0., 3., 0.]
    let x = t1(&[0.0, 0.0, 3.0]);
    let hv = jvp(&mut it, &grad_fn, std::slice::from_ref(&x), &[t1(&[1.0, 0.0, 0.0])])
        .unwrap()
        .1;
    assert_eq!(data(&hv[0]), vec![0.0, 3.0, 0.0]);
    // Reverse over reverse agrees; third order: d³ prod / dx0 dx1 dx2 == 1.
    let dot_e0 = |it: &mut Interp, xs: &[Value]| -> R<Vec<Value>> {
        Ok(vec![dot_v(&grad_fn(it, xs)?[0], &t1(&[1.0, 0.0, 0.0]))?])
    };
    let h0 = vjp(&mut it, &dot_e0, std::slice::from_ref(&x), &[Value::Float(1.0)])
        .unwrap()
        .1;
    assert_eq!(data(&h0[0]), vec![0.0, 3.0, 0.0]);
    let third = |it: &mut Interp, xs: &[Value]| -> R<Vec<Value>> {
        let h = vjp(it, &dot_e0, xs, &[Value::Float(1.0)])?.1;
        Ok(vec![dot_v(&h[0], &t1(&[0.0, 1.0, 0.0]))?])
    };
    let d3 = vjp(&mut it, &third, &[x], &[Value::Float(1.0)]).unwrap().1;
    assert_eq!(data(&d3[0]), vec![0.0, 0.0, 1.0]);
}

/// Perturbation confusion: the inner level treats the outer tracer as a constant.
#[test]
fn nested_levels_do_not_confuse_perturbations() {
    // grad(|x| x * grad(|y| x * y)(2.0))(3.0) == 6.0 (JAX: 6.0).
    let inner = |it: &mut Interp, x: &Value| -> R<Value> {
        let x = x.clone();
        let f: Fun = Rc::new(move |_, ys| ops::mul(&x, &ys[0]));
        Ok(grad_s(it, &f, &[Value::Float(2.0)], &Value::Float(1.0))?.remove(0))
    };
    let outer: Fun = Rc::new(move |it, xs| ops::mul(&xs[0], &inner(it, &xs[0])?));
    let mut it = interp();
    let g = grad_s(&mut it, &outer, &[Value::Float(3.0)], &Value::Float(1.0)).unwrap();
    assert_eq!(data(&g[0]), vec![6.0]);
    // The same with forward mode inside reverse mode and reverse inside forward.
    let (_, t) = jvp(&mut it, &single(&outer), &[Value::Float(3.0)], &[Value::Float(1.0)]).unwrap();
    assert_eq!(data(&t[0]), vec![6.0]);
}

/// Levels are never reused: a closure that escaped one differentiation (and
/// captured its tracer) is not confused with a later one.
#[test]
fn levels_are_never_reused() {
    let mut it = interp();
    let src = "let (g, t) = jvp(|x| |y| x * y, (3.0,), (1.0,)); grad(g)(2.0)";
    let v = it
        .run_source("<levels>", src, None)
        .expect("program runs")
        .expect("a value");
    assert_eq!(v.repr(), "3.0");
    let a = start_forward(&it.diff).level.id;
    let b = start_forward(&it.diff).level.id;
    assert!(b > a, "level numbers only grow");
}

// ---------------------------------------------------------------- linear algebra

/// A stack of well-conditioned (diagonally dominant) `n x n` matrices.
fn dominant(rng: &mut Rng, batch: &[usize], n: usize) -> Value {
    let mut s = batch.to_vec();
    s.extend([n, n]);
    let x = uni(rng, &s, -1.0, 1.0);
    let d = value(Tensor::eye(n).unwrap().map(|e| e * (n as f64 + 1.0)));
    ops::add(&x, &d).unwrap()
}

/// Composes a builtin after `pre` (a function of the inputs).
fn after(name: &'static str, kw: Vec<(&'static str, Value)>, pre: fn(&[Value]) -> R<Vec<Value>>) -> Fun {
    let f = builtin_fun(name, kw);
    Rc::new(move |it, xs| f(it, &pre(xs)?))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn linalg_solve_family(n in 1usize..=3, k in 1usize..=2, batch in prop::option::of(1usize..=2), vec_b in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let bs: Vec<usize> = batch.into_iter().collect();
        let a = dominant(&mut rng, &bs, n);
        let b = if vec_b { uni(&mut rng, &[n], -1.0, 1.0) } else { uni(&mut rng, &[n, k], -1.0, 1.0) };
        check("solve", &builtin_fun("solve", vec![]), &[a.clone(), b.clone()], seed)?;
        for name in ["inv", "det"] {
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&a), seed)?;
        }
        let logabs: Fun = {
            let f = builtin_fun("slogdet", vec![]);
            Rc::new(move |it, xs| match f(it, xs)? {
                Value::Tuple(t) => Ok(t[1].clone()),
                other => Ok(other),
            })
        };
        check("slogdet", &logabs, std::slice::from_ref(&a), seed)?;
        for lower in [true, false] {
            for trans in [true, false] {
                for unit in [true, false] {
                    let left = rng.uniform(&[]).unwrap().item().unwrap() < 0.5 || vec_b;
                    let bb = if left { b.clone() } else { ops::transpose(&b, &[1, 0]).unwrap() };
                    let kw = vec![("lower", Value::Bool(lower)), ("trans", Value::Bool(trans)), ("unit_diagonal", Value::Bool(unit)), ("left_side", Value::Bool(left))];
                    check(&format!("solve_triangular l={lower} t={trans} u={unit} left={left}"), &builtin_fun("solve_triangular", kw), &[a.clone(), bb], seed)?;
                }
            }
        }
        // Cholesky of a symmetric positive definite function of a.
        let spd = after("cholesky", vec![], |xs| {
            let a = &xs[0];
            let s = shape_of(a);
            let nd = s.len();
            let mut perm: Vec<usize> = (0..nd).collect();
            perm.swap(nd - 2, nd - 1);
            Ok(vec![ops::arith::matmul(a, &ops::transpose(a, &perm)?)?])
        });
        check("cholesky", &spd, &[a], seed)?;
    }
}

/// Output `k` of a builtin returning a tuple.
fn output(name: &'static str, kw: Vec<(&'static str, Value)>, k: usize) -> Fun {
    let f = builtin_fun(name, kw);
    Rc::new(move |it, xs| match f(it, xs)? {
        Value::Tuple(t) => Ok(t[k].clone()),
        other => Ok(other),
    })
}

/// `x` plus an `m x n` matrix with `1, 2, 3, ...` on its diagonal: spreads
/// eigen- and singular values apart so their derivatives are well defined.
fn spread(rng: &mut Rng, batch: &[usize], m: usize, n: usize) -> Value {
    let mut s = batch.to_vec();
    s.extend([m, n]);
    let x = uni(rng, &s, -0.3, 0.3);
    let mut d = vec![0.0; m * n];
    for i in 0..m.min(n) {
        d[i * n + i] = (i + 1) as f64 * 1.5;
    }
    ops::add(&x, &value(Tensor::from_vec(d, &[m, n]).unwrap())).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn linalg_spectral(n in 1usize..=3, extra in 0usize..=2, batch in prop::option::of(1usize..=2), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let bs: Vec<usize> = batch.into_iter().collect();
        // eigh of a symmetric function of x (eigh reads one triangle).
        let a = spread(&mut rng, &bs, n, n);
        for k in 0..2 {
            let f = output("eigh", vec![], k);
            let sym: Fun = Rc::new(move |it, xs| {
                let nd = shape_of(&xs[0]).len();
                let mut perm: Vec<usize> = (0..nd).collect();
                perm.swap(nd - 2, nd - 1);
                f(it, &[ops::add(&xs[0], &ops::transpose(&xs[0], &perm)?)?])
            });
            check(&format!("eigh output {k}"), &sym, std::slice::from_ref(&a), seed)?;
        }
        for (m, nn) in [(n + extra, n), (n, n + extra)] {
            let x = spread(&mut rng, &bs, m, nn);
            for k in 0..3 {
                check(&format!("svd {m}x{nn} output {k}"), &output("svd", vec![("full_matrices", Value::Bool(false))], k), std::slice::from_ref(&x), seed)?;
            }
        }
        let x = spread(&mut rng, &bs, n + extra, n);
        for k in 0..2 {
            check(&format!("qr output {k}"), &output("qr", vec![], k), std::slice::from_ref(&x), seed)?;
            // With column pivoting: the QR of the permuted columns, p held fixed.
            let pivoting = vec![("pivoting", Value::Bool(true))];
            check(&format!("qr pivoting output {k}"), &output("qr", pivoting, k), std::slice::from_ref(&x), seed)?;
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn linalg_least_squares(n in 1usize..=3, extra in 0usize..=2, k in 1usize..=2, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        for (m, nn) in [(n + extra, n), (n, n + extra)] {
            let x = spread(&mut rng, &[], m, nn);
            check(&format!("pinv {m}x{nn}"), &builtin_fun("pinv", vec![]), std::slice::from_ref(&x), seed)?;
        }
        let a = spread(&mut rng, &[], n + extra, n);
        let b = uni(&mut rng, &[n + extra, k], -1.0, 1.0);
        check("lstsq x", &output("lstsq", vec![], 0), &[a.clone(), b.clone()], seed)?;
        if extra > 0 {
            check("lstsq residuals", &output("lstsq", vec![], 1), &[a, b], seed)?;
        }
        let sq = dominant(&mut rng, &[], n);
        let sq = ops::scale(&sq, 1.0 / (n as f64 + 1.0)).unwrap();
        for p in [-2i64, -1, 0, 1, 2, 3] {
            let f = builtin_fun("matrix_power", vec![]);
            let fp: Fun = Rc::new(move |it, xs| f(it, &[xs[0].clone(), Value::Int(p)]));
            check(&format!("matrix_power {p}"), &fp, std::slice::from_ref(&sq), seed)?;
        }
    }

    #[test]
    fn special_functions(s in shape(0, 3), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let x = uni(&mut rng, &s, -2.0, 2.0);
        for name in ["erf", "erfc"] {
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&x), seed)?;
        }
        let pos = uni(&mut rng, &s, 0.3, 4.0);
        for name in ["lgamma", "digamma"] {
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&pos), seed)?;
        }
        // The Bessel functions on both sides of the scaled forms' kink at 0.
        let neg = uni(&mut rng, &s, -4.0, -0.3);
        for name in ["i0", "i1", "i0e", "i1e"] {
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&pos), seed)?;
            check(name, &builtin_fun(name, vec![]), std::slice::from_ref(&neg), seed)?;
        }
    }

    /// NumPy functions of issue 11 in every differentiable argument:
    /// `interp` (points kept away from the samples and their periodic
    /// images, where the slope jumps), `gradient` (uneven coordinates, both
    /// edge orders), `partition` (away from ties), and their batching rules
    /// under `vmap` over each argument.
    #[test]
    fn interp_gradient_partition(s in shape(1, 2), n in 1usize..4, edge in 1i64..=2, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let xp = increasing(&mut rng, 4);
        let fp = normal(&mut rng, &[4]);
        let x = away_from_samples(&mut rng, &s, &data(&xp), 2.5);
        let f = builtin_fun("interp", vec![]);
        check("interp", &f, &[x.clone(), xp.clone(), fp.clone()], seed)?;
        let fper = builtin_fun("interp", vec![("period", Value::Float(2.5))]);
        check("interp period", &fper, &[x.clone(), xp.clone(), fp.clone()], seed)?;
        let (bs, _) = with_batch(&s, 0, n);
        let xb = away_from_samples(&mut rng, &bs, &data(&xp), 2.5);
        let xpb = ok("stack", apply(&Prim::Stack(dp::prim::Stack(0)), &(0..n).map(|_| increasing(&mut rng, 4)).collect::<Vec<_>>()))?;
        let fpb = normal(&mut rng, &[n, 4]);
        check_batch("interp x", &f, &[xb.clone(), xp.clone(), fp.clone()], &[Some(0), None, None], 0, n)?;
        check_batch("interp fp", &f, &[x.clone(), xp.clone(), fpb.clone()], &[None, None, Some(0)], 0, n)?;
        check_batch("interp xp", &f, &[x.clone(), xpb.clone(), fp.clone()], &[None, Some(0), None], 0, n)?;
        check_batch("interp all", &fper, &[xb, xpb.clone(), fpb], &[Some(0), Some(0), Some(0)], 0, n)?;

        let rows = s[0] + 2;
        let y = normal(&mut rng, &[rows, 4]);
        let g = builtin_fun("gradient", vec![("axis", Value::Int(1)), ("edge_order", Value::Int(edge))]);
        check("gradient coordinates", &g, &[y.clone(), xp.clone()], seed)?;
        let g0 = builtin_fun("gradient", vec![("axis", Value::Int(0)), ("edge_order", Value::Int(edge))]);
        check("gradient step", &g0, &[y.clone(), Value::Float(0.7)], seed)?;
        check_batch("gradient coordinates", &g, &[y.clone(), xpb], &[None, Some(0)], 0, n)?;

        let v = uni(&mut rng, &[5], -2.0, 2.0);
        if min_gap(&data(&v)) > 0.05 {
            let p = builtin_fun("partition", vec![("kth", Value::Int(edge))]);
            check("partition", &p, std::slice::from_ref(&v), seed)?;
        }
    }
}

// ------------------------------------------------- convolution and pooling

/// A `Conv` primitive of the given role (the adjoints need their result shape).
fn conv_prim(role: dp::prim::ConvRole, spec: dp_tensor::ConvSpec, shape: &[usize]) -> Fun {
    prim_fun(Prim::Conv(dp::prim::Conv {
        role,
        spec,
        shape: Rc::from(shape.to_vec()),
    }))
}

/// A `Pool` primitive of the given role whose second argument (the argmax
/// source) is held fixed at `x`.
fn pool_with(role: dp::prim::PoolRole, spec: dp_tensor::PoolSpec, x: Value) -> Fun {
    let p = Prim::Pool(dp::prim::Pool {
        role,
        spec,
        shape: Rc::from(vec![]),
    });
    Rc::new(move |_, xs| apply(&p, &[xs[0].clone(), x.clone()]))
}

fn pair(v: usize) -> Value {
    Value::tuple([Value::Int(v as i64), Value::Int(1)])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn convolution(n in 1usize..=2, cg in 1usize..=2, og in 1usize..=2, groups in 1usize..=2,
                   k in 1usize..=3, stride in 1usize..=2, pad in 0usize..=1, dil in 1usize..=2,
                   extra in 0usize..=2, seed in any::<u64>()) {
        use dp::prim::ConvRole;
        let mut rng = Rng::new(seed);
        let (c, o) = (cg * groups, og * groups);
        let size = dil * (k - 1) + 1 + extra;
        let x = normal(&mut rng, &[n, c, size, size + 1]);
        let w = normal(&mut rng, &[o, cg, k, 2]);
        let kw = vec![
            ("stride", pair(stride)),
            ("padding", Value::Int(pad as i64)),
            ("dilation", pair(dil)),
            ("groups", Value::Int(groups as i64)),
        ];
        check("conv2d", &builtin_fun("conv2d", kw.clone()), &[x.clone(), w.clone()], seed)?;
        // A nonlinearity after the convolution makes the second order non-trivial.
        let f = builtin_fun("conv2d", kw);
        let sin_conv: Fun = Rc::new(move |it, xs| ops::unary(UnaryOp::Sin, &f(it, xs)?));
        check("sin(conv2d)", &sin_conv, &[x.clone(), w.clone()], seed)?;
        // The two adjoints as primitives of their own (the VJP of conv and
        // the rules of each other), first and second order.
        let spec = dp_tensor::ConvSpec {
            stride: [stride, 1],
            padding: [[pad, pad], [pad, pad]],
            dilation: [dil, 1],
            groups,
        };
        let y = ops::as_tensor(&apply(&Prim::Conv(dp::prim::Conv { role: ConvRole::Forward, spec, shape: Rc::from(vec![]) }), &[x.clone(), w.clone()]).unwrap()).unwrap();
        let g = normal(&mut rng, y.shape());
        check("conv input grad", &conv_prim(ConvRole::InputGrad, spec, &shape_of(&x)), &[g.clone(), w.clone()], seed)?;
        check("conv weight grad", &conv_prim(ConvRole::WeightGrad, spec, &shape_of(&w)), &[x.clone(), g], seed)?;
        // 1-d, with "same" padding.
        let x1 = normal(&mut rng, &[n, c, size + 2]);
        let w1 = normal(&mut rng, &[o, cg, k]);
        let kw1 = vec![("stride", Value::Int(stride as i64)), ("padding", Value::Str(Rc::from("same"))), ("groups", Value::Int(groups as i64))];
        check("conv1d", &builtin_fun("conv1d", kw1), &[x1, w1], seed)?;
    }

    #[test]
    fn pooling(n in 1usize..=2, c in 1usize..=2, k in 1usize..=3, stride in 1usize..=3, pad in 0usize..=1,
               extra in 0usize..=3, seed in any::<u64>()) {
        use dp::prim::PoolRole;
        let mut rng = Rng::new(seed);
        let pad = pad.min(k / 2);
        let x = normal(&mut rng, &[n, c, k + extra, k + 1]);
        let kw = vec![("stride", Value::Int(stride as i64)), ("padding", Value::Int(pad as i64))];
        for name in ["max_pool2d", "avg_pool2d"] {
            let f = builtin_fun(name, kw.clone());
            let fk: Fun = Rc::new(move |it, xs| f(it, &[xs[0].clone(), Value::Int(k as i64)]));
            check(name, &fk, std::slice::from_ref(&x), seed)?;
            // Squared, so the second order is not zero.
            let sq: Fun = Rc::new(move |it, xs| { let y = fk(it, xs)?; ops::mul(&y, &y) });
            check(&format!("{name} squared"), &sq, std::slice::from_ref(&x), seed)?;
        }
        let x1 = normal(&mut rng, &[n, c, k + extra + 1]);
        for name in ["max_pool1d", "avg_pool1d"] {
            let f = builtin_fun(name, kw.clone());
            let fk: Fun = Rc::new(move |it, xs| f(it, &[xs[0].clone(), Value::Int(k as i64)]));
            check(name, &fk, std::slice::from_ref(&x1), seed)?;
        }
        // The max-pool adjoints, linear in their first argument, with the argmax source fixed.
        let spec = dp_tensor::PoolSpec { size: [k, k], stride: [stride, stride], padding: [[pad, pad], [pad, pad]] };
        let y = ops::as_tensor(&apply(&Prim::Pool(dp::prim::Pool { role: PoolRole::Max, spec, shape: Rc::from(vec![]) }), std::slice::from_ref(&x)).unwrap()).unwrap();
        let v = normal(&mut rng, &shape_of(&x));
        check("max_pool gather", &pool_with(PoolRole::MaxGather, spec, x.clone()), &[v], seed)?;
        let g = normal(&mut rng, y.shape());
        check("max_pool scatter", &pool_with(PoolRole::MaxScatter, spec, x.clone()), &[g], seed)?;
    }
}

#[test]
fn max_pool_ties_route_to_the_first_maximum() {
    // Two equal maxima in the window: the whole gradient goes to the first (PyTorch, XLA).
    let f = builtin_fun("max_pool2d", vec![]);
    let fk: Fun = Rc::new(move |it, xs| f(it, &[ops::reshape(&xs[0], &[1, 1, 2, 2])?, Value::Int(2)]));
    let fk2: Fun = Rc::new(move |it, xs| ops::reshape(&fk(it, xs)?, &[]));
    assert_grad(fk2, &[1.0, 3.0, 3.0, 2.0], &[0.0, 1.0, 0.0, 0.0]);
}

// ------------------------------------------------------------------ batching

/// Example `i` of a batched `x`: `x[(:,) * axis + (i,)]`.
fn example(x: &Value, axis: usize, i: usize) -> Value {
    let mut specs = vec![SliceSpec::full(); axis];
    specs.push(SliceSpec::Index(i as i64));
    ops::raw(&Prim::Slice(dp::prim::Slice(specs.into())), std::slice::from_ref(x)).expect("in range")
}

/// `vmap(f, in_axes, out_axes)(xs)` equals `f` applied to each example,
/// stacked along `out_axis` (the batching rule against the definition).
fn check_batch(
    name: &str,
    f: &Fun,
    xs: &[Value],
    axes: &[Option<usize>],
    out_axis: usize,
    n: usize,
) -> Result<(), TestCaseError> {
    let mut it = interp();
    let in_axes = Value::tuple(axes.iter().map(|a| a.map_or(Value::None, |a| Value::Int(a as i64))));
    let vf = ok(
        name,
        call_builtin(&mut it, "vmap", vec![fn_value(f), in_axes, Value::Int(out_axis as i64)]),
    )?;
    let got = ok(name, it.call(&vf, Args::positional(xs.to_vec(), Default::default())))?;
    let mut per = Vec::new();
    for i in 0..n {
        let ex: Vec<Value> = xs
            .iter()
            .zip(axes)
            .map(|(x, a)| a.map_or(x.clone(), |a| example(x, a, i)))
            .collect();
        per.push(ok(name, f(&mut it, &ex))?);
    }
    let want = ok(name, apply(&Prim::Stack(dp::prim::Stack(out_axis)), &per))?;
    if shape_of(&got) != shape_of(&want) {
        return Err(fail(
            name,
            "vmap shape",
            format!("{:?} vs {:?}", shape_of(&got), shape_of(&want)),
        ));
    }
    compare_all(name, "vmap", &[got], &[want], 1e-12, 1e-12)
}

/// `shape` with a batch axis of `n` inserted at `axis` (clamped to the rank).
fn with_batch(shape: &[usize], axis: usize, n: usize) -> (Vec<usize>, usize) {
    let a = axis.min(shape.len());
    let mut s = shape.to_vec();
    s.insert(a, n);
    (s, a)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn batching_elementwise_and_binary((sa, sb) in broadcast_pair(), n in 1usize..4, ax in 0usize..3, bx in 0usize..3, which in 0usize..3, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let (ba, aa) = with_batch(&sa, ax, n);
        let (bb, ab) = with_batch(&sb, bx, n);
        // which: 0 both batched, 1 only a, 2 only b.
        let (xa, axa) = if which == 2 { (uni(&mut rng, &sa, 0.5, 2.0), None) } else { (uni(&mut rng, &ba, 0.5, 2.0), Some(aa)) };
        let (xb, axb) = if which == 1 { (uni(&mut rng, &sb, 0.5, 2.0), None) } else { (uni(&mut rng, &bb, 0.5, 2.0), Some(ab)) };
        let out = ax.min(sa.len().max(sb.len()));
        for op in [UnaryOp::Exp, UnaryOp::Tanh, UnaryOp::Log, UnaryOp::Sqrt] {
            if let Some(a) = axa {
                check_batch(op.name(), &prim_fun(Prim::Unary(dp::prim::Unary(op))), std::slice::from_ref(&xa), &[Some(a)], out.min(sa.len()), n)?;
            }
        }
        for op in [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Gt] {
            check_batch(op.symbol(), &prim_fun(Prim::Binary(dp::prim::Binary(op))), &[xa.clone(), xb.clone()], &[axa, axb], out, n)?;
        }
        check_batch("atan2", &prim_fun(Prim::Atan2(dp::prim::Atan2)), &[xa.clone(), xb.clone()], &[axa, axb], out, n)?;
        check_batch("%", &prim_fun(Prim::FloatMod(dp::prim::FloatMod)), &[xa.clone(), xb.clone()], &[axa, axb], out, n)?;
        check_batch("//", &prim_fun(Prim::FloatFloorDiv(dp::prim::FloatFloorDiv)), &[xa.clone(), xb.clone()], &[axa, axb], out, n)?;
        let c = ops::raw(&Prim::Binary(dp::prim::Binary(BinaryOp::Gt)), &[xa.clone(), Value::Float(1.0)]).expect("compare");
        check_batch("where", &prim_fun(Prim::Where(dp::prim::Where)), &[c, xa.clone(), xb.clone()], &[axa, axa, axb], out, n)?;
    }

    #[test]
    fn batching_reductions_and_shapes((s, axes, keep) in reduction(), n in 1usize..4, ax in 0usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let (bs, a) = with_batch(&s, ax, n);
        let x = uni(&mut rng, &bs, 0.5, 2.0);
        for op in [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min] {
            let p = dp::prim::Reduce::prim(op, axes.clone().map(Rc::from), keep);
            check_batch(op.name(), &prim_fun(p), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
        }
        let perm: Vec<usize> = (0..s.len()).rev().collect();
        check_batch("transpose", &prim_fun(Prim::Transpose(dp::prim::Transpose(perm.into()))), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
        let flat: usize = s.iter().product();
        check_batch("reshape", &prim_fun(Prim::Reshape(dp::prim::Reshape(vec![flat].into()))), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
        let mut big = vec![2];
        big.extend(s.iter().copied());
        check_batch("broadcast_to", &prim_fun(Prim::BroadcastTo(dp::prim::BroadcastTo(big.into()))), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
        if !s.is_empty() {
            let last = s.len() - 1;
            let mut keep1 = s.clone();
            keep1[0] = 1;
            check_batch("sum_to", &prim_fun(Prim::SumTo(dp::prim::SumTo(keep1.into()))), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
            check_batch("slice", &prim_fun(Prim::Slice(dp::prim::Slice(vec![SliceSpec::Range { start: Some(0), stop: None, step: 2 }].into()))), std::slice::from_ref(&x), &[Some(a)], 0, n)?;
            check_batch("concat", &prim_fun(Prim::Concat(dp::prim::Concat(last))), &[x.clone(), x.clone()], &[Some(a), Some(a)], 0, n)?;
            check_batch("stack", &prim_fun(Prim::Stack(dp::prim::Stack(last))), &[x.clone(), uni(&mut rng, &s, 0.0, 1.0)], &[Some(a), None], 0, n)?;
            let d = s[last];
            let idx = value(rng.uniform(&[n, 3]).expect("small").map(|u| (u * d as f64).floor()));
            check_batch("take batched indices", &prim_fun(Prim::Take(dp::prim::Take(last))), &[x.clone(), idx.clone()], &[Some(a), Some(0)], 0, n)?;
            let idx0 = example(&idx, 0, 0);
            check_batch("take shared indices", &prim_fun(Prim::Take(dp::prim::Take(last))), &[x.clone(), idx0], &[Some(a), None], 0, n)?;
        }
    }

    #[test]
    fn batching_matmul_and_solve(m in 1usize..4, k in 1usize..4, p in 1usize..4, n in 1usize..4, which in 0usize..6, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let mm = prim_fun(Prim::MatMul(dp::prim::MatMul));
        // (a shape, b shape) per example.
        let (sa, sb): (Vec<usize>, Vec<usize>) = match which {
            0 => (vec![m, k], vec![k, p]),
            1 => (vec![k], vec![k, p]),
            2 => (vec![m, k], vec![k]),
            3 => (vec![k], vec![k]),
            4 => (vec![2, m, k], vec![k, p]),
            _ => (vec![m, k], vec![2, k, p]),
        };
        let xa = uni(&mut rng, &with_batch(&sa, 0, n).0, -1.0, 1.0);
        let xb = uni(&mut rng, &with_batch(&sb, 1, n).0, -1.0, 1.0);
        let (pa, pb) = (uni(&mut rng, &sa, -1.0, 1.0), uni(&mut rng, &sb, -1.0, 1.0));
        check_batch("matmul both", &mm, &[xa.clone(), xb.clone()], &[Some(0), Some(1.min(sb.len()))], 0, n)?;
        check_batch("matmul a", &mm, &[xa, pb], &[Some(0), None], 0, n)?;
        check_batch("matmul b", &mm, &[pa, xb], &[None, Some(1.min(sb.len()))], 0, n)?;
        // A well-conditioned batch of matrices: identity * 3 plus noise.
        let eye = value(Tensor::eye(k).expect("small").map(|v| 3.0 * v));
        let noise = uni(&mut rng, &[n, k, k], -0.5, 0.5);
        let a = ok("solve", ops::add(&noise, &eye))?;
        let b = uni(&mut rng, &[n, k], -1.0, 1.0);
        check_batch("solve vector", &prim_fun(Prim::Solve(dp::prim::Solve)), &[a.clone(), b.clone()], &[Some(0), Some(0)], 0, n)?;
        check_batch("solve shared b", &builtin_fun("solve", vec![]), &[a.clone(), example(&b, 0, 0)], &[Some(0), None], 0, n)?;
        check_batch("logabsdet", &prim_fun(Prim::LogAbsDet(dp::prim::LogAbsDet)), std::slice::from_ref(&a), &[Some(0)], 0, n)?;
        check_batch("det", &builtin_fun("det", vec![]), std::slice::from_ref(&a), &[Some(0)], 0, n)?;
        check_batch("inv", &builtin_fun("inv", vec![]), std::slice::from_ref(&a), &[Some(0)], 0, n)?;
    }

    /// Conv (all three roles), the pools and their adjoints, with either or
    /// both arguments batched, the batch axis anywhere in front of the spatial axes.
    #[test]
    fn batching_conv_and_pool(nb in 1usize..4, cg in 1usize..=2, og in 1usize..=2, groups in 1usize..=2,
                              k in 1usize..=2, stride in 1usize..=2, pad in 0usize..=1, which in 0usize..3,
                              ax in 0usize..3, seed in any::<u64>()) {
        use dp::prim::{ConvRole, PoolRole};
        let mut rng = Rng::new(seed);
        let (c, o) = (cg * groups, og * groups);
        let (xs, ws) = (vec![2, c, 4, 3], vec![o, cg, k, 2]);
        let spec = dp_tensor::ConvSpec { stride: [stride, 1], padding: [[pad, pad], [pad, 0]], dilation: [1, 1], groups };
        let x0 = normal(&mut rng, &xs);
        let w0 = normal(&mut rng, &ws);
        let ys = shape_of(&apply(&Prim::Conv(dp::prim::Conv { role: ConvRole::Forward, spec, shape: Rc::from(vec![]) }), &[x0, w0]).unwrap());
        // which: 0 both batched, 1 only the first argument, 2 only the second.
        let args = |rng: &mut Rng, sa: &[usize], sb: &[usize]| {
            let (ba, aa) = with_batch(sa, ax, nb);
            let (bb, ab) = with_batch(sb, 3 - ax, nb);
            let a = if which == 2 { (normal(rng, sa), None) } else { (normal(rng, &ba), Some(aa)) };
            let b = if which == 1 { (normal(rng, sb), None) } else { (normal(rng, &bb), Some(ab)) };
            ([a.0, b.0], [a.1, b.1])
        };
        let (v, a) = args(&mut rng, &xs, &ws);
        check_batch("conv", &conv_prim(ConvRole::Forward, spec, &[]), &v, &a, 0, nb)?;
        let (v, a) = args(&mut rng, &ys, &ws);
        check_batch("conv input grad", &conv_prim(ConvRole::InputGrad, spec, &xs), &v, &a, 1, nb)?;
        let (v, a) = args(&mut rng, &xs, &ys);
        check_batch("conv weight grad", &conv_prim(ConvRole::WeightGrad, spec, &ws), &v, &a, ax, nb)?;
        let pspec = dp_tensor::PoolSpec { size: [2, 2], stride: [stride, stride], padding: [[pad, pad], [pad, pad]] };
        let pool = |role, shape: &[usize]| prim_fun(Prim::Pool(dp::prim::Pool { role, spec: pspec, shape: Rc::from(shape.to_vec()) }));
        let (px, pa) = with_batch(&xs, ax, nb);
        let x = normal(&mut rng, &px);
        let ps = shape_of(&apply(&Prim::Pool(dp::prim::Pool { role: PoolRole::Max, spec: pspec, shape: Rc::from(vec![]) }), &[normal(&mut rng, &xs)]).unwrap());
        check_batch("max_pool", &pool(PoolRole::Max, &[]), std::slice::from_ref(&x), &[Some(pa)], 0, nb)?;
        check_batch("avg_pool", &pool(PoolRole::Avg, &[]), std::slice::from_ref(&x), &[Some(pa)], 2, nb)?;
        let (v, a) = args(&mut rng, &ps, &xs);
        // One argument: it is always batched.
        let g = normal(&mut rng, &with_batch(&ps, ax, nb).0);
        check_batch("avg_pool spread", &pool(PoolRole::AvgSpread, &xs), &[g], &[Some(ax.min(ps.len()))], 1, nb)?;
        check_batch("max_pool scatter", &pool(PoolRole::MaxScatter, &[]), &v, &a, 0, nb)?;
        let (v, a) = args(&mut rng, &xs, &xs);
        check_batch("max_pool gather", &pool(PoolRole::MaxGather, &[]), &v, &a, 0, nb)?;
    }

    /// `x.at[...]` updates with shared or per-example positions, and any of
    /// `x` and `v` shared.
    #[test]
    fn batching_index_update(s in shape(1, 3), kk in 1usize..=4, mode in 0u8..5, nb in 1usize..4,
                             which in 0usize..4, seed in any::<u64>()) {
        let size: usize = s.iter().product();
        let mut rng = Rng::new(seed);
        let mode = UPDATE_MODES[mode as usize];
        let draws = rng.uniform(&[nb, kk]).unwrap().map(|u| (u * size as f64).floor());
        let per = value(draws.clone());
        let shared = value(Tensor::from_vec(draws.to_vec()[..kk].to_vec(), &[kk]).unwrap());
        let f = prim_fun(Prim::IndexUpdate(dp::prim::IndexUpdate(mode)));
        let (bx, bv) = (with_batch(&s, 0, nb).0, vec![nb, kk]);
        // which: 0 all batched, 1 shared x, 2 shared v, 3 shared positions.
        let x = if which == 1 { (uni(&mut rng, &s, -2.0, 2.0), None) } else { (uni(&mut rng, &bx, -2.0, 2.0), Some(0)) };
        let v = if which == 2 { (uni(&mut rng, &[kk], -2.0, 2.0), None) } else { (uni(&mut rng, &bv, -2.0, 2.0), Some(0)) };
        let pos = if which == 3 { (shared, None) } else { (per, Some(0)) };
        check_batch(mode.name(), &f, &[x.0, pos.0, v.0], &[x.1, pos.1, v.1], 0, nb)?;
    }
}

/// Runs one REPL entry in a fresh session; returns (stdout, stderr).
fn session_entry(src: &str) -> (String, String) {
    let cap = dp::SharedBuffer::default();
    let mut s = dp::repl::Session::new(Box::new(cap.clone()), std::env::temp_dir(), false);
    let r = s.eval_entry(src);
    (cap.take() + &r.stdout, r.stderr)
}

/// A `custom_jvp` rule that reads its tangents' values (a comparison, an
/// `if`, `where` on a tangent mask, `sign`, `int`) cannot be transposed:
/// reverse mode reports the read at its line (once giving a silent 0 from
/// the placeholder zero tangents), under every reverse-mode entry point,
/// while forward mode still uses the rule. Conversions that keep the
/// tangent (`float` of a float) and rules calling `jvp` are fine.
#[test]
fn custom_jvp_rules_reading_tangents_are_reported_in_reverse_mode() {
    let reads = [
        "if sum(abs(t[0])) > 0.0 { 2.0 * p[0] * t[0] } else { zeros_like(t[0]) }",
        "where(t[0] > 0.0, 2.0 * p[0] * t[0], 3.0 * t[0])",
        "sign(t[0]) * t[0]",
        "2.0 * p[0] * t[0] + float(int(sum(t[0])))",
    ];
    for body in reads {
        let def = format!("let f = custom_jvp(|x| x ** 2, |p, t| (p[0] ** 2, {body}));");
        for call in [
            "grad(f)(3.0)",
            "vjp(f, 3.0)[1](1.0)",
            "jacrev(f)(tensor([1.0, 2.0]))",
            "hessian(f)(3.0)",
        ] {
            let (_, err) = session_entry(&format!("{def} {call}"));
            assert!(
                err.contains("the JVP rule reads the value of its tangents"),
                "{body} / {call}: {err}"
            );
            assert!(
                err.contains("the tangent's value is read here"),
                "{body} / {call}: {err}"
            );
        }
        // Forward mode has concrete tangents: the rule is used as written.
        let (out, err) = session_entry(&format!("{def} jvp(f, (3.0,), (1.0,))[0]"));
        assert_eq!((out.trim(), err.as_str()), ("9.0", ""), "{body}");
    }
    for body in ["2.0 * p[0] * float(t[0])", "jvp(|x| x ** 2, p, t)[1]"] {
        let def = format!("let f = custom_jvp(|x| x ** 2, |p, t| (p[0] ** 2, {body}));");
        let (out, err) = session_entry(&format!("{def} (grad(f)(3.0), hessian(f)(3.0))"));
        assert_eq!((out.trim(), err.as_str()), ("(6.0, 2.0)", ""), "{body}");
    }
}
