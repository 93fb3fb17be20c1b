//! What a plot shows, independent of how it is drawn: named series of
//! points, axis labels and scales, and a histogram's bins. Built from dp
//! values with the checks that make a good report (lengths, empty series,
//! log axes), so the SVG and text renderers only draw.

use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::value::Value;

/// One line or set of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry (empty for an unnamed series).
    pub name: String,
    /// The points, with every non-finite point left out.
    pub points: Vec<(f64, f64)>,
}

/// How series are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Points joined by straight lines.
    Line,
    /// Points alone.
    Scatter,
}

/// The text around the plot area, shared by `plot` and `hist`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    /// Above the plot (may be empty).
    pub title: String,
    /// Below the x axis (may be empty).
    pub xlabel: String,
    /// Beside the y axis (may be empty).
    pub ylabel: String,
}

/// A line or scatter plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The series, in legend order.
    pub series: Vec<Series>,
    /// Title and axis labels.
    pub labels: Labels,
    /// Whether the x axis is logarithmic.
    pub logx: bool,
    /// Whether the y axis is logarithmic.
    pub logy: bool,
    /// Lines or points.
    pub style: Style,
}

impl Figure {
    /// The smallest and largest x and y over every series: `((x0, x1), (y0, y1))`,
    /// widened when all values are equal so the axes have a length.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let xs = span(pts.clone().map(|p| p.0), self.logx);
        let ys = span(pts.map(|p| p.1), self.logy);
        (xs, ys)
    }

    /// Whether the legend has anything to say.
    pub fn named(&self) -> bool {
        self.series.iter().any(|s| !s.name.is_empty())
    }
}

/// Why an axis over `range` cannot be drawn, if it cannot: its length (on a
/// log axis, the ratio of its ends) is larger than the largest float, and
/// the drawing library's tick placement then never ends (it looped forever
/// on `plot([1e308, -1e308])` and `plot([1e-200, 1e200], logy=true)`).
pub fn axis_problem(axis: &str, range: (f64, f64), log: bool) -> Option<String> {
    let (lo, hi) = range;
    let (extent, what) = if log {
        (hi / lo, "the ratio of its largest to its smallest value")
    } else {
        (hi - lo, "the distance between its smallest and largest value")
    };
    (!extent.is_finite()).then(|| {
        format!(
            "the {axis} axis cannot be drawn: {what} ({lo:e} to {hi:e}) is beyond the largest float; \
             scale the values first"
        )
    })
}

/// The range of `values` (nonempty), widened if it is a single value: by
/// a factor of 2 either way on a log axis, else by 0.5.
fn span(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if lo < hi {
        (lo, hi)
    } else if log {
        // Each side only as far as floats go (1.7e308 * 2 is inf, 5e-324 / 2 is 0).
        let (down, up) = (lo / 2.0, hi * 2.0);
        (if down > 0.0 { down } else { lo }, if up.is_finite() { up } else { hi })
    } else {
        // As NumPy's histogram does for a single value.
        (lo - 0.5, hi + 0.5)
    }
}

/// A histogram: counts of values in equal-width bins.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// The left edge of the first bin and the right edge of the last.
    pub range: (f64, f64),
    /// How many values fall in each bin (the last bin includes its right edge).
    pub counts: Vec<u64>,
    /// Title and axis labels.
    pub labels: Labels,
}

impl Histogram {
    /// Counts `values` (non-finite ones left out) into `bins` equal bins over their range.
    pub fn new(values: &[f64], bins: usize, labels: Labels) -> Histogram {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let range = span(finite.iter().copied(), false);
        let mut counts = vec![0u64; bins];
        let width = (range.1 - range.0) / bins as f64;
        for v in finite {
            // Truncation picks the bin; the maximum belongs to the last bin, as in NumPy.
            let k = (((v - range.0) / width) as usize).min(bins - 1);
            counts[k] += 1;
        }
        Histogram { range, counts, labels }
    }
}

/// The numbers of a series: a 1-d tensor, a tuple of numbers or a range.
/// `what` names it in errors (`` `y` ``, `` series `loss` ``).
pub fn numbers(fname: &str, what: &str, v: &Value) -> R<Vec<f64>> {
    let bad = || {
        Diagnostic::new(
            ErrorKind::Type,
            format!(
                "`{fname}` expects {what} to be a 1-d tensor or a tuple of numbers, found {}",
                v.describe()
            ),
        )
    };
    let t = crate::ops::literal::to_tensor(v.strip()).map_err(|_| bad())?;
    let t = crate::prim::as_tensor(&t).map_err(|_| bad())?;
    if t.ndim() != 1 {
        return Err(bad().with_label(format!("this has shape {}", dp_tensor::format_shape(t.shape()))));
    }
    if t.shape()[0] == 0 {
        return Err(
            Diagnostic::new(ErrorKind::Value, format!("`{fname}`: {what} is empty")).with_label("no values to plot")
        );
    }
    Ok(t.to_vec())
}

/// Pairs `xs` with `ys` (of equal length), leaving out points that are not
/// finite; a point on a log axis must be positive.
pub fn points(fname: &str, what: &str, xs: &[f64], ys: &[f64], logx: bool, logy: bool) -> R<Vec<(f64, f64)>> {
    if xs.len() != ys.len() {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!("`{fname}`: {what} has {} values but x has {}", ys.len(), xs.len()),
        )
        .with_help("x and every series must have the same length"));
    }
    let mut out = Vec::with_capacity(xs.len());
    for (i, (&x, &y)) in xs.iter().zip(ys).enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        for (log, v, axis) in [(logx, x, "x"), (logy, y, "y")] {
            if log && v <= 0.0 {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "`{fname}`: a log {axis} axis cannot show {axis} = {} (index {i} of {what})",
                        dp_tensor::format_float(v)
                    ),
                )
                .with_help(format!("every {axis} value must be positive when log{axis}=true")));
            }
        }
        out.push((x, y));
    }
    if out.is_empty() {
        return Err(
            Diagnostic::new(ErrorKind::Value, format!("`{fname}`: {what} has no finite values"))
                .with_label("every value is nan or infinite"),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_like_numpy() {
        // np.histogram([1, 2, 2, 3, 4, 10], bins=3) -> counts [4, 1, 1], edges [1, 4, 7, 10]
        let h = Histogram::new(&[1.0, 2.0, 2.0, 3.0, 4.0, 10.0, f64::NAN], 3, Labels::default());
        assert_eq!(h.counts, vec![4, 1, 1]);
        assert_eq!(h.range, (1.0, 10.0));
        // A single value: np.histogram([2.0], bins=2) -> range (1.5, 2.5), counts [0, 1]
        let h = Histogram::new(&[2.0], 2, Labels::default());
        assert_eq!((h.range, h.counts), ((1.5, 2.5), vec![0, 1]));
    }

    #[test]
    fn points_checks_lengths_and_log_axes() {
        assert!(points("plot", "y", &[1.0, 2.0], &[1.0], false, false).is_err());
        assert!(points("plot", "y", &[1.0, 2.0], &[1.0, 0.0], false, true).is_err());
        assert_eq!(
            points("plot", "y", &[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0], false, false).unwrap(),
            vec![(1.0, 1.0), (3.0, 3.0)]
        );
    }
}
