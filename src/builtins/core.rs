//! Core builtins: printing and formatting, conversions, ranges, checks (docs/language.md §9).

use super::{arg_type, float_arg, int_arg, register, str_arg, Args};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops::{self, as_tensor, shape_of};
use crate::tree::{self, path_string};
use crate::value::Value;
use dp_tensor::format_float;
use std::collections::HashMap;
use std::rc::Rc;

type R<T> = Result<T, Diagnostic>;

/// `format(fmt, args...)`: `{}` inserts the next argument as `str` would, `{:.N}`
/// a number with N decimals; `{{` and `}}` are literal braces.
pub fn format_string(fmt: &str, args: &[Value]) -> R<String> {
    format_located(fmt, args).map_err(|(d, _)| d)
}

fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Like [`format_string`]; an error comes with the position of the `format`
/// argument at fault (0 for the format string itself, `i + 1` for `args[i]`).
fn format_located(fmt: &str, args: &[Value]) -> Result<String, (Diagnostic, usize)> {
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
                out.push_str(&format_one(&args[next], &spec).map_err(placed)?);
                next += 1;
            }
        }
    }
    Ok(out)
}

fn format_one(v: &Value, spec: &str) -> R<String> {
    if spec.is_empty() {
        return Ok(v.to_display());
    }
    let bad = || {
        Diagnostic::new(
            ErrorKind::Value,
            format!("unsupported placeholder `{{{spec}}}` in format string"),
        )
        .with_label("in this format string")
        .with_help("use `{}`, `{:.N}` (N decimals), `{:.Ne}` (scientific) or `{:W}` (width W); N and W up to 1000")
    };
    let spec = spec.strip_prefix(':').ok_or_else(bad)?;
    let (width, rest) = match spec.find('.') {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec, ""),
    };
    let width: usize = if width.is_empty() {
        0
    } else {
        width.parse().ok().filter(|w| *w <= 1000).ok_or_else(bad)?
    };
    let (digits, sci) = match rest.strip_suffix('e') {
        Some(d) => (d, true),
        None => (rest.strip_suffix('f').unwrap_or(rest), false),
    };
    let body = if rest.is_empty() {
        v.to_display()
    } else {
        let prec: usize = digits.parse().ok().filter(|p| *p <= 1000).ok_or_else(bad)?;
        let fmt_num = |x: f64| if sci { fmt_sci(x, prec) } else { format!("{x:.prec$}") };
        match v.strip() {
            Value::Float(x) => fmt_num(*x),
            Value::Int(i) => fmt_num(*i as f64),
            Value::Tensor(t) if t.size() == 1 => fmt_num(t.item().unwrap_or(f64::NAN)),
            Value::Tensor(t) => {
                let items: Vec<String> = t.to_vec().iter().map(|x| fmt_num(*x)).collect();
                format!("[{}]", items.join(", "))
            }
            other => {
                return Err(Diagnostic::new(
                    ErrorKind::Type,
                    format!(
                        "the placeholder `{{:.{digits}}}` needs a number, found {}",
                        other.describe()
                    ),
                )
                .with_label(format!("this is {}", other.describe()))
                .with_help("use `{}` to insert any value"))
            }
        }
    };
    Ok(format!("{body:>width$}"))
}

fn fmt_sci(x: f64, prec: usize) -> String {
    let s = format!("{x:.prec$e}");
    // Python style exponent: e-05 rather than e-5.
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Compares `actual` with `expected` structurally, then leaf by leaf within tolerances.
pub fn assert_close(actual: &Value, expected: &Value, rtol: f64, atol: f64) -> R<()> {
    let names = ["actual", "expected"];
    tree::map_many_named(&[actual.clone(), expected.clone()], &names, &mut |pair, path| {
        let (a, e) = (pair[0].strip(), pair[1].strip());
        let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_) | Value::Tensor(_));
        if numeric(a) && numeric(e) {
            let (sa, se) = (shape_of(a), shape_of(e));
            if sa != se && !(sa.iter().product::<usize>() == 1 && se.iter().product::<usize>() == 1) {
                return Err(Diagnostic::new(
                    ErrorKind::Assertion,
                    format!(
                        "assert_close: shapes differ at {}: actual {} but expected {}",
                        path_string(path),
                        dp_tensor::format_shape(&sa),
                        dp_tensor::format_shape(&se)
                    ),
                ));
            }
            let (va, ve) = (as_tensor(a)?.to_vec(), as_tensor(e)?.to_vec());
            for (k, (x, y)) in va.iter().zip(ve.iter()).enumerate() {
                let close = (x == y) || (x.is_nan() && y.is_nan()) || (x - y).abs() <= atol + rtol * y.abs();
                if !close {
                    let loc = if va.len() > 1 {
                        format!("{} element {}", path_string(path), unravel(k, &se))
                    } else {
                        path_string(path)
                    };
                    return Err(Diagnostic::new(
                        ErrorKind::Assertion,
                        format!(
                            "assert_close: values differ at {loc}: actual {} but expected {}",
                            format_float(*x),
                            format_float(*y)
                        ),
                    )
                    .with_note(format!(
                        "|difference| = {} > atol + rtol * |expected| = {}",
                        format_float((x - y).abs()),
                        format_float(atol + rtol * y.abs())
                    ))
                    .with_note(format!("rtol={}, atol={}", format_float(rtol), format_float(atol))));
                }
            }
            return Ok(Value::None);
        }
        if !crate::value::values_equal(a, e) {
            return Err(Diagnostic::new(
                ErrorKind::Assertion,
                format!(
                    "assert_close: values differ at {}: actual {} but expected {}",
                    path_string(path),
                    a.repr(),
                    e.repr()
                ),
            ));
        }
        Ok(Value::None)
    })
    .map_err(|mut d| {
        if d.kind != ErrorKind::Assertion {
            d.kind = ErrorKind::Assertion;
            d.message = format!("assert_close: {}", d.message);
        }
        d
    })?;
    Ok(())
}

fn unravel(k: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    let mut r = k;
    for i in (0..shape.len()).rev() {
        if shape[i] > 0 {
            idx[i] = r % shape[i];
            r /= shape[i];
        }
    }
    format!("[{}]", idx.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
}

/// Registers the core builtins.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    register(t, "print", |it: &mut Interp, a: Args| {
        a.only_kwargs("print", &[])?;
        let line: Vec<String> = a.pos.iter().map(Value::to_display).collect();
        it.write_out(&(line.join(" ") + "\n"))?;
        Ok(Value::None)
    });
    register(t, "str", |_, a| {
        let v = a.bind("str", &["x"])?;
        Ok(Value::str(v[0].as_ref().unwrap_or(&Value::None).to_display()))
    });
    register(t, "repr", |_, a| {
        let v = a.bind("repr", &["x"])?;
        Ok(Value::str(v[0].as_ref().unwrap_or(&Value::None).repr()))
    });
    register(t, "format", |_, a| {
        a.only_kwargs("format", &[])?;
        let fmt = str_arg("format", "the format string", a.pos.first().unwrap_or(&Value::None))
            .map_err(|d| d.at(a.span_of(0)))?;
        let s = format_located(&fmt, a.pos.get(1..).unwrap_or(&[])).map_err(|(d, i)| d.at(a.span_of(i)))?;
        Ok(Value::str(s))
    });
    register(t, "type", |_, a| {
        let v = a.bind("type", &["x"])?;
        Ok(Value::str(v[0].as_ref().unwrap_or(&Value::None).type_name()))
    });
    register(t, "len", |_, a| {
        let v = a.bind("len", &["x"])?;
        let x = v[0].as_ref().unwrap_or(&Value::None);
        Ok(Value::Int(match x.strip() {
            Value::Tuple(t) => t.len() as i64,
            Value::Dict(d) => d.len() as i64,
            Value::Str(s) => s.chars().count() as i64,
            Value::Range(lo, hi, step) => range_len(*lo, *hi, *step).ok_or_else(|| {
                Diagnostic::new(ErrorKind::Value, "the range has more elements than an int can count")
                    .at(a.span_of(0))
                    .with_label(format!("{} has more than 9223372036854775807 elements", x.repr()))
            })?,
            Value::Tensor(t) if t.ndim() > 0 => t.shape()[0] as i64,
            other => {
                return Err(
                    arg_type("len", "its argument", "a tuple, dict, string, range or tensor", other)
                        .at(a.span_of(0))
                        .with_label(format!("this is {}", other.describe())),
                )
            }
        }))
    });
    register(t, "range", |_, a| {
        const PARAMS: &[&str] = &["start", "stop?", "step?"];
        let v = a.bind("range", PARAMS)?;
        let i = |k: usize| {
            v[k].as_ref()
                .map(|x| int_arg("range", "a bound", x).map_err(|d| d.at(a.param_span(PARAMS, k))))
                .transpose()
        };
        let (start, stop) = match i(1)? {
            None => (0, i(0)?.unwrap_or(0)),
            Some(s) => (i(0)?.unwrap_or(0), s),
        };
        let step = i(2)?.unwrap_or(1);
        if step == 0 {
            return Err(Diagnostic::new(ErrorKind::Value, "`range` step cannot be zero")
                .at(a.param_span(PARAMS, 2))
                .with_label("the step is 0"));
        }
        Ok(Value::Range(start, stop, step))
    });
    register(t, "int", |_, a| {
        let v = a.bind("int", &["x"])?;
        let at = a.span_of(0);
        let x = v[0].as_ref().unwrap_or(&Value::None);
        let from_f = |f: f64| -> R<Value> {
            if !f.is_finite() || f.abs() >= 9.2e18 {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("cannot convert {} to int", format_float(f)),
                ));
            }
            Ok(Value::Int(f.trunc() as i64))
        };
        match x.strip() {
            Value::Int(i) => Ok(Value::Int(*i)),
            Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
            Value::Float(f) => from_f(*f),
            Value::Tensor(t) if t.size() == 1 => from_f(t.item().unwrap_or(f64::NAN)),
            Value::Tensor(t) => Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`int` needs a tensor with exactly one element, found shape {}",
                    dp_tensor::format_shape(t.shape())
                ),
            )),
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| Diagnostic::new(ErrorKind::Value, format!("cannot convert {:?} to int", &**s))),
            other => Err(arg_type(
                "int",
                "its argument",
                "a number, a 1-element tensor or a string",
                other,
            )),
        }
        .map_err(|d| d.at(at))
    });
    register(t, "float", |_, a| {
        let v = a.bind("float", &["x"])?;
        let at = a.span_of(0);
        let x = v[0].as_ref().unwrap_or(&Value::None);
        match x.strip() {
            Value::Int(i) => Ok(Value::Float(*i as f64)),
            Value::Bool(b) => Ok(Value::Float(f64::from(u8::from(*b)))),
            Value::Float(_) => Ok(x.clone()),
            Value::Tensor(t) if t.size() == 1 => ops::reshape(x, &[]),
            Value::Tensor(t) => Err(Diagnostic::new(
                ErrorKind::Shape,
                format!(
                    "`float` needs a tensor with exactly one element, found shape {}",
                    dp_tensor::format_shape(t.shape())
                ),
            )),
            Value::Str(s) => s
                .trim()
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| Diagnostic::new(ErrorKind::Value, format!("cannot convert {:?} to float", &**s))),
            other => Err(arg_type(
                "float",
                "its argument",
                "a number, a 1-element tensor or a string",
                other,
            )),
        }
        .map_err(|d| d.at(at))
    });
    register(t, "bool", |_, a| {
        let v = a.bind("bool", &["x"])?;
        Ok(Value::Bool(match v[0].as_ref().unwrap_or(&Value::None).strip() {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::None => false,
            Value::Str(s) => !s.is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::Dict(d) => !d.is_empty(),
            other => return Err(arg_type("bool", "its argument", "a scalar or collection", other)),
        }))
    });
    register(t, "assert", |it: &mut Interp, a| {
        const PARAMS: &[&str] = &["cond", "msg?"];
        let v = a.bind("assert", PARAMS)?;
        let cond_span = a.param_span(PARAMS, 0);
        let ok = match v[0].as_ref().unwrap_or(&Value::None).strip() {
            Value::Bool(b) => *b,
            Value::Tensor(t) => t.to_vec().iter().all(|x| *x != 0.0),
            other => {
                return Err(arg_type("assert", "the condition", "a bool", other)
                    .at(cond_span)
                    .with_label(format!("this is {}", other.describe())))
            }
        };
        if ok {
            return Ok(Value::None);
        }
        let msg = v[1].as_ref().map(Value::to_display).unwrap_or_default();
        // Without a message, the condition's own source says what failed.
        let src = it.sources.text(cond_span.file);
        let cond = src
            .get(cond_span.range())
            .filter(|c| !c.contains('\n') && c.len() <= 80);
        let message = match (msg.is_empty(), cond) {
            (false, _) => msg,
            (true, Some(c)) => format!("`{c}` is false"),
            (true, None) => "the condition is false".to_string(),
        };
        Err(Diagnostic::new(ErrorKind::Assertion, message)
            .at(cond_span)
            .with_label("this condition is false"))
    });
    register(t, "assert_close", |_, a| {
        let v = a.bind("assert_close", &["actual", "expected", "rtol?", "atol?"])?;
        let rtol = v[2]
            .as_ref()
            .map(|x| float_arg("assert_close", "rtol", x))
            .transpose()?
            .unwrap_or(1e-6);
        let atol = v[3]
            .as_ref()
            .map(|x| float_arg("assert_close", "atol", x))
            .transpose()?
            .unwrap_or(1e-9);
        assert_close(
            v[0].as_ref().unwrap_or(&Value::None),
            v[1].as_ref().unwrap_or(&Value::None),
            rtol,
            atol,
        )?;
        Ok(Value::None)
    });
    register(t, "error", |_, a| {
        let v = a.bind("error", &["msg"])?;
        Err(
            Diagnostic::new(ErrorKind::User, v[0].as_ref().unwrap_or(&Value::None).to_display())
                .with_label("raised here"),
        )
    });
    register(t, "time", |_, a| {
        a.bind("time", &[])?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Ok(Value::Float(now))
    });
    register(t, "args", |it: &mut Interp, a| {
        a.bind("args", &[])?;
        Ok(Value::tuple(it.script_args.iter().map(Value::str)))
    });
}

/// The number of elements of `range(a, b, s)`, if it fits in an int.
pub fn range_len(a: i64, b: i64, s: i64) -> Option<i64> {
    // In i128: `b - a` can exceed i64 for ranges spanning most of the int line.
    let (a, b, s) = (i128::from(a), i128::from(b), i128::from(s));
    let n = if s > 0 && b > a {
        (b - a - 1) / s + 1
    } else if s < 0 && a > b {
        (a - b - 1) / (-s) + 1
    } else {
        0
    };
    i64::try_from(n).ok()
}
