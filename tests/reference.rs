//! `docs/reference.md` is generated from the builtin declarations and the
//! stdlib doc comments: this test fails when it is out of date, and
//! `BLESS=1 cargo test --release --test reference` rewrites it. It also runs
//! every builtin's example (each must run without error) and checks that
//! every builtin is declared and documented.

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

    // The examples run in a scratch folder (some write and read files).
    let dir = std::env::temp_dir().join(format!("dp-reference-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    std::fs::write(dir.join("data.csv"), "x,y\n1,2\n3,4\n").expect("write data.csv");
    std::env::set_current_dir(&dir).expect("cd to scratch folder");
    let mut failures = Vec::new();
    for sig in &sigs {
        let mut interp = dp::Interp::new(Box::new(std::io::sink()));
        let src = sig.decl.example;
        if let Err(errors) = interp.run_source(&format!("<example of {}>", sig.name), src, Some(dir.clone())) {
            let report: String = errors.iter().map(|d| interp.render(d, false)).collect();
            failures.push(format!("example of `{}`:\n{src}\n{report}", sig.name));
        }
    }
    for c in constants {
        let mut interp = dp::Interp::new(Box::new(std::io::sink()));
        if let Err(errors) = interp.run_source(&format!("<example of {}>", c.name), c.example, Some(dir.clone())) {
            let report: String = errors.iter().map(|d| interp.render(d, false)).collect();
            failures.push(format!("example of `{}`:\n{}\n{report}", c.name, c.example));
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
}
