//! Functions implemented in Rust: builtins and the functions they make at
//! run time (the gradient function `grad(f)` returns, a `vjp` pullback). A
//! native function receives the interpreter, so it can call user closures:
//! that is the one arrow from the value layer up into `eval`.

use super::signature::{Call, Decl, Signature};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::syntax::span::Span;
use crate::value::Value;
use std::rc::Rc;

/// The Rust signature of every native function.
pub type NativeFn = dyn Fn(&mut Interp, Args) -> Result<Value, Diagnostic>;

/// A function implemented in Rust: a builtin, or a function made by one
/// (e.g. the gradient function returned by `grad`).
pub struct Native {
    /// The name shown when printed and in errors.
    pub name: Rc<str>,
    /// The implementation.
    pub func: Box<NativeFn>,
    /// The declaration of a builtin (`None` for functions made at run time,
    /// such as the result of `grad(f)`).
    pub sig: Option<Rc<Signature>>,
    /// What a function made at run time is made of, for builtins that
    /// inspect it (`jit_stats` reads a jitted function's plans).
    pub payload: Option<Rc<dyn std::any::Any>>,
}

impl std::fmt::Display for Native {
    /// `<fn grad(f, argnums=0)>` for a builtin, `<fn grad(loss)>` for a made function.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sig {
            Some(sig) => write!(f, "<fn {}{}>", self.name, sig.short()),
            None => write!(f, "<fn {}>", self.name),
        }
    }
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Wraps a Rust closure as a dp function value.
pub fn native(
    name: impl Into<Rc<str>>,
    func: impl Fn(&mut Interp, Args) -> Result<Value, Diagnostic> + 'static,
) -> Value {
    Value::Native(Rc::new(Native {
        name: name.into(),
        func: Box::new(func),
        sig: None,
        payload: None,
    }))
}

/// [`native`], with a payload (see [`Native::payload`]).
pub fn native_with(
    name: impl Into<Rc<str>>,
    payload: Rc<dyn std::any::Any>,
    func: impl Fn(&mut Interp, Args) -> Result<Value, Diagnostic> + 'static,
) -> Value {
    Value::Native(Rc::new(Native {
        name: name.into(),
        func: Box::new(func),
        sig: None,
        payload: Some(payload),
    }))
}

/// The evaluated arguments of one call.
#[derive(Clone, Debug)]
pub struct Args {
    /// Positional arguments in order.
    pub pos: Vec<Value>,
    /// Keyword arguments in order.
    pub kw: Vec<(Rc<str>, Value)>,
    /// The whole call expression.
    pub span: Span,
    /// The span of each positional argument, then of each keyword argument's
    /// value (in the order of `kw`), when the call was written in source.
    pub spans: Vec<Span>,
}

impl Args {
    /// Positional-only arguments for a call made from Rust.
    pub fn positional(pos: Vec<Value>, span: Span) -> Args {
        let spans = vec![span; pos.len()];
        Args {
            pos,
            kw: Vec::new(),
            span,
            spans,
        }
    }

    /// The span of positional argument `i` (the call's span when absent).
    pub fn span_of(&self, i: usize) -> Span {
        if i < self.pos.len() {
            self.spans.get(i).copied().unwrap_or(self.span)
        } else {
            self.span
        }
    }
}

/// A type error for argument `what` of `fname`.
pub fn arg_type(fname: &str, what: &str, expected: &str, found: &Value) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Type,
        format!("`{fname}` expects {what} to be {expected}, found {}", found.describe()),
    )
}

/// The error for asking `fname` for the length or the items of a 0-d
/// tensor: a single number, not a sequence (numpy: "len() of unsized object").
pub fn unsized_error(fname: &str) -> Diagnostic {
    Diagnostic::new(
        ErrorKind::Type,
        format!("`{fname}`: a 0-d tensor has no length (it is a single number, not a sequence)"),
    )
    .with_label("this is a tensor of shape ()")
    .with_help("`float(x)` gives its value as a number; `reshape(x, (1,))` makes it a 1-element tensor")
}

/// Reads an int argument (integral floats are accepted).
pub fn int_arg(fname: &str, what: &str, v: &Value) -> Result<i64, Diagnostic> {
    crate::autodiff::vmap::require_unbatched(v, &format!("{what} of `{fname}`"))?;
    match v.strip() {
        Value::Int(i) => Ok(*i),
        Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(*x as i64),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(arg_type(fname, what, "an int", other)),
    }
}

/// Reads a float argument (ints and 1-element tensors are accepted).
pub fn float_arg(fname: &str, what: &str, v: &Value) -> Result<f64, Diagnostic> {
    crate::autodiff::vmap::require_unbatched(v, &format!("{what} of `{fname}`"))?;
    match v.strip() {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(x) => Ok(*x),
        Value::Tensor(t) if t.size() == 1 => Ok(t.item().unwrap_or(f64::NAN)),
        other => Err(arg_type(fname, what, "a number", other)),
    }
}

/// Reads a bool argument.
pub fn bool_arg(fname: &str, what: &str, v: &Value) -> Result<bool, Diagnostic> {
    crate::autodiff::vmap::require_unbatched(v, &format!("{what} of `{fname}`"))?;
    match v.strip() {
        Value::Bool(b) => Ok(*b),
        other => Err(arg_type(fname, what, "a bool", other)),
    }
}

/// Reads a string argument.
pub fn str_arg(fname: &str, what: &str, v: &Value) -> Result<Rc<str>, Diagnostic> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(arg_type(fname, what, "a string", other)),
    }
}

/// Reads a function argument.
pub fn func_arg(fname: &str, what: &str, v: &Value) -> Result<Value, Diagnostic> {
    match v {
        Value::Func(_) | Value::Native(_) => Ok(v.clone()),
        other => Err(arg_type(fname, what, "a function", other)),
    }
}

/// A function value from its declaration: the arguments of each call are
/// bound to the declared parameters before `body` runs. Builtins and the
/// functions builtins return (a `vjp` pullback) are made this way.
pub fn declared(
    decl: Decl,
    body: impl for<'a> Fn(&mut Interp, Call<'a>) -> Result<Value, Diagnostic> + 'static,
) -> Value {
    // Every builtin declaration is parsed by the test `every_declaration_parses`
    // (and by every `Interp::new`), and the pullback's by every `vjp` test, so a
    // malformed one never reaches a user.
    let sig = Rc::new(Signature::parse(decl).expect("builtin declarations are well-formed"));
    let bound = sig.clone();
    let func = move |it: &mut Interp, args: Args| {
        let result = bound
            .bind(&args)
            .and_then(|call| body(it, call))
            .map_err(|d| crate::ops::literal::locate_stacking_error(&args, d));
        // Only a failure pays for the Python-habit hints (`zeros(3, 4)`).
        result.map_err(|d| crate::hints::for_failed_call(&bound, &args, d))
    };
    Value::Native(Rc::new(Native {
        name: Rc::from(sig.name),
        func: Box::new(func),
        sig: Some(sig),
        payload: None,
    }))
}
