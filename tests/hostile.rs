//! Hostile-input fuzzing of the `dp` binary, one process per program, the way
//! an attacker (or an unlucky student) would use it:
//!
//! - **builtin calls**: every builtin and stdlib function is called with
//!   generated arguments drawn from a pool of hostile values (huge and
//!   overflowing shapes, zero-size axes, NaN/inf, i64 extremes, deep trees,
//!   functions where data is expected, ...), plainly and under `grad`/`jvp`,
//!   with keyword arguments, printed, formatted, indexed and iterated;
//! - **parser**: token soups, deep nesting, very long names and lines, and
//!   floods of invalid characters.
//!
//! Each program runs in a fresh `dp` process in a scratch directory, with a
//! small memory budget (`DP_MAX_MEMORY`) under an address-space cap, so an
//! allocation that escapes the budget aborts the child instead of the
//! machine. A program passes when it exits 0 or 1 (success or a reported
//! error), its stderr is bounded, and it ends in time: after 5 s it gets a
//! Ctrl-C (SIGINT) and must then stop within 5 s more.
//!
//! CI runs a fixed, seeded sample (a few seconds). A long campaign:
//!
//! ```sh
//! DP_FUZZ_PROGRAMS=100000 DP_FUZZ_SEED=$RANDOM cargo test --release --test hostile -- --nocapture
//! ```
//!
//! Every program a campaign ever failed on is kept in
//! `tests/fuzz_regressions/` (one `.dp` file each) and re-run here first.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;
use common::Gen;

/// Argument expressions an attacker would try. No absolute or parent paths:
/// programs run as whoever runs the tests, and `save` must only ever touch
/// the scratch directory.
const HOSTILE: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "-9223372036854775807 - 1",
    "9223372036854775807",
    "4611686018427387904",
    "3000000000",
    "2147483648",
    "46340",
    "100000000",
    "0.0",
    "-0.0",
    "0.5",
    "-2.5",
    "1e308",
    "1e-320",
    "float(\"nan\")",
    "float(\"inf\")",
    "-float(\"inf\")",
    "true",
    "none",
    "\"\"",
    "\"abc\"",
    "\"x.npz\"",
    "\"x.npy\"",
    "\"x.csv\"",
    "\"sub/x.npz\"",
    "\".\"",
    "\"{} {:>9} {:.3}\"",
    "()",
    "(1,)",
    "(2, 3)",
    "(3, 0)",
    "(0,)",
    "(-1,)",
    "(-1, 2)",
    "(4611686018427387904, 0)",
    "(0, 4611686018427387904)",
    "(46340, 46340)",
    "(2147483648,)",
    "(65536, 65536, 65536)",
    "(1.5, 2)",
    "(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
    "[1.0, 2.0, 3.0]",
    "[[1.0, 2.0], [3.0, 4.0]]",
    "[[0.0, -float(\"inf\"), 1.0]]",
    "[float(\"nan\"), float(\"inf\"), -float(\"inf\")]",
    "[]",
    "[[]]",
    "[0, 2]",
    "[true, false, true]",
    "tensor(1.0)",
    "zeros((3, 0))",
    "zeros((0,))",
    "zeros((4611686018427387904, 0))",
    "zeros((0, 4611686018427387904))",
    "ones((2, 3, 4))",
    "arange(24)",
    "eye(3)",
    "randn((4, 4))",
    "{}",
    "{a: 1.0}",
    "{a: [1.0, 2.0], b: (3.0, {c: 4.0})}",
    "|x| x",
    "|x, y| x + y",
    "|| 1",
    "|x| sum(x)",
    "|x| x(x)",
    "sin",
    "print",
    "grad",
    "range(10)",
    "range(1000000000)",
    "range(-3)",
    "\"abc\" * 1000",
    "deep",
];

/// Keyword names that builtins take (and some they do not).
const KEYWORDS: &[&str] = &[
    "axis", "keepdims", "shape", "argnums", "ddof", "seed", "n", "k", "lr", "eps", "scale", "act", "rtol", "atol",
    "has_aux", "start", "stop", "step", "num", "size",
];

/// Defines `deep`, a tree nested past every depth limit, for the `deep` pool entry.
const PRELUDE: &str = "import nn;\nimport optim;\nlet deep = 0.0;\nfor i in range(12000) { deep = (deep,); }\n";

/// The stdlib functions, called through their modules.
const STDLIB: &[&str] = &[
    "nn.dense_init",
    "nn.dense",
    "nn.mlp_init",
    "nn.mlp",
    "nn.mse",
    "nn.accuracy",
    "optim.sgd",
    "optim.adam_init",
    "optim.adam",
];

/// Builds one call of `name` with 0-4 hostile arguments (sometimes nested or by keyword).
fn call(g: &mut Gen, name: &str, names: &[String]) -> String {
    let mut args: Vec<String> = Vec::new();
    for _ in 0..g.below(5) {
        let a = match g.below(8) {
            0 => format!("{}({})", names[g.below(names.len())], g.pick(HOSTILE)),
            _ => g.pick(HOSTILE).to_string(),
        };
        args.push(a);
    }
    if g.below(4) == 0 {
        args.push(format!("{}={}", g.pick(KEYWORDS), g.pick(HOSTILE)));
    }
    format!("{name}({})", args.join(", "))
}

/// One generated program around a call of `name`.
fn program(g: &mut Gen, name: &str, names: &[String]) -> String {
    let c = call(g, name, names);
    let body = match g.below(9) {
        0 => format!("let r = {c};\nprint(r);\nprint(format(\"{{}}|{{}}\", r, repr(r)));\n"),
        1 => format!(
            "print(grad(|x| sum({name}(x, {})))({}));\n",
            g.pick(HOSTILE),
            g.pick(HOSTILE)
        ),
        2 => format!("print(grad(|x| {name}(x))({}));\n", g.pick(HOSTILE)),
        3 => format!(
            "print(jvp(|x| {name}(x), ({},), ({},)));\n",
            g.pick(HOSTILE),
            g.pick(HOSTILE)
        ),
        4 => format!("let r = {c};\nfor v in r {{ print(v); }}\n"),
        5 => format!("let r = {c};\nprint(r[{}]);\nprint(len(r));\n", g.pick(HOSTILE)),
        6 => format!("let r = {c};\nprint(tolist(r));\nsave(\"out.npz\", {{r: r}});\nprint(load(\"out.npz\"));\n"),
        7 => format!("let r = {c};\nprint(r == r, r + r, -r);\n"),
        _ => format!("print({c});\n"),
    };
    format!("{PRELUDE}{body}")
}

/// A program the parser and resolver must reject (or accept) gracefully.
fn parser_program(g: &mut Gen) -> String {
    const TOKENS: &[&str] = &[
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
        "|",
        "||",
        "**",
        "@",
        "-",
        "+",
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
        "x",
        "f",
        "1",
        "1.5",
        "\"s\"",
        "$",
        "`",
        "\u{1F600}",
        "\n",
        "#c\n",
        "grad",
        "'",
    ];
    match g.below(6) {
        0 => {
            let depth = 1 + g.below(100_000);
            let open = g.pick(&["(", "[", "{", "f(", "-", "not ", "|x| "]);
            open.repeat(depth)
        }
        1 => {
            let n = 1 + g.below(200_000);
            let c = g.pick(&["$", "`", "\u{0}", "\"", "é", "\u{202E}", "1", "x"]);
            c.repeat(n)
        }
        2 => {
            let n = 1 + g.below(1_000_000);
            format!("let y = {};\n", "q".repeat(n))
        }
        3 => {
            let n = 1 + g.below(20_000);
            format!("let x = 1.0;\n{}x\n", "f(".repeat(n))
        }
        _ => {
            let n = 1 + g.below(400);
            (0..n).map(|_| g.pick(TOKENS)).collect::<Vec<_>>().join(" ")
        }
    }
}

/// How one child process ended, when that is a failure.
fn check(src: &str, dir: &Path) -> Result<(), String> {
    let file = dir.join("prog.dp");
    std::fs::write(&file, src).map_err(|e| format!("cannot write the program: {e}"))?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dp"));
    cmd.arg("prog.dp")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DP_MAX_MEMORY", "512M")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // 4 GiB of address space: room for the binary, its threads' stacks
            // and the budgeted tensors, but an unbudgeted 17 GB request fails.
            let lim = libc::rlimit {
                rlim_cur: 4 << 30,
                rlim_max: 4 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot start dp: {e}"))?;
    // Read stderr on a thread, keeping only its size and head, so a flood of
    // reports can neither block the child nor fill memory here.
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut total = 0usize;
        let mut buf = [0u8; 1 << 16];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if head.len() < 4096 {
                head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
            }
            total += n;
        }
        (total, String::from_utf8_lossy(&head).into_owned())
    });
    let start = Instant::now();
    let mut interrupted = false;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        let t = start.elapsed();
        if t > Duration::from_secs(5) && !interrupted {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            interrupted = true;
        }
        if t > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("still running 5 s after Ctrl-C".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let (err_bytes, head) = reader.join().map_err(|_| "stderr reader failed")?;
    use std::os::unix::process::ExitStatusExt;
    match status.code() {
        Some(0 | 1) if err_bytes <= 1 << 20 => Ok(()),
        Some(0 | 1) => Err(format!("{err_bytes} bytes of reports")),
        Some(c) => Err(format!("exit {c}: {head}")),
        None => Err(format!("killed by signal {:?}: {head}", status.signal())),
    }
}

/// Runs `programs` on two workers (the machine has two cores); returns the failures.
fn run_all(programs: Vec<(String, String)>) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let scratch = std::env::temp_dir().join(format!("dp-hostile-{}", std::process::id()));
    std::thread::scope(|s| {
        for w in 0..2 {
            let (next, failures, programs) = (&next, &failures, &programs);
            let dir = scratch.join(w.to_string());
            s.spawn(move || {
                let _ = std::fs::create_dir_all(dir.join("sub"));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((what, src)) = programs.get(i) else { break };
                    if let Err(why) = check(src, &dir) {
                        let shown: String = src.chars().take(2000).collect();
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("{what}: {why}\n--- program ({} bytes)\n{shown}\n", src.len()));
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    failures.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Every builtin and stdlib function name, sorted.
fn callable_names() -> Vec<String> {
    let mut names: Vec<String> = dp::builtins::all().keys().map(|k| k.to_string()).collect();
    names.extend(STDLIB.iter().map(|s| s.to_string()));
    names.sort();
    names
}

#[test]
fn hostile_programs_exit_cleanly() {
    let seed = env_usize("DP_FUZZ_SEED", 0x5EED) as u64;
    let count = env_usize("DP_FUZZ_PROGRAMS", 1200);
    let names = callable_names();
    let mut g = Gen(seed);
    let mut programs = Vec::new();

    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut kept: Vec<PathBuf> = std::fs::read_dir(&regressions)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "dp"))
                .collect()
        })
        .unwrap_or_default();
    kept.sort();
    for p in kept {
        let src = std::fs::read_to_string(&p).expect("regression case is readable");
        programs.push((format!("regression {}", p.display()), src));
    }
    // Every name at least once, then random ones.
    for i in 0..count {
        let name = if i < names.len() {
            names[i].clone()
        } else {
            names[g.below(names.len())].clone()
        };
        if i % 10 == 9 {
            programs.push((format!("parser program {i} (seed {seed})"), parser_program(&mut g)));
        } else {
            programs.push((
                format!("program {i} calling {name} (seed {seed})"),
                program(&mut g, &name, &names),
            ));
        }
    }
    let n = programs.len();
    let failures = run_all(programs);
    println!("{n} hostile programs run, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {n} programs failed:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}
