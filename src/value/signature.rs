//! The one declaration of a builtin: its signature (parameter names, types
//! and defaults), a one-line summary, a short doc and an example. From it come
//! argument binding and its arity errors ([`Signature::bind`]), typed argument
//! extraction ([`Call`]), `help(f)`, the printed form of the function and
//! `docs/reference.md`.

use super::native::{bool_arg, float_arg, func_arg, int_arg, str_arg, Args};
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::syntax::span::Span;
use crate::value::Value;
use std::rc::Rc;

use crate::diagnostics::R;

/// The most named parameters a builtin may declare (binding keeps one slot
/// per parameter on the stack, so it never allocates).
pub const MAX_PARAMS: usize = 6;

/// How a builtin is documented, written next to its implementation.
///
/// `sig` reads like a call: `name(p: type, q: type = default, *rest: type) -> type`.
/// Defaults are dp literals (numbers, `true`/`false`, `none`, strings);
/// parameters after `*rest` can only be passed by keyword.
#[derive(Clone, Copy, Debug)]
pub struct Decl {
    /// The signature, e.g. `grad(f: fn, argnums: int | tuple = 0) -> fn`.
    pub sig: &'static str,
    /// One line: what the function computes.
    pub summary: &'static str,
    /// A few lines more: arguments, edge cases, errors (may be empty).
    pub doc: &'static str,
    /// A dp snippet that runs without error (a test runs every one).
    pub example: &'static str,
}

/// One declared parameter.
#[derive(Debug)]
pub struct Param {
    /// Its name (also its keyword).
    pub name: &'static str,
    /// Its type, as documented (`int`, `tensor`, `fn`, `int | tuple`, ...).
    pub ty: &'static str,
    /// The default as written in the signature, when the parameter is optional.
    pub default: Option<&'static str>,
    /// The default's value (used when the argument is omitted).
    pub default_value: Option<Value>,
    /// Whether it can only be passed by keyword (it follows `*rest`).
    pub kw_only: bool,
}

/// A parsed builtin declaration.
#[derive(Debug)]
pub struct Signature {
    /// The builtin's name.
    pub name: &'static str,
    /// The named parameters, in order.
    pub params: Vec<Param>,
    /// The variadic parameter `*rest`: its name and type.
    pub rest: Option<(&'static str, &'static str)>,
    /// The return type, as documented.
    pub ret: &'static str,
    /// The declaration it was parsed from.
    pub decl: Decl,
}

impl Signature {
    /// Parses a declaration; `Err` names what is malformed (a test parses
    /// every builtin's declaration, so this never fails at run time).
    pub fn parse(decl: Decl) -> Result<Signature, String> {
        let s = decl.sig;
        let open = s.find('(').ok_or_else(|| format!("`{s}`: no `(`"))?;
        let close = s.rfind(')').ok_or_else(|| format!("`{s}`: no `)`"))?;
        let name = s[..open].trim();
        let ret = s[close + 1..].trim().strip_prefix("->").map_or("", str::trim);
        let mut params = Vec::new();
        let mut rest = None;
        for part in split_top(&s[open + 1..close]) {
            let (head, default) = match part.split_once('=') {
                Some((h, d)) => (h.trim(), Some(d.trim())),
                None => (part, None),
            };
            let (pname, ty) = match head.split_once(':') {
                Some((n, t)) => (n.trim(), t.trim()),
                None => (head.trim(), "any"),
            };
            if let Some(r) = pname.strip_prefix('*') {
                rest = Some((r, ty));
                continue;
            }
            let default_value = match default {
                Some(d) => Some(literal(d).ok_or_else(|| format!("`{s}`: default `{d}` is not a literal"))?),
                None => None,
            };
            params.push(Param {
                name: pname,
                ty,
                default,
                default_value,
                kw_only: rest.is_some(),
            });
        }
        if params.len() > MAX_PARAMS {
            return Err(format!("`{s}`: more than {MAX_PARAMS} parameters"));
        }
        Ok(Signature {
            name,
            params,
            rest,
            ret,
            decl,
        })
    }

    /// The parameter list as a call would be written, without types:
    /// `(f, argnums=0)`.
    pub fn short(&self) -> String {
        self.render(false)
    }

    /// The full signature with types and the return type:
    /// `grad(f: fn, argnums: int | tuple = 0) -> fn`.
    pub fn full(&self) -> String {
        let mut s = format!("{}{}", self.name, self.render(true));
        if !self.ret.is_empty() {
            s.push_str(" -> ");
            s.push_str(self.ret);
        }
        s
    }

    fn render(&self, typed: bool) -> String {
        let mut parts = Vec::new();
        let mut rest_done = false;
        let rest_part = || {
            self.rest.map(|(n, t)| {
                if typed && t != "any" {
                    format!("*{n}: {t}")
                } else {
                    format!("*{n}")
                }
            })
        };
        for p in &self.params {
            if p.kw_only && !rest_done {
                parts.extend(rest_part());
                rest_done = true;
            }
            let mut s = p.name.to_string();
            if typed && p.ty != "any" {
                s.push_str(": ");
                s.push_str(p.ty);
            }
            if let Some(d) = p.default {
                s.push_str(if typed { " = " } else { "=" });
                s.push_str(d);
            }
            parts.push(s);
        }
        if !rest_done {
            parts.extend(rest_part());
        }
        format!("({})", parts.join(", "))
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.params.iter().map(|p| p.name)
    }

    /// Binds a call's arguments to the parameters: the arity errors
    /// (too many, unknown or repeated keyword, missing argument) come from here.
    pub fn bind<'a>(&'a self, args: &'a Args) -> R<Call<'a>> {
        let fname = self.name;
        let n_pos = self.params.iter().take_while(|p| !p.kw_only).count();
        let mut slots: [Option<&'a Value>; MAX_PARAMS] = [None; MAX_PARAMS];
        let rest: &'a [Value] = if self.rest.is_some() {
            args.pos.get(n_pos..).unwrap_or(&[])
        } else {
            &[]
        };
        if self.rest.is_none() && args.pos.len() > self.params.len() {
            let names: Vec<&str> = self.names().collect();
            return Err(Diagnostic::new(
                ErrorKind::Arity,
                format!(
                    "`{fname}` takes at most {} argument{} ({}) but {} were given",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    args.pos.len()
                ),
            )
            .at(args.span_of(names.len()))
            .with_label("the first extra argument"));
        }
        for (slot, v) in slots.iter_mut().zip(args.pos.iter().take(n_pos)) {
            *slot = Some(v);
        }
        for (j, (k, v)) in args.kw.iter().enumerate() {
            // Keyword spans follow the positional ones (see `Args::spans`).
            let kw_span = args.spans.get(args.pos.len() + j).copied().unwrap_or(args.span);
            match self.params.iter().position(|p| *p.name == **k) {
                Some(i) if slots[i].is_some() => {
                    return Err(
                        Diagnostic::new(ErrorKind::Arity, format!("argument `{k}` of `{fname}` given twice"))
                            .at(kw_span),
                    )
                }
                Some(i) => slots[i] = Some(v),
                None if self.rest.is_some() => {
                    let mut d = Diagnostic::new(ErrorKind::Arity, format!("`{fname}` has no parameter named `{k}`"))
                        .at(kw_span)
                        .with_label(format!("`{fname}` takes no keyword `{k}`"));
                    let kw_names = self.params.iter().filter(|p| p.kw_only).map(|p| p.name);
                    if let Some(s) = did_you_mean(k, kw_names) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    return Err(d);
                }
                None => {
                    let names: Vec<&str> = self.names().collect();
                    let mut d = Diagnostic::new(ErrorKind::Arity, format!("`{fname}` has no parameter named `{k}`"))
                        .at(kw_span)
                        .with_label(format!("`{k}` is not a parameter of `{fname}`"))
                        .with_note(format!("its parameters are: {}", names.join(", ")));
                    if let Some(s) = did_you_mean(k, names.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    return Err(d);
                }
            }
        }
        for (i, p) in self.params.iter().enumerate() {
            if slots[i].is_none() && p.default.is_none() {
                let names: Vec<&str> = self.names().collect();
                return Err(Diagnostic::new(
                    ErrorKind::Arity,
                    format!("missing argument `{}` in call to `{fname}`", p.name),
                )
                .at(args.span)
                .with_note(format!("`{fname}` takes ({})", names.join(", "))));
            }
        }
        Ok(Call {
            args,
            sig: self,
            slots,
            rest,
        })
    }
}

/// Splits a parameter list at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut in_str) = (0i32, 0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => depth -= 1,
            ',' if depth == 0 && !in_str => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

/// The value of a default written in a signature.
fn literal(d: &str) -> Option<Value> {
    Some(match d {
        "none" => Value::None,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if d.starts_with('"') && d.ends_with('"') && d.len() >= 2 => Value::str(&d[1..d.len() - 1]),
        _ => match d.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(d.parse::<f64>().ok()?),
        },
    })
}

/// A call bound to a builtin's signature: one slot per parameter, filled by
/// position or keyword, read with typed accessors. It dereferences to the
/// call's [`Args`] (spans, raw positional arguments).
pub struct Call<'a> {
    args: &'a Args,
    sig: &'a Signature,
    slots: [Option<&'a Value>; MAX_PARAMS],
    rest: &'a [Value],
}

impl std::ops::Deref for Call<'_> {
    type Target = Args;
    fn deref(&self) -> &Args {
        self.args
    }
}

impl<'a> Call<'a> {
    /// The builtin's name (for messages).
    pub fn name(&self) -> &'static str {
        self.sig.name
    }

    /// The call's arguments as given.
    pub fn args(&self) -> &'a Args {
        self.args
    }

    /// Argument `i` as passed, `None` when it was omitted.
    pub fn given(&self, i: usize) -> Option<&'a Value> {
        self.slots.get(i).copied().flatten()
    }

    /// Whether argument `i` was passed.
    pub fn has(&self, i: usize) -> bool {
        self.given(i).is_some()
    }

    /// Argument `i`, or its declared default when omitted (`none` when it has none).
    pub fn value(&self, i: usize) -> &'a Value {
        const NONE: &Value = &Value::None;
        self.given(i)
            .or_else(|| self.sig.params.get(i).and_then(|p| p.default_value.as_ref()))
            .unwrap_or(NONE)
    }

    /// The variadic arguments (`*rest`).
    pub fn rest(&self) -> &'a [Value] {
        self.rest
    }

    /// Where argument `i` was written (by position or keyword); the call's
    /// span when it was omitted.
    pub fn span_at(&self, i: usize) -> Span {
        let Some(p) = self.sig.params.get(i) else {
            return self.args.span;
        };
        if i < self.args.pos.len() && !p.kw_only {
            return self.args.span_of(i);
        }
        self.args
            .kw
            .iter()
            .position(|(k, _)| **k == *p.name)
            .and_then(|j| self.args.spans.get(self.args.pos.len() + j).copied())
            .unwrap_or(self.args.span)
    }

    fn what(&self, i: usize) -> &'static str {
        self.sig.params.get(i).map_or("an argument", |p| p.name)
    }

    /// Argument `i` (or its default) as an int; errors name the parameter.
    pub fn int(&self, i: usize) -> R<i64> {
        int_arg(self.sig.name, self.what(i), self.value(i))
    }

    /// Argument `i` as an int, `None` when omitted; errors call it `what`.
    pub fn opt_int_as(&self, i: usize, what: &str) -> R<Option<i64>> {
        self.given(i).map(|v| int_arg(self.sig.name, what, v)).transpose()
    }

    /// Argument `i` (or its default) as an int; errors call it `what`.
    pub fn int_as(&self, i: usize, what: &str) -> R<i64> {
        int_arg(self.sig.name, what, self.value(i))
    }

    /// Argument `i` (or its default) as a float.
    pub fn float(&self, i: usize) -> R<f64> {
        float_arg(self.sig.name, self.what(i), self.value(i))
    }

    /// Argument `i` (or its default) as a float; errors call it `what`.
    pub fn float_as(&self, i: usize, what: &str) -> R<f64> {
        float_arg(self.sig.name, what, self.value(i))
    }

    /// Argument `i` (or its default) as a bool.
    pub fn bool(&self, i: usize) -> R<bool> {
        bool_arg(self.sig.name, self.what(i), self.value(i))
    }

    /// Argument `i` (or its default) as a bool; errors call it `what`.
    pub fn bool_as(&self, i: usize, what: &str) -> R<bool> {
        bool_arg(self.sig.name, what, self.value(i))
    }

    /// Argument `i` (or its default) as a string; errors call it `what`.
    pub fn str_as(&self, i: usize, what: &str) -> R<Rc<str>> {
        str_arg(self.sig.name, what, self.value(i))
    }

    /// Argument `i` as a function.
    pub fn func(&self, i: usize) -> R<Value> {
        func_arg(self.sig.name, self.what(i), self.value(i))
    }
}
