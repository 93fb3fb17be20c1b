//! The interpreter's runtime: the session (sources, builtins, modules,
//! output), running programs and imports, and the calling convention (frames,
//! argument binding, closures) that the compiled code in [`super::compile`]
//! calls into.

use super::compile::{self, FnCode, ProgramCode};
use super::ir::{self, CaptureSrc, Target};
use super::module::Module;
use super::resolve::Resolver;
use crate::builtins;
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind, SourceMap, StackFrame};
use crate::syntax::parser;
use crate::syntax::span::Span;
use crate::value::native::Args;
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
const INLINE_SLOTS: usize = 8;

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
    depth: usize,
    /// The value of the `return` being carried out (see [`Flow::Return`]).
    pub(super) returned: Value,
    /// Slot vectors of finished calls, reused so a call does not allocate.
    frame_pool: Vec<Vec<Value>>,
    imported: HashMap<PathBuf, Value>,
    /// The files being loaded, outermost first, with their display names (to report cycles).
    importing: Vec<(PathBuf, String)>,
    /// Differentiation state (levels, the current span, `debug_nans`, the
    /// graph capture): per interpreter, so a new one (the REPL's `:reset`) starts clean.
    pub diff: Rc<crate::autodiff::trace::DiffCtx>,
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
            depth: 0,
            returned: Value::None,
            frame_pool: Vec::new(),
            imported: HashMap::new(),
            importing: Vec::new(),
            diff: Rc::default(),
        }
    }

    /// Forgets the state of an evaluation abandoned by a panic, so that the
    /// REPL can go on with its bindings after an internal error.
    pub fn recover_after_panic(&mut self) {
        self.depth = 0;
        self.importing.clear();
        self.returned = Value::None;
    }

    /// Renders a diagnostic against the known sources.
    pub fn render(&self, d: &Diagnostic, color: bool) -> String {
        self.sources.render(d, color)
    }

    /// Parses and resolves `src` as the main program's next chunk, without running it.
    pub fn check_source(&mut self, name: &str, src: &str, dir: Option<PathBuf>) -> Result<(), Vec<Diagnostic>> {
        let file = self.sources.add(name, src);
        let ast = parser::parse(src, file)?;
        let module = Module::new(name, dir, file);
        Resolver::new(&module, &self.builtins, src).program(&ast).map(|_| ())
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
        let r = self.resolve_and_run(name, src, &ast, &module);
        if let Some(prev) = previous_dir {
            if prev.is_some() {
                module.replace_dir(prev);
            }
        }
        r
    }

    fn resolve_and_run(
        &mut self,
        name: &str,
        src: &str,
        ast: &crate::syntax::ast::Program,
        module: &Rc<Module>,
    ) -> Result<Option<Value>, Vec<Diagnostic>> {
        let program = compile::program(Resolver::new(module, &self.builtins, src).program(ast)?);
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

    fn run_program(&mut self, p: &ProgramCode, module: &Rc<Module>) -> Result<Option<Value>, Diagnostic> {
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
        let v = module.to_dict();
        self.imported.insert(key, v.clone());
        Ok(v)
    }

    /// `x = x op rhs`: `rhs` first, then [`Interp::update_with`] (a uniquely
    /// owned tensor is updated in place; on any error `x` keeps its value).
    pub(super) fn update(
        &mut self,
        target: Target,
        name: &str,
        op: crate::syntax::ast::BinOp,
        (lhs_span, rhs_span, span): (Span, Span, Span),
        f: &mut Frame,
        rhs: impl FnOnce(&mut Self, &mut Frame) -> Exec<Value>,
    ) -> Exec<()> {
        if self.unbound_global(target, f) {
            return Err(
                Diagnostic::new(ErrorKind::Name, format!("`{name}` is used before it is defined"))
                    .at(lhs_span)
                    .with_label("no value has been bound to this name yet")
                    .into(),
            );
        }
        let r = rhs(self, f)?;
        self.update_with(target, op, (lhs_span, rhs_span, span), f, r)
    }

    /// `x = x op r` with `r` already computed. `rhs` cannot observe `x` (the
    /// resolver checks), so `x` is moved out of its slot only now: a uniquely
    /// owned tensor is then updated in place.
    pub(super) fn update_with(
        &mut self,
        target: Target,
        op: crate::syntax::ast::BinOp,
        (lhs_span, rhs_span, span): (Span, Span, Span),
        f: &mut Frame,
        r: Value,
    ) -> Exec<()> {
        let old = self.take(target, f);
        let v = match crate::ops::arith::update_in_place(op, old, &r) {
            Ok(v) => v,
            Err(old) => {
                self.diff.set_span(span);
                let v = crate::ops::arith::binary(op, &old, &r)
                    .map_err(|d| d.at(span).with_secondary_if_missing(lhs_span, rhs_span, &old, &r));
                match v {
                    Ok(v) => v,
                    Err(d) => {
                        self.store(target, old, f);
                        return Err(d.into());
                    }
                }
            }
        };
        self.store(target, v, f);
        Ok(())
    }

    /// `x = append(x, v)` / `x = insert(x, k, v)` once the arguments other
    /// than `x` are evaluated: `x` is moved out of its slot, so a uniquely
    /// owned collection grows in place. When the types are not the expected
    /// ones, `x` is put back and the arguments are returned for the ordinary
    /// call (which reports them).
    pub(super) fn grow_in_place(
        &mut self,
        target: Target,
        kind: ir::GrowKind,
        rest: Vec<Value>,
        f: &mut Frame,
    ) -> Result<Value, Vec<Value>> {
        let x = self.take(target, f);
        match (kind, x, rest.as_slice()) {
            (ir::GrowKind::Append, Value::Tuple(mut t), [v]) => {
                t.push(v.clone());
                Ok(Value::Tuple(t))
            }
            (ir::GrowKind::Insert, Value::Dict(mut d), [Value::Str(k), v]) => {
                d.insert(k.clone(), v.clone());
                Ok(Value::Dict(d))
            }
            (_, x, _) => {
                self.store(target, x.clone(), f);
                let mut pos = vec![x];
                pos.extend(rest);
                Err(pos)
            }
        }
    }

    /// Whether `t` is a module global that has no value yet.
    pub(super) fn unbound_global(&self, t: Target, f: &Frame) -> bool {
        matches!(t, Target::Global(g) if f.module.get(g).is_none())
    }

    /// Moves a variable's value out (leaving `none`), for in-place updates.
    fn take(&mut self, t: Target, f: &mut Frame) -> Value {
        match t {
            Target::Local(s) => std::mem::replace(&mut f.slots[s as usize], Value::None),
            Target::Global(g) => {
                let v = f.module.get(g).unwrap_or(Value::None);
                f.module.set(g, Value::None);
                v
            }
        }
    }

    pub(super) fn store(&mut self, t: Target, v: Value, f: &mut Frame) {
        match t {
            Target::Local(s) => f.slots[s as usize] = v,
            Target::Global(g) => f.module.set(g, v),
        }
    }

    pub(super) fn bind(&mut self, p: &ir::Pattern, v: Value, f: &mut Frame) -> Result<(), Diagnostic> {
        match p {
            ir::Pattern::Bind(t, _) => {
                self.store(*t, v, f);
                Ok(())
            }
            ir::Pattern::Tuple(ps, span) => {
                let items = match &v {
                    Value::Tuple(items) => items.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!(
                                "cannot destructure {}: the pattern expects a tuple of {}",
                                other.describe(),
                                plural(ps.len(), "element")
                            ),
                        )
                        .at(*span)
                        .with_label(format!("expects a tuple, found {}", other.describe())))
                    }
                };
                if items.len() != ps.len() {
                    return Err(Diagnostic::new(
                        ErrorKind::Value,
                        format!(
                            "cannot destructure a tuple of {}: the pattern expects {}",
                            plural(items.len(), "element"),
                            ps.len()
                        ),
                    )
                    .at(*span)
                    .with_label(format!(
                        "expects {}, found {}",
                        plural(ps.len(), "element"),
                        items.len()
                    )));
                }
                for (p, v) in ps.iter().zip(items) {
                    self.bind(p, v, f)?;
                }
                Ok(())
            }
            ir::Pattern::Dict(es, span) => {
                let d = match &v {
                    Value::Dict(d) => d.clone(),
                    other => {
                        return Err(Diagnostic::new(
                            ErrorKind::Type,
                            format!("cannot destructure {}: the pattern expects a dict", other.describe()),
                        )
                        .at(*span)
                        .with_label(format!("expects a dict, found {}", other.describe())))
                    }
                };
                for (k, kspan, p) in es {
                    let v = d
                        .get(k)
                        .cloned()
                        .ok_or_else(|| crate::value::dict::missing_key(&d, k, *kspan))?;
                    self.bind(p, v, f)?;
                }
                Ok(())
            }
        }
    }

    pub(super) fn make_closure(&mut self, proto: &Rc<FnCode>, f: &Frame) -> Value {
        let captures = proto
            .captures
            .iter()
            .map(|(src, _)| match src {
                CaptureSrc::Local(s) => Some(f.slots[*s as usize].clone()),
                CaptureSrc::Global(g) => f.module.get(*g),
                CaptureSrc::SelfRef => f.closure.cloned().map(Value::Func),
            })
            .collect();
        Value::Func(Rc::new(Closure {
            proto: proto.clone(),
            captures,
            module: f.module.clone(),
        }))
    }

    /// Calls any callable value with already-evaluated arguments.
    pub fn call(&mut self, callee: &Value, args: Args) -> Result<Value, Diagnostic> {
        match callee {
            Value::Func(c) => {
                // Keyword spans follow the positional ones; they locate keyword errors.
                let kw_spans = args
                    .spans
                    .get(args.pos.len()..)
                    .map(<[Span]>::to_vec)
                    .unwrap_or_default();
                self.call_closure(c, args.pos, (args.kw, &kw_spans), args.span)
            }
            Value::Native(n) => {
                let span = args.span;
                // Primitives the builtin applies are attributed to its call.
                self.diff.set_span(span);
                let r = (n.func)(self, args).map_err(|d| d.at(span));
                // A builtin may run long without polling: report a Ctrl-C
                // that came meanwhile at once (and drop a result that a
                // kernel may have cut short).
                if r.is_ok() {
                    check_interrupt(span)?;
                }
                r
            }
            other => Err(
                Diagnostic::new(ErrorKind::Type, format!("{} is not callable", other.describe()))
                    .at(args.span)
                    .with_label("expected a function here"),
            ),
        }
    }

    /// Calls a function with positional arguments only.
    pub fn call_pos(&mut self, callee: &Value, pos: Vec<Value>, span: Span) -> Result<Value, Diagnostic> {
        self.call(callee, Args::positional(pos, span))
    }

    pub(super) fn call_closure(
        &mut self,
        c: &Rc<Closure>,
        pos: Vec<Value>,
        kw: (Vec<(Rc<str>, Value)>, &[Span]),
        call_site: Span,
    ) -> Result<Value, Diagnostic> {
        self.with_frame(c, |i, frame| {
            // Defaults run in the callee before its body: count them as a
            // level of the call, or `fn f(k = f()) {...}` would recurse
            // without ever reaching the depth limit.
            if i.depth >= MAX_CALL_DEPTH {
                return Err(i.call_refused(c, call_site));
            }
            i.depth += 1;
            let bound = i.bind_params(c, pos, kw, call_site, frame);
            i.depth -= 1;
            bound?;
            i.enter(c, frame, call_site)
        })
    }

    /// Runs `run` with a fresh frame for a call of `c` (captured values in
    /// place, every other slot `none`). Frames of up to [`INLINE_SLOTS`]
    /// variables live on the native stack, so most calls allocate nothing.
    #[inline(always)]
    pub(super) fn with_frame<T>(&mut self, c: &Rc<Closure>, run: impl FnOnce(&mut Self, &mut Frame) -> T) -> T {
        let n = c.proto.n_slots as usize;
        if n <= INLINE_SLOTS {
            let mut store = std::mem::ManuallyDrop::new([const { Value::None }; INLINE_SLOTS]);
            let r = {
                let mut frame = Frame {
                    slots: &mut store[..n],
                    module: &c.module,
                    closure: Some(c),
                };
                Self::fill_captures(c, &mut frame);
                run(self, &mut frame)
            };
            // Only the first `n` values were reachable through the frame (the
            // rest are still `none`); scalars need no drop call.
            for v in &mut store[..n] {
                crate::value::assign(v, Value::None);
            }
            r
        } else {
            let mut slots = self.frame_pool.pop().unwrap_or_default();
            slots.resize_with(n, || Value::None);
            let r = {
                let mut frame = Frame {
                    slots: &mut slots,
                    module: &c.module,
                    closure: Some(c),
                };
                Self::fill_captures(c, &mut frame);
                run(self, &mut frame)
            };
            slots.clear();
            if self.frame_pool.len() < 256 {
                self.frame_pool.push(slots);
            }
            r
        }
    }

    /// Copies the captured values of `c` into their slots.
    #[inline(always)]
    fn fill_captures(c: &Rc<Closure>, frame: &mut Frame) {
        for ((src, slot), v) in c.proto.captures.iter().zip(&c.captures) {
            let v = match (v, src) {
                (Some(v), _) => v.clone(),
                // Late-bound: a top-level name that did not exist when the closure was made.
                (None, CaptureSrc::Global(g)) => c.module.get(*g).unwrap_or(Value::None),
                (None, _) => Value::None,
            };
            crate::value::assign(&mut frame.slots[*slot as usize], v);
        }
    }

    /// Runs the body of `c` in a frame whose parameters are bound.
    pub(super) fn enter(&mut self, c: &Rc<Closure>, frame: &mut Frame, call_site: Span) -> Result<Value, Diagnostic> {
        match self.invoke(c, frame, call_site) {
            Ok(v) => Ok(v),
            Err(Flow::Err(d)) => Err(d),
            // `invoke` turns every other flow into a value.
            Err(_) => Ok(Value::None),
        }
    }

    /// Runs the body of `c` in a frame whose parameters are bound: the hot
    /// part of every call, inlined into the call sites.
    #[inline(always)]
    pub(super) fn invoke(&mut self, c: &Rc<Closure>, frame: &mut Frame, call_site: Span) -> Exec<Value> {
        if self.depth >= MAX_CALL_DEPTH || INTERRUPTED.load(Ordering::Relaxed) {
            return Err(Flow::Err(self.call_refused(c, call_site)));
        }
        self.depth += 1;
        let result = c.proto.body.run(self, frame);
        self.depth -= 1;
        match result {
            Ok(v) => Ok(v),
            Err(flow) => self.call_unwound(c, flow, call_site),
        }
    }

    /// The error for a call past the depth limit or after Ctrl-C.
    #[cold]
    #[inline(never)]
    fn call_refused(&mut self, c: &Rc<Closure>, call_site: Span) -> Diagnostic {
        if self.depth >= MAX_CALL_DEPTH {
            return Diagnostic::new(
                ErrorKind::Recursion,
                format!("maximum call depth ({MAX_CALL_DEPTH}) exceeded in `{}`", c.proto.name),
            )
            .at(call_site)
            .with_note("this is usually a recursion without a base case");
        }
        Diagnostic::new(ErrorKind::Interrupted, "interrupted by Ctrl-C").at(call_site)
    }

    /// A body that ended by `return` (its value), a stray `break`/`continue`
    /// (none), or an error (which gets this call added to its stack).
    #[inline(never)]
    fn call_unwound(&mut self, c: &Rc<Closure>, flow: Flow, call_site: Span) -> Exec<Value> {
        match flow {
            Flow::Return => Ok(std::mem::replace(&mut self.returned, Value::None)),
            Flow::Break | Flow::Continue => Ok(Value::None),
            Flow::Err(mut d) => {
                // Every frame is kept; the report folds runs of identical calls.
                d.stack.push(StackFrame {
                    function: c.proto.name.clone(),
                    call_site,
                });
                if d.span.is_none() {
                    d.span = Some(call_site);
                }
                Err(Flow::Err(d))
            }
        }
    }

    fn bind_params(
        &mut self,
        c: &Rc<Closure>,
        pos: Vec<Value>,
        (mut kw, kw_spans): (Vec<(Rc<str>, Value)>, &[Span]),
        span: Span,
        frame: &mut Frame,
    ) -> Result<(), Diagnostic> {
        let proto = &c.proto;
        let n = proto.params.len();
        if pos.len() == n && kw.is_empty() {
            // Fast path: every argument positional, bound straight into its slot.
            for (p, v) in proto.params.iter().zip(pos) {
                match &p.pattern {
                    ir::Pattern::Bind(Target::Local(s), _) => frame.slots[*s as usize] = v,
                    pat => self.bind(pat, v, frame)?,
                }
            }
            return Ok(());
        }
        if pos.len() > n {
            return Err(Diagnostic::new(
                ErrorKind::Arity,
                format!(
                    "`{}` takes {} argument{} but {} were given",
                    proto.name,
                    n,
                    if n == 1 { "" } else { "s" },
                    pos.len()
                ),
            )
            .at(span)
            .with_label(format!("{} too many", pos.len() - n))
            .with_secondary(proto.span, "defined here"));
        }
        let kw_span = |i: usize| kw_spans.get(i).copied().unwrap_or(span);
        let mut used = vec![false; kw.len()];
        let mut pos = pos.into_iter();
        for p in &proto.params {
            let v = if let Some(v) = pos.next() {
                if let Some(name) = &p.name {
                    if let Some(i) = kw.iter().position(|(k, _)| k == name) {
                        return Err(Diagnostic::new(
                            ErrorKind::Arity,
                            format!("argument `{name}` of `{}` given twice", proto.name),
                        )
                        .at(kw_span(i))
                        .with_label(format!("`{name}` was already given by position")));
                    }
                }
                v
            } else if let Some(i) = p.name.as_ref().and_then(|name| kw.iter().position(|(k, _)| k == name)) {
                used[i] = true;
                std::mem::replace(&mut kw[i].1, Value::None)
            } else if let Some(d) = &p.default {
                match d.run(self, frame) {
                    Ok(v) => v,
                    Err(Flow::Err(mut d)) => {
                        // The default runs inside the callee: show the call.
                        d.stack.push(StackFrame {
                            function: proto.name.clone(),
                            call_site: span,
                        });
                        return Err(d);
                    }
                    // A `return` in a default: its value is not the argument (it
                    // never was), but it must not linger either.
                    Err(Flow::Return) => {
                        self.returned = Value::None;
                        Value::None
                    }
                    Err(_) => Value::None,
                }
            } else {
                let what = p
                    .name
                    .as_ref()
                    .map(|n| format!("`{n}`"))
                    .unwrap_or_else(|| "a destructured argument".into());
                return Err(Diagnostic::new(
                    ErrorKind::Arity,
                    format!("missing argument {what} in call to `{}`", proto.name),
                )
                .at(span)
                .with_label(format!("no value for {what}"))
                .with_secondary(proto.span, "defined here"));
            };
            self.bind(&p.pattern, v, frame)?;
        }
        if let Some(i) = used.iter().position(|u| !u) {
            let k = &kw[i].0;
            let names: Vec<&str> = proto.params.iter().filter_map(|p| p.name.as_deref()).collect();
            let mut d = Diagnostic::new(
                ErrorKind::Arity,
                format!("`{}` has no parameter named `{k}`", proto.name),
            )
            .at(kw_span(i))
            .with_label(format!("`{k}` is not a parameter of `{}`", proto.name))
            .with_note(format!("its parameters are: {}", names.join(", ")));
            if let Some(s) = did_you_mean(k, names.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            return Err(d);
        }
        Ok(())
    }

    pub(super) fn truthy(&self, v: &Value, span: Span, what: &str) -> Result<bool, Diagnostic> {
        match v.strip() {
            Value::Bool(b) => Ok(*b),
            Value::Tensor(t) if t.size() == 1 => Ok(t.item().unwrap_or(0.0) != 0.0),
            other => {
                let mut d = Diagnostic::new(
                    ErrorKind::Type,
                    format!("{what} must be a bool, found {}", other.describe()),
                )
                .at(span)
                .with_label("expected `true` or `false`");
                if let Value::Tensor(_) = other {
                    d = d.with_help("use `all(...)` or `any(...)` to turn a tensor comparison into a bool");
                }
                Err(d)
            }
        }
    }

    #[inline(never)]
    pub(super) fn binary_slow(
        &mut self,
        op: crate::syntax::ast::BinOp,
        x: Value,
        y: Value,
        (a, b, span): (Span, Span, Span),
    ) -> Exec<Value> {
        self.diff.set_span(span);
        use crate::syntax::ast::BinOp;
        // Integer division by zero is the divisor's fault: underline it.
        let at = match (op, &x, &y) {
            (BinOp::FloorDiv | BinOp::Mod, Value::Int(_), Value::Int(0)) => b,
            _ => span,
        };
        let r = crate::ops::arith::binary(op, &x, &y).map_err(|d| d.at(at).with_secondary_if_missing(a, b, &x, &y))?;
        // A tensor operation may run long (a large `@`): see `call`.
        check_interrupt(span)?;
        Ok(r)
    }

    /// Writes one line of program output.
    pub fn write_out(&mut self, s: &str) -> Result<(), Diagnostic> {
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
        Ok(_) | Err(Flow::Continue) => Ok(true),
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

/// `n thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// Reports a call of a value that is not a function, underlining the callee.
pub(super) fn not_callable(v: &Value, callee: Span) -> Result<(), Diagnostic> {
    match v {
        Value::Func(_) | Value::Native(_) => Ok(()),
        other => Err(Diagnostic::new(
            ErrorKind::Type,
            format!("cannot call {}: it is not a function", other.describe()),
        )
        .at(callee)
        .with_label(format!("this is {}", other.describe()))),
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

/// `x.name`: a dict key or a tensor property.
pub fn field(v: &Value, name: &str, span: Span) -> Result<Value, Diagnostic> {
    match v {
        Value::Dict(d) => d
            .get(name)
            .cloned()
            .ok_or_else(|| crate::value::dict::missing_key(d, name, span)),
        other => match (other.strip(), name) {
            (Value::Tensor(_) | Value::Float(_), "shape" | "ndim" | "T" | "size") => {
                let f = match name {
                    "shape" => "shape",
                    "ndim" => "ndim",
                    "size" => "size",
                    _ => "transpose",
                };
                builtins::tensor::property(f, other).map_err(|d| d.at(span))
            }
            _ => Err(
                Diagnostic::new(ErrorKind::Type, format!("{} has no field `{name}`", other.describe()))
                    .at(span)
                    .with_help(if matches!(other.strip(), Value::Tensor(_)) {
                        "tensors have the fields `shape`, `ndim`, `size` and `T`".to_string()
                    } else {
                        "fields are read from dicts (`d.key`) and tensors (`x.shape`)".to_string()
                    }),
            ),
        },
    }
}

trait SecondaryOperands {
    fn with_secondary_if_missing(self, a: Span, b: Span, x: &Value, y: &Value) -> Self;
}

impl SecondaryOperands for Diagnostic {
    /// Labels both operands with their types when a binary operator fails.
    fn with_secondary_if_missing(mut self, a: Span, b: Span, x: &Value, y: &Value) -> Self {
        if self.labels.is_empty() && matches!(self.kind, ErrorKind::Type | ErrorKind::Shape) {
            self.labels.push((a, x.describe()));
            self.labels.push((b, y.describe()));
        }
        self
    }
}
