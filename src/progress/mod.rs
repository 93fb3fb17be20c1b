//! Drawing `progress(iterable)` loops: a live bar (count, rate, ETA) when
//! stdout is a terminal, a few plain lines (0%, 25%, 50%, 75%, 100%) when it
//! is not. A `for` loop over a [`ProgressIter`] calls [`begin`], [`step`]
//! after each item and [`end`] however it stops; while a bar is live, the
//! program's `print` output is written above the bars ([`Progress::print_above`])
//! so it never garbles them.

mod fake;
mod plain;

pub use fake::FakeTerminal;

use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::value::progress::ProgressIter;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Where and how progress is shown.
#[derive(Clone, Debug)]
pub enum Display {
    /// Plain lines in the program output; `timing` adds the rate and the
    /// elapsed time (off by default, so that embedded and tested runs print
    /// the same text every time).
    Plain {
        /// Whether lines show the rate and elapsed time.
        timing: bool,
    },
    /// A live bar drawn on stdout, which is a terminal.
    Terminal,
    /// A live bar drawn on an in-memory terminal: the terminal path, for tests.
    Fake(FakeTerminal),
}

impl Display {
    /// A live bar when stdout is a terminal, else plain lines with timing.
    pub fn for_stdout() -> Display {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            Display::Terminal
        } else {
            Display::Plain { timing: true }
        }
    }
}

/// The interpreter's progress state: how to show progress, and the bars
/// being drawn now (nested loops draw one bar each).
#[derive(Debug)]
pub struct Progress {
    /// How progress is shown; `dp` sets it from whether stdout is a terminal.
    pub display: Display,
    live: Option<Live>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            display: Display::Plain { timing: false },
            live: None,
        }
    }
}

/// The bars on screen: one per active `progress` loop.
#[derive(Debug)]
struct Live {
    multi: MultiProgress,
    bars: usize,
    /// Printed text after the last newline, held until its line is complete
    /// (a bar can only be drawn below whole lines).
    pending: String,
}

impl Progress {
    /// Writes `text` above the live bars and returns `true`, or returns
    /// `false` (and does nothing) when no bar is live.
    pub fn print_above(&mut self, text: &str) -> bool {
        let Some(live) = &mut self.live else {
            return false;
        };
        live.pending.push_str(text);
        while let Some(nl) = live.pending.find('\n') {
            let line: String = live.pending.drain(..=nl).collect();
            // A terminal that went away cannot show the line either; nothing to report to.
            let _ = live.multi.println(&line[..line.len() - 1]);
        }
        true
    }

    /// Forgets the bars of an evaluation abandoned by a panic (the REPL goes on).
    pub fn recover(&mut self) {
        if let Some(live) = self.live.take() {
            let _ = live.multi.clear();
        }
    }
}

/// One `progress` loop being run.
#[derive(Debug)]
pub struct Run {
    label: std::rc::Rc<str>,
    total: u64,
    done: u64,
    start: Instant,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Plain lines: the next quarter (1..=4) still to announce.
    Plain { timing: bool, next_quarter: u64 },
    /// A bar in the live set.
    Bar(ProgressBar),
}

/// How a `progress` loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It ran over every item.
    Done,
    /// `break` or `return` left it early.
    Left,
    /// An error or Ctrl-C stopped it.
    Failed,
}

/// The bar: label, bar, count, elapsed, ETA and rate.
const BAR_TEMPLATE: &str = "{prefix}[{bar:30}] {pos}/{len} [{elapsed_precise}<{eta_precise}, {rate}]";

/// How many times a second bars are redrawn at most.
const REFRESH_HZ: u8 = 20;

/// How often a bar on a real terminal redraws while an iteration runs, so
/// elapsed time and ETA move during slow steps.
const TICK: Duration = Duration::from_millis(200);

/// Starts showing progress for a loop over `p`: the 0% line, or a new bar.
pub fn begin(it: &mut Interp, p: &ProgressIter) -> Result<Run, Diagnostic> {
    let start = Instant::now();
    let target = match &it.progress.display {
        Display::Plain { timing } => {
            let run = Run {
                label: p.label.clone(),
                total: p.total,
                done: 0,
                start,
                kind: Kind::Plain {
                    timing: *timing,
                    next_quarter: 1,
                },
            };
            it.write_out(&plain::line(&run.label, 0, run.total, None))?;
            return Ok(run);
        }
        Display::Terminal => None,
        Display::Fake(term) => Some(term.clone()),
    };
    if it.progress.live.is_none() {
        // What was printed before the loop must appear above its bar.
        it.flush_out()?;
        // Both through indicatif's terminal interface, at the same refresh rate.
        let term: Box<dyn indicatif::TermLike> = match &target {
            Some(term) => Box::new(term.clone()),
            None => Box::new(console::Term::stdout()),
        };
        let draw = ProgressDrawTarget::term_like_with_hz(term, REFRESH_HZ);
        it.progress.live = Some(Live {
            multi: MultiProgress::with_draw_target(draw),
            bars: 0,
            pending: String::new(),
        });
    }
    let style = ProgressStyle::with_template(BAR_TEMPLATE)
        .map_err(|e| Diagnostic::new(ErrorKind::Value, format!("cannot draw the progress bar: {e}")))?
        .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&plain::rate(s.pos(), s.elapsed()));
        })
        .progress_chars("=> ");
    // Hidden until it joins the live set: a new bar would draw on stderr by itself.
    let bar = ProgressBar::with_draw_target(Some(p.total), ProgressDrawTarget::hidden()).with_style(style);
    if !p.label.is_empty() {
        bar.set_prefix(format!("{} ", p.label));
    }
    // `live` was set just above when it was missing.
    let live = it.progress.live.as_mut().expect("live bars were just set up");
    let bar = live.multi.add(bar);
    live.bars += 1;
    if target.is_none() {
        bar.enable_steady_tick(TICK);
    }
    bar.tick();
    Ok(Run {
        label: p.label.clone(),
        total: p.total,
        done: 0,
        start,
        kind: Kind::Bar(bar),
    })
}

/// Counts one finished item: moves the bar, or prints the line of a quarter just reached.
pub fn step(it: &mut Interp, run: &mut Run) -> Result<(), Diagnostic> {
    run.done += 1;
    match &mut run.kind {
        Kind::Bar(bar) => bar.inc(1),
        Kind::Plain { timing, next_quarter } => {
            let mut reached = false;
            // Several quarters can pass in one step when there are fewer than four items.
            while *next_quarter <= 4 && run.done * 4 >= *next_quarter * run.total {
                *next_quarter += 1;
                reached = true;
            }
            if reached {
                let elapsed = timing.then(|| run.start.elapsed());
                it.write_out(&plain::line(&run.label, run.done, run.total, elapsed))?;
            }
        }
    }
    Ok(())
}

/// Finishes showing a loop's progress. A bar that ran to the end or was
/// left by `break` stays on screen (the outermost one; inner bars are
/// cleared for the next round); after an error or Ctrl-C it is cleared, so
/// that the report starts on a clean line. A plain loop left early says so.
pub fn end(it: &mut Interp, run: Run, how: End) {
    match run.kind {
        Kind::Plain { timing, .. } => {
            if how == End::Left {
                let elapsed = timing.then(|| run.start.elapsed());
                let line = plain::stopped(&run.label, run.done, run.total, elapsed);
                // A failed write shows at the next print, which reports it.
                let _ = it.write_out(&line);
            }
        }
        Kind::Bar(bar) => {
            let Some(live) = &mut it.progress.live else {
                return;
            };
            live.bars = live.bars.saturating_sub(1);
            let outermost = live.bars == 0;
            match how {
                End::Done if outermost => bar.finish(),
                End::Left if outermost => bar.abandon(),
                _ => {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
            }
            if outermost {
                // `live` was matched just above.
                let live = it.progress.live.take().expect("live bars are present");
                if !live.pending.is_empty() {
                    let _ = it.write_out(&live.pending);
                }
            }
        }
    }
}
