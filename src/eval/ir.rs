//! The resolved program: the AST with every name bound to a frame slot, a
//! module global, a builtin, or the running closure itself. Plain data, made
//! by [`super::resolve`] and turned into running code by [`super::compile`].

use crate::syntax::ast::BinOp;
use crate::syntax::span::Span;
use crate::value::Value;
use std::rc::Rc;

/// Where a name lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A slot of the current call frame.
    Local(u32),
    /// A global of the current module.
    Global(u32),
}

/// A resolved expression.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What to compute.
    pub kind: ExprKind,
    /// Where it came from.
    pub span: Span,
}

/// A call argument, positional or keyword.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The keyword, if any.
    pub name: Option<Rc<str>>,
    /// The argument's value.
    pub value: Expr,
    /// The whole argument as written (`name=value` for keyword arguments).
    pub span: Span,
}

/// One entry of a dict literal.
#[derive(Clone, Debug)]
pub enum DictItem {
    /// `key: value`.
    Pair(Rc<str>, Expr),
    /// `...other`.
    Spread(Expr),
}

/// One position inside `x[...]`.
#[derive(Clone, Debug)]
pub enum IndexItem {
    /// An index or a tensor of indices.
    At(Expr),
    /// `a:b:c`.
    Slice(Option<Expr>, Option<Expr>, Option<Expr>),
    /// `...`.
    Ellipsis(Span),
}

/// A resolved binding pattern.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// Bind to a name.
    Bind(Target, Span),
    /// Destructure a tuple.
    Tuple(Vec<Pattern>, Span),
    /// Destructure a dict by key.
    Dict(Vec<(Rc<str>, Span, Pattern)>, Span),
}

/// How a closure obtains one captured value when it is created.
#[derive(Clone, Copy, Debug)]
pub enum CaptureSrc {
    /// A slot of the creating frame.
    Local(u32),
    /// A module global, read when the closure is created.
    Global(u32),
    /// The closure running the creating frame (a local recursive `fn`).
    SelfRef,
}

/// A resolved function definition (a `fn` or a lambda).
#[derive(Debug)]
pub struct FnProto {
    /// The name, or `<lambda>`.
    pub name: Rc<str>,
    /// The parameter list as written, `(a, b=1)` (for printing the function).
    pub params_text: Rc<str>,
    /// Parameters: how each argument binds, its keyword name and its default.
    pub params: Vec<Param>,
    /// Frame size.
    pub n_slots: u32,
    /// The slot of each parameter when every parameter is a plain name
    /// (calls with all arguments positional then bind without any checks).
    pub simple_params: Option<Vec<u32>>,
    /// Captured values and the slots they are copied into.
    pub captures: Vec<(CaptureSrc, u32)>,
    /// The body.
    pub body: Expr,
    /// The definition.
    pub span: Span,
}

/// A resolved parameter.
#[derive(Debug)]
pub struct Param {
    /// The keyword a caller may use (plain-name parameters only).
    pub name: Option<Rc<str>>,
    /// How the argument binds.
    pub pattern: Pattern,
    /// Evaluated in the callee's frame when the argument is omitted.
    pub default: Option<Expr>,
}

/// The kinds of resolved expression.
#[derive(Clone, Debug)]
// A plain tag (rather than a niche in `Const`'s value) makes every `match` one compare.
#[repr(u32)]
pub enum ExprKind {
    Const(Value),
    Local(u32),
    Global(u32, Rc<str>),
    /// The running closure (a local `fn` calling itself).
    SelfRef,
    Tensor(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<DictItem>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Arg>),
    /// `recv.name(args)`: a module/dict call or a uniform method call.
    Method(Box<Expr>, Rc<str>, Span, Vec<Arg>),
    Field(Box<Expr>, Rc<str>, Span),
    Index(Box<Expr>, Vec<IndexItem>),
    Lambda(Rc<FnProto>),
    Block(Vec<Stmt>, Option<Box<Expr>>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    While(Box<Expr>, Box<Expr>),
    For(Pattern, Box<Expr>, Box<Expr>),
}

/// A resolved statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    Let(Pattern, Expr),
    Assign(Target, Expr),
    /// `x = x op rhs` where `rhs` cannot observe `x`: `x` is taken out of its
    /// slot while `rhs` runs, so a uniquely owned tensor is updated in place.
    /// `x = append(x, v)` / `x = insert(x, k, v)` with the builtin itself:
    /// the other arguments are evaluated first, then `x` is taken out of its
    /// slot, so a uniquely owned tuple or dict grows in place.
    Grow {
        target: Target,
        kind: GrowKind,
        call: Expr,
    },
    Update {
        target: Target,
        name: Rc<str>,
        op: BinOp,
        rhs: Expr,
        lhs_span: Span,
        span: Span,
    },
    Expr(Expr),
    Fn(Target, Rc<FnProto>),
    Return(Option<Expr>, Span),
    Break(Span),
    Continue(Span),
    Import {
        target: Target,
        path: Option<Rc<str>>,
        name: Rc<str>,
        span: Span,
    },
}

/// Which persistent-collection update a [`Stmt::Grow`] performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrowKind {
    /// `append(t, v)`.
    Append,
    /// `insert(d, k, v)`.
    Insert,
}

/// A resolved top-level program (a file, a REPL entry or a `-e` snippet).
#[derive(Debug)]
pub struct Program {
    /// Top-level `fn`s, bound before anything runs so they can be used anywhere.
    pub hoisted: Vec<(u32, Rc<FnProto>)>,
    /// The statements in order (without the hoisted `fn`s).
    pub stmts: Vec<Stmt>,
    /// The final expression, if any.
    pub tail: Option<Expr>,
    /// Size of the top-level frame (locals of top-level blocks and loops).
    pub n_slots: u32,
}
