//! Golden tests: every `tests/cases/**/NAME.dp` runs in-process. Its output
//! must equal `NAME.out`; where `NAME.err` exists the program must fail with
//! exactly that (colourless) report. `BLESS=1 cargo test --release` rewrites
//! the expected files from the current behaviour.

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

/// Runs one case; returns (stdout, rendered errors or None).
fn run_case(path: &Path) -> (String, Option<String>) {
    let src = std::fs::read_to_string(path).expect("case file is readable");
    let cap = Capture::default();
    let mut interp = dp::Interp::new(Box::new(cap.clone()));
    interp.script_args = vec!["first".into(), "second".into()];
    let name = path.to_string_lossy().replace('\\', "/");
    let result = interp.run_source(&name, &src, path.parent().map(Path::to_path_buf));
    let out = cap.contents();
    let err = result
        .err()
        .map(|errs| errs.iter().map(|d| interp.render(d, false)).collect::<String>());
    (out, err)
}

#[test]
fn golden_cases() {
    // Run on a big stack, as the binary does.
    let handle = std::thread::Builder::new()
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(run_all)
        .expect("spawn test thread");
    handle.join().expect("golden test thread panicked");
}

fn run_all() {
    // One memory budget on every machine (the default depends on physical
    // memory), small enough that cases reporting it never allocate much.
    dp_tensor::set_memory_limit(256_000_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("cd to crate root");
    let mut cases = Vec::new();
    collect(Path::new("tests/cases"), &mut cases);
    cases.sort();
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let (out, err) = run_case(case);
        let out_path = case.with_extension("out");
        let err_path = case.with_extension("err");
        if bless {
            std::fs::write(&out_path, &out).expect("write .out");
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
    println!("{} golden cases run", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
