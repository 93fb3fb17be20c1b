//! Runs the LALRPOP parser and turns its errors into [`Diagnostic`]s.

use super::ast::*;
use super::lexer::tokenize;
use super::span::{FileId, Span};
use super::token::{LexError, Token};
use crate::diagnostics::{Diagnostic, ErrorKind};
use lalrpop_util::{lalrpop_mod, ErrorRecovery, ParseError};

lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, dead_code)]
    grammar,
    "/dp.rs"
);

/// Builds a block; a final block-like statement without `;` becomes its value,
/// as in Rust (`{ x; if c { 1 } else { 2 } }` has a value).
pub fn finish_block(mut stmts: Vec<Stmt>, tail: Option<Expr>, span: Span) -> Block {
    let tail = match tail {
        Some(t) => Some(Box::new(t)),
        None => take_block_like_tail(&mut stmts).map(Box::new),
    };
    Block { stmts, tail, span }
}

/// Builds a program; like a block, a final block-like statement without `;` is its value.
pub fn finish_program(mut stmts: Vec<Stmt>, tail: Option<Expr>) -> Program {
    let tail = tail.or_else(|| take_block_like_tail(&mut stmts));
    Program { stmts, tail }
}

fn take_block_like_tail(stmts: &mut Vec<Stmt>) -> Option<Expr> {
    if let Some(Stmt {
        kind: StmtKind::Expr(e, false),
        ..
    }) = stmts.last()
    {
        if e.kind.is_block_like() {
            if let Some(Stmt {
                kind: StmtKind::Expr(e, _),
                ..
            }) = stmts.pop()
            {
                return Some(e);
            }
        }
    }
    None
}

/// The outcome of parsing: the program, or every error found.
pub type ParseResult = Result<Program, Vec<Diagnostic>>;

/// Whether a parse failed only because the input ended early (an open bracket or
/// block); the REPL then asks for another line.
pub fn is_incomplete(errors: &[Diagnostic]) -> bool {
    errors.iter().any(|d| d.message.starts_with("unexpected end of input"))
}

/// Parses one source file.
pub fn parse(src: &str, file: FileId) -> ParseResult {
    let (tokens, lex_errors) = tokenize(src, file);
    let mut diags: Vec<Diagnostic> = lex_errors
        .into_iter()
        .map(|e| {
            Diagnostic::new(ErrorKind::Syntax, e.error.to_string())
                .at(e.span)
                .with_label("here")
        })
        .collect();
    let mut recovered: Vec<ErrorRecovery<usize, Token, LexError>> = Vec::new();
    let result = grammar::ProgramParser::new().parse(file, &mut recovered, tokens.into_iter().map(Ok::<_, LexError>));
    for r in recovered {
        diags.push(convert(r.error, file, src.len()));
    }
    match result {
        Ok(p) if diags.is_empty() => Ok(p),
        Ok(_) => Err(diags),
        Err(e) => {
            diags.push(convert(e, file, src.len()));
            Err(diags)
        }
    }
}

fn expected_list(expected: &[String]) -> String {
    let mut items: Vec<String> = expected.iter().map(|s| pretty_terminal(s)).collect();
    items.sort();
    items.dedup();
    if items.len() > 8 {
        let n = items.len();
        items.truncate(8);
        return format!("one of {}, … ({} possibilities)", items.join(", "), n);
    }
    match items.len() {
        0 => "nothing".into(),
        1 => items[0].clone(),
        _ => format!("one of {}", items.join(", ")),
    }
}

fn pretty_terminal(t: &str) -> String {
    match t {
        "ident" => "a name".into(),
        "int" => "an integer".into(),
        "float" => "a float".into(),
        "str" => "a string".into(),
        other => format!("`{}`", other.trim_matches('"')),
    }
}

fn convert(e: ParseError<usize, Token, LexError>, file: FileId, len: usize) -> Diagnostic {
    match e {
        ParseError::InvalidToken { location } => {
            Diagnostic::new(ErrorKind::Syntax, "invalid token").at(Span::new(file, location, location + 1))
        }
        ParseError::UnrecognizedEof { location, expected } => Diagnostic::new(
            ErrorKind::Syntax,
            format!("unexpected end of input, expected {}", expected_list(&expected)),
        )
        .at(Span::new(file, location.min(len), len))
        .with_label("the input ends here"),
        ParseError::UnrecognizedToken {
            token: (l, t, r),
            expected,
        } => {
            let mut d = Diagnostic::new(
                ErrorKind::Syntax,
                format!("unexpected {t}, expected {}", expected_list(&expected)),
            )
            .at(Span::new(file, l, r))
            .with_label("unexpected here");
            if expected.iter().any(|x| x == "\";\"") {
                d = d.with_help("statements end with `;`");
            }
            d
        }
        ParseError::ExtraToken { token: (l, t, r) } => {
            Diagnostic::new(ErrorKind::Syntax, format!("unexpected extra {t}")).at(Span::new(file, l, r))
        }
        ParseError::User { error } => Diagnostic::new(ErrorKind::Syntax, error.to_string()),
    }
}
