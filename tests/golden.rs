//! Golden tests: every `tests/cases/**/NAME.dp` runs in-process. Its output
//! must equal `NAME.out`; where `NAME.err` exists the program must fail with
//! exactly that (colourless) report. `BLESS=1 cargo test --release` rewrites
//! the expected files from the current behaviour. Every case runs twice: as
//! written, and with every dp function call jitted (`DP_JIT=all`), which
//! must not change a byte of output.

use std::path::{Path, PathBuf};

/// Program output, captured in memory.
use dp::SharedBuffer as Capture;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "dp") {
            out.push(p);
        }
    }
}

/// Plans run (replays) and traced, over all cases run through jit.
static JIT_TOTALS: std::sync::Mutex<(usize, usize)> = std::sync::Mutex::new((0, 0));

/// Runs one case, every function call jitted when `jit`; returns (stdout,
/// rendered errors or None).
fn run_case(path: &Path, jit: bool) -> (String, Option<String>) {
    // Read as `dp` reads a script (a leading byte order mark is skipped).
    let src = dp::files::read_program(path, false).expect("case file is readable");
    let cap = Capture::default();
    let mut interp = dp::Interp::new(Box::new(cap.clone()));
    if jit {
        interp.jit_all = Some(Box::default());
    }
    interp.script_args = vec!["first".into(), "second".into()];
    let name = path.to_string_lossy().replace('\\', "/");
    let result = interp.run_source(&name, &src, path.parent().map(Path::to_path_buf));
    let out = cap.contents();
    let err = result
        .err()
        .map(|errs| errs.iter().map(|d| interp.render(d, false)).collect::<String>());
    if let Some(all) = &interp.jit_all {
        let s = all.stats();
        let mut t = JIT_TOTALS.lock().unwrap_or_else(|e| e.into_inner());
        t.0 += s.replays;
        t.1 += s.traces;
    }
    (out, err)
}

#[test]
fn golden_cases() {
    on_big_stack(|| run_all(false));
}

/// The same cases with every dp function call jitted: the same output, and
/// plans really ran.
#[test]
fn golden_cases_through_jit() {
    on_big_stack(|| run_all(true));
    let (replays, traces) = *JIT_TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    println!("through jit: {traces} calls traced, {replays} ran a plan");
    // Ints that change from call to call are plan inputs after one more
    // trace (not one trace per value), so traces are far fewer than calls.
    assert!(
        replays > 150 && traces > 500,
        "too few jitted calls: {replays} replays, {traces} traces"
    );
}

/// Runs `f` on a big stack, as the binary does.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(f)
        .expect("spawn test thread");
    handle.join().expect("golden test thread panicked");
}

fn run_all(jit: bool) {
    // One memory budget on every machine (the default depends on physical
    // memory), small enough that cases reporting it never allocate much.
    dp_tensor::set_memory_limit(256_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("cd to crate root");
    let mut cases = Vec::new();
    collect(Path::new("tests/cases"), &mut cases);
    cases.sort();
    // Blessing writes what the plain run prints.
    let bless = std::env::var_os("BLESS").is_some() && !jit;
    let mut failures = Vec::new();
    for case in &cases {
        let (out, err) = run_case(case, jit);
        let out_path = case.with_extension("out");
        let err_path = case.with_extension("err");
        if bless {
            // An error case that prints nothing needs no `.out` (a missing one
            // reads as empty): don't litter the tree with empty files.
            if !(out.is_empty() && err.is_some()) {
                std::fs::write(&out_path, &out).expect("write .out");
            }
            match &err {
                Some(e) => std::fs::write(&err_path, e).expect("write .err"),
                None => {
                    let _ = std::fs::remove_file(&err_path);
                }
            }
            continue;
        }
        let want_out = std::fs::read_to_string(&out_path).unwrap_or_default();
        let want_err = std::fs::read_to_string(&err_path).ok();
        if out != want_out {
            failures.push(format!(
                "{}: stdout differs\n--- expected\n{want_out}--- actual\n{out}",
                case.display()
            ));
        }
        match (&want_err, &err) {
            (None, Some(e)) => failures.push(format!("{}: unexpected error\n{e}", case.display())),
            (Some(_), None) => failures.push(format!("{}: expected an error, but it succeeded", case.display())),
            (Some(w), Some(e)) if w != e => failures.push(format!(
                "{}: error report differs\n--- expected\n{w}--- actual\n{e}",
                case.display()
            )),
            _ => {}
        }
    }
    let how = if jit { " through jit" } else { "" };
    println!("{} golden cases run{how}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
