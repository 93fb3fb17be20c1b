//! Closure compilation of the resolved IR: the one evaluator.
//!
//! Every function body (and every top-level program) is turned once, after
//! it is resolved, into a tree of Rust closures: each node knows statically
//! what it is (a local read, `n < 2` on a local and a constant, a positional
//! call of a global, ...), so running it costs one indirect call and no
//! dispatch on the node kind, and each closure's stack frame is only as large
//! as its own work needs. Operators are specialised per operator at compile
//! time. Every construct of the IR compiles here; the runtime support the
//! compiled code calls (frames, calls, binding, imports) is in `interp.rs`.

use super::calls::not_callable;
use super::interp::{after_body, check_interrupt, unbound_global_error, Exec, Flow, Frame, Interp, INLINE_SLOTS};
use super::ir::{self, CaptureSrc, ExprKind as K, Pattern, Stmt, Target};
use super::operands::field;
use super::places::{with_place, Place, Side};
use crate::diagnostics::{did_you_mean, Diagnostic, ErrorKind};
use crate::syntax::ast::BinOp;
use crate::syntax::span::Span;
use crate::value::native::Args;
use crate::value::{assign, Tuple, Value};
use std::fmt;
use std::rc::Rc;

/// Calls `f::<N>(args)` where `N` is `op`'s code, so that each operator
/// gets its own monomorphised closure (see [`OpOf`]).
macro_rules! by_op {
    ($op:expr, $f:ident $args:tt) => {
        by_op!(@arms $op, $f, $args, 0 1 2 3 4 5 6 7 8 9 10 11 12 13)
    };
    (@arms $op:expr, $f:ident, $args:tt, $($n:literal)*) => {
        match op_code($op) {
            $($n => $f::<$n> $args,)*
            _ => $f::<0> $args,
        }
    };
}

type ExprFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> Exec<Value>;
type StmtFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> Exec<()>;
type CondFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> Exec<bool>;

/// A compiled expression: call [`Code::run`] with the interpreter and the frame.
pub struct Code(Box<ExprFn>);

/// A compiled statement.
pub struct StmtCode(Box<StmtFn>);

/// A compiled condition (of `if`, `while`, `not`, `and`, `or`): yields the
/// bool directly, so a comparison needs no `Value` in between.
struct Cond(Box<CondFn>);

impl Cond {
    #[inline(always)]
    fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<bool> {
        (self.0)(i, f)
    }
}

impl Code {
    /// Evaluates the expression in frame `f`.
    #[inline(always)]
    pub fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value> {
        (self.0)(i, f)
    }
}

impl StmtCode {
    /// Executes the statement in frame `f`.
    #[inline(always)]
    pub fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<()> {
        (self.0)(i, f)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.write_str("<compiled expression>")
    }
}

impl fmt::Debug for StmtCode {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        fm.write_str("<compiled statement>")
    }
}

/// A compiled function: what a closure runs.
#[derive(Debug)]
pub struct FnCode {
    /// The name, or `<lambda>`.
    pub name: Rc<str>,
    /// The parameter list as written, `(a, b=1)` (for printing the function).
    pub params_text: Rc<str>,
    /// Parameters: how each argument binds, its keyword name and its default.
    pub params: Vec<ParamCode>,
    /// Frame size.
    pub n_slots: u32,
    /// The slot of each parameter when every parameter is a plain name
    /// (calls with all arguments positional then bind without any checks).
    pub simple_params: Option<Vec<u32>>,
    /// `Some(n)` when the function takes `n` plain-name parameters in slots
    /// `0..n` and its frame fits on the native stack: a call with `n`
    /// positional arguments then evaluates them straight into a fresh frame
    /// (see `call_direct`), with no slot set to `none` first.
    pub direct_arity: Option<usize>,
    /// Captured values and the slots they are copied into.
    pub captures: Vec<(CaptureSrc, u32)>,
    /// The body.
    pub body: Code,
    /// The definition.
    pub span: Span,
}

/// A compiled parameter.
#[derive(Debug)]
pub struct ParamCode {
    /// The keyword a caller may use (plain-name parameters only).
    pub name: Option<Rc<str>>,
    /// How the argument binds.
    pub pattern: Pattern,
    /// Run in the callee's frame when the argument is omitted.
    pub default: Option<Code>,
}

/// A compiled top-level program.
pub struct ProgramCode {
    /// Top-level `fn`s, bound before anything runs so they can be used anywhere.
    pub hoisted: Vec<(u32, Rc<FnCode>)>,
    /// The statements in order (without the hoisted `fn`s).
    pub stmts: Vec<StmtCode>,
    /// The final expression, if any.
    pub tail: Option<Code>,
    /// Size of the top-level frame (locals of top-level blocks and loops).
    pub n_slots: u32,
}

/// Compiles a resolved program.
pub fn program(p: ir::Program) -> ProgramCode {
    ProgramCode {
        hoisted: p.hoisted.iter().map(|(slot, proto)| (*slot, function(proto))).collect(),
        stmts: p.stmts.into_iter().map(stmt).collect(),
        tail: p.tail.map(expr),
        n_slots: p.n_slots,
    }
}

/// Compiles a function definition.
pub fn function(p: &ir::FnProto) -> Rc<FnCode> {
    Rc::new(FnCode {
        name: p.name.clone(),
        params_text: p.params_text.clone(),
        params: p
            .params
            .iter()
            .map(|q| ParamCode {
                name: q.name.clone(),
                pattern: q.pattern.clone(),
                default: q.default.clone().map(expr),
            })
            .collect(),
        n_slots: p.n_slots,
        simple_params: p.simple_params.clone(),
        direct_arity: direct_arity(p),
        captures: p.captures.clone(),
        body: expr(p.body.clone()),
        span: p.span,
    })
}

/// See [`FnCode::direct_arity`].
fn direct_arity(p: &ir::FnProto) -> Option<usize> {
    let slots = p.simple_params.as_ref()?;
    let n = slots.len();
    let leading = slots.iter().enumerate().all(|(k, s)| *s as usize == k);
    // Captured values go to slots past the parameters (filled before the
    // arguments are evaluated, as in any call), all within the frame.
    let fits = |s: u32| (n..p.n_slots as usize).contains(&(s as usize));
    let captures_apart = p.captures.iter().all(|(_, s)| fits(*s));
    (leading && captures_apart && n <= p.n_slots as usize && p.n_slots as usize <= INLINE_SLOTS).then_some(n)
}

fn code(f: impl for<'a> Fn(&mut Interp, &mut Frame<'a>) -> Exec<Value> + 'static) -> Code {
    Code(Box::new(f))
}

fn stmt_code(f: impl for<'a> Fn(&mut Interp, &mut Frame<'a>) -> Exec<()> + 'static) -> StmtCode {
    StmtCode(Box::new(f))
}

/// Compiles an expression.
pub fn expr(e: ir::Expr) -> Code {
    let span = e.span;
    match e.kind {
        K::Const(v) => code(move |_, _| Ok(v.clone())),
        K::Local(s) => code(move |_, f| Ok(f.slots[s as usize].clone())),
        K::Global(g, name) => code(move |i, f| match f.module.get(g) {
            Some(v) => {
                if !i.jit_watch.is_empty() {
                    i.note_global_read(f.module, g, &v);
                }
                Ok(v)
            }
            None => Err(unbound_global_error(&name, span)),
        }),
        K::Binary(op, a, b) => binary(op, *a, *b, span),
        K::If(c, t, Some(o)) => if_else(*c, unblock(*t), unblock(*o)),
        K::If(c, t, other) => {
            let (c, t) = (cond(*c, "an `if` condition"), expr(*t));
            match other {
                Some(o) => {
                    let o = expr(*o);
                    code(move |i, f| if c.run(i, f)? { t.run(i, f) } else { o.run(i, f) })
                }
                None => code(move |i, f| if c.run(i, f)? { t.run(i, f) } else { Ok(Value::None) }),
            }
        }
        K::Block(stmts, tail) => {
            let stmts: Vec<StmtCode> = stmts.into_iter().map(stmt).collect();
            let tail = tail.map(|t| expr(*t));
            match (stmts.len(), tail) {
                (0, Some(t)) => t,
                (_, Some(t)) => code(move |i, f| {
                    for s in &stmts {
                        s.run(i, f)?;
                    }
                    t.run(i, f)
                }),
                (_, None) => code(move |i, f| {
                    for s in &stmts {
                        s.run(i, f)?;
                    }
                    Ok(Value::None)
                }),
            }
        }
        K::Call(callee, args) if args.iter().all(|a| a.name.is_none()) => call(*callee, args, span),
        K::Neg(x) => {
            let x = expr(*x);
            code(move |i, f| {
                let v = x.run(i, f)?;
                Ok(crate::ops::arith::neg(&v).map_err(|d| d.at(span))?)
            })
        }
        K::Not(x) => {
            let x = cond(*x, "the operand of `not`");
            code(move |i, f| Ok(Value::Bool(!x.run(i, f)?)))
        }
        K::And(a, b) => {
            let a = cond(*a, "the left operand of `and`");
            let b = cond(*b, "the right operand of `and`");
            code(move |i, f| Ok(Value::Bool(a.run(i, f)? && b.run(i, f)?)))
        }
        K::Or(a, b) => {
            let a = cond(*a, "the left operand of `or`");
            let b = cond(*b, "the right operand of `or`");
            code(move |i, f| Ok(Value::Bool(a.run(i, f)? || b.run(i, f)?)))
        }
        K::Tuple(es) => {
            // Pairs and triples (returned tuples, `(loss, grad)`, state
            // steps) are built in place with one allocation, their locals,
            // constants and elements (`(t[1], ...)`) read in place.
            match es.len() {
                2 => return tuple_of::<2>(es.into_iter().map(Side::new).collect()),
                3 => return tuple_of::<3>(es.into_iter().map(Side::new).collect()),
                4 => return tuple_of::<4>(es.into_iter().map(Side::new).collect()),
                _ => {}
            }
            let es: Vec<Code> = es.into_iter().map(expr).collect();
            code(move |i, f| {
                let mut items = Vec::with_capacity(es.len());
                for x in &es {
                    items.push(x.run(i, f)?);
                }
                Ok(Value::Tuple(Tuple::from(items)))
            })
        }
        K::Dict(items) => dict(items),
        K::Tensor(es) => {
            let spans: Vec<Span> = es.iter().map(|x| x.span).collect();
            let es: Vec<Code> = es.into_iter().map(expr).collect();
            code(move |i, f| {
                let mut vals = Vec::with_capacity(es.len());
                for x in &es {
                    vals.push(x.run(i, f)?);
                }
                // The stack of a literal of tracers is attributed to the literal.
                i.diff.set_span(span);
                Ok(crate::ops::literal::literal(vals, &spans, span)?)
            })
        }
        K::SelfRef => code(|_, f| Ok(f.closure.cloned().map(Value::Func).unwrap_or(Value::None))),
        K::Field(x, name, name_span) => match Operand::new(*x) {
            // `p.x` on a local reads the dict in place.
            Operand::Local(slot) => code(move |_, f| Ok(field(&f.slots[slot as usize], &name, name_span)?)),
            x => {
                let x = operand_code(x);
                code(move |i, f| {
                    let v = x.run(i, f)?;
                    Ok(field(&v, &name, name_span)?)
                })
            }
        },
        K::Index(x, items) => index(*x, items, span),
        K::Lambda(proto) => {
            let fc = function(&proto);
            code(move |i, f| Ok(i.make_closure(&fc, f)))
        }
        K::While(c, body) => {
            let (c, body) = (cond(*c, "a `while` condition"), Body::new(*body));
            code(move |i, f| {
                while c.run(i, f)? {
                    check_interrupt(span)?;
                    if !body.run(i, f)? {
                        break;
                    }
                }
                Ok(Value::None)
            })
        }
        K::For(p, it, body) => {
            let it_span = it.span;
            let (it, body) = (expr(*it), Body::new(*body));
            let slot = match p {
                Pattern::Bind(Target::Local(s), _) => Some(s),
                _ => None,
            };
            code(move |i, f| {
                let iterable = it.run(i, f)?;
                if let Value::Progress(prog) = &iterable {
                    return progress_loop(i, f, prog, (&p, slot), &body, span, it_span);
                }
                if let (&Value::Range(start, stop, step), Some(s)) = (&iterable, slot) {
                    // `for i in range(...)`: counted right here.
                    let mut n = start;
                    while (step > 0 && n < stop) || (step < 0 && n > stop) {
                        check_interrupt(span)?;
                        crate::value::assign_made(&mut f.slots[s as usize], Value::Int(n));
                        if !body.run(i, f)? {
                            break;
                        }
                        n = match n.checked_add(step) {
                            Some(next) => next,
                            None => break,
                        };
                    }
                    return Ok(Value::None);
                }
                if let (Value::Tuple(items), Some(s)) = (&iterable, slot) {
                    // The common `for x in tuple`: elements are read in place
                    // (the tuple is held here, so the body cannot change it).
                    for item in items {
                        check_interrupt(span)?;
                        assign(&mut f.slots[s as usize], item.clone());
                        if !body.run(i, f)? {
                            break;
                        }
                    }
                    return Ok(Value::None);
                }
                let items = crate::ops::index::iterate(&iterable).map_err(|d| d.at(it_span))?;
                for item in items {
                    let item = item.map_err(|d| d.at(it_span))?;
                    check_interrupt(span)?;
                    match slot {
                        Some(s) => assign(&mut f.slots[s as usize], item),
                        None => i.bind(&p, item, f)?,
                    }
                    if !body.run(i, f)? {
                        break;
                    }
                }
                Ok(Value::None)
            })
        }
        K::Call(callee, args) => call_general(*callee, args, span),
        K::Method(recv, name, name_span, args) => method(*recv, name, name_span, args, span),
    }
}

/// `e` without the braces of a block that is just a final expression
/// (`{ n }`), which compiles to that expression's code anyway: as an
/// operand, a local or constant in it is then read in place.
fn unblock(e: ir::Expr) -> ir::Expr {
    match e.kind {
        K::Block(stmts, Some(tail)) if stmts.is_empty() => unblock(*tail),
        kind => ir::Expr { kind, span: e.span },
    }
}

/// `if c { t } else { o }`: a branch that is a local or a constant (`if n <
/// 2 { n } else { ... }`) is read in place, and a comparison of a local
/// with a constant is decided right here on numbers.
fn if_else(c: ir::Expr, t: ir::Expr, o: ir::Expr) -> Code {
    let (t, o) = (Side::new(t), Side::new(o));
    if let K::Binary(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne), a, b) = &c.kind {
        if let (K::Local(x), K::Const(k)) = (&a.kind, &b.kind) {
            let (op, x, k) = (*op, *x, k.clone());
            let slow = cond(c, "an `if` condition");
            return by_op!(op, if_local_const(x, k, slow, t, o));
        }
    }
    let c = cond(c, "an `if` condition");
    code(move |i, f| if c.run(i, f)? { t.run(i, f) } else { o.run(i, f) })
}

/// `if x OP k { t } else { o }` for a local `x` and a constant `k`: two
/// numbers are compared in place; anything else runs the condition's
/// general code `slow` (which reads them again: reading runs no code).
fn if_local_const<const OP: u8>(x: u32, k: Value, slow: Cond, t: Side, o: Side) -> Code {
    code(move |i, f| {
        let r = crate::ops::arith::scalar_fast(OpOf::<OP>::OP, &f.slots[x as usize], &k);
        let yes = match r {
            Some(Value::Bool(b)) => {
                // A bool owns nothing: no out-of-line drop of `r`.
                std::mem::forget(r);
                b
            }
            _ => slow.run(i, f)?,
        };
        if yes {
            t.run(i, f)
        } else {
            o.run(i, f)
        }
    })
}

/// A loop body. A block without a final expression (the usual body) runs
/// its statements right in the loop, without a call of the block's code and
/// a `none` passed back from it each time round.
enum Body {
    /// A single statement.
    One(StmtCode),
    /// Several statements.
    Stmts(Vec<StmtCode>),
    /// Any other body.
    Expr(Code),
}

impl Body {
    fn new(e: ir::Expr) -> Body {
        match e.kind {
            K::Block(mut stmts, None) if stmts.len() == 1 => match stmts.pop() {
                Some(s) => Body::One(stmt(s)),
                None => Body::Stmts(Vec::new()),
            },
            K::Block(stmts, None) => Body::Stmts(stmts.into_iter().map(stmt).collect()),
            kind => Body::Expr(expr(ir::Expr { kind, span: e.span })),
        }
    }

    /// Runs the body once: go on (`Ok(true)`), stop at a `break`
    /// (`Ok(false)`), or pass any other flow (`return`, an error) up.
    #[inline(always)]
    fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<bool> {
        match self {
            Body::One(s) => after_stmt(s.run(i, f)),
            Body::Stmts(stmts) => {
                for s in stmts {
                    match s.run(i, f) {
                        Ok(()) => {}
                        Err(Flow::Continue) => return Ok(true),
                        Err(Flow::Break) => return Ok(false),
                        Err(other) => return Err(other),
                    }
                }
                Ok(true)
            }
            Body::Expr(e) => after_body(e.run(i, f)),
        }
    }
}

/// [`after_body`] for a body that is one statement.
#[inline(always)]
fn after_stmt(r: Exec<()>) -> Exec<bool> {
    match r {
        Ok(()) | Err(Flow::Continue) => Ok(true),
        Err(Flow::Break) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A `for` loop over `progress(...)`: the loop of [`expr`]'s `For`, showing
/// progress after each item, and ending the display however the loop stops.
fn progress_loop(
    i: &mut Interp,
    f: &mut Frame,
    prog: &crate::value::progress::ProgressIter,
    (pattern, slot): (&Pattern, Option<u32>),
    body: &Body,
    span: Span,
    it_span: Span,
) -> Exec<Value> {
    use crate::progress::{begin, end, step, End};
    let mut run = begin(i, prog).map_err(|d| d.at(it_span))?;
    let r = (|| -> Exec<()> {
        let items = crate::ops::index::iterate(&prog.inner).map_err(|d| d.at(it_span))?;
        for item in items {
            let item = item.map_err(|d| d.at(it_span))?;
            check_interrupt(span)?;
            match slot {
                Some(s) => assign(&mut f.slots[s as usize], item),
                None => i.bind(pattern, item, f)?,
            }
            // An item the body left by `break` is not counted as done.
            if !body.run(i, f)? {
                return Err(Flow::Break);
            }
            step(i, &mut run)?;
        }
        Ok(())
    })();
    let how = match &r {
        Ok(()) => End::Done,
        Err(Flow::Break | Flow::Return | Flow::Continue) => End::Left,
        Err(Flow::Err(_)) => End::Failed,
    };
    end(i, run, how);
    match r {
        Err(Flow::Break) => Ok(Value::None),
        r => r.map(|()| Value::None),
    }
}

/// Compiles a statement.
pub fn stmt(s: Stmt) -> StmtCode {
    match s {
        Stmt::Let(Pattern::Bind(Target::Local(slot), _), e) | Stmt::Assign(Target::Local(slot), e) => {
            let e = match e.kind {
                // `x = f(..., x, ...)`: `x` is moved into the call.
                K::Call(callee, args) if args.iter().all(|a| a.name.is_none()) => {
                    let moved = moved_arg(slot, &args).map(|k| (k, slot));
                    call_moving(*callee, args, e.span, moved)
                }
                kind => expr(ir::Expr { kind, span: e.span }),
            };
            stmt_code(move |i, f| {
                let v = e.run(i, f)?;
                assign(&mut f.slots[slot as usize], v);
                Ok(())
            })
        }
        Stmt::Let(p, e) => {
            let e = expr(e);
            stmt_code(move |i, f| {
                let v = e.run(i, f)?;
                Ok(i.bind(&p, v, f)?)
            })
        }
        Stmt::Assign(t, e) => {
            let e = expr(e);
            stmt_code(move |i, f| {
                let v = e.run(i, f)?;
                i.store(t, v, f);
                Ok(())
            })
        }
        Stmt::Expr(e) => {
            let e = expr(e);
            stmt_code(move |i, f| {
                crate::value::discard(e.run(i, f)?);
                Ok(())
            })
        }
        Stmt::Return(Some(e), _) => {
            let e = expr(e);
            stmt_code(move |i, f| {
                i.returned = e.run(i, f)?;
                Err(Flow::Return)
            })
        }
        Stmt::Update {
            target,
            name,
            op,
            rhs,
            lhs_span,
            span,
        } => {
            let spans = (lhs_span, rhs.span, span);
            match target {
                Target::Local(slot) => by_op!(op, update_local(slot, rhs, spans)),
                Target::Global(_) => {
                    let rhs = expr(rhs);
                    stmt_code(move |i, f| i.update(target, &name, op, spans, f, |i, f| rhs.run(i, f)))
                }
            }
        }
        Stmt::Grow { target, kind, call } => grow(target, kind, call),
        Stmt::Return(None, _) => stmt_code(|i, _| {
            i.returned = Value::None;
            Err(Flow::Return)
        }),
        Stmt::Break(_) => stmt_code(|_, _| Err(Flow::Break)),
        Stmt::Continue(_) => stmt_code(|_, _| Err(Flow::Continue)),
        Stmt::Fn(target, proto) => {
            let fc = function(&proto);
            stmt_code(move |i, f| {
                let c = i.make_closure(&fc, f);
                i.store(target, c, f);
                Ok(())
            })
        }
        Stmt::Import {
            target,
            path,
            name,
            span,
        } => stmt_code(move |i, f| {
            let module = f.module.clone();
            let v = i.import(path.as_deref(), &name, &module, span)?;
            i.store(target, v, f);
            Ok(())
        }),
    }
}

/// `x = append(x, v)` / `x = insert(x, k, v)`: the other arguments first,
/// then `x` is moved out of its slot so a uniquely owned collection is
/// updated in place. Anything unusual (wrong types, an unbound global) goes
/// through the ordinary call, with `x` left where it was.
fn grow(target: Target, kind: ir::GrowKind, call_expr: ir::Expr) -> StmtCode {
    let call_span = call_expr.span;
    let K::Call(_, args) = &call_expr.kind else {
        // The resolver makes a `Grow` only of a call; anything else is a plain assignment.
        return stmt(Stmt::Assign(target, call_expr));
    };
    if args.len() > 3 {
        // The resolver makes a `Grow` of `append(x, v)` and `insert(x, k, v)` only.
        return stmt(Stmt::Assign(target, call_expr));
    }
    // `d = insert(d, k, v)` with `k` another local and `v` unable to rebind
    // it (`pure`): the key is read in place after `v` (the same string it
    // would have been first), with no count raised and dropped for it.
    let key_local = match (kind, target, args.get(1).map(|a| &a.value.kind), args.get(2)) {
        (ir::GrowKind::Insert, Target::Local(t), Some(&K::Local(ks)), Some(v)) if ks != t && pure(&v.value) => {
            Some((t as usize, ks as usize))
        }
        _ => None,
    };
    let K::Call(callee, args) = call_expr.kind else {
        return stmt(Stmt::Assign(target, call_expr));
    };
    let whole = call((*callee).clone(), args.clone(), call_span);
    let spans: Vec<Span> = args.iter().map(|a| a.value.span).collect();
    let callee = expr(*callee);
    let rest: Vec<Code> = args.into_iter().skip(1).map(|a| expr(a.value)).collect();
    stmt_code(move |i, f| {
        if i.unbound_global(target, f) {
            // Not bound yet: the ordinary evaluation reports it where it is read.
            let v = whole.run(i, f)?;
            i.store(target, v, f);
            return Ok(());
        }
        // At most two: `append(x, v)`, `insert(x, k, v)`.
        let mut vals = [const { Value::None }; 2];
        if let Some((t, ks)) = key_local {
            let v = rest[1].run(i, f)?;
            if let Ok([Value::Dict(d), Value::Str(k)]) = f.slots.get_disjoint_mut([t, ks]) {
                d.set(k, v);
                return Ok(());
            }
            // Not a dict and a string: the ordinary call reports it.
            crate::value::put(&mut vals[0], f.slots[ks].clone());
            crate::value::put(&mut vals[1], v);
        } else {
            for (slot, r) in vals.iter_mut().zip(&rest) {
                // A slot holds `none` until written: nothing to drop.
                crate::value::put(slot, r.run(i, f)?);
            }
            if i.grow_in_place(target, kind, &mut vals[..rest.len()], f) {
                return Ok(());
            }
        }
        let v = {
            {
                // The ordinary builtin call (it reports wrong types), on the values already computed.
                let func = callee.run(i, f)?;
                let x = match target {
                    Target::Local(s) => f.slots[s as usize].clone(),
                    Target::Global(g) => f.module.get(g).unwrap_or(Value::None),
                };
                let mut pos = vec![x];
                pos.extend(vals.into_iter().take(rest.len()));
                let args = Args {
                    pos,
                    kw: Vec::new(),
                    span: call_span,
                    spans: spans.clone(),
                };
                i.call(&func, args)?
            }
        };
        i.store(target, v, f);
        Ok(())
    })
}

/// One compiled call argument.
struct ArgCode {
    name: Option<Rc<str>>,
    value: Code,
    value_span: Span,
    span: Span,
}

fn arg_codes(args: Vec<ir::Arg>) -> Vec<ArgCode> {
    args.into_iter()
        .map(|a| ArgCode {
            name: a.name,
            value_span: a.value.span,
            value: expr(a.value),
            span: a.span,
        })
        .collect()
}

/// Evaluates call arguments (after `recv`, a method call's receiver) into [`Args`].
fn eval_args(i: &mut Interp, f: &mut Frame, args: &[ArgCode], span: Span, recv: Option<(Value, Span)>) -> Exec<Args> {
    let mut out = Args {
        pos: Vec::with_capacity(args.len() + 1),
        kw: Vec::new(),
        span,
        spans: Vec::new(),
    };
    let mut kw_spans = Vec::new();
    if let Some((r, recv_span)) = recv {
        out.pos.push(r);
        out.spans.push(recv_span);
    }
    for a in args {
        let v = a.value.run(i, f)?;
        match &a.name {
            None => {
                out.pos.push(v);
                out.spans.push(a.value_span);
            }
            Some(k) => {
                if out.kw.iter().any(|(n, _)| n == k) {
                    return Err(
                        Diagnostic::new(ErrorKind::Arity, format!("keyword argument `{k}` given twice"))
                            .at(a.value_span)
                            .into(),
                    );
                }
                out.kw.push((k.clone(), v));
                kw_spans.push(a.span);
            }
        }
    }
    // Keyword spans follow the positional ones (see `Args::spans`).
    out.spans.extend(kw_spans);
    Ok(out)
}

/// A call with keyword arguments.
fn call_general(callee: ir::Expr, args: Vec<ir::Arg>, span: Span) -> Code {
    let callee_span = callee.span;
    let callee = expr(callee);
    let args = arg_codes(args);
    code(move |i, f| {
        let fv = callee.run(i, f)?;
        not_callable(&fv, callee_span)?;
        let args = eval_args(i, f, &args, span, None)?;
        Ok(i.call(&fv, args)?)
    })
}

/// `recv.name(args)`: a function stored in a dict (a module's or the user's),
/// else the builtin `name` with `recv` as its first argument.
fn method(recv: ir::Expr, name: Rc<str>, name_span: Span, args: Vec<ir::Arg>, span: Span) -> Code {
    let recv_span = recv.span;
    let recv = expr(recv);
    let args = arg_codes(args);
    code(move |i, f| {
        let r = recv.run(i, f)?;
        let mut not_a_function = None;
        if let Value::Dict(d) = &r {
            match d.get(&name) {
                Some(m @ (Value::Func(_) | Value::Native(_))) => {
                    let m = m.clone();
                    let args = eval_args(i, f, &args, span, None)?;
                    return Ok(i.call(&m, args)?);
                }
                // Not a function: `d.m(...)` means the builtin `m(d, ...)`, if there is one.
                Some(other) => not_a_function = Some(other.describe()),
                None => {}
            }
        }
        let m = match (i.builtins.get(&name), not_a_function) {
            (Some(m), _) => m.clone(),
            (None, Some(what)) => {
                return Err(
                    Diagnostic::new(ErrorKind::Type, format!("`{name}` is {what}, not a function"))
                        .at(name_span)
                        .with_note(format!("there is no builtin `{name}` to call as a method either"))
                        .into(),
                )
            }
            (None, None) => return Err(no_method(i, &r, &name, name_span).into()),
        };
        let args = eval_args(i, f, &args, span, Some((r, recv_span)))?;
        Ok(i.call(&m, args)?)
    })
}

/// The error for `recv.name(...)` when `name` is neither a key of `recv` nor a builtin.
#[cold]
fn no_method(i: &Interp, r: &Value, name: &str, name_span: Span) -> Diagnostic {
    let mut d = Diagnostic::new(ErrorKind::Name, format!("{} has no method `{name}`", r.describe()))
        .at(name_span)
        .with_label("no builtin function of this name");
    let candidates: Vec<Rc<str>> = match r {
        Value::Dict(d) => d.keys().cloned().chain(i.builtins.keys().cloned()).collect(),
        _ => i.builtins.keys().cloned().collect(),
    };
    if let Some(s) = did_you_mean(name, candidates.iter().map(|c| &**c)) {
        d = d.with_help(format!("did you mean `{s}`?"));
    }
    d
}

/// `x = x op rhs` on a local: scalars are combined right here; anything else
/// (a tensor that may be updated in place, an error) takes the general path.
fn update_local<const OP: u8>(slot: u32, rhs: ir::Expr, spans: (Span, Span, Span)) -> StmtCode {
    with_place!(Side::new(rhs), |p| update_local_place::<OP, _>(slot, p, spans), |rhs| {
        let target = Target::Local(slot);
        stmt_code(move |i, f| {
            let r = rhs.run(i, f)?;
            let x = &mut f.slots[slot as usize];
            match crate::ops::arith::scalar_fast(OpOf::<OP>::OP, x, &r) {
                Some(v) => {
                    crate::value::assign_made(x, v);
                    Ok(())
                }
                None => i.update_with(target, OpOf::<OP>::OP, spans, f, r),
            }
        })
    })
}

/// `x = x op rhs` on a local with `rhs` read in place (`acc = acc + p.x`);
/// `rhs` cannot observe `x` (see [`Stmt::Update`]).
fn update_local_place<const OP: u8, P: Place>(slot: u32, rhs: P, spans: (Span, Span, Span)) -> StmtCode {
    stmt_code(move |i, f| {
        let fast = match rhs.get(i, f) {
            Some(r) => crate::ops::arith::scalar_fast(OpOf::<OP>::OP, &f.slots[slot as usize], r),
            None => None,
        };
        match fast {
            Some(v) => {
                crate::value::assign_made(&mut f.slots[slot as usize], v);
                Ok(())
            }
            None => {
                let r = rhs.owned(i, f)?;
                i.update_with(Target::Local(slot), OpOf::<OP>::OP, spans, f, r)
            }
        }
    })
}

/// Compiles a condition; `what` names it in the error for a non-bool.
fn cond(e: ir::Expr, what: &'static str) -> Cond {
    let span = e.span;
    match e.kind {
        K::Binary(op @ (BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne), a, b) => {
            by_op!(op, compare(*a, *b, span, what))
        }
        kind => {
            let c = expr(ir::Expr { kind, span });
            Cond(Box::new(move |i, f| {
                let v = c.run(i, f)?;
                match v {
                    Value::Bool(b) => {
                        // A bool owns nothing: skip the out-of-line drop.
                        std::mem::forget(v);
                        Ok(b)
                    }
                    other => Ok(i.truthy(&other, span, what)?),
                }
            }))
        }
    }
}

/// A comparison used as a condition: numbers are compared in place.
fn compare<const OP: u8>(a: ir::Expr, b: ir::Expr, span: Span, what: &'static str) -> Cond {
    let spans = (a.span, b.span, span);
    // Anything but two numbers: the operator's general path, then the truth test.
    let slow = move |i: &mut Interp, x: Value, y: Value| -> Exec<bool> {
        match i.binary_slow(OpOf::<OP>::OP, x, y, spans)? {
            Value::Bool(b) => Ok(b),
            other => Ok(i.truthy(&other, span, what)?),
        }
    };
    macro_rules! decide {
        ($i:expr, $x:expr, $y:expr) => {{
            let r = crate::ops::arith::scalar_fast(OpOf::<OP>::OP, $x, $y);
            match r {
                Some(Value::Bool(b)) => {
                    // A bool owns nothing: no out-of-line drop of `r` (the
                    // match leaves it in place, and its drop was a call).
                    std::mem::forget(r);
                    Ok(b)
                }
                _ => slow($i, $x.clone(), $y.clone()),
            }
        }};
    }
    match (Operand::new(a), Operand::new(b)) {
        (Operand::Local(x), Operand::Const(c)) => Cond(Box::new(move |i, f| decide!(i, &f.slots[x as usize], &c))),
        (Operand::Const(c), Operand::Local(y)) => Cond(Box::new(move |i, f| decide!(i, &c, &f.slots[y as usize]))),
        (Operand::Local(x), Operand::Local(y)) => Cond(Box::new(move |i, f| {
            decide!(i, &f.slots[x as usize], &f.slots[y as usize])
        })),
        // `m % 2 == 0`: the computed side is dropped inline (a number owns nothing).
        (Operand::Code(a), Operand::Const(c)) => Cond(Box::new(move |i, f| {
            let x = a.run(i, f)?;
            let r = decide!(i, &x, &c);
            crate::value::discard(x);
            r
        })),
        (a, b) => {
            let (a, b) = (operand_code(a), operand_code(b));
            Cond(Box::new(move |i, f| {
                let x = a.run(i, f)?;
                let y = b.run(i, f)?;
                let r = decide!(i, &x, &y);
                crate::value::discard(x);
                crate::value::discard(y);
                r
            }))
        }
    }
}

/// An operand of a binary operator, read in place when it is a local or a constant.
enum Operand {
    Local(u32),
    Const(Value),
    Code(Code),
}

impl Operand {
    fn new(e: ir::Expr) -> Operand {
        match e.kind {
            K::Local(s) => Operand::Local(s),
            K::Const(v) => Operand::Const(v),
            _ => Operand::Code(expr(e)),
        }
    }
}

/// The operator with code `OP` (see [`op_code`]).
const fn op_from_code(op: u8) -> BinOp {
    const OPS: [BinOp; 14] = [
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Div,
        BinOp::FloorDiv,
        BinOp::Mod,
        BinOp::Pow,
        BinOp::MatMul,
        BinOp::Eq,
        BinOp::Ne,
        BinOp::Lt,
        BinOp::Le,
        BinOp::Gt,
        BinOp::Ge,
    ];
    OPS[op as usize]
}

/// The operator with code `N` as an associated constant: closures that name
/// it have the operator folded into their code (a captured variable would be
/// a load and a jump table at run time).
struct OpOf<const N: u8>;

impl<const N: u8> OpOf<N> {
    const OP: BinOp = op_from_code(N);
}

/// The index of `op` in [`op_from_code`]'s table.
fn op_code(op: BinOp) -> u8 {
    (0..14u8).find(|&c| op_from_code(c) == op).unwrap_or(0)
}

/// `a op b`, with the operator fixed at compile time.
fn binary(op: BinOp, a: ir::Expr, b: ir::Expr, span: Span) -> Code {
    by_op!(op, binary_op(a, b, span))
}

fn binary_op<const OP: u8>(a: ir::Expr, b: ir::Expr, span: Span) -> Code {
    let spans = (a.span, b.span, span);
    match (Side::new(a), Side::new(b)) {
        (Side::Code(a), b) => with_place!(b, |b| code_place::<OP, _>(a, b, spans), |b| code_code::<OP>(
            a, b, spans
        )),
        (a, Side::Code(b)) => with_place!(a, |a| place_code::<OP, _>(a, b, spans), |a| code_code::<OP>(
            a, b, spans
        )),
        (a, b) => with_place!(
            a,
            |a| with_place!(b, |b| place_place::<OP, _, _>(a, b, spans), |b| code_code::<OP>(
                operand_of(a),
                b,
                spans
            )),
            |a| code_code::<OP>(a, operand_of_side(b), spans)
        ),
    }
}

/// `a op b` with both operands read in place: two numbers are combined
/// where they lie; anything else takes the operator's general path on the
/// operands' values (computed in order, as written).
fn place_place<const OP: u8, A: Place, B: Place>(a: A, b: B, spans: (Span, Span, Span)) -> Code {
    code(move |i, f| {
        if let (Some(x), Some(y)) = (a.get(i, f), b.get(i, f)) {
            if let Some(v) = crate::ops::arith::scalar_fast(OpOf::<OP>::OP, x, y) {
                return Ok(v);
            }
        }
        place_place_slow::<OP, A, B>(&a, &b, spans, i, f)
    })
}

/// The general path of [`place_place`].
#[inline(never)]
fn place_place_slow<const OP: u8, A: Place, B: Place>(
    a: &A,
    b: &B,
    spans: (Span, Span, Span),
    i: &mut Interp,
    f: &mut Frame,
) -> Exec<Value> {
    let x = a.owned(i, f)?;
    let y = b.owned(i, f)?;
    i.binary_slow(OpOf::<OP>::OP, x, y, spans)
}

/// `a op b` with `a` computed and `b` read in place after it (as written:
/// `a` may rebind the local `b` reads).
fn code_place<const OP: u8, B: Place>(a: Code, b: B, spans: (Span, Span, Span)) -> Code {
    code(move |i, f| {
        let x = a.run(i, f)?;
        if let Some(y) = b.get(i, f) {
            if let Some(v) = crate::ops::arith::scalar_fast(OpOf::<OP>::OP, &x, y) {
                // `x` is an int or a float (the fast path takes nothing
                // else), which owns nothing: skip its drop call.
                std::mem::forget(x);
                return Ok(v);
            }
        }
        code_place_slow::<OP, B>(x, &b, spans, i, f)
    })
}

/// The general path of [`code_place`].
#[inline(never)]
fn code_place_slow<const OP: u8, B: Place>(
    x: Value,
    b: &B,
    spans: (Span, Span, Span),
    i: &mut Interp,
    f: &mut Frame,
) -> Exec<Value> {
    let y = b.owned(i, f)?;
    i.binary_slow(OpOf::<OP>::OP, x, y, spans)
}

/// `a op b` with `a` read in place (before `b` runs) and `b` computed.
fn place_code<const OP: u8, A: Place>(a: A, b: Code, spans: (Span, Span, Span)) -> Code {
    code(move |i, f| {
        let x = a.fetch(i, f)?;
        let y = b.run(i, f)?;
        both_computed::<OP>(i, x, y, spans)
    })
}

/// `a op b` with both operands computed.
fn code_code<const OP: u8>(a: Code, b: Code, spans: (Span, Span, Span)) -> Code {
    code(move |i, f| {
        let x = a.run(i, f)?;
        let y = b.run(i, f)?;
        both_computed::<OP>(i, x, y, spans)
    })
}

/// `x op y` on two computed values.
#[inline(always)]
fn both_computed<const OP: u8>(i: &mut Interp, x: Value, y: Value, spans: (Span, Span, Span)) -> Exec<Value> {
    match crate::ops::arith::scalar_fast(OpOf::<OP>::OP, &x, &y) {
        Some(v) => {
            // Both are ints or floats (the fast path takes nothing
            // else), which own nothing: skip their drop calls.
            std::mem::forget(x);
            std::mem::forget(y);
            Ok(v)
        }
        None => i.binary_slow(OpOf::<OP>::OP, x, y, spans),
    }
}

/// A place's value as code (for the rare operator on two constants).
fn operand_of<P: Place>(p: P) -> Code {
    code(move |i, f| p.fetch(i, f))
}

/// An operand's value as code.
fn operand_of_side(s: Side) -> Code {
    with_place!(s, |p| operand_of(p), |c| c)
}

fn operand_code(o: Operand) -> Code {
    match o {
        Operand::Local(s) => code(move |_, f| Ok(f.slots[s as usize].clone())),
        Operand::Const(v) => code(move |_, _| Ok(v.clone())),
        Operand::Code(c) => c,
    }
}

/// Where a call's function comes from.
enum Callee {
    /// A module global (the common case: a top-level `fn`).
    Global(u32, std::rc::Rc<str>),
    /// A local (a lambda or a function passed as an argument).
    Local(u32),
    /// Any other expression.
    Code(Code),
}

/// A call with positional arguments only. A dp function whose parameters are
/// all plain names gets its arguments evaluated straight into its new frame.
fn call(callee: ir::Expr, args: Vec<ir::Arg>, span: Span) -> Code {
    call_moving(callee, args, span, None)
}

/// One compiled positional argument: a local, a constant or an element of
/// a local is read right in the call (no code of its own to call).
enum PosArg {
    /// A local whose value is moved into the call: see [`call_moving`].
    Take(u32),
    /// `x + k` on a local and an int constant (`i + 1`), computed right in
    /// the call when `x` is an int and the sum fits; else the expression's code.
    AddInt(u32, i64, Code),
    /// `x - k` on a local and an int constant (`n - 1`): as [`PosArg::AddInt`].
    SubInt(u32, i64, Code),
    /// Any other argument.
    Value(Side),
}

impl PosArg {
    /// Compiles argument `k` of a call whose argument `moved` (if any) is moved in.
    fn new(k: usize, e: ir::Expr, moved: Option<(usize, u32)>) -> PosArg {
        match &e.kind {
            K::Local(s) if moved == Some((k, *s)) => PosArg::Take(*s),
            K::Binary(op @ (BinOp::Add | BinOp::Sub), x, c) => match (&x.kind, &c.kind) {
                (K::Local(s), K::Const(Value::Int(n))) => {
                    let (s, n, sub) = (*s, *n, *op == BinOp::Sub);
                    if sub {
                        PosArg::SubInt(s, n, expr(e))
                    } else {
                        PosArg::AddInt(s, n, expr(e))
                    }
                }
                _ => PosArg::Value(Side::new(e)),
            },
            _ => PosArg::Value(Side::new(e)),
        }
    }

    #[inline(always)]
    fn run(&self, i: &mut Interp, f: &mut Frame) -> Exec<Value> {
        match self {
            PosArg::Take(s) => Ok(crate::value::take(&mut f.slots[*s as usize])),
            PosArg::AddInt(s, n, general) => match &f.slots[*s as usize] {
                Value::Int(x) => match x.checked_add(*n) {
                    Some(r) => Ok(Value::Int(r)),
                    None => general.run(i, f),
                },
                _ => general.run(i, f),
            },
            PosArg::SubInt(s, n, general) => match &f.slots[*s as usize] {
                Value::Int(x) => match x.checked_sub(*n) {
                    Some(r) => Ok(Value::Int(r)),
                    None => general.run(i, f),
                },
                _ => general.run(i, f),
            },
            PosArg::Value(v) => v.run(i, f),
        }
    }
}

/// Which argument of `x = callee(args)` (the local `x` in `slot`) may take
/// `x`'s value instead of a copy: the last argument that is `x` itself,
/// when no argument after it reads `x` or can run code. The call's result
/// replaces `x` right after, so nothing sees `x` between the two; if the
/// call fails, the error leaves the frame, and `x` with it. A value moved
/// in is held once (not twice), so the callee is its last holder.
fn moved_arg(slot: u32, args: &[ir::Arg]) -> Option<usize> {
    let k = args
        .iter()
        .rposition(|a| matches!(a.value.kind, K::Local(s) if s == slot))?;
    let rest_ok = args[k + 1..]
        .iter()
        .all(|a| a.name.is_none() && pure(&a.value) && !reads_local(&a.value, slot));
    (rest_ok && args.iter().all(|a| a.name.is_none())).then_some(k)
}

/// Whether the [`pure`] expression `e` reads local `slot`.
fn reads_local(e: &ir::Expr, slot: u32) -> bool {
    match &e.kind {
        K::Local(s) => *s == slot,
        K::Const(_) | K::Global(..) => false,
        K::Neg(x) | K::Not(x) | K::Field(x, ..) => reads_local(x, slot),
        K::Binary(_, a, b) | K::And(a, b) | K::Or(a, b) => reads_local(a, slot) || reads_local(b, slot),
        K::Index(x, items) => {
            reads_local(x, slot)
                || items.iter().any(|it| match it {
                    ir::IndexItem::At(k) => reads_local(k, slot),
                    // Not [`pure`]: callers ask about pure expressions only.
                    _ => true,
                })
        }
        // Not [`pure`]: callers ask about pure expressions only.
        _ => true,
    }
}

/// A call with positional arguments only; with `moved` = `Some((k, slot))`,
/// argument `k` (the local in `slot`) is moved into the call rather than
/// copied (see [`moved_arg`]).
fn call_moving(callee: ir::Expr, args: Vec<ir::Arg>, span: Span, moved: Option<(usize, u32)>) -> Code {
    let callee_span = callee.span;
    let callee = match callee.kind {
        K::Global(g, name) => Callee::Global(g, name),
        K::Local(s) => Callee::Local(s),
        kind => Callee::Code(expr(ir::Expr {
            kind,
            span: callee_span,
        })),
    };
    let spans: Vec<Span> = args.iter().map(|a| a.value.span).collect();
    let args: Vec<PosArg> = args
        .into_iter()
        .enumerate()
        .map(|(k, a)| PosArg::new(k, a.value, moved))
        .collect();
    let site = CallSite {
        callee,
        callee_span,
        spans,
        span,
    };
    // One, two or three arguments (most calls): the argument loops of the
    // call are unrolled for their number.
    match args.len() {
        1 => call_fixed::<1>(site, fixed(args)),
        2 => call_fixed::<2>(site, fixed(args)),
        3 => call_fixed::<3>(site, fixed(args)),
        _ => code(move |i, f| run_call(&site, &args, i, f)),
    }
}

/// What a positional call knows besides its arguments.
struct CallSite {
    callee: Callee,
    callee_span: Span,
    /// The arguments' spans (for a builtin's errors).
    spans: Vec<Span>,
    /// The whole call.
    span: Span,
}

/// A positional call with exactly `N` arguments.
fn call_fixed<const N: usize>(site: CallSite, args: [PosArg; N]) -> Code {
    code(move |i, f| run_call(&site, &args, i, f))
}

/// Runs a positional call. The common case, a dp function named by a global
/// or a local whose frame is built directly (see [`call_direct`]), is all
/// here; everything else is out of line, so this code stays small (its
/// native stack frame too: it is entered at every level of a recursion).
#[inline(always)]
fn run_call(site: &CallSite, args: &[PosArg], i: &mut Interp, f: &mut Frame) -> Exec<Value> {
    // Only the closure's `Rc` is cloned (the call must keep it alive even if
    // the arguments rebind the name).
    let c = match &site.callee {
        Callee::Global(g, _) => match f.module.get_func(*g) {
            Some(c) => c,
            None => return call_other(site, args, i, f),
        },
        Callee::Local(s) => match &f.slots[*s as usize] {
            Value::Func(c) => c.clone(),
            _ => return call_other(site, args, i, f),
        },
        Callee::Code(_) => return call_other(site, args, i, f),
    };
    if c.direct_arity == Some(args.len()) && i.jit_watch.is_empty() && i.jit_all.is_none() {
        return call_direct(i, f, &c, args, site.span);
    }
    call_found(site, args, &c, i, f)
}

/// A call of a dp function `c` found by [`run_call`] that does not take the
/// direct path: the call under a jit trace (which notes the global read),
/// or of a function whose parameters need the general binding.
#[inline(never)]
fn call_found(
    site: &CallSite,
    args: &[PosArg],
    c: &std::rc::Rc<crate::value::Closure>,
    i: &mut Interp,
    f: &mut Frame,
) -> Exec<Value> {
    if let (Callee::Global(g, _), false) = (&site.callee, i.jit_watch.is_empty()) {
        i.note_global_read(f.module, *g, &Value::Func(c.clone()));
    }
    call_func(i, f, c, args, site.span)
}

/// A call whose callee is not a dp function in a global or a local: an
/// unbound global, a builtin, a computed callee, or no function at all.
#[inline(never)]
fn call_other(site: &CallSite, args: &[PosArg], i: &mut Interp, f: &mut Frame) -> Exec<Value> {
    let span = site.span;
    let fv = match &site.callee {
        Callee::Global(g, name) => match f.module.get(*g) {
            Some(v) => {
                if !i.jit_watch.is_empty() {
                    i.note_global_read(f.module, *g, &v);
                }
                v
            }
            None => return Err(unbound_global_error(name, site.callee_span)),
        },
        Callee::Local(s) => f.slots[*s as usize].clone(),
        Callee::Code(c) => c.run(i, f)?,
    };
    if let Value::Func(c) = &fv {
        return call_func(i, f, c, args, span);
    }
    not_callable(&fv, site.callee_span)?;
    let mut pos = Vec::with_capacity(args.len());
    for a in args {
        pos.push(a.run(i, f)?);
    }
    let args = Args {
        pos,
        kw: Vec::new(),
        span,
        spans: site.spans.clone(),
    };
    Ok(i.call(&fv, args)?)
}

/// Calls dp function `c` with positional arguments evaluated in frame `f`.
#[inline(always)]
fn call_func(
    i: &mut Interp,
    f: &mut Frame,
    c: &std::rc::Rc<crate::value::Closure>,
    args: &[PosArg],
    span: Span,
) -> Exec<Value> {
    if i.jit_all.is_some() {
        let pos = positional_values(i, f, args)?;
        return Ok(i.call_closure(c, pos, (Vec::new(), &[]), span)?);
    }
    if c.proto.direct_arity == Some(args.len()) {
        return call_direct(i, f, c, args, span);
    }
    if let Some(slots) = c.proto.simple_params.as_ref().filter(|p| p.len() == args.len()) {
        return i.with_frame(
            c,
            #[inline(always)]
            |i, frame| {
                for (a, slot) in args.iter().zip(slots) {
                    let v = a.run(i, f)?;
                    assign(&mut frame.slots[*slot as usize], v);
                }
                i.invoke(c, frame, span)
            },
        );
    }
    let pos = positional_values(i, f, args)?;
    Ok(i.call_closure(c, pos, (Vec::new(), &[]), span)?)
}

/// The values of positional arguments, evaluated in order in frame `f`.
fn positional_values(i: &mut Interp, f: &mut Frame, args: &[PosArg]) -> Exec<Vec<Value>> {
    let mut pos = Vec::with_capacity(args.len());
    for a in args {
        pos.push(a.run(i, f)?);
    }
    Ok(pos)
}

/// Calls `c`, whose [`FnCode::direct_arity`] is `args.len()`: its frame is
/// built on the native stack with the captured values and `none`s in the
/// slots past the parameters, then each argument is evaluated (in the
/// caller's frame `f`) straight into its parameter's slot, which was never
/// set to anything before.
#[inline(always)]
fn call_direct(
    i: &mut Interp,
    f: &mut Frame,
    c: &std::rc::Rc<crate::value::Closure>,
    args: &[PosArg],
    span: Span,
) -> Exec<Value> {
    use std::mem::MaybeUninit;
    let (n_args, n) = (args.len(), c.proto.n_slots as usize);
    let mut store = [const { MaybeUninit::<Value>::uninit() }; INLINE_SLOTS];
    // `direct_arity` holds n_args <= n <= INLINE_SLOTS: the range is there.
    for slot in store.get_mut(n_args..n).unwrap_or_default() {
        slot.write(Value::None);
    }
    for ((src, slot), v) in c.proto.captures.iter().zip(&c.captures) {
        let v = i.captured(c, *src, v);
        // `direct_arity` keeps captures in n_args..n, just set to `none`
        // (which owns nothing to drop).
        if let Some(place) = store.get_mut(*slot as usize) {
            crate::value::put_uninit(place, v);
        }
    }
    for (k, a) in args.iter().enumerate() {
        match a.run(i, f) {
            // k < n_args <= INLINE_SLOTS.
            Ok(v) => crate::value::put_uninit(&mut store[k], v),
            Err(e) => {
                drop_frame_store(&mut store, (k, n_args), n);
                return Err(e);
            }
        }
    }
    let Some(init) = store.get_mut(..n) else {
        // Unreachable (`direct_arity`): n <= INLINE_SLOTS.
        return Ok(Value::None);
    };
    // SAFETY: slots 0..n_args hold the arguments and n_args..n `none`s or
    // captured values; `MaybeUninit<Value>` has the layout of `Value`.
    let slots = unsafe { &mut *(init as *mut [MaybeUninit<Value>] as *mut [Value]) };
    let r = {
        let mut frame = Frame {
            slots: &mut *slots,
            module: &c.module,
            closure: Some(c),
        };
        i.invoke(c, &mut frame, span)
    };
    for v in slots.iter_mut() {
        if v.owns_heap() {
            // SAFETY: each slot is dropped once here; the store is
            // `MaybeUninit` and never drops them again.
            unsafe { std::ptr::drop_in_place(v) }
        }
    }
    // As in `Interp::with_frame`: the result passed on as words.
    crate::value::relay(r)
}

/// Drops the initialised slots of a frame store whose argument `k` (of
/// `n_args`) failed: the arguments before it and the slots `n_args..n`.
#[cold]
#[inline(never)]
fn drop_frame_store(store: &mut [std::mem::MaybeUninit<Value>], (k, n_args): (usize, usize), n: usize) {
    let (args, rest) = store.split_at_mut(n_args.min(store.len()));
    let rest_len = n.saturating_sub(n_args).min(rest.len());
    for slot in args.iter_mut().take(k).chain(rest[..rest_len].iter_mut()) {
        // SAFETY: these slots were initialised by `call_direct` and are not used again.
        unsafe { slot.assume_init_drop() }
    }
}

/// `v[key]` for an in-range int index of a tuple or a present key of a
/// dict; `None` sends everything else (tensors, strings, negative or bad
/// indices, errors) to the general indexing code.
// Returns a reference, cloned by the caller straight into its result: an
// `Option<Value>` here was built on the stack and re-read with an unaligned
// 16-byte load, a store-forwarding stall on every `t[0]`.
#[inline(always)]
fn element<'a>(v: &'a Value, key: &Value) -> Option<&'a Value> {
    match (v, key) {
        (Value::Tuple(t), Value::Int(n)) if (0..t.len() as i64).contains(n) => Some(&t[*n as usize]),
        (Value::Dict(d), Value::Str(name)) => d.get(name),
        _ => None,
    }
}

/// `x[k]` with a single index.
/// `v[key]` by the general indexing code (any value, any key).
fn index_general(v: &Value, key: Value, k_span: Span, x_span: Span, span: Span) -> Exec<Value> {
    Ok(crate::ops::index::index(
        v,
        vec![crate::ops::index::Item::At(key, k_span)],
        x_span,
        span,
    )?)
}

fn index_at(x: Operand, x_span: Span, k: ir::Expr, span: Span) -> Code {
    let k_span = k.span;
    let general = move |v: &Value, key: &Value| index_general(v, key.clone(), k_span, x_span, span);
    // A local indexed by a constant or a local: both are read in place (such
    // a key cannot run code that rebinds the local).
    match (x, Operand::new(k)) {
        (Operand::Local(xs), Operand::Const(key)) => code(move |i, f| {
            let v = &f.slots[xs as usize];
            // Operations recorded later without a span of their own (`-t[0]`) are
            // attributed to this expression, as in the general indexing code.
            i.diff.set_span(span);
            match element(v, &key) {
                Some(found) => Ok(found.clone()),
                None => general(v, &key),
            }
        }),
        (Operand::Local(xs), Operand::Local(ks)) => code(move |i, f| {
            let (v, key) = (&f.slots[xs as usize], &f.slots[ks as usize]);
            // Operations recorded later without a span of their own (`-t[0]`) are
            // attributed to this expression, as in the general indexing code.
            i.diff.set_span(span);
            match element(v, key) {
                Some(found) => Ok(found.clone()),
                None => general(v, key),
            }
        }),
        (x, k) => {
            let (x, k) = (operand_code(x), operand_code(k));
            code(move |i, f| {
                let v = x.run(i, f)?;
                let key = k.run(i, f)?;
                // Operations recorded later without a span of their own (`-t[0]`) are
                // attributed to this expression, as in the general indexing code.
                i.diff.set_span(span);
                match element(&v, &key) {
                    Some(found) => Ok(found.clone()),
                    None => general(&v, &key),
                }
            })
        }
    }
}

/// A tuple literal of exactly `N` elements, evaluated left to right into an
/// array that becomes the tuple's single allocation.
fn tuple_of<const N: usize>(es: Vec<Side>) -> Code {
    let es: [Side; N] = fixed(es);
    code(move |i, f| Ok(Value::Tuple(Tuple::try_build::<N, Flow>(|k| es[k].run(i, f))?)))
}

/// The codes of a literal with exactly `N` elements as an array.
fn fixed<T, const N: usize>(codes: Vec<T>) -> [T; N] {
    match codes.try_into() {
        Ok(codes) => codes,
        // Callers dispatch on the number of elements being `N`.
        Err(_) => unreachable!("a literal of another length than {N}"),
    }
}

/// Runs a literal's element codes left to right into an array (no vector).
#[inline(always)]
fn run_all<const N: usize>(codes: &[Code; N], i: &mut Interp, f: &mut Frame) -> Exec<[Value; N]> {
    let mut out = [const { Value::None }; N];
    for (slot, c) in out.iter_mut().zip(codes) {
        // A slot holds `none` until written: nothing to drop.
        crate::value::put(slot, c.run(i, f)?);
    }
    Ok(out)
}

/// `g[k]` on a module global (`names[i]`) with a constant or local key: a
/// tuple element or dict value is read in place, without cloning (and later
/// dropping) the global's whole value. While a jit trace watches global
/// reads, and for everything but a plain element, the general path runs.
fn index_global(g: u32, x: ir::Expr, x_span: Span, k: ir::Expr, span: Span) -> Code {
    let key = Operand::new(k.clone());
    let general = index_at(Operand::new(x), x_span, k, span);
    code(move |i, f| {
        if i.jit_watch.is_empty() {
            let key = match &key {
                Operand::Local(s) => &f.slots[*s as usize],
                Operand::Const(c) => c,
                // `index` builds this only for a constant or local key.
                Operand::Code(_) => return general.run(i, f),
            };
            if let Some(found) = f.module.with(g, |v| v.and_then(|v| element(v, key)).cloned()) {
                i.diff.set_span(span);
                return Ok(found);
            }
        }
        general.run(i, f)
    })
}

/// Whether evaluating `e` runs no user code and changes no variable (reads,
/// constants and operators on them): such an index can be computed before
/// the value it indexes is read, with the same result.
fn pure(e: &ir::Expr) -> bool {
    match &e.kind {
        K::Const(_) | K::Local(_) | K::Global(..) => true,
        K::Neg(x) | K::Not(x) | K::Field(x, ..) => pure(x),
        K::Binary(_, a, b) | K::And(a, b) | K::Or(a, b) => pure(a) && pure(b),
        K::Index(x, items) => pure(x) && items.iter().all(|it| matches!(it, ir::IndexItem::At(k) if pure(k))),
        _ => false,
    }
}

/// `g[k]` on a module global with a computed key that is [`pure`]
/// (`names[(i * 7) % 16]`): the key first, then the element read in place
/// as in [`index_global`] (no clone and drop of the global's whole value).
/// An unbound global is still the error reported first, as when it is read
/// first; while a jit trace watches global reads the general path runs.
fn index_global_computed(g: u32, x: ir::Expr, x_span: Span, k: ir::Expr, span: Span) -> Code {
    let K::Global(_, name) = x.kind.clone() else {
        // `index` calls this for a global receiver only.
        return index_at(Operand::new(x), x_span, k, span);
    };
    let k_span = k.span;
    // The key is compiled once and serves both paths: compiling it for each
    // made `x[x[x[...]]]` on a global cost 2^depth compilations.
    let key_code = expr(k);
    let global = expr(x);
    code(move |i, f| {
        if !i.jit_watch.is_empty() {
            // The general order (the global first, noted as read by the trace).
            let v = global.run(i, f)?;
            let key = key_code.run(i, f)?;
            i.diff.set_span(span);
            return match element(&v, &key) {
                Some(found) => Ok(found.clone()),
                None => index_general(&v, key, k_span, x_span, span),
            };
        }
        // The key is read where the code returned it, not moved out: a move
        // re-reads its just-written words with wide loads (a stall, see
        // `crate::value::put`).
        let r = key_code.run(i, f);
        let key = match &r {
            Ok(key) => key,
            Err(_) if f.module.with(g, |v| v.is_none()) => return Err(unbound_global_error(&name, x_span)),
            Err(_) => return r,
        };
        i.diff.set_span(span);
        if let Some(found) = f.module.with(g, |v| v.and_then(|v| element(v, key)).cloned()) {
            return Ok(found);
        }
        let Ok(key) = r else {
            // `r` was matched `Ok` above.
            unreachable!("the key was computed")
        };
        match f.module.get(g) {
            Some(v) => index_general(&v, key, k_span, x_span, span),
            None => Err(unbound_global_error(&name, x_span)),
        }
    })
}

/// One compiled entry of a dict literal.
enum DictCode {
    Pair(std::rc::Rc<str>, Code),
    Spread(Code, Span),
}

/// A dict literal `{k: v, ...other}`: later entries win.
fn dict(items: Vec<ir::DictItem>) -> Code {
    if items.iter().all(|it| matches!(it, ir::DictItem::Pair(..))) {
        let (keys, values): (Vec<_>, Vec<_>) = items
            .into_iter()
            .filter_map(|it| match it {
                ir::DictItem::Pair(k, v) => Some((k, expr(v))),
                ir::DictItem::Spread(_) => None,
            })
            .unzip();
        return match values.len() {
            1 => record_of::<1>(keys, values),
            2 => record_of::<2>(keys, values),
            3 => record_of::<3>(keys, values),
            4 => record_of::<4>(keys, values),
            _ => record(keys, values),
        };
    }
    let items: Vec<DictCode> = items
        .into_iter()
        .map(|it| match it {
            ir::DictItem::Pair(k, v) => DictCode::Pair(k, expr(v)),
            ir::DictItem::Spread(x) => {
                let s = x.span;
                DictCode::Spread(expr(x), s)
            }
        })
        .collect();
    code(move |i, f| {
        let mut d = crate::value::Dict::new();
        for it in &items {
            match it {
                DictCode::Pair(k, v) => {
                    let v = v.run(i, f)?;
                    d.insert(k.clone(), v);
                }
                DictCode::Spread(x, s) => match x.run(i, f)? {
                    Value::Dict(other) => {
                        for (k, v) in other {
                            d.insert(k, v);
                        }
                    }
                    other => return Err(super::interp::spread_error(&other, *s)),
                },
            }
        }
        Ok(Value::Dict(d))
    })
}

/// For a dict literal's keys (in source order): each distinct key in key
/// order with the position of its last occurrence (later entries win), the
/// order a dict keeps its entries in. Worked out once, when compiling.
fn literal_key_order(keys: &[std::rc::Rc<str>]) -> Vec<(std::rc::Rc<str>, usize)> {
    let mut order: Vec<(std::rc::Rc<str>, usize)> = Vec::new();
    for (n, k) in keys.iter().enumerate() {
        match order.iter_mut().find(|(seen, _)| seen == k) {
            Some(entry) => entry.1 = n,
            None => order.push((k.clone(), n)),
        }
    }
    order.sort_by(|a, b| a.0.cmp(&b.0));
    order
}

/// Builds the dict of a literal from its values in source order.
fn record_from(order: &[(std::rc::Rc<str>, usize)], values: &mut [Value]) -> Value {
    Value::Dict(crate::value::Dict::from_sorted_unique(
        order
            .iter()
            .map(|(k, n)| (k.clone(), std::mem::replace(&mut values[*n], Value::None))),
    ))
}

/// A dict literal of exactly `N` plain `key: value` entries (a record):
/// values evaluated left to right into an array, the dict built in one
/// allocation in the key order found when compiling.
fn record_of<const N: usize>(keys: Vec<std::rc::Rc<str>>, values: Vec<Code>) -> Code {
    let order = literal_key_order(&keys);
    let values: [Code; N] = fixed(values);
    code(move |i, f| Ok(record_from(&order, &mut run_all(&values, i, f)?)))
}

/// A dict literal of plain `key: value` entries, any number of them.
fn record(keys: Vec<std::rc::Rc<str>>, values: Vec<Code>) -> Code {
    let order = literal_key_order(&keys);
    code(move |i, f| {
        let mut got = Vec::with_capacity(values.len());
        for v in &values {
            got.push(v.run(i, f)?);
        }
        Ok(record_from(&order, &mut got))
    })
}

/// One compiled position inside `x[...]`.
enum IndexCode {
    At(Code, Span),
    Slice([Option<(Code, Span)>; 3]),
    Ellipsis(Span),
}

/// `x[...]`.
fn index(x: ir::Expr, mut items: Vec<ir::IndexItem>, span: Span) -> Code {
    if let ir::ExprKind::Field(_, name, _) = &x.kind {
        if &**name == "at" {
            return at_index(x, items, span);
        }
    }
    let x_span = x.span;
    if let (K::Global(g, _), [ir::IndexItem::At(k)]) = (&x.kind, items.as_slice()) {
        if matches!(k.kind, K::Const(_) | K::Local(_)) {
            return index_global(*g, x, x_span, k.clone(), span);
        }
        if pure(k) {
            return index_global_computed(*g, x, x_span, k.clone(), span);
        }
    }
    let x = Operand::new(x);
    if items.len() == 1 {
        match items.pop() {
            Some(ir::IndexItem::At(k)) => return index_at(x, x_span, k, span),
            Some(other) => items.push(other),
            None => {}
        }
    }
    let x = operand_code(x);
    let items = index_codes(items);
    code(move |i, f| {
        let v = x.run(i, f)?;
        let idx = run_index_codes(&items, i, f)?;
        i.diff.set_span(span);
        Ok(crate::ops::index::index(&v, idx, x_span, span)?)
    })
}

/// `x.at[...]` on a tensor: the updater of `crate::ops::at` (`.set(v)`,
/// `.add(v)`, `.mul(v)`, `.get()`). On a dict it is `(d.at)[...]` as usual.
fn at_index(x: ir::Expr, items: Vec<ir::IndexItem>, span: Span) -> Code {
    let x_span = x.span;
    let ir::ExprKind::Field(recv, name, name_span) = x.kind else {
        // Invariant: `index` calls this only for a `Field` receiver.
        unreachable!("`at_index` is called for `x.at[...]` only")
    };
    let recv_span = recv.span;
    let recv = expr(*recv);
    let items = index_codes(items);
    code(move |i, f| {
        let r = recv.run(i, f)?;
        let idx = run_index_codes(&items, i, f)?;
        i.diff.set_span(span);
        if let Value::Dict(_) = r {
            let v = field(&r, &name, name_span)?;
            return Ok(crate::ops::index::index(&v, idx, x_span, span)?);
        }
        Ok(crate::ops::at::at(&r, idx, recv_span, span)?)
    })
}

/// Compiles the positions of `x[...]`.
fn index_codes(items: Vec<ir::IndexItem>) -> Vec<IndexCode> {
    let part = |p: Option<ir::Expr>| p.map(|p| (p.span, p)).map(|(s, p)| (expr(p), s));
    items
        .into_iter()
        .map(|it| match it {
            ir::IndexItem::At(e) => {
                let s = e.span;
                IndexCode::At(expr(e), s)
            }
            ir::IndexItem::Slice(a, b, c) => IndexCode::Slice([part(a), part(b), part(c)]),
            ir::IndexItem::Ellipsis(s) => IndexCode::Ellipsis(s),
        })
        .collect()
}

/// Evaluates the compiled positions of `x[...]`, left to right.
fn run_index_codes(items: &[IndexCode], i: &mut Interp, f: &mut Frame<'_>) -> Exec<Vec<crate::ops::index::Item>> {
    let mut idx = Vec::with_capacity(items.len());
    for it in items {
        idx.push(match it {
            IndexCode::At(e, s) => crate::ops::index::Item::At(e.run(i, f)?, *s),
            IndexCode::Slice(parts) => {
                let mut vals: [Option<(Value, Span)>; 3] = [None, None, None];
                for (out, p) in vals.iter_mut().zip(parts) {
                    if let Some((c, s)) = p {
                        *out = Some((c.run(i, f)?, *s));
                    }
                }
                let [a, b, c] = vals;
                crate::ops::index::Item::Slice(a, b, c)
            }
            IndexCode::Ellipsis(s) => crate::ops::index::Item::Ellipsis(*s),
        });
    }
    Ok(idx)
}
