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
            Ok(Token::Dot) if after_int(&tokens, r.start) && underscored_fraction_len(lex.remainder()) > 0 => {
                // `1._5`: not the field `_5` of the int 1, but a float whose
                // fraction starts with `_` (Python: invalid decimal literal).
                // One error, and it stands as a float.
                let end = r.end + underscored_fraction_len(lex.remainder());
                lex.bump(end - r.end);
                if let Some((l, Token::Int(_), _)) = tokens.pop() {
                    errors.push(SpannedLexError {
                        error: LexError::MisplacedUnderscore(src[l..end].to_string()),
                        span: Span::new(file, l, end),
                    });
                    tokens.push((l, Token::Float(0.0), end));
                }
            }
            Ok(Token::Dot) if after_int(&tokens, r.start) && exponent_len(lex.remainder()) > 0 => {
                // `1.e5`: not the field `e5` of the int 1, but a float written
                // without a digit after the point. One error, and it stands as
                // the float it was meant to be.
                let exp_end = r.end + exponent_len(lex.remainder());
                lex.bump(exp_end - r.end);
                if let Some((l, Token::Int(_), _)) = tokens.pop() {
                    let (int, exp) = (&src[l..r.start], &src[r.end..exp_end]);
                    let value = format!("{int}.0{exp}").replace('_', "").parse::<f64>().unwrap_or(0.0);
                    errors.push(SpannedLexError {
                        error: LexError::DotExponent(int.to_string(), exp.to_string()),
                        span: Span::new(file, l, exp_end),
                    });
                    tokens.push((l, Token::Float(value), exp_end));
                }
            }
            Ok(Token::FStr) => match super::fstring::expand(src, r.start, r.end) {
                Ok(expanded) => tokens.extend(expanded),
                Err((error, a, b)) => {
                    tokens.push((r.start, Token::Str(String::new()), r.end));
                    errors.push(SpannedLexError {
                        error,
                        span: Span::new(file, a, b),
                    });
                }
            },
            Ok(t) => tokens.push((r.start, t, r.end)),
            Err(error) => {
                let placeholder = match &error {
                    LexError::IntTooLarge => Some(Token::Int(0)),
                    // Stands as the kind of number it was meant to be.
                    LexError::MisplacedUnderscore(text) if text.contains(['.', 'e', 'E']) => Some(Token::Float(0.0)),
                    LexError::MisplacedUnderscore(_) => Some(Token::Int(0)),
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

/// Whether the last token is an integer ending at `at`.
fn after_int(tokens: &[(usize, Token, usize)], at: usize) -> bool {
    matches!(tokens.last(), Some((_, Token::Int(_), end)) if *end == at)
}

/// The length of the exponent (`e5`, `E-3`) at the start of `rest`, 0 when
/// there is none. (No field or method of an int is named like one.)
fn exponent_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    if !matches!(b.first(), Some(b'e' | b'E')) {
        return 0;
    }
    let sign = usize::from(matches!(b.get(1), Some(b'+' | b'-')));
    if !b.get(1 + sign).is_some_and(u8::is_ascii_digit) {
        return 0;
    }
    // Digits with `_` separators, as in the exponent of any float.
    let digits = b[1 + sign..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b'_')
        .count();
    // `1.e` or `1.ex` is a field name; `1.e5x` is too (an identifier).
    let ident_follows = b
        .get(1 + sign + digits)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if digits == 0 || (sign == 0 && ident_follows) {
        return 0;
    }
    1 + sign + digits
}

/// The length of a fraction that starts with `_` and a digit (`_5`, `_5e3`)
/// at the start of `rest`, 0 when there is none: after an int and a point it
/// is a malformed float, not a field name (no name starts `_` and a digit
/// that a number would have).
fn underscored_fraction_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    if b.first() != Some(&b'_') || !b.get(1).is_some_and(u8::is_ascii_digit) {
        return 0;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit() || **c == b'_').count();
    digits + exponent_len(&rest[digits..])
}

/// Whether a `.` at `at` directly ends an integer (`3.`) rather than starting a
/// field or method name (`3.abs()`, `x.y`).
fn is_trailing_dot(tokens: &[(usize, Token, usize)], at: usize, rest: &str) -> bool {
    let after_int = after_int(tokens, at);
    let name_follows = rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    after_int && !name_follows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> (Vec<Token>, Vec<LexError>) {
        let (toks, errs) = tokenize(src, 0);
        (
            toks.into_iter().map(|t| t.1).collect(),
            errs.into_iter().map(|e| e.error).collect(),
        )
    }

    #[test]
    fn trailing_dot_is_an_error_but_a_method_call_is_not() {
        let (toks, errs) = kinds("3.;");
        assert_eq!(errs, vec![LexError::TrailingDot("3".into())]);
        assert_eq!(toks, vec![Token::Float(3.0), Token::Semi]);
        let (toks, errs) = kinds("3.abs()");
        assert!(errs.is_empty());
        assert_eq!(toks[..3], [Token::Int(3), Token::Dot, Token::Ident("abs".into())]);
    }

    #[test]
    fn an_exponent_after_a_bare_point_is_one_error() {
        for (src, value) in [("1.e5;", 1e5), ("2.E-3;", 2e-3), ("1_0.e+2;", 1e3), ("1.e1_0;", 1e10)] {
            let (toks, errs) = kinds(src);
            assert_eq!(errs.len(), 1, "{src}");
            assert!(matches!(errs[0], LexError::DotExponent(..)), "{src}");
            assert_eq!(toks, vec![Token::Float(value), Token::Semi], "{src}");
        }
        // A name that is no exponent stays a field (`1.e` and `1.e5x` are fields, `1.exp()` a method).
        for src in ["1.e;", "1.e5x;", "1.exp();"] {
            let (toks, errs) = kinds(src);
            assert!(errs.is_empty(), "{src}");
            assert_eq!(toks[..2], [Token::Int(1), Token::Dot], "{src}");
        }
    }

    #[test]
    fn bad_literals_leave_placeholders_and_precise_spans() {
        let (toks, errs) = tokenize(r#"x = "ab\qc";"#, 0);
        assert_eq!(toks.len(), 4, "the bad string still stands as a string token");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span.range(), 7..9, "only `\\q` is underlined");
        let (toks, errs) = kinds("99999999999999999999 1");
        assert_eq!(toks, vec![Token::Int(0), Token::Int(1)]);
        assert_eq!(errs, vec![LexError::IntTooLarge]);
    }

    #[test]
    fn a_misplaced_underscore_is_one_error_and_the_number_stands() {
        for (src, tok) in [
            ("1_;", Token::Int(0)),
            ("1__0;", Token::Int(0)),
            ("1_.5;", Token::Float(0.0)),
            ("1._5;", Token::Float(0.0)),
            ("1._5e3;", Token::Float(0.0)),
            ("1e_5;", Token::Float(0.0)),
            ("1e5_;", Token::Float(0.0)),
        ] {
            let (toks, errs) = tokenize(src, 0);
            let text = &src[..src.len() - 1];
            assert_eq!(
                errs.iter().map(|e| e.error.clone()).collect::<Vec<_>>(),
                vec![LexError::MisplacedUnderscore(text.into())]
            );
            assert_eq!(
                errs[0].span.range(),
                0..text.len(),
                "{src}: the whole literal is underlined"
            );
            assert_eq!(
                toks.into_iter().map(|t| t.1).collect::<Vec<_>>(),
                vec![tok, Token::Semi]
            );
        }
    }

    #[test]
    fn unterminated_string_stops_at_the_end_of_its_line() {
        let (toks, errs) = kinds("\"open\nlet");
        assert_eq!(errs, vec![LexError::UnterminatedString]);
        assert_eq!(toks, vec![Token::Let]);
    }
}
