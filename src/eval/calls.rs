//! The calling convention: making closures, frames, binding arguments to
//! parameters (positional, keyword, defaults, patterns), the call depth
//! limit and the call stack shown in reports.

use super::compile::FnCode;
use super::interp::{check_interrupt, Exec, Flow, Frame, Interp, INLINE_SLOTS, INTERRUPTED, MAX_CALL_DEPTH};
use super::ir::{self, CaptureSrc, Target};
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind, StackFrame};
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::{Closure, Value};
use std::rc::Rc;
use std::sync::atomic::Ordering;

impl Interp {
    pub(super) fn make_closure(&mut self, proto: &Rc<FnCode>, f: &Frame) -> Value {
        if !self.jit_watch.is_empty() {
            for (src, _) in &proto.captures {
                if let CaptureSrc::Global(g) = src {
                    if let Some(v) = f.module.get(*g) {
                        self.note_global_read(f.module, *g, &v);
                    }
                }
            }
        }
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
            direct_arity: proto.direct_arity,
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
                let mut args = args;
                // Primitives the builtin applies, and reads of traced ints
                // and keys among its arguments (`range(n)` in a jit trace:
                // a guard), are attributed to its call.
                self.diff.set_span(span);
                if !self.jit_watch.is_empty() {
                    self.jit_native(&n.name, &mut args, span)?;
                }
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

    /// What a running jit trace notes of a call of the builtin `name`: a
    /// side effect, and in a trace with int or key inputs, the ints and keys
    /// it reads (see `jit::Watch::int_inputs`, `jit::Watch::key_inputs`).
    #[cold]
    #[inline(never)]
    fn jit_native(&mut self, name: &str, args: &mut Args, span: Span) -> Result<(), Diagnostic> {
        use crate::autodiff::jit::watch;
        let key_inputs = self.jit_watch.iter().any(|w| w.key_inputs);
        // Keyed draws make traced ints too (`key_randint(k, (), 0, 9)`).
        let int_inputs = key_inputs || self.jit_watch.iter().any(|w| w.int_inputs);
        if watch::is_effect(name) {
            // Before any other effect, a trace with int or key inputs stops
            // here (and is done again without them), so the effect happens once.
            if int_inputs && self.jit_watch.iter().all(|w| w.effect.is_none()) {
                for w in &mut self.jit_watch {
                    w.aborted = true;
                }
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    "a jit trace with int inputs stopped before a side effect",
                ));
            }
            self.note_effect(format!("calls `{name}`"), span);
        }
        let ints = int_inputs && !watch::takes_traced_ints(name);
        let keys = key_inputs && !watch::takes_traced_keys(name);
        if ints || keys {
            watch::settle(args, ints, keys)?;
        }
        Ok(())
    }

    /// A call of `c` under `DP_JIT=all`: through its jitted form.
    #[cold]
    #[inline(never)]
    fn call_jit_all(
        &mut self,
        c: &Rc<Closure>,
        pos: Vec<Value>,
        (kw, kw_spans): (Vec<(Rc<str>, Value)>, &[Span]),
        call_site: Span,
    ) -> Result<Value, Diagnostic> {
        let Some(all) = self.jit_all.as_mut() else {
            return Err(Diagnostic::new(ErrorKind::Value, "jit: DP_JIT=all is not on"));
        };
        let jitted = all.of(c);
        let mut spans = vec![call_site; pos.len()];
        spans.extend_from_slice(kw_spans);
        let args = Args {
            pos,
            kw,
            span: call_site,
            spans,
        };
        jitted.call(self, args)
    }

    /// Runs the body of `c`, a function of no parameters made by
    /// [`Interp::compile_entry`], as its entry would run: an error comes back
    /// as the body raised it, with no frame for a call the user never wrote
    /// (and so no call site to locate it by). A Ctrl-C from before the run
    /// is reported without a location, as one at the end of a program is.
    pub fn run_body(&mut self, c: &Rc<Closure>) -> Result<Value, Diagnostic> {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(Diagnostic::new(ErrorKind::Interrupted, "interrupted by Ctrl-C"));
        }
        self.with_frame(c, |i, frame| {
            i.depth += 1;
            let result = c.proto.body.run(i, frame);
            i.depth -= 1;
            match result {
                Ok(v) => Ok(v),
                Err(Flow::Err(d)) => Err(d),
                Err(Flow::Return) => Ok(std::mem::replace(&mut i.returned, Value::None)),
                Err(Flow::Break | Flow::Continue) => Ok(Value::None),
            }
        })
    }

    /// Calls a function with positional arguments only.
    pub fn call_pos(&mut self, callee: &Value, pos: Vec<Value>, span: Span) -> Result<Value, Diagnostic> {
        self.call(callee, Args::positional(pos, span))
    }

    /// Calls a function with the positional arguments `args`, moved out of
    /// the slice (which is left holding `none`s): the path of builtins that
    /// call a function per element (`reduce`, `map`, `tree_map`). A dp
    /// function taking exactly these arguments as plain names gets them
    /// moved straight into its frame, word by word (see [`crate::value::put`]),
    /// with no argument vectors built; anything else goes through
    /// [`Interp::call_pos`].
    pub fn call_values(&mut self, callee: &Value, args: &mut [Value], span: Span) -> Result<Value, Diagnostic> {
        if let Value::Func(c) = callee {
            let plain = c.proto.params.len() == args.len()
                && c.proto
                    .params
                    .iter()
                    .all(|p| matches!(p.pattern, ir::Pattern::Bind(Target::Local(_), _)));
            if plain && self.jit_all.is_none() {
                return self.with_frame(c, |i, frame| {
                    for (p, v) in c.proto.params.iter().zip(args.iter_mut()) {
                        if let ir::Pattern::Bind(Target::Local(s), _) = p.pattern {
                            // A parameter's slot is a fresh frame's `none`.
                            crate::value::assign(&mut frame.slots[s as usize], crate::value::take(v));
                        }
                    }
                    i.enter(c, frame, span)
                });
            }
        }
        let pos = args.iter_mut().map(crate::value::take).collect();
        self.call_pos(callee, pos, span)
    }

    pub(super) fn call_closure(
        &mut self,
        c: &Rc<Closure>,
        pos: Vec<Value>,
        kw: (Vec<(Rc<str>, Value)>, &[Span]),
        call_site: Span,
    ) -> Result<Value, Diagnostic> {
        if self.jit_all.is_some() && !std::mem::take(&mut self.jit_skip_next) && self.jit_watch.is_empty() {
            return self.call_jit_all(c, pos, kw, call_site);
        }
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

    /// The arguments of a call of `f` as positional ones only: keywords moved
    /// to their parameters' places and omitted parameters filled with their
    /// defaults, exactly as the call would bind them. Transformations that
    /// see a call's arguments as one tuple (`custom_vjp`, `custom_jvp`,
    /// `checkpoint`) resolve them first, as JAX's `resolve_kwargs` does, so a
    /// rule receives (and returns cotangents for) every parameter.
    pub fn resolve_kwargs(&mut self, f: &Value, args: Args) -> Result<Args, Diagnostic> {
        let Value::Func(c) = f else {
            return Ok(args);
        };
        let n = c.proto.params.len();
        if args.kw.is_empty() && args.pos.len() >= n {
            return Ok(args);
        }
        let span = args.span;
        let spans = args.spans.clone();
        let kw_spans = spans.get(args.pos.len()..).unwrap_or(&[]).to_vec();
        self.with_frame(c, |i, frame| {
            i.bind_params(c, args.pos, (args.kw, &kw_spans), span, frame)?;
            let mut pos = Vec::with_capacity(n);
            for p in &c.proto.params {
                match &p.pattern {
                    ir::Pattern::Bind(Target::Local(s), _) => pos.push(frame.slots[*s as usize].clone()),
                    _ => {
                        return Err(Diagnostic::new(
                            ErrorKind::Arity,
                            format!(
                                "`{}` has a destructuring parameter, so a call with keywords or defaults cannot be turned into positional arguments for a custom derivative rule",
                                c.proto.name
                            ),
                        )
                        .at(span)
                        .with_help("pass every argument by position"))
                    }
                }
            }
            Ok(Args {
                pos,
                kw: Vec::new(),
                span,
                spans: spans.get(..n).map(<[Span]>::to_vec).unwrap_or_default(),
            })
        })
    }

    /// Runs `run` with a fresh frame for a call of `c` (captured values in
    /// place, every other slot `none`). Frames of up to [`INLINE_SLOTS`]
    /// variables live on the native stack, so most calls allocate nothing.
    #[inline(always)]
    pub(super) fn with_frame<T>(&mut self, c: &Rc<Closure>, run: impl FnOnce(&mut Self, &mut Frame) -> T) -> T {
        let n = c.proto.n_slots as usize;
        if n <= INLINE_SLOTS {
            // Only the frame's `n` slots are initialised (to `none`): writing
            // all INLINE_SLOTS cost 8 stores on every call of a 1-slot function.
            let mut store = [const { std::mem::MaybeUninit::<Value>::uninit() }; INLINE_SLOTS];
            for slot in &mut store[..n] {
                slot.write(Value::None);
            }
            // SAFETY: the first `n` elements were just initialised, and
            // `MaybeUninit<Value>` has the layout of `Value`.
            let slots = unsafe { &mut *(&mut store[..n] as *mut [std::mem::MaybeUninit<Value>] as *mut [Value]) };
            let r = {
                let mut frame = Frame {
                    slots: &mut *slots,
                    module: &c.module,
                    closure: Some(c),
                };
                self.fill_captures(c, &mut frame);
                run(self, &mut frame)
            };
            // The frame's values are dropped (scalars need no drop call); the
            // rest of the store was never initialised.
            for v in slots.iter_mut() {
                crate::value::assign(v, Value::None);
            }
            // The body's result was just written as words: passed on as
            // words (a wide move of it stalled, see `crate::value::put`).
            crate::value::relay(r)
        } else {
            let mut slots = self.frame_pool.pop().unwrap_or_default();
            slots.resize_with(n, || Value::None);
            let r = {
                let mut frame = Frame {
                    slots: &mut slots,
                    module: &c.module,
                    closure: Some(c),
                };
                self.fill_captures(c, &mut frame);
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
    fn fill_captures(&mut self, c: &Rc<Closure>, frame: &mut Frame) {
        for ((src, slot), v) in c.proto.captures.iter().zip(&c.captures) {
            let v = self.captured(c, *src, v);
            crate::value::assign(&mut frame.slots[*slot as usize], v);
        }
    }

    /// The value a call of `c` puts in the slot of the capture from `src`
    /// (whose value when `c` was made is `v`).
    #[inline(always)]
    pub(super) fn captured(&mut self, c: &Rc<Closure>, src: CaptureSrc, v: &Option<Value>) -> Value {
        match (v, src) {
            (Some(v), _) => v.clone(),
            // Late-bound: a top-level name that did not exist when the closure was made.
            (None, CaptureSrc::Global(g)) => {
                let v = c.module.get(g).unwrap_or(Value::None);
                if !self.jit_watch.is_empty() {
                    // Read at each call, so a plan holds only while it is unchanged.
                    self.note_global_read(&c.module, g, &v);
                }
                v
            }
            (None, _) => Value::None,
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
            // Every frame is kept; the report folds runs of identical calls.
            Flow::Err(d) => Err(Flow::Err(d.called_from(c.proto.name.clone(), call_site))),
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
}

/// `n thing` or `n things`.
pub(super) fn plural(n: usize, thing: &str) -> String {
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
