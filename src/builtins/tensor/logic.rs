//! Element types and logic: `dtype`, `astype`, and the elementwise
//! `logical_and`/`logical_or`/`logical_xor`/`logical_not` (dp's `and`, `or`
//! and `not` are keywords that short-circuit on single bools). None of these
//! is differentiable: bools carry no derivative.

use super::args::*;
use crate::builtins::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{as_tensor, from_tensor};
use crate::value::Value;
use dp_tensor::{BinaryOp, Tensor};
use std::collections::HashMap;
use std::rc::Rc;

/// The element type name of a number, bool or tensor.
pub(crate) fn dtype_name(v: &Value) -> Option<&'static str> {
    // `peek`, not `strip`: the element type is known from the trace (a plan's
    // signature includes whether each tensor is bool), so under jit it is
    // not a read of the elements.
    Some(match v.peek() {
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::Tensor(t) => t.dtype().name(),
        _ => return None,
    })
}

/// Whether any of `vs` is being batched, differentiated or traced: then
/// the logic is computed with the comparison primitives ([`truth`]), which
/// `vmap` batches per example and `trace`/`jit` record, instead of on the
/// raw elements (which under `vmap` hold the whole batch).
fn wrapped(vs: &[&Value]) -> bool {
    vs.iter().any(|v| matches!(v, Value::Dual(_)))
}

/// `v != 0` as a bool (tensor), through the comparison primitive.
fn truth(v: &Value) -> R<Value> {
    crate::ops::binary(BinaryOp::Ne, v, &Value::Float(0.0))
}

/// The argument as a bool tensor (`true` where non-zero, as NumPy's `astype(bool)`).
fn bools(fname: &str, v: &Value) -> R<Tensor> {
    let t = as_tensor(numeric(fname, v)?.strip())?;
    te(t.to_bool())
}

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "dtype(x) -> str",
            summary: "The element type of a tensor or number: \"float64\", \"bool\" or (for an int) \"int64\".",
            doc: "Comparisons of tensors give bool tensors; arithmetic gives float64. Also `x.dtype`.",
            example: "dtype(tensor([1.0, 2.0]) > 1.0)  # \"bool\"",
        },
        |_, a| {
            let x = a.value(0);
            dtype_name(x).map(Value::str).ok_or_else(|| {
                Diagnostic::new(
                    ErrorKind::Type,
                    format!("`dtype` expects a number, bool or tensor, found {}", x.describe()),
                )
                .at(a.span_of(0))
            })
        },
    );
    register(
        t,
        Decl {
            sig: "astype(x: tensor, dtype: str) -> tensor",
            summary: "`x` converted to the element type `\"bool\"` (non-zero is true) or `\"float64\"` (true is 1.0).",
            doc: "`\"float\"` is accepted for `\"float64\"`. Converting to bool is not differentiable; converting a float tensor to float64 returns it unchanged.",
            example: "astype(tensor([0.0, 2.0, -1.0]), \"bool\")  # [false, true, true]",
        },
        |_, a| {
            let x = numeric("astype", a.value(0))?;
            match &*a.str_as(1, "the dtype")? {
                "bool" if wrapped(&[&x]) => truth(&x),
                "bool" => Ok(from_tensor(bools("astype", &x)?)),
                "float64" | "float" if wrapped(&[&x]) => match x.peek() {
                    // Bools act as 0/1 in arithmetic, which gives float64.
                    Value::Bool(_) => crate::ops::binary(BinaryOp::Mul, &x, &Value::Float(1.0)),
                    Value::Tensor(t) if t.is_bool() => crate::ops::binary(BinaryOp::Mul, &x, &Value::Float(1.0)),
                    _ => Ok(x),
                },
                "float64" | "float" => match x.strip() {
                    Value::Bool(b) => Ok(Value::Float(f64::from(u8::from(*b)))),
                    Value::Tensor(t) if t.is_bool() => Ok(from_tensor(t.to_f64())),
                    _ => Ok(x),
                },
                other => Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`astype` knows the dtypes \"float64\" and \"bool\", found {other:?}"),
                )
                .at(a.span_of(1))),
            }
        },
    );
    register(
        t,
        Decl {
            sig: "logical_not(x: tensor) -> bool | tensor",
            summary: "`true` where `x` is false (zero), elementwise: a bool tensor (a bool for a number).",
            doc: "",
            example: "logical_not(tensor([1.0, 2.0]) > 1.5)  # [true, false]",
        },
        |_, a| {
            if wrapped(&[a.value(0)]) {
                let x = numeric("logical_not", a.value(0))?;
                return crate::ops::binary(BinaryOp::Eq, &x, &Value::Float(0.0));
            }
            let x = bools("logical_not", a.value(0))?;
            Ok(from_tensor(x.binary_scalar(0.0, BinaryOp::Eq, false)))
        },
    );
    for (decl, op) in [
        (
            Decl {
                sig: "logical_and(a: tensor, b: tensor) -> bool | tensor",
                summary: "`true` where both `a` and `b` are true (non-zero), elementwise (broadcasting).",
                doc: "",
                example: "let x = tensor([1.0, 2.0, 3.0]); logical_and(x > 1.5, x < 2.5)  # [false, true, false]",
            },
            BinaryOp::Mul,
        ),
        (
            Decl {
                sig: "logical_or(a: tensor, b: tensor) -> bool | tensor",
                summary: "`true` where `a` or `b` is true (non-zero), elementwise (broadcasting).",
                doc: "",
                example: "let x = tensor([1.0, 2.0, 3.0]); logical_or(x < 1.5, x > 2.5)  # [true, false, true]",
            },
            BinaryOp::Maximum,
        ),
        (
            Decl {
                sig: "logical_xor(a: tensor, b: tensor) -> bool | tensor",
                summary: "`true` where exactly one of `a` and `b` is true (non-zero), elementwise (broadcasting).",
                doc: "",
                example: "logical_xor(tensor([true, true]), tensor([true, false]))  # [false, true]",
            },
            BinaryOp::Ne,
        ),
    ] {
        register(t, decl, move |_, a| {
            let name = a.name();
            if wrapped(&[a.value(0), a.value(1)]) {
                let (x, y) = (numeric(name, a.value(0))?, numeric(name, a.value(1))?);
                let both = crate::ops::binary(op, &truth(&x)?, &truth(&y)?).map_err(|d| d.at(a.span))?;
                return truth(&both);
            }
            let (x, y) = (bools(name, a.value(0))?, bools(name, a.value(1))?);
            let out = x.binary(&y, op).map_err(|e| {
                crate::prim::tensor_error(e)
                    .at(a.span)
                    .with_help(format!("`{name}` broadcasts its arguments like arithmetic does"))
            })?;
            // On 0.0/1.0 operands `*` is `and`, `maximum` is `or` and `!=` is `xor`.
            Ok(from_tensor(te(out.to_bool())?))
        });
    }
}
