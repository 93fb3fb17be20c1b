//! Imports: stdlib modules by name and files by path, each run once per
//! session in its own module, with cycles reported.

use super::compile;
use super::interp::Interp;
use super::ir;
use super::module::Module;
use super::resolve::Resolver;
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::syntax::span::Span;
use crate::syntax::{ast, parser};
use crate::value::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A module's source, found: the key it is loaded once under (its
/// canonical path), the name it is shown by, its text, and whether it is a
/// stdlib module.
struct Located {
    key: PathBuf,
    display: String,
    src: String,
    stdlib: bool,
}

impl Interp {
    /// Imports a stdlib module by name or a file by path (relative to `from`).
    pub(super) fn import(
        &mut self,
        path: Option<&str>,
        name: &str,
        from: &Module,
        span: Span,
    ) -> Result<Value, Diagnostic> {
        let found = locate(path, name, from, span)?;
        if let Some(v) = self.imported.get(&found.key) {
            return Ok(v.clone());
        }
        self.refuse_cycle(&found, span)?;
        let (_, program, module) = self.parse_module(&found, span, "run")?;
        let program = compile::program(program);
        self.importing.push((found.key.clone(), found.display.clone()));
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
        self.imported.insert(found.key, v.clone());
        Ok(v)
    }

    /// What importing would report for the top-level imports of `program`
    /// (of `module`), found without running anything (`dp check`): a
    /// missing module or file, an import cycle, and the syntax and name
    /// errors of every file imported, directly or not. `checked` holds the
    /// files already looked at (each is reported once).
    pub(super) fn check_imports(
        &mut self,
        program: &ast::Program,
        module: &Module,
        checked: &mut HashSet<PathBuf>,
    ) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for s in &program.stmts {
            // (Imports in blocks are an error of the resolver: not looked into.)
            let ast::StmtKind::Import { path, name } = &s.kind else {
                continue;
            };
            let found = match locate(path.as_deref(), &name.name, module, s.span) {
                Ok(f) => f,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            // The stdlib's modules are part of dp and tested with it.
            if found.stdlib {
                continue;
            }
            // A file still being looked at is a cycle (it is in `checked`
            // already, so this comes first).
            if let Err(d) = self.refuse_cycle(&found, s.span) {
                errors.push(d);
                continue;
            }
            if checked.contains(&found.key) {
                continue;
            }
            checked.insert(found.key.clone());
            let (ast, _, inner) = match self.parse_module(&found, s.span, "check") {
                Ok(m) => m,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            self.importing.push((found.key.clone(), found.display.clone()));
            let nested = self.check_imports(&ast, &inner, checked);
            self.importing.pop();
            errors.extend(
                nested
                    .into_iter()
                    .map(|d| d.with_secondary(s.span, "while importing this")),
            );
        }
        errors
    }

    /// The import cycle error when `found` is still loading (it imports,
    /// directly or not, the file that imports it now).
    fn refuse_cycle(&self, found: &Located, span: Span) -> Result<(), Diagnostic> {
        let Some(at) = self.importing.iter().position(|(k, _)| *k == found.key) else {
            return Ok(());
        };
        let display = &found.display;
        let chain: Vec<&str> = self.importing[at..].iter().map(|(_, n)| n.as_str()).collect();
        Err(Diagnostic::new(
            ErrorKind::Import,
            format!("import cycle: {} -> {display}", chain.join(" -> ")),
        )
        .at(span)
        .with_label(format!("`{display}` is still loading"))
        .with_help("move what both files need into a third file that imports neither"))
    }

    /// Parses and resolves an imported module in a module of its own. Its
    /// errors are shown in its file, with the import (at `span`) that loaded
    /// it; only the first is reported, with a note counting the others
    /// (`verb` says how to see them all: "run" or "check" the file alone).
    fn parse_module(
        &mut self,
        found: &Located,
        span: Span,
        verb: &str,
    ) -> Result<(ast::Program, ir::Program, Rc<Module>), Diagnostic> {
        let display = &found.display;
        let src = found.src.as_str();
        let file = self.sources.add(display.clone(), src);
        let dir = if found.stdlib {
            None
        } else {
            Path::new(display).parent().map(Path::to_path_buf)
        };
        let module = Rc::new(Module::new(display.as_str(), dir, file));
        let first = |ds: Vec<Diagnostic>| {
            let more = ds.len().saturating_sub(1);
            let mut d = ds
                .into_iter()
                .next()
                .unwrap_or_else(|| Diagnostic::new(ErrorKind::Import, "import failed"));
            d = d.with_secondary(span, "while importing this");
            if more > 0 {
                d = d.with_note(format!(
                    "{more} more error(s) in `{display}`; {verb} it alone to see them all"
                ));
            }
            d
        };
        let parsed = parser::parse(src, file).map_err(first)?;
        let program = Resolver::new(&module, &self.builtins, src)
            .program(&parsed)
            .map_err(first)?;
        Ok((parsed, program, module))
    }
}

/// Finds the module an import names: a stdlib module by `name`, or the file
/// at `path` relative to the directory of `from`.
fn locate(path: Option<&str>, name: &str, from: &Module, span: Span) -> Result<Located, Diagnostic> {
    match path {
        None => {
            let src = crate::stdlib::source(name).ok_or_else(|| {
                let mut d = Diagnostic::new(ErrorKind::Import, format!("no standard library module named `{name}`"))
                    .at(span)
                    .with_note(format!("available modules: {}", crate::stdlib::NAMES.join(", ")));
                if let Some(s) = did_you_mean(name, crate::stdlib::NAMES.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                d
            })?;
            Ok(Located {
                key: PathBuf::from(format!("<stdlib>/{name}.dp")),
                display: format!("<stdlib>/{name}.dp"),
                src: src.to_string(),
                stdlib: true,
            })
        }
        Some(p) => {
            let base = from.dir().unwrap_or_else(|| PathBuf::from("."));
            // Shown as written relative to the importer (never as an absolute path it was not given).
            let full = normalize_path(&base.join(p));
            let key = full.canonicalize().unwrap_or_else(|_| full.clone());
            let src = crate::files::read_program(&full, false).map_err(|e| {
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
            Ok(Located {
                key,
                display: full.display().to_string(),
                src,
                stdlib: false,
            })
        }
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
