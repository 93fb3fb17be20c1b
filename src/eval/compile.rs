//! Closure compilation of the resolved IR.
//!
//! Every function body (and every top-level program) is turned once, when it
//! is resolved, into a tree of Rust closures: each node knows statically what
//! it is (a local read, `n < 2` on a local and a constant, a positional call
//! of a global, ...), so running it costs one indirect call and no dispatch on
//! the node kind, and each closure's stack frame is only as large as its own
//! work needs. Operators are specialised per operator at compile time.
//!
//! Nodes that are rare on hot paths (method calls, calls with keyword
//! arguments, imports, nested `fn`s, ...) are not compiled: their closure
//! hands the IR node to the tree walker in `interp.rs`, which stays the
//! reference semantics. Every
//! compiled node produces exactly the values and the diagnostics the tree
//! walker would (the golden tests run all programs through this path).

use super::interp::{after_body, check_interrupt, field, unbound_global_error, Flow, Frame, Interp, R};
use super::ir::{self, ExprKind as K, Pattern, Stmt, Target};
use crate::builtins::Args;
use crate::syntax::ast::BinOp;
use crate::syntax::span::Span;
use crate::value::{assign, Tuple, Value};
use std::fmt;

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

type ExprFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> R<Value>;
type StmtFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> R<()>;
type CondFn = dyn for<'a> Fn(&mut Interp, &mut Frame<'a>) -> R<bool>;

/// A compiled expression: call [`Code::run`] with the interpreter and the frame.
pub struct Code(Box<ExprFn>);

/// A compiled statement.
pub struct StmtCode(Box<StmtFn>);

/// A compiled condition (of `if`, `while`, `not`, `and`, `or`): yields the
/// bool directly, so a comparison needs no `Value` in between.
struct Cond(Box<CondFn>);

impl Cond {
    #[inline(always)]
    fn run(&self, i: &mut Interp, f: &mut Frame) -> R<bool> {
        (self.0)(i, f)
    }
}

impl Code {
    /// Evaluates the expression in frame `f`.
    #[inline(always)]
    pub fn run(&self, i: &mut Interp, f: &mut Frame) -> R<Value> {
        (self.0)(i, f)
    }
}

impl StmtCode {
    /// Executes the statement in frame `f`.
    #[inline(always)]
    pub fn run(&self, i: &mut Interp, f: &mut Frame) -> R<()> {
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

fn code(f: impl for<'a> Fn(&mut Interp, &mut Frame<'a>) -> R<Value> + 'static) -> Code {
    Code(Box::new(f))
}

fn stmt_code(f: impl for<'a> Fn(&mut Interp, &mut Frame<'a>) -> R<()> + 'static) -> StmtCode {
    StmtCode(Box::new(f))
}

/// Compiles an expression.
pub fn expr(e: ir::Expr) -> Code {
    let span = e.span;
    match e.kind {
        K::Const(v) => code(move |_, _| Ok(v.clone())),
        K::Local(s) => code(move |_, f| Ok(f.slots[s as usize].clone())),
        K::Global(g, name) => code(move |_, f| match f.module.get(g) {
            Some(v) => Ok(v),
            None => Err(unbound_global_error(&name, span)),
        }),
        K::Binary(op, a, b) => binary(op, *a, *b, span),
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
                Ok(super::arith::neg(&v).map_err(|d| d.at(span))?)
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
                Ok(crate::builtins::tensor::literal(vals, &spans, span)?)
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
        K::Lambda(proto) => code(move |i, f| Ok(i.make_closure(&proto, f))),
        K::While(c, body) => {
            let (c, body) = (cond(*c, "a `while` condition"), expr(*body));
            code(move |i, f| {
                while c.run(i, f)? {
                    check_interrupt(span)?;
                    if !after_body(body.run(i, f))? {
                        break;
                    }
                }
                Ok(Value::None)
            })
        }
        K::For(p, it, body) => {
            let it_span = it.span;
            let (it, body) = (expr(*it), expr(*body));
            let slot = match p {
                Pattern::Bind(Target::Local(s), _) => Some(s),
                _ => None,
            };
            code(move |i, f| {
                let iterable = it.run(i, f)?;
                let items = super::index::iterate(&iterable).map_err(|d| d.at(it_span))?;
                for item in items {
                    let item = item.map_err(|d| d.at(it_span))?;
                    check_interrupt(span)?;
                    match slot {
                        Some(s) => assign(&mut f.slots[s as usize], item),
                        None => i.bind(&p, item, f)?,
                    }
                    if !after_body(body.run(i, f))? {
                        break;
                    }
                }
                Ok(Value::None)
            })
        }
        kind => {
            // Not compiled: the tree walker evaluates this node (and its children).
            let e = ir::Expr { kind, span };
            code(move |i, f| i.eval(&e, f))
        }
    }
}

/// Compiles a statement.
pub fn stmt(s: Stmt) -> StmtCode {
    match s {
        Stmt::Let(Pattern::Bind(Target::Local(slot), _), e) | Stmt::Assign(Target::Local(slot), e) => {
            let e = expr(e);
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
            stmt_code(move |i, f| e.run(i, f).map(drop))
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
        Stmt::Grow { target, kind, call } => {
            let rest: Vec<Code> = match &call.kind {
                K::Call(_, args) => args.iter().skip(1).map(|a| expr(a.value.clone())).collect(),
                _ => {
                    let s = Stmt::Grow { target, kind, call };
                    return stmt_code(move |i, f| i.exec(&s, f));
                }
            };
            stmt_code(move |i, f| {
                let v = if i.unbound_global(target, f) {
                    // Not bound yet: the ordinary evaluation reports it where it is read.
                    i.eval(&call, f)?
                } else {
                    let mut vals = Vec::with_capacity(rest.len());
                    for r in &rest {
                        vals.push(r.run(i, f)?);
                    }
                    i.grow_with(target, kind, &call, vals, f)?
                };
                i.store(target, v, f);
                Ok(())
            })
        }
        other => stmt_code(move |i, f| i.exec(&other, f)),
    }
}

/// `x = x op rhs` on a local: scalars are combined right here; anything else
/// (a tensor that may be updated in place, an error) takes the general path.
fn update_local<const OP: u8>(slot: u32, rhs: ir::Expr, spans: (Span, Span, Span)) -> StmtCode {
    let target = Target::Local(slot);
    match Operand::new(rhs) {
        Operand::Const(c) => stmt_code(move |i, f| {
            let x = &mut f.slots[slot as usize];
            match super::arith::scalar_fast(OpOf::<OP>::OP, x, &c) {
                Some(v) => {
                    assign(x, v);
                    Ok(())
                }
                None => i.update_with(target, OpOf::<OP>::OP, spans, f, c.clone()),
            }
        }),
        rhs => {
            let rhs = operand_code(rhs);
            stmt_code(move |i, f| {
                let r = rhs.run(i, f)?;
                let x = &mut f.slots[slot as usize];
                match super::arith::scalar_fast(OpOf::<OP>::OP, x, &r) {
                    Some(v) => {
                        assign(x, v);
                        Ok(())
                    }
                    None => i.update_with(target, OpOf::<OP>::OP, spans, f, r),
                }
            })
        }
    }
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
            Cond(Box::new(move |i, f| match c.run(i, f)? {
                Value::Bool(b) => Ok(b),
                other => Ok(i.truthy(&other, span, what)?),
            }))
        }
    }
}

/// A comparison used as a condition: numbers are compared in place.
fn compare<const OP: u8>(a: ir::Expr, b: ir::Expr, span: Span, what: &'static str) -> Cond {
    let spans = (a.span, b.span, span);
    // Anything but two numbers: the operator's general path, then the truth test.
    let slow = move |i: &mut Interp, x: Value, y: Value| -> R<bool> {
        match i.binary_slow(OpOf::<OP>::OP, x, y, spans)? {
            Value::Bool(b) => Ok(b),
            other => Ok(i.truthy(&other, span, what)?),
        }
    };
    macro_rules! decide {
        ($i:expr, $x:expr, $y:expr) => {
            match super::arith::scalar_fast(OpOf::<OP>::OP, $x, $y) {
                Some(Value::Bool(b)) => Ok(b),
                _ => slow($i, $x.clone(), $y.clone()),
            }
        };
    }
    match (Operand::new(a), Operand::new(b)) {
        (Operand::Local(x), Operand::Const(c)) => Cond(Box::new(move |i, f| decide!(i, &f.slots[x as usize], &c))),
        (Operand::Const(c), Operand::Local(y)) => Cond(Box::new(move |i, f| decide!(i, &c, &f.slots[y as usize]))),
        (Operand::Local(x), Operand::Local(y)) => Cond(Box::new(move |i, f| {
            decide!(i, &f.slots[x as usize], &f.slots[y as usize])
        })),
        (a, b) => {
            let (a, b) = (operand_code(a), operand_code(b));
            Cond(Box::new(move |i, f| {
                let x = a.run(i, f)?;
                let y = b.run(i, f)?;
                decide!(i, &x, &y)
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
    match (Operand::new(a), Operand::new(b)) {
        (Operand::Local(x), Operand::Const(c)) => code(move |i, f| {
            let xv = &f.slots[x as usize];
            match super::arith::scalar_fast(OpOf::<OP>::OP, xv, &c) {
                Some(v) => Ok(v),
                None => i.binary_slow(OpOf::<OP>::OP, xv.clone(), c.clone(), spans),
            }
        }),
        (Operand::Const(c), Operand::Local(y)) => code(move |i, f| {
            let yv = &f.slots[y as usize];
            match super::arith::scalar_fast(OpOf::<OP>::OP, &c, yv) {
                Some(v) => Ok(v),
                None => i.binary_slow(OpOf::<OP>::OP, c.clone(), yv.clone(), spans),
            }
        }),
        (Operand::Local(x), Operand::Local(y)) => code(move |i, f| {
            let (xv, yv) = (&f.slots[x as usize], &f.slots[y as usize]);
            match super::arith::scalar_fast(OpOf::<OP>::OP, xv, yv) {
                Some(v) => Ok(v),
                None => i.binary_slow(OpOf::<OP>::OP, xv.clone(), yv.clone(), spans),
            }
        }),
        (Operand::Code(a), Operand::Local(y)) => code(move |i, f| {
            // `a` runs first; the local is read after it, as written.
            let x = a.run(i, f)?;
            let yv = &f.slots[y as usize];
            match super::arith::scalar_fast(OpOf::<OP>::OP, &x, yv) {
                Some(v) => {
                    std::mem::forget(x);
                    Ok(v)
                }
                None => i.binary_slow(OpOf::<OP>::OP, x, yv.clone(), spans),
            }
        }),
        (Operand::Code(a), Operand::Const(c)) => code(move |i, f| {
            let x = a.run(i, f)?;
            match super::arith::scalar_fast(OpOf::<OP>::OP, &x, &c) {
                Some(v) => {
                    std::mem::forget(x);
                    Ok(v)
                }
                None => i.binary_slow(OpOf::<OP>::OP, x, c.clone(), spans),
            }
        }),
        (a, b) => {
            let a = operand_code(a);
            let b = operand_code(b);
            code(move |i, f| {
                let x = a.run(i, f)?;
                let y = b.run(i, f)?;
                match super::arith::scalar_fast(OpOf::<OP>::OP, &x, &y) {
                    Some(v) => {
                        // Both are ints or floats (the fast path takes nothing
                        // else), which own nothing: skip their drop calls.
                        std::mem::forget(x);
                        std::mem::forget(y);
                        Ok(v)
                    }
                    None => i.binary_slow(OpOf::<OP>::OP, x, y, spans),
                }
            })
        }
    }
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
    let args: Vec<Code> = args.into_iter().map(|a| expr(a.value)).collect();
    code(move |i, f| {
        // The common cases first: a dp function called by a name. Only the
        // closure's `Rc` is cloned (the call must keep it alive even if the
        // arguments rebind the name).
        match &callee {
            Callee::Global(g, _) => {
                if let Some(c) = f.module.get_func(*g) {
                    return call_func(i, f, &c, &args, span);
                }
            }
            Callee::Local(s) => {
                if let Value::Func(c) = &f.slots[*s as usize] {
                    let c = c.clone();
                    return call_func(i, f, &c, &args, span);
                }
            }
            Callee::Code(_) => {}
        }
        let fv = match &callee {
            Callee::Global(g, name) => match f.module.get(*g) {
                Some(v) => v,
                None => return Err(unbound_global_error(name, callee_span)),
            },
            Callee::Local(s) => f.slots[*s as usize].clone(),
            Callee::Code(c) => c.run(i, f)?,
        };
        if let Value::Func(c) = &fv {
            return call_func(i, f, c, &args, span);
        }
        super::interp::not_callable(&fv, callee_span)?;
        let mut pos = Vec::with_capacity(args.len());
        for a in &args {
            pos.push(a.run(i, f)?);
        }
        let args = Args {
            pos,
            kw: Vec::new(),
            span,
            spans: spans.clone(),
        };
        Ok(i.call(&fv, args)?)
    })
}

/// Calls dp function `c` with positional arguments evaluated in frame `f`.
#[inline(always)]
fn call_func(
    i: &mut Interp,
    f: &mut Frame,
    c: &std::rc::Rc<crate::value::Closure>,
    args: &[Code],
    span: Span,
) -> R<Value> {
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
    let mut pos = Vec::with_capacity(args.len());
    for a in args {
        pos.push(a.run(i, f)?);
    }
    Ok(i.call_closure(c, pos, (Vec::new(), &[]), span)?)
}

/// `v[key]` for an in-range int index of a tuple or a present key of a
/// dict; `None` sends everything else (tensors, strings, negative or bad
/// indices, errors) to the general indexing code.
#[inline(always)]
fn element(v: &Value, key: &Value) -> Option<Value> {
    match (v, key) {
        (Value::Tuple(t), Value::Int(n)) if (0..t.len() as i64).contains(n) => Some(t[*n as usize].clone()),
        (Value::Dict(d), Value::Str(name)) => d.get(name).cloned(),
        _ => None,
    }
}

/// `x[k]` with a single index.
fn index_at(x: Operand, x_span: Span, k: ir::Expr, span: Span) -> Code {
    let k_span = k.span;
    let general = move |v: &Value, key: &Value| -> R<Value> {
        Ok(super::index::index(
            v,
            vec![super::index::Item::At(key.clone(), k_span)],
            x_span,
            span,
        )?)
    };
    // A local indexed by a constant or a local: both are read in place (such
    // a key cannot run code that rebinds the local).
    match (x, Operand::new(k)) {
        (Operand::Local(xs), Operand::Const(key)) => code(move |_, f| {
            let v = &f.slots[xs as usize];
            // Operations recorded later without a span of their own (`-t[0]`) are
            // attributed to this expression, as in the general indexing code.
            crate::autodiff::trace::set_span(span);
            match element(v, &key) {
                Some(found) => Ok(found),
                None => general(v, &key),
            }
        }),
        (Operand::Local(xs), Operand::Local(ks)) => code(move |_, f| {
            let (v, key) = (&f.slots[xs as usize], &f.slots[ks as usize]);
            // Operations recorded later without a span of their own (`-t[0]`) are
            // attributed to this expression, as in the general indexing code.
            crate::autodiff::trace::set_span(span);
            match element(v, key) {
                Some(found) => Ok(found),
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
                crate::autodiff::trace::set_span(span);
                match element(&v, &key) {
                    Some(found) => Ok(found),
                    None => general(&v, &key),
                }
            })
        }
    }
}

/// One compiled entry of a dict literal.
enum DictCode {
    Pair(std::rc::Rc<str>, Code),
    Spread(Code, Span),
}

/// A dict literal `{k: v, ...other}`: later entries win.
fn dict(items: Vec<ir::DictItem>) -> Code {
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

/// One compiled position inside `x[...]`.
enum IndexCode {
    At(Code, Span),
    Slice([Option<(Code, Span)>; 3]),
}

/// `x[...]`.
fn index(x: ir::Expr, mut items: Vec<ir::IndexItem>, span: Span) -> Code {
    let x_span = x.span;
    let x = Operand::new(x);
    if items.len() == 1 {
        match items.pop() {
            Some(ir::IndexItem::At(k)) => return index_at(x, x_span, k, span),
            Some(other) => items.push(other),
            None => {}
        }
    }
    let x = operand_code(x);
    let part = |p: Option<ir::Expr>| p.map(|p| (p.span, p)).map(|(s, p)| (expr(p), s));
    let items: Vec<IndexCode> = items
        .into_iter()
        .map(|it| match it {
            ir::IndexItem::At(e) => {
                let s = e.span;
                IndexCode::At(expr(e), s)
            }
            ir::IndexItem::Slice(a, b, c) => IndexCode::Slice([part(a), part(b), part(c)]),
        })
        .collect();
    code(move |i, f| {
        let v = x.run(i, f)?;
        let mut idx = Vec::with_capacity(items.len());
        for it in &items {
            idx.push(match it {
                IndexCode::At(e, s) => super::index::Item::At(e.run(i, f)?, *s),
                IndexCode::Slice(parts) => {
                    let mut vals: [Option<(Value, Span)>; 3] = [None, None, None];
                    for (out, p) in vals.iter_mut().zip(parts) {
                        if let Some((c, s)) = p {
                            *out = Some((c.run(i, f)?, *s));
                        }
                    }
                    let [a, b, c] = vals;
                    super::index::Item::Slice(a, b, c)
                }
            });
        }
        Ok(super::index::index(&v, idx, x_span, span)?)
    })
}
