//! Property tests of the batching rules (`Primitive::batch`, for `vmap`).
//!
//! For every primitive of the table (`src/prim/table.rs`, read by the
//! coverage test below so a new row without a case fails), over random
//! shapes, per-argument `in_axes` (0, 1, -1 or `none` = shared) and
//! `out_axes` (0, 1, -1): `vmap(f, in_axes, out_axes)(xs)` equals `f`
//! applied to each example, stacked along the output axis. The builtins
//! built from several primitives (the decompositions' wrappers, `lstsq`,
//! `pinv`, the sort family, the scans) are checked the same way, and
//! `vmap(grad(f))` against the stacked per-example gradients.
//!
//! Each case draws the arguments of one example at a time (`gen`), so the
//! constraints of a primitive (well-conditioned matrices, indices in range)
//! hold for every example; the harness stacks the drawn examples along the
//! chosen axes.

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

/// Draws the arguments of one example.
type Gen = Box<dyn Fn(&mut Rng) -> Vec<Value>>;

/// One batching check: the primitive (table row) or builtin it covers, the
/// function, how to draw an example's arguments, and which arguments may be
/// shared between the examples (`in_axes` `none`).
struct Case {
    covers: &'static str,
    name: String,
    f: Fun,
    gen: Gen,
    shareable: Vec<bool>,
}

fn case(covers: &'static str, name: impl Into<String>, f: Fun, shareable: &[bool], gen: Gen) -> Case {
    Case {
        covers,
        name: name.into(),
        f,
        gen,
        shareable: shareable.to_vec(),
    }
}

fn interp() -> Interp {
    Interp::new(Box::new(std::io::sink()))
}

fn value(t: Tensor) -> Value {
    ops::from_tensor(t)
}

fn data(v: &Value) -> Vec<f64> {
    ops::as_tensor(v.strip()).map(|t| t.to_vec()).unwrap_or_default()
}

fn uni(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Value {
    let t = rng.uniform(shape).expect("small shape");
    value(t.map(|u| lo + (hi - lo) * u))
}

fn normal(rng: &mut Rng, shape: &[usize]) -> Value {
    value(rng.normal(shape).expect("small shape"))
}

/// Integer positions in `0..size`, as floats, of `shape`.
fn positions(rng: &mut Rng, shape: &[usize], size: usize) -> Value {
    value(rng.uniform(shape).expect("small").map(|u| (u * size as f64).floor()))
}

/// A well-conditioned (diagonally dominant) `n x n` matrix.
fn dominant(rng: &mut Rng, n: usize) -> Value {
    let x = uni(rng, &[n, n], -1.0, 1.0);
    let d = value(Tensor::eye(n).expect("small").map(|e| e * (n as f64 + 1.0)));
    ops::add(&x, &d).expect("same shape")
}

/// An `m x n` matrix with `1.5, 3, 4.5, ...` on its diagonal plus small
/// noise: distinct eigen- and singular values, so each is well defined.
fn spread(rng: &mut Rng, m: usize, n: usize) -> Value {
    let x = uni(rng, &[m, n], -0.3, 0.3);
    let mut d = vec![0.0; m * n];
    for i in 0..m.min(n) {
        d[i * n + i] = (i + 1) as f64 * 1.5;
    }
    ops::add(&x, &value(Tensor::from_vec(d, &[m, n]).expect("shape"))).expect("same shape")
}

/// `(x + xᵀ) / 2` of a spread matrix: symmetric with distinct eigenvalues.
fn symmetric(rng: &mut Rng, n: usize) -> Value {
    let x = spread(rng, n, n);
    let s = ops::add(&x, &ops::transpose(&x, &[1, 0]).expect("2-d")).expect("same shape");
    ops::scale(&s, 0.5).expect("numeric")
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

fn prim_fun(p: Prim) -> Fun {
    Rc::new(move |_, xs| apply(&p, xs))
}

/// A call of a builtin by name with keyword arguments.
fn builtin_fun(name: &'static str, kw: Vec<(&'static str, Value)>) -> Fun {
    Rc::new(move |it, xs| {
        let f = it.builtins.get(name).cloned().expect("builtin exists");
        let mut args = Args::positional(xs.to_vec(), Default::default());
        args.kw = kw.iter().map(|(k, v)| (Rc::from(*k), v.clone())).collect();
        it.call(&f, args)
    })
}

/// Output `k` of a builtin returning a tuple.
fn output(name: &'static str, kw: Vec<(&'static str, Value)>, k: usize) -> Fun {
    let f = builtin_fun(name, kw);
    Rc::new(move |it, xs| match f(it, xs)? {
        Value::Tuple(t) => Ok(t[k].clone()),
        other => Ok(other),
    })
}

/// `f` as a dp function value.
fn fn_value(f: &Fun) -> Value {
    let f = f.clone();
    dp::value::native::native("f", move |it, a: Args| f(it, &a.pos))
}

fn call_builtin(it: &mut Interp, name: &str, pos: Vec<Value>) -> R<Value> {
    let b = it.builtins.get(name).cloned().expect("builtin exists");
    it.call(&b, Args::positional(pos, Default::default()))
}

fn fail(name: &str, what: &str, detail: String) -> TestCaseError {
    TestCaseError::fail(format!("{name}: {what}: {detail}"))
}

fn ok<T>(name: &str, r: R<T>) -> Result<T, TestCaseError> {
    r.map_err(|d| fail(name, "error", d.message.to_string()))
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 + 1e-10 * a.abs().max(b.abs())
}

fn compare(name: &str, got: &Value, want: &Value) -> Result<(), TestCaseError> {
    if shape_of(got) != shape_of(want) {
        return Err(fail(
            name,
            "shape",
            format!("{:?} vs {:?}", shape_of(got), shape_of(want)),
        ));
    }
    for (j, (p, q)) in data(got).iter().zip(data(want)).enumerate() {
        if !close(*p, q) {
            return Err(fail(name, "value", format!("element {j}: vmap {p} vs per example {q}")));
        }
    }
    Ok(())
}

/// An axis code (0, 1, 2 = -1) as the `in_axes`/`out_axes` int for a value
/// of `rank` axes with the batch axis, and where that puts the batch axis.
fn axis_for(code: usize, rank: usize) -> (i64, usize) {
    match code {
        1 if rank >= 2 => (1, 1),
        2 => (-1, rank - 1),
        _ => (0, 0),
    }
}

/// Runs `c` on `n` examples with the axis codes `axes` (one per argument:
/// 0, 1, 2 = -1, 3 = shared when the argument may be) and `out`.
fn run_case(c: &Case, n: usize, axes: &[usize], out: usize, rng: &mut Rng) -> Result<(), TestCaseError> {
    let name = format!("{} (in {axes:?}, out {out}, n {n})", c.name);
    let examples: Vec<Vec<Value>> = (0..n).map(|_| (c.gen)(rng)).collect();
    let k = examples[0].len();
    let mut shared: Vec<bool> = (0..k)
        .map(|i| axes.get(i).copied().unwrap_or(0) == 3 && c.shareable.get(i).copied().unwrap_or(false))
        .collect();
    if shared.iter().all(|&s| s) {
        shared[0] = false;
    }
    let mut args = Vec::with_capacity(k);
    let mut in_axes = Vec::with_capacity(k);
    for i in 0..k {
        if shared[i] {
            args.push(examples[0][i].clone());
            in_axes.push(Value::None);
            continue;
        }
        let rank = shape_of(&examples[0][i]).len() + 1;
        let (code, at) = axis_for(axes.get(i).copied().unwrap_or(0), rank);
        let parts: Vec<Value> = examples.iter().map(|e| ops::num(&e[i])).collect();
        args.push(ok(&name, apply(&Prim::Stack(dp::prim::Stack(at)), &parts))?);
        in_axes.push(Value::Int(code));
    }
    let mut it = interp();
    let mut per = Vec::with_capacity(n);
    for e in &examples {
        let ex: Vec<Value> = (0..k)
            .map(|i| {
                if shared[i] {
                    examples[0][i].clone()
                } else {
                    e[i].clone()
                }
            })
            .collect();
        per.push(ok(&name, (c.f)(&mut it, &ex))?);
    }
    let (out_code, out_at) = axis_for(out, shape_of(&per[0]).len() + 1);
    let want = ok(&name, apply(&Prim::Stack(dp::prim::Stack(out_at)), &per))?;
    let vf = ok(
        &name,
        call_builtin(
            &mut it,
            "vmap",
            vec![fn_value(&c.f), Value::tuple(in_axes), Value::Int(out_code)],
        ),
    )?;
    let got = ok(&name, it.call(&vf, Args::positional(args, Default::default())))?;
    compare(&name, &got, &want)
}

/// Shape parameters of one run, drawn by proptest.
#[derive(Clone, Debug)]
struct Shapes {
    /// An example shape of rank 0 to 3 (axes of 1 to 3).
    s: Vec<usize>,
    /// A shape broadcasting with `s`.
    b: Vec<usize>,
    /// A matrix size and a second size.
    m: usize,
    k: usize,
    /// Picks among the variants of a primitive (operator, role, output).
    pick: usize,
}

fn shapes() -> impl Strategy<Value = Shapes> {
    (
        prop::collection::vec(1usize..=3, 0..=3),
        0usize..=3,
        prop::collection::vec(any::<bool>(), 3),
        1usize..=3,
        1usize..=3,
        0usize..64,
    )
        .prop_map(|(s, drop, ones, m, k, pick)| {
            let d = drop.min(s.len());
            let b = s[d..]
                .iter()
                .zip(&ones)
                .map(|(&x, &one)| if one { 1 } else { x })
                .collect();
            Shapes { s, b, m, k, pick }
        })
}

/// Every case for one draw of shapes.
fn cases(p: &Shapes) -> Vec<Case> {
    let mut out = Vec::new();
    let s = p.s.clone();
    let (m, k, pick) = (p.m, p.k, p.pick);
    let nonempty = if s.is_empty() { vec![2] } else { s.clone() };
    let last = nonempty.len() - 1;

    // ---------------------------------------------------------------- elementwise
    let un = [
        UnaryOp::Exp,
        UnaryOp::Tanh,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Sin,
        UnaryOp::Neg,
        UnaryOp::Abs,
    ][pick % 7];
    let s1 = s.clone();
    out.push(case(
        "Unary",
        format!("unary {}", un.name()),
        prim_fun(Prim::Unary(dp::prim::Unary(un))),
        &[false],
        Box::new(move |r| vec![uni(r, &s1, 0.5, 2.0)]),
    ));
    let bin = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Gt,
    ][pick % 8];
    let (sa, sb) = if pick % 2 == 0 {
        (s.clone(), p.b.clone())
    } else {
        (p.b.clone(), s.clone())
    };
    let (sa1, sb1) = (sa.clone(), sb.clone());
    out.push(case(
        "Binary",
        format!("binary {}", bin.symbol()),
        prim_fun(Prim::Binary(dp::prim::Binary(bin))),
        &[true, true],
        Box::new(move |r| vec![uni(r, &sa1, 0.5, 2.0), uni(r, &sb1, 0.5, 2.0)]),
    ));
    let s1 = s.clone();
    out.push(case(
        "IntPow",
        "x ** 3",
        prim_fun(Prim::IntPow(dp::prim::IntPow(3))),
        &[false],
        Box::new(move |r| vec![uni(r, &s1, -2.0, 2.0)]),
    ));
    let (sa1, sb1) = (sa.clone(), sb.clone());
    out.push(case(
        "Where",
        "where",
        prim_fun(Prim::Where(dp::prim::Where)),
        &[true, true, true],
        Box::new(move |r| {
            let c = ops::raw(
                &Prim::Binary(dp::prim::Binary(BinaryOp::Gt)),
                &[uni(r, &sa1, 0.0, 1.0), Value::Float(0.5)],
            )
            .expect("compare");
            vec![c, uni(r, &sa1, -1.0, 1.0), uni(r, &sb1, -1.0, 1.0)]
        }),
    ));
    let (sa1, sb1) = (sa.clone(), sb.clone());
    out.push(case(
        "Atan2",
        "atan2",
        prim_fun(Prim::Atan2(dp::prim::Atan2)),
        &[true, true],
        Box::new(move |r| vec![uni(r, &sa1, -1.0, 1.0), uni(r, &sb1, 0.5, 2.0)]),
    ));
    let (sa1, sb1) = (sa.clone(), sb.clone());
    out.push(case(
        "FloatMod",
        "float %",
        prim_fun(Prim::FloatMod(dp::prim::FloatMod)),
        &[true, true],
        Box::new(move |r| vec![uni(r, &sa1, -3.0, 3.0), uni(r, &sb1, 0.5, 2.0)]),
    ));
    let (sa1, sb1) = (sa.clone(), sb.clone());
    out.push(case(
        "FloatFloorDiv",
        "float //",
        prim_fun(Prim::FloatFloorDiv(dp::prim::FloatFloorDiv)),
        &[true, true],
        Box::new(move |r| vec![uni(r, &sa1, -3.0, 3.0), uni(r, &sb1, 0.5, 2.0)]),
    ));
    let special = [
        dp::prim::SpecialFn::Erf,
        dp::prim::SpecialFn::Erfc,
        dp::prim::SpecialFn::Lgamma,
        dp::prim::SpecialFn::Polygamma(pick as u32 % 3),
        dp::prim::SpecialFn::I0,
        dp::prim::SpecialFn::I0e,
        dp::prim::SpecialFn::I1,
        dp::prim::SpecialFn::I1e,
    ][pick % 8];
    let s1 = s.clone();
    out.push(case(
        "Special",
        format!("special {special:?}"),
        prim_fun(Prim::Special(dp::prim::Special(special))),
        &[false],
        Box::new(move |r| vec![uni(r, &s1, 0.5, 3.0)]),
    ));

    // ---------------------------------------------------------------- reductions and shapes
    let rop = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max, ReduceOp::Min][pick % 4];
    let axes: Option<Rc<[usize]>> = if pick % 3 == 0 || s.is_empty() {
        None
    } else {
        Some((0..s.len()).filter(|i| (pick >> i) & 1 == 1).collect())
    };
    let s1 = s.clone();
    out.push(case(
        "Reduce",
        format!("reduce {} over {axes:?}", rop.name()),
        prim_fun(dp::prim::Reduce::prim(rop, axes, pick % 2 == 0)),
        &[false],
        Box::new(move |r| vec![uni(r, &s1, 0.5, 2.0)]),
    ));
    let s1 = if s.is_empty() { vec![3] } else { s.clone() };
    let cumsum = dp::prim::Cumsum {
        axis: pick % s1.len(),
        reverse: pick % 2 == 1,
    };
    out.push(case(
        "Cumsum",
        format!("{cumsum:?}"),
        prim_fun(Prim::Cumsum(cumsum)),
        &[false],
        Box::new(move |r| vec![uni(r, &s1, 0.5, 2.0)]),
    ));
    let perm: Vec<usize> = (0..s.len()).rev().collect();
    let s1 = s.clone();
    out.push(case(
        "Transpose",
        "transpose reversed",
        prim_fun(Prim::Transpose(dp::prim::Transpose(perm.into()))),
        &[false],
        Box::new(move |r| vec![normal(r, &s1)]),
    ));
    let flat: usize = s.iter().product();
    let s1 = s.clone();
    out.push(case(
        "Reshape",
        "reshape flat",
        prim_fun(Prim::Reshape(dp::prim::Reshape(vec![1, flat].into()))),
        &[false],
        Box::new(move |r| vec![normal(r, &s1)]),
    ));
    let mut big = vec![2];
    big.extend(p.b.iter().copied());
    let b1 = p.b.clone();
    out.push(case(
        "BroadcastTo",
        "broadcast_to",
        prim_fun(Prim::BroadcastTo(dp::prim::BroadcastTo(
            dp_tensor::broadcast_shapes(&big, &s).unwrap_or(big).into(),
        ))),
        &[false],
        Box::new(move |r| vec![normal(r, &b1)]),
    ));
    let s1 = s.clone();
    out.push(case(
        "SumTo",
        "sum_to",
        prim_fun(Prim::SumTo(dp::prim::SumTo(p.b.clone().into()))),
        &[false],
        Box::new(move |r| vec![normal(r, &s1)]),
    ));
    let specs: Rc<[SliceSpec]> = vec![
        SliceSpec::Range {
            start: Some(0),
            stop: None,
            step: 2,
        },
        SliceSpec::Index(-1),
    ][..nonempty.len().min(2)]
        .to_vec()
        .into();
    let ne1 = nonempty.clone();
    out.push(case(
        "Slice",
        "slice [::2, -1]",
        prim_fun(Prim::Slice(dp::prim::Slice(specs.clone()))),
        &[false],
        Box::new(move |r| vec![normal(r, &ne1)]),
    ));
    let sliced = shape_of(
        &apply(
            &Prim::Slice(dp::prim::Slice(specs.clone())),
            &[value(Tensor::zeros(&nonempty).expect("small"))],
        )
        .expect("in range"),
    );
    out.push(case(
        "SliceScatter",
        "slice_scatter",
        prim_fun(Prim::SliceScatter(dp::prim::SliceScatter(
            specs,
            nonempty.clone().into(),
        ))),
        &[false],
        Box::new(move |r| vec![normal(r, &sliced)]),
    ));
    let d = nonempty[last];
    let ne1 = nonempty.clone();
    out.push(case(
        "Take",
        "take along the last axis",
        prim_fun(Prim::Take(dp::prim::Take(last))),
        &[true, true],
        Box::new(move |r| vec![normal(r, &ne1), positions(r, &[3], d)]),
    ));
    let mut gs = nonempty.clone();
    gs[last] = 3;
    out.push(case(
        "TakeScatter",
        "take_scatter along the last axis",
        prim_fun(Prim::TakeScatter(dp::prim::TakeScatter(last, nonempty.clone().into()))),
        &[true, true],
        Box::new(move |r| vec![normal(r, &gs), positions(r, &[3], d)]),
    ));
    let mode = [
        dp_tensor::UpdateMode::Set,
        dp_tensor::UpdateMode::Add,
        dp_tensor::UpdateMode::Mul,
    ][pick % 3];
    let size: usize = nonempty.iter().product();
    let ne1 = nonempty.clone();
    out.push(case(
        "IndexUpdate",
        format!("index update {}", mode.name()),
        prim_fun(Prim::IndexUpdate(dp::prim::IndexUpdate(mode))),
        &[true, true, true],
        Box::new(move |r| {
            vec![
                uni(r, &ne1, -2.0, 2.0),
                positions(r, &[k], size),
                uni(r, &[k], -2.0, 2.0),
            ]
        }),
    ));
    let ne1 = nonempty.clone();
    out.push(case(
        "Concat",
        "concat along the last axis",
        prim_fun(Prim::Concat(dp::prim::Concat(last))),
        &[true, true],
        Box::new(move |r| vec![normal(r, &ne1), normal(r, &ne1)]),
    ));
    let s1 = s.clone();
    let at = pick % (s.len() + 1);
    out.push(case(
        "Stack",
        format!("stack at {at}"),
        prim_fun(Prim::Stack(dp::prim::Stack(at))),
        &[true, true],
        Box::new(move |r| vec![normal(r, &s1), normal(r, &s1)]),
    ));

    // ---------------------------------------------------------------- matmul
    let (ma, mb): (Vec<usize>, Vec<usize>) = match pick % 6 {
        0 => (vec![m, k], vec![k, 2]),
        1 => (vec![k], vec![k, m]),
        2 => (vec![m, k], vec![k]),
        3 => (vec![k], vec![k]),
        4 => (vec![2, m, k], vec![k, 1]),
        _ => (vec![m, 1], vec![2, 1, k]),
    };
    out.push(case(
        "MatMul",
        format!("matmul {ma:?} @ {mb:?}"),
        prim_fun(Prim::MatMul(dp::prim::MatMul)),
        &[true, true],
        Box::new(move |r| vec![uni(r, &ma, -1.0, 1.0), uni(r, &mb, -1.0, 1.0)]),
    ));

    // ---------------------------------------------------------------- decompositions
    let rhs: Vec<usize> = if pick % 2 == 0 { vec![m] } else { vec![m, k] };
    let rhs1 = rhs.clone();
    out.push(case(
        "Solve",
        format!("solve {m}x{m} with {rhs:?}"),
        prim_fun(Prim::Solve(dp::prim::Solve)),
        &[true, true],
        Box::new(move |r| vec![dominant(r, m), uni(r, &rhs1, -1.0, 1.0)]),
    ));
    let tri = dp::prim::TriSolve {
        lower: pick % 2 == 0,
        trans: (pick / 2) % 2 == 0,
        unit_diagonal: (pick / 4) % 2 == 0,
    };
    let mk = vec![m, k];
    out.push(case(
        "TriSolve",
        format!("triangular solve {tri:?}"),
        prim_fun(Prim::TriSolve(tri)),
        &[true, true],
        Box::new(move |r| vec![dominant(r, m), uni(r, &mk, -1.0, 1.0)]),
    ));
    out.push(case(
        "Cholesky",
        "cholesky",
        prim_fun(Prim::Cholesky(dp::prim::Cholesky)),
        &[false],
        Box::new(move |r| {
            let a = dominant(r, m);
            vec![ops::arith::matmul(&a, &ops::transpose(&a, &[1, 0]).expect("2-d")).expect("square")]
        }),
    ));
    out.push(case(
        "LogAbsDet",
        "log |det|",
        prim_fun(Prim::LogAbsDet(dp::prim::LogAbsDet)),
        &[false],
        Box::new(move |r| vec![dominant(r, m)]),
    ));
    out.push(case(
        "Det",
        "det",
        prim_fun(Prim::Det(dp::prim::Det)),
        &[false],
        Box::new(move |r| vec![dominant(r, m)]),
    ));
    out.push(case(
        "Adjugate",
        "adjugate",
        prim_fun(Prim::Adjugate(dp::prim::Adjugate)),
        &[false],
        Box::new(move |r| vec![dominant(r, m)]),
    ));
    let mm2 = vec![m, m];
    out.push(case(
        "AdjugateJvp",
        "adjugate jvp",
        prim_fun(Prim::AdjugateJvp(dp::prim::AdjugateJvp)),
        &[true, true],
        Box::new(move |r| vec![dominant(r, m), uni(r, &mm2, -1.0, 1.0)]),
    ));
    let lo = 1 + pick % 2;
    out.push(case(
        "Lu",
        format!("lu output {lo} of {}x{}", m, m + k - 1),
        prim_fun(Prim::Lu(dp::prim::Lu { out: lo })),
        &[false],
        Box::new(move |r| vec![spread(r, m, m + k - 1)]),
    ));
    let (v1, mk2) = (vec![m], vec![m, k]);
    out.push(case(
        "TridiagonalSolve",
        "tridiagonal solve",
        prim_fun(Prim::TridiagonalSolve(dp::prim::TridiagonalSolve)),
        &[true, true, true, true],
        Box::new(move |r| {
            vec![
                uni(r, &v1, -1.0, 1.0),
                uni(r, &v1, 3.0, 4.0),
                uni(r, &v1, -1.0, 1.0),
                uni(r, &mk2, -1.0, 1.0),
            ]
        }),
    ));
    let eo = pick % 2;
    out.push(case(
        "Eigh",
        format!("eigh output {eo}"),
        prim_fun(Prim::Eigh(dp::prim::Eigh { out: eo })),
        &[false],
        Box::new(move |r| vec![symmetric(r, m)]),
    ));
    let (so, full) = (pick % 3, (pick / 3) % 2 == 0);
    let (rows, cols) = (m, m + k - 1);
    out.push(case(
        "Svd",
        format!("svd output {so} full {full} of {rows}x{cols}"),
        prim_fun(Prim::Svd(dp::prim::Svd {
            out: so,
            full_matrices: full,
        })),
        &[false],
        Box::new(move |r| vec![spread(r, rows, cols)]),
    ));
    let (qo, complete) = (pick % 2, (pick / 2) % 2 == 0);
    out.push(case(
        "Qr",
        format!("qr output {qo} complete {complete} of {cols}x{rows}"),
        prim_fun(Prim::Qr(dp::prim::Qr { out: qo, complete })),
        &[false],
        Box::new(move |r| vec![spread(r, cols, rows)]),
    ));
    out.push(case(
        "Pinv",
        format!("pinv of {rows}x{cols}"),
        prim_fun(Prim::Pinv(dp::prim::Pinv { rcond: None })),
        &[false],
        Box::new(move |r| vec![spread(r, rows, cols)]),
    ));
    // The builtins on top of them.
    for name in ["inv", "det"] {
        out.push(case(
            "builtin",
            name,
            builtin_fun(name, vec![]),
            &[false],
            Box::new(move |r| vec![dominant(r, m)]),
        ));
    }
    out.push(case(
        "builtin",
        "slogdet sign",
        output("slogdet", vec![], 0),
        &[false],
        Box::new(move |r| vec![dominant(r, m)]),
    ));
    let mk = vec![m, k];
    out.push(case(
        "builtin",
        "solve_triangular lower",
        builtin_fun("solve_triangular", vec![("lower", Value::Bool(true))]),
        &[true, true],
        Box::new(move |r| vec![dominant(r, m), uni(r, &mk, -1.0, 1.0)]),
    ));
    // `lstsq` itself takes one matrix at a time (its rank and the shape of
    // its residuals differ between examples; under `vmap` it says so and
    // suggests this): its solution `x` is `pinv(a) @ b`.
    let rk = vec![cols, k];
    let pinv = builtin_fun("pinv", vec![]);
    out.push(case(
        "builtin",
        format!("lstsq's x = pinv(a) @ b, {cols}x{rows}"),
        Rc::new(move |it, xs| ops::arith::matmul(&pinv(it, &xs[..1])?, &xs[1])),
        &[true, true],
        Box::new(move |r| vec![spread(r, cols, rows), uni(r, &rk, -1.0, 1.0)]),
    ));
    for (name, kw, o) in [("eigh", vec![], 1usize), ("svd", vec![], 2), ("qr", vec![], 0)] {
        out.push(case(
            "builtin",
            format!("{name} output {o}"),
            output(name, kw, o),
            &[false],
            Box::new(move |r| vec![symmetric(r, m)]),
        ));
    }
    // QR with column pivoting: each example's pivots come from its own data.
    for o in 0..3 {
        out.push(case(
            "builtin",
            format!("qr pivoting output {o}, {cols}x{rows}"),
            output("qr", vec![("pivoting", Value::Bool(true))], o),
            &[false],
            Box::new(move |r| vec![spread(r, cols, rows)]),
        ));
    }
    out.push(case(
        "builtin",
        "cholesky (builtin)",
        builtin_fun("cholesky", vec![]),
        &[false],
        Box::new(move |r| {
            let a = dominant(r, m);
            vec![ops::arith::matmul(&a, &ops::transpose(&a, &[1, 0]).expect("2-d")).expect("square")]
        }),
    ));

    // ---------------------------------------------------------------- sort family and scans
    let ax = Value::Int((pick % nonempty.len()) as i64);
    for name in ["sort", "argsort", "cumsum", "cumprod", "diff"] {
        let ne1 = nonempty.clone();
        out.push(case(
            "builtin",
            name,
            builtin_fun(name, vec![("axis", ax.clone())]),
            &[false],
            // Distinct values almost surely: ties would make argsort's order arbitrary.
            Box::new(move |r| vec![uni(r, &ne1, -2.0, 2.0)]),
        ));
    }
    let ne1 = nonempty.clone();
    let topk = output("topk", vec![], 0);
    out.push(case(
        "builtin",
        "topk values",
        Rc::new(move |it, xs| topk(it, &[xs[0].clone(), Value::Int(1)])),
        &[false],
        Box::new(move |r| vec![uni(r, &ne1, -2.0, 2.0)]),
    ));

    // ---------------------------------------------------------------- NumPy extras (issue 11)
    let kth = Value::Int((pick % nonempty[nonempty.len() - 1]) as i64);
    for name in ["partition", "argpartition"] {
        let ne1 = nonempty.clone();
        out.push(case(
            "builtin",
            name,
            builtin_fun(name, vec![("kth", kth.clone())]),
            &[false],
            Box::new(move |r| vec![uni(r, &ne1, -2.0, 2.0)]),
        ));
    }
    let period = if pick % 2 == 0 { Value::None } else { Value::Float(2.5) };
    let ne1 = nonempty.clone();
    out.push(case(
        "builtin",
        "interp",
        builtin_fun("interp", vec![("period", period)]),
        &[true, true, true],
        Box::new(move |r| vec![uni(r, &ne1, -1.0, 3.5), increasing(r, 4), normal(r, &[4])]),
    ));
    let (rows, edge) = (1 + m, Value::Int(1 + (pick % 2) as i64));
    out.push(case(
        "builtin",
        "gradient",
        builtin_fun("gradient", vec![("axis", Value::Int(1)), ("edge_order", edge)]),
        &[true, true],
        Box::new(move |r| vec![normal(r, &[rows, 4]), increasing(r, 4)]),
    ));

    // ---------------------------------------------------------------- convolution and pooling
    conv_cases(&mut out, pick, m);
    out
}

/// The `Conv` and `Pool` cases: every role, either argument shared.
fn conv_cases(out: &mut Vec<Case>, pick: usize, m: usize) {
    use dp::prim::{ConvRole, PoolRole};
    let groups = 1 + pick % 2;
    let (c, o) = (groups, 2 * groups);
    let (stride, pad) = (1 + (pick / 2) % 2, (pick / 4) % 2);
    let spec = dp_tensor::ConvSpec {
        stride: [stride, 1],
        padding: [[pad, pad], [pad, 0]],
        dilation: [1, 1],
        groups,
    };
    let (xs, ws) = (vec![m, c, 4, 3], vec![o, 1, 2, 2]);
    let conv = |role, shape: &[usize]| {
        prim_fun(Prim::Conv(dp::prim::Conv {
            role,
            spec,
            shape: Rc::from(shape.to_vec()),
        }))
    };
    let zeros = |s: &[usize]| value(Tensor::zeros(s).expect("small"));
    let ys = shape_of(
        &apply(
            &Prim::Conv(dp::prim::Conv {
                role: ConvRole::Forward,
                spec,
                shape: Rc::from(vec![]),
            }),
            &[zeros(&xs), zeros(&ws)],
        )
        .expect("fits"),
    );
    let gen2 = |a: Vec<usize>, b: Vec<usize>| -> Gen { Box::new(move |r| vec![normal(r, &a), normal(r, &b)]) };
    out.push(case(
        "Conv",
        "conv forward",
        conv(ConvRole::Forward, &[]),
        &[true, true],
        gen2(xs.clone(), ws.clone()),
    ));
    out.push(case(
        "Conv",
        "conv input grad",
        conv(ConvRole::InputGrad, &xs),
        &[true, true],
        gen2(ys.clone(), ws.clone()),
    ));
    out.push(case(
        "Conv",
        "conv weight grad",
        conv(ConvRole::WeightGrad, &ws),
        &[true, true],
        gen2(xs.clone(), ys.clone()),
    ));
    let pspec = dp_tensor::PoolSpec {
        size: [2, 2],
        stride: [stride, stride],
        padding: [[pad, pad], [pad, pad]],
    };
    let pool = |role, shape: &[usize]| {
        prim_fun(Prim::Pool(dp::prim::Pool {
            role,
            spec: pspec,
            shape: Rc::from(shape.to_vec()),
        }))
    };
    let ps = shape_of(
        &apply(
            &Prim::Pool(dp::prim::Pool {
                role: PoolRole::Max,
                spec: pspec,
                shape: Rc::from(vec![]),
            }),
            &[zeros(&xs)],
        )
        .expect("fits"),
    );
    let x1 = xs.clone();
    out.push(case(
        "Pool",
        "max pool",
        pool(PoolRole::Max, &[]),
        &[false],
        Box::new(move |r| vec![normal(r, &x1)]),
    ));
    let x1 = xs.clone();
    out.push(case(
        "Pool",
        "avg pool",
        pool(PoolRole::Avg, &[]),
        &[false],
        Box::new(move |r| vec![normal(r, &x1)]),
    ));
    let p1 = ps.clone();
    out.push(case(
        "Pool",
        "avg pool spread",
        pool(PoolRole::AvgSpread, &xs),
        &[false],
        Box::new(move |r| vec![normal(r, &p1)]),
    ));
    out.push(case(
        "Pool",
        "max pool scatter",
        pool(PoolRole::MaxScatter, &[]),
        &[true, true],
        gen2(ps.clone(), xs.clone()),
    ));
    out.push(case(
        "Pool",
        "max pool gather",
        pool(PoolRole::MaxGather, &[]),
        &[true, true],
        gen2(xs.clone(), xs.clone()),
    ));
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
            proptest::test_runner::RngSeed::Fixed(0x6261_7463_6869_6e67)
        },
        ..default
    }
}

proptest! {
    #![proptest_config(config())]

    /// Every case, with random shapes, axes and batch sizes.
    #[test]
    fn vmap_equals_stacked_examples(p in shapes(), n in 1usize..4, axes in prop::collection::vec(0usize..4, 3),
                                    out in 0usize..3, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        for c in cases(&p) {
            run_case(&c, n, &axes, out, &mut rng)?;
        }
    }

    /// Per-example gradients: `vmap(grad(f), in_axes=(none, 0, 0))` of a
    /// small MLP loss (parameters shared, examples batched) equals the
    /// gradient of each example's loss, stacked.
    #[test]
    fn vmap_of_grad_equals_stacked_gradients(d in 1usize..=4, h in 1usize..=4, c in 2usize..=3, n in 1usize..4, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let w1 = normal(&mut rng, &[d, h]);
        let w2 = normal(&mut rng, &[h, c]);
        let xs = normal(&mut rng, &[n, d]);
        let ys = positions(&mut rng, &[n], c);
        let loss: Fun = Rc::new(move |it, a| {
            let x = ops::reshape(&a[1], &[1, d])?;
            let hdn = ops::unary(UnaryOp::Tanh, &ops::arith::matmul(&x, &a[0])?)?;
            let logits = ops::arith::matmul(&hdn, &w2)?;
            let label = ops::reshape(&a[2], &[1])?;
            call_builtin(it, "cross_entropy", vec![logits, label])
        });
        let mut it = interp();
        let g = ok("grad", call_builtin(&mut it, "grad", vec![fn_value(&loss)]))?;
        let vg = ok("vmap", call_builtin(&mut it, "vmap", vec![g.clone(), Value::tuple([Value::None, Value::Int(0), Value::Int(0)])]))?;
        let got = ok("vmap(grad)", it.call(&vg, Args::positional(vec![w1.clone(), xs.clone(), ys.clone()], Default::default())))?;
        let mut per = Vec::new();
        for i in 0..n {
            let pick = |v: &Value| ops::raw(&Prim::Slice(dp::prim::Slice(vec![SliceSpec::Index(i as i64)].into())), std::slice::from_ref(v)).expect("in range");
            per.push(ok("grad", it.call(&g, Args::positional(vec![w1.clone(), pick(&xs), pick(&ys)], Default::default())))?);
        }
        let want = ok("stack", apply(&Prim::Stack(dp::prim::Stack(0)), &per))?;
        compare("vmap(grad(mlp loss))", &got, &want)?;
    }
}

/// The table's rows (`P::Name($p) => $body`), read from its source.
fn table_rows() -> Vec<String> {
    include_str!("../src/prim/table.rs")
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("P::")?;
            rest.ends_with("($p) => $body,")
                .then(|| rest.split('(').next().unwrap_or("").to_string())
        })
        .collect()
}

/// Every primitive of the table has a batching case here, so a new
/// primitive fails this test until its rule is checked. `Leaf` (a
/// differentiation input) is never applied, so it has no batching rule;
/// `Order` (sort/argmax/... of a traced value), `IntBinary` (int
/// arithmetic of a traced int), `IndexCheck` (the range check of a traced
/// scalar index, never of a batched one) and `Random` (a draw from a traced key) are
/// recorded only by a jit trace on values without batch axes (a call under
/// `vmap` runs unjitted, and keyed draws run per example), so they are never
/// batched either.
#[test]
fn every_primitive_of_the_table_has_a_batching_case() {
    let rows = table_rows();
    assert!(rows.len() >= 30, "the table was not read: {rows:?}");
    let shapes = Shapes {
        s: vec![2, 3],
        b: vec![1, 3],
        m: 2,
        k: 2,
        pick: 0,
    };
    let covered: Vec<&str> = cases(&shapes).iter().map(|c| c.covers).collect();
    let missing: Vec<&String> = rows
        .iter()
        .filter(|r| {
            !matches!(r.as_str(), "Leaf" | "Order" | "IntBinary" | "IndexCheck" | "Random")
                && !covered.contains(&r.as_str())
        })
        .collect();
    assert!(missing.is_empty(), "primitives without a batching case: {missing:?}");
}

/// The primitives report a missing rule instead of looping per example:
/// only `Leaf`, which is never applied, lacks one.
#[test]
fn only_leaf_lacks_a_batching_rule() {
    let x = value(Tensor::zeros(&[2, 2]).expect("small"));
    let err = dp::prim::batch(&Prim::Leaf(dp::prim::Leaf), &[x], &[true], 2).expect_err("no rule");
    assert!(err.message.ends_with("has no batching rule"), "{}", err.message);
}
