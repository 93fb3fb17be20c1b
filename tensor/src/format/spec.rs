//! Per-element format specs, as in `format("{:8.3f}", t)`: Python's format
//! spec mini-language for floats (`[[fill]align][sign][0][width][.precision][type]`
//! with types `f`, `e`, `g` and their capitals), applied to every element.

use super::format_float;
use super::options::Sign;
use super::render::ElementFormat;
use crate::error::{Result, TensorError};

/// Largest width or precision a spec may ask for: every element is written
/// out at that size, so a typo like `{:.1000000000}` must not take gigabytes.
pub const MAX_SPEC_DIGITS: usize = 1000;

/// How one number is written: a parsed format spec such as `8.3f`, `+.2e`,
/// `>10`, `08.1f` or `.4g`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementSpec {
    fill: char,
    align: Align,
    sign: Sign,
    width: usize,
    precision: Option<usize>,
    kind: Kind,
    /// `F`, `E`, `G`: capital `E`, `NAN` and `INF`.
    upper: bool,
    /// Whether the alignment was written (strings default to the left).
    explicit_align: bool,
}

/// Where padding goes when a number is narrower than the width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    Left,
    Right,
    Center,
    /// Between the sign and the digits (`=`, and the `0` flag).
    AfterSign,
}

/// The spec's type letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// No letter: dp's own meaning (not Python's `g`-like one): the shortest
    /// round-trip text as `print` writes it, or with a precision, that many
    /// digits after the point, as dp's `{:.N}` has always meant.
    Default,
    /// `f`: positional with `precision` (default 6) digits after the point.
    Fixed,
    /// `e`: scientific with `precision` (default 6) mantissa digits after the point.
    Scientific,
    /// `g`: `precision` (default 6) significant digits, positional or
    /// scientific by the exponent, trailing zeros removed.
    General,
}

impl Default for ElementSpec {
    /// The empty spec: each number exactly as `print` writes it.
    fn default() -> Self {
        ElementSpec {
            fill: ' ',
            align: Align::Right,
            sign: Sign::Negative,
            width: 0,
            precision: None,
            kind: Kind::Default,
            upper: false,
            explicit_align: false,
        }
    }
}

impl ElementSpec {
    /// Parses the part of a placeholder after the `:`, e.g. `8.3f` for
    /// `{:8.3f}`. Not supported (an error): the `#`, `z`, `,` and `_`
    /// options, types other than `f F e E g G`, and widths or precisions
    /// above [`MAX_SPEC_DIGITS`].
    pub fn parse(spec: &str) -> Result<ElementSpec> {
        let bad = |why: &str| TensorError::Invalid(format!("unsupported format spec `{spec}` for a number: {why}"));
        let chars: Vec<char> = spec.chars().collect();
        let mut out = ElementSpec::default();
        let mut i = 0;
        let align_of = |c: char| match c {
            '<' => Some(Align::Left),
            '>' => Some(Align::Right),
            '^' => Some(Align::Center),
            '=' => Some(Align::AfterSign),
            _ => None,
        };
        let (mut fill, mut align) = (None, None);
        if let Some(a) = chars.get(1).and_then(|&c| align_of(c)) {
            (fill, align, i) = (Some(chars[0]), Some(a), 2);
        } else if let Some(a) = chars.first().and_then(|&c| align_of(c)) {
            (align, i) = (Some(a), 1);
        }
        if let Some(&c) = chars.get(i) {
            if let Ok(s) = Sign::parse(&c.to_string()) {
                out.sign = s;
                i += 1;
            }
        }
        // Python's `0` flag: zero padding between sign and digits, unless an
        // explicit fill or alignment says otherwise.
        if chars.get(i) == Some(&'0') {
            fill = fill.or(Some('0'));
            align = align.or(Some(Align::AfterSign));
            i += 1;
        }
        let number = |i: &mut usize| -> Result<Option<usize>> {
            let start = *i;
            while chars.get(*i).is_some_and(char::is_ascii_digit) {
                *i += 1;
            }
            if *i == start {
                return Ok(None);
            }
            let digits: String = chars[start..*i].iter().collect();
            match digits.parse::<usize>() {
                Ok(n) if n <= MAX_SPEC_DIGITS => Ok(Some(n)),
                _ => Err(bad(&format!("widths and precisions go up to {MAX_SPEC_DIGITS}"))),
            }
        };
        out.width = number(&mut i)?.unwrap_or(0);
        if chars.get(i) == Some(&'.') {
            i += 1;
            out.precision = Some(number(&mut i)?.ok_or_else(|| bad("a `.` must be followed by a precision"))?);
        }
        if let Some(&c) = chars.get(i) {
            (out.kind, out.upper) = match c {
                'f' | 'F' => (Kind::Fixed, c == 'F'),
                'e' | 'E' => (Kind::Scientific, c == 'E'),
                'g' | 'G' => (Kind::General, c == 'G'),
                _ => return Err(bad(&format!("unknown type or option `{c}` (use f, e or g)"))),
            };
            i += 1;
        }
        if i != chars.len() {
            return Err(bad("unexpected text after the type"));
        }
        out.fill = fill.unwrap_or(' ');
        out.explicit_align = align.is_some();
        out.align = align.unwrap_or(Align::Right);
        Ok(out)
    }

    /// `x` written to this spec, e.g. `   1.500` for `8.3f`.
    pub fn format(&self, x: f64) -> String {
        self.format_in(x, self.width)
    }

    /// Whether the spec only places text (fill, alignment, width, sign) and
    /// asks for no digits: an int then keeps all its digits.
    pub fn places_only(&self) -> bool {
        self.kind == Kind::Default && self.precision.is_none()
    }

    /// Already-written text (an int, a string, a structure) placed to the
    /// spec's fill, alignment and width; a leading `-` counts as the sign, and
    /// a `+`/space sign option applies to text that reads as a number.
    pub fn place(&self, text: &str) -> String {
        let numeric = text
            .trim_start_matches('-')
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit());
        let (sign, body) = match text.strip_prefix('-') {
            Some(rest) if numeric => ("-", rest),
            _ if numeric => (self.sign.positive_prefix(), text),
            _ => ("", text),
        };
        let len = sign.chars().count() + body.chars().count();
        let n = self.width.saturating_sub(len);
        let fill = |k: usize| self.fill.to_string().repeat(k);
        // Python aligns strings left by default, numbers right.
        let align = if numeric || self.explicit_align {
            self.align
        } else {
            Align::Left
        };
        match align {
            Align::Left => format!("{sign}{body}{}", fill(n)),
            Align::Right => format!("{}{sign}{body}", fill(n)),
            Align::Center => format!("{}{sign}{body}{}", fill(n / 2), fill(n - n / 2)),
            Align::AfterSign => format!("{sign}{}{body}", fill(n)),
        }
    }

    /// `x` written to this spec but padded to at least `width` characters.
    fn format_in(&self, x: f64, width: usize) -> String {
        let mut body = self.digits(x.abs());
        if self.upper {
            body = body.to_uppercase();
        }
        // Python writes nan without a sign whatever its sign bit.
        let sign = if x.is_sign_negative() && !x.is_nan() {
            "-"
        } else {
            self.sign.positive_prefix()
        };
        let len = sign.chars().count() + body.chars().count();
        let n = width.saturating_sub(len);
        let fill = |k: usize| self.fill.to_string().repeat(k);
        match self.align {
            Align::Left => format!("{sign}{body}{}", fill(n)),
            Align::Right => format!("{}{sign}{body}", fill(n)),
            Align::Center => format!("{}{sign}{body}{}", fill(n / 2), fill(n - n / 2)),
            Align::AfterSign => format!("{sign}{}{body}", fill(n)),
        }
    }

    /// The unsigned text of the magnitude `a` (`nan`, `inf` when not finite).
    fn digits(&self, a: f64) -> String {
        if !a.is_finite() {
            return format_float(a);
        }
        let p = self.precision;
        match self.kind {
            Kind::Default => match p {
                None => format_float(a),
                Some(p) => format!("{a:.p$}"),
            },
            Kind::Fixed => format!("{a:.p$}", p = p.unwrap_or(6)),
            Kind::Scientific => scientific(a, p.unwrap_or(6)),
            Kind::General => general(a, p.unwrap_or(6)),
        }
    }
}

/// `a` with `p` mantissa digits after the point and a signed exponent of at
/// least two digits, as Python's `e` type: `1.500e+00`.
fn scientific(a: f64, p: usize) -> String {
    let s = format!("{a:.p$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// `a` with `p` significant digits as Python's `g` type: positional when the
/// exponent after rounding is in `-4..p`, else scientific, and without
/// trailing zeros or a trailing point.
fn general(a: f64, p: usize) -> String {
    let p = p.max(1);
    let exp = if a == 0.0 {
        0
    } else {
        let s = format!("{a:.prec$e}", prec = p - 1);
        s.split_once('e').and_then(|(_, e)| e.parse::<i64>().ok()).unwrap_or(0)
    };
    let trim = |m: &str| -> String {
        if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            m.to_string()
        }
    };
    if (-4..p as i64).contains(&exp) {
        trim(&format!("{a:.prec$}", prec = (p as i64 - 1 - exp) as usize))
    } else {
        let s = scientific(a, p - 1);
        let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), ""));
        format!("{}e{exp}", trim(mantissa))
    }
}

/// Writes float elements to one [`ElementSpec`], padded in columns to the
/// widest shown element.
#[derive(Clone, Debug)]
pub(crate) struct SpecFormat {
    spec: ElementSpec,
    width: usize,
}

impl SpecFormat {
    /// The spec, with its column width taken from the `shown` elements.
    pub(crate) fn new(spec: &ElementSpec, shown: &[f64]) -> SpecFormat {
        let widest = shown.iter().map(|&x| spec.format(x).chars().count()).max().unwrap_or(0);
        SpecFormat {
            spec: spec.clone(),
            width: widest.max(spec.width),
        }
    }
}

impl ElementFormat<f64> for SpecFormat {
    fn bare(&self, x: f64) -> String {
        self.spec.format(x)
    }

    /// Padded as the spec pads (so `<` columns are left-aligned, `0` ones
    /// zero-filled).
    fn padded(&self, x: f64) -> String {
        self.spec.format_in(x, self.width)
    }
}
