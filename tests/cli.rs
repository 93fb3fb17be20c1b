//! The `dp` binary as a process: what only a real process shows — exit
//! codes, bytes that are not UTF-8 on stdin or in a script, Ctrl-C, FIFOs,
//! and a `save` that fails on the way to disk. Every run has a deadline, so
//! a regression shows as a failure, never as a hung test.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DP: &str = env!("CARGO_BIN_EXE_dp");

/// What a finished run printed, and its exit code (`None`: killed by a signal).
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Waits for `child` at most `limit`, killing it when it overruns.
fn finish(mut child: Child, limit: Duration) -> Run {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for dp") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dp did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Run {
        code: status.code(),
        stdout,
        stderr,
    }
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .spawn()
        .expect("start dp")
}

/// A fresh directory for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dp-cli-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn script(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write script");
    p
}

#[test]
fn the_repl_skips_a_line_that_is_not_utf8_and_keeps_its_bindings() {
    let mut child = spawn(&mut Command::new(DP));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"let x = 5\n\xff\xfe oops\nx + 1\n").expect("write");
    drop(stdin);
    let r = finish(child, Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "6\n");
    assert!(r.stderr.contains("not valid UTF-8"), "{}", r.stderr);
}

#[test]
fn a_script_that_is_not_utf8_is_reported_with_its_position() {
    let d = temp_dir("utf8");
    let p = script(&d, "bad.dp", b"print(1);\nlet s = \"caf\xc3\xa9\xff\";\n");
    let r = finish(spawn(Command::new(DP).arg(&p)), Duration::from_secs(60));
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("it is not UTF-8 text: invalid byte 0xFF at line 2, column 14, byte offset 24"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn reading_a_fifo_is_refused_at_once() {
    let d = temp_dir("fifo");
    let fifo = d.join("pipe.csv");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("no NUL in path");
    // SAFETY: mkfifo reads a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let code = format!("load_csv({:?})", fifo.to_string_lossy());
    let r = finish(spawn(Command::new(DP).arg("-e").arg(&code)), Duration::from_secs(60));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("it is a FIFO (named pipe), not a regular file"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ctrl_c_during_a_long_matrix_product_is_reported() {
    let d = temp_dir("ctrlc");
    // One product of two 5000x5000 matrices takes seconds; nothing polls
    // between the call and its end except the kernel itself.
    let p = script(
        &d,
        "long.dp",
        b"let a = ones((5000, 5000));\nlet b = a @ a;\nprint(\"finished\");\n",
    );
    let mut cmd = Command::new(DP);
    cmd.arg(&p);
    // SAFETY: only async-signal-safe calls between fork and exec: give the
    // child the default SIGINT disposition even if the test runner ignores it.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = spawn(&mut cmd);
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(2000));
    // SAFETY: kill sends a signal to the child we started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let r = finish(child, Duration::from_secs(120));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("interrupted by Ctrl-C"), "{}", r.stderr);
    assert!(!r.stdout.contains("finished"));
    eprintln!("interrupted after {:?}", start.elapsed());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_save_that_fails_midway_leaves_the_old_file_intact() {
    let d = temp_dir("save");
    let target = d.join("checkpoint.npy");
    let old: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&target, &old).expect("write the old checkpoint");
    let p = script(
        &d,
        "save.dp",
        format!("save({:?}, zeros((200000,)));\n", target.to_string_lossy()).as_bytes(),
    );
    // Files may grow to 64 KiB only: the 1.6 MB write fails part way
    // (EFBIG, with SIGXFSZ ignored), as on a full disk.
    let shell = "ulimit -f 128; trap '' XFSZ; exec \"$0\" \"$1\"";
    let r = finish(
        spawn(Command::new("sh").arg("-c").arg(shell).arg(DP).arg(&p)),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("`save` cannot write"), "{}", r.stderr);
    assert_eq!(std::fs::read(&target).expect("the old file is still there"), old);
    let left: Vec<_> = std::fs::read_dir(&d)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 2, "no temporary file is left behind: {left:?}");
    // Without the limit the same save replaces the file.
    let r = finish(spawn(Command::new(DP).arg(&p)), Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_ne!(std::fs::read(&target).expect("the new file"), old);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_default_memory_limit_follows_an_address_space_limit() {
    // Under `ulimit -v` (2 GiB) the default budget is half of it, so a 3.2 GB
    // tensor is reported at its line instead of aborting when malloc fails;
    // a 8 MB one still works.
    let shell = "ulimit -v 2097152; exec \"$0\" -e \"$1\"";
    let program = "print(sum(ones((1000, 1000))));\nlet big = ones((20000, 20000));";
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(shell)
        .arg(DP)
        .arg(program)
        .env_remove("DP_MAX_MEMORY");
    let r = finish(spawn(&mut cmd), Duration::from_secs(60));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "1000000.0");
    assert!(r.stderr.contains("over the memory limit"), "{}", r.stderr);
    assert!(r.stderr.contains("<-e>:2"), "{}", r.stderr);
}

#[test]
fn check_reports_every_missing_semicolon_in_one_run() {
    let d = temp_dir("check-semis");
    let file = script(
        &d,
        "semis.dp",
        b"let x = 1\nlet y = 2\nprint(x)\nlet ok = 4;\nlet z = 3\n",
    );
    let run = finish(spawn(Command::new(DP).arg("check").arg(&file)), Duration::from_secs(30));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let headers: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(
        headers,
        [
            "Error: syntax error: expected `;` at the end of this statement",
            "Error: syntax error: expected `;` at the end of this statement",
            "Error: syntax error: expected `;` at the end of this statement",
            "Error: syntax error: unexpected end of input, expected `;`",
        ],
        "{}",
        run.stderr
    );
    for at in ["semis.dp:1:9", "semis.dp:2:9", "semis.dp:3:8", "semis.dp:5:10"] {
        assert!(run.stderr.contains(at), "no report at {at}: {}", run.stderr);
    }
    // Independent errors of other kinds are reported beside them.
    let file = script(&d, "mixed.dp", b"let a = 1\nlet b = (2 + );\nlet c = 3\nprint(a);\n");
    let run = finish(spawn(Command::new(DP).arg("check").arg(&file)), Duration::from_secs(30));
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.matches("Error:").count(), 3, "{}", run.stderr);
}

/// `dp check` looks into imports as running would, without running anything:
/// an imported file's syntax error, an import cycle and a missing stdlib
/// module are reported; a file that imports cleanly is "ok" and prints nothing.
#[test]
fn check_reports_errors_in_imports_without_running() {
    let d = temp_dir("check-imports");
    let check = |file: &Path| finish(spawn(Command::new(DP).arg("check").arg(file)), Duration::from_secs(30));
    let headers = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.starts_with("Error:"))
            .map(str::to_string)
            .collect()
    };
    script(&d, "bad.dp", b"let x = (1, 2;\n");
    let run = check(&script(&d, "imports_bad.dp", b"import \"bad.dp\" as b;\nprint(1);\n"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        headers(&run.stderr),
        ["Error: syntax error: unexpected `;`, expected `)` or `,`"],
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("bad.dp:1:14"), "{}", run.stderr);
    assert!(run.stderr.contains("while importing this"), "{}", run.stderr);

    // A cycle through a file imported by the checked one.
    script(&d, "c1.dp", b"import \"c2.dp\" as c;\n");
    script(&d, "c2.dp", b"import \"c1.dp\" as c;\n");
    let run = check(&script(&d, "cycle.dp", b"import \"c1.dp\" as c;\n"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let h = headers(&run.stderr);
    assert_eq!(h.len(), 1, "{}", run.stderr);
    assert!(
        h[0].starts_with("Error: import error: import cycle: "),
        "{}",
        run.stderr
    );
    let chain = h[0].trim_start_matches("Error: import error: import cycle: ");
    let files: Vec<&str> = chain.split(" -> ").filter_map(|p| p.rsplit('/').next()).collect();
    assert_eq!(files, ["c1.dp", "c2.dp", "c1.dp"], "{}", h[0]);
    // The checked file itself takes part in cycles.
    let run = check(&d.join("c1.dp"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("import cycle"), "{}", run.stderr);

    let run = check(&script(&d, "nope.dp", b"import nope;\nimport nn;\n"));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        headers(&run.stderr),
        ["Error: import error: no standard library module named `nope`"],
        "{}",
        run.stderr
    );

    // Clean imports (one saved with a byte order mark, one imported twice)
    // are fine, and nothing runs: no output, no file written.
    script(
        &d,
        "util.dp",
        b"\xef\xbb\xbfsave(\"written.npy\", [1.0]);\nlet two = 2;\n",
    );
    script(&d, "mid.dp", b"import \"util.dp\" as u;\nprint(\"mid runs\");\n");
    let good = script(
        &d,
        "good.dp",
        b"import nn;\nimport \"mid.dp\" as m;\nimport \"util.dp\" as u;\nprint(u.two);\n",
    );
    let run = check(&good);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, format!("{}: ok\n", good.display()));
    assert_eq!(run.stderr, "");
    assert!(!d.join("written.npy").exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// A script saved with a UTF-8 byte order mark runs and checks: the mark
/// is no part of the program.
#[test]
fn a_byte_order_mark_at_the_start_of_a_script_is_skipped() {
    let d = temp_dir("bom");
    let file = script(&d, "bom.dp", b"\xef\xbb\xbfprint(1 + 1);\n");
    let run = finish(spawn(Command::new(DP).arg(&file)), Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "2\n");
    let run = finish(spawn(Command::new(DP).arg("check").arg(&file)), Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Only at the start: elsewhere it is still a stray character.
    let file = script(&d, "mid.dp", b"print(1);\n\xef\xbb\xbfprint(2);\n");
    let run = finish(spawn(Command::new(DP).arg("check").arg(&file)), Duration::from_secs(30));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("unexpected character"), "{}", run.stderr);
    let _ = std::fs::remove_dir_all(&d);
}

/// A program prints the same digits on AVX-512 and AVX2 machines, and on one
/// thread or two: vector math, GEMM and reductions do the same operations in
/// the same order on every instruction set with FMA (`DP_SIMD=avx2` runs the
/// AVX2 kernels here; on an AVX2-only machine both runs are AVX2).
#[test]
fn results_do_not_depend_on_the_instruction_set_or_thread_count() {
    // Single elements, not only sums: a sum can hide last-bit differences.
    let program = "seed(7); let x = randn((300, 517)); let w = randn((517, 211)); \
        print(exp(tensor([1.0, 0.3, -2.5, 7.1])), exp(x)[0, :6], tanh(x)[1, :6], \
        sigmoid(x)[2, :6], expm1(x)[3, :6], softplus(x)[4, :6], log1p(abs(x))[5, :6], \
        log(abs(x))[6, :6], (x @ w)[7, :6], softmax(x, axis=1)[8, :6]); \
        print(sum(x), mean(x * x), logsumexp(x), grad(|w| sum(tanh(x @ w)))(w)[3, :6]);";
    let run = |simd: Option<&str>, threads: &str| {
        let mut cmd = Command::new(DP);
        cmd.arg("-e").arg(program).env("DP_NUM_THREADS", threads);
        match simd {
            Some(isa) => cmd.env("DP_SIMD", isa),
            None => cmd.env_remove("DP_SIMD"),
        };
        let r = finish(spawn(&mut cmd), Duration::from_secs(60));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        r.stdout
    };
    let best = run(None, "2");
    assert!(best.starts_with("[2.718281828459045"), "the program printed: {best}");
    assert_eq!(run(Some("avx2"), "2"), best);
    assert_eq!(run(None, "1"), best);
    assert_eq!(run(Some("avx2"), "1"), best);
}

#[test]
fn words_after_a_snippet_are_its_arguments() {
    let r = finish(
        spawn(Command::new(DP).args(["-e", "print(args())", "a", "-b"])),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "(\"a\", \"-b\")\n");
}

#[test]
fn graph_passes_words_after_the_script_to_it() {
    // `dp graph [--dot] [--optimized] FILE.dp [ARGS...]`: the script's
    // `args()` are ARGS, as with `dp FILE.dp ARGS`; its output goes to stderr.
    let d = temp_dir("graph-args");
    let file = script(
        &d,
        "g.dp",
        b"print(args());\nlet k = float(len(args()));\nprint(grad(|x| x * k)(3.0));\n",
    );
    for opts in [&[][..], &["--dot"][..], &["--optimized"][..]] {
        let mut cmd = Command::new(DP);
        cmd.arg("graph").args(opts).arg(&file).args(["foo", "--bar", "-x"]);
        let r = finish(spawn(&mut cmd), Duration::from_secs(60));
        assert_eq!(r.code, Some(0), "{opts:?}: {}", r.stderr);
        assert_eq!(r.stderr, "(\"foo\", \"--bar\", \"-x\")\n3.0\n", "{opts:?}");
        assert!(!r.stdout.is_empty(), "{opts:?}: no graph");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_malformed_memory_limit_is_reported_before_anything_runs() {
    // Even a program that makes no tensor is told (it was silently ignored);
    // the report names the variable and the accepted forms.
    let d = temp_dir("max-memory");
    let file = script(&d, "m.dp", b"print(\"ran\");\n");
    let runs: [&[&str]; 4] = [&["-e", "print(1)"], &[], &["graph"], &["run"]];
    for words in runs {
        let mut cmd = Command::new(DP);
        cmd.args(words).env("DP_MAX_MEMORY", "bogus");
        if words.is_empty() || words[0] != "-e" {
            cmd.arg(&file);
        }
        let r = finish(spawn(&mut cmd), Duration::from_secs(60));
        assert_eq!(r.code, Some(2), "{words:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{words:?}");
        assert!(
            r.stderr.starts_with("dp: DP_MAX_MEMORY=\"bogus\" is not a memory size")
                && r.stderr.contains("8G")
                && r.stderr.contains("unlimited")
                && r.stderr.lines().count() == 1,
            "{words:?}: {}",
            r.stderr
        );
    }
    // The REPL too, before its first prompt.
    let r = finish(
        spawn(Command::new(DP).env("DP_MAX_MEMORY", "12 parsecs")),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("DP_MAX_MEMORY=\"12 parsecs\""), "{}", r.stderr);
    // Well-formed settings run as before.
    for ok in ["8G", "512Mi", "unlimited", "1000000"] {
        let r = finish(
            spawn(
                Command::new(DP)
                    .args(["-e", "print(sum(ones(10)))"])
                    .env("DP_MAX_MEMORY", ok),
            ),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{ok}: {}", r.stderr);
        assert_eq!(r.stdout, "10.0\n");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn malformed_simd_thread_and_jit_settings_are_reported_before_anything_runs() {
    // DP_SIMD, DP_NUM_THREADS and DP_JIT silently took an unknown value as
    // the default; now, as DP_MAX_MEMORY, the report names the variable, the
    // value and what is accepted, and nothing runs.
    let bad = [
        ("DP_NUM_THREADS", "abc", "positive integer"),
        ("DP_NUM_THREADS", "0", "positive integer"),
        ("DP_JIT", "maybe", "write all, or off"),
        ("DP_SIMD", "avx", "avx512, avx2 or generic"),
    ];
    for (var, value, accepted) in bad {
        let r = finish(
            spawn(Command::new(DP).args(["-e", "print(1)"]).env(var, value)),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(2), "{var}={value}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{var}={value}");
        assert!(
            r.stderr.starts_with(&format!("dp: {var}=\"{value}\" is not"))
                && r.stderr.contains(accepted)
                && r.stderr.lines().count() == 1,
            "{var}={value}: {}",
            r.stderr
        );
    }
    // The accepted values run as before.
    let good = [
        ("DP_NUM_THREADS", "1"),
        ("DP_NUM_THREADS", "4"),
        ("DP_JIT", "all"),
        ("DP_JIT", "off"),
        ("DP_SIMD", "generic"),
        ("DP_SIMD", "avx2"),
        ("DP_SIMD", "avx512"),
    ];
    for (var, value) in good {
        let r = finish(
            spawn(Command::new(DP).args(["-e", "print(sum(ones(10)))"]).env(var, value)),
            Duration::from_secs(60),
        );
        assert_eq!(r.code, Some(0), "{var}={value}: {}", r.stderr);
        assert_eq!(r.stdout, "10.0\n", "{var}={value}");
    }
}
