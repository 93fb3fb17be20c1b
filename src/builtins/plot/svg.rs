//! SVG renderings of plots with plotters' SVG backend (no font or image
//! libraries: text is written as SVG `<text>` for the viewer to lay out).

use super::figure::{Figure, Histogram, Labels, Style};
use super::text::short;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

/// The picture's size in pixels.
const SIZE: (u32, u32) = (800, 500);

/// Why plotters could not draw (it only fails on a broken backend; kept as text).
type DrawResult = Result<(), String>;

fn fail<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The SVG text of a line or scatter plot.
pub fn figure(fig: &Figure) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let ((x0, x1), (y0, y1)) = fig.bounds();
        // One drawing routine, instantiated for each combination of linear and log axes.
        match (fig.logx, fig.logy) {
            (false, false) => series(fig, &root, x0..x1, y0..y1)?,
            (true, false) => series(fig, &root, (x0..x1).log_scale(), y0..y1)?,
            (false, true) => series(fig, &root, x0..x1, (y0..y1).log_scale())?,
            (true, true) => series(fig, &root, (x0..x1).log_scale(), (y0..y1).log_scale())?,
        }
        root.present().map_err(fail)?;
    }
    Ok(svg)
}

/// A chart on an SVG drawing area with axes `X` and `Y`.
type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// The chart's frame: caption, label areas and the mesh with axis descriptions.
fn chart<'a, 'b, X, Y>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    labels: &Labels,
    x: X,
    y: Y,
) -> Result<Chart<'a, 'b, X::CoordDescType, Y::CoordDescType>, String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut builder = ChartBuilder::on(root);
    builder.margin(20).x_label_area_size(50).y_label_area_size(70);
    if !labels.title.is_empty() {
        builder.caption(&labels.title, ("sans-serif", 24));
    }
    let mut chart = builder.build_cartesian_2d(x, y).map_err(fail)?;
    let fmt = |v: &f64| short(*v);
    chart
        .configure_mesh()
        .x_desc(labels.xlabel.as_str())
        .y_desc(labels.ylabel.as_str())
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .light_line_style(WHITE)
        .draw()
        .map_err(fail)?;
    Ok(chart)
}

fn series<X, Y>(fig: &Figure, root: &DrawingArea<SVGBackend, plotters::coord::Shift>, x: X, y: Y) -> DrawResult
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = chart(root, &fig.labels, x, y)?;
    for (k, s) in fig.series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let drawn = match fig.style {
            Style::Line => chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .map_err(fail)?,
            Style::Scatter => chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(fail)?,
        };
        if !s.name.is_empty() {
            drawn
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if fig.named() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(fail)?;
    }
    Ok(())
}

/// The SVG text of a histogram: one bar per bin.
pub fn histogram(h: &Histogram) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        let top = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.05;
        let mut chart = chart(&root, &h.labels, h.range.0..h.range.1, 0.0..top)?;
        let width = (h.range.1 - h.range.0) / h.counts.len() as f64;
        let color = Palette99::pick(0).to_rgba();
        chart
            .draw_series(h.counts.iter().enumerate().map(|(k, &c)| {
                let left = h.range.0 + k as f64 * width;
                Rectangle::new([(left, 0.0), (left + width, c as f64)], color.filled())
            }))
            .map_err(fail)?;
        root.present().map_err(fail)?;
    }
    Ok(svg)
}
