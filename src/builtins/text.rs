//! Text builtins: `print`, `str`, `repr`, `format` (and f-strings, which
//! the parser turns into `format` calls), and `print_options`.

use super::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::value::{write_aligned, Dict, Value};
use dp_tensor::{format_tensor_with, ElementSpec, PrintOptions, Sign};
use std::collections::HashMap;
use std::rc::Rc;

/// `format(fmt, args...)`: `{}` inserts the next argument as `str` would,
/// `{:SPEC}` formats it to a Python-style spec (`{:.4f}`, `{:>8}`, `{:+.2e}`),
/// per element for a tensor; `{{` and `}}` are literal braces.
pub fn format_string(fmt: &str, args: &[Value], opts: &PrintOptions) -> R<String> {
    format_located(fmt, args, opts).map_err(|(d, _)| d)
}

fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Like [`format_string`]; an error comes with the position of the `format`
/// argument at fault (0 for the format string itself, `i + 1` for `args[i]`).
fn format_located(fmt: &str, args: &[Value], opts: &PrintOptions) -> Result<String, (Diagnostic, usize)> {
    // Split into literal text and placeholder specs first, so a count mismatch
    // is reported with both counts before anything is formatted.
    enum Piece {
        Text(String),
        Hole(String),
    }
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '{' => {
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => spec.push(ch),
                        None => {
                            let d = Diagnostic::new(ErrorKind::Value, "unclosed `{` in format string")
                                .with_label("this string has a `{` without a matching `}`")
                                .with_help("write `{{` for a literal brace");
                            return Err((d, 0));
                        }
                    }
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Hole(spec));
            }
            '}' => {
                let d = Diagnostic::new(ErrorKind::Value, "unmatched `}` in format string")
                    .with_label("this string has a `}` without a matching `{`")
                    .with_help("write `}}` for a literal brace");
                return Err((d, 0));
            }
            c => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    let holes = pieces.iter().filter(|p| matches!(p, Piece::Hole(_))).count();
    if holes != args.len() {
        let d = Diagnostic::new(
            ErrorKind::Value,
            format!(
                "format string has {} but {} {} given",
                plural(holes, "placeholder"),
                plural(args.len(), "argument"),
                if args.len() == 1 { "was" } else { "were" }
            ),
        )
        .with_label(format!("expects {}", plural(holes, "argument")));
        return Err((d, 0));
    }
    let mut out = String::new();
    let mut next = 0;
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Hole(spec) => {
                // A bad spec is the format string's fault; a bad value is the argument's.
                let placed = |d: Diagnostic| {
                    let at = if d.kind == ErrorKind::Type { next + 1 } else { 0 };
                    (d, at)
                };
                write_aligned(&mut out, &format_one(&args[next], &spec, opts).map_err(placed)?);
                next += 1;
            }
        }
    }
    Ok(out)
}

fn format_one(v: &Value, spec: &str, opts: &PrintOptions) -> R<String> {
    if spec.is_empty() {
        return Ok(v.to_display_with(opts));
    }
    let bad = |why: &str| {
        Diagnostic::new(
            ErrorKind::Value,
            format!("unsupported placeholder `{{{spec}}}` in format string{why}"),
        )
        .with_label("in this format string")
        .with_help(
            "use `{}`, `{:.N}` or `{:.Nf}` (N decimals), `{:.Ne}` (scientific), `{:.Ng}` (N significant \
             digits), a width `{:W}` with an alignment `<`, `>` or `^`, a sign `+`; N and W up to 1000",
        )
    };
    let body = spec.strip_prefix(':').ok_or_else(|| bad(""))?;
    let es = ElementSpec::parse(body).map_err(|e| {
        let why = e.to_string();
        let why = why.split_once(": ").map_or(why.as_str(), |(_, w)| w).to_string();
        bad(&format!(": {why}"))
    })?;
    Ok(match v.strip() {
        Value::Float(x) => es.format(*x),
        // An int keeps all its digits (as f64 it would round past 2^53).
        Value::Int(i) if es.places_only() => es.place(&i.to_string()),
        Value::Int(i) => es.format(*i as f64),
        Value::Tensor(t) if t.ndim() == 0 => es.format(t.item().unwrap_or(f64::NAN)),
        // The same nested, summarised layout as `print`, the spec applied per element.
        Value::Tensor(t) => format_tensor_with(t, &es, opts),
        other if es.places_only() => es.place(&other.to_display_with(opts)),
        other => {
            return Err(Diagnostic::new(
                ErrorKind::Type,
                format!(
                    "the placeholder `{{{spec}}}` needs a number, found {}",
                    other.describe()
                ),
            )
            .with_label(format!("this is {}", other.describe()))
            .with_help("use `{}` to insert any value, or a width alone (`{:>10}`) to place its text"))
        }
    })
}

/// The largest `threshold`, `edgeitems` and `linewidth` `print_options`
/// accepts: far past any tensor or terminal, and small enough that sums of
/// them cannot overflow in the layout.
const MAX_PRINT_COUNT: usize = 1_000_000_000;

/// The print options as the dict `print_options` returns.
fn options_dict(o: &PrintOptions) -> Value {
    let int = |n: usize| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let sign = match o.sign {
        Sign::Negative => "-",
        Sign::Plus => "+",
        Sign::Space => " ",
    };
    let mut d = Dict::new();
    for (k, v) in [
        ("precision", o.precision.map_or(Value::None, int)),
        ("threshold", int(o.threshold)),
        ("edgeitems", int(o.edgeitems)),
        ("linewidth", int(o.linewidth)),
        ("suppress", Value::Bool(o.suppress)),
        ("sign", Value::str(sign)),
    ] {
        d.insert(Rc::from(k), v);
    }
    Value::Dict(d)
}

/// Registers the text builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    let print = Decl {
        sig: "print(*values, sep: str = \" \", end: str = \"\\n\", flush: bool = false)",
        summary: "Writes the values separated by `sep`, then `end` (a newline).",
        doc: "Strings are written raw; other values as `str` formats them (tensors as `print_options` \
              says). `flush=true` makes the text appear at once even when output goes to a pipe or \
              file (on a terminal every print shows at once).",
        example: "print(\"x =\", 1.5, (1, 2));  # x = 1.5 (1, 2)\nprint(1, 2, sep=\", \", end=\";\\n\")",
    };
    register(t, print, |it: &mut Interp, a| {
        let sep = a.str_as(0, "sep")?;
        let end = a.str_as(1, "end")?;
        let flush = a.bool(2)?;
        let mut line = String::new();
        for (i, v) in a.rest().iter().enumerate() {
            if i > 0 {
                line.push_str(&sep);
            }
            write_aligned(&mut line, &v.to_display_with(&it.print_options));
        }
        line.push_str(&end);
        it.write_out(&line)?;
        if flush || it.flush_each_print {
            it.flush_out()?;
        }
        Ok(Value::None)
    });
    let str_decl = Decl {
        sig: "str(x) -> str",
        summary: "The text `print` writes for `x`.",
        doc: "A string stays as it is; strings inside structures are quoted.",
        example: "str(2.5) + \"!\"  # \"2.5!\"",
    };
    register(t, str_decl, |it, a| {
        Ok(Value::str(a.value(0).to_display_with(&it.print_options)))
    });
    let repr = Decl {
        sig: "repr(x) -> str",
        summary: "The text of `x` as a literal: strings are quoted.",
        doc: "In a quoted string `\"`, `\\`, newlines and tabs are escaped, and so is, as `\\u{...}`, every \
              character Python's `repr` escapes because it would not show as itself: controls, format \
              characters such as U+200B (zero-width space) or U+202E (right-to-left override), spaces other \
              than U+0020, line and paragraph separators, private-use and unassigned code points.",
        example: "repr(\"hi\")  # \"\\\"hi\\\"\"",
    };
    register(t, repr, |it, a| Ok(Value::str(a.value(0).repr_with(&it.print_options))));
    let format = Decl {
        sig: "format(fmt: str, *args) -> str",
        summary: "Fills the `{}` placeholders of `fmt` with the arguments.",
        doc: "`{}` inserts a value as `str` would. `{:SPEC}` follows Python's format specs: \
              `{:.N}` / `{:.Nf}` N decimals, `{:.Ne}` scientific, `{:.Ng}` N significant digits, a \
              width `{:W}` with alignment `<` `>` `^` (and a fill character before it), `+` for a \
              sign, `0` to pad with zeros. On a tensor the spec applies to each element. `{{` and \
              `}}` are literal braces. An f-string `f\"loss {l:.4f}\"` is the same as \
              `format(\"loss {:.4f}\", l)`.",
        example: "format(\"{} has loss {:.3}\", \"model\", 0.12345);  # \"model has loss 0.123\"\nformat(\"{:>8.2f}|{:<6}|\", 3.14159, \"ab\")  # \"    3.14|ab    |\"",
    };
    register(t, format, |it, a| {
        let fmt = a.str_as(0, "the format string").map_err(|d| d.at(a.span_of(0)))?;
        let opts = it.print_options.clone();
        let s = format_located(&fmt, a.rest(), &opts).map_err(|(d, i)| d.at(a.span_of(i)))?;
        Ok(Value::str(s))
    });
    let options = Decl {
        sig: "print_options(precision: int = none, threshold: int = none, edgeitems: int = none, \
              linewidth: int = none, suppress: bool = none, sign: str = none, reset: bool = false) -> dict",
        summary: "Sets how tensors print; returns the options now in force.",
        doc: "`precision`: digits after the point, 0 to 1000 (by default every element prints exactly \
              enough to round-trip); `threshold`: summarise with `...` above this many elements (1000); \
              `edgeitems`: elements shown at each end when summarising (3); `linewidth`: wrap rows \
              longer than this (75); these three from 0 to 1000000000, and a value out of range is an \
              error; `suppress`: never switch to scientific notation for small \
              numbers; `sign`: `\"-\"`, `\"+\"` or `\" \"` before positive numbers. Options not \
              given keep their value; `reset=true` restores the defaults first. Called with no \
              arguments it only reads the options.",
        example: "let old = print_options(precision=3);\nprint(tensor([[1.0, 2.0 / 3.0], [10.0, -0.5]]));\nprint_options(reset=true);",
    };
    register(t, options, |it, a| {
        let mut o = if a.bool(6)? {
            PrintOptions::default()
        } else {
            it.print_options.clone()
        };
        // Every count is checked against its range, never clamped: a
        // precision beyond what the formatter can write is an error, not
        // silently fewer digits than asked for.
        let count = |i: usize, what: &str, max: usize| -> R<Option<usize>> {
            match a.opt_int_as(i, what)? {
                None => Ok(None),
                Some(n) if usize::try_from(n).is_ok_and(|n| n <= max) => Ok(Some(n as usize)),
                Some(n) => Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`print_options`: {what} must be between 0 and {max}, found {n}"),
                )
                .at(a.span_at(i))),
            }
        };
        let given = |i: usize| a.given(i).is_some_and(|v| !matches!(v, Value::None));
        if given(0) {
            o.precision = count(0, "precision", dp_tensor::MAX_SPEC_DIGITS)?;
        }
        if let Some(n) = count(1, "threshold", MAX_PRINT_COUNT)? {
            o.threshold = n;
        }
        if let Some(n) = count(2, "edgeitems", MAX_PRINT_COUNT)? {
            o.edgeitems = n;
        }
        if let Some(n) = count(3, "linewidth", MAX_PRINT_COUNT)? {
            o.linewidth = n;
        }
        if given(4) {
            o.suppress = a.bool(4)?;
        }
        if given(5) {
            let s = a.str_as(5, "sign")?;
            o.sign = Sign::parse(&s).map_err(|_| {
                Diagnostic::new(
                    ErrorKind::Value,
                    format!("`print_options`: sign must be \"-\", \"+\" or \" \", found {:?}", &*s),
                )
                .at(a.span_at(5))
            })?;
        }
        it.print_options = o.clone();
        Ok(options_dict(&o))
    });
}
