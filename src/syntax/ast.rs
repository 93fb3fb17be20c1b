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
    /// `x[..., i]`: as many `:` as the other items leave axes.
    Ellipsis(Span),
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

impl Expr {
    /// Whether `pred` holds for this expression or any expression inside it
    /// (including inside nested blocks, lambdas and statements).
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        let block =
            |b: &Block| b.stmts.iter().any(|s| s.any_expr(pred)) || b.tail.as_ref().is_some_and(|t| t.any(pred));
        match &self.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::None => false,
            ExprKind::Var(_) => false,
            ExprKind::Tensor(es) | ExprKind::Tuple(es) => es.iter().any(|e| e.any(pred)),
            ExprKind::Dict(es) => es.iter().any(|d| match d {
                DictEntry::Pair(_, e) | DictEntry::Spread(e) => e.any(pred),
            }),
            ExprKind::Neg(x) | ExprKind::Not(x) | ExprKind::Field(x, _) => x.any(pred),
            ExprKind::Binary(_, a, b) | ExprKind::And(a, b) | ExprKind::Or(a, b) => a.any(pred) || b.any(pred),
            ExprKind::Call(f, args) => f.any(pred) || args.iter().any(|a| a.value.any(pred)),
            ExprKind::Index(x, items) => {
                x.any(pred)
                    || items.iter().any(|i| match i {
                        IndexItem::At(e) => e.any(pred),
                        IndexItem::Slice(a, b, c) => [a, b, c].iter().any(|p| p.as_ref().is_some_and(|e| e.any(pred))),
                        IndexItem::Ellipsis(_) => false,
                    })
            }
            ExprKind::Lambda(f) => {
                f.body.any(pred) || f.params.iter().any(|p| p.default.as_ref().is_some_and(|d| d.any(pred)))
            }
            ExprKind::Block(b) => block(b),
            ExprKind::If(c, t, e) => c.any(pred) || block(t) || e.as_ref().is_some_and(|e| e.any(pred)),
            ExprKind::While(c, b) => c.any(pred) || block(b),
            ExprKind::For(_, it, b) => it.any(pred) || block(b),
        }
    }
}

impl Stmt {
    /// Whether `pred` holds for any expression in this statement.
    pub fn any_expr(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        match &self.kind {
            StmtKind::Let(_, e) | StmtKind::Assign(_, e) | StmtKind::Expr(e, _) => e.any(pred),
            StmtKind::Return(e) => e.as_ref().is_some_and(|e| e.any(pred)),
            StmtKind::Fn(f) => f.body.any(pred),
            StmtKind::Break | StmtKind::Continue | StmtKind::Import { .. } | StmtKind::Error => false,
        }
    }
}
