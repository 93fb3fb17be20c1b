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
pub const MAX_PARAMS: usize = 8;

/// How a builtin is documented, written next to its implementation.
///
/// `sig` reads like a call: `name(p: type, q: type = default, *rest: type) -> type`.
/// Defaults are dp literals (numbers, `true`/`false`, `none`, strings);
/// parameters after `*rest` can only be passed by keyword.
#[derive(Clone, Copy, Debug)]
pub struct Decl {
    /// The signature, e.g. `grad(f: fn, argnums: int | tuple[int] = 0) -> fn`.
    pub sig: &'static str,
    /// One line: what the function computes.
    pub summary: &'static str,
    /// A few lines more: arguments, edge cases, errors (may be empty).
    pub doc: &'static str,
    /// A dp snippet that runs without error (a test runs every one). A `#`
    /// comment after code on a line states that line's result exactly as
    /// `dp -e` prints it (its output, then its value unless `none`), and the
    /// test checks it; a result of several lines goes on in comment lines
    /// whose `#` is in the same column. A comment on a line of its own is
    /// free text.
    pub example: &'static str,
}

/// One declared parameter.
#[derive(Debug)]
pub struct Param {
    /// Its name (also its keyword).
    pub name: &'static str,
    /// Its type, as documented (`int`, `tensor`, `fn`, `int | tuple`, ...).
    pub ty: &'static str,
    /// The kinds of value the type admits (checked when a call is bound).
    pub accepts: Kinds,
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
    /// The kinds of value each `*rest` argument may be.
    pub rest_accepts: Kinds,
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
        let mut rest_accepts = Kinds::ANY;
        for part in split_top(&s[open + 1..close]) {
            let (head, default) = match part.split_once('=') {
                Some((h, d)) => (h.trim(), Some(d.trim())),
                None => (part, None),
            };
            let (pname, ty) = match head.split_once(':') {
                Some((n, t)) => (n.trim(), t.trim()),
                None => (head.trim(), "any"),
            };
            let mut accepts = Kinds::parse(ty).ok_or_else(|| format!("`{s}`: unknown type in `{ty}`"))?;
            if let Some(r) = pname.strip_prefix('*') {
                rest = Some((r, ty));
                rest_accepts = accepts;
                continue;
            }
            if default == Some("none") {
                accepts = accepts.with_none();
            }
            let default_value = match default {
                Some(d) => Some(literal(d).ok_or_else(|| format!("`{s}`: default `{d}` is not a literal"))?),
                None => None,
            };
            params.push(Param {
                name: pname,
                ty,
                accepts,
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
            rest_accepts,
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
    /// `grad(f: fn, argnums: int | tuple[int] = 0) -> fn`.
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
        let call = Call {
            args,
            sig: self,
            slots,
            rest,
        };
        call.check_types()?;
        Ok(call)
    }
}

/// The kinds of value a declared type admits: one bit per kind of value.
/// Finer requirements (an int that is integral, a tuple of ints) are checked
/// by the typed readers of [`Call`], with the same wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kinds(u16);

impl Kinds {
    const NONE: u16 = 1;
    const BOOL: u16 = 1 << 1;
    const INT: u16 = 1 << 2;
    const FLOAT: u16 = 1 << 3;
    const STR: u16 = 1 << 4;
    const TENSOR: u16 = 1 << 5;
    const TUPLE: u16 = 1 << 6;
    const DICT: u16 = 1 << 7;
    const FN: u16 = 1 << 8;
    const RANGE: u16 = 1 << 9;
    const KEY: u16 = 1 << 10;
    const OBJECT: u16 = 1 << 11;
    const PROGRESS: u16 = 1 << 12;
    /// Every value.
    pub const ANY: Kinds = Kinds(u16::MAX);

    /// The kinds of a type written in a declaration: `any`, or names joined by `|`.
    /// `int` admits bools and floats (an integral float is an int), `float` and
    /// `number` admit one-element tensors, and `tensor` admits anything that
    /// converts to a tensor: numbers, bools and (nested) tuples of them.
    pub fn parse(ty: &str) -> Option<Kinds> {
        let mut bits = 0;
        for name in ty.split('|').map(str::trim) {
            bits |= match name {
                "any" => u16::MAX,
                "none" => Self::NONE,
                "bool" => Self::BOOL,
                "int" => Self::INT | Self::BOOL | Self::FLOAT,
                "float" | "number" => Self::INT | Self::BOOL | Self::FLOAT | Self::TENSOR,
                "str" => Self::STR,
                "tensor" => Self::INT | Self::BOOL | Self::FLOAT | Self::TENSOR | Self::TUPLE,
                "tuple" => Self::TUPLE,
                "dict" => Self::DICT,
                "fn" => Self::FN,
                "range" => Self::RANGE,
                "key" => Self::KEY,
                "graph" => Self::OBJECT,
                "progress" => Self::PROGRESS,
                // A shape: an int, a tuple of ints, or a tensor holding ints.
                "shape" => Self::INT | Self::BOOL | Self::FLOAT | Self::TUPLE | Self::TENSOR,
                // A tuple of a given element type (`tuple[int]`); the readers check the elements.
                _ if name.starts_with("tuple[") && name.ends_with(']') => Self::TUPLE,
                _ => return None,
            };
        }
        Some(Kinds(bits))
    }

    fn with_none(self) -> Kinds {
        Kinds(self.0 | Self::NONE)
    }

    /// Whether `v` (or the value it differentiates) is of an admitted kind.
    pub fn admits(self, v: &Value) -> bool {
        let bit = match v.peek() {
            Value::None => Self::NONE,
            Value::Bool(_) => Self::BOOL,
            Value::Int(_) => Self::INT,
            Value::Float(_) => Self::FLOAT,
            Value::Str(_) => Self::STR,
            Value::Tensor(_) => Self::TENSOR,
            Value::Tuple(_) => Self::TUPLE,
            Value::Dict(_) => Self::DICT,
            Value::Func(_) | Value::Native(_) => Self::FN,
            Value::Range(..) => Self::RANGE,
            Value::Key(_) => Self::KEY,
            Value::Object(_) => Self::OBJECT,
            Value::Progress(_) => Self::PROGRESS,
            // `strip` removed every differentiation wrapper.
            Value::Dual(_) => Self::FLOAT | Self::TENSOR,
        };
        self.0 & bit != 0
    }
}

/// How a declared type reads in an error: `int | tuple` is "an int or tuple",
/// `tensor` is "a number or tensor".
fn type_phrase(ty: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let alone = !ty.contains('|');
    for name in ty.split('|').map(str::trim) {
        if let Some(inner) = name.strip_prefix("tuple[").and_then(|n| n.strip_suffix(']')) {
            words.push(format!(
                "tuple of {}s",
                type_phrase(inner).trim_start_matches("an ").trim_start_matches("a ")
            ));
            continue;
        }
        let these: &[&str] = match name {
            "int" => &["int"],
            "float" | "number" => &["number"],
            "str" => &["string"],
            "fn" => &["function"],
            // Numbers convert to tensors; say so when nothing else is admitted.
            "tensor" if alone => &["number", "tensor"],
            "tensor" => &["tensor"],
            "shape" => &["int", "tuple of ints"],
            other => std::slice::from_ref(match other {
                "bool" => &"bool",
                "tuple" => &"tuple",
                "dict" => &"dict",
                "range" => &"range",
                "key" => &"key",
                "graph" => &"graph",
                "progress" => &"progress",
                "none" => &"none",
                _ => &"value",
            }),
        };
        for w in these {
            if !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        }
    }
    let article = match words.first().map(String::as_str) {
        Some(w) if w.starts_with(['a', 'e', 'i', 'o', 'u']) => "an ",
        Some("none") => "",
        _ => "a ",
    };
    let list = match words.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, init)) => format!("{} or {last}", init.join(", ")),
        None => "value".to_string(),
    };
    format!("{article}{list}")
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
        "()" => Value::Tuple(Default::default()),
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if d.starts_with('"') && d.ends_with('"') && d.len() >= 2 => {
            Value::str(d[1..d.len() - 1].replace("\\n", "\n").replace("\\t", "\t"))
        }
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

    /// The type errors of a call, from the declared parameter types.
    fn check_types(&self) -> R<()> {
        for (i, p) in self.sig.params.iter().enumerate() {
            if let Some(v) = self.given(i) {
                if !p.accepts.admits(v) {
                    return Err(self.type_error(&format!("`{}`", p.name), p.ty, v, self.span_at(i)));
                }
            }
        }
        if let Some((name, ty)) = self.sig.rest {
            let first = self.sig.params.iter().take_while(|p| !p.kw_only).count();
            for (j, v) in self.rest.iter().enumerate() {
                if !self.sig.rest_accepts.admits(v) {
                    let what = format!("each of `{name}`");
                    return Err(self.type_error(&what, ty, v, self.args.span_of(first + j)));
                }
            }
        }
        Ok(())
    }

    fn type_error(&self, what: &str, ty: &str, v: &Value, span: Span) -> Diagnostic {
        Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`{}` expects {what} to be {}, found {}",
                self.sig.name,
                type_phrase(ty),
                v.describe()
            ),
        )
        .at(span)
        .with_label(format!("this is {}", v.describe()))
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
