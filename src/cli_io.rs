//! Writing to the terminal without panicking: `println!` panics when stdout is
//! closed or full (`dp ... | head`, `> /dev/full`); these macros ignore such
//! failures, since there is nowhere left to report them.

/// Writes formatted text to stdout, ignoring write errors.
#[macro_export]
macro_rules! out_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Writes a formatted line to stdout, ignoring write errors.
#[macro_export]
macro_rules! out_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Writes formatted text to stderr, ignoring write errors.
#[macro_export]
macro_rules! err_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Writes a formatted line to stderr, ignoring write errors.
#[macro_export]
macro_rules! err_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub use {err_line, err_text, out_line, out_text};
