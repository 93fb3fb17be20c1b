//! Boolean elements, written `true` and `false` (dp's words for NumPy's
//! `True` and `False`).

use super::render::ElementFormat;

/// Writes boolean elements as NumPy's `BoolFormat` does, with dp's words: in
/// columns `true` gets a leading space to match the width of `false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BoolFormat;

impl BoolFormat {
    /// The format for a tensor whose shown elements are `shown` (the widths
    /// do not depend on them, as in NumPy).
    pub fn new(_shown: &[bool]) -> BoolFormat {
        BoolFormat
    }
}

impl ElementFormat<bool> for BoolFormat {
    fn bare(&self, x: bool) -> String {
        if x { "true" } else { "false" }.to_string()
    }

    fn padded(&self, x: bool) -> String {
        if x { " true" } else { "false" }.to_string()
    }
}
