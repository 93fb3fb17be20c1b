//! Mutation fuzzing: thousands of broken variants of the golden programs are
//! parsed, resolved and run; none may panic (every failure must be a
//! `Diagnostic`). A watchdog interrupts programs that run too long.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

mod common;
use common::Gen;

const SNIPPETS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "...",
    "|",
    "||",
    "**",
    "@",
    "-",
    "//",
    "%",
    "==",
    "<",
    "=",
    "let",
    "fn",
    "if",
    "else",
    "while",
    "for",
    "in",
    "return",
    "break",
    "continue",
    "import",
    "not",
    "and",
    "or",
    "none",
    "true",
    "0",
    "-1",
    "1e308",
    "1e-320",
    "9223372036854775807",
    "0.0",
    "\"",
    "\"\\u{zz}\"",
    "x",
    "_",
    "grad(",
    "jvp(",
    "hessian(",
    "zeros((3, 0))",
    "[[1.0], [2.0, 3.0]]",
    "range(-5)",
    "{...",
    "x[::-1]",
    "#",
    "\n",
    "nan",
    "tensor(",
    "reshape(",
    "(1,)",
    "{a: 1}",
    "a.b.c",
    "f(f)",
    "|x| x(x)",
    // Hostile sizes: huge and overflowing shapes, zero-size axes, long ranges.
    "zeros((4611686018427387904, 0))",
    "ones((46340, 46340))",
    "eye(3000000000)",
    "range(1000000000)",
    "(2147483648,)",
    "\"ab\" * 100000000",
    "randint(0, 10, (2147483648,))",
];

fn mutate(src: &str, g: &mut Gen) -> String {
    let chars: Vec<char> = src.chars().collect();
    let n = chars.len();
    let mut out: Vec<char> = chars.clone();
    for _ in 0..1 + g.below(3) {
        let len = out.len();
        match g.below(5) {
            0 if len > 0 => {
                let a = g.below(len);
                let b = (a + 1 + g.below(8)).min(len);
                out.drain(a..b);
            }
            1 if len > 0 => {
                let a = g.below(len);
                let b = (a + 1 + g.below(30)).min(len);
                let piece: Vec<char> = out[a..b].to_vec();
                let at = g.below(len);
                out.splice(at..at, piece);
            }
            2 => {
                let s = SNIPPETS[g.below(SNIPPETS.len())];
                let at = g.below(len + 1);
                out.splice(at..at, s.chars());
            }
            3 if len > 0 => {
                let at = g.below(len);
                out[at] = chars[g.below(n.max(1)).min(n.saturating_sub(1))];
            }
            _ => {
                let at = g.below(len + 1);
                out.truncate(at);
            }
        }
    }
    out.into_iter().collect()
}

fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "dp") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new("tests/cases"), &mut files);
    walk(Path::new("stdlib"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, s)))
        .filter(|(_, s)| s.len() < 6000)
        .collect()
}

fn run_one(path: &Path, src: &str) -> Result<(), String> {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_millis(300)).is_err() {
            dp::eval::INTERRUPTED.store(true, Ordering::Relaxed);
        }
    });
    let dir = path.parent().map(Path::to_path_buf);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut interp = dp::Interp::new(Box::new(std::io::sink()));
        // Mutated programs must not write files (a mangled `save` path lands anywhere).
        interp.read_only = true;
        let _ = interp.check_source("fuzz.dp", src, dir.clone());
        if let Err(errs) = interp.run_source("fuzz.dp", src, dir) {
            for d in &errs {
                let _ = interp.render(d, false);
            }
        }
    }));
    let _ = done_tx.send(());
    let _ = watchdog.join();
    result.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn mutated_programs_never_panic() {
    let handle = std::thread::Builder::new()
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(|| {
            std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to crate root");
            // Mutants ask for huge tensors: keep every allocation small and reported.
            dp_tensor::set_memory_limit(256_000_000);
            std::panic::set_hook(Box::new(|_| {}));
            let mut g = Gen(0xD1FF_5EED);
            let per_file: usize = std::env::var("DP_FUZZ_PER_FILE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(12);
            let mut failures = Vec::new();
            let mut runs = 0;
            for (path, src) in sources() {
                for _ in 0..per_file {
                    let m = mutate(&src, &mut g);
                    runs += 1;
                    if let Err(msg) = run_one(&path, &m) {
                        failures.push(format!("panic `{msg}` on a mutant of {}:\n{m}\n", path.display()));
                    }
                }
            }
            let _ = std::panic::take_hook();
            println!("{runs} mutants run");
            assert!(
                failures.is_empty(),
                "{} mutants panicked:\n{}",
                failures.len(),
                failures.join("\n----\n")
            );
        })
        .expect("spawn fuzz thread");
    handle.join().expect("fuzz thread");
}
