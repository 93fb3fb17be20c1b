//! Wraps the logos lexer as the token stream LALRPOP expects.

use super::span::{FileId, Span};
use super::token::{unescape, LexError, Token};
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
/// error. So that parsing goes on and all errors of a file are reported
/// together, a malformed literal still yields a placeholder token of its kind
/// (the parser then sees a well-formed program where the user clearly meant a
/// literal); only characters that start no token are dropped.
pub fn tokenize(src: &str, file: FileId) -> (Vec<(usize, Token, usize)>, Vec<SpannedLexError>) {
    let mut tokens: Vec<(usize, Token, usize)> = Vec::new();
    let mut errors = Vec::new();
    let mut lex = Token::lexer(src);
    while let Some(tok) = lex.next() {
        let r = lex.span();
        let mut span = Span::new(file, r.start, r.end);
        match tok {
            Ok(Token::Dot) if is_trailing_dot(&tokens, r.start, lex.remainder()) => {
                // `3.` (but not `3.abs()`): one error, and the number stands as a float.
                if let Some((l, Token::Int(i), _)) = tokens.pop() {
                    errors.push(SpannedLexError {
                        error: LexError::TrailingDot(src[l..r.start].to_string()),
                        span: Span::new(file, l, r.end),
                    });
                    tokens.push((l, Token::Float(i as f64), r.end));
                }
            }
            Ok(t) => tokens.push((r.start, t, r.end)),
            Err(error) => {
                let placeholder = match &error {
                    LexError::IntTooLarge => Some(Token::Int(0)),
                    LexError::BadEscape(_) => {
                        // Underline just the bad escape, not the whole string.
                        if let Err((_, at)) = unescape(&src[r.start + 1..r.end.saturating_sub(1).max(r.start + 1)]) {
                            span = Span::new(file, r.start + 1 + at.start, r.start + 1 + at.end);
                        }
                        Some(Token::Str(String::new()))
                    }
                    _ => None,
                };
                if let Some(t) = placeholder {
                    tokens.push((r.start, t, r.end));
                }
                errors.push(SpannedLexError { error, span });
            }
        }
    }
    (tokens, errors)
}

/// Whether a `.` at `at` directly ends an integer (`3.`) rather than starting a
/// field or method name (`3.abs()`, `x.y`).
fn is_trailing_dot(tokens: &[(usize, Token, usize)], at: usize, rest: &str) -> bool {
    let after_int = matches!(tokens.last(), Some((_, Token::Int(_), end)) if *end == at);
    let name_follows = rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    after_int && !name_follows
}
