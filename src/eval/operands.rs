//! Operator support for the compiled code: conditions, the slow path of
//! binary operators (labelling both operands when they fail), and fields
//! (`d.key`, `x.shape`).

use super::interp::{check_interrupt, Exec, Interp};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::syntax::span::Span;
use crate::value::Value;

impl Interp {
    pub(super) fn truthy(&self, v: &Value, span: Span, what: &str) -> Result<bool, Diagnostic> {
        if crate::autodiff::trace::is_batched(v) {
            return Err(crate::autodiff::vmap::batched_value_error(what)
                .at(span)
                .with_label("this differs between the examples of the batch"));
        }
        if crate::autodiff::trace::is_traced(v) {
            crate::autodiff::trace::note_guard(v);
        }
        match v.strip() {
            Value::Bool(b) => Ok(*b),
            Value::Tensor(t) if t.size() == 1 => Ok(t.item().unwrap_or(0.0) != 0.0),
            other => {
                let mut d = Diagnostic::new(
                    ErrorKind::Type,
                    format!("{what} must be a bool, found {}", other.describe()),
                )
                .at(span)
                .with_label("expected `true` or `false`");
                if let Value::Tensor(_) = other {
                    d = d.with_help("use `all(...)` or `any(...)` to turn a tensor comparison into a bool");
                }
                Err(d)
            }
        }
    }

    #[inline(never)]
    pub(super) fn binary_slow(
        &mut self,
        op: crate::syntax::ast::BinOp,
        x: Value,
        y: Value,
        (a, b, span): (Span, Span, Span),
    ) -> Exec<Value> {
        self.diff.set_span(span);
        use crate::syntax::ast::BinOp;
        // Integer division by zero is the divisor's fault: underline it.
        let at = match (op, &x, &y) {
            (BinOp::FloorDiv | BinOp::Mod, Value::Int(_), Value::Int(0)) => b,
            _ => span,
        };
        let r = crate::ops::arith::binary(op, &x, &y).map_err(|d| d.at(at).with_secondary_if_missing(a, b, &x, &y))?;
        // A tensor operation may run long (a large `@`): see `call`.
        check_interrupt(span)?;
        Ok(r)
    }
}

/// `x.name`: a dict key or a tensor property.
#[inline(always)]
pub fn field(v: &Value, name: &str, span: Span) -> Result<Value, Diagnostic> {
    // The common case, a present key, clones straight into the result.
    if let Value::Dict(d) = v {
        if let Some(x) = d.get(name) {
            return Ok(x.clone());
        }
    }
    field_slow(v, name, span)
}

/// `field` for everything but a present dict key.
#[inline(never)]
fn field_slow(v: &Value, name: &str, span: Span) -> Result<Value, Diagnostic> {
    match v {
        Value::Dict(d) => d
            .get(name)
            .cloned()
            .ok_or_else(|| crate::value::dict::missing_key(d, name, span)),
        other => match (other.peek(), name) {
            (Value::Tensor(_) | Value::Float(_), "shape" | "ndim" | "T" | "size") => {
                let f = match name {
                    "shape" => "shape",
                    "ndim" => "ndim",
                    "size" => "size",
                    _ => "transpose",
                };
                crate::ops::literal::property(f, other).map_err(|d| d.at(span))
            }
            (Value::Tensor(_) | Value::Float(_) | Value::Int(_) | Value::Bool(_), "dtype") => Ok(Value::str(
                crate::builtins::tensor::dtype_name(other).unwrap_or("float64"),
            )),
            (Value::Tensor(_) | Value::Float(_), "at") => Err(Diagnostic::new(
                ErrorKind::Type,
                "`x.at` must be indexed and updated: `x.at[i].set(v)`, `.add(v)`, `.mul(v)` or `.get()`",
            )
            .at(span)),
            _ => Err(
                Diagnostic::new(ErrorKind::Type, format!("{} has no field `{name}`", other.describe()))
                    .at(span)
                    .with_help(if matches!(other.strip(), Value::Tensor(_)) {
                        "tensors have the fields `shape`, `ndim`, `size`, `T` and `dtype`, and `x.at[i]` updates"
                            .to_string()
                    } else {
                        "fields are read from dicts (`d.key`) and tensors (`x.shape`)".to_string()
                    }),
            ),
        },
    }
}

/// Labels the operands of a failed binary operator.
pub(super) trait SecondaryOperands {
    fn with_secondary_if_missing(self, a: Span, b: Span, x: &Value, y: &Value) -> Self;
}

impl SecondaryOperands for Diagnostic {
    /// Labels both operands with their types when a binary operator fails.
    fn with_secondary_if_missing(mut self, a: Span, b: Span, x: &Value, y: &Value) -> Self {
        if self.labels.is_empty() && matches!(self.kind, ErrorKind::Type | ErrorKind::Shape) {
            self.labels.push((a, x.describe()));
            self.labels.push((b, y.describe()));
        }
        self
    }
}
