//! Wraps the logos lexer as the token stream LALRPOP expects.

use super::span::{FileId, Span};
use super::token::{LexError, Token};
use logos::Logos;

/// A lexical error and where it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct SpannedLexError {
    /// What went wrong.
    pub error: LexError,
    /// The offending text.
    pub span: Span,
}

/// Lexes `src` completely: the tokens with byte offsets, and every lexical
/// error (erroneous text is dropped from the token stream, so parsing goes on
/// and all errors of a file are reported together).
pub fn tokenize(src: &str, file: FileId) -> (Vec<(usize, Token, usize)>, Vec<SpannedLexError>) {
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    let mut lex = Token::lexer(src);
    while let Some(tok) = lex.next() {
        let r = lex.span();
        match tok {
            Ok(t) => tokens.push((r.start, t, r.end)),
            Err(error) => errors.push(SpannedLexError {
                error,
                span: Span::new(file, r.start, r.end),
            }),
        }
    }
    (tokens, errors)
}
