//! `plot` and `hist`: line, scatter and histogram pictures written to SVG
//! files (`svg.rs`, with plotters), and shown as text on a terminal
//! (`text.rs`). `figure.rs` turns the arguments into what is drawn.

pub mod figure;
pub mod svg;
pub mod text;

use super::{register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::eval::Interp;
use crate::syntax::span::Span;
use crate::value::{quote, Value};
use figure::{axis_problem, numbers, points, Figure, Histogram, Labels, Series, Style};
use std::collections::HashMap;
use std::rc::Rc;

/// The series in a `plot` argument with their legend names: a dict's
/// entries (named by key), a tuple's elements unless they are all numbers,
/// or the value itself.
fn named_series(v: &Value) -> Vec<(String, String, &Value)> {
    match v {
        Value::Dict(d) => d
            .iter()
            .map(|(k, s)| (k.to_string(), format!("series {}", quote(k)), s))
            .collect(),
        Value::Tuple(t) if !t.iter().all(|e| e.strip_numeric_scalar()) => t
            .iter()
            .enumerate()
            .map(|(i, s)| (String::new(), format!("series {i}"), s))
            .collect(),
        other => vec![(String::new(), "y".to_string(), other)],
    }
}

trait ScalarCheck {
    /// Whether the value is one number (an int, float, bool or 0-d tensor).
    fn strip_numeric_scalar(&self) -> bool;
}

impl ScalarCheck for Value {
    fn strip_numeric_scalar(&self) -> bool {
        match self.strip() {
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => true,
            Value::Tensor(t) => t.ndim() == 0,
            _ => false,
        }
    }
}

/// Writes `svg` to `path` (relative to the working directory), atomically.
fn write_svg(it: &Interp, fname: &str, path: &str, svg: &str, span: Span) -> R<()> {
    if it.read_only {
        return Err(Diagnostic::new(
            ErrorKind::Io,
            format!("`{fname}` is disabled: this interpreter may not write files"),
        )
        .at(span));
    }
    crate::files::write_atomic(std::path::Path::new(path), svg.as_bytes()).map_err(|e| {
        let mut d = Diagnostic::new(
            ErrorKind::Io,
            format!("`{fname}` cannot write {}: {}", quote(path), e.reason()),
        )
        .at(span);
        if e.is_not_found() {
            d = d.with_note(format!(
                "`{fname}` does not create directories: the folder must already exist"
            ));
        }
        d
    })
}

/// An internal drawing failure as a report at the call.
fn draw_error(fname: &str, span: Span) -> impl Fn(String) -> Diagnostic + '_ {
    move |e| Diagnostic::new(ErrorKind::Io, format!("`{fname}` could not draw the picture: {e}")).at(span)
}

/// Whether to print the text rendering: as asked, else when the REPL runs on a terminal.
fn wants_text(it: &Interp, v: &Value) -> R<bool> {
    match v {
        Value::None => Ok(it.text_plots),
        other => super::bool_arg("plot", "text", other),
    }
}

/// Registers `plot` and `hist`.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    let plot = Decl {
        sig: "plot(*data, title: str = \"\", xlabel: str = \"\", ylabel: str = \"\", logx: bool = false, \
              logy: bool = false, style: str = \"line\", file: str = \"plot.svg\", text: bool = none) -> str",
        summary: "Draws `plot(y)` or `plot(x, y)` as lines or points into an SVG file; returns the file's path.",
        doc: "`y` is a 1-d tensor or tuple of numbers, drawn against `0, 1, ...` or against `x`; a tuple of \
              such series or a dict `name -> series` draws several (a dict's names make the legend). \
              `style` is `\"line\"` or `\"scatter\"`; `logx`/`logy` make an axis logarithmic (its values must \
              be positive). Points that are nan or infinite are left out. The file is written relative to \
              the working directory (`file=f\"{script_dir()}/loss.svg\"` puts it next to the script), \
              replacing any file of that name. `text=true` also prints a compact text rendering (braille \
              dots, with the axes' ranges); in the REPL on a terminal that is the default.",
        example: "plot(range(1, 6), {square: [1, 4, 9, 16, 25], cube: [1, 8, 27, 64, 125]}, logy=true, \
                  title=\"powers\", file=\"powers.svg\")",
    };
    register(t, plot, |it: &mut Interp, a| {
        let data = a.rest();
        let fig_span = a.span;
        let (xs, ys) = match data {
            [y] => (None, (y, a.span_of(0))),
            [x, y] => (Some((x, a.span_of(0))), (y, a.span_of(1))),
            [] => {
                return Err(Diagnostic::new(
                    ErrorKind::Type,
                    "`plot` needs the values to draw: `plot(y)` or `plot(x, y)`",
                )
                .at(fig_span))
            }
            more => {
                return Err(Diagnostic::new(
                    ErrorKind::Type,
                    format!(
                        "`plot` takes `plot(y)` or `plot(x, y)`, found {} positional arguments",
                        more.len()
                    ),
                )
                .at(a.span_of(2))
                .with_help("to draw several series, pass a tuple or a dict of them: `plot(x, {a: ya, b: yb})`"))
            }
        };
        let (logx, logy) = (a.bool(3)?, a.bool(4)?);
        let style = match &*a.str_as(5, "style")? {
            "line" => Style::Line,
            "scatter" => Style::Scatter,
            other => {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!("`plot` draws style \"line\" or \"scatter\", not {}", quote(other)),
                )
                .at(a.span_at(5)))
            }
        };
        let x = match xs {
            Some((v, span)) => {
                let x = numbers("plot", "x", v).map_err(|d| d.at(span))?;
                // Checked here, so that a bad x is reported under x rather than under a series.
                let ones = vec![1.0; x.len()];
                points("plot", "x", &x, &ones, logx, false).map_err(|d| d.at(span))?;
                Some(x)
            }
            None => None,
        };
        let mut series = Vec::new();
        for (name, what, v) in named_series(ys.0) {
            let y = numbers("plot", &what, v).map_err(|d| d.at(ys.1))?;
            let x = x.clone().unwrap_or_else(|| (0..y.len()).map(|i| i as f64).collect());
            let pts = points("plot", &what, &x, &y, logx, logy).map_err(|d| d.at(ys.1))?;
            series.push(Series { name, points: pts });
        }
        if series.is_empty() {
            return Err(Diagnostic::new(ErrorKind::Value, "`plot`: there is no series to draw").at(ys.1));
        }
        let fig = Figure {
            series,
            labels: labels(&a, 0)?,
            logx,
            logy,
            style,
        };
        let ((x0, x1), (y0, y1)) = fig.bounds();
        let problem = axis_problem("x", (x0, x1), logx).or_else(|| axis_problem("y", (y0, y1), logy));
        if let Some(why) = problem {
            return Err(Diagnostic::new(ErrorKind::Value, format!("`plot`: {why}")).at(fig_span));
        }
        let file = a.str_as(6, "file")?;
        let svg = svg::figure(&fig).map_err(draw_error("plot", fig_span))?;
        write_svg(it, "plot", &file, &svg, a.span_at(6))?;
        if wants_text(it, a.value(7))? {
            it.write_out(&text::figure(&fig))?;
        }
        Ok(Value::Str(file))
    });

    let hist = Decl {
        sig: "hist(values, bins: int = 10, title: str = \"\", xlabel: str = \"\", ylabel: str = \"\", \
              file: str = \"hist.svg\", text: bool = none) -> str",
        summary: "Draws a histogram of `values` (a tensor of any shape, or a tuple of numbers) into an SVG file; returns its path.",
        doc: "The values' range is cut into `bins` equal bins, as NumPy's `histogram` does (the last bin \
              includes the maximum); nan and infinite values are left out. The file is written relative \
              to the working directory, replacing any file of that name. `text=true` also prints the bars \
              in block characters; in the REPL on a terminal that is the default.",
        example: "hist(randn(1000), bins=20, title=\"normal\", file=\"normal.svg\")",
    };
    register(t, hist, |it: &mut Interp, a| {
        let bins = a.int(1)?;
        if !(1..=10_000).contains(&bins) {
            return Err(
                Diagnostic::new(ErrorKind::Value, format!("`hist` needs 1 to 10000 bins, not {bins}")).at(a.span_at(1)),
            );
        }
        let values = flat_numbers(a.value(0)).map_err(|d| d.at(a.span_at(0)))?;
        if !values.iter().any(|v| v.is_finite()) {
            return Err(
                Diagnostic::new(ErrorKind::Value, "`hist` has no finite values to count")
                    .at(a.span_at(0))
                    .with_label(if values.is_empty() {
                        "this is empty"
                    } else {
                        "every value is nan or infinite"
                    }),
            );
        }
        let h = Histogram::new(&values, bins as usize, labels(&a, 2)?);
        if let Some(why) = axis_problem("x", h.range, false) {
            return Err(Diagnostic::new(ErrorKind::Value, format!("`hist`: {why}")).at(a.span_at(0)));
        }
        let file = a.str_as(5, "file")?;
        let svg = svg::histogram(&h).map_err(draw_error("hist", a.span))?;
        write_svg(it, "hist", &file, &svg, a.span_at(5))?;
        if wants_text(it, a.value(6))? {
            it.write_out(&text::histogram(&h))?;
        }
        Ok(Value::Str(file))
    });
}

/// Every number of a tensor (flattened), tuple or range.
fn flat_numbers(v: &Value) -> R<Vec<f64>> {
    let t = crate::ops::literal::to_tensor(v.strip())
        .and_then(|t| crate::prim::as_tensor(&t))
        .map_err(|_| {
            Diagnostic::new(
                ErrorKind::Type,
                format!("`hist` expects a tensor or a tuple of numbers, found {}", v.describe()),
            )
        })?;
    Ok(t.to_vec())
}

/// The title and axis labels: parameters `first`, `first + 1`, `first + 2`.
fn labels(a: &crate::value::signature::Call, first: usize) -> R<Labels> {
    Ok(Labels {
        title: a.str_as(first, "title")?.to_string(),
        xlabel: a.str_as(first + 1, "xlabel")?.to_string(),
        ylabel: a.str_as(first + 2, "ylabel")?.to_string(),
    })
}
