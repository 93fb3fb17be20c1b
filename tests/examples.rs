//! The user-facing programs stay correct:
//! - every `examples/*.dp` runs in-process (as `dp examples/NAME.dp` would from
//!   the repository root) and succeeds — each ends with asserts that check its
//!   own result, so "succeeds" means "computed the right answer";
//! - every ```` ```dp ```` block of `docs/guide.md` and `docs/language.md`
//!   runs, and where it is followed directly by an ```` ```output ```` block
//!   the program must succeed and print exactly that, and where by an
//!   ```` ```error ```` block it must fail and print (stdout, then the
//!   colourless reports) exactly that. So the docs never show output dp does
//!   not produce.

use std::path::{Path, PathBuf};

/// Program output, captured in memory.
use dp::SharedBuffer as Capture;

/// Runs `src` as the file `name`, with imports resolved against `dir`;
/// returns (stdout, rendered error reports if it failed).
fn run(name: &str, src: &str, dir: &Path, args: Vec<String>) -> (String, Option<String>) {
    let cap = Capture::default();
    let mut interp = dp::Interp::new(Box::new(cap.clone()));
    interp.script_args = args;
    let result = interp.run_source(name, src, Some(dir.to_path_buf()));
    let out = cap.contents();
    let err = result
        .err()
        .map(|errs| errs.iter().map(|d| interp.render(d, false)).collect::<String>());
    (out, err)
}

/// Runs `body` on a thread with the interpreter's stack, from the crate root
/// (examples use paths like `examples/data/digits.csv`, relative to it).
fn on_interpreter_thread(body: fn()) {
    let handle = std::thread::Builder::new()
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(move || {
            std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to crate root");
            body()
        })
        .expect("spawn test thread");
    if let Err(e) = handle.join() {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn examples_run_and_pass_their_asserts() {
    on_interpreter_thread(|| {
        let mut files: Vec<PathBuf> = std::fs::read_dir("examples")
            .expect("examples/ exists")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "dp"))
            .collect();
        files.sort();
        assert!(files.len() >= 6, "expected the examples, found {files:?}");
        let mut failures = Vec::new();
        for file in &files {
            let src = std::fs::read_to_string(file).expect("example is readable");
            let name = file.to_string_lossy().replace('\\', "/");
            // A file the example writes (digits.dp's curves) goes to a scratch
            // folder, never into the repository.
            let scratch = std::env::temp_dir().join(format!("dp_examples_{}", std::process::id()));
            let _ = std::fs::create_dir_all(&scratch);
            let stem = file
                .file_stem()
                .map_or("out".into(), |s| s.to_string_lossy().into_owned());
            let arg = scratch.join(format!("{stem}.svg")).display().to_string();
            let (out, err) = run(&name, &src, file.parent().unwrap_or(Path::new(".")), vec![arg]);
            if let Some(e) = err {
                failures.push(format!("{name} failed:\n--- stdout\n{out}--- error\n{e}"));
            } else if out.trim().is_empty() {
                failures.push(format!("{name} printed nothing"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    });
}

/// One fenced block of a markdown file: its info string, body and starting line.
struct Block {
    lang: String,
    body: String,
    line: usize,
}

/// The fenced blocks of the markdown text of `file`, in order; `adjacent[i]`
/// says whether block `i + 1` follows block `i` with only blank lines between.
fn fenced_blocks(file: &str, text: &str) -> (Vec<Block>, Vec<bool>) {
    let mut blocks = Vec::new();
    let mut adjacent = Vec::new();
    let mut current: Option<Block> = None;
    let mut only_blank_since_last = false;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => {
                if !blocks.is_empty() {
                    adjacent.push(only_blank_since_last);
                }
                current = Some(Block {
                    lang: info.trim().to_string(),
                    body: String::new(),
                    line: i + 1,
                });
            }
            (Some(_), Some("")) => {
                blocks.extend(current.take());
                only_blank_since_last = true;
            }
            (Some(b), _) => {
                b.body.push_str(line);
                b.body.push('\n');
            }
            (None, None) => only_blank_since_last &= line.trim().is_empty(),
        }
    }
    assert!(current.is_none(), "{file}: unclosed code block");
    (blocks, adjacent)
}

/// Text with trailing whitespace removed from every line (editors strip it,
/// and the reports' box drawing leaves some).
fn trim_lines(s: &str) -> String {
    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

/// Runs every ```` ```dp ```` block of the markdown file `file` (relative to the
/// crate root) and checks it against the ```` ```output ```` or
/// ```` ```error ```` block that follows it; at least `min_checked` blocks
/// must have one.
fn check_doc_examples(file: &str, min_checked: usize) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (blocks, adjacent) = fenced_blocks(file, &text);
    let root = PathBuf::from(".");
    let mut failures = Vec::new();
    let mut checked = 0;
    // BLESS=1 rewrites each ```output block with what dp prints (check the diff).
    let bless = std::env::var_os("BLESS").is_some();
    let mut blessed: Vec<(usize, usize, String)> = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if b.lang != "dp" {
            continue;
        }
        let (out, err) = run("example.dp", &b.body, &root, Vec::new());
        let expect = blocks.get(i + 1).filter(|_| adjacent.get(i) == Some(&true));
        let here = format!("{file}:{}", b.line);
        match (expect.map(|e| e.lang.as_str()), err) {
            (Some("output"), None) => {
                checked += 1;
                let want = &expect.map(|e| e.body.as_str()).unwrap_or_default();
                if trim_lines(&out) != trim_lines(want) {
                    if let (true, Some(e)) = (bless, expect) {
                        blessed.push((e.line, e.body.lines().count(), out.clone()));
                    } else {
                        failures.push(format!("{here}: output differs\n--- {file}\n{want}--- dp\n{out}"));
                    }
                }
            }
            (Some("error"), Some(e)) => {
                checked += 1;
                let want = &expect.map(|e| e.body.as_str()).unwrap_or_default();
                let got = out + &e;
                if trim_lines(&got) != trim_lines(want) {
                    failures.push(format!("{here}: error report differs\n--- {file}\n{want}--- dp\n{got}"));
                }
            }
            (Some("error"), None) => failures.push(format!("{here}: the doc shows an error, but it ran")),
            (_, Some(e)) => failures.push(format!("{here}: failed\n{out}{e}")),
            (_, None) => {}
        }
    }
    if !blessed.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // From the end, so earlier line numbers stay valid.
        for (fence, n, out) in blessed.into_iter().rev() {
            let new: Vec<String> = out.lines().map(|l| l.trim_end().to_string()).collect();
            lines.splice(fence..fence + n, new);
        }
        std::fs::write(file, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    assert!(
        checked >= min_checked,
        "only {checked} examples in {file} have expected output"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn guide_examples_print_what_the_guide_shows() {
    on_interpreter_thread(|| check_doc_examples("docs/guide.md", 40));
}

#[test]
fn reference_examples_print_what_the_reference_shows() {
    on_interpreter_thread(|| check_doc_examples("docs/language.md", 12));
}
