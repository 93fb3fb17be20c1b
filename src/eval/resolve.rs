//! Name resolution: turns the AST into the slot-addressed IR of [`super::ir`],
//! reporting unbound names (with suggestions) and misplaced `break`/`return`.

use super::ir::{self, CaptureSrc, Target};
use super::module::Module;
use crate::diagnostics::{cap_reports, did_you_mean, excerpt, Diagnostic, ErrorKind, MAX_REPORTS};
use crate::syntax::ast::{self, ExprKind as A};
use crate::syntax::span::Span;
use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// The deepest expression nesting accepted (deeper input is reported, not a stack overflow).
const MAX_NESTING: usize = 20_000;

/// The start of the report for an expression deeper than [`MAX_NESTING`].
const TOO_DEEP: &str = "expression too deep";

/// How many characters of a name a report quotes (a generated program may
/// have a name a million characters long).
const NAME_EXCERPT: usize = 60;

/// The qualifier that names a builtin past any binding that hides it:
/// `builtins.conv2d(...)` (docs/language.md §5.7).
const BUILTINS: &str = "builtins";

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    /// The top level of a module.
    Top,
    /// A `fn` declared at the top level: reads globals when called.
    TopFn,
    /// Any other function: captures by value.
    Nested,
}

struct FnScope {
    kind: ScopeKind,
    blocks: Vec<Vec<(Rc<str>, u32)>>,
    n_slots: u32,
    captures: Vec<(Rc<str>, CaptureSrc, u32)>,
    self_name: Option<Rc<str>>,
    loops: u32,
}

impl FnScope {
    fn new(kind: ScopeKind, self_name: Option<Rc<str>>) -> FnScope {
        FnScope {
            kind,
            blocks: vec![Vec::new()],
            n_slots: 0,
            captures: Vec::new(),
            self_name,
            loops: 0,
        }
    }
    fn alloc(&mut self, name: &Rc<str>) -> u32 {
        let slot = self.n_slots;
        self.n_slots += 1;
        if let Some(b) = self.blocks.last_mut() {
            b.push((name.clone(), slot));
        }
        slot
    }
}

enum Found {
    Local(u32),
    Global(u32),
    SelfRef,
}

/// Resolves one program against a module and the builtins.
pub struct Resolver<'a> {
    module: &'a Module,
    /// The text being resolved (function signatures are shown as written).
    source: &'a str,
    builtins: &'a HashMap<Rc<str>, Value>,
    scopes: Vec<FnScope>,
    errors: Vec<Diagnostic>,
    nesting: usize,
    /// The name a lambda being resolved is bound to (`let f = |x| ...`), so
    /// that it prints and appears in call stacks as `f`.
    lambda_name: Option<Rc<str>>,
    /// Names bound by the `let`s whose values are being resolved (not yet visible).
    defining: Vec<Rc<str>>,
    /// Resolving a REPL entry wrapped in a function of no parameters (for
    /// `:time`): its body accepts what a REPL line accepts, so `import` is
    /// allowed at its top and `return` is not, as at a script's top level.
    entry: bool,
    /// In entry mode, until the wrapper's body block is reached.
    entry_body_pending: bool,
}

impl<'a> Resolver<'a> {
    /// A resolver that declares top-level names in `module`.
    pub fn new(module: &'a Module, builtins: &'a HashMap<Rc<str>, Value>, source: &'a str) -> Resolver<'a> {
        Resolver {
            module,
            source,
            builtins,
            scopes: Vec::new(),
            errors: Vec::new(),
            nesting: 0,
            lambda_name: None,
            defining: Vec::new(),
            entry: false,
            entry_body_pending: false,
        }
    }

    /// The resolver for a REPL entry that [`Interp::compile_entry`] wrapped
    /// in a function of no parameters: the wrapper's body is checked as a
    /// REPL line (`import` allowed at its top, `return` reported as outside
    /// a function), not as a function body.
    ///
    /// [`Interp::compile_entry`]: crate::eval::Interp::compile_entry
    pub fn for_repl_entry(mut self) -> Resolver<'a> {
        self.entry = true;
        self.entry_body_pending = true;
        self
    }

    /// Whether `return` here is outside any function of the user's: at the
    /// top level, or in a REPL entry's wrapper (scope 1).
    fn outside_functions(&self) -> bool {
        self.scopes.len() == 1 || (self.entry && self.scopes.len() == 2)
    }

    /// Resolves a whole program, or returns every error found.
    pub fn program(mut self, p: &ast::Program) -> Result<ir::Program, Vec<Diagnostic>> {
        // Declare every top-level name first, so functions may use names defined later.
        for s in &p.stmts {
            match &s.kind {
                ast::StmtKind::Let(pat, _) => self.declare_pattern_globals(pat),
                ast::StmtKind::Fn(f) => {
                    if let Some(n) = &f.name {
                        self.module.declare(&n.name);
                    }
                }
                ast::StmtKind::Import { name, .. } => {
                    self.module.declare(&name.name);
                }
                _ => {}
            }
        }
        self.scopes.push(FnScope::new(ScopeKind::Top, None));
        let mut hoisted = Vec::new();
        let mut stmts = Vec::new();
        for s in &p.stmts {
            if let ast::StmtKind::Fn(f) = &s.kind {
                if let Some(n) = &f.name {
                    let slot = self.module.declare(&n.name);
                    let proto = self.function(f, ScopeKind::TopFn);
                    hoisted.push((slot, proto));
                    continue;
                }
            }
            if let Some(st) = self.stmt(s, true) {
                stmts.push(st);
            }
        }
        let tail = p.tail.as_ref().map(|e| self.expr(e));
        let top = self.scopes.pop().map(|s| s.n_slots).unwrap_or(0);
        if self.errors.is_empty() {
            Ok(ir::Program {
                hoisted,
                stmts,
                tail,
                n_slots: top,
            })
        } else {
            Err(cap_reports(self.errors))
        }
    }

    fn declare_pattern_globals(&self, p: &ast::Pattern) {
        match p {
            ast::Pattern::Name(i) => {
                self.module.declare(&i.name);
            }
            ast::Pattern::Tuple(ps, _) => ps.iter().for_each(|p| self.declare_pattern_globals(p)),
            ast::Pattern::Dict(es, _) => es.iter().for_each(|(_, p)| self.declare_pattern_globals(p)),
        }
    }

    fn scope(&mut self) -> &mut FnScope {
        // Invariant: a scope is pushed before any statement or expression is resolved.
        self.scopes
            .last_mut()
            .expect("resolver scope stack is never empty while resolving")
    }

    /// Whether `let` here binds module globals (top level, outside any block).
    fn at_top_level(&self) -> bool {
        self.scopes.len() == 1 && self.scopes[0].blocks.len() == 1
    }

    fn lookup(&mut self, depth: usize, name: &Rc<str>) -> Option<Found> {
        let scope = &self.scopes[depth];
        for b in scope.blocks.iter().rev() {
            if let Some((_, slot)) = b.iter().rev().find(|(n, _)| n == name) {
                return Some(Found::Local(*slot));
            }
        }
        if let Some((_, _, slot)) = scope.captures.iter().find(|(n, _, _)| n == name) {
            return Some(Found::Local(*slot));
        }
        if scope.self_name.as_ref() == Some(name) {
            return Some(Found::SelfRef);
        }
        if depth == 0 {
            return self.module.lookup(name).map(Found::Global);
        }
        let kind = scope.kind;
        let src = match self.lookup(depth - 1, name)? {
            Found::Global(g) if kind == ScopeKind::TopFn => return Some(Found::Global(g)),
            Found::Global(g) => CaptureSrc::Global(g),
            Found::Local(s) => CaptureSrc::Local(s),
            Found::SelfRef => CaptureSrc::SelfRef,
        };
        let scope = &mut self.scopes[depth];
        let slot = scope.n_slots;
        scope.n_slots += 1;
        scope.captures.push((name.clone(), src, slot));
        Some(Found::Local(slot))
    }

    fn name(&mut self, name: &Rc<str>, span: Span) -> ir::ExprKind {
        let depth = self.scopes.len() - 1;
        match self.lookup(depth, name) {
            Some(Found::Local(s)) => ir::ExprKind::Local(s),
            Some(Found::Global(g)) => ir::ExprKind::Global(g, name.clone()),
            Some(Found::SelfRef) => ir::ExprKind::SelfRef,
            None => match self.builtins.get(name) {
                Some(v) => ir::ExprKind::Const(v.clone()),
                None => {
                    self.unbound(name, span);
                    ir::ExprKind::Const(Value::None)
                }
            },
        }
    }

    /// Whether `x` is the qualifier `builtins` of `builtins.NAME`: the bare
    /// name `builtins`, not bound by the program (a binding of that name
    /// wins, as for any builtin).
    fn is_builtins_prefix(&mut self, x: &ast::Expr) -> bool {
        match &x.kind {
            ast::ExprKind::Var(n) if &**n == BUILTINS => {
                let depth = self.scopes.len() - 1;
                self.lookup(depth, n).is_none()
            }
            _ => false,
        }
    }

    /// `builtins.NAME`: the builtin called NAME, even where a function or
    /// variable of the program (a module's own `fn conv2d`, say) hides it.
    fn qualified_builtin(&mut self, n: &ast::Ident) -> ir::ExprKind {
        if !n.name.starts_with('$') {
            if let Some(v) = self.builtins.get(&n.name) {
                return ir::ExprKind::Const(v.clone());
            }
        }
        let shown = excerpt(&n.name, NAME_EXCERPT);
        let mut d = Diagnostic::new(ErrorKind::Name, format!("there is no builtin named `{shown}`"))
            .at(n.span)
            .with_label("not a builtin function or constant");
        let names = self.builtins.keys().filter(|k| !k.starts_with('$'));
        if let Some(s) = did_you_mean(&n.name, names.map(|k| &**k)) {
            d = d.with_help(format!("did you mean `builtins.{s}`?"));
        }
        self.errors.push(d);
        ir::ExprKind::Const(Value::None)
    }

    fn visible_names(&self) -> Vec<Rc<str>> {
        let mut names: Vec<Rc<str>> = Vec::new();
        for s in &self.scopes {
            for b in &s.blocks {
                names.extend(b.iter().map(|(n, _)| n.clone()));
            }
            names.extend(s.captures.iter().map(|(n, _, _)| n.clone()));
        }
        names.extend(self.module.names());
        names.extend(self.builtins.keys().filter(|k| !k.starts_with('$')).cloned());
        names
    }

    fn unbound(&mut self, name: &Rc<str>, span: Span) {
        let mut d = Diagnostic::new(
            ErrorKind::Name,
            format!("unbound name `{}`", excerpt(name, NAME_EXCERPT)),
        )
        .at(span)
        .with_label("not defined here or in any enclosing scope");
        // Past the reports that are shown, only the count matters: skip the search.
        if self.errors.len() >= MAX_REPORTS {
            self.errors.push(d);
            return;
        }
        let names = self.visible_names();
        if self.defining.contains(name) {
            d = d.with_help(format!(
                "`{name}` is being defined by this `let` and is not visible in its own value; \
                 for a recursive function write `fn {name}(...) {{ ... }}`"
            ));
        } else if let Some(h) = crate::hints::numpy_alias(name, |n| names.iter().any(|m| &**m == n)) {
            d = d.with_help(h);
        } else if let Some(s) = did_you_mean(name, names.iter().map(|n| &**n)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if let Some(h) = crate::hints::foreign_keyword(name, None) {
            d = d.with_help(h);
        }
        self.errors.push(d);
    }

    fn target_for_assign(&mut self, name: &ast::Ident) -> Option<Target> {
        let depth = self.scopes.len() - 1;
        match self.lookup(depth, &name.name) {
            Some(Found::Local(s)) => Some(Target::Local(s)),
            Some(Found::Global(g)) => Some(Target::Global(g)),
            Some(Found::SelfRef) | None => {
                let shown = excerpt(&name.name, NAME_EXCERPT);
                let mut d = Diagnostic::new(ErrorKind::Name, format!("cannot assign to unbound name `{shown}`"))
                    .at(name.span)
                    .with_label("no variable of this name is in scope");
                if self.errors.len() >= MAX_REPORTS {
                    self.errors.push(d);
                    return None;
                }
                let names = self.visible_names();
                d = match did_you_mean(&name.name, names.iter().map(|n| &**n)) {
                    Some(s) => d.with_help(format!(
                        "did you mean `{s}`? To create a new variable, write `let {shown} = ...`"
                    )),
                    None => d.with_help(format!("to create a new variable, write `let {shown} = ...`")),
                };
                self.errors.push(d);
                None
            }
        }
    }

    fn bind_target(&mut self, name: &Rc<str>) -> Target {
        if self.at_top_level() {
            Target::Global(self.module.declare(name))
        } else {
            Target::Local(self.scope().alloc(name))
        }
    }

    fn pattern(&mut self, p: &ast::Pattern) -> ir::Pattern {
        match p {
            ast::Pattern::Name(i) => ir::Pattern::Bind(self.bind_target(&i.name), i.span),
            ast::Pattern::Tuple(ps, span) => ir::Pattern::Tuple(ps.iter().map(|p| self.pattern(p)).collect(), *span),
            ast::Pattern::Dict(es, span) => ir::Pattern::Dict(
                es.iter()
                    .map(|(k, p)| (k.name.clone(), k.span, self.pattern(p)))
                    .collect(),
                *span,
            ),
        }
    }

    /// Reports a name bound twice by one binding: two parameters of one
    /// function (`fn f(a, a)`), or two places of one pattern (`let (a, a)`).
    /// Only one of the values could ever be read, so the program surely
    /// means something else. `_` is exempt: it is the conventional name for
    /// a value that is ignored (`let (_, l, _) = ...`, `|_, _| 0`).
    fn check_duplicates<'p>(&mut self, patterns: impl IntoIterator<Item = &'p ast::Pattern>, params: bool) {
        fn names<'p>(p: &'p ast::Pattern, out: &mut Vec<&'p ast::Ident>) {
            match p {
                ast::Pattern::Name(i) => out.push(i),
                ast::Pattern::Tuple(ps, _) => ps.iter().for_each(|p| names(p, out)),
                ast::Pattern::Dict(es, _) => es.iter().for_each(|(_, p)| names(p, out)),
            }
        }
        let mut bound = Vec::new();
        for p in patterns {
            names(p, &mut bound);
        }
        // (A map, not a search of the earlier names: a generated program may
        // have a pattern of a million names.)
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for later in bound {
            if &*later.name == "_" {
                continue;
            }
            let Some(&first) = seen.get(&*later.name) else {
                seen.insert(&later.name, later.span);
                continue;
            };
            let shown = excerpt(&later.name, NAME_EXCERPT);
            let d = if params {
                Diagnostic::new(ErrorKind::Syntax, format!("duplicate parameter `{shown}`"))
                    .at(later.span)
                    .with_label("a second parameter of this name")
                    .with_secondary(first, format!("`{shown}` is first a parameter here"))
                    .with_help("give each parameter its own name")
            } else {
                Diagnostic::new(ErrorKind::Syntax, format!("`{shown}` is bound twice in one pattern"))
                    .at(later.span)
                    .with_label("a second binding of this name")
                    .with_secondary(first, format!("`{shown}` is first bound here"))
                    .with_help("give each part its own name (`_` for a part that is not used)")
            };
            self.errors.push(d);
        }
    }

    /// The parameter list as written, `(a, (b, c), lr=0.1)`, for printing the
    /// function; long defaults are elided.
    fn params_text(&self, params: &[ast::Param]) -> Rc<str> {
        let text = |sp: Span| {
            let t = self.source.get(sp.start as usize..sp.end as usize).unwrap_or("_");
            t.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let parts: Vec<String> = params
            .iter()
            .map(|p| {
                let mut s = text(p.pattern.span());
                if let Some(d) = &p.default {
                    let d = text(d.span);
                    s.push('=');
                    s.push_str(if d.chars().count() <= 24 { &d } else { "..." });
                }
                s
            })
            .collect();
        Rc::from(format!("({})", parts.join(", ")))
    }

    fn function(&mut self, f: &ast::FnDef, kind: ScopeKind) -> Rc<ir::FnProto> {
        let hint = self.lambda_name.take();
        let self_name = if kind == ScopeKind::Nested {
            f.name.as_ref().map(|n| n.name.clone())
        } else {
            None
        };
        self.scopes.push(FnScope::new(kind, self_name));
        let saved_nesting = self.nesting;
        let mut params = Vec::new();
        let params_text = self.params_text(&f.params);
        self.check_duplicates(f.params.iter().map(|p| &p.pattern), true);
        for p in &f.params {
            let pattern = self.pattern(&p.pattern);
            let name = match &p.pattern {
                ast::Pattern::Name(i) => Some(i.name.clone()),
                _ => None,
            };
            let default = p.default.as_ref().map(|e| self.expr(e));
            params.push(ir::Param { name, pattern, default });
        }
        let body = self.expr(&f.body);
        self.nesting = saved_nesting;
        // Invariant: pushed above.
        let scope = self.scopes.pop().expect("function scope was pushed");
        let name: Rc<str> = f
            .name
            .as_ref()
            .map(|n| n.name.clone())
            .or(hint)
            .unwrap_or_else(|| Rc::from("<lambda>"));
        let simple_params = params
            .iter()
            .map(|p| match p.pattern {
                ir::Pattern::Bind(Target::Local(s), _) => Some(s),
                _ => None,
            })
            .collect();
        Rc::new(ir::FnProto {
            name,
            params_text,
            simple_params,
            params,
            n_slots: scope.n_slots,
            captures: scope.captures.iter().map(|(_, src, slot)| (*src, *slot)).collect(),
            body,
            span: f.span,
        })
    }

    fn block(&mut self, b: &ast::Block) -> ir::Expr {
        // A REPL entry's body is a top level: its imports are allowed.
        let top = std::mem::take(&mut self.entry_body_pending);
        self.scope().blocks.push(Vec::new());
        let mut stmts = Vec::new();
        for s in &b.stmts {
            if let Some(st) = self.stmt(s, top) {
                stmts.push(st);
            }
        }
        let tail = b.tail.as_ref().map(|e| Box::new(self.expr(e)));
        self.scope().blocks.pop();
        match (stmts.is_empty(), tail) {
            // `{ e }` is just `e`: one tree node fewer on every evaluation.
            (true, Some(t)) => *t,
            (_, tail) => ir::Expr {
                kind: ir::ExprKind::Block(stmts, tail),
                span: b.span,
            },
        }
    }

    fn stmt(&mut self, s: &ast::Stmt, top: bool) -> Option<ir::Stmt> {
        use ast::StmtKind as S;
        Some(match &s.kind {
            S::Let(p, e) => {
                // The value is resolved before the pattern binds: `let x = x + 1` reads the outer `x`.
                if let (ast::Pattern::Name(n), A::Lambda(_)) = (p, &e.kind) {
                    self.lambda_name = Some(n.name.clone());
                }
                let depth = self.defining.len();
                if let ast::Pattern::Name(n) = p {
                    self.defining.push(n.name.clone());
                }
                let v = self.expr(e);
                self.defining.truncate(depth);
                self.check_duplicates([p], false);
                ir::Stmt::Let(self.pattern(p), v)
            }
            S::Assign(n, e) => {
                if let Some(update) = self.update(n, e).or_else(|| self.grow(n, e)) {
                    return update;
                }
                let v = self.expr(e);
                ir::Stmt::Assign(self.target_for_assign(n)?, v)
            }
            S::Expr(e, _) => ir::Stmt::Expr(self.expr(e)),
            S::Fn(f) => {
                // Invariant: the grammar gives every `fn` declaration a name.
                let name = f
                    .name
                    .as_ref()
                    .map(|n| n.name.clone())
                    .unwrap_or_else(|| Rc::from("<fn>"));
                let target = self.bind_target(&name);
                let proto = self.function(f, ScopeKind::Nested);
                ir::Stmt::Fn(target, proto)
            }
            S::Return(e) => {
                if self.outside_functions() {
                    self.errors.push(
                        Diagnostic::new(ErrorKind::Syntax, "`return` outside of a function")
                            .at(s.span)
                            .with_label("not inside any function"),
                    );
                }
                ir::Stmt::Return(e.as_ref().map(|e| self.expr(e)), s.span)
            }
            S::Break | S::Continue => {
                if self.scope().loops == 0 {
                    let what = if matches!(s.kind, S::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.errors.push(
                        Diagnostic::new(ErrorKind::Syntax, format!("`{what}` outside of a loop"))
                            .at(s.span)
                            .with_label("not inside any `while` or `for` of this function"),
                    );
                }
                if matches!(s.kind, S::Break) {
                    ir::Stmt::Break(s.span)
                } else {
                    ir::Stmt::Continue(s.span)
                }
            }
            S::Import { path, name } => {
                if !top {
                    self.errors.push(
                        Diagnostic::new(ErrorKind::Syntax, "`import` is only allowed at the top level of a file")
                            .at(s.span)
                            .with_label("inside a block or function")
                            .with_help("move the import to the top of the file"),
                    );
                }
                let target = self.bind_target(&name.name);
                ir::Stmt::Import {
                    target,
                    path: path.clone(),
                    name: name.name.clone(),
                    span: s.span,
                }
            }
            S::Error => return None,
        })
    }

    /// `x = x op rhs` (op one of `+ - * /`) becomes an in-place update when
    /// `rhs` cannot observe `x` while it runs: it never names `x`, and for a
    /// global it calls nothing (a called function could read the global).
    /// `x = append(x, v)` / `x = insert(x, k, v)` (the builtins, not shadowed)
    /// becomes a [`ir::Stmt::Grow`] when evaluating the other arguments first
    /// cannot change `x`: they hold no statements (for a local), and call
    /// nothing (for a global, which a called function could rebind).
    fn grow(&mut self, n: &ast::Ident, e: &ast::Expr) -> Option<Option<ir::Stmt>> {
        let A::Call(f, args) = &e.kind else { return None };
        let A::Var(fname) = &f.kind else { return None };
        let kind = match (&**fname, args.len()) {
            ("append", 2) => ir::GrowKind::Append,
            ("insert", 3) => ir::GrowKind::Insert,
            _ => return None,
        };
        if args.iter().any(|a| a.name.is_some()) || !matches!(&args[0].value.kind, A::Var(v) if *v == n.name) {
            return None;
        }
        let depth = self.scopes.len() - 1;
        // The name must mean the builtin here, not a user binding of it.
        if self.lookup(depth, fname).is_some() {
            return None;
        }
        let has_statements = |x: &ast::Expr| matches!(x.kind, A::Block(_) | A::If(..) | A::While(..) | A::For(..));
        let others = &args[1..];
        if others.iter().any(|a| a.value.any(&has_statements)) {
            return None;
        }
        let target = match self.lookup(depth, &n.name)? {
            Found::Local(s) => Target::Local(s),
            Found::Global(g) if !others.iter().any(|a| a.value.any(&|x| matches!(x.kind, A::Call(..)))) => {
                Target::Global(g)
            }
            _ => return None,
        };
        let call = self.expr(e);
        Some(Some(ir::Stmt::Grow { target, kind, call }))
    }

    fn update(&mut self, n: &ast::Ident, e: &ast::Expr) -> Option<Option<ir::Stmt>> {
        use ast::BinOp as B;
        let A::Binary(op @ (B::Add | B::Sub | B::Mul | B::Div), lhs, rhs) = &e.kind else {
            return None;
        };
        if !matches!(&lhs.kind, A::Var(v) if *v == n.name) {
            return None;
        }
        let name = n.name.clone();
        if rhs.any(&|x| matches!(&x.kind, A::Var(v) if *v == name)) {
            return None;
        }
        let depth = self.scopes.len() - 1;
        let target = match self.lookup(depth, &n.name)? {
            Found::Local(s) => Target::Local(s),
            Found::Global(g) if !rhs.any(&|x| matches!(x.kind, A::Call(..))) => Target::Global(g),
            _ => return None,
        };
        let rhs_ir = self.expr(rhs);
        Some(Some(ir::Stmt::Update {
            target,
            name: n.name.clone(),
            op: *op,
            rhs: rhs_ir,
            lhs_span: lhs.span,
            span: e.span,
        }))
    }

    fn args(&mut self, args: &[ast::Arg]) -> Vec<ir::Arg> {
        let mut seen_kw = false;
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            if a.name.is_some() {
                seen_kw = true;
            } else if seen_kw {
                self.errors.push(
                    Diagnostic::new(ErrorKind::Syntax, "positional argument after a keyword argument")
                        .at(a.value.span)
                        .with_label("move this before the keyword arguments"),
                );
            }
            out.push(ir::Arg {
                name: a.name.as_ref().map(|n| n.name.clone()),
                span: a.name.as_ref().map_or(a.value.span, |n| n.span.to(a.value.span)),
                value: self.expr(&a.value),
            });
        }
        out
    }

    fn boxed(&mut self, e: &ast::Expr) -> Box<ir::Expr> {
        Box::new(self.expr(e))
    }

    fn expr(&mut self, e: &ast::Expr) -> ir::Expr {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.nesting -= 1;
            if !self.errors.iter().any(|d| d.message.starts_with(TOO_DEEP)) {
                // The tree is what is deep: a flat chain `a + b + c + ...` is
                // a tree one level deeper per operator, and is resolved,
                // compiled and run by recursion like any nesting.
                self.errors.push(
                    Diagnostic::new(
                        ErrorKind::Syntax,
                        format!("{TOO_DEEP}: more than {MAX_NESTING} levels of nested or chained operations"),
                    )
                    .at(e.span)
                    .with_label(format!("this part is more than {MAX_NESTING} levels down"))
                    .with_help(
                        "each operator of a chain like `a + b + c + ...` adds a level, as each bracket does: \
                         add many terms up in a loop, or with `sum` over a tensor",
                    ),
                );
            }
            return ir::Expr {
                kind: ir::ExprKind::Const(Value::None),
                span: e.span,
            };
        }
        let kind = match &e.kind {
            A::Int(i) => ir::ExprKind::Const(Value::Int(*i)),
            A::Float(x) => ir::ExprKind::Const(Value::Float(*x)),
            A::Str(s) => ir::ExprKind::Const(Value::Str(s.clone())),
            A::Bool(b) => ir::ExprKind::Const(Value::Bool(*b)),
            A::None => ir::ExprKind::Const(Value::None),
            A::Var(n) => self.name(n, e.span),
            A::Tensor(es) => ir::ExprKind::Tensor(es.iter().map(|e| self.expr(e)).collect()),
            A::Tuple(es) => ir::ExprKind::Tuple(es.iter().map(|e| self.expr(e)).collect()),
            A::Dict(es) => ir::ExprKind::Dict(
                es.iter()
                    .map(|d| match d {
                        ast::DictEntry::Pair(k, v) => ir::DictItem::Pair(k.name.clone(), self.expr(v)),
                        ast::DictEntry::Spread(v) => ir::DictItem::Spread(self.expr(v)),
                    })
                    .collect(),
            ),
            A::Neg(x) => ir::ExprKind::Neg(self.boxed(x)),
            A::Not(x) => ir::ExprKind::Not(self.boxed(x)),
            A::Binary(op, a, b) => ir::ExprKind::Binary(*op, self.boxed(a), self.boxed(b)),
            A::And(a, b) => ir::ExprKind::And(self.boxed(a), self.boxed(b)),
            A::Or(a, b) => ir::ExprKind::Or(self.boxed(a), self.boxed(b)),
            A::Call(f, args) => match &f.kind {
                A::Field(recv, m) if self.is_builtins_prefix(recv) => {
                    let callee = ir::Expr {
                        kind: self.qualified_builtin(m),
                        span: f.span,
                    };
                    ir::ExprKind::Call(Box::new(callee), self.args(args))
                }
                A::Field(recv, m) => {
                    let recv = self.boxed(recv);
                    ir::ExprKind::Method(recv, m.name.clone(), m.span, self.args(args))
                }
                _ => ir::ExprKind::Call(self.boxed(f), self.args(args)),
            },
            A::Field(x, n) if self.is_builtins_prefix(x) => self.qualified_builtin(n),
            A::Field(x, n) => ir::ExprKind::Field(self.boxed(x), n.name.clone(), n.span),
            A::Index(x, items) => {
                let x = self.boxed(x);
                let items = items
                    .iter()
                    .map(|i| match i {
                        ast::IndexItem::At(e) => ir::IndexItem::At(self.expr(e)),
                        ast::IndexItem::Slice(a, b, c) => ir::IndexItem::Slice(
                            a.as_ref().map(|e| self.expr(e)),
                            b.as_ref().map(|e| self.expr(e)),
                            c.as_ref().map(|e| self.expr(e)),
                        ),
                        ast::IndexItem::Ellipsis(s) => ir::IndexItem::Ellipsis(*s),
                    })
                    .collect();
                ir::ExprKind::Index(x, items)
            }
            A::Lambda(f) => ir::ExprKind::Lambda(self.function(f, ScopeKind::Nested)),
            A::Block(b) => {
                let blk = self.block(b);
                return self.finish(blk);
            }
            A::If(c, t, f) => {
                let c = self.boxed(c);
                let t = Box::new(self.block(t));
                let f = f.as_ref().map(|f| self.boxed(f));
                ir::ExprKind::If(c, t, f)
            }
            A::While(c, body) => {
                let c = self.boxed(c);
                self.scope().loops += 1;
                let body = Box::new(self.block(body));
                self.scope().loops -= 1;
                ir::ExprKind::While(c, body)
            }
            A::For(p, it, body) => {
                let it = self.boxed(it);
                self.scope().blocks.push(Vec::new());
                self.check_duplicates([p], false);
                let pat = self.pattern(p);
                self.scope().loops += 1;
                let body = Box::new(self.block(body));
                self.scope().loops -= 1;
                self.scope().blocks.pop();
                ir::ExprKind::For(pat, it, body)
            }
        };
        self.finish(ir::Expr { kind, span: e.span })
    }

    fn finish(&mut self, e: ir::Expr) -> ir::Expr {
        self.nesting -= 1;
        e
    }
}
