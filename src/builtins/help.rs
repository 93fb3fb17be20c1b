//! Documentation a user can reach: `help(f)` in the language, `:help NAME` in
//! the REPL, `dp help NAME` and the generated `docs/reference.md`. Builtins
//! are documented by their declaration ([`Decl`]); dp functions (stdlib and
//! user) by the `#` comment lines right above their `fn`.

use super::{arg_type, Call, Decl, Signature};
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::eval::Interp;
use crate::value::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// The declaration of `help` itself.
pub const DECL: Decl = Decl {
    sig: "help(f: fn | str)",
    summary: "Prints the signature and documentation of a function, or of a stdlib module named as a string.",
    doc: "Works for builtins, stdlib functions (`help(optim.adam)` after `import optim`, or \
          `help(\"optim.adam\")`), stdlib modules (`help(\"optim\")`: the module's description and \
          its functions) and your own functions, whose doc is the `#` comment right above their `fn`.",
    example: "help(grad)",
};

/// The `help` builtin.
pub fn builtin(it: &mut Interp, a: Call<'_>) -> Result<Value, Diagnostic> {
    let text = match a.value(0) {
        Value::Str(name) => help_for_name(&it.builtins, name).map_err(|msg| {
            Diagnostic::new(ErrorKind::Name, msg)
                .at(a.span_of(0))
                .with_label("no function or module of this name")
        })?,
        v @ (Value::Func(_) | Value::Native(_)) => help_for_value(it, v),
        other => {
            return Err(arg_type("help", "f", "a function or a function's name", other)
                .at(a.span_of(0))
                .with_label(format!("this is {}", other.describe())))
        }
    };
    it.write_out(&text)?;
    Ok(Value::None)
}

/// The help text of a builtin's declaration: the typed signature, the
/// summary, the doc and the example.
pub fn signature_help(sig: &Signature) -> String {
    let d = &sig.decl;
    let mut s = format!("{}\n\n  {}\n", sig.full(), d.summary);
    if !d.doc.is_empty() {
        s.push('\n');
        for line in wrap(d.doc, 76) {
            let _ = writeln!(s, "  {line}");
        }
    }
    if !d.example.is_empty() {
        s.push_str("\n  Example:\n");
        for line in d.example.lines() {
            let _ = writeln!(s, "    {line}");
        }
    }
    s
}

/// The documentation of a function written in dp: its header as written and
/// the comment above it.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDoc {
    /// The function's name.
    pub name: String,
    /// The header, e.g. `adam(params, grads, state, lr=0.001)`.
    pub header: String,
    /// The comment lines above the `fn`, without their `#`.
    pub comment: String,
}

impl FnDoc {
    /// The help text: header, then the comment.
    pub fn help(&self) -> String {
        let mut s = format!("{}\n", self.header);
        if self.comment.is_empty() {
            s.push_str("\n  (no documentation: write a `#` comment right above the `fn`)\n");
        } else {
            s.push('\n');
            for line in self.comment.lines() {
                let _ = writeln!(s, "  {line}");
            }
        }
        s
    }
}

/// The doc of the function defined at byte `offset` of `src` (at its `fn`
/// keyword, or at the `|` of a lambda).
pub fn fn_doc_at(src: &str, offset: usize) -> Option<FnDoc> {
    let rest = src.get(offset..)?;
    let (name, header) = if let Some(after) = rest.strip_prefix("fn") {
        let after = after.trim_start();
        let open = after.find('(')?;
        let close = matching_paren(after, open)?;
        (after[..open].trim().to_string(), squash(&after[..=close]))
    } else if let Some(after) = rest.strip_prefix('|') {
        let close = after.find('|')?;
        ("<lambda>".to_string(), format!("<lambda>({})", squash(&after[..close])))
    } else {
        return None;
    };
    // The comment is the run of `#` lines directly above the definition's line.
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut comment: Vec<&str> = Vec::new();
    for line in src[..line_start].lines().rev() {
        match line.trim_start().strip_prefix('#') {
            Some(c) => comment.push(c.strip_prefix(' ').unwrap_or(c)),
            None => break,
        }
    }
    comment.reverse();
    Some(FnDoc {
        name,
        header,
        comment: comment.join("\n"),
    })
}

/// Every top-level function of a dp source, with its doc.
pub fn module_docs(src: &str) -> Vec<FnDoc> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in src.split_inclusive('\n') {
        if line.starts_with("fn ") {
            out.extend(fn_doc_at(src, offset));
        }
        offset += line.len();
    }
    out
}

/// The help of a function value: a builtin's declaration, or the header and
/// comment of a dp function.
pub fn help_for_value(it: &Interp, v: &Value) -> String {
    match v {
        Value::Native(n) => match &n.sig {
            Some(sig) => signature_help(sig),
            None => format!("{n}\n\n  a function made by a builtin (see the builtin's help)\n"),
        },
        Value::Func(c) => {
            let src = it.sources.text(c.proto.span.file);
            match fn_doc_at(&src, c.proto.span.start as usize) {
                Some(doc) => doc.help(),
                None => format!("<fn {}{}>\n", c.proto.name, c.proto.params_text),
            }
        }
        other => format!("{} is not a function\n", other.describe()),
    }
}

/// The description of a stdlib module: the comment paragraph at the top of
/// its source (every `#` line before the first blank or code line).
pub fn module_description(src: &str) -> String {
    let mut lines = Vec::new();
    for line in src.lines() {
        match line.trim_start().strip_prefix('#') {
            Some(c) => lines.push(c.strip_prefix(' ').unwrap_or(c)),
            None => break,
        }
    }
    lines.join("\n")
}

/// The builtin that stdlib `module` offers as `func` (`random.normal` is
/// the builtin `normal`), with its declaration.
fn exported_builtin(
    builtins: &HashMap<Rc<str>, Value>,
    module: &str,
    func: &str,
) -> Option<(&'static str, Rc<Signature>)> {
    let (_, builtin) = crate::stdlib::builtin_exports(module)
        .iter()
        .find(|(export, _)| *export == func)?;
    match builtins.get(*builtin) {
        Some(Value::Native(n)) => n.sig.clone().map(|sig| (*builtin, sig)),
        _ => None,
    }
}

/// The help of `func` in stdlib `module`: a function written in dp or a
/// builtin the module offers under its own name.
fn module_function_help(builtins: &HashMap<Rc<str>, Value>, module: &str, func: &str) -> Option<String> {
    let src = crate::stdlib::source(module)?;
    if let Some(doc) = module_docs(src).into_iter().find(|d| d.name == func) {
        return Some(doc.help());
    }
    let (builtin, sig) = exported_builtin(builtins, module, func)?;
    Some(format!(
        "`{module}.{func}` is the builtin `{builtin}`:\n\n{}",
        signature_help(&sig)
    ))
}

/// The help of stdlib module `module`: its description and its functions.
pub fn module_help(builtins: &HashMap<Rc<str>, Value>, module: &str) -> Option<String> {
    let src = crate::stdlib::source(module)?;
    let mut s = format!("{module}: a standard-library module (`import {module};`)\n\n");
    for line in module_description(src).lines() {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(s, "\n  Functions (the help of one: `{module}.NAME`):");
    for doc in module_docs(src) {
        let _ = writeln!(s, "    {module}.{}", doc.header);
    }
    for (export, builtin) in crate::stdlib::builtin_exports(module) {
        if let Some((_, sig)) = exported_builtin(builtins, module, export) {
            let _ = writeln!(s, "    {module}.{export}{}  (the builtin `{builtin}`)", sig.short());
        }
    }
    Some(s)
}

/// The names of the functions of stdlib `module`, its own and the builtins
/// it offers.
fn module_function_names(module: &str) -> Vec<String> {
    let own = crate::stdlib::source(module).map(module_docs).unwrap_or_default();
    own.into_iter()
        .map(|d| d.name)
        .chain(
            crate::stdlib::builtin_exports(module)
                .iter()
                .map(|(e, _)| e.to_string()),
        )
        .collect()
}

/// The help of `name`: a builtin, a constant, a stdlib module, or
/// `module.function` of the standard library. `Err` says what was not found.
pub fn help_for_name(builtins: &HashMap<Rc<str>, Value>, name: &str) -> Result<String, String> {
    if let Some(Value::Native(n)) = builtins.get(name) {
        if let Some(sig) = &n.sig {
            return Ok(signature_help(sig));
        }
    }
    if let Some(c) = super::constants::find(name) {
        return Ok(super::constants::help(c));
    }
    if let Some(text) = module_help(builtins, name) {
        return Ok(text);
    }
    if let Some((module, func)) = name.split_once('.') {
        if crate::stdlib::source(module).is_none() {
            return Err(format!(
                "there is no stdlib module `{module}` (the modules are {})",
                crate::stdlib::NAMES.join(", ")
            ));
        }
        if let Some(text) = module_function_help(builtins, module, func) {
            return Ok(text);
        }
        // A function looked up in the wrong module: show it, saying where it is.
        for &other in crate::stdlib::NAMES {
            if let Some(text) = module_function_help(builtins, other, func) {
                return Ok(format!("note: `{func}` is in `{other}`, not `{module}`\n\n{text}"));
            }
        }
        let names = module_function_names(module);
        let mut msg = format!("stdlib module `{module}` has no function `{func}`");
        if let Some(s) = did_you_mean(func, names.iter().map(String::as_str)) {
            let _ = write!(msg, "; did you mean `{module}.{s}`?");
        }
        return Err(msg);
    }
    let mut msg = format!("no builtin, constant or stdlib module named `{name}`");
    let candidates = builtins
        .keys()
        .map(|k| &**k)
        .chain(crate::stdlib::NAMES.iter().copied());
    if let Some(s) = did_you_mean(name, candidates.filter(|k| !k.starts_with('$'))) {
        let _ = write!(msg, "; did you mean `{s}`?");
    }
    Err(msg)
}

/// Every builtin's declaration, sorted by name.
pub fn declarations(builtins: &HashMap<Rc<str>, Value>) -> Vec<Rc<Signature>> {
    let mut sigs: Vec<Rc<Signature>> = builtins
        .values()
        .filter_map(|v| match v {
            Value::Native(n) => n.sig.clone(),
            _ => None,
        })
        .collect();
    sigs.sort_by_key(|s| s.name);
    // An alias (the f-string name of `format`) shares its declaration.
    sigs.dedup_by_key(|s| s.name);
    sigs
}

/// `docs/reference.md`: every builtin and stdlib function with its signature,
/// summary, doc and example, and every named constant.
pub fn reference_markdown(builtins: &HashMap<Rc<str>, Value>) -> String {
    let mut s = String::from(
        "# dp reference\n\n\
         Every builtin function and every standard-library function, generated from their \
         declarations (`src/builtins/`) and doc comments (`stdlib/`). Do not edit by hand: \
         regenerate with `BLESS=1 cargo test --release --test reference` (or `dp help --markdown`).\n\
         In the REPL, `:help NAME` shows the same text; in a program, `help(f)`. In the examples, a \
         comment after code shows exactly what dp prints for that line (as `dp -e` would: its output, \
         then its value unless `none`); the reference test checks every one.\n\n\
         ## Builtins\n\n",
    );
    let sigs = declarations(builtins);
    for sig in &sigs {
        let _ = write!(s, "[`{}`](#{}) ", sig.name, sig.name);
    }
    s.push_str("\n\n");
    for sig in &sigs {
        let d = &sig.decl;
        let _ = write!(s, "### {}\n\n```\n{}\n```\n\n{}\n\n", sig.name, sig.full(), d.summary);
        if !d.doc.is_empty() {
            let _ = write!(s, "{}\n\n", d.doc);
        }
        if !d.example.is_empty() {
            let _ = write!(s, "```\n{}\n```\n\n", d.example);
        }
    }
    s.push_str("## Constants\n\nNamed floats; a `let` of the same name shadows them.\n\n");
    for c in super::constants::CONSTANTS {
        let _ = write!(
            s,
            "### {}\n\n```\n{} = {}\n```\n\n{}\n\n```\n{}\n```\n\n",
            c.name,
            c.name,
            dp_tensor::format_float(c.value),
            c.summary,
            c.example
        );
    }
    s.push_str("## Standard library\n\nImport a module with `import NAME`, then call `NAME.function(...)`.\n\n");
    for &module in crate::stdlib::NAMES {
        let src = crate::stdlib::source(module).unwrap_or("");
        let _ = write!(s, "### {module}\n\n");
        // The module's own description is the comment paragraph at its top.
        let description = module_description(src);
        if !description.is_empty() {
            let _ = write!(s, "{description}\n\n");
        }
        for doc in module_docs(src) {
            let _ = write!(s, "#### {module}.{}\n\n```\n{module}.{}\n```\n\n", doc.name, doc.header);
            if !doc.comment.is_empty() {
                let _ = write!(s, "{}\n\n", doc.comment);
            }
        }
        // Builtins the module offers under its own name (`random.normal`).
        for (export, builtin) in crate::stdlib::builtin_exports(module) {
            if let Some((_, sig)) = exported_builtin(builtins, module, export) {
                let _ = write!(
                    s,
                    "#### {module}.{export}\n\n```\n{module}.{export}{}\n```\n\n\
                     The builtin [`{builtin}`](#{builtin}), under this module's name. {}\n\n",
                    sig.short(),
                    sig.decl.summary
                );
            }
        }
    }
    s
}

/// The byte index of the `)` that closes the `(` at `open`.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `s` on one line, runs of whitespace made single spaces.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
