//! Float elements the way NumPy's `FloatingFormat` writes them, with dp's
//! element text: a whole tensor switches to scientific notation together,
//! every element is exact enough to round-trip (or rounded to the requested
//! precision), and columns align on the decimal point.
//!
//! dp differs from NumPy only in the text of numbers with no fraction digits,
//! which follows Python's `repr` instead: positional `1.` is written `1.0`
//! (so the fraction column is at least one digit wide) and scientific
//! `1.e+16` is written `1e+16`.

use super::format_float;
use super::options::{PrintOptions, Sign};
use super::render::ElementFormat;

/// Below this magnitude (of the smallest non-zero element) NumPy switches to
/// scientific notation unless suppressing.
const SMALL: f64 = 1e-4;
/// At or above this magnitude NumPy switches to scientific notation (for
/// float64: `10 ** min(8, finfo.precision)`), even when suppressing.
const LARGE: f64 = 1e8;
/// A ratio of largest to smallest non-zero magnitude above this switches to
/// scientific notation unless suppressing.
const RATIO: f64 = 1000.0;
/// Exponents always have at least this many digits, as in Python (`1e-05`).
const MIN_EXP_DIGITS: usize = 2;

/// Writes the float elements of one tensor with shared notation and column
/// widths, computed from the elements that are shown.
#[derive(Clone, Debug)]
pub struct FloatFormat {
    sign: Sign,
    precision: Option<usize>,
    notation: Notation,
    /// Width of the sign and integer digits (of the mantissa).
    pad_left: usize,
    /// Positional: width of the fraction digits.
    pad_right: usize,
    /// Width of `nan` and `inf` entries, right-aligned.
    nonfinite_width: usize,
}

/// Positional or scientific notation for a whole tensor.
#[derive(Clone, Copy, Debug)]
enum Notation {
    Positional,
    /// Every mantissa has `digits` fraction digits and every exponent
    /// `exp_digits` digits.
    Scientific {
        digits: usize,
        exp_digits: usize,
    },
}

/// The digits of a finite magnitude: integer part, fraction digits (no
/// trailing zeros), and the decimal exponent in scientific notation.
struct Digits {
    int: String,
    frac: String,
    exp: i32,
}

impl FloatFormat {
    /// Chooses notation and widths for `shown`, the elements that will be
    /// printed (NumPy's `fillFormat`).
    pub fn new(shown: &[f64], opts: &PrintOptions) -> FloatFormat {
        let finite = || shown.iter().copied().filter(|x| x.is_finite());
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for a in finite().filter(|&x| x != 0.0).map(f64::abs) {
            min = min.min(a);
            max = max.max(a);
        }
        // The ratio may overflow to infinity, which correctly counts as large.
        let scientific = min.is_finite() && (max >= LARGE || (!opts.suppress && (min < SMALL || max / min > RATIO)));
        let mut fmt = FloatFormat {
            sign: opts.sign,
            precision: opts.precision,
            notation: Notation::Positional,
            pad_left: 0,
            pad_right: 0,
            nonfinite_width: 0,
        };
        let mut any_finite = false;
        let mut any_negative = false;
        let (mut digits, mut exp_digits) = (0, MIN_EXP_DIGITS);
        for x in finite() {
            any_finite = true;
            any_negative |= x.is_sign_negative();
            let d = if scientific {
                scientific_digits(x.abs(), opts.precision)
            } else {
                positional_digits(x.abs(), opts.precision)
            };
            fmt.pad_left = fmt.pad_left.max(fmt.sign_text(x).len() + d.int.len());
            digits = digits.max(d.frac.len());
            exp_digits = exp_digits.max(d.exp.unsigned_abs().to_string().len());
        }
        // Space for the `-` that `sign=' '` reserves when nothing is negative.
        if opts.sign == Sign::Space && !any_negative {
            fmt.pad_left += 1;
        }
        // Columns right of the integer part: point, fraction and exponent.
        let rest = if scientific {
            fmt.notation = Notation::Scientific { digits, exp_digits };
            // `1e+16` has no point when no mantissa has fraction digits.
            let point = if digits > 0 { 1 + digits } else { 0 };
            point + 2 + exp_digits
        } else {
            // dp writes `1.0` where NumPy writes `1.`: at least one digit.
            fmt.pad_right = if any_finite { digits.max(1) } else { 0 };
            1 + fmt.pad_right
        };
        if shown.iter().any(|x| !x.is_finite()) {
            let neg_inf = opts.sign != Sign::Negative || shown.contains(&f64::NEG_INFINITY);
            let needed = 3 + usize::from(neg_inf);
            fmt.pad_left = fmt.pad_left.max(needed.saturating_sub(rest));
        }
        fmt.nonfinite_width = fmt.pad_left + rest;
        fmt
    }

    /// The sign written before `x`: `-` when its sign bit is set (so `-0.0`
    /// too), else per the sign option (the `' '` of `Sign::Space` is padding
    /// in columns, so it is added by the callers that want it).
    fn sign_text(&self, x: f64) -> &'static str {
        if x.is_sign_negative() {
            "-"
        } else if self.sign == Sign::Plus {
            "+"
        } else {
            ""
        }
    }

    /// `nan`, `inf` or `-inf`, with a `+` under `Sign::Plus`.
    fn nonfinite_text(&self, x: f64) -> String {
        let sign = if x == f64::NEG_INFINITY {
            "-"
        } else if self.sign == Sign::Plus {
            "+"
        } else {
            ""
        };
        format!("{sign}{}", if x.is_nan() { "nan" } else { "inf" })
    }

    /// A finite element as (sign and integer digits, everything after them),
    /// without padding.
    fn parts(&self, x: f64) -> (String, String) {
        match self.notation {
            Notation::Positional => {
                let d = positional_digits(x.abs(), self.precision);
                let frac = if d.frac.is_empty() { "0" } else { d.frac.as_str() };
                (format!("{}{}", self.sign_text(x), d.int), format!(".{frac}"))
            }
            Notation::Scientific { digits, exp_digits } => {
                // Every mantissa gets `digits` digits, rounded from the exact
                // binary value: NumPy's Dragon4 with `min_digits` continues
                // past the shortest digits with the exact ones (so 0.3 beside
                // 1/7 prints `2.9999999999999999e-01`), not with zeros.
                let text = format!("{:.digits$e}", x.abs());
                let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
                let (int, frac) = split_point(mantissa);
                let exp: i32 = exp.parse().unwrap_or(0);
                let point = if digits > 0 { format!(".{frac}") } else { String::new() };
                let exp_sign = if exp < 0 { '-' } else { '+' };
                let exp = exp.unsigned_abs();
                (
                    format!("{}{int}", self.sign_text(x)),
                    format!("{point}e{exp_sign}{exp:0>exp_digits$}"),
                )
            }
        }
    }

    /// The space that `Sign::Space` puts before a non-negative number.
    fn space(&self, x: f64) -> &'static str {
        if self.sign == Sign::Space && !x.is_sign_negative() {
            " "
        } else {
            ""
        }
    }
}

impl ElementFormat<f64> for FloatFormat {
    fn bare(&self, x: f64) -> String {
        if !x.is_finite() {
            // `nan` has no sign: under `Sign::Space` it gets the space too.
            let space = if self.sign == Sign::Space && x != f64::NEG_INFINITY {
                " "
            } else {
                ""
            };
            return format!("{space}{}", self.nonfinite_text(x));
        }
        let (left, right) = self.parts(x);
        format!("{}{left}{right}", self.space(x))
    }

    fn padded(&self, x: f64) -> String {
        if !x.is_finite() {
            return format!("{:>w$}", self.nonfinite_text(x), w = self.nonfinite_width);
        }
        let (left, right) = self.parts(x);
        match self.notation {
            // Fractions are left-aligned so decimal points line up.
            Notation::Positional => format!("{left:>l$}{right:<r$}", l = self.pad_left, r = self.pad_right + 1),
            Notation::Scientific { .. } => format!("{left:>l$}{right}", l = self.pad_left),
        }
    }

    /// A 0-d tensor prints like a float (as NumPy's `str` of a 0-d array).
    fn scalar(&self, x: f64) -> String {
        format_float(x)
    }
}

/// The shortest digits of the finite magnitude `a` in positional notation
/// that read back as `a`, rounded to at most `cap` fraction digits (NumPy's
/// `dragon4_positional` with `unique=True`, `trim='.'`).
fn positional_digits(a: f64, cap: Option<usize>) -> Digits {
    // Rust's `{}` is the shortest round-trip text, never in exponent form.
    let shortest = format!("{a}");
    let frac = split_point(&shortest).1;
    let text = match cap {
        // Rust's `{:.p}` rounds the exact binary value, ties to even, as Dragon4 does.
        Some(p) if frac.len() > p => format!("{a:.p$}"),
        _ => shortest,
    };
    let (int, frac) = split_point(&text);
    Digits {
        int: int.to_string(),
        frac: frac.trim_end_matches('0').to_string(),
        exp: 0,
    }
}

/// The shortest mantissa digits and exponent of the finite magnitude `a` in
/// scientific notation, the mantissa rounded to at most `cap` fraction
/// digits (NumPy's `dragon4_scientific` with `unique=True`, `trim='.'`).
fn scientific_digits(a: f64, cap: Option<usize>) -> Digits {
    // Rust's `{:e}` is the shortest round-trip mantissa: `1.5e-7`, `1e16`, `0e0`.
    let shortest = format!("{a:e}");
    let text = match (cap, shortest.split_once('e')) {
        (Some(p), Some((m, _))) if split_point(m).1.len() > p => format!("{a:.p$e}"),
        _ => shortest,
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let (int, frac) = split_point(mantissa);
    Digits {
        int: int.to_string(),
        frac: frac.trim_end_matches('0').to_string(),
        exp: exp.parse().unwrap_or(0),
    }
}

/// Splits `12.5` into `("12", "5")` and `12` into `("12", "")`.
fn split_point(s: &str) -> (&str, &str) {
    s.split_once('.').unwrap_or((s, ""))
}
