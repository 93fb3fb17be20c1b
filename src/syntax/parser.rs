//! Runs the LALRPOP parser and turns its errors into [`Diagnostic`]s.

use super::ast::*;
use super::lexer::tokenize;
use super::span::{FileId, Span};
use super::token::{token_text, LexError, Token};
use crate::diagnostics::{cap_reports, Diagnostic, ErrorKind};
use lalrpop_util::{lalrpop_mod, ErrorRecovery, ParseError};
use std::cell::RefCell;

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

/// The number of syntax errors after which the parser is given no more
/// tokens: far more than are ever shown (see [`crate::diagnostics::MAX_REPORTS`]),
/// and each error costs the parser a search of what it expected instead.
const MAX_PARSE_ERRORS: usize = 200;

/// Runs the LALRPOP parser over `tokens`, recording recovered errors in
/// `recovered`; the token stream ends early once [`MAX_PARSE_ERRORS`] are recorded.
fn run_parser(
    file: FileId,
    recovered: &RefCell<Vec<ErrorRecovery<usize, Token, LexError>>>,
    tokens: impl Iterator<Item = (usize, Token, usize)>,
) -> Result<Program, ParseError<usize, Token, LexError>> {
    let tokens = tokens.take_while(|_| recovered.borrow().len() < MAX_PARSE_ERRORS);
    grammar::ProgramParser::new().parse(file, recovered, tokens.map(Ok::<_, LexError>))
}

/// Where the first syntax error of a token stream at or after byte `from` is
/// (`usize::MAX`: none).
fn first_error_from(tokens: &[(usize, Token, usize)], file: FileId, from: usize) -> usize {
    let recovered = RefCell::new(Vec::new());
    let result = run_parser(file, &recovered, tokens.iter().cloned());
    let recovered = recovered.into_inner();
    let location = |e: &ParseError<usize, Token, LexError>| match e {
        ParseError::UnrecognizedToken { token: (l, _, _), .. } | ParseError::ExtraToken { token: (l, _, _) } => *l,
        ParseError::InvalidToken { location } | ParseError::UnrecognizedEof { location, .. } => *location,
        ParseError::User { .. } => 0,
    };
    recovered
        .iter()
        .map(|r| location(&r.error))
        .chain(result.err().as_ref().map(location))
        .filter(|&l| l >= from)
        .min()
        .unwrap_or(usize::MAX)
}

/// Tokens that begin a statement and can never continue an expression: after
/// a `}`, such a token always starts the next statement.
fn starts_statement_only(t: &Token) -> bool {
    matches!(
        t,
        Token::Let
            | Token::Fn
            | Token::If
            | Token::While
            | Token::For
            | Token::Return
            | Token::Break
            | Token::Continue
            | Token::Import
            | Token::Ident(_)
            | Token::Int(_)
            | Token::Float(_)
            | Token::Str(_)
            | Token::True
            | Token::False
            | Token::None
            | Token::Not
    )
}

/// An optional `;` put in by [`insert_optional_semicolons`]: zero width, unlike a written one.
fn is_inserted_semi(t: &(usize, Token, usize)) -> bool {
    t.1 == Token::Semi && t.0 == t.2
}

/// How many times a syntax error may send [`insert_optional_semicolons`]
/// back to reconsider one `;`: each costs a parse of the whole file.
const MAX_SEMICOLON_REPAIRS: usize = 32;

/// Statements end with `;`, which is optional after a block-ending `}`
/// (`let f = |x| { x }` then a new line `print(f(1));`). A `;` is put in, in
/// one pass, after every `}` followed by a token that can only start a
/// statement. Only where the program does not parse is a `;` reconsidered,
/// a bounded number of times: one put in where the parser did not expect it
/// is taken out again (the report then names the token the user wrote), and
/// one is added before a token that could also have continued the
/// expression (`{`, `|`, ...) when that moves the first syntax error forward.
fn insert_optional_semicolons(tokens: Vec<(usize, Token, usize)>, file: FileId) -> Vec<(usize, Token, usize)> {
    let mut out = Vec::with_capacity(tokens.len() + tokens.len() / 16);
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && tokens[i - 1].1 == Token::RBrace && starts_statement_only(&t.1) {
            let end = tokens[i - 1].2;
            out.push((end, Token::Semi, end));
        }
        out.push(t.clone());
    }
    // Errors before `floor` have been looked at and are not about a `;`.
    let mut floor = 0;
    let mut error_at = first_error_from(&out, file, floor);
    for _ in 0..MAX_SEMICOLON_REPAIRS {
        if error_at == usize::MAX {
            break;
        }
        if let Some(i) = out.iter().position(|t| t.0 == error_at && is_inserted_semi(t)) {
            out.remove(i);
            error_at = first_error_from(&out, file, floor);
            continue;
        }
        let at = out.iter().position(|t| t.0 == error_at);
        if let Some(i) =
            at.filter(|&i| i > 0 && out[i - 1].1 == Token::RBrace && !matches!(out[i].1, Token::Semi | Token::RBrace))
        {
            let end = out[i - 1].2;
            out.insert(i, (end, Token::Semi, end));
            let next = first_error_from(&out, file, floor);
            if next == usize::MAX || next > error_at {
                error_at = next;
                continue;
            }
            out.remove(i);
        }
        // Not about a `;`: look past it for the next one.
        floor = error_at + 1;
        error_at = first_error_from(&out, file, floor);
    }
    out
}

/// Parses one source file.
pub fn parse(src: &str, file: FileId) -> ParseResult {
    let (tokens, lex_errors) = tokenize(src, file);
    let tokens = insert_optional_semicolons(tokens, file);
    let token_starts: Vec<usize> = tokens.iter().map(|t| t.0).collect();
    let token_spans: Vec<(usize, usize)> = tokens.iter().map(|t| (t.0, t.2)).collect();
    let separator_starts: Vec<usize> = tokens
        .iter()
        .filter(|t| matches!(t.1, Token::Semi | Token::RBrace))
        .map(|t| t.0)
        .collect();
    let holes = fstring_holes(&tokens);
    let lex_ends: Vec<usize> = lex_errors.iter().map(|e| e.span.end as usize).collect();
    let mut diags: Vec<Diagnostic> =
        lex_errors
            .into_iter()
            .map(|e| {
                let mut d = Diagnostic::new(ErrorKind::Syntax, e.error.to_string()).at(e.span);
                if e.error == LexError::UnexpectedChar {
                    let text = src.get(e.span.range()).unwrap_or("");
                    d.message = format!("unexpected character `{text}`");
                }
                match e.error {
                LexError::TrailingDot(n) => d
                    .with_label("write a digit after the point")
                    .with_help(format!("write `{n}.0`")),
                LexError::DotExponent(n, exp) => d
                    .with_label("a float needs a digit after the point")
                    .with_help(format!("write `{n}.0{exp}` or `{n}{exp}`")),
                LexError::BadEscape(e) => d
                    .with_label(if e.starts_with("\\u") { "not a valid Unicode escape" } else { "unknown escape" })
                    .with_help(r#"the escapes are \n \t \r \0 \\ \" and \u{1F600} (1 to 6 hex digits)"#),
                LexError::UnterminatedString => d
                    .with_label("this string is never closed")
                    .with_help(r#"add the closing `"`"#),
                LexError::UnexpectedChar => d.with_label("no token starts with this character"),
                LexError::MisplacedUnderscore(n) => d
                    .with_label("each `_` must stand between two digits")
                    .with_help(format!("write `{}`", n.replace('_', ""))),
                LexError::IntTooLarge => d.with_label("does not fit in a 64-bit int").with_help(
                    "ints range from -9223372036854775808 to 9223372036854775807; use a float such as `1e20` beyond",
                ),
                _ => d.with_label("here"),
            }
            })
            .collect();
    let recovered = RefCell::new(Vec::new());
    let result = run_parser(file, &recovered, tokens.into_iter());
    let stopped_early = recovered.borrow().len() >= MAX_PARSE_ERRORS;
    let recovered = recovered.into_inner();
    let mut parse_diags: Vec<Diagnostic> = recovered
        .into_iter()
        .map(|r| convert(r.error, file, src, &token_spans, &holes))
        .collect();
    let program = match result {
        Ok(p) => Some(p),
        // The parser was given no more tokens: the end it ran into is not the file's.
        Err(_) if stopped_early => None,
        Err(e) => {
            parse_diags.push(convert(e, file, src, &token_spans, &holes));
            None
        }
    };
    // A parse error at the very next token after a lexical error is almost
    // always a consequence of it (e.g. the rest of the line swallowed by an
    // unterminated string): report the cause only.
    // Each lexical error shadows [its end, the next token's start]: sorted by
    // start, with the furthest end so far, one binary search per error.
    let mut shadows: Vec<(usize, usize)> = lex_ends
        .iter()
        .map(|&end| {
            (
                end,
                token_starts
                    .get(token_starts.partition_point(|&t| t < end))
                    .copied()
                    .unwrap_or(usize::MAX),
            )
        })
        .collect();
    shadows.sort_unstable();
    let mut reach = 0;
    for s in &mut shadows {
        reach = reach.max(s.1);
        s.1 = reach;
    }
    parse_diags.retain(|d| {
        let at = d.span.map_or(usize::MAX, |s| s.start as usize);
        let before = shadows.partition_point(|&(end, _)| end <= at);
        !(before > 0 && shadows[before - 1].1 >= at)
    });
    // After a parse error, later errors in the same statement are usually
    // echoes of the first: keep a parse error only when a `;` or `}` lies
    // between it and the previous one kept.
    parse_diags.sort_by_key(|d| d.span.map_or(u32::MAX, |s| s.start));
    let mut last: Option<usize> = None;
    // After a Python or JavaScript keyword (`} elif x < 0 { ... } else`), the
    // rest of its line is Python too: its errors are all echoes.
    let mut foreign_until: Option<usize> = None;
    parse_diags.retain(|d| {
        let at = d.span.map_or(usize::MAX, |s| s.start as usize);
        if foreign_until.is_some_and(|end| at < end) {
            return false;
        }
        if d.help.as_deref().is_some_and(crate::hints::is_foreign_keyword_help) {
            foreign_until = Some(
                src.get(at..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(src.len(), |i| at + i),
            );
        }
        // A missing `;` at a line end is an independent mistake: the
        // statement on the next line parses afresh, so each one is reported
        // (`dp check` then lists them all in one run).
        let keep = d.message == MISSING_SEMI
            || d.message == MISSING_SEMI_AT_END
            || last.is_none_or(|prev| {
                let first = separator_starts.partition_point(|&t| t < prev);
                separator_starts.get(first).is_some_and(|&t| t < at)
            });
        if keep {
            // After a missing `;` the parser starts the next line's statement
            // afresh, so an error inside it is not an echo.
            last = (d.message != MISSING_SEMI).then_some(at);
        }
        keep
    });
    diags.extend(parse_diags);
    match program {
        Some(p) if diags.is_empty() => Ok(p),
        _ => Err(cap_reports(diags)),
    }
}

/// The message of a statement that lacks its `;` before the next line.
const MISSING_SEMI: &str = "expected `;` at the end of this statement";

/// The message of a last statement that lacks its `;` (see [`expected_list`]).
const MISSING_SEMI_AT_END: &str = "unexpected end of input, expected `;`";

/// Terminals that can start an expression.
const EXPR_START: &[&str] = &[
    "ident",
    "int",
    "float",
    "str",
    "\"(\"",
    "\"[\"",
    "\"{\"",
    "\"-\"",
    "\"|\"",
    "\"not\"",
    "\"true\"",
    "\"false\"",
    "\"none\"",
    "\"if\"",
    "\"while\"",
    "\"for\"",
];

/// Terminals that continue an expression: binary operators and postfix brackets.
const OPERATORS: &[&str] = &[
    "\"+\"", "\"-\"", "\"*\"", "\"/\"", "\"//\"", "\"%\"", "\"@\"", "\"**\"", "\"==\"", "\"!=\"", "\"<\"", "\"<=\"",
    "\">\"", "\">=\"", "\"and\"", "\"or\"", "\"(\"", "\"[\"", "\".\"",
];

/// Says what the parser expected in words: long sets of terminals are
/// summarised as "an expression" or "an operator".
fn expected_list(expected: &[String]) -> String {
    let has = |t: &str| expected.iter().any(|x| x == t);
    let mut summaries = Vec::new();
    let mut skip: Vec<&str> = Vec::new();
    if has("ident") && has("int") && has("str") {
        summaries.push("an expression".to_string());
        skip.extend(EXPR_START);
    }
    if OPERATORS.iter().filter(|t| has(t)).count() >= 5 {
        summaries.push("an operator".to_string());
        skip.extend(OPERATORS);
    }
    let mut items: Vec<String> = expected
        .iter()
        .filter(|t| !skip.contains(&t.as_str()))
        .map(|s| pretty_terminal(s))
        .collect();
    items.sort();
    items.dedup();
    if items.len() > 8 {
        let n = items.len();
        items.truncate(8);
        items.push(format!("… ({} possibilities)", n + summaries.len()));
    }
    items.extend(summaries);
    match items.split_last() {
        None => "nothing".into(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
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

/// An `=` where no assignment can be: `x += 1`, `d.k = v`, `t[0] = v`, `if a = b`.
fn misplaced_assign(file: FileId, src: &str, l: usize, r: usize, prev: Option<(usize, usize)>) -> Diagnostic {
    let op = prev
        .filter(|(_, pe)| *pe == l)
        .and_then(|(ps, pe)| src.get(ps..pe))
        .filter(|p| ["+", "-", "*", "/", "//", "%", "**", "@"].contains(p));
    if prev.and_then(|(ps, pe)| src.get(ps..pe)) == Some("let") {
        return Diagnostic::new(ErrorKind::Syntax, "a name is missing after `let`")
            .at(Span::new(file, l, r))
            .with_label("expected the name to bind before this `=`")
            .with_help("write `let NAME = value;`");
    }
    if let (Some(op), Some((ps, _))) = (op, prev) {
        return Diagnostic::new(ErrorKind::Syntax, format!("dp has no `{op}=` operator"))
            .at(Span::new(file, ps, r))
            .with_label("not an operator")
            .with_help(format!("write `x = x {op} ...`"));
    }
    Diagnostic::new(
        ErrorKind::Syntax,
        "unexpected `=`: only a plain name can be assigned to",
    )
    .at(Span::new(file, l, r))
    .with_label("no assignment is possible here")
    .with_help(
        "values are immutable: re-bind the name to an updated copy, e.g. `d = {...d, k: v}` or \
             `t = append(t, x)`; to compare, write `==`",
    )
}

/// The tokens of one `{...}` of an f-string, as `syntax::fstring` expands
/// it: a `(` and a `)` that span nothing around the expression's tokens.
struct Hole {
    tokens: Vec<(usize, Token, usize)>,
}

impl Hole {
    /// Where the token starting at `at` stands in this hole: `None` outside
    /// it or inside a bracket of the user's own, else whether a token of
    /// the hole comes before it. At the top level the hole's `)` is one
    /// the user never wrote, so "expected `)`" would misreport: after a
    /// token the expression can be complete, and a token the parser does
    /// not take is a second expression (`f"{x y}"`).
    fn top_level(&self, at: usize) -> Option<bool> {
        let (open, close) = (self.tokens.first()?, self.tokens.last()?);
        if !(open.0..close.0).contains(&at) {
            return None;
        }
        // The tokens before `at`, the hole's own `(` (the first) left out.
        let before: Vec<&Token> = self.tokens[1..].iter().take_while(|t| t.0 < at).map(|t| &t.1).collect();
        let depth = before.iter().fold(0i64, |d, t| match t {
            Token::LParen | Token::LBracket | Token::LBrace => d + 1,
            Token::RParen | Token::RBracket | Token::RBrace => d - 1,
            _ => d,
        });
        (depth == 0).then_some(!before.is_empty())
    }
}

/// The holes of the f-strings in `tokens`: each opens with a `,` and a `(`
/// spanning nothing and closes at the next `)` spanning nothing (holes do
/// not nest: they cannot hold `"`). Only f-strings make tokens of zero
/// width, besides the `;`s put in by [`insert_optional_semicolons`], and
/// only holes make a `,` of zero width.
fn fstring_holes(tokens: &[(usize, Token, usize)]) -> Vec<Hole> {
    let zero_width = |t: &(usize, Token, usize), k: &Token| t.0 == t.2 && t.1 == *k;
    let mut holes = Vec::new();
    let mut i = 1;
    while i < tokens.len() {
        if zero_width(&tokens[i], &Token::LParen) && zero_width(&tokens[i - 1], &Token::Comma) {
            let Some(len) = tokens[i + 1..].iter().position(|t| zero_width(t, &Token::RParen)) else {
                break;
            };
            let end = i + 1 + len;
            holes.push(Hole {
                tokens: tokens[i..=end].to_vec(),
            });
            i = end;
        }
        i += 1;
    }
    holes
}

fn convert(
    e: ParseError<usize, Token, LexError>,
    file: FileId,
    src: &str,
    tokens: &[(usize, usize)],
    holes: &[Hole],
) -> Diagnostic {
    let len = src.len();
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
            let wants_semi = expected.iter().any(|x| x == "\";\"");
            // The token before the unexpected one, when it ends an earlier line:
            // then the statement most likely lacks its `;` there.
            let prev = tokens.iter().rev().find(|(_, end)| *end <= l).copied();
            if let Some((ps, pe)) =
                prev.filter(|(_, pe)| wants_semi && src.get(*pe..l).is_some_and(|gap| gap.contains('\n')))
            {
                return Diagnostic::new(ErrorKind::Syntax, MISSING_SEMI)
                    .at(Span::new(file, ps, pe))
                    .with_label("add `;` after this")
                    .with_secondary(Span::new(file, l, r), format!("the next statement starts with {t}"));
            }
            if t == Token::Assign {
                return misplaced_assign(file, src, l, r, prev);
            }
            // A `)` that spans nothing is the end of an f-string's `{...}`
            // (see `syntax::fstring`): the user wrote no `)`, the expression
            // inside the braces stops early.
            if t == Token::RParen && l == r {
                return Diagnostic::new(
                    ErrorKind::Syntax,
                    format!(
                        "the expression in this f-string's `{{...}}` ends early, expected {}",
                        expected_list(&expected)
                    ),
                )
                .at(Span::new(file, l, (l + 1).min(len)))
                .with_label("the expression ends here");
            }
            // A token after a complete expression in an f-string's `{...}`.
            let in_hole = holes.iter().find_map(|h| h.top_level(l));
            let closes_hole = |x: &String| x == "\")\"";
            if in_hole == Some(true) && expected.iter().any(closes_hole) {
                return Diagnostic::new(
                    ErrorKind::Syntax,
                    format!("unexpected {t} in an f-string's `{{...}}`: it holds one expression"),
                )
                .at(Span::new(file, l, r))
                .with_label("the expression before this is complete")
                .with_help("join them with an operator, or give each expression its own `{...}`");
            }
            // At the start of a hole the `)` the parser would take is the hole's own.
            let expected: Vec<String> = match in_hole {
                Some(false) => expected.into_iter().filter(|x| !closes_hole(x)).collect(),
                _ => expected,
            };
            let mut d = Diagnostic::new(
                ErrorKind::Syntax,
                format!("unexpected {t}, expected {}", expected_list(&expected)),
            )
            .at(Span::new(file, l, r))
            .with_label("unexpected here");
            // The word just before, on the same line (`def f`, `elif x`), and
            // the token before that word on its line, if any.
            let same_line = |from: usize, to: usize| src.get(from..to).is_some_and(|gap| !gap.contains('\n'));
            let foreign = prev.filter(|(_, pe)| same_line(*pe, l)).and_then(|(ps, pe)| {
                // (Skipping the `;`s the parser put in, which span nothing.)
                let before = tokens
                    .iter()
                    .rev()
                    .find(|(start, end)| *end <= ps && start < end)
                    .filter(|(_, end)| same_line(*end, ps))
                    .and_then(|(bs, be)| src.get(*bs..*be));
                crate::hints::foreign_keyword(src.get(ps..pe)?, before)
            });
            if let Some(h) = foreign {
                d = d.with_help(h);
            } else if t == Token::Colon && expected.iter().any(|x| x == "\"{\"") {
                d = d.with_help(crate::hints::COLON_BLOCK);
            } else if wants_semi {
                d = d.with_help("statements end with `;`");
            } else if expected.iter().any(|x| x == "ident") && !token_text(&t).is_empty() {
                let word = token_text(&t);
                if word.chars().all(|c| c.is_ascii_alphabetic()) {
                    d = d.with_help(format!("`{word}` is a keyword and cannot be used as a name"));
                }
            }
            d
        }
        ParseError::ExtraToken { token: (l, t, r) } => {
            Diagnostic::new(ErrorKind::Syntax, format!("unexpected extra {t}")).at(Span::new(file, l, r))
        }
        ParseError::User {
            error: error @ LexError::ChainedComparison { start, end },
        } => Diagnostic::new(ErrorKind::Syntax, error.to_string())
            .at(Span::new(file, start, end))
            .with_label("`a < b < c` is ambiguous")
            .with_help("write `a < b and b < c`, or add parentheses"),
        ParseError::User { error } => Diagnostic::new(ErrorKind::Syntax, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> FileId {
        FileId::default()
    }

    #[test]
    fn many_optional_semicolons_need_no_repairs() {
        // 20,000 statements ending in `}` without `;`: put in by the first pass
        // (the parser is not re-run per statement).
        let mut src: String = (0..20_000).map(|i| format!("let f{i} = |x| {{ x }}\n")).collect();
        src.push_str("f0(1)");
        let (tokens, _) = tokenize(&src, file());
        let n = tokens.len();
        let out = insert_optional_semicolons(tokens, file());
        assert_eq!(out.len(), n + 20_000);
        assert!(parse(&src, file()).is_ok());
    }

    #[test]
    fn a_semicolon_the_parser_rejects_is_taken_out_again() {
        // `x` after `}` inside brackets is an error, reported at `x`, not at a `;` nobody wrote.
        let src = "let y = [{a: 1} x];";
        let errs = parse(src, file()).err().unwrap_or_default();
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].message.contains("unexpected identifier `x`"),
            "{}",
            errs[0].message
        );
        assert_eq!(errs[0].span.map(|s| s.start), Some(16));
    }

    #[test]
    fn a_second_expression_in_an_fstring_hole_is_named_as_such() {
        let first = |src: &str| {
            let errs = parse(src, file()).err().unwrap_or_default();
            assert_eq!(errs.len(), 1, "{src}");
            (errs[0].message.clone(), errs[0].span.map(|s| s.start))
        };
        let hole = "in an f-string's `{...}`: it holds one expression";
        assert_eq!(
            first(r#"f"{x y}";"#),
            (format!("unexpected identifier `y` {hole}"), Some(5))
        );
        assert_eq!(
            first(r#"f"a {1} {2 3:.2}";"#).0,
            format!("unexpected integer `3` {hole}")
        );
        // Within the user's own brackets the missing bracket is named; at
        // the start of a hole its `)` is not offered.
        assert!(first(r#"f"{(x y)}";"#).0.ends_with("expected `)`, `,` or an operator"));
        assert_eq!(first(r#"f"{let}";"#).0, "unexpected `let`, expected an expression");
    }

    #[test]
    fn ellipsis_and_none_are_index_items() {
        // `...` in brackets is an index item; `...d` in a dict literal is still a spread.
        for src in [
            "x[..., 0];",
            "x[0, ...];",
            "x[...];",
            "x[none, ..., 1:];",
            "x.at[..., 0].set(1.0);",
        ] {
            let ast = parse(src, file()).unwrap_or_else(|e| panic!("{src}: {:?}", e[0].message));
            assert!(format!("{ast:?}").contains("Ellipsis("), "{src}");
        }
        let shown = |src: &str| parse(src, file()).map(|a| format!("{a:?}")).unwrap_or_default();
        assert!(shown("x[none, :, 0];").contains("Index("));
        assert!(!shown("x[none, :, 0];").contains("Ellipsis("));
        assert!(shown("let d = {...e, a: 1};").contains("Spread("));
        // `...` is not an expression outside brackets.
        assert!(parse("let y = ...;", file()).is_err());
    }

    #[test]
    fn ambiguous_tokens_after_a_brace_get_a_semicolon_only_when_needed() {
        assert!(parse("let f = |x| { x }\n{ 1; }\nf(1)", file()).is_ok());
        assert!(parse("for i in {} { i; }", file()).is_ok());
        // Each later statement parses even after an earlier error not about `;`.
        let errs = parse("let a = (1 2);\nlet f = |x| { x }\n{ 1; }", file())
            .err()
            .unwrap_or_default();
        assert_eq!(
            errs.len(),
            1,
            "{:?}",
            errs.iter().map(|d| &d.message).collect::<Vec<_>>()
        );
    }
}
