//! `vmap` of the builtins that have no batching rule of their own: the keyed
//! random draws and key splitting.
//!
//! A draw is a pure function of its key, its parameters and its shape, and
//! each example of a batch may bring its own key (`vmap(f)(key_split(k, n))`)
//! or its own parameters (`bernoulli(k, p)` with a batched `p`). The bits of
//! one key's stream cannot be computed as one tensor operation over many
//! keys, so these builtins run once per example of the innermost batch level
//! and their results are stacked: exactly `stack([f(x) for x in xs])`, a
//! loop over examples, as docs/guide.md says in the `vmap` section. Every
//! other builtin batches through the batching rules of its primitives.

use super::trace::{batched, batched_at, innermost_batch, strip_diff, Level};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::ops::{self, index::Item, num};
use crate::prim::{Prim, Stack};
use crate::syntax::span::Span;
use crate::value::native::{Args, Native};
use crate::value::{tree, Value};
use std::rc::Rc;

/// The innermost running `vmap` level batching any argument of a call.
fn call_level(args: &Args) -> R<Option<Rc<Level>>> {
    let mut best: Option<Rc<Level>> = None;
    for v in args.pos.iter().chain(args.kw.iter().map(|(_, v)| v)) {
        for leaf in tree::leaves(v)? {
            if let Some(l) = innermost_batch(&leaf) {
                if best.as_ref().is_none_or(|b| l.id > b.id) {
                    best = Some(l);
                }
            }
        }
    }
    Ok(best)
}

/// Example `i` of `v` at batch `level` (`v` itself when `level` does not batch it).
fn example(v: &Value, level: &Level, i: usize, span: Span) -> R<Value> {
    tree::map_leaves(v, &mut |leaf, _| match batched_at(&strip_diff(leaf), level) {
        // A batch of keys is a tuple of keys, one per example (see `vmap`).
        Some(Value::Tuple(keys)) => Ok(keys.get(i).cloned().unwrap_or(Value::None)),
        Some(full) => ops::index::index(&full, vec![Item::At(Value::Int(i as i64), span)], span, span),
        None => Ok(leaf.clone()),
    })
}

/// The examples' results stacked into one value batched at `level`: keys
/// into a batch of keys, numbers along a new leading axis.
fn stack_examples(level: &Rc<Level>, results: &[Value]) -> R<Value> {
    tree::map_many(results, &mut |leaves, _| {
        if leaves.iter().all(|l| matches!(l.peek(), Value::Key(_))) {
            // A key a jit trace derived (from a key input of its plan) is read here.
            return Ok(batched(level, Value::tuple(leaves.iter().map(|l| l.strip().clone()))));
        }
        if leaves.iter().all(Value::is_numeric) {
            let parts: Vec<Value> = leaves.iter().map(num).collect();
            return Ok(batched(level, ops::apply(&Prim::Stack(Stack(0)), &parts)?));
        }
        Err(Diagnostic::new(
            ErrorKind::Type,
            format!(
                "vmap: a builtin run once per example returned {}, which cannot be stacked over the examples",
                leaves.first().map_or("nothing".into(), Value::describe)
            ),
        ))
    })
}

/// `f` run once per example of the innermost batch level of `args`, its
/// results stacked; a plain call when nothing is batched.
pub fn call(it: &mut Interp, f: &Native, args: Args) -> R<Value> {
    let Some(level) = call_level(&args)? else {
        return (f.func)(it, args);
    };
    let n = level.batch_size().unwrap_or(0);
    let span = args.span;
    let mut results = Vec::with_capacity(n);
    for i in 0..n {
        let pos = args
            .pos
            .iter()
            .map(|v| example(v, &level, i, span))
            .collect::<R<Vec<_>>>()?;
        let kw = args
            .kw
            .iter()
            .map(|(k, v)| Ok((k.clone(), example(v, &level, i, span)?)))
            .collect::<R<Vec<_>>>()?;
        let one = Args {
            pos,
            kw,
            span,
            spans: args.spans.clone(),
        };
        // The example may still be batched by outer levels: loop over those too.
        results.push(call(it, f, one)?);
    }
    if results.is_empty() {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            "vmap: a random draw over a batch of no examples has no result to stack",
        )
        .at(span));
    }
    stack_examples(&level, &results)
}

/// Makes the builtins `names` of `table` run per example under `vmap` (see the module doc).
pub fn wrap(table: &mut std::collections::HashMap<Rc<str>, Value>, names: &[&str]) {
    for name in names {
        let Some(Value::Native(inner)) = table.get(*name).cloned() else {
            continue;
        };
        let wrapped = Native {
            name: inner.name.clone(),
            sig: inner.sig.clone(),
            payload: inner.payload.clone(),
            func: Box::new(move |it: &mut Interp, args: Args| call(it, &inner, args)),
        };
        table.insert(Rc::from(*name), Value::Native(Rc::new(wrapped)));
    }
}
