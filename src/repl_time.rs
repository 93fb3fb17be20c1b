//! The REPL's `:time EXPR`, in the manner of IPython's `%timeit`: the
//! expression is compiled once into a closure, a loop count is chosen so that
//! one run of the loop takes long enough to measure, and several runs give
//! the best and the median time per loop.

use crate::eval::INTERRUPTED;
use crate::repl::Session;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// One run of the loop should take at least this long, so that the clock's
/// resolution and the call's fixed cost do not dominate.
const MIN_RUN: Duration = Duration::from_millis(200);
/// How many runs are made (fewer when a single call is slow).
const RUNS: usize = 5;
/// Past this, a single call is timed a few times only.
const SLOW_CALL: Duration = Duration::from_secs(2);

/// Times `expr` in `session`: the report line, or the error to show.
pub fn time_entry(session: &mut Session, expr: &str) -> Result<String, String> {
    if expr.trim().is_empty() {
        return Err("usage: :time EXPR (e.g. :time matmul(a, a))\n".into());
    }
    // Compiled once into a function, so that it is parsed and resolved once,
    // not per loop; its errors are reported as the entry's own would be.
    INTERRUPTED.store(false, Ordering::Relaxed);
    let f = session.compile_entry(expr)?;
    let mut call = |n: usize| -> Result<Duration, String> {
        let start = Instant::now();
        for _ in 0..n {
            session.interp.run_body(&f).map_err(|d| session.render(&d))?;
        }
        Ok(start.elapsed())
    };
    let first = call(1)?;
    let (loops, runs) = if first >= SLOW_CALL {
        (1, 2)
    } else {
        (loop_count(first), RUNS)
    };
    let mut per_loop: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        per_loop.push(call(loops)?.as_secs_f64() / loops as f64);
    }
    if first >= SLOW_CALL {
        per_loop.push(first.as_secs_f64());
    }
    Ok(report(&mut per_loop, loops))
}

/// The smallest of 1, 2, 5, 10, 20, 50, ... loops that a call taking `one`
/// needs to fill [`MIN_RUN`].
pub fn loop_count(one: Duration) -> usize {
    let mut n = 1usize;
    let mut steps = [2usize, 5, 10].iter().cycle();
    let mut scale = 1usize;
    while one.saturating_mul(n as u32) < MIN_RUN && n < 100_000_000 {
        // 1, 2, 5, 10, 20, 50, ...
        let s = *steps.next().unwrap_or(&10);
        n = s * scale;
        if s == 10 {
            scale *= 10;
        }
    }
    n
}

/// "best 1.20 ms, median 1.31 ms per loop (5 runs of 100 loops)".
pub fn report(per_loop: &mut [f64], loops: usize) -> String {
    per_loop.sort_by(f64::total_cmp);
    let best = per_loop.first().copied().unwrap_or(0.0);
    let median = per_loop.get(per_loop.len() / 2).copied().unwrap_or(0.0);
    let runs = per_loop.len();
    format!(
        "best {}, median {} per loop ({runs} run{} of {loops} loop{})\n",
        format_seconds(best),
        format_seconds(median),
        if runs == 1 { "" } else { "s" },
        if loops == 1 { "" } else { "s" }
    )
}

/// A duration in seconds with three significant digits and a unit (ns, µs, ms, s).
pub fn format_seconds(s: f64) -> String {
    let (v, unit) = if s < 1e-6 {
        (s * 1e9, "ns")
    } else if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_digits() {
        assert_eq!(format_seconds(1.234e-8), "12.3 ns");
        assert_eq!(format_seconds(5.0e-6), "5.00 µs");
        assert_eq!(format_seconds(0.2501), "250 ms");
        assert_eq!(format_seconds(3.0), "3.00 s");
    }

    #[test]
    fn loop_counts_follow_1_2_5() {
        assert_eq!(loop_count(Duration::from_millis(300)), 1);
        assert_eq!(loop_count(Duration::from_millis(150)), 2);
        assert_eq!(loop_count(Duration::from_millis(30)), 10);
        assert_eq!(loop_count(Duration::from_micros(150)), 2000);
    }

    #[test]
    fn report_gives_best_and_median() {
        let mut t = [3e-3, 1e-3, 2e-3];
        assert_eq!(
            report(&mut t, 100),
            "best 1.00 ms, median 2.00 ms per loop (3 runs of 100 loops)\n"
        );
    }
}
