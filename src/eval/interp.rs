//! The interpreter session: sources, builtins, modules and output, running a
//! program, and the types the compiled code in [`super::compile`] runs with
//! (frames, control flow). Imports, variables, calls and operator support are
//! the sibling modules of the same `impl Interp`.

use super::compile::{self, ProgramCode};
use super::module::Module;
use super::resolve::Resolver;
use crate::builtins;
use crate::diagnostics::{Diagnostic, ErrorKind, SourceMap};
use crate::syntax::parser;
use crate::syntax::span::Span;
use crate::value::{Closure, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Set by the Ctrl-C handler; loops and calls check it and stop with a
/// report, and so does every builtin and operator when it returns. It is the
/// tensor crate's flag, so that long kernels (GEMM) stop early too.
pub use dp_tensor::INTERRUPTED;

/// The deepest chain of dp calls allowed before a recursion error.
pub const MAX_CALL_DEPTH: usize = 10_000;

/// Frames of at most this many variables are kept on the native stack.
pub(super) const INLINE_SLOTS: usize = 8;

/// The native stack size of the interpreter thread: enough for [`MAX_CALL_DEPTH`] nested dp calls.
pub const INTERPRETER_STACK: usize = 1 << 30;

/// Non-local control flow while evaluating: errors, `return`, `break`, `continue`.
pub enum Flow {
    /// An error on its way to the top.
    Err(Diagnostic),
    /// `return v`: the value waits in [`Interp::returned`] (so that `Exec<Value>`
    /// stays four words and `Exec<()>` two, returned in registers).
    Return,
    /// `break`.
    Break,
    /// `continue`.
    Continue,
}

impl From<Diagnostic> for Flow {
    fn from(d: Diagnostic) -> Flow {
        Flow::Err(d)
    }
}

/// The result of evaluating: a value, or non-local control flow.
pub type Exec<T> = Result<T, Flow>;

/// One activation of a function (or of a top-level program).
pub struct Frame<'a> {
    /// The frame's variables: inline on the native stack for small
    /// functions, from the frame pool for large ones (see [`Interp::with_frame`]).
    pub(super) slots: &'a mut [Value],
    /// Borrowed from the running closure (or the program): no refcount traffic per call.
    pub(super) module: &'a Rc<Module>,
    pub(super) closure: Option<&'a Rc<Closure>>,
}

/// The interpreter: source map, modules, builtins, output and random state.
pub struct Interp {
    /// Every source text seen, for rendering reports.
    pub sources: SourceMap,
    /// Where `print` writes.
    pub out: Box<dyn Write>,
    /// The builtin functions by name.
    pub builtins: HashMap<Rc<str>, Value>,
    /// The module of the main program (or the REPL session).
    pub main: Rc<Module>,
    /// The state of `seed`/`rand`/`randn`/...
    pub rng: dp_tensor::Rng,
    /// The script's command-line arguments (`args()`).
    pub script_args: Vec<String>,
    /// When set, builtins that write files (`save`) refuse to (used by the fuzz tests).
    pub read_only: bool,
    /// How tensors print (`print_options`).
    pub print_options: dp_tensor::PrintOptions,
    /// Flush `out` after every `print` (set when stdout is a terminal, so a
    /// training loop's lines appear as they are printed).
    pub flush_each_print: bool,
    /// How `progress` loops show themselves, and the bars drawn now.
    pub progress: crate::progress::Progress,
    /// Whether `plot` and `hist` also print a text rendering when not told
    /// (`text=`): set by the REPL on a terminal.
    pub text_plots: bool,
    /// How many dp calls are active (see [`MAX_CALL_DEPTH`]).
    pub(super) depth: usize,
    /// The value of the `return` being carried out (see [`Flow::Return`]).
    pub(super) returned: Value,
    /// Slot vectors of finished calls, reused so a call does not allocate.
    pub(super) frame_pool: Vec<Vec<Value>>,
    /// Each imported file's module value, by canonical path (a file runs once).
    pub(super) imported: HashMap<PathBuf, Value>,
    /// The files being loaded, outermost first, with their display names (to report cycles).
    pub(super) importing: Vec<(PathBuf, String)>,
    /// Differentiation state (levels, the current span, `debug_nans`, the
    /// graph capture): per interpreter, so a new one (the REPL's `:reset`) starts clean.
    pub diff: Rc<crate::autodiff::trace::DiffCtx>,
    /// What each running jit trace has seen (globals read, side effects),
    /// innermost last; empty when no jit trace runs.
    pub jit_watch: Vec<crate::autodiff::jit::Watch>,
    /// Under `DP_JIT=all`, every dp function's jitted form.
    pub jit_all: Option<Box<crate::autodiff::jit::JitAll>>,
    /// The next closure call is jit's own call of its function: not routed
    /// through `DP_JIT=all` again.
    pub jit_skip_next: bool,
}

impl Interp {
    /// A fresh interpreter writing program output to `out`.
    pub fn new(out: Box<dyn Write>) -> Interp {
        let mut sources = SourceMap::default();
        let file = sources.add("<main>", "");
        Interp {
            sources,
            out,
            builtins: builtins::all(),
            main: Rc::new(Module::new("<main>", None, file)),
            rng: dp_tensor::Rng::new(0),
            script_args: Vec::new(),
            read_only: false,
            print_options: dp_tensor::PrintOptions::default(),
            flush_each_print: false,
            progress: crate::progress::Progress::default(),
            text_plots: false,
            depth: 0,
            returned: Value::None,
            frame_pool: Vec::new(),
            imported: HashMap::new(),
            importing: Vec::new(),
            diff: Rc::default(),
            jit_watch: Vec::new(),
            jit_all: crate::autodiff::jit::all_from_env().then(Box::default),
            jit_skip_next: false,
        }
    }

    /// Forgets the state of an evaluation abandoned by a panic, so that the
    /// REPL can go on with its bindings after an internal error.
    pub fn recover_after_panic(&mut self) {
        self.depth = 0;
        self.importing.clear();
        self.returned = Value::None;
        self.progress.recover();
    }

    /// Renders a diagnostic against the known sources.
    pub fn render(&self, d: &Diagnostic, color: bool) -> String {
        self.sources.render(d, color)
    }

    /// Parses and resolves `src` as the main program's next chunk, without
    /// running it; so are the files it imports, and a missing module or an
    /// import cycle is reported as running would report it.
    pub fn check_source(&mut self, name: &str, src: &str, dir: Option<PathBuf>) -> Result<(), Vec<Diagnostic>> {
        let file = self.sources.add(name, src);
        let ast = parser::parse(src, file)?;
        let module = Module::new(name, dir, file);
        let resolved = Resolver::new(&module, &self.builtins, src).program(&ast);
        // As when running, the main file takes part in cycle detection.
        let main_key = Path::new(name).canonicalize().ok().filter(|p| p.is_file());
        if let Some(k) = &main_key {
            self.importing.push((k.clone(), name.to_string()));
        }
        let mut errors = self.check_imports(&ast, &module, &mut Default::default());
        if main_key.is_some() {
            self.importing.pop();
        }
        // The imports come first in a file, and so do their reports.
        if let Err(more) = resolved {
            errors.extend(more);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The directory of the main script (against which its imports resolve):
    /// `script_dir()`.
    pub fn main_dir(&self) -> Option<PathBuf> {
        self.main.dir()
    }

    /// Runs `src` in the main module (a file, a `-e` snippet or a REPL entry),
    /// returning the value of its final expression.
    pub fn run_source(
        &mut self,
        name: &str,
        src: &str,
        dir: Option<PathBuf>,
    ) -> Result<Option<Value>, Vec<Diagnostic>> {
        let file = self.sources.add(name, src);
        let ast = parser::parse(src, file)?;
        let module = self.main.clone();
        // Relative imports of this source resolve against its own directory.
        let previous_dir = dir.map(|d| module.replace_dir(Some(d)));
        let r = self.resolve_and_run(name, src, &ast, &module, false);
        if let Some(prev) = previous_dir {
            if prev.is_some() {
                module.replace_dir(prev);
            }
        }
        r
    }

    /// Compiles `src`, a REPL entry, into a function of no parameters whose
    /// body is the entry, without running it (`:time` calls it many times,
    /// through [`Interp::run_body`]). The text is registered under `name`
    /// as the user typed it, not wrapped in `|| { ... }` source: every
    /// report, a syntax error included, quotes the user's text at the
    /// user's positions.
    pub fn compile_entry(&mut self, name: &str, src: &str) -> Result<Rc<Closure>, Vec<Diagnostic>> {
        use crate::syntax::ast::{Block, Expr, ExprKind, FnDef, Program};
        let file = self.sources.add(name, src);
        let ast = parser::parse(src, file)?;
        let span = Span::new(file, 0, src.len());
        let body = Block {
            stmts: ast.stmts,
            tail: ast.tail.map(Box::new),
            span,
        };
        let function = FnDef {
            name: None,
            params: Vec::new(),
            body: Expr {
                kind: ExprKind::Block(body),
                span,
            },
            span,
        };
        let program = Program {
            stmts: Vec::new(),
            tail: Some(Expr {
                kind: ExprKind::Lambda(Rc::new(function)),
                span,
            }),
        };
        let module = self.main.clone();
        match self.resolve_and_run(name, src, &program, &module, true)? {
            Some(Value::Func(c)) => Ok(c),
            _ => Err(vec![Diagnostic::new(
                ErrorKind::Value,
                "internal error: an entry did not compile to a function",
            )]),
        }
    }

    fn resolve_and_run(
        &mut self,
        name: &str,
        src: &str,
        ast: &crate::syntax::ast::Program,
        module: &Rc<Module>,
        entry: bool,
    ) -> Result<Option<Value>, Vec<Diagnostic>> {
        let resolver = Resolver::new(module, &self.builtins, src);
        let resolver = if entry { resolver.for_repl_entry() } else { resolver };
        let program = compile::program(resolver.program(ast)?);
        // The main file takes part in cycle detection: a module importing it back is a cycle.
        let main_key = Path::new(name).canonicalize().ok().filter(|p| p.is_file());
        if let Some(k) = &main_key {
            self.importing.push((k.clone(), name.to_string()));
        }
        let r = self.run_program(&program, module).map_err(|d| vec![d]);
        if main_key.is_some() {
            self.importing.pop();
        }
        r
    }

    pub(super) fn run_program(&mut self, p: &ProgramCode, module: &Rc<Module>) -> Result<Option<Value>, Diagnostic> {
        INTERRUPTED.store(false, Ordering::Relaxed);
        let mut slots = vec![Value::None; p.n_slots as usize];
        let mut frame = Frame {
            slots: &mut slots,
            module,
            closure: None,
        };
        for (slot, proto) in &p.hoisted {
            let c = Closure {
                proto: proto.clone(),
                captures: Vec::new(),
                module: module.clone(),
                direct_arity: proto.direct_arity,
            };
            module.set(*slot, Value::Func(Rc::new(c)));
        }
        let result = (|| -> Exec<Option<Value>> {
            for s in &p.stmts {
                s.run(self, &mut frame)?;
            }
            match &p.tail {
                Some(e) => Ok(Some(e.run(self, &mut frame)?)),
                None => Ok(None),
            }
        })();
        let _ = self.out.flush();
        match result {
            // Whatever ran last, a Ctrl-C during the program is not lost.
            Ok(_) if INTERRUPTED.load(Ordering::Relaxed) => {
                Err(Diagnostic::new(ErrorKind::Interrupted, "interrupted by Ctrl-C"))
            }
            Ok(v) => Ok(v),
            Err(Flow::Err(d)) => Err(d),
            // The resolver rejects `return`/`break`/`continue` outside functions and loops.
            Err(_) => Ok(None),
        }
    }

    /// Notes, for the running jit traces, that global `slot` of `module` was read as `v`.
    #[cold]
    #[inline(never)]
    pub(super) fn note_global_read(&mut self, module: &Rc<Module>, slot: u32, v: &Value) {
        for w in &mut self.jit_watch {
            w.read(module, slot, v);
        }
    }

    /// Notes, for the running jit traces, a side effect (`what`: "calls `print`").
    #[cold]
    #[inline(never)]
    pub fn note_effect(&mut self, what: String, span: Span) {
        for w in &mut self.jit_watch {
            w.effect(what.clone(), span);
        }
    }

    /// Makes everything printed so far appear.
    pub fn flush_out(&mut self) -> Result<(), Diagnostic> {
        self.out
            .flush()
            .map_err(|e| Diagnostic::new(ErrorKind::Io, format!("cannot write output: {e}")))
    }

    /// Writes program output (above the progress bars while one is drawn).
    pub fn write_out(&mut self, s: &str) -> Result<(), Diagnostic> {
        if self.progress.print_above(s) {
            return Ok(());
        }
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| Diagnostic::new(ErrorKind::Io, format!("cannot write output: {e}")))
    }
}

/// What a loop does once its body has run: go on (`Ok(true)`), stop at a
/// `break` (`Ok(false)`), or pass any other flow (`return`, an error) up.
#[inline(always)]
pub(super) fn after_body(r: Exec<Value>) -> Exec<bool> {
    match r {
        Ok(v) => {
            crate::value::discard(v);
            Ok(true)
        }
        Err(Flow::Continue) => Ok(true),
        Err(Flow::Break) => Ok(false),
        Err(other) => Err(other),
    }
}

/// The error for spreading a value that is not a dict into a dict literal.
pub(super) fn spread_error(other: &Value, span: Span) -> Flow {
    Diagnostic::new(
        ErrorKind::Type,
        format!("can only spread a dict into a dict, found {}", other.describe()),
    )
    .at(span)
    .with_label(format!("this is {}", other.describe()))
    .into()
}

/// The error for reading a module global that has no value yet.
pub(super) fn unbound_global_error(name: &str, span: Span) -> Flow {
    Diagnostic::new(ErrorKind::Name, format!("`{name}` is used before it is defined"))
        .at(span)
        .with_label("no value has been bound to this name yet")
        .into()
}

/// Stops a loop or a call when Ctrl-C was pressed.
pub(super) fn check_interrupt(span: Span) -> Result<(), Diagnostic> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        return Err(Diagnostic::new(ErrorKind::Interrupted, "interrupted by Ctrl-C").at(span));
    }
    Ok(())
}
