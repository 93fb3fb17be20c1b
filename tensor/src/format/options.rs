//! Print options: the knobs NumPy's `set_printoptions` offers for float tensors.

use crate::error::{Result, TensorError};

/// How non-negative numbers are signed (NumPy's `sign` print option, and the
/// sign field of a format spec).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sign {
    /// `-`: only negative numbers carry a sign (the default).
    #[default]
    Negative,
    /// `+`: non-negative numbers carry a `+`.
    Plus,
    /// ` `: non-negative numbers get a space where the sign would be.
    Space,
}

impl Sign {
    /// Reads NumPy's spelling of the option: `"-"`, `"+"` or `" "`.
    pub fn parse(s: &str) -> Result<Sign> {
        match s {
            "-" => Ok(Sign::Negative),
            "+" => Ok(Sign::Plus),
            " " => Ok(Sign::Space),
            _ => Err(TensorError::Invalid(format!(
                "sign must be \"-\", \"+\" or \" \", found {s:?}"
            ))),
        }
    }

    /// The text written before a number whose sign bit is clear.
    pub(crate) fn positive_prefix(self) -> &'static str {
        match self {
            Sign::Negative => "",
            Sign::Plus => "+",
            Sign::Space => " ",
        }
    }
}

/// Options for printing a tensor, after NumPy's `np.set_printoptions`
/// (`floatmode` is `'unique'` without a precision and `'maxprec'` with one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintOptions {
    /// Most digits after the decimal point (of the mantissa, in scientific
    /// notation). `None` prints every element with the fewest digits that
    /// round-trip; `Some(p)` rounds to at most `p` digits, fewer when they
    /// already round-trip.
    pub precision: Option<usize>,
    /// Tensors with more elements than this are summarised with `...`.
    pub threshold: usize,
    /// Entries kept at each end of a summarised axis.
    pub edgeitems: usize,
    /// Characters per line before a row wraps.
    pub linewidth: usize,
    /// Never switch to scientific notation because of small values, and
    /// (with a precision) print them rounded, e.g. as `0.0`.
    pub suppress: bool,
    /// How non-negative numbers are signed.
    pub sign: Sign,
}

impl Default for PrintOptions {
    /// NumPy's defaults except `precision`: threshold 1000, 3 edge items,
    /// 75 characters per line, no suppression, `-` sign.
    fn default() -> Self {
        PrintOptions {
            precision: None,
            threshold: 1000,
            edgeitems: 3,
            linewidth: 75,
            suppress: false,
            sign: Sign::Negative,
        }
    }
}
