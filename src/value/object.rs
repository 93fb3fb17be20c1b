//! Values of kinds the core language does not know itself: a traced graph
//! (`trace(f)(x)`), and later compiled plans. Each kind is a Rust type behind
//! the [`Object`] trait; the builtins that take one downcast it.

use std::any::Any;

/// A value of a kind made by a builtin module rather than by the language.
pub trait Object: std::fmt::Debug {
    /// The name of the type as users see it (`graph`).
    fn type_name(&self) -> &'static str;

    /// How the value prints (`print`, the REPL, `str`).
    fn write_repr(&self, out: &mut String);

    /// The value as `Any`, so builtins can recover their own type.
    fn as_any(&self) -> &dyn Any;
}
