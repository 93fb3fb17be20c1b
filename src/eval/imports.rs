//! Imports: stdlib modules by name and files by path, each run once per
//! session in its own module, with cycles reported.

use super::compile;
use super::interp::Interp;
use super::module::Module;
use super::resolve::Resolver;
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::syntax::parser;
use crate::syntax::span::Span;
use crate::value::Value;
use std::path::{Path, PathBuf};
use std::rc::Rc;

impl Interp {
    /// Imports a stdlib module by name or a file by path (relative to `from`).
    pub(super) fn import(
        &mut self,
        path: Option<&str>,
        name: &str,
        from: &Module,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let (key, display, src) = match path {
            None => {
                let src = crate::stdlib::source(name).ok_or_else(|| {
                    let mut d =
                        Diagnostic::new(ErrorKind::Import, format!("no standard library module named `{name}`"))
                            .at(span)
                            .with_note(format!("available modules: {}", crate::stdlib::NAMES.join(", ")));
                    if let Some(s) = did_you_mean(name, crate::stdlib::NAMES.iter().copied()) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    d
                })?;
                (
                    PathBuf::from(format!("<stdlib>/{name}.dp")),
                    format!("<stdlib>/{name}.dp"),
                    src.to_string(),
                )
            }
            Some(p) => {
                let base = from.dir().unwrap_or_else(|| PathBuf::from("."));
                // Shown as written relative to the importer (never as an absolute path it was not given).
                let full = normalize_path(&base.join(p));
                let key = full.canonicalize().unwrap_or_else(|_| full.clone());
                let src = crate::files::read_source(&full, false).map_err(|e| {
                    let why = if e.is_not_found() {
                        "no such file".to_string()
                    } else {
                        e.reason()
                    };
                    Diagnostic::new(ErrorKind::Import, format!("cannot import `{}`: {why}", full.display()))
                        .at(span)
                        .with_label(format!("looked for `{}`", full.display()))
                        .with_note("import paths are relative to the folder of the importing file")
                })?;
                (key, full.display().to_string(), src)
            }
        };
        if let Some(v) = self.imported.get(&key) {
            return Ok(v.clone());
        }
        if let Some(at) = self.importing.iter().position(|(k, _)| *k == key) {
            let chain: Vec<&str> = self.importing[at..].iter().map(|(_, n)| n.as_str()).collect();
            return Err(Diagnostic::new(
                ErrorKind::Import,
                format!("import cycle: {} -> {display}", chain.join(" -> ")),
            )
            .at(span)
            .with_label(format!("`{display}` is still loading"))
            .with_help("move what both files need into a third file that imports neither"));
        }
        let file = self.sources.add(display.clone(), src.as_str());
        let dir = if path.is_some() {
            Path::new(&display).parent().map(Path::to_path_buf)
        } else {
            None
        };
        let module = Rc::new(Module::new(display.as_str(), dir, file));
        // Errors in the imported file are shown there, with the import that loaded it.
        let first = |ds: Vec<Diagnostic>| {
            let more = ds.len().saturating_sub(1);
            let mut d = ds
                .into_iter()
                .next()
                .unwrap_or_else(|| Diagnostic::new(ErrorKind::Import, "import failed"));
            d = d.with_secondary(span, "while importing this");
            if more > 0 {
                d = d.with_note(format!(
                    "{more} more error(s) in `{display}`; run it alone to see them all"
                ));
            }
            d
        };
        let parsed = parser::parse(&src, file).map_err(first)?;
        let program = compile::program(
            Resolver::new(&module, &self.builtins, &src)
                .program(&parsed)
                .map_err(first)?,
        );
        self.importing.push((key.clone(), display.clone()));
        let r = self.run_program(&program, &module);
        self.importing.pop();
        r.map_err(|d| d.with_secondary(span, "while importing this"))?;
        let mut v = module.to_dict();
        if path.is_none() {
            // Builtins a stdlib module re-exports under its own name (`random.normal`).
            if let Value::Dict(d) = &mut v {
                for (export, builtin) in crate::stdlib::builtin_exports(name) {
                    if let Some(f) = self.builtins.get(*builtin) {
                        d.insert(Rc::from(*export), f.clone());
                    }
                }
            }
        }
        self.imported.insert(key, v.clone());
        Ok(v)
    }
}

/// Removes `.` components and folds `dir/..` so an import path reads as the
/// user would write it (`tests/lib/../lib/x.dp` is `tests/lib/x.dp`).
fn normalize_path(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}
