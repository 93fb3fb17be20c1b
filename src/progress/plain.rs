//! The plain lines a `progress` loop prints when stdout is not a terminal.

use std::time::Duration;

/// `label: 50% 5/10` (with `, 12.3 it/s, 0.4s` when `elapsed` is given).
pub(super) fn line(label: &str, done: u64, total: u64, elapsed: Option<Duration>) -> String {
    format!(
        "{}{}% {done}/{total}{}\n",
        prefix(label),
        percent(done, total),
        timing(done, elapsed)
    )
}

/// `label: stopped at 37% 37/100`, for a loop left by `break`.
pub(super) fn stopped(label: &str, done: u64, total: u64, elapsed: Option<Duration>) -> String {
    format!(
        "{}stopped at {}% {done}/{total}{}\n",
        prefix(label),
        percent(done, total),
        timing(done, elapsed)
    )
}

fn prefix(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!("{label}: ")
    }
}

/// The whole percentage done, rounded down (an empty loop is 100% done).
fn percent(done: u64, total: u64) -> u64 {
    if total == 0 {
        100
    } else {
        (u128::from(done) * 100 / u128::from(total)) as u64
    }
}

/// `, 12.3 it/s, 0.41s`, or `, 2.50 s/it, 10.0s` for slow loops.
fn timing(done: u64, elapsed: Option<Duration>) -> String {
    let Some(elapsed) = elapsed else {
        return String::new();
    };
    let secs = elapsed.as_secs_f64();
    if done == 0 || secs <= 0.0 {
        return String::new();
    }
    format!(", {}, {}s", rate(done, elapsed), significant(secs))
}

/// `12.3 it/s`, or `2.50 s/it` for slow loops (`0 it/s` before the first item).
pub(super) fn rate(done: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if done == 0 || secs <= 0.0 {
        return "0 it/s".to_string();
    }
    let rate = done as f64 / secs;
    if rate >= 1.0 {
        format!("{} it/s", significant(rate))
    } else {
        format!("{} s/it", significant(1.0 / rate))
    }
}

/// `x` with three significant digits (`1234` → `1234`, `12.345` → `12.3`).
fn significant(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_documented() {
        assert_eq!(line("train", 5, 10, None), "train: 50% 5/10\n");
        assert_eq!(line("", 0, 3, None), "0% 0/3\n");
        assert_eq!(line("e", 0, 0, None), "e: 100% 0/0\n");
        assert_eq!(stopped("e", 37, 100, None), "e: stopped at 37% 37/100\n");
        assert_eq!(
            line("t", 10, 10, Some(Duration::from_millis(500))),
            "t: 100% 10/10, 20.0 it/s, 0.50s\n"
        );
        assert_eq!(
            line("t", 2, 10, Some(Duration::from_secs(5))),
            "t: 20% 2/10, 2.50 s/it, 5.00s\n"
        );
    }
}
