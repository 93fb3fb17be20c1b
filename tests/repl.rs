//! Drives the REPL's `Session` — the code path the terminal loop uses — with
//! sequences of entries, and checks what each would print.

use dp::repl::{highlight, Session};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// `INTERRUPTED` is process-wide: tests run one at a time so that the
/// interrupt test cannot stop another test's evaluation.
static SERIAL: Mutex<()> = Mutex::new(());

/// Program output, captured in memory.
use dp::SharedBuffer as Capture;

fn session_in(dir: PathBuf) -> (Session, Capture) {
    let cap = Capture::default();
    (Session::new(Box::new(cap.clone()), dir, false), cap)
}

fn session() -> (Session, Capture) {
    session_in(std::env::temp_dir())
}

/// Runs an entry that must succeed; returns what it prints to stdout.
fn ok(s: &mut Session, entry: &str) -> String {
    let r = s.eval_entry(entry);
    assert_eq!(r.stderr, "", "entry {entry:?} failed");
    assert!(!r.quit);
    r.stdout
}

/// Runs an entry that must fail; returns its report.
fn err(s: &mut Session, entry: &str) -> String {
    let r = s.eval_entry(entry);
    assert_eq!(r.stdout, "", "entry {entry:?} printed a value");
    assert_ne!(r.stderr, "", "entry {entry:?} did not fail");
    assert!(!r.stderr.contains('\x1b'), "colourless session printed colour");
    r.stderr
}

/// A fresh directory under the system temp dir for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dp-repl-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

#[test]
fn bindings_persist_and_values_print() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, out) = session();
    assert_eq!(ok(&mut s, "let x = 3"), "");
    assert_eq!(ok(&mut s, "x * 2"), "6\n");
    assert_eq!(ok(&mut s, "let y = x + 0.5;"), "");
    assert_eq!(ok(&mut s, "y"), "3.5\n");
    assert_eq!(ok(&mut s, "fn sq(a) { a * a }"), "");
    assert_eq!(ok(&mut s, "sq(7)"), "49\n");
    assert_eq!(ok(&mut s, "x = x + 1"), "");
    // The missing `;` goes after the code, not into a trailing comment.
    assert!(Session::is_complete("let s = \"hi\" # a comment"));
    assert_eq!(ok(&mut s, "let s = \"hi\" # a comment"), "");
    assert_eq!(ok(&mut s, "s"), "\"hi\"\n");
    assert_eq!(ok(&mut s, "sq(x)"), "16\n");
    // Strings are quoted (repr), `none` prints nothing, `print` goes to the writer.
    assert_eq!(ok(&mut s, "\"hi\""), "\"hi\"\n");
    assert_eq!(ok(&mut s, "none"), "");
    assert_eq!(ok(&mut s, "print(\"a\", 1)"), "");
    assert_eq!(out.take(), "a 1\n");
    assert_eq!(ok(&mut s, "(x, {b: 2, a: \"s\"})"), "(4, {a: \"s\", b: 2})\n");
    assert_eq!(ok(&mut s, "   "), "");
    assert_eq!(ok(&mut s, "# only a comment"), "");
}

#[test]
fn errors_leave_earlier_bindings_intact() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    ok(&mut s, "let a = 10;");
    ok(&mut s, "fn twice(v) { v * 2 }");
    // A name error is found before anything runs: `b` is not bound, `a` unchanged.
    let e = err(&mut s, "let a = 99; let b = a + 1; b + nosuch");
    assert!(e.contains("unbound name `nosuch`"), "{e}");
    assert!(e.contains("<repl:3>"), "the report names the entry: {e}");
    assert_eq!(ok(&mut s, "a"), "10\n");
    let e = err(&mut s, "b");
    assert!(e.contains("`b`"), "{e}");
    // A runtime error: the `let` before it has run (as in Python), nothing is corrupted.
    let e = err(&mut s, "let a = 20; let c = twice(\"x\") - 1; c");
    assert!(e.contains("<repl:6>"), "{e}");
    assert_eq!(ok(&mut s, "a"), "20\n");
    assert_eq!(ok(&mut s, "twice(a)"), "40\n");
    // A syntax error, then more entries.
    let e = err(&mut s, "let = 5;");
    assert!(e.contains("syntax error"), "{e}");
    let e = err(&mut s, "error(\"boom\")");
    assert!(e.contains("boom"), "{e}");
    assert_eq!(ok(&mut s, "a + 1"), "21\n");
    // A failing in-place update (`x = x op rhs`) leaves the variable as it was.
    ok(&mut s, "let w = [1.0, 2.0];");
    let e = err(&mut s, "w = w + [1.0, 2.0, 3.0];");
    assert!(e.contains("(2,)") && e.contains("(3,)"), "{e}");
    let e = err(&mut s, "w = w * error(\"stop\");");
    assert!(e.contains("stop"), "{e}");
    assert_eq!(ok(&mut s, "w"), "[1.0, 2.0]\n");
    // The completion list does not offer a name whose binding never ran.
    assert!(s.bound_names().contains(&"a".to_string()));
    assert!(!s.bound_names().contains(&"b".to_string()));
}

#[test]
fn multi_line_entries_use_the_validator() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    let lines = [
        "fn fact(n) {",
        "    # the factorial",
        "    if n <= 1 { 1 }",
        "    else { n * fact(n - 1) }",
        "}",
    ];
    let mut entry = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            entry.push('\n');
        }
        entry.push_str(line);
        let last = i == lines.len() - 1;
        assert_eq!(Session::is_complete(&entry), last, "after line {i}: {entry:?}");
    }
    assert_eq!(ok(&mut s, &entry), "");
    assert_eq!(ok(&mut s, "fact(10)"), "3628800\n");

    for incomplete in [
        "1 +",
        "let t = (1,",
        "let s = \"abc",
        "print(\"a\nb",
        "if true { 1 } else",
        "[1.0, 2.0",
        "let s = \"abc\nfoo, bar",
    ] {
        assert!(!Session::is_complete(incomplete), "{incomplete:?} should continue");
    }
    for complete in [
        "",
        "1 + 2",
        "let x = 1",
        "import math",
        ":help",
        "let x = ) 1",
        "let x = 1; }",
        "\"a\nb\"",
        "# \"quoted\" in a comment",
    ] {
        assert!(Session::is_complete(complete), "{complete:?} should be complete");
    }
    // A string spanning lines is one entry.
    assert_eq!(ok(&mut s, "let m = \"a\nb\"; len(m)"), "3\n");
}

#[test]
fn commands_help_reset_quit() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, out) = session();
    let help = ok(&mut s, ":help");
    for c in [":help", ":load FILE", ":reset", ":quit"] {
        assert!(help.contains(c), "{help}");
    }
    ok(&mut s, "let keep = 1;");
    assert!(ok(&mut s, ":reset").contains("reset"));
    let e = err(&mut s, "keep");
    assert!(e.contains("unbound name `keep`"), "{e}");
    // The output writer survives the reset.
    ok(&mut s, "print(5)");
    assert_eq!(out.take(), "5\n");
    let r = s.eval_entry(":lod x");
    assert!(r.stderr.contains("unknown command `:lod`"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `:load`?"), "{}", r.stderr);
    assert!(s.eval_entry(":quit").quit);
    assert!(s.eval_entry("  :q  ").quit);
}

#[test]
fn load_runs_a_file_and_keeps_its_bindings() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("load");
    std::fs::write(
        dir.join("lib.dp"),
        "let base = 40;\nfn add2(x) { x + 2 }\nprint(\"loading\");\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.dp"), "let q = 1;\nq + nope\n").unwrap();
    let (mut s, out) = session_in(dir.clone());
    assert_eq!(ok(&mut s, ":load lib.dp"), "loaded lib.dp: base, add2\n");
    assert_eq!(out.take(), "loading\n");
    assert_eq!(ok(&mut s, "add2(base)"), "42\n");
    let r = s.eval_entry(":load bad.dp");
    assert!(
        r.stderr.contains("bad.dp:2"),
        "the report points into the file: {}",
        r.stderr
    );
    assert!(r.stderr.contains("unbound name `nope`"), "{}", r.stderr);
    let r = s.eval_entry(":load missing.dp");
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    // `import "file"` resolves against the session's directory.
    assert_eq!(ok(&mut s, "import \"lib.dp\" as lib"), "");
    out.take();
    assert_eq!(ok(&mut s, "lib.add2(1)"), "3\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completion_offers_keywords_builtins_names_and_commands() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    ok(&mut s, "let my_value = 1;");
    ok(&mut s, "let cfg = {alpha: 1, beta: 2, also: 3};");
    err(&mut s, "let ghost = nosuch;");
    assert_eq!(s.completions("my_v", 4), (0, vec!["my_value".to_string()]));
    let (start, c) = s.completions("print(my", 8);
    assert_eq!(start, 6);
    assert!(c.contains(&"my_value".to_string()), "{c:?}");
    assert!(s.completions("wh", 2).1.contains(&"while".to_string()));
    assert!(s.completions("ran", 3).1.contains(&"range".to_string()));
    assert_eq!(s.completions(":re", 3), (0, vec![":reset".to_string()]));
    assert_eq!(
        s.completions("cfg.al", 6),
        (4, vec!["alpha".to_string(), "also".to_string()])
    );
    assert_eq!(s.completions("gho", 3).1, Vec::<String>::new());
    // The cursor in the middle of a line completes the word before it.
    assert_eq!(s.completions("my_v + 1", 4), (0, vec!["my_value".to_string()]));
}

#[test]
fn help_name_and_completion_show_signatures() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    let h = ok(&mut s, ":help value_and_grad");
    assert!(
        h.starts_with("value_and_grad(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn\n"),
        "{h}"
    );
    assert!(h.contains("Example:"), "{h}");
    assert!(ok(&mut s, ":help optim.adam").contains("One Adam step"));
    // A module, imported (a dict in the session) or not, and a builtin it offers.
    assert!(ok(&mut s, ":help optim").starts_with("optim: a standard-library module"));
    ok(&mut s, "import data;");
    assert!(ok(&mut s, ":help data").contains("data.encode(column)  (the builtin `encode_labels`)"));
    assert!(ok(&mut s, ":help random.normal").starts_with("`random.normal` is the builtin `normal`"));
    // A user function's doc is the comment right above it.
    ok(&mut s, "# Doubles x.\nfn twice(x, k=2) { x * k }");
    assert_eq!(ok(&mut s, ":help twice"), "twice(x, k=2)\n\n  Doubles x.\n");
    let e = err(&mut s, ":help grd");
    assert!(e.contains("did you mean `grad`?"), "{e}");
    assert_eq!(s.completion_display("grad"), "grad(f, argnums=0, has_aux=false)");
    assert_eq!(s.completion_display("twice"), "twice(x, k=2)");
    assert_eq!(s.completion_display("while"), "while");
}

#[test]
fn ctrl_c_interrupts_a_long_evaluation() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    // A stale Ctrl-C from before the entry must not stop it.
    dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
    assert_eq!(ok(&mut s, "let n = 0; while n < 3 { n = n + 1; } n"), "3\n");
    let killer = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
    });
    let e = err(&mut s, "n = 0; while true { n = n + 1; }");
    killer.join().unwrap();
    assert!(e.contains("interrupted"), "{e}");
    assert_eq!(ok(&mut s, "n > 3"), "true\n");
    assert_eq!(ok(&mut s, "1 + 1"), "2\n");
}

#[test]
fn highlighting_colours_tokens_and_keeps_the_text() {
    let src = "let x = 1.5; # note\nprint(\"s\", true)";
    let h = highlight(src);
    let expected = "\x1b[1;35mlet\x1b[0m x = \x1b[33m1.5\x1b[0m; \x1b[90m# note\x1b[0m\n\
                    print(\x1b[32m\"s\"\x1b[0m, \x1b[33mtrue\x1b[0m)";
    assert_eq!(h, expected);
    // An unterminated string is coloured as a string, line by line.
    assert_eq!(highlight("\"ab\ncd"), "\x1b[32m\"ab\x1b[0m\n\x1b[32mcd\x1b[0m");
}

#[test]
fn an_internal_failure_reports_and_keeps_the_session() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    // A builtin with a bug: the REPL must report it, not end.
    s.interp
        .builtins
        .insert("boom".into(), dp::builtins::native("boom", |_, _| panic!("kaboom")));
    ok(&mut s, "let keep = 41");
    ok(&mut s, "fn f(x) { boom() + x }");
    let e = err(&mut s, "f(1)");
    assert!(e.contains("internal error: kaboom"), "{e}");
    assert!(e.contains("every binding is kept"), "{e}");
    assert_eq!(ok(&mut s, "keep + 1"), "42\n");
    ok(&mut s, "fn down(n) { if n == 0 { 0 } else { down(n - 1) } }");
    assert_eq!(ok(&mut s, "down(50)"), "0\n");
}

#[test]
fn ctrl_c_during_a_builtin_is_reported_when_it_returns() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (mut s, _out) = session();
    // Stands for a long kernel during which Ctrl-C is pressed.
    s.interp.builtins.insert(
        "long_kernel".into(),
        dp::builtins::native("long_kernel", |_, _| {
            dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
            Ok(dp::Value::Int(1))
        }),
    );
    ok(&mut s, "let before = 5");
    let e = err(&mut s, "let after = long_kernel()");
    assert!(e.contains("interrupted by Ctrl-C"), "{e}");
    assert!(e.contains("long_kernel()"), "the report points at the call: {e}");
    assert_eq!(ok(&mut s, "before"), "5\n");
    assert!(err(&mut s, "after").contains("before it is defined"));
}

#[test]
fn underscore_who_time_and_load_report() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("everyday");
    let (mut s, _out) = session_in(dir.clone());
    // `_` is the last value printed; an entry without a value keeps it.
    assert_eq!(ok(&mut s, "1 + 2"), "3\n");
    assert_eq!(ok(&mut s, "let z = 5"), "");
    assert_eq!(ok(&mut s, "_ * 10"), "30\n");
    assert_eq!(ok(&mut s, "_"), "30\n");
    // `:who`: types, shapes, key counts, signatures; `_` is left out.
    ok(&mut s, "let params = {w: ones((2, 3)), layer1: {b: zeros(3)}}");
    ok(&mut s, "fn f(x, lr=0.1) { x * lr }");
    assert_eq!(
        ok(&mut s, ":who"),
        "z       int = 5\nparams  dict with 2 keys: layer1, w\nf       <fn f(x, lr=0.1)>\n"
    );
    // Completion of a dict's keys with nothing typed after the dot, and along a path.
    assert_eq!(
        s.completions("params.", 7),
        (7, vec!["layer1".to_string(), "w".to_string()])
    );
    assert_eq!(s.completions("sum(params.layer1.", 18), (18, vec!["b".to_string()]));
    assert_eq!(s.completions("x + 1.", 6).1, Vec::<String>::new());
    // `:time` reports best and median with a unit, and the loop count.
    let t = ok(&mut s, ":time sum(ones(10))");
    assert!(
        t.starts_with("best ") && t.contains(", median ") && t.contains(" per loop ("),
        "{t}"
    );
    assert!(["ns", "µs", "ms"].iter().any(|u| t.contains(u)), "{t}");
    let e = err(&mut s, ":time nosuch + 1");
    assert!(e.contains("unbound name `nosuch`"), "{e}");
    assert!(err(&mut s, ":time").contains("usage"));
    // `:load` names what it added and what it replaced.
    std::fs::write(dir.join("more.dp"), "let z = 7;\nfn f(x) { x }\nlet added = 1;\n").expect("write");
    assert_eq!(ok(&mut s, ":load more.dp"), "loaded more.dp: added\nreplaced: z, f\n");
    assert_eq!(ok(&mut s, "z"), "7\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_entries_get_the_continuation_prompt() {
    use dp::repl::{CONTINUATION_PROMPT, PROMPT};
    assert_eq!(PROMPT, "dp> ");
    assert_eq!(CONTINUATION_PROMPT.trim(), "..");
    assert_eq!(
        PROMPT.len(),
        CONTINUATION_PROMPT.len(),
        "the code lines up under both prompts"
    );
}

#[test]
fn time_reports_errors_as_the_entry_itself_would() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Each pair runs in two fresh sessions with the same entries before it,
    // so the entry is `<repl:N>` with the same N in both.
    let same = |before: &[&str], entry: &str| {
        let (mut direct, _o1) = session();
        let (mut timed, _o2) = session();
        for b in before {
            ok(&mut direct, b);
            ok(&mut timed, b);
        }
        let want = err(&mut direct, entry);
        let got = err(&mut timed, &format!(":time {entry}"));
        assert_eq!(got, want, ":time {entry}");
        assert!(!got.contains("lambda") && !got.contains("||"), "{got}");
        got
    };
    // A runtime error: the user's text, no frame of a wrapper function.
    let e = same(&[], "1 // 0");
    assert!(e.contains("<repl:1>:1:6"), "{e}");
    // A syntax error: at the user's line, not at a line of a wrapper.
    let e = same(&["let a = 1"], "1 +");
    assert!(e.contains("<repl:2>:1:"), "{e}");
    // Inside a function: its frame stays, called at the user's text.
    let e = same(&["fn f(x) { x // 0 }"], "f(1)");
    assert!(e.contains("in `f`, called at <repl:2>:1:1"), "{e}");
    same(&[], "nosuch + 1");
    same(&[], "let q = 1; q.shape");
    // Entries on several lines keep their own line numbers.
    let e = same(&[], "let t = 1;\nt // 0");
    assert!(e.contains("<repl:1>:2:"), "{e}");
    // `return` outside a function: the report a REPL line (and a script)
    // gives; the entry's wrapper function used to accept it.
    let e = same(&[], "return 3");
    assert!(e.contains("`return` outside of a function"), "{e}");
    same(&[], "if true { return 3; }");
    same(&[], "if true { import optim; }");
}

#[test]
fn time_accepts_what_a_repl_line_accepts() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // `import` was refused as "inside a block or function" (the wrapper).
    let (mut s, _o) = session();
    let t = ok(&mut s, ":time import optim");
    assert!(t.contains("per loop"), "{t}");
    let t = ok(&mut s, ":time import optim; optim.sgd");
    assert!(t.contains("per loop"), "{t}");
    // A `return` inside a function of the entry is the function's own.
    let t = ok(&mut s, ":time (|| { return 3; })()");
    assert!(t.contains("per loop"), "{t}");
}

#[test]
fn ctrl_c_during_time_is_reported_as_in_the_entry() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Stands for a long kernel during which Ctrl-C is pressed.
    let with_kernel = || {
        let (mut s, out) = session();
        s.interp.builtins.insert(
            "long_kernel".into(),
            dp::builtins::native("long_kernel", |_, _| {
                dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
                Ok(dp::Value::Int(1))
            }),
        );
        (s, out)
    };
    let (mut direct, _o1) = with_kernel();
    let (mut timed, _o2) = with_kernel();
    let want = err(&mut direct, "long_kernel() + 1");
    let got = err(&mut timed, ":time long_kernel() + 1");
    assert_eq!(got, want);
    assert!(
        got.contains("interrupted by Ctrl-C") && got.contains("<repl:1>:1:1"),
        "{got}"
    );
    // Ctrl-C in a loop that `:time` runs: located in the user's text, with
    // no frame of a wrapper function.
    let (mut s, _out) = session();
    let killer = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
    });
    let e = err(&mut s, ":time let n = 0; while true { n = n + 1; }");
    killer.join().unwrap();
    assert!(e.contains("interrupted by Ctrl-C") && e.contains("<repl:1>:1:"), "{e}");
    assert!(
        !e.contains("Note") && !e.contains("lambda") && !e.contains("<main>"),
        "{e}"
    );
    // The session goes on.
    assert_eq!(ok(&mut s, "1 + 1"), "2\n");
}
