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
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexError::UnexpectedChar => write!(f, "unexpected character"),
            LexError::IntTooLarge => write!(f, "integer literal is too large for a 64-bit int"),
            LexError::BadEscape(e) => write!(f, "invalid escape sequence `{e}` in string"),
            LexError::UnterminatedString => write!(f, "unterminated string literal"),
        }
    }
}

fn parse_int(lex: &mut logos::Lexer<Token>) -> Result<i64, LexError> {
    lex.slice()
        .replace('_', "")
        .parse::<i64>()
        .map_err(|_| LexError::IntTooLarge)
}

fn parse_float(lex: &mut logos::Lexer<Token>) -> Option<f64> {
    lex.slice().replace('_', "").parse::<f64>().ok()
}

fn parse_string(lex: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    let s = lex.slice();
    unescape(&s[1..s.len() - 1])
}

fn unterminated(_: &mut logos::Lexer<Token>) -> Result<String, LexError> {
    Err(LexError::UnterminatedString)
}

/// Resolves the escapes `\n \t \r \0 \\ \" \u{XXXX}` of a string literal's body.
pub fn unescape(body: &str) -> Result<String, LexError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('u') => {
                let rest: String = chars.clone().take_while(|&c| c != '}').collect();
                let bad = || LexError::BadEscape(format!("\\u{rest}}}"));
                let hex = rest.strip_prefix('{').ok_or_else(bad)?;
                let code = u32::from_str_radix(hex, 16).map_err(|_| bad())?;
                out.push(char::from_u32(code).ok_or_else(bad)?);
                for _ in 0..=rest.len() {
                    chars.next();
                }
            }
            Some(other) => return Err(LexError::BadEscape(format!("\\{other}"))),
            None => return Err(LexError::BadEscape("\\".into())),
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
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", parse_float)]
    #[regex(r"\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", parse_float)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", parse_float)]
    Float(f64),
    #[regex(r#""([^"\\]|\\.)*""#, parse_string)]
    #[regex(r#""([^"\\]|\\.)*"#, unterminated)]
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
        Ident(_) | Int(_) | Float(_) | Str(_) => "",
    }
}

/// All keywords, for completion and "did you mean".
pub const KEYWORDS: &[&str] = &[
    "let", "fn", "if", "else", "while", "for", "in", "return", "break", "continue", "import", "as", "true", "false",
    "none", "and", "or", "not",
];
