//! The tokens of dp, produced by a logos lexer.

use logos::Logos;
use std::fmt;

/// Why a piece of source text is not a token.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LexError {
    /// A character that starts no token.
    #[default]
    UnexpectedChar,
    /// An integer literal that does not fit in 64 bits.
    IntTooLarge,
    /// A string literal with an unknown or malformed escape.
    BadEscape(String),
    /// A string literal without its closing quote.
    UnterminatedString,
    /// A number ending in a bare `.` such as `3.` (floats need a digit after the point).
    TrailingDot(String),
    /// An int, a bare `.` and an exponent such as `1.e5` (the point needs a
    /// digit after it): the int's text and the exponent's (`e5`).
    DotExponent(String, String),
    /// A number with a `_` that does not stand between two digits (`1_`,
    /// `1__0`, `1_.5`), as Python rejects them: the literal's text.
    MisplacedUnderscore(String),
    /// A malformed f-string (an unclosed or empty `{}`), with what is wrong.
    BadFString(String),
    /// Comparison operators chained without parentheses (`a < b < c`), found by the parser.
    ChainedComparison {
        /// Start of the whole chain.
        start: usize,
        /// End of the whole chain.
        end: usize,
    },
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnexpectedChar => write!(f, "unexpected character"),
            LexError::IntTooLarge => write!(f, "integer literal is too large for a 64-bit int"),
            LexError::BadEscape(e) => write!(f, "invalid escape sequence `{e}` in string"),
            LexError::UnterminatedString => write!(f, "unterminated string literal: expected a closing `\"`"),
            LexError::TrailingDot(n) => write!(f, "`{n}.` is not a number: a float needs a digit after the point"),
            LexError::DotExponent(n, exp) => {
                write!(f, "`{n}.{exp}` is not a number: a float needs a digit after the point")
            }
            LexError::MisplacedUnderscore(n) => {
                write!(f, "`{n}` is not a number: a digit must follow each `_` in a number")
            }
            LexError::BadFString(why) => write!(f, "invalid f-string: {why}"),
            LexError::ChainedComparison { .. } => write!(f, "comparison operators cannot be chained"),
        }
    }
}

/// Checks that every `_` in a number stands between two digits, as in
/// Python (`1_000`, `0.000_1`): the token patterns allow any run of them, so
/// that `1_`, `1__0` and `1_.5` are reported as what they are rather than
/// read as `1`, `10` and `1.5`.
fn check_underscores(text: &str) -> Result<(), LexError> {
    let b = text.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let misplaced = (0..b.len()).any(|i| b[i] == b'_' && !(i > 0 && digit_at(i - 1) && digit_at(i + 1)));
    if misplaced {
        Err(LexError::MisplacedUnderscore(text.to_string()))
    } else {
        Ok(())
    }
}

fn parse_int(lex: &mut logos::Lexer<Token>) -> Result<i64, LexError> {
    check_underscores(lex.slice())?;
    lex.slice()
        .replace('_', "")
        .parse::<i64>()
        .map_err(|_| LexError::IntTooLarge)
}

fn parse_float(lex: &mut logos::Lexer<Token>) -> Result<f64, LexError> {
    check_underscores(lex.slice())?;
    // The patterns admit only text Rust parses (too large a literal is inf).
    lex.slice()
        .replace('_', "")
        .parse::<f64>()
        .map_err(|_| LexError::UnexpectedChar)
}

fn parse_string(lex: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    let s = lex.slice();
    unescape(&s[1..s.len() - 1]).map_err(|(e, _)| e)
}

fn unterminated(_: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    Err(LexError::UnterminatedString)
}

/// Resolves the escapes `\n \t \r \0 \\ \" \u{XXXX}` of a string literal's body.
/// A bad escape is reported with its byte offset in `body`.
pub fn unescape(body: &str) -> Result<String, (LexError, std::ops::Range<usize>)> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let bad = |end: usize| (LexError::BadEscape(body[at..end].to_string()), at..end);
        match chars.next() {
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, '0')) => out.push('\0'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, '"')) => out.push('"'),
            Some((u, 'u')) => {
                // `\u{` up to 6 hex digits `}`; the error covers what was written of it.
                let mut end = u + 1;
                let mut hex = String::new();
                let mut closed = false;
                if chars.peek().map(|p| p.1) == Some('{') {
                    end += 1;
                    chars.next();
                    while let Some(&(i, h)) = chars.peek() {
                        if h == '}' {
                            closed = true;
                            end = i + 1;
                            chars.next();
                            break;
                        }
                        if !h.is_ascii_alphanumeric() || hex.len() >= 8 {
                            break;
                        }
                        hex.push(h);
                        end = i + 1;
                        chars.next();
                    }
                }
                let ok = closed && (1..=6).contains(&hex.len()) && hex.chars().all(|h| h.is_ascii_hexdigit());
                match u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| ok)
                    .and_then(char::from_u32)
                {
                    Some(ch) => out.push(ch),
                    None => return Err(bad(end)),
                }
            }
            Some((i, other)) => return Err(bad(i + other.len_utf8())),
            None => return Err(bad(body.len())),
        }
    }
    Ok(out)
}

/// One token of dp source.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
pub enum Token {
    #[token("let")]
    Let,
    #[token("fn")]
    Fn,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("return")]
    Return,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("import")]
    Import,
    #[token("as")]
    As,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("none")]
    None,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    #[regex(r"[0-9][0-9_]*", parse_int)]
    Int(i64),
    // Exponent digits take `_` separators too (`1e1_0`, as Python); the
    // patterns admit any run of `[0-9_]` after the `e` so that `1e_5` and
    // `1e5_` are one misplaced-underscore error, not an int and a name.
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9_]+)?", parse_float)]
    #[regex(r"\.[0-9][0-9_]*([eE][+-]?[0-9_]+)?", parse_float)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9_]+", parse_float)]
    Float(f64),
    /// An f-string, expanded by the lexer into a `format` call (see `syntax::fstring`).
    #[regex(r#"f"([^"\\]|\\.)*""#)]
    FStr,
    #[regex(r#""([^"\\]|\\.)*""#, parse_string)]
    #[regex(r#""([^"\\\n]|\\.)*"#, unterminated)]
    Str(String),

    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("...")]
    Ellipsis,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("//")]
    SlashSlash,
    #[token("%")]
    Percent,
    #[token("@")]
    At,
    #[token("**")]
    StarStar,
    #[token("|")]
    Pipe,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "identifier `{s}`"),
            Token::Int(i) => write!(f, "integer `{i}`"),
            Token::Float(x) => write!(f, "float `{x}`"),
            Token::Str(s) => write!(f, "string {s:?}"),
            other => write!(f, "`{}`", token_text(other)),
        }
    }
}

/// The fixed spelling of a punctuation or keyword token.
pub fn token_text(t: &Token) -> &'static str {
    use Token::*;
    match t {
        Let => "let",
        Fn => "fn",
        If => "if",
        Else => "else",
        While => "while",
        For => "for",
        In => "in",
        Return => "return",
        Break => "break",
        Continue => "continue",
        Import => "import",
        As => "as",
        True => "true",
        False => "false",
        None => "none",
        And => "and",
        Or => "or",
        Not => "not",
        LParen => "(",
        RParen => ")",
        LBracket => "[",
        RBracket => "]",
        LBrace => "{",
        RBrace => "}",
        Comma => ",",
        Semi => ";",
        Colon => ":",
        Dot => ".",
        Ellipsis => "...",
        Assign => "=",
        EqEq => "==",
        NotEq => "!=",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        Plus => "+",
        Minus => "-",
        Star => "*",
        Slash => "/",
        SlashSlash => "//",
        Percent => "%",
        At => "@",
        StarStar => "**",
        Pipe => "|",
        Ident(_) | Int(_) | Float(_) | Str(_) | FStr => "",
    }
}

/// All keywords, for completion and "did you mean".
pub const KEYWORDS: &[&str] = &[
    "let", "fn", "if", "else", "while", "for", "in", "return", "break", "continue", "import", "as", "true", "false",
    "none", "and", "or", "not",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscores_must_stand_between_digits() {
        for ok in ["1_000", "1_0.0_1", "0.000_1", "1_0e5", ".5_5", "1e1_0", "1.5e-1_0"] {
            assert_eq!(check_underscores(ok), Ok(()), "{ok}");
        }
        for bad in [
            "1_", "1__0", "1_.5", "1.5_", "1_e5", "1.5_e3", ".5_", "1e_5", "1e5_", "1e+_5",
        ] {
            assert_eq!(
                check_underscores(bad),
                Err(LexError::MisplacedUnderscore(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn unescape_accepts_every_documented_escape() {
        assert_eq!(unescape(r#"a\n\t\\\"\u{1F600}\u{41}"#).unwrap(), "a\n\t\\\"\u{1F600}A");
    }

    #[test]
    fn unescape_reports_the_bad_escape_and_where_it_is() {
        let bad = |s: &str| unescape(s).unwrap_err();
        assert_eq!(bad(r"ab\q"), (LexError::BadEscape(r"\q".into()), 2..4));
        assert_eq!(bad(r"\u{110000}").0, LexError::BadEscape(r"\u{110000}".into()));
        assert_eq!(bad(r"\u{1F600").0, LexError::BadEscape(r"\u{1F600".into()));
        assert_eq!(bad(r"\u{}").0, LexError::BadEscape(r"\u{}".into()));
        assert_eq!(bad(r"\u41").0, LexError::BadEscape(r"\u".into()));
        assert_eq!(bad("x\\").1, 1..2);
    }
}
