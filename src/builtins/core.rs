//! Core builtins: conversions, types, lengths, ranges, checks and errors.

use super::{arg_type, float_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::ops::{self, as_tensor, shape_of};
use crate::value::tree::{self, path_string};
use crate::value::Value;
use dp_tensor::format_float;
use std::collections::HashMap;
use std::rc::Rc;

use crate::diagnostics::R;

/// Seconds since the first reading in this process, on a monotonic clock.
fn monotonic_seconds() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// Whether `actual` is close to `expected` for `assert_close` and `check_grad`:
/// equal (so an infinity matches only the same-signed infinity), both nan
/// (nan matches only nan, as NumPy's `assert_allclose`), or both finite with
/// `|actual - expected| <= atol + rtol * |expected|`.
pub fn close(actual: f64, expected: f64, rtol: f64, atol: f64) -> bool {
    if actual == expected || (actual.is_nan() && expected.is_nan()) {
        return true;
    }
    // Without this, `|1 - inf| <= atol + rtol * inf` would let anything match an infinity.
    actual.is_finite() && expected.is_finite() && (actual - expected).abs() <= atol + rtol * expected.abs()
}

/// Reads a tolerance (`rtol`/`atol`): a negative or nan tolerance would make
/// every comparison pass (or fail) whatever the values, so it is an error.
pub fn tolerance_arg(fname: &str, what: &str, v: &Value) -> R<f64> {
    let x = float_arg(fname, what, v)?;
    if x >= 0.0 && x.is_finite() {
        Ok(x)
    } else {
        Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{fname}`: {what} must be a finite number >= 0, found {}",
                format_float(x)
            ),
        ))
    }
}

/// Compares `actual` with `expected` structurally, then leaf by leaf within
/// tolerances ([`close`]). Numeric leaves must have equal shapes; a float and
/// a 0-d tensor both have shape `()`.
pub fn assert_close(actual: &Value, expected: &Value, rtol: f64, atol: f64) -> R<()> {
    let names = ["actual", "expected"];
    tree::map_many_named(&[actual.clone(), expected.clone()], &names, &mut |pair, path| {
        let (a, e) = (pair[0].strip(), pair[1].strip());
        let numeric = |v: &Value| matches!(v, Value::Int(_) | Value::Float(_) | Value::Tensor(_));
        if numeric(a) && numeric(e) {
            let (sa, se) = (shape_of(a), shape_of(e));
            if sa != se {
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
                if !close(*x, *y, rtol, atol) {
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
                    .with_note(if x.is_finite() && y.is_finite() {
                        format!(
                            "|difference| = {} > atol + rtol * |expected| = {}",
                            format_float((x - y).abs()),
                            format_float(atol + rtol * y.abs())
                        )
                    } else {
                        "nan matches only nan, and inf only the same-signed inf".to_string()
                    })
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
    let type_decl = Decl {
        sig: "type(x) -> str",
        summary: "The name of `x`'s type: int, float, bool, str, none, tuple, dict, tensor, range or function.",
        doc: "",
        example: "type(zeros(3))  # \"tensor\"",
    };
    register(t, type_decl, |_, a| Ok(Value::str(a.value(0).type_name())));
    let clock = Decl {
        sig: "clock() -> float",
        summary: "Seconds on a monotonic clock, for timing code: subtract two readings.",
        doc: "The clock starts at an arbitrary point (the first call in the process) and never goes back, \
              so only differences mean anything. For careful timings use the REPL's `:time`.",
        example: "let t0 = clock();\nlet s = sum(ones(1000));\nlet seconds = clock() - t0;",
    };
    register(t, clock, |_, _| Ok(Value::Float(monotonic_seconds())));
    let len = Decl {
        sig: "len(x: tuple | dict | str | range | tensor) -> int",
        summary: "The number of items: of a tuple, dict, string (characters), range, or rows of a tensor.",
        doc: "A 0-d tensor has no length.",
        example: "len((1, 2, 3)) + len(zeros((4, 2)))  # 7",
    };
    register(t, len, |_, a| {
        let x = a.value(0);
        // The length seen here: inside `vmap` a batched tensor is one example.
        let seen = crate::ops::shape_of(x);
        Ok(Value::Int(match x.peek() {
            Value::Tuple(t) => t.len() as i64,
            Value::Dict(d) => d.len() as i64,
            Value::Str(s) => crate::value::strings::char_len(s) as i64,
            Value::Range(lo, hi, step) => crate::ops::index::range_len(*lo, *hi, *step).ok_or_else(|| {
                Diagnostic::new(ErrorKind::Value, "the range has more elements than an int can count")
                    .at(a.span_of(0))
                    .with_label(format!("{} has more than 9223372036854775807 elements", x.repr()))
            })?,
            Value::Tensor(_) if !seen.is_empty() => seen[0] as i64,
            Value::Tensor(_) => return Err(super::unsized_error("len").at(a.span_of(0))),
            other => {
                return Err(
                    arg_type("len", "its argument", "a tuple, dict, string, range or tensor", other)
                        .at(a.span_of(0))
                        .with_label(format!("this is {}", other.describe())),
                )
            }
        }))
    });
    let range = Decl {
        sig: "range(start: int, stop: int = none, step: int = 1) -> range",
        summary: "The ints from `start` up to (not including) `stop` by `step`; `range(n)` is 0..n.",
        doc: "A range is lazy: it is iterated by `for` without being stored. The step may be negative \
              but not zero.",
        example: "tuple(range(1, 10, 3))  # (1, 4, 7)",
    };
    register(t, range, |_, a| {
        let i = |k: usize| a.opt_int_as(k, "a bound").map_err(|d| d.at(a.span_at(k)));
        let (start, stop) = match i(1)? {
            None => (0, i(0)?.unwrap_or(0)),
            Some(s) => (i(0)?.unwrap_or(0), s),
        };
        let step = i(2)?.unwrap_or(1);
        if step == 0 {
            return Err(Diagnostic::new(ErrorKind::Value, "`range` step cannot be zero")
                .at(a.span_at(2))
                .with_label("the step is 0"));
        }
        Ok(Value::Range(start, stop, step))
    });
    let int = Decl {
        sig: "int(x: number | tensor | str) -> int",
        summary: "`x` as an int: floats are truncated toward zero, strings parsed.",
        doc: "A tensor must have exactly one element; nan, infinities and out-of-range values are errors.",
        example: "int(-2.7) + int(\"40\")  # 38",
    };
    register(t, int, |_, a| {
        let at = a.span_of(0);
        let x = a.value(0);
        crate::autodiff::vmap::require_unbatched(x, "`int(...)`").map_err(|d| d.at(at))?;
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
    let float = Decl {
        sig: "float(x: number | tensor | str) -> float",
        summary: "`x` as a float; a one-element tensor gives its element, a string is parsed.",
        doc: "",
        example: "float(3) / 2  # 1.5",
    };
    register(t, float, |_, a| {
        let at = a.span_of(0);
        let x = a.value(0);
        if crate::autodiff::trace::is_batched(x) {
            // Inside `vmap` a batched scalar stays batched (as a differentiated one stays differentiated).
            if ops::shape_of(x).is_empty() {
                return ops::reshape(x, &[]);
            }
            return Err(crate::autodiff::vmap::batched_value_error("`float(...)` of a tensor").at(at));
        }
        // The kind decides, not the value: a differentiated float is passed
        // on as it is, so this is no read of it (a `custom_jvp` rule may
        // convert its tangents; a `trace` needs no guard).
        match x.peek() {
            // An int input of a jit plan: converted by a recorded `+ 0.0`
            // (exactly `as f64`), so the plan converts each new int.
            Value::Int(_) if crate::ops::arith::is_traced_int(x) => ops::add(x, &Value::Float(0.0)),
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
    let bool_decl = Decl {
        sig: "bool(x) -> bool",
        summary: "Whether `x` is true: non-zero numbers, non-empty strings and collections.",
        doc: "`none` is false; tensors and functions are errors.",
        example: "bool(0) or bool((1,))  # true",
    };
    register(t, bool_decl, |_, a| {
        Ok(Value::Bool(match a.value(0).strip() {
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
    let assert = Decl {
        sig: "assert(cond: bool | tensor, msg = \"\")",
        summary: "Stops the program with an assertion error when `cond` is false.",
        doc: "A tensor condition holds when every element is non-zero. The report shows `msg` (any \
              value, in its printed form); without it, or with `\"\"`, it quotes the condition's source.",
        example: "assert(1 + 1 == 2, \"arithmetic\")",
    };
    register(t, assert, |it: &mut Interp, a| {
        let cond_span = a.span_at(0);
        let ok = match a.value(0).strip() {
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
        let msg = a.given(1).map(Value::to_display).unwrap_or_default();
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
    let assert_close_decl = Decl {
        sig: "assert_close(actual, expected, rtol: float = 1e-6, atol: float = 1e-9)",
        summary: "Stops with an assertion error unless `actual` and `expected` agree within tolerances.",
        doc: "Both are compared structurally (tuples, dicts), then leaf by leaf: numeric leaves must \
              have equal shapes and satisfy `|actual - expected| <= atol + rtol * |expected|`; nan \
              matches only nan. The report names the first leaf and element that differ.",
        example: "assert_close((0.1 + 0.2, ones(2)), (0.3, tensor([1.0, 1.0])))",
    };
    register(t, assert_close_decl, |_, a| {
        let tol =
            |k: usize, what: &str| tolerance_arg("assert_close", what, a.value(k)).map_err(|d| d.at(a.span_at(k)));
        let rtol = tol(2, "rtol")?;
        let atol = tol(3, "atol")?;
        assert_close(a.value(0), a.value(1), rtol, atol)?;
        Ok(Value::None)
    });
    let error = Decl {
        sig: "error(msg)",
        summary: "Stops the program with an error showing `msg`.",
        doc: "The report points at the call.",
        example: "fn safe_sqrt(x) { if x < 0 { error(\"negative input\") } else { sqrt(x) } }",
    };
    register(t, error, |_, a| {
        Err(Diagnostic::new(ErrorKind::User, a.value(0).to_display()).with_label("raised here"))
    });
    let time = Decl {
        sig: "time() -> float",
        summary: "Seconds since the Unix epoch, as a float (for timing code).",
        doc: "",
        example: "let t0 = time();\nlet elapsed = time() - t0;",
    };
    register(t, time, |_, _| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Ok(Value::Float(now))
    });
    let args = Decl {
        sig: "args() -> tuple",
        summary: "The command-line arguments after the script's name, as a tuple of strings.",
        doc: "`dp train.dp 10 fast` gives `(\"10\", \"fast\")`.",
        example: "let argv = args();",
    };
    register(t, args, |it: &mut Interp, _| {
        Ok(Value::tuple(it.script_args.iter().map(Value::str)))
    });
    register(t, super::help::DECL, super::help::builtin);
}
