//! f-strings: `f"step {i} loss {l:.4f}"` is `format("step {} loss {:.4f}", i, l)`.
//! The lexer hands each f-string here, which expands it into the tokens of
//! that call: the expressions in the holes are lexed where they stand, so
//! reports inside them point into the f-string.

use super::token::{unescape, LexError, Token};
use logos::Logos;

/// The builtin an f-string calls: `format` under a name no program can bind
/// (identifiers cannot start with `$`), so shadowing `format` changes nothing.
pub const FORMAT_BUILTIN: &str = "$format";

/// A token with its byte range, as the lexer yields them.
type SpannedToken = (usize, Token, usize);

/// What is wrong with an f-string, and the byte range in the source it concerns.
type FStringError = (LexError, usize, usize);

/// A piece of an f-string's body.
enum Piece<'a> {
    /// Literal text, escapes not yet resolved.
    Text(&'a str),
    /// `{expr}` or `{expr:spec}`: the byte range of `expr` in the body, and the spec.
    Hole(usize, usize, &'a str),
}

/// Expands the f-string token spanning `start..end` of `src` (which starts
/// `f"` and ends `"`) into tokens, or says what is wrong and where (byte
/// range in `src`).
pub fn expand(src: &str, start: usize, end: usize) -> Result<Vec<SpannedToken>, FStringError> {
    let body_start = start + 2;
    let body = &src[body_start..end - 1];
    let pieces = split(body).map_err(|(msg, a, b)| (LexError::BadFString(msg), body_start + a, body_start + b))?;
    let mut template = String::new();
    let mut out = vec![
        (start, Token::Ident(FORMAT_BUILTIN.to_string()), start + 1),
        (start + 1, Token::LParen, start + 1),
    ];
    let mut holes = Vec::new();
    for p in pieces {
        match p {
            Piece::Text(t) => {
                let text = unescape(t).map_err(|(e, at)| {
                    let off = t.as_ptr() as usize - body.as_ptr() as usize + body_start;
                    (e, off + at.start, off + at.end)
                })?;
                // Braces in text are already doubled (`{{`), as `format` wants them.
                template.push_str(&text);
            }
            Piece::Hole(a, b, spec) => {
                template.push('{');
                if !spec.is_empty() {
                    template.push(':');
                    template.push_str(spec);
                }
                template.push('}');
                holes.push((body_start + a, body_start + b));
            }
        }
    }
    out.push((start, Token::Str(template), end));
    for (a, b) in holes {
        out.push((a, Token::Comma, a));
        out.push((a, Token::LParen, a));
        let mut lex = Token::lexer(&src[a..b]);
        while let Some(tok) = lex.next() {
            let r = lex.span();
            match tok {
                Ok(t) => out.push((a + r.start, t, a + r.end)),
                Err(e) => return Err((e, a + r.start, a + r.end)),
            }
        }
        out.push((b, Token::RParen, b));
    }
    out.push((end - 1, Token::RParen, end));
    Ok(out)
}

/// Splits an f-string body into text and holes. A hole ends at the `}` that
/// closes it; its spec starts at the first `:` outside brackets and strings.
fn split(body: &str) -> Result<Vec<Piece<'_>>, (String, usize, usize)> {
    let bytes = body.as_bytes();
    let mut pieces = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            // A `\u{...}` escape's braces are not a hole.
            b'\\' if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2) == Some(&b'{') => {
                i = body[i..].find('}').map_or(bytes.len(), |k| i + k + 1);
            }
            b'\\' => i += 2,
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'}' => return Err(("a `}` without a matching `{` (write `}}` for a brace)".into(), i, i + 1)),
            b'{' => {
                pieces.push(Piece::Text(&body[text_start..i]));
                let open = i;
                let (mut depth, mut colon, mut in_str) = (0usize, None, false);
                i += 1;
                let close = loop {
                    let Some(&c) = bytes.get(i) else {
                        return Err((
                            "this `{` is never closed (write `{{` for a brace)".into(),
                            open,
                            open + 1,
                        ));
                    };
                    match c {
                        b'\\' if in_str => i += 1,
                        b'"' => in_str = !in_str,
                        _ if in_str => {}
                        b'(' | b'[' | b'{' => depth += 1,
                        b')' | b']' => depth = depth.saturating_sub(1),
                        b'}' if depth == 0 => break i,
                        b'}' => depth -= 1,
                        b':' if depth == 0 && colon.is_none() => colon = Some(i),
                        _ => {}
                    }
                    i += 1;
                };
                let expr_end = colon.unwrap_or(close);
                if body[open + 1..expr_end].trim().is_empty() {
                    return Err((
                        "an empty `{}` in an f-string: put an expression inside".into(),
                        open,
                        close + 1,
                    ));
                }
                let spec = colon.map_or("", |c| &body[c + 1..close]);
                pieces.push(Piece::Hole(open + 1, expr_end, spec));
                i = close + 1;
                text_start = i;
            }
            _ => i += 1,
        }
    }
    pieces.push(Piece::Text(&body[text_start..]));
    Ok(pieces)
}
