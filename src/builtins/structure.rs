//! Builtins for tuples, dicts and trees (docs/language.md §7).

use super::{arg_type, func_arg, register, str_arg, Args};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::index::iterate;
use crate::eval::Interp;
use crate::ops;
use crate::tree;
use crate::value::{Dict, Tuple, Value};
use std::collections::HashMap;
use std::rc::Rc;

type R<T> = Result<T, Diagnostic>;

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
        let n = super::core::range_len(*a, *b, *s).map_or(u128::MAX, |n| n as u128);
        expected = usize::try_from(n).ok();
        crate::tuple::check_len(n).map_err(|d| {
            d.with_help(format!(
                "`{fname}` materialises the range; iterate over it with `for` instead"
            ))
        })?;
    }
    let items = iterate(v).map_err(|_| {
        arg_type(fname, "its argument", "a tuple, dict, range, string or tensor", v)
            .with_label(format!("this is {}", v.describe()))
    })?;
    crate::tuple::collect_elements(items, expected)
}

fn get(v: &[Option<Value>], i: usize) -> Value {
    v.get(i).cloned().flatten().unwrap_or(Value::None)
}

/// Registers the structure and tree builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(t, "keys", |_, a| {
        let v = a.bind("keys", &["d"])?;
        Ok(Value::tuple(
            dict_arg("keys", &get(&v, 0))
                .map_err(|d| d.at(a.span_of(0)))?
                .keys()
                .map(|k| Value::Str(k.clone())),
        ))
    });
    register(t, "values", |_, a| {
        let v = a.bind("values", &["d"])?;
        Ok(Value::tuple(
            dict_arg("values", &get(&v, 0))
                .map_err(|d| d.at(a.span_of(0)))?
                .values()
                .cloned(),
        ))
    });
    register(t, "items", |_, a| {
        let v = a.bind("items", &["d"])?;
        Ok(Value::tuple(
            dict_arg("items", &get(&v, 0))
                .map_err(|d| d.at(a.span_of(0)))?
                .iter()
                .map(|(k, x)| Value::tuple([Value::Str(k.clone()), x.clone()])),
        ))
    });
    register(t, "has", |_, a| {
        let v = a.bind("has", &["d", "key"])?;
        let d = dict_arg("has", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let k = str_arg("has", "the key", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))?;
        Ok(Value::Bool(d.contains_key(&k)))
    });
    register(t, "insert", |_, a| {
        let v = a.bind("insert", &["d", "key", "value"])?;
        let mut d = dict_arg("insert", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let k = str_arg("insert", "the key", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))?;
        d.insert(k, get(&v, 2));
        Ok(Value::Dict(d))
    });
    register(t, "remove", |_, a| {
        let v = a.bind("remove", &["d", "key"])?;
        let mut d = dict_arg("remove", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let k = str_arg("remove", "the key", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))?;
        if d.remove(&k).is_none() {
            return Err(crate::eval::interp::missing_key(&d, &k, a.span_of(1)));
        }
        Ok(Value::Dict(d))
    });
    register(t, "append", |_, a| {
        let v = a.bind("append", &["t", "x"])?;
        let mut tup = tuple_arg("append", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        if tup.len() >= 1 << 20 {
            // Only long tuples can approach the budget; short ones skip the check.
            crate::tuple::check_len(tup.len() as u128 + 1)?;
        }
        tup.push(get(&v, 1));
        Ok(Value::Tuple(tup))
    });
    register(t, "tuple", |_, a| {
        let v = a.bind("tuple", &["x?"])?;
        match v[0].as_ref() {
            None => Ok(Value::Tuple(Tuple::new())),
            Some(x) => Ok(Value::tuple(items_of("tuple", x)?)),
        }
    });
    register(t, "zip", |_, a: Args| {
        a.only_kwargs("zip", &[])?;
        let lists: Vec<Vec<Value>> = a.pos.iter().map(|x| items_of("zip", x)).collect::<R<_>>()?;
        let n = lists.iter().map(Vec::len).min().unwrap_or(0);
        Ok(Value::tuple(
            (0..n).map(|i| Value::tuple(lists.iter().map(|l| l[i].clone()))),
        ))
    });
    register(t, "map", |it: &mut Interp, a: Args| {
        let v = a.bind("map", &["f", "xs"])?;
        let f = func_arg("map", "f", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let xs = items_of("map", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))?;
        let mut out = Tuple::new();
        for x in xs {
            out.push(it.call_pos(&f, vec![x], a.span)?);
        }
        Ok(Value::Tuple(out))
    });
    register(t, "filter", |it: &mut Interp, a: Args| {
        let v = a.bind("filter", &["f", "xs"])?;
        let f = func_arg("filter", "f", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let mut out = Tuple::new();
        for x in items_of("filter", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))? {
            match it.call_pos(&f, vec![x.clone()], a.span)? {
                Value::Bool(true) => out.push(x),
                Value::Bool(false) => {}
                other => return Err(arg_type("filter", "the predicate's result", "a bool", &other)),
            }
        }
        Ok(Value::Tuple(out))
    });
    register(t, "reduce", |it: &mut Interp, a: Args| {
        let v = a.bind("reduce", &["f", "xs", "init"])?;
        let f = func_arg("reduce", "f", &get(&v, 0)).map_err(|d| d.at(a.span_of(0)))?;
        let mut acc = get(&v, 2);
        for x in items_of("reduce", &get(&v, 1)).map_err(|d| d.at(a.span_of(1)))? {
            acc = it.call_pos(&f, vec![acc, x], a.span)?;
        }
        Ok(acc)
    });
    register(t, "tree_map", |it: &mut Interp, a: Args| {
        a.only_kwargs("tree_map", &[])?;
        if a.pos.len() < 2 {
            return Err(Diagnostic::new(
                ErrorKind::Arity,
                "`tree_map` takes a function and at least one tree",
            ));
        }
        let f = func_arg("tree_map", "f", &a.pos[0])?;
        let span = a.span;
        tree::map_many(&a.pos[1..], &mut |leaves, _| it.call_pos(&f, leaves.to_vec(), span)).map_err(|d| d.at(span))
    });
    register(t, "tree_leaves", |_, a| {
        let v = a.bind("tree_leaves", &["tree"])?;
        Ok(Value::tuple(tree::leaves(&get(&v, 0))?))
    });
    register(t, "tree_zeros_like", |_, a| {
        let v = a.bind("tree_zeros_like", &["tree"])?;
        tree::map_leaves(&get(&v, 0), &mut |x, _| match x {
            // An int stays an int, as in JAX's zeros_like.
            Value::Int(_) => Ok(Value::Int(0)),
            x if x.is_numeric() => ops::zeros_like(x),
            x => Ok(x.clone()),
        })
    });
    register(t, "tree_add", |_, a| {
        let v = a.bind("tree_add", &["a", "b"])?;
        tree::map_many(&[get(&v, 0), get(&v, 1)], &mut |p, _| {
            crate::eval::arith::binary(crate::syntax::ast::BinOp::Add, &p[0], &p[1])
        })
    });
    register(t, "tree_scale", |_, a| {
        let v = a.bind("tree_scale", &["tree", "s"])?;
        let s = get(&v, 1);
        tree::map_leaves(&get(&v, 0), &mut |x, _| {
            if x.is_numeric() {
                crate::eval::arith::binary(crate::syntax::ast::BinOp::Mul, x, &s)
            } else {
                Ok(x.clone())
            }
        })
    });
    register(t, "tree_dot", |_, a| {
        let v = a.bind("tree_dot", &["a", "b"])?;
        crate::autodiff::api::tree_dot(&get(&v, 0), &get(&v, 1))
    });
}
