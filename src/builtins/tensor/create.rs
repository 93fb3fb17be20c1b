//! Creating tensors: `zeros`, `ones`, `full`, `arange`, `linspace`, `eye`,
//! `tensor`, and the seeded random numbers (`seed`, `rand`, `randn`, ...).

use super::args::*;
use crate::builtins::{int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self};
use crate::value::Value;
use dp_tensor::Tensor;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    creation(
        t,
        Decl {
            sig: "zeros(shape: shape) -> tensor",
            summary: "A tensor of zeros of the given shape.",
            doc: "",
            example: "zeros((2, 3))",
        },
        0.0,
    );
    creation(
        t,
        Decl {
            sig: "ones(shape: shape) -> tensor",
            summary: "A tensor of ones of the given shape.",
            doc: "",
            example: "ones(3)  # [1.0, 1.0, 1.0]",
        },
        1.0,
    );
    like(
        t,
        Decl {
            sig: "zeros_like(x: tensor) -> tensor",
            summary: "Zeros of `x`'s shape (a float for a number); `false`s for a bool or bool tensor.",
            doc: "",
            example: "zeros_like(ones((2, 2)))",
        },
        0.0,
    );
    like(
        t,
        Decl {
            sig: "ones_like(x: tensor) -> tensor",
            summary: "Ones of `x`'s shape (a float for a number); `true`s for a bool or bool tensor.",
            doc: "",
            example: "ones_like(zeros(3))",
        },
        1.0,
    );

    register(
        t,
        Decl {
            sig: "tensor(x: number | tensor | tuple | range) -> tensor",
            summary: "`x` as a tensor: nested tuples of numbers become rows.",
            doc: "A number gives a 0-d tensor.",
            example: "tensor(((1, 2), (3, 4))).shape  # (2, 2)",
        },
        |_, a| tensor_value(a.value(0)),
    );
    register(
        t,
        Decl {
            sig: "full(shape: shape, value: float | bool) -> tensor",
            summary: "A tensor of the given shape filled with `value` (a bool tensor for a bool `value`).",
            doc: "",
            example: "full((2, 2), 7.0)",
        },
        |_, a| {
            let shape = shape_arg("full", a.value(0)).map_err(at_param(&a, 0))?;
            let value = a.value(1);
            if matches!(value, Value::Dual(_)) && crate::ops::shape_of(value).is_empty() {
                // A differentiated or batched fill value: broadcasting it is recorded (and batched).
                return ops::broadcast_to(&ops::reshape(value, &[])?, &shape);
            }
            // A bool fill gives a bool tensor, as `np.full(shape, True)`.
            if let Value::Bool(b) = value {
                let t = te(Tensor::full(&shape, f64::from(u8::from(*b)))).map_err(at_param(&a, 0))?;
                return Ok(Value::Tensor(std::rc::Rc::new(t.marked_bool())));
            }
            let x = a.float_as(1, "the value").map_err(at_param(&a, 1))?;
            let plain = Value::Tensor(std::rc::Rc::new(te(Tensor::full(&shape, x)).map_err(at_param(&a, 0))?));
            if matches!(value, Value::Dual(_)) {
                // A differentiated fill value: broadcasting it is recorded, so the gradient is the sum over the result.
                return ops::broadcast_to(&ops::reshape(value, &[])?, &shape);
            }
            Ok(plain)
        },
    );
    register(
        t,
        Decl {
            sig: "arange(start: float, stop: float = none, step: float = 1) -> tensor",
            summary: "Evenly spaced values from `start` up to (not including) `stop`; `arange(n)` is 0..n.",
            doc: "Like `numpy.arange`; the step must not be zero.",
            example: "arange(0, 1, 0.25)  # [0.0, 0.25, 0.5, 0.75]",
        },
        |_, a| {
            let bound = |i: usize| a.float_as(i, "a bound");
            let (start, stop) = match a.given(1) {
                None => (0.0, bound(0)?),
                Some(_) => (bound(0)?, bound(1)?),
            };
            let step = bound(2)?;
            if step == 0.0 {
                return Err(Diagnostic::new(ErrorKind::Value, "`arange`: the step must not be zero").at(a.span_at(2)));
            }
            Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::arange(start, stop, step))?)))
        },
    );
    register(
        t,
        Decl {
            sig: "linspace(start: float, stop: float, num: int = 50) -> tensor",
            summary: "`num` evenly spaced values from `start` to `stop`, both included.",
            doc: "Differentiable in `start` and `stop`.",
            example: "linspace(0, 1, 5)  # [0.0, 0.25, 0.5, 0.75, 1.0]",
        },
        |_, a| {
            let n = a
                .given(2)
                .map(|x| int_arg("linspace", "num", x))
                .transpose()?
                .unwrap_or(50);
            let n = usize::try_from(n).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`linspace`: num must be non-negative, found {n}"),
                )
                .at(a.span_at(2))
            })?;
            let (sv, ev) = (a.value(0), a.value(1));
            let plain = |v: &Value| !matches!(v, Value::Dual(_)) && !crate::autodiff::trace::is_batched(v);
            if !plain(sv) || !plain(ev) {
                return linspace_traced(sv, ev, n).map_err(|d| d.at(a.span));
            }
            Ok(Value::Tensor(std::rc::Rc::new(te(Tensor::linspace(
                a.float(0)?,
                a.float(1)?,
                n,
            ))?)))
        },
    );
    register(
        t,
        Decl {
            sig: "eye(n: int, m: int = none, k: int = 0) -> tensor",
            summary: "An `n` by `m` matrix (`m = n` by default) with ones on the `k`-th diagonal, zeros elsewhere.",
            doc: "As `numpy.eye`: `k > 0` is a diagonal above the main one, `k < 0` below; a diagonal outside the \
                  matrix gives all zeros.",
            example: concat!(
                "eye(2, 3, k=1)  # [[0.0, 1.0, 0.0],\n",
                "                #  [0.0, 0.0, 1.0]]",
            ),
        },
        |_, a| {
            let n = count_arg(&a, 0, "n")?;
            let m = match a.given(1) {
                None | Some(Value::None) => n,
                Some(_) => count_arg(&a, 1, "m")?,
            };
            let k = a.int(2).map_err(at_param(&a, 2))?;
            Ok(Value::Tensor(std::rc::Rc::new(eye(n, m, k).map_err(at_param(&a, 1))?)))
        },
    );
    register(
        t,
        Decl {
            sig: "identity(n: int) -> tensor",
            summary: "The `n` by `n` identity matrix (`numpy.identity`; the same as `eye(n)`).",
            doc: "",
            example: concat!("identity(2)  # [[1.0, 0.0],\n", "             #  [0.0, 1.0]]",),
        },
        |_, a| {
            let n = count_arg(&a, 0, "n")?;
            Ok(Value::Tensor(std::rc::Rc::new(eye(n, n, 0).map_err(at_param(&a, 0))?)))
        },
    );

    register(
        t,
        Decl {
            sig: "seed(n: int)",
            summary: "Restarts the random number generator from seed `n`.",
            doc: "The same seed gives the same random numbers on every machine.",
            example: "seed(0);\nlet a = randn(3);",
        },
        |it: &mut Interp, a| {
            let n = int_arg("seed", "n", a.value(0))?;
            it.rng = dp_tensor::Rng::new(n as u64);
            Ok(Value::None)
        },
    );
    register(
        t,
        Decl {
            sig: "rand(shape: shape = none) -> tensor",
            summary: "Uniform random numbers in [0, 1) of the given shape (a float when omitted).",
            doc: "",
            example: "rand((2, 2))",
        },
        |it: &mut Interp, a| {
            let at = at_param(&a, 0);
            let s = rng_shape("rand", a.given(0)).map_err(&at)?;
            Ok(rand_result(te(it.rng.uniform(&s)).map_err(&at)?))
        },
    );
    register(
        t,
        Decl {
            sig: "randn(shape: shape = none) -> tensor",
            summary: "Standard normal random numbers of the given shape (a float when omitted).",
            doc: "",
            example: "randn(3)",
        },
        |it: &mut Interp, a| {
            let at = at_param(&a, 0);
            let s = rng_shape("randn", a.given(0)).map_err(&at)?;
            Ok(rand_result(te(it.rng.normal(&s)).map_err(&at)?))
        },
    );
    register(
        t,
        Decl {
            sig: "randint(lo: int, hi: int, shape: shape = none) -> int | tensor",
            summary: "Random integers in `lo..hi` (hi excluded): an int, or a tensor of the given shape.",
            doc: "",
            example: "randint(0, 10)",
        },
        |it: &mut Interp, a| {
            let lo = int_arg("randint", "lo", a.value(0))?;
            let hi = int_arg("randint", "hi", a.value(1))?;
            let s = rng_shape("randint", a.given(2)).map_err(at_param(&a, 2))?;
            if lo >= hi {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`randint` needs lo < hi, found lo = {lo} and hi = {hi}"),
                )
                .at(a.span_at(1))
                .with_secondary(a.span_at(0), "lo"));
            }
            let r = te(it.rng.randint(lo, hi, &s)).map_err(at_param(&a, 2))?;
            if s.is_empty() {
                return Ok(Value::Int(r.item().unwrap_or(0.0) as i64));
            }
            Ok(Value::Tensor(std::rc::Rc::new(r)))
        },
    );
}

pub(super) fn creation(t: &mut HashMap<Rc<str>, Value>, decl: Decl, fill: f64) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let at = at_param(&a, 0);
        let shape = shape_arg(name, a.value(0)).map_err(&at)?;
        Ok(Value::Tensor(std::rc::Rc::new(
            te(Tensor::full(&shape, fill)).map_err(&at)?,
        )))
    });
}

pub(super) fn like(t: &mut HashMap<Rc<str>, Value>, decl: Decl, fill: f64) {
    register(t, decl, move |_, a| {
        let name = a.name();
        let x = numeric(name, a.value(0))?;
        // Only the shape is used (`peek`: not a read of the elements, so a
        // rule may call it on tangents); under `vmap` the batch axes are
        // kept and stay batched, so each example gets its own.
        // A bool's zeros and ones are `false` and `true`, as NumPy's
        // `zeros_like` keeps the dtype.
        let plain = match x.peek() {
            Value::Tensor(t) if t.is_bool() => {
                Value::Tensor(std::rc::Rc::new(te(Tensor::full(t.shape(), fill))?.marked_bool()))
            }
            Value::Tensor(t) => Value::Tensor(std::rc::Rc::new(te(Tensor::full(t.shape(), fill))?)),
            Value::Bool(_) => Value::Bool(fill != 0.0),
            _ => Value::Float(fill),
        };
        Ok(crate::autodiff::trace::rewrap_batches(&x, plain))
    });
}

pub(super) fn rng_shape(fname: &str, v: Option<&Value>) -> R<Vec<usize>> {
    match v {
        None | Some(Value::None) => Ok(vec![]),
        Some(s) => shape_arg(fname, s),
    }
}

pub(super) fn rand_result(t: Tensor) -> Value {
    ops::from_tensor(t)
}

/// `linspace` with an end point that is differentiated, traced (jit) or
/// batched by a running `vmap`, from primitives (which differentiate, replay
/// and batch): NumPy's `start + i * (stop - start) / (num - 1)` for all but
/// the last value, which is `stop` itself, the same arithmetic as
/// `Tensor::linspace` and so the same bits, also at infinite and signed-zero
/// end points (adding `(x - stop_gradient(x)) * w` to the plain values, as
/// before, gave nan for an infinite end and lost the sign of `-0.0`).
fn linspace_traced(start: &Value, stop: &Value, n: usize) -> R<Value> {
    use crate::prim::te;
    let scalar = |v: &Value| ops::reshape(&ops::num(v), &[]);
    let (start, stop) = (scalar(start)?, scalar(stop)?);
    if n == 1 {
        return ops::reshape(&start, &[1]);
    }
    // The size is checked before the step list is built, as the plain path's
    // allocation is (`linspace(0.0, x, 10**15)` under grad aborted).
    te(dp_tensor::checked_size(&[n]))?;
    te(dp_tensor::check_memory(n as u128 * 8, || {
        format!("`linspace`'s result of {n} elements")
    }))?;
    let steps = Value::Tensor(std::rc::Rc::new(te(Tensor::from_vec(
        (0..n.saturating_sub(1)).map(|i| i as f64).collect(),
        &[n.saturating_sub(1)],
    ))?));
    let step = ops::div(
        &ops::sub(&stop, &start)?,
        &Value::Float(n.saturating_sub(1).max(1) as f64),
    )?;
    let body = ops::add(&ops::mul(&steps, &step)?, &start)?;
    if n == 0 {
        return Ok(body);
    }
    let last = ops::reshape(&stop, &[1])?;
    ops::apply(&crate::prim::Prim::Concat(crate::prim::Concat(0)), &[body, last])
}

/// Argument `i` as a non-negative size called `what`.
fn count_arg(a: &crate::builtins::Call<'_>, i: usize, what: &str) -> R<usize> {
    let n = a.int_as(i, what).map_err(at_param(a, i))?;
    usize::try_from(n).map_err(|_| {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`{}`: {what} must be non-negative, found {n}", a.name()),
        )
        .at(a.span_at(i))
    })
}

/// The `n` by `m` matrix with ones on diagonal `k` (`numpy.eye`).
fn eye(n: usize, m: usize, k: i64) -> R<Tensor> {
    let mut t = te(Tensor::zeros(&[n, m]))?.to_vec();
    for i in 0..n {
        // Column i + k, when it lies inside the matrix.
        let j = i as i128 + i128::from(k);
        if (0..m as i128).contains(&j) {
            t[i * m + j as usize] = 1.0;
        }
    }
    te(Tensor::from_vec(t, &[n, m]))
}
