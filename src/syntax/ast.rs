//! The abstract syntax tree produced by the parser. Every node carries a [`Span`].

use super::span::Span;
use std::rc::Rc;

/// A name together with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: Rc<str>,
    /// Where it appears.
    pub span: Span,
}

/// An expression and its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it appears.
    pub span: Span,
}

/// Binary operators (logical `and`/`or` have their own nodes: they short-circuit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    MatMul,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::MatMul => "@",
            BinOp::Pow => "**",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }
}

/// One argument of a call: positional, or `name=value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The keyword, for keyword arguments.
    pub name: Option<Ident>,
    /// The argument's expression.
    pub value: Expr,
}

/// One entry of a dict literal.
#[derive(Clone, Debug, PartialEq)]
pub enum DictEntry {
    /// `key: value` or `"key": value`.
    Pair(Ident, Expr),
    /// `...other`.
    Spread(Expr),
}

/// One position inside `x[...]`.
// Built once per parse and resolved away, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum IndexItem {
    /// `x[i]` or a gather with a tensor of indices.
    At(Expr),
    /// `x[a:b:c]` with each part optional.
    Slice(Option<Expr>, Option<Expr>, Option<Expr>),
}

/// A binding pattern: `x`, `(a, b)`, `{w, b: bias}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// Binds the whole value to a name.
    Name(Ident),
    /// Destructures a tuple of exactly this many elements.
    Tuple(Vec<Pattern>, Span),
    /// Destructures a dict by keys.
    Dict(Vec<(Ident, Pattern)>, Span),
}

impl Pattern {
    /// Where the pattern appears.
    pub fn span(&self) -> Span {
        match self {
            Pattern::Name(i) => i.span,
            Pattern::Tuple(_, s) | Pattern::Dict(_, s) => *s,
        }
    }
}

/// A function parameter, with its optional default value.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// How the argument is bound.
    pub pattern: Pattern,
    /// The default, evaluated at each call that omits the argument.
    pub default: Option<Expr>,
}

/// A function definition: `fn name(params) { body }` or `|params| body`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// The name, for `fn` declarations.
    pub name: Option<Ident>,
    /// The parameters in order.
    pub params: Vec<Param>,
    /// The body, whose value is the result.
    pub body: Expr,
    /// The whole definition.
    pub span: Span,
}

/// A `{ ... }` block: statements, then an optional value expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// The block's value; `none` when absent.
    pub tail: Option<Box<Expr>>,
    /// The braces and everything between.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bool(bool),
    None,
    Var(Rc<str>),
    /// `[a, b, ...]`: a tensor built by stacking the elements.
    Tensor(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<DictEntry>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Vec<Arg>),
    Field(Box<Expr>, Ident),
    Index(Box<Expr>, Vec<IndexItem>),
    Lambda(Rc<FnDef>),
    Block(Block),
    If(Box<Expr>, Block, Option<Box<Expr>>),
    While(Box<Expr>, Block),
    For(Pattern, Box<Expr>, Block),
}

impl ExprKind {
    /// Whether this expression ends with a block (`if`, `while`, `for`, `{}`),
    /// so that a following `;` is optional.
    pub fn is_block_like(&self) -> bool {
        matches!(
            self,
            ExprKind::Block(_) | ExprKind::If(..) | ExprKind::While(..) | ExprKind::For(..)
        )
    }

    /// Whether this is a comparison (`==`, `<`, ...), which may not be chained.
    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            ExprKind::Binary(
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
                ..
            )
        )
    }
}

/// A statement and its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What the statement is.
    pub kind: StmtKind,
    /// Where it appears.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Let(Pattern, Expr),
    Assign(Ident, Expr),
    /// An expression statement; the flag says whether it ended with `;`.
    Expr(Expr, bool),
    Fn(Rc<FnDef>),
    Return(Option<Expr>),
    Break,
    Continue,
    /// `import name;` (stdlib) or `import "path" as name;`.
    Import {
        path: Option<Rc<str>>,
        name: Ident,
    },
    /// A statement that failed to parse (its error was recorded).
    Error,
}

/// A parsed source file: its statements and an optional final expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The top-level statements.
    pub stmts: Vec<Stmt>,
    /// The final expression without `;`, whose value `dp -e` and the REPL print.
    pub tail: Option<Expr>,
}
