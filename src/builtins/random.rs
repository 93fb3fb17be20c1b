//! Keyed random numbers (docs/language.md §8, "Random keys"): JAX-style
//! splittable keys, so that every draw is a pure function of a key value.
//!
//! The names that would clash with the global-generator builtins
//! (`permutation`, `randint`) and with the array `split` are `key_`-prefixed
//! here; the `random` stdlib module gives all of them their JAX names.

use super::tensor::shape_arg;
use super::{arg_type, register, Decl};
use crate::builtins::{Args, Call, Native, Signature};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops;
use crate::ops::arith::is_traced_int;
use crate::prim::random::{is_key, Random};
use crate::prim::{te, Prim, Primitive};
use crate::syntax::span::Span;
use crate::value::Value;
use dp_tensor::{Key, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

/// Argument `i` as a key (the signature admitted only keys).
fn key_at(a: &Call<'_>, i: usize) -> R<Key> {
    match a.value(i).strip() {
        Value::Key(k) => Ok(Key(*k)),
        other => Err(arg_type(a.name(), "the key", "a key", other).at(a.span_at(i))),
    }
}

/// Argument `i`, a key, as given: perhaps a key input of a jit plan.
fn key_value<'a>(a: &Call<'a>, i: usize) -> R<&'a Value> {
    let v = a.value(i);
    if is_key(v) {
        return Ok(v);
    }
    Err(arg_type(a.name(), "the key", "a key", v.peek()).at(a.span_at(i)))
}

/// Whether a running trace computed `v` (a key or int input of a jit plan,
/// or a value computed from one): a draw from it is recorded. Batched
/// values never get here (draws run per example under `vmap`).
fn traced(v: &Value) -> bool {
    crate::autodiff::trace::is_traced(v) && !crate::autodiff::trace::is_batched(v)
}

/// `r` from the key `key` and the operands `rest`: recorded as a primitive
/// when a running trace computed any of them (a jit plan then draws afresh
/// from each call's key), else computed from the key at once — by the same
/// code, so both give the same bits.
fn keyed(r: Random, key: &Value, rest: Vec<Value>) -> R<Value> {
    if traced(key) || rest.iter().any(traced) {
        let mut args = Vec::with_capacity(rest.len() + 1);
        args.push(key.clone());
        args.extend(rest);
        return ops::apply(&Prim::Random(r), &args);
    }
    match key.strip() {
        Value::Key(k) => r.with_key(Key(*k), &rest),
        other => Err(arg_type(r.name().as_str(), "the key", "a key", other)),
    }
}

/// A parameter tensor of a draw as an operand: a value a running trace
/// computed stays one (the plan draws with its new value), anything else
/// is converted as [`plain_tensor`] does.
fn tensor_operand(a: &Call<'_>, i: usize) -> R<Value> {
    let v = a.value(i);
    if traced(v) && v.is_numeric() {
        return Ok(ops::num(v));
    }
    Ok(Value::Tensor(Rc::new(plain_tensor(a, i)?)))
}

/// Argument `i` as a sample shape; omitted (or `none`) is the empty shape.
fn shape_at(a: &Call<'_>, i: usize) -> R<Vec<usize>> {
    match a.given(i) {
        None | Some(Value::None) => Ok(vec![]),
        Some(v) => shape_arg(a.name(), v).map_err(|d| d.at(a.span_at(i))),
    }
}

/// Argument `i` as a plain tensor (not differentiated: draws have no derivative
/// with respect to their parameters here).
fn plain_tensor(a: &Call<'_>, i: usize) -> R<Tensor> {
    let v = crate::ops::literal::to_tensor(a.value(i)).map_err(|d| d.at(a.span_at(i)))?;
    Ok(match v.strip() {
        Value::Tensor(t) => (**t).clone(),
        Value::Float(x) => Tensor::scalar(*x),
        Value::Int(n) => Tensor::scalar(*n as f64),
        other => return Err(arg_type(a.name(), "this argument", "a number or tensor", other).at(a.span_at(i))),
    })
}

/// A non-negative int argument as a count.
fn count_at(a: &Call<'_>, i: usize, what: &str) -> R<usize> {
    let n = a.int_as(i, what).map_err(|d| d.at(a.span_at(i)))?;
    usize::try_from(n).map_err(|_| {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`{}`: {what} must be non-negative, found {n}", a.name()),
        )
        .at(a.span_at(i))
    })
}

/// Rows of `x` (a tensor) at `indices` (a tensor of integer positions).
fn rows(x: &Value, indices: Value) -> R<Value> {
    ops::apply(&Prim::Take(crate::prim::Take(0)), &[x.clone(), indices])
}

/// Registers the keyed random builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "key(seed: int) -> key",
            summary: "A random key from a seed: pass it to `normal`, `uniform`, ... and `key_split` it for more.",
            doc: "A key prints as `key(n)`, which evaluates back to the same key. Draws from a key are a pure \
                  function of it: the same key gives the same numbers on every run and machine. Never reuse a \
                  key for two draws that should be independent: split it (`import random; random.split(k)`).",
            example: "let k = key(0);\nnormal(k, 3)",
        },
        |_, a| {
            let seed = a.value(0);
            if is_traced_int(seed) {
                // An int input of a jit plan: the plan makes the key from each call's int.
                return ops::apply(&Prim::Random(Random::FromSeed), std::slice::from_ref(seed));
            }
            Ok(Value::Key(a.int(0).map_err(|d| d.at(a.span_at(0)))? as u64))
        },
    );
    register(
        t,
        Decl {
            sig: "key_split(k: key, n: int = 2) -> tuple",
            summary: "`n` new, independent keys made from `k`, as a tuple (`random.split` in the `random` module).",
            doc: "The i-th new key does not depend on `n`; none of them repeats the draws of `k`.",
            example: "let (k1, k2) = key_split(key(0));",
        },
        |_, a| {
            let k = key_value(&a, 0)?;
            let n = count_at(&a, 1, "n")?;
            crate::value::tuple::check_len(n as u128).map_err(|d| d.at(a.span_at(1)))?;
            if traced(k) {
                // A key input of a jit plan: one recorded derivation per new key.
                let keys = (0..n).map(|i| keyed(Random::Split { i }, k, Vec::new()));
                return Ok(Value::tuple(keys.collect::<R<Vec<_>>>()?));
            }
            let k = key_at(&a, 0)?;
            Ok(Value::tuple(k.split(n).into_iter().map(|k| Value::Key(k.0))))
        },
    );
    register(
        t,
        Decl {
            sig: "fold_in(k: key, data: int) -> key",
            summary: "A new key made from `k` and an int, e.g. one key per training step: `fold_in(k, step)`.",
            doc: "",
            example: "fold_in(key(0), 7)",
        },
        |_, a| {
            let k = key_value(&a, 0)?;
            let data = a.value(1);
            if traced(k) || is_traced_int(data) {
                // The data stays a traced int (an int input of a jit plan) or is read now.
                let data = if is_traced_int(data) {
                    data.clone()
                } else {
                    Value::Int(a.int(1).map_err(|d| d.at(a.span_at(1)))?)
                };
                return keyed(Random::FoldIn, k, vec![data]);
            }
            let k = key_at(&a, 0)?;
            let d = a.int(1).map_err(|d| d.at(a.span_at(1)))?;
            Ok(Value::Key(k.fold_in(d as u64).0))
        },
    );
    register_draws(t);
    register(
        t,
        Decl {
            sig: "categorical(k: key, logits: tensor, axis: int = -1, shape: shape = none) -> tensor",
            summary: "Category indices drawn with probabilities `softmax(logits)` along `axis`.",
            doc: "The result has the shape of `logits` without `axis`, or `shape`, to which that shape must \
                  broadcast (e.g. `shape=(100,)` for 100 draws from one row of logits).",
            example: "categorical(key(0), log(tensor([0.2, 0.8])), shape=5)",
        },
        |_, a| {
            let k = key_value(&a, 0)?;
            let axis = a.int(2).map_err(|d| d.at(a.span_at(2)))?;
            let shape = match a.given(3) {
                None | Some(Value::None) => None,
                Some(_) => Some(shape_at(&a, 3)?),
            };
            // Logits or a key a running trace computed: the draw is recorded
            // (a jit plan draws with its new logits and key).
            let logits = tensor_operand(&a, 1)?;
            keyed(Random::Categorical { axis, shape }, k, vec![logits]).map_err(|d| d.at(a.span_at(1)))
        },
    );
    register(
        t,
        Decl {
            sig: "key_permutation(k: key, x: int | tensor) -> tensor",
            summary:
                "A random ordering of `0..x` (an int), or the rows of the tensor `x` shuffled (`random.permutation`).",
            doc: "",
            example: "key_permutation(key(0), 5)",
        },
        |_, a| {
            let k = key_value(&a, 0)?;
            let d = permutation(&a, 1)?;
            let idx = keyed(d.draw, k, d.rest).map_err(|e| e.at(d.at))?;
            match d.rows_of {
                Some(x) => rows(&x, idx),
                None => Ok(idx),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "key_randint(k: key, shape: shape, lo: int, hi: int) -> int | tensor",
            summary: "Random integers in `lo..hi` (hi excluded) of the given shape (`random.randint`).",
            doc: "An empty shape `()` gives an int.",
            example: "key_randint(key(0), 5, 0, 10)",
        },
        |_, a| {
            let k = key_value(&a, 0)?;
            let s = shape_arg("key_randint", a.value(1)).map_err(|d| d.at(a.span_at(1)))?;
            let lo = a.int(2).map_err(|d| d.at(a.span_at(2)))?;
            let hi = a.int(3).map_err(|d| d.at(a.span_at(3)))?;
            if lo >= hi {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`key_randint` needs lo < hi, found lo = {lo} and hi = {hi}"),
                )
                .at(a.span_at(3))
                .with_secondary(a.span_at(2), "lo"));
            }
            keyed(Random::Randint { shape: s, lo, hi }, k, Vec::new()).map_err(|d| d.at(a.span_at(1)))
        },
    );
}

/// A draw as a builtin's arguments give it: what to draw, the operands
/// after the key, the tensor whose rows the drawn indices pick (if any),
/// and where an error of the draw points.
struct Drawn {
    draw: Random,
    rest: Vec<Value>,
    rows_of: Option<Value>,
    at: Span,
}

impl Drawn {
    fn new(draw: Random, rest: Vec<Value>, at: Span) -> Drawn {
        Drawn {
            draw,
            rest,
            rows_of: None,
            at,
        }
    }
}

/// Registers a random builtin with two forms, told apart by the first
/// argument: given a key (positionally or as `k=`), `decl`'s signature binds
/// the call and the draw reads the key's generator; otherwise `keyless`
/// (the same signature without `k`) binds it and the draw reads the global
/// generator that `seed` restarts. `body` reads its parameters from index
/// `off` on (1 after a key, 0 without), so one body serves both forms.
fn register_forms(
    t: &mut HashMap<Rc<str>, Value>,
    decl: Decl,
    keyless: &'static str,
    body: fn(&Call<'_>, usize) -> R<Drawn>,
) {
    // Every builtin declaration parses (the test `every_declaration_parses`
    // binds each registered builtin; the keyless forms are checked by the
    // golden cases that call them).
    let keyed_sig = Rc::new(Signature::parse(decl).expect("builtin declarations are well-formed"));
    let plain = Rc::new(Signature::parse(Decl { sig: keyless, ..decl }).expect("builtin declarations are well-formed"));
    let shown = keyed_sig.clone();
    let func = move |it: &mut Interp, args: Args| {
        let with_key = matches!(args.pos.first().map(Value::peek), Some(Value::Key(_)))
            || args.kw.iter().any(|(k, _)| &**k == "k");
        let sig = if with_key { &keyed_sig } else { &plain };
        let result = sig.bind(&args).and_then(|call| {
            let d = body(&call, usize::from(with_key))?;
            let drawn = if with_key {
                keyed(d.draw, key_value(&call, 0)?, d.rest)
            } else {
                // The global generator is state a `jit` plan cannot replay.
                it.note_effect(format!("calls `{}` without a key", call.name()), args.span);
                d.draw.draw(&mut it.rng, &d.rest)
            }
            .map_err(|e| e.at(d.at))?;
            match d.rows_of {
                Some(x) => rows(&x, drawn),
                None => Ok(drawn),
            }
        });
        result.map_err(|d| {
            let mut d = crate::ops::literal::locate_stacking_error(&args, crate::hints::for_failed_call(sig, &args, d));
            // Too many arguments without a key: perhaps a seed was meant as the key.
            if !with_key && d.kind == ErrorKind::Arity && args.pos.len() > plain.params.len() {
                d = d.with_note(format!(
                    "to draw with a key, pass the key first: `{}(key(seed), ...)`",
                    plain.name
                ));
            }
            d
        })
    };
    t.insert(
        Rc::from(shown.name),
        Value::Native(Rc::new(Native {
            name: Rc::from(shown.name),
            func: Box::new(func),
            sig: Some(shown),
            payload: None,
        })),
    );
}

/// The permutation of argument `o` (an int, or a tensor whose rows it shuffles).
fn permutation(a: &Call<'_>, o: usize) -> R<Drawn> {
    // `peek`: the kind only, not a read of the elements (which `trace` would note).
    match a.value(o).peek() {
        Value::Int(_) | Value::Bool(_) => {
            let n = count_at(a, o, "n")?;
            Ok(Drawn::new(Random::Permutation { n }, Vec::new(), a.span_at(o)))
        }
        _ => {
            let x = crate::ops::literal::to_tensor(a.value(o)).map_err(|d| d.at(a.span_at(o)))?;
            let Some(&n) = ops::shape_of(&x).first() else {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`{}` shuffles the rows of a tensor with at least one axis", a.name()),
                )
                .at(a.span_at(o)));
            };
            Ok(Drawn {
                rows_of: Some(x),
                ..Drawn::new(Random::Permutation { n }, Vec::new(), a.span_at(o))
            })
        }
    }
}

/// `normal`, `uniform`, `bernoulli`, `choice` and `permutation`: keyed, or
/// from the global generator without a key.
fn register_draws(t: &mut HashMap<Rc<str>, Value>) {
    register_forms(
        t,
        Decl {
            sig: "normal(k: key, shape: shape = none) -> tensor",
            summary:
                "Standard normal numbers of the given shape drawn with key `k` (a float when the shape is omitted).",
            doc: "Without a key, `normal(shape)` draws from the global generator that `seed(n)` restarts (the \
                  same numbers as `randn(shape)`).",
            example: "normal(key(0), (2, 3));\nseed(0);\nnormal(3)",
        },
        "normal(shape: shape = none) -> tensor",
        |a, o| {
            let shape = shape_at(a, o)?;
            Ok(Drawn::new(Random::Normal { shape }, Vec::new(), a.span_at(o)))
        },
    );
    register_forms(
        t,
        Decl {
            sig: "uniform(k: key, shape: shape = none, lo: float = 0.0, hi: float = 1.0) -> tensor",
            summary: "Uniform numbers in `[lo, hi)` of the given shape drawn with key `k`.",
            doc: "Without a key, `uniform(shape, lo=0.0, hi=1.0)` draws from the global generator that `seed(n)` \
                  restarts.",
            example: "uniform(key(0), 3, lo=-1.0, hi=1.0);\nuniform((2, 2), lo=-1.0, hi=1.0)",
        },
        "uniform(shape: shape = none, lo: float = 0.0, hi: float = 1.0) -> tensor",
        |a, o| {
            let shape = shape_at(a, o)?;
            let lo = a.float(o + 1).map_err(|d| d.at(a.span_at(o + 1)))?;
            let hi = a.float(o + 2).map_err(|d| d.at(a.span_at(o + 2)))?;
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`uniform` needs finite lo <= hi, found lo = {lo} and hi = {hi}"),
                )
                .at(a.span_at(o + 2)));
            }
            Ok(Drawn::new(Random::Uniform { shape, lo, hi }, Vec::new(), a.span_at(o)))
        },
    );
    register_forms(
        t,
        Decl {
            sig: "bernoulli(k: key, p: tensor = 0.5, shape: shape = none) -> tensor",
            summary: "1.0 with probability `p` and 0.0 otherwise; the shape defaults to the shape of `p`.",
            doc: "`p` broadcasts to `shape`; every probability must lie in [0, 1]. Without a key, \
                  `bernoulli(p, shape)` draws from the global generator that `seed(n)` restarts.",
            example: "bernoulli(key(0), 0.3, 5);\nbernoulli(0.5, (2, 2))",
        },
        "bernoulli(p: tensor = 0.5, shape: shape = none) -> tensor",
        |a, o| {
            let p = tensor_operand(a, o)?;
            let shape = match a.given(o + 1) {
                None | Some(Value::None) => ops::shape_of(&p),
                Some(_) => shape_at(a, o + 1)?,
            };
            Ok(Drawn::new(Random::Bernoulli { shape }, vec![p], a.span_at(o)))
        },
    );
    register_forms(
        t,
        Decl {
            sig:
                "choice(k: key, a: int | tensor, shape: shape = none, replace: bool = true, p: tensor = none) -> tensor",
            summary:
                "Random picks from `0..a` (an int) or from the rows of the tensor `a`, with or without replacement.",
            doc: "`p` gives one (unnormalised) probability per candidate; without it every candidate is equally \
                  likely. The picks have the given shape (one pick when omitted); picking rows of a tensor \
                  adds its other axes after the shape. Without a key, `choice(a, shape, replace=true, p=none)` \
                  draws from the global generator that `seed(n)` restarts.",
            example: "choice(key(0), 5, 3, replace=false);\nchoice(tensor([10.0, 20.0, 30.0]), 2)",
        },
        "choice(a: int | tensor, shape: shape = none, replace: bool = true, p: tensor = none) -> tensor",
        |a, o| {
            let (n, from) = // `peek`: the kind only, not a read of the elements (which `trace` would note).
            match a.value(o).peek() {
                Value::Int(_) | Value::Bool(_) => (count_at(a, o, "the number of candidates")?, None),
                _ => {
                    let x = crate::ops::literal::to_tensor(a.value(o)).map_err(|d| d.at(a.span_at(o)))?;
                    let rows =
                        match ops::shape_of(&x).first() {
                            Some(&r) => r,
                            None => return Err(Diagnostic::new(
                                ErrorKind::Value,
                                "`choice` picks rows of a tensor with at least one axis, or from `0..a` for an int `a`",
                            )
                            .at(a.span_at(o))),
                        };
                    (rows, Some(x))
                }
            };
            let shape = shape_at(a, o + 1)?;
            te(dp_tensor::checked_size(&shape)).map_err(|d| d.at(a.span_at(o + 1)))?;
            let replace = a.bool(o + 2).map_err(|d| d.at(a.span_at(o + 2)))?;
            let p = match a.given(o + 3) {
                None | Some(Value::None) => Vec::new(),
                Some(_) => vec![tensor_operand(a, o + 3)?],
            };
            let draw = Random::Choice {
                n,
                shape,
                replace,
                rows: from.is_some(),
            };
            Ok(Drawn {
                rows_of: from,
                ..Drawn::new(draw, p, a.span)
            })
        },
    );
    register_forms(
        t,
        Decl {
            sig: "permutation(k: key, x: int | tensor) -> tensor",
            summary: "A random ordering of `0..x` (an int), or the rows of the tensor `x` shuffled.",
            doc: "With a key it draws from the key (as `random.permutation`); without one, `permutation(x)` draws \
                  from the global generator that `seed(n)` restarts. Shuffle rows with `take(x, permutation(n))` \
                  or `permutation(x)`; shuffled rows are differentiable (a gather).",
            example: "permutation(key(0), 5);\ntake(tensor([10.0, 20.0, 30.0]), permutation(3))",
        },
        "permutation(x: int | tensor) -> tensor",
        permutation,
    );
}
