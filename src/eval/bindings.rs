//! Variables: reading, storing and updating frame slots and module globals,
//! and destructuring patterns (`let (a, {b}) = ...`).

use super::calls::plural;
use super::interp::{Exec, Frame, Interp};
use super::ir::{self, Target};
use super::operands::SecondaryOperands;
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::syntax::span::Span;
use crate::value::Value;

impl Interp {
    /// `x = x op rhs`: `rhs` first, then [`Interp::update_with`] (a uniquely
    /// owned tensor is updated in place; on any error `x` keeps its value).
    pub(super) fn update(
        &mut self,
        target: Target,
        name: &str,
        op: crate::syntax::ast::BinOp,
        (lhs_span, rhs_span, span): (Span, Span, Span),
        f: &mut Frame,
        rhs: impl FnOnce(&mut Self, &mut Frame) -> Exec<Value>,
    ) -> Exec<()> {
        if self.unbound_global(target, f) {
            return Err(
                Diagnostic::new(ErrorKind::Name, format!("`{name}` is used before it is defined"))
                    .at(lhs_span)
                    .with_label("no value has been bound to this name yet")
                    .into(),
            );
        }
        let r = rhs(self, f)?;
        self.update_with(target, op, (lhs_span, rhs_span, span), f, r)
    }

    /// `x = x op r` with `r` already computed. `rhs` cannot observe `x` (the
    /// resolver checks), so `x` is moved out of its slot only now: a uniquely
    /// owned tensor is then updated in place.
    pub(super) fn update_with(
        &mut self,
        target: Target,
        op: crate::syntax::ast::BinOp,
        (lhs_span, rhs_span, span): (Span, Span, Span),
        f: &mut Frame,
        r: Value,
    ) -> Exec<()> {
        let old = self.take(target, f);
        let v = match crate::ops::arith::update_in_place(op, old, &r) {
            Ok(v) => v,
            Err(old) => {
                self.diff.set_span(span);
                let v = crate::ops::arith::binary(op, &old, &r)
                    .map_err(|d| d.at(span).with_secondary_if_missing(lhs_span, rhs_span, &old, &r));
                match v {
                    Ok(v) => v,
                    Err(d) => {
                        self.store(target, old, f);
                        return Err(d.into());
                    }
                }
            }
        };
        self.store(target, v, f);
        Ok(())
    }

    /// `x = append(x, v)` / `x = insert(x, k, v)` once the arguments other
    /// than `x` are evaluated (`rest`): a local's collection grows right in
    /// its slot (in place when uniquely held), a global's is moved out, grown
    /// and stored back; the arguments are moved into it. When the types are
    /// not the expected ones nothing happens and `false` says to make the
    /// ordinary call (which reports them).
    pub(super) fn grow_in_place(
        &mut self,
        target: Target,
        kind: ir::GrowKind,
        rest: &mut [Value],
        f: &mut Frame,
    ) -> bool {
        match target {
            Target::Local(s) => {
                let x = &mut f.slots[s as usize];
                grow_fits(kind, x, rest) && grow_value(x, rest)
            }
            Target::Global(g) => {
                // `get` clones: dropped before the value is taken, so a
                // uniquely held collection is still unique when it grows.
                if !grow_fits(kind, &f.module.get(g).unwrap_or(Value::None), rest) {
                    return false;
                }
                let mut x = self.take(target, f);
                grow_value(&mut x, rest);
                self.store(target, x, f);
                true
            }
        }
    }

    /// Whether `t` is a module global that has no value yet.
    pub(super) fn unbound_global(&self, t: Target, f: &Frame) -> bool {
        matches!(t, Target::Global(g) if f.module.get(g).is_none())
    }

    /// Moves a variable's value out (leaving `none`), for in-place updates.
    fn take(&mut self, t: Target, f: &mut Frame) -> Value {
        match t {
            Target::Local(s) => std::mem::replace(&mut f.slots[s as usize], Value::None),
            Target::Global(g) => {
                let v = f.module.get(g).unwrap_or(Value::None);
                f.module.set(g, Value::None);
                v
            }
        }
    }

    pub(super) fn store(&mut self, t: Target, v: Value, f: &mut Frame) {
        if let (Target::Global(g), false) = (t, self.jit_watch.is_empty()) {
            let name = f.module.name_of(g).unwrap_or_else(|| "?".into());
            self.note_effect(format!("assigns the global `{name}`"), self.diff.span());
        }
        match t {
            Target::Local(s) => f.slots[s as usize] = v,
            Target::Global(g) => f.module.set(g, v),
        }
    }

    pub(super) fn bind(&mut self, p: &ir::Pattern, v: Value, f: &mut Frame) -> Result<(), Diagnostic> {
        match p {
            ir::Pattern::Bind(t, _) => {
                self.store(*t, v, f);
                Ok(())
            }
            ir::Pattern::Tuple(ps, span) => {
                let items = match &v {
                    Value::Tuple(items) => items.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!(
                                "cannot destructure {}: the pattern expects a tuple of {}",
                                other.describe(),
                                plural(ps.len(), "element")
                            ),
                        )
                        .at(*span)
                        .with_label(format!("expects a tuple, found {}", other.describe())))
                    }
                };
                if items.len() != ps.len() {
                    return Err(Diagnostic::new(
                        ErrorKind::Value,
                        format!(
                            "cannot destructure a tuple of {}: the pattern expects {}",
                            plural(items.len(), "element"),
                            ps.len()
                        ),
                    )
                    .at(*span)
                    .with_label(format!(
                        "expects {}, found {}",
                        plural(ps.len(), "element"),
                        items.len()
                    )));
                }
                for (p, v) in ps.iter().zip(items) {
                    self.bind(p, v, f)?;
                }
                Ok(())
            }
            ir::Pattern::Dict(es, span) => {
                let d = match &v {
                    Value::Dict(d) => d.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!("cannot destructure {}: the pattern expects a dict", other.describe()),
                        )
                        .at(*span)
                        .with_label(format!("expects a dict, found {}", other.describe())))
                    }
                };
                for (k, kspan, p) in es {
                    let v = d
                        .get(k)
                        .cloned()
                        .ok_or_else(|| crate::value::dict::missing_key(&d, k, *kspan))?;
                    self.bind(p, v, f)?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `x = append(x, v)` / `x = insert(x, k, v)` can grow `x` in place:
/// a tuple to append to, or a dict and a string key.
fn grow_fits(kind: ir::GrowKind, x: &Value, rest: &[Value]) -> bool {
    matches!(
        (kind, x, rest),
        (ir::GrowKind::Append, Value::Tuple(_), [_]) | (ir::GrowKind::Insert, Value::Dict(_), [Value::Str(_), _])
    )
}

/// Appends or inserts `rest` into `x` where it is (see `grow_in_place`),
/// moving the arguments; `grow_fits` said the kinds fit (`false` otherwise).
fn grow_value(x: &mut Value, rest: &mut [Value]) -> bool {
    match (x, rest) {
        (Value::Tuple(t), [v]) => t.push(crate::value::take(v)),
        (Value::Dict(d), [Value::Str(k), v]) => d.set(k, crate::value::take(v)),
        _ => return false,
    }
    true
}
