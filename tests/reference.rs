//! `docs/reference.md` is generated from the builtin declarations and the
//! stdlib doc comments: this test fails when it is out of date, and
//! `BLESS=1 cargo test --release --test reference` rewrites it. It also runs
//! every builtin's example (each must run without error, and every result it
//! states must be exactly what dp prints), checks that every builtin is
//! declared and documented, and that the guide's index lists every builtin.

use std::path::Path;

#[test]
fn reference_is_up_to_date_and_examples_run() {
    // Run on a big stack, as the binary does.
    std::thread::Builder::new()
        .stack_size(dp::eval::interp::INTERPRETER_STACK)
        .spawn(check)
        .expect("spawn test thread")
        .join()
        .expect("reference test thread panicked");
}

fn check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let builtins = dp::builtins::all();
    let generated = dp::builtins::help::reference_markdown(&builtins);
    let path = root.join("docs/reference.md");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/reference.md");
    } else {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == generated,
            "docs/reference.md is out of date: regenerate it with `BLESS=1 cargo test --release --test reference`"
        );
    }

    // Every builtin is declared, with a summary and an example.
    let sigs = dp::builtins::help::declarations(&builtins);
    // `$format` is the f-string alias of `format` (same declaration).
    // The named constants (`pi`, `inf`, ...) are floats, documented apart.
    let constants = dp::builtins::constants::CONSTANTS;
    let named = builtins.keys().filter(|k| !k.starts_with('$')).count() - constants.len();
    assert_eq!(sigs.len(), named, "every builtin has a declaration");
    for sig in &sigs {
        assert!(!sig.decl.summary.is_empty(), "`{}` has no summary", sig.name);
        assert!(!sig.decl.example.is_empty(), "`{}` has no example", sig.name);
    }

    // The examples run in a scratch folder (some write and read files), and
    // each stated result must be exactly what dp prints.
    let dir = std::env::temp_dir().join(format!("dp-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    std::fs::write(dir.join("data.csv"), "x,y\n1,2\n3,4\n").expect("write data.csv");
    std::env::set_current_dir(&dir).expect("cd to scratch folder");
    let mut failures = Vec::new();
    let examples = sigs
        .iter()
        .map(|s| (s.name, s.decl.example))
        .chain(constants.iter().map(|c| (c.name, c.example)));
    for (name, example) in examples {
        if let Err(e) = run_example(name, example, &dir) {
            failures.push(e);
        }
    }
    let _ = std::env::set_current_dir(root);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One piece of an example: its code, and the result stated for its last
/// line (if that line has one) with the line number.
struct Piece {
    code: String,
    stated: Option<(usize, String)>,
}

/// The byte index of the `#` that starts a comment on `line`, outside string
/// literals.
fn comment_start(line: &str) -> Option<usize> {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                '"' => in_str = true,
                '#' => return Some(i),
                _ => {}
            }
        }
    }
    None
}

/// Splits an example into pieces at the lines that state a result. A
/// comment after code on a line states the result of that line: what dp
/// prints for it, as `dp -e` would (the output it prints, then its value
/// unless `none`, strings quoted). A result of several lines goes on in
/// comment lines whose `#` is in the same column. A comment on a line of its
/// own is only a comment, but not right after a result (where it would be a
/// continuation out of line).
fn pieces(example: &str) -> Result<Vec<Piece>, String> {
    let lines: Vec<&str> = example.lines().collect();
    let mut out = Vec::new();
    let mut code = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let at = comment_start(line).filter(|&h| !line[..h].trim().is_empty());
        let Some(h) = at else {
            code.push_str(line);
            code.push('\n');
            i += 1;
            continue;
        };
        let number = i + 1;
        // The column of the `#`, in characters, and the text after `# `.
        let col = line[..h].chars().count();
        let text = |l: &str| l.chars().skip(col + 2).collect::<String>();
        let mut stated = text(line);
        i += 1;
        while let Some(next) = lines.get(i) {
            let lead: String = next.chars().take(col).collect();
            let continues = lead.chars().count() == col && lead.trim().is_empty() && next.chars().nth(col) == Some('#');
            if !continues {
                break;
            }
            stated.push('\n');
            stated.push_str(&text(next));
            i += 1;
        }
        if lines.get(i).is_some_and(|l| l.trim_start().starts_with('#')) {
            return Err(format!(
                "line {}: a comment right after a stated result must continue it, its `#` in column {}",
                i + 1,
                col + 1
            ));
        }
        // The line's own value is what `dp -e` would show: drop its `;`.
        let last = line[..h].trim_end();
        code.push_str(last.strip_suffix(';').unwrap_or(last));
        code.push('\n');
        out.push(Piece {
            code: std::mem::take(&mut code),
            stated: Some((number, stated)),
        });
    }
    if !code.trim().is_empty() {
        out.push(Piece { code, stated: None });
    }
    Ok(out)
}

/// Runs the example of `name` piece by piece in one interpreter and checks
/// every stated result.
fn run_example(name: &str, example: &str, dir: &Path) -> Result<(), String> {
    let out = dp::SharedBuffer::default();
    let mut interp = dp::Interp::new(Box::new(out.clone()));
    let pieces = pieces(example).map_err(|e| format!("example of `{name}`, {e}:\n{example}\n"))?;
    for piece in pieces {
        out.take();
        let value = interp
            .run_source(&format!("<example of {name}>"), &piece.code, Some(dir.to_path_buf()))
            .map_err(|errors| {
                let report: String = errors.iter().map(|d| interp.render(d, false)).collect();
                format!("example of `{name}`:\n{example}\n{report}")
            })?;
        let Some((line, stated)) = piece.stated else {
            continue;
        };
        let mut printed = out.take();
        if let Some(v) = value.filter(|v| !matches!(v, dp::Value::None)) {
            if !printed.is_empty() && !printed.ends_with('\n') {
                printed.push('\n');
            }
            printed.push_str(&v.repr_with(&interp.print_options));
        }
        let printed = printed.strip_suffix('\n').unwrap_or(&printed);
        if printed != stated {
            return Err(format!(
                "example of `{name}`, line {line}: it states\n{stated}\nbut dp prints\n{printed}\n"
            ));
        }
    }
    Ok(())
}

#[test]
fn help_shows_signature_and_doc() {
    let builtins = dp::builtins::all();
    let grad = dp::builtins::help::help_for_name(&builtins, "grad").expect("grad is documented");
    assert!(
        grad.starts_with("grad(f: fn, argnums: int | tuple[int] = 0, has_aux: bool = false) -> fn\n"),
        "{grad}"
    );
    assert!(grad.contains("Example:"), "{grad}");
    let adam = dp::builtins::help::help_for_name(&builtins, "optim.adam").expect("optim.adam is documented");
    assert!(adam.starts_with("adam(params, grads, state, lr=0.001"), "{adam}");
    assert!(adam.contains("One Adam step"), "{adam}");
    // Looked up in the wrong module, it is still found, with a note.
    let wrong = dp::builtins::help::help_for_name(&builtins, "nn.adam").expect("found in optim");
    assert!(wrong.starts_with("note: `adam` is in `optim`, not `nn`"), "{wrong}");
    // Constants have help too.
    let inf = dp::builtins::help::help_for_name(&builtins, "inf").expect("inf is documented");
    assert!(inf.starts_with("inf = inf (constant)\n"), "{inf}");
    let pi = dp::builtins::help::help_for_name(&builtins, "pi").expect("pi is documented");
    assert!(pi.starts_with("pi = 3.141592653589793 (constant)\n"), "{pi}");
    let missing = dp::builtins::help::help_for_name(&builtins, "grd").unwrap_err();
    assert!(missing.contains("did you mean `grad`?"), "{missing}");
    // A module: its whole description and every function, builtins it offers included.
    let data = dp::builtins::help::help_for_name(&builtins, "data").expect("data is documented");
    assert!(
        data.starts_with("data: a standard-library module (`import data;`)\n"),
        "{data}"
    );
    assert!(data.contains("to integer codes)."), "{data}");
    assert!(
        data.contains("data.batches(x, y, size, shuffle=false, key=none)"),
        "{data}"
    );
    assert!(
        data.contains("data.encode(column)  (the builtin `encode_labels`)"),
        "{data}"
    );
    // A builtin a module offers under its own name.
    let normal = dp::builtins::help::help_for_name(&builtins, "random.normal").expect("random.normal");
    assert!(
        normal.starts_with("`random.normal` is the builtin `normal`:\n\nnormal("),
        "{normal}"
    );
    let near = dp::builtins::help::help_for_name(&builtins, "random.nrmal").unwrap_err();
    assert!(near.contains("did you mean `random.normal`?"), "{near}");
    // The reference has every module's whole description and its offered builtins.
    let reference = dp::builtins::help::reference_markdown(&builtins);
    for &module in dp::stdlib::NAMES {
        let src = dp::stdlib::source(module).expect("module source");
        let description = dp::builtins::help::module_description(src);
        assert!(
            description.ends_with('.'),
            "the description of `{module}` ends mid-sentence: {description}"
        );
        assert!(
            reference.contains(&format!("### {module}\n\n{description}\n\n")),
            "{module}"
        );
        for (export, builtin) in dp::stdlib::builtin_exports(module) {
            assert!(
                reference.contains(&format!("#### {module}.{export}\n"))
                    && reference.contains(&format!("(#{builtin})")),
                "`{module}.{export}` is missing from the reference"
            );
        }
    }
}

/// The guide's index of builtins (its last section) links every builtin,
/// constant and stdlib module to its entry in the reference, and nothing else.
#[test]
fn guide_index_lists_every_builtin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/guide.md")).expect("read docs/guide.md");
    let index = guide
        .split_once("## 13. Index of builtins")
        .expect("the guide has its index of builtins")
        .1;
    let mut linked = std::collections::BTreeSet::new();
    let mut rest = index;
    while let Some(at) = rest.find("[`") {
        rest = &rest[at + 2..];
        let Some((name, after)) = rest.split_once("`](") else {
            break;
        };
        let target = after.split_once(')').map_or("", |(t, _)| t);
        assert_eq!(
            target,
            format!("reference.md#{name}"),
            "the index links `{name}` to `{target}`"
        );
        linked.insert(name.to_string());
    }
    let builtins = dp::builtins::all();
    let mut known: std::collections::BTreeSet<String> = dp::builtins::help::declarations(&builtins)
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    let missing: Vec<&String> = known.iter().filter(|n| !linked.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "builtins missing from the guide's index: {missing:?}"
    );
    known.extend(dp::builtins::constants::CONSTANTS.iter().map(|c| c.name.to_string()));
    known.extend(dp::stdlib::NAMES.iter().map(|m| m.to_string()));
    let unknown: Vec<&String> = linked.iter().filter(|n| !known.contains(*n)).collect();
    assert!(
        unknown.is_empty(),
        "the guide's index names what is not a builtin: {unknown:?}"
    );
    // Each target exists in the reference.
    let reference = std::fs::read_to_string(root.join("docs/reference.md")).expect("read docs/reference.md");
    for name in &linked {
        assert!(
            reference.contains(&format!("\n### {name}\n")),
            "docs/reference.md has no entry `{name}`"
        );
    }
}
