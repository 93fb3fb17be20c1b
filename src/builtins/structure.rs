//! Builtins for tuples, dicts and trees (docs/language.md §7).

use super::{arg_type, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops;
use crate::ops::index::iterate;
use crate::value::tree;
use crate::value::{Dict, Tuple, Value};
use std::collections::HashMap;
use std::rc::Rc;

use crate::diagnostics::R;

fn dict_arg(fname: &str, v: &Value) -> R<Dict> {
    match v {
        Value::Dict(d) => Ok(d.clone()),
        other => {
            Err(arg_type(fname, "its first argument", "a dict", other)
                .with_label(format!("this is {}", other.describe())))
        }
    }
}

fn tuple_arg(fname: &str, v: &Value) -> R<Tuple> {
    match v {
        Value::Tuple(t) => Ok(t.clone()),
        other => {
            Err(arg_type(fname, "its first argument", "a tuple", other)
                .with_label(format!("this is {}", other.describe())))
        }
    }
}

fn items_of(fname: &str, v: &Value) -> R<Vec<Value>> {
    let mut expected = None;
    if let Value::Range(a, b, s) = v {
        // A range is lazy; materialising it must fit the memory budget (the
        // other iterables are already in memory).
        let n = crate::ops::index::range_len(*a, *b, *s).map_or(u128::MAX, |n| n as u128);
        expected = usize::try_from(n).ok();
        crate::value::tuple::check_len(n).map_err(|d| {
            d.with_help(format!(
                "`{fname}` materialises the range; iterate over it with `for` instead"
            ))
        })?;
    }
    if let Value::Tensor(t) = v.strip() {
        // A zero-size tensor can have a huge leading axis: one tuple entry per row.
        match t.shape().first() {
            Some(&rows) => crate::value::tuple::check_len(rows as u128)?,
            None => return Err(super::unsized_error(fname)),
        }
    }
    let items = iterate(v).map_err(|_| {
        arg_type(fname, "its argument", "a tuple, dict, range, string or tensor", v)
            .with_label(format!("this is {}", v.describe()))
    })?;
    crate::value::tuple::collect_elements(items, expected)
}

/// Registers the structure and tree builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "keys(d: dict) -> tuple",
            summary: "The keys of a dict, in order, as a tuple of strings.",
            doc: "Dicts keep their keys sorted.",
            example: "keys({b: 1, a: 2})  # (\"a\", \"b\")",
        },
        |_, a| {
            Ok(Value::tuple(
                dict_arg("keys", a.value(0))
                    .map_err(|d| d.at(a.span_of(0)))?
                    .keys()
                    .map(|k| Value::Str(k.clone())),
            ))
        },
    );
    register(
        t,
        Decl {
            sig: "values(d: dict) -> tuple",
            summary: "The values of a dict, in key order.",
            doc: "",
            example: "values({b: 1, a: 2})  # (2, 1)",
        },
        |_, a| {
            Ok(Value::tuple(
                dict_arg("values", a.value(0))
                    .map_err(|d| d.at(a.span_of(0)))?
                    .values()
                    .cloned(),
            ))
        },
    );
    register(
        t,
        Decl {
            sig: "items(d: dict) -> tuple",
            summary: "The `(key, value)` pairs of a dict, in key order.",
            doc: "",
            example: "for (k, v) in items({a: 1}) { print(k, v) }",
        },
        |_, a| {
            Ok(Value::tuple(
                dict_arg("items", a.value(0))
                    .map_err(|d| d.at(a.span_of(0)))?
                    .iter()
                    .map(|(k, x)| Value::tuple([Value::Str(k.clone()), x.clone()])),
            ))
        },
    );
    register(
        t,
        Decl {
            sig: "has(d: dict, key: str) -> bool",
            summary: "Whether the dict has the key.",
            doc: "",
            example: "has({a: 1}, \"a\")  # true",
        },
        |_, a| {
            let d = dict_arg("has", a.value(0)).map_err(|d| d.at(a.span_of(0)))?;
            let k = a.str_as(1, "the key").map_err(|d| d.at(a.span_of(1)))?;
            Ok(Value::Bool(d.contains_key(&k)))
        },
    );
    register(
        t,
        Decl {
            sig: "insert(d: dict, key: str, value) -> dict",
            summary: "A copy of the dict with `key` set to `value`.",
            doc: "Values are immutable: `d` itself is unchanged (write `d = insert(d, k, v)`).",
            example: "insert({a: 1}, \"b\", 2)  # {a: 1, b: 2}",
        },
        |_, a| {
            let mut d = dict_arg("insert", a.value(0)).map_err(|d| d.at(a.span_of(0)))?;
            let k = a.str_as(1, "the key").map_err(|d| d.at(a.span_of(1)))?;
            d.insert(k, a.value(2).clone());
            Ok(Value::Dict(d))
        },
    );
    register(
        t,
        Decl {
            sig: "remove(d: dict, key: str) -> dict",
            summary: "A copy of the dict without `key`.",
            doc: "The key must be present.",
            example: "remove({a: 1, b: 2}, \"a\")  # {b: 2}",
        },
        |_, a| {
            let mut d = dict_arg("remove", a.value(0)).map_err(|d| d.at(a.span_of(0)))?;
            let k = a.str_as(1, "the key").map_err(|d| d.at(a.span_of(1)))?;
            if d.remove(&k).is_none() {
                return Err(crate::value::dict::missing_key(&d, &k, a.span_of(1)));
            }
            Ok(Value::Dict(d))
        },
    );
    register(
        t,
        Decl {
            sig: "append(t: tuple, x) -> tuple",
            summary: "A copy of the tuple with `x` added at the end.",
            doc: "Write `t = append(t, x)` to grow a tuple in a loop.",
            example: "append((1, 2), 3)  # (1, 2, 3)",
        },
        |_, a| {
            let mut tup = tuple_arg("append", a.value(0)).map_err(|d| d.at(a.span_of(0)))?;
            if tup.len() >= 1 << 20 {
                // Only long tuples can approach the budget; short ones skip the check.
                crate::value::tuple::check_len(tup.len() as u128 + 1)?;
            }
            tup.push(a.value(1).clone());
            Ok(Value::Tuple(tup))
        },
    );
    register(
        t,
        Decl {
            sig: "tuple(x = ()) -> tuple",
            summary:
                "The items of a tuple, dict (its keys), range, string (its characters) or tensor (its rows) as a tuple.",
            doc: "`tuple()` is the empty tuple.",
            example: "tuple(range(3))  # (0, 1, 2)",
        },
        |_, a| match a.given(0) {
            None => Ok(Value::Tuple(Tuple::new())),
            Some(x) => Ok(Value::tuple(items_of("tuple", x).map_err(|d| d.at(a.span_of(0)))?)),
        },
    );
    register(
        t,
        Decl {
            sig: "zip(*xs) -> tuple",
            summary: "Tuples of corresponding items of the arguments, as long as the shortest.",
            doc: "",
            example: "zip((1, 2), (\"a\", \"b\"))  # ((1, \"a\"), (2, \"b\"))",
        },
        |_, a| {
            let lists: Vec<Vec<Value>> = a.rest().iter().map(|x| items_of("zip", x)).collect::<R<_>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::tuple(
                (0..n).map(|i| Value::tuple(lists.iter().map(|l| l[i].clone()))),
            ))
        },
    );
    register(
        t,
        Decl {
            sig: "map(f: fn, xs) -> tuple",
            summary: "`f` applied to every item of `xs`, as a tuple.",
            doc: "",
            example: "map(|x| x * x, (1, 2, 3))  # (1, 4, 9)",
        },
        |it: &mut Interp, a| {
            let f = a.func(0).map_err(|d| d.at(a.span_of(0)))?;
            let xs = items_of("map", a.value(1)).map_err(|d| d.at(a.span_of(1)))?;
            let mut out = Vec::with_capacity(xs.len());
            for x in xs {
                out.push(it.call_values(&f, &mut [x], a.span)?);
            }
            Ok(Value::Tuple(Tuple::from(out)))
        },
    );
    register(
        t,
        Decl {
            sig: "filter(f: fn, xs) -> tuple",
            summary: "The items of `xs` for which `f` returns true.",
            doc: "`f` must return a bool.",
            example: "filter(|x| x > 1, (1, 2, 3))  # (2, 3)",
        },
        |it: &mut Interp, a| {
            let f = a.func(0).map_err(|d| d.at(a.span_of(0)))?;
            let mut out = Vec::new();
            for x in items_of("filter", a.value(1)).map_err(|d| d.at(a.span_of(1)))? {
                match it.call_values(&f, &mut [x.clone()], a.span)? {
                    Value::Bool(true) => out.push(x),
                    Value::Bool(false) => {}
                    other => return Err(arg_type("filter", "the predicate's result", "a bool", &other)),
                }
            }
            Ok(Value::Tuple(Tuple::from(out)))
        },
    );
    register(
        t,
        Decl {
            sig: "reduce(f: fn, xs, init)",
            summary: "Folds `xs` from the left: `f(f(init, x0), x1)`, ...",
            doc: "",
            example: "reduce(|acc, x| acc + x, (1, 2, 3), 0)  # 6",
        },
        |it: &mut Interp, a| {
            let f = a.func(0).map_err(|d| d.at(a.span_of(0)))?;
            // The pair passed to `f` stays in place: each call moves both
            // out, and the result and the next item are moved back in.
            let mut pair = [a.value(2).clone(), Value::None];
            let mut step = |x: Value, pair: &mut [Value; 2]| -> R<()> {
                crate::value::put(&mut pair[1], x);
                let r = it.call_values(&f, pair, a.span)?;
                crate::value::put(&mut pair[0], r);
                Ok(())
            };
            match a.value(1) {
                // A tuple is read in place, not copied into a list first.
                Value::Tuple(t) => t.iter().try_for_each(|x| step(x.clone(), &mut pair))?,
                xs => items_of("reduce", xs)
                    .map_err(|d| d.at(a.span_of(1)))?
                    .into_iter()
                    .try_for_each(|x| step(x, &mut pair))?,
            }
            let [acc, _] = pair;
            Ok(acc)
        },
    );
    register(
        t,
        Decl {
        sig: "tree_map(f: fn, *trees)",
        summary: "Applies `f` leaf by leaf to one or more trees of the same structure.",
        doc: "A tree is any nesting of tuples and dicts; its leaves are everything else. With several trees, `f` gets one leaf of each. Where any of the trees has `none` (e.g. the gradient of an int parameter), `f` is not called and the first tree's leaf is kept.",
        example: "tree_map(|p, g| p - 0.1 * g, {w: 1.0}, {w: 2.0})  # {w: 0.8}",
    },
        |it: &mut Interp, a| {
                if a.rest().is_empty() {
            return Err(Diagnostic::new(
                ErrorKind::Arity,
                "`tree_map` takes a function and at least one tree",
            ));
        }
        let f = a.func(0)?;
        let span = a.span;
        tree::map_many(a.rest(), &mut |leaves, _| {
            // `none` passes through, so `tree_map(|p, g| p - lr * g, params, grads)` keeps
            // the parameters whose gradient is `none`.
            if leaves.iter().any(|x| matches!(x, Value::None)) {
                return Ok(leaves[0].clone());
            }
            let mut args: smallvec::SmallVec<[Value; 4]> = leaves.iter().cloned().collect();
            it.call_values(&f, &mut args, span)
        })
        .map_err(|d| d.at(span))
    });
    register(
        t,
        Decl {
            sig: "tree_leaves(tree) -> tuple",
            summary: "The leaves of a tree, depth first, dict entries in key order.",
            doc: "",
            example: "tree_leaves({b: (1, 2), a: 3})  # (3, 1, 2)",
        },
        |_, a| Ok(Value::tuple(tree::leaves(a.value(0))?)),
    );
    register(
        t,
        Decl {
            sig: "tree_zeros_like(tree)",
            summary: "A tree of the same structure with every numeric leaf zero.",
            doc: "Ints stay ints, tensors keep their shapes; other leaves are kept.",
            example: "tree_zeros_like({w: ones(2), n: 3})",
        },
        |_, a| {
            tree::map_leaves(a.value(0), &mut |x, _| match x {
                // An int stays an int, as in JAX's zeros_like.
                Value::Int(_) => Ok(Value::Int(0)),
                x if x.is_numeric() => ops::zeros_like(x),
                x => Ok(x.clone()),
            })
        },
    );
    register(
        t,
        Decl {
            sig: "tree_add(a, b)",
            summary: "The leafwise sum of two trees of the same structure.",
            doc: "",
            example: "tree_add((1.0, ones(2)), (2.0, ones(2)))",
        },
        |_, a| {
            tree::map_many(&[a.value(0).clone(), a.value(1).clone()], &mut |p, _| {
                crate::ops::arith::binary(crate::syntax::ast::BinOp::Add, &p[0], &p[1])
            })
        },
    );
    register(
        t,
        Decl {
            sig: "tree_scale(tree, s)",
            summary: "Every numeric leaf of the tree multiplied by `s`.",
            doc: "",
            example: "tree_scale({w: ones(2)}, 0.5)",
        },
        |_, a| {
            let s = a.value(1).clone();
            tree::map_leaves(a.value(0), &mut |x, _| {
                if x.is_numeric() {
                    crate::ops::arith::binary(crate::syntax::ast::BinOp::Mul, x, &s)
                } else {
                    Ok(x.clone())
                }
            })
        },
    );
    register(
        t,
        Decl {
            sig: "tree_dot(a, b) -> float",
            summary: "The sum over all leaves of the elementwise products of two trees.",
            doc: "",
            example: "tree_dot((1.0, ones(2)), (2.0, ones(2)))  # 4.0",
        },
        |_, a| crate::autodiff::api::tree_dot(a.value(0), a.value(1)),
    );
}
