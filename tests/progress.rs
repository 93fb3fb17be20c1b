//! `progress` loops: the live bar drawn on a fake terminal (the same code
//! path as on a real one: indicatif drawing through its terminal interface),
//! and the plain lines written when output is not a terminal.

use dp::progress::{Display, FakeTerminal};
use dp::SharedBuffer;

/// Runs `src` with progress drawn on a fresh fake terminal; returns the
/// screen, the plain program output and the error report, if any.
fn on_terminal(src: &str) -> (String, String, Option<String>) {
    let out = SharedBuffer::default();
    let term = FakeTerminal::new();
    let mut interp = dp::Interp::new(Box::new(out.clone()));
    interp.progress.display = Display::Fake(term.clone());
    let r = interp.run_source("<test>", src, None);
    let err = r.err().map(|e| e.iter().map(|d| interp.render(d, false)).collect());
    (term.screen(), out.contents(), err)
}

/// Runs `src` with plain progress lines (no timing); returns output and error.
fn plain(src: &str) -> (String, Option<String>) {
    let out = SharedBuffer::default();
    let mut interp = dp::Interp::new(Box::new(out.clone()));
    let r = interp.run_source("<test>", src, None);
    let err = r.err().map(|e| e.iter().map(|d| interp.render(d, false)).collect());
    (out.contents(), err)
}

/// The bar line's fixed parts: label, a full bar and the count.
fn assert_bar(line: &str, label: &str, full: bool, count: &str) {
    assert!(line.starts_with(&format!("{label} [")), "bar line {line:?}");
    let bar: String = line.chars().skip(label.chars().count() + 2).take(30).collect();
    if full {
        assert_eq!(bar, "=".repeat(30), "bar line {line:?}");
    }
    assert!(
        line.contains(&format!("] {count} [")),
        "bar line {line:?} should show {count}"
    );
    // Elapsed and ETA as h:mm:ss, and a rate.
    assert!(line.contains("<") && line.contains("/s]"), "bar line {line:?}");
}

#[test]
fn bar_stays_below_printed_lines_and_finishes_full() {
    let (screen, out, err) = on_terminal(
        "print(\"before\");\n\
         for i in progress(range(4), label=\"train\") { print(\"step\", i); }\n\
         print(\"after\");",
    );
    assert_eq!(err, None);
    let lines: Vec<&str> = screen.lines().collect();
    // Everything printed while the bar was live went above it, unbroken.
    assert_eq!(
        lines[..4],
        ["step 0", "step 1", "step 2", "step 3"],
        "screen:\n{screen}"
    );
    assert_eq!(lines.len(), 5, "screen:\n{screen}");
    assert_bar(lines[4], "train", true, "4/4");
    // Before the loop and after it, output goes to the program output as usual.
    assert_eq!(out, "before\nafter\n");
}

#[test]
fn nested_bars_clear_the_inner_one_each_round() {
    let (screen, _, err) = on_terminal(
        "for e in progress(range(2), label=\"epoch\") {\n\
           for b in progress((1, 2, 3), label=\"batch\") { }\n\
           print(\"epoch\", e, \"done\");\n\
         }",
    );
    assert_eq!(err, None);
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 3, "screen:\n{screen}");
    assert_eq!(lines[..2], ["epoch 0 done", "epoch 1 done"]);
    assert_bar(lines[2], "epoch", true, "2/2");
}

#[test]
fn break_leaves_the_bar_where_it_stopped() {
    let (screen, _, err) = on_terminal("for i in progress(range(10), label=\"x\") { if i == 3 { break; } }");
    assert_eq!(err, None);
    let lines: Vec<&str> = screen.lines().collect();
    assert_eq!(lines.len(), 1, "screen:\n{screen}");
    assert_bar(lines[0], "x", false, "3/10");
}

#[test]
fn an_error_clears_the_bar_and_keeps_printed_lines() {
    let (screen, out, err) = on_terminal(
        "for i in progress(range(10), label=\"x\") {\n\
           print(\"at\", i, end=\"\");\n\
           print(\"!\");\n\
           if i == 2 { i + \"a\"; }\n\
         }",
    );
    assert!(err.is_some_and(|e| e.contains("unsupported operand types")));
    assert_eq!(screen, "at 0!\nat 1!\nat 2!");
    assert_eq!(out, "");
}

#[test]
fn text_without_a_final_newline_is_written_after_the_bar() {
    let (screen, out, err) = on_terminal("for i in progress(range(2)) { print(i, end=\" \"); }");
    assert_eq!(err, None);
    assert_eq!(screen.lines().count(), 1, "screen:\n{screen}");
    assert_eq!(out, "0 1 ");
}

#[test]
fn plain_lines_at_each_quarter() {
    let (out, err) = plain(
        "for i in progress(range(8), label=\"train\") { }\n\
         for c in progress(\"ab\") { }\n\
         for r in progress(zeros((3, 2)), label=\"rows\") { }\n\
         for k in progress({a: 1, b: 2, c: 3, d: 4}, label=\"keys\") { if k == \"c\" { break; } }\n\
         for x in progress((), label=\"empty\") { }",
    );
    assert_eq!(err, None);
    assert_eq!(
        out,
        "train: 0% 0/8\ntrain: 25% 2/8\ntrain: 50% 4/8\ntrain: 75% 6/8\ntrain: 100% 8/8\n\
         0% 0/2\n50% 1/2\n100% 2/2\n\
         rows: 0% 0/3\nrows: 33% 1/3\nrows: 66% 2/3\nrows: 100% 3/3\n\
         keys: 0% 0/4\nkeys: 25% 1/4\nkeys: 50% 2/4\nkeys: stopped at 50% 2/4\n\
         empty: 100% 0/0\n"
    );
}

#[test]
fn iterates_exactly_like_the_iterable() {
    let (out, err) = plain(
        "let s = 0;\n\
         for (a, b) in progress(((1, 2), (3, 4))) { s = s + a * b; }\n\
         print(s, progress(range(3), label=\"r\"), type(progress(range(2))));\n\
         print(tuple(progress(range(3))), zip(progress((1, 2)), (3, 4)));",
    );
    assert_eq!(err.as_deref(), None);
    assert_eq!(
        out,
        "0% 0/2\n50% 1/2\n100% 2/2\n14 progress(range(0, 3), label=\"r\") progress\n(0, 1, 2) ((1, 3), (2, 4))\n"
    );
}

#[test]
fn not_iterable_is_reported_at_the_argument() {
    let (_, err) = plain("progress(3)");
    let err = err.expect("an error");
    assert!(err.contains("cannot iterate over int"), "{err}");
    let (_, err) = plain("progress(tensor(1.0))");
    assert!(err.expect("an error").contains("0-d tensor"));
}
