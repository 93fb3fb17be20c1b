//! Compact text renderings of plots for the terminal: line and scatter
//! plots in Unicode braille (each character cell holds 2×4 dots), histograms
//! in block characters, with the axes' minimum and maximum as labels.

use super::figure::{Figure, Histogram, Labels, Style};
use std::fmt::Write as _;

/// Character cells across the plot area.
const WIDTH: usize = 60;
/// Character cells down the plot area of a line plot.
const HEIGHT: usize = 15;
/// Character cells down a histogram.
const HIST_HEIGHT: usize = 8;

/// A grid of braille dots, `2 * WIDTH` by `4 * HEIGHT`.
struct Canvas {
    cells: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas {
            cells: vec![0; WIDTH * HEIGHT],
        }
    }

    /// Sets the dot at column `x`, row `y` (from the top); outside is ignored.
    fn set(&mut self, x: i64, y: i64) {
        if x < 0 || y < 0 || x >= 2 * WIDTH as i64 || y >= 4 * HEIGHT as i64 {
            return;
        }
        let (x, y) = (x as usize, y as usize);
        // The braille dot numbering: dots 1-3 and 7 down the left column, 4-6 and 8 down the right.
        const BITS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        self.cells[(y / 4) * WIDTH + x / 2] |= BITS[x % 2][y % 4];
    }

    /// The dots on the straight line from `a` to `b` (Bresenham).
    fn line(&mut self, a: (i64, i64), b: (i64, i64)) {
        let (mut x, mut y) = a;
        let (dx, dy) = ((b.0 - x).abs(), -(b.1 - y).abs());
        let (sx, sy) = (if x < b.0 { 1 } else { -1 }, if y < b.1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.set(x, y);
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn row(&self, r: usize) -> String {
        self.cells[r * WIDTH..(r + 1) * WIDTH]
            .iter()
            // 0x2800 + an 8-bit pattern is always a braille character; an
            // empty cell is a plain space, which every font draws blank.
            .map(|&b| match b {
                0 => ' ',
                b => char::from_u32(0x2800 + u32::from(b)).unwrap_or(' '),
            })
            .collect()
    }
}

/// `x` in at most 4 significant digits, as short as possible (`0.001234`, `1.5e+06`).
pub fn short(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{x:.3e}");
        // 1.500e6 -> 1.5e6
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{e}");
    }
    let decimals = (3 - a.log10().floor() as i64).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where `v` falls between `lo` and `hi` (0 to 1), on a log scale if `log`.
fn frac(v: f64, (lo, hi): (f64, f64), log: bool) -> f64 {
    if log {
        (v.log10() - lo.log10()) / (hi.log10() - lo.log10())
    } else {
        (v - lo) / (hi - lo)
    }
}

/// The lines above the plot area: the title, then the y axis label.
fn header(out: &mut String, labels: &Labels, left: usize) {
    if !labels.title.is_empty() {
        let pad = (left + 1 + WIDTH).saturating_sub(labels.title.chars().count()) / 2;
        let _ = writeln!(out, "{}{}", " ".repeat(pad), labels.title);
    }
    if !labels.ylabel.is_empty() {
        let _ = writeln!(out, "{}", labels.ylabel);
    }
}

/// The x axis line, its end labels and the x axis label.
fn footer(out: &mut String, labels: &Labels, left: usize, cols: usize, lo: &str, hi: &str) {
    let _ = writeln!(out, "{} └{}", " ".repeat(left), "─".repeat(cols));
    let gap = (cols + 1)
        .saturating_sub(lo.chars().count() + hi.chars().count())
        .max(1);
    let _ = writeln!(out, "{} {lo}{}{hi}", " ".repeat(left), " ".repeat(gap));
    if !labels.xlabel.is_empty() {
        let pad = left + 1 + cols.saturating_sub(labels.xlabel.chars().count()) / 2;
        let _ = writeln!(out, "{}{}", " ".repeat(pad), labels.xlabel);
    }
}

/// The rows of a plot area with the y axis: `top` labels the first row, `bottom` the last.
fn body(out: &mut String, rows: &[String], left: usize, top: &str, bottom: &str) {
    let last = rows.len().saturating_sub(1);
    for (r, row) in rows.iter().enumerate() {
        let (label, tick) = match r {
            0 => (top, '┤'),
            r if r == last => (bottom, '┤'),
            _ => ("", '│'),
        };
        let _ = writeln!(out, "{label:>left$} {tick}{row}");
    }
}

/// A line or scatter plot in braille, with a legend line when series are named.
pub fn figure(fig: &Figure) -> String {
    let ((x0, x1), (y0, y1)) = fig.bounds();
    let mut canvas = Canvas::new();
    let (dw, dh) = ((2 * WIDTH - 1) as f64, (4 * HEIGHT - 1) as f64);
    for s in &fig.series {
        let dots: Vec<(i64, i64)> = s
            .points
            .iter()
            .map(|&(x, y)| {
                let cx = (frac(x, (x0, x1), fig.logx) * dw).round() as i64;
                let cy = ((1.0 - frac(y, (y0, y1), fig.logy)) * dh).round() as i64;
                (cx, cy)
            })
            .collect();
        match fig.style {
            Style::Scatter => dots.iter().for_each(|&(x, y)| canvas.set(x, y)),
            Style::Line if dots.len() == 1 => canvas.set(dots[0].0, dots[0].1),
            Style::Line => dots.windows(2).for_each(|w| canvas.line(w[0], w[1])),
        }
    }
    let (top, bottom) = (short(y1), short(y0));
    let left = top.chars().count().max(bottom.chars().count());
    let mut out = String::new();
    header(&mut out, &fig.labels, left);
    let rows: Vec<String> = (0..HEIGHT).map(|r| canvas.row(r)).collect();
    body(&mut out, &rows, left, &top, &bottom);
    footer(&mut out, &fig.labels, left, WIDTH, &short(x0), &short(x1));
    if fig.named() {
        let names: Vec<&str> = fig.series.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(out, "{} series: {}", " ".repeat(left), names.join(", "));
    }
    out
}

/// A histogram in block characters: one column group per bin, heights in eighths of a cell.
pub fn histogram(h: &Histogram) -> String {
    const BLOCKS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let bins = h.counts.len();
    let per_bin = (WIDTH / bins).max(1);
    let max = h.counts.iter().copied().max().unwrap_or(0).max(1);
    let eighths: Vec<u64> = h
        .counts
        .iter()
        // Rounded up, so a bin with any value shows at least a sliver.
        .map(|&c| (c * (8 * HIST_HEIGHT as u64)).div_ceil(max))
        .collect();
    let rows: Vec<String> = (0..HIST_HEIGHT)
        .map(|r| {
            let below = 8 * (HIST_HEIGHT - 1 - r) as u64;
            eighths
                .iter()
                .flat_map(|&e| {
                    let fill = e.saturating_sub(below).min(8) as usize;
                    std::iter::repeat_n(BLOCKS[fill], per_bin)
                })
                .collect()
        })
        .collect();
    let top = max.to_string();
    let left = top.chars().count();
    let mut out = String::new();
    header(&mut out, &h.labels, left);
    body(&mut out, &rows, left, &top, "0");
    footer(
        &mut out,
        &h.labels,
        left,
        per_bin * bins,
        &short(h.range.0),
        &short(h.range.1),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.001234567, "0.001235"),
            (123.456, "123.5"),
            (99999.0, "99999"),
            (1.5e6, "1.5e6"),
            (-2.0e-5, "-2e-5"),
        ];
        for (x, s) in cases {
            assert_eq!(short(x), s, "{x}");
        }
    }

    #[test]
    fn braille_line_is_drawn_dot_by_dot() {
        let mut c = Canvas::new();
        c.line((0, 0), (3, 3));
        // Dots (0,0) (1,1) in cell 0: bits 0x01 | 0x10; (2,2) (3,3) in cell 1: 0x04 | 0x80.
        assert_eq!(c.cells[0], 0x11);
        assert_eq!(c.cells[1], 0x84);
    }
}
