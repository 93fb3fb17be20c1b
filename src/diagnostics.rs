//! One error type for every phase — lexing, parsing, resolution, evaluation,
//! differentiation — rendered by ariadne with the offending source underlined.

use crate::syntax::span::{FileId, Span};
use ariadne::{Config, IndexType, Label, Report, ReportKind};
use std::fmt;
use std::rc::Rc;

/// The family an error belongs to; shown in the report's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Syntax,
    Name,
    Type,
    Value,
    Shape,
    Index,
    Arity,
    Assertion,
    Differentiation,
    Import,
    Io,
    Recursion,
    Interrupted,
    /// Raised by the program itself through `error(msg)`.
    User,
}

impl ErrorKind {
    /// The label printed in the report header, e.g. `shape error`.
    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Name => "name error",
            ErrorKind::Type => "type error",
            ErrorKind::Value => "value error",
            ErrorKind::Shape => "shape error",
            ErrorKind::Index => "index error",
            ErrorKind::Arity => "arity error",
            ErrorKind::Assertion => "assertion failed",
            ErrorKind::Differentiation => "differentiation error",
            ErrorKind::Import => "import error",
            ErrorKind::Io => "io error",
            ErrorKind::Recursion => "recursion error",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::User => "error",
        }
    }
}

/// One entry of the call stack attached to a runtime error.
#[derive(Clone, Debug, PartialEq)]
pub struct StackFrame {
    /// The called function's name (`<lambda>` for anonymous ones).
    pub function: Rc<str>,
    /// Where the call was made.
    pub call_site: Span,
}

/// The result of anything that can fail with a report: the one `Result` alias of the crate.
pub type R<T> = Result<T, Diagnostic>;

/// An error with everything needed to render a report. It is one pointer
/// wide (the details live behind a `Box`), so `Result<Value, Diagnostic>`
/// stays small on the interpreter's hot paths; fields are reached through
/// `Deref`, e.g. `d.message`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic(Box<DiagnosticData>);

impl std::ops::Deref for Diagnostic {
    type Target = DiagnosticData;
    fn deref(&self) -> &DiagnosticData {
        &self.0
    }
}

impl std::ops::DerefMut for Diagnostic {
    fn deref_mut(&mut self) -> &mut DiagnosticData {
        &mut self.0
    }
}

/// The contents of a [`Diagnostic`].
#[derive(Clone, Debug, PartialEq)]
pub struct DiagnosticData {
    /// The error family.
    pub kind: ErrorKind,
    /// The headline: what was expected and what was found.
    pub message: String,
    /// The primary location, underlined.
    pub span: Option<Span>,
    /// Text attached to the primary underline.
    pub label: Option<String>,
    /// Further underlined locations with their text.
    pub labels: Vec<(Span, String)>,
    /// Free-form notes printed under the source.
    pub notes: Vec<String>,
    /// A suggestion, e.g. "did you mean `x`?".
    pub help: Option<String>,
    /// The calls that were active when a runtime error happened, innermost first.
    pub stack: Vec<StackFrame>,
    /// The computation could not run *batched* (a batched value was needed
    /// concretely, a primitive has no batching rule, a size depends on the
    /// values), though it may run one example at a time. Batched Jacobians
    /// fall back to one pass per basis vector on such errors; the message
    /// is free to change.
    pub cannot_batch: bool,
}

impl Diagnostic {
    /// A new diagnostic of `kind` with `message`, located nowhere yet.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Diagnostic {
        Diagnostic(Box::new(DiagnosticData {
            kind,
            message: message.into(),
            span: None,
            label: None,
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            stack: Vec::new(),
            cannot_batch: false,
        }))
    }

    /// Marks the error as "cannot run batched" (see [`DiagnosticData::cannot_batch`]).
    pub fn cannot_batch(mut self) -> Diagnostic {
        self.cannot_batch = true;
        self
    }

    /// Sets the primary span unless one is already set (the innermost location wins).
    pub fn at(mut self, span: Span) -> Diagnostic {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// The error as it leaves a call of `function` made at `call_site`: the
    /// call joins its stack ("in `f`, called at"), and the call site is its
    /// location if it has none yet.
    pub fn called_from(mut self, function: Rc<str>, call_site: Span) -> Diagnostic {
        self.stack.push(StackFrame { function, call_site });
        self.at(call_site)
    }

    /// Sets the text of the primary underline.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary underlined location.
    pub fn with_secondary(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push((span, text.into()));
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.title(), self.message)
    }
}

/// The source texts known to the interpreter, so reports can quote them.
#[derive(Default, Debug, Clone)]
pub struct SourceMap {
    files: Vec<(String, Rc<str>)>,
}

impl SourceMap {
    /// Registers a source text under a display name and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Rc<str>>) -> FileId {
        let mut name = name.into();
        // ariadne identifies sources by name: keep names unique.
        if self.files.iter().any(|(n, _)| *n == name) {
            name = format!("{name}#{}", self.files.len());
        }
        self.files.push((name, text.into()));
        (self.files.len() - 1) as FileId
    }

    /// The display name of a file.
    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file as usize)
            .map(|f| f.0.as_str())
            .unwrap_or("<unknown>")
    }

    /// The text of a file.
    pub fn text(&self, file: FileId) -> Rc<str> {
        self.files
            .get(file as usize)
            .map(|f| f.1.clone())
            .unwrap_or_else(|| Rc::from(""))
    }

    /// `name:line:column` (1-based) of the start of `span`.
    pub fn location(&self, span: Span) -> String {
        let text = self.text(span.file);
        let upto = &text[..(span.start as usize).min(text.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        format!("{}:{}:{}", self.name(span.file), line, col)
    }

    /// The call stack as notes, innermost first. Repetitions (deep recursion,
    /// direct or through a cycle of up to 4 functions) are folded into one
    /// note with a count, and a very long stack keeps only its innermost and
    /// outermost notes.
    fn stack_notes(&self, stack: &[StackFrame]) -> Vec<String> {
        const KEEP: usize = 8;
        const MAX_CYCLE: usize = 4;
        let line = |f: &StackFrame| format!("in `{}`, called at {}", f.function, self.location(f.call_site));
        let mut notes = Vec::new();
        let mut i = 0;
        while i < stack.len() {
            // The period covering the most frames by repeating from `i`.
            let mut best = (1, 1);
            for p in 1..=MAX_CYCLE.min(stack.len() - i) {
                let mut r = 1;
                while i + (r + 1) * p <= stack.len() && stack[i..i + p] == stack[i + r * p..i + (r + 1) * p] {
                    r += 1;
                }
                if r > 1 && p * r > best.0 * best.1 {
                    best = (p, r);
                }
            }
            match best {
                (1, r) if r > 1 => notes.push(format!("{} (repeated {r} times)", line(&stack[i]))),
                (p, r) if r > 1 => {
                    notes.extend(stack[i..i + p].iter().map(line));
                    notes.push(format!("... the {p} calls above repeat {} more times ...", r - 1));
                }
                _ => notes.push(line(&stack[i])),
            }
            i += best.0 * best.1;
        }
        if notes.len() <= 2 * KEEP + 1 {
            return notes;
        }
        let hidden = notes.len() - 2 * KEEP;
        let mut kept: Vec<String> = notes[..KEEP].to_vec();
        kept.push(format!("... {hidden} more notes ..."));
        kept.extend_from_slice(&notes[notes.len() - KEEP..]);
        kept
    }

    /// Replaces the markers of [`source_id`] in ariadne's location headers
    /// by file names, and the columns ariadne counted in an excerpt by the
    /// columns of the original text.
    fn fix_locations(&self, out: &str, excerpts: &[(FileId, Excerpt)]) -> String {
        let mut fixed = String::with_capacity(out.len());
        let mut rest = out;
        while let Some(i) = rest.find('\u{1}') {
            fixed.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            let Some(j) = rest.find('\u{2}') else { break };
            let file: FileId = rest[..j].parse().unwrap_or(0);
            rest = &rest[j + 1..];
            // Then `:line:column`, both 1-based.
            let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let mut loc = None;
            if let Some(r) = rest.strip_prefix(':') {
                let n = digits(r);
                if let Some(r2) = r[n..].strip_prefix(':') {
                    let m = digits(r2);
                    if let (Ok(line), Ok(col)) = (r[..n].parse::<usize>(), r2[..m].parse::<usize>()) {
                        loc = Some((line, col, 1 + n + 1 + m));
                    }
                }
            }
            fixed.push_str(self.name(file));
            let Some((line, col, len)) = loc else { continue };
            rest = &rest[len..];
            let orig = self.text(file);
            let col = match excerpts.iter().find(|(f, _)| *f == file) {
                Some((_, e)) => {
                    let line_start = |t: &str| {
                        t.match_indices('\n')
                            .nth(line.wrapping_sub(2))
                            .map_or(0, |(k, _)| k + 1)
                    };
                    let (ls, ols) = if line <= 1 {
                        (0, 0)
                    } else {
                        (line_start(&e.text), line_start(&orig))
                    };
                    let n = e.text[ls..]
                        .char_indices()
                        .nth(col.saturating_sub(1))
                        .map_or(e.text.len(), |(k, _)| ls + k);
                    let o = e.unmap(n).min(orig.len()).max(ols);
                    orig.get(ols..o).map_or(col, |s| s.chars().count() + 1)
                }
                None => col,
            };
            fixed.push_str(&format!(":{line}:{col}"));
        }
        fixed.push_str(rest);
        fixed
    }

    /// Renders `diag` as a report; `color` selects ANSI colours.
    pub fn render(&self, diag: &Diagnostic, color: bool) -> String {
        let mut out = Vec::new();
        // ariadne already prints "Error:"; errors raised by `error(msg)` show just the message.
        let header = if diag.kind == ErrorKind::User {
            diag.message.clone()
        } else {
            format!("{}: {}", diag.kind.title(), diag.message)
        };
        match diag.span {
            Some(span) => {
                // Each file is shown through an excerpt in which very long
                // lines are cut down to the text around the underlined spans,
                // so a report's size does not grow with the length of a line.
                let mut points: Vec<(FileId, usize)> =
                    vec![(span.file, span.start as usize), (span.file, span.end as usize)];
                for (s, _) in &diag.labels {
                    points.push((s.file, s.start as usize));
                    points.push((s.file, s.end as usize));
                }
                let mut excerpts: Vec<(FileId, Excerpt)> = Vec::new();
                for &(f, _) in &points {
                    if !excerpts.iter().any(|(g, _)| *g == f) {
                        let at: Vec<usize> = points.iter().filter(|(g, _)| *g == f).map(|(_, p)| *p).collect();
                        excerpts.push((f, Excerpt::new(&self.text(f), &at)));
                    }
                }
                let clamp = |s: Span| {
                    let len = self.text(s.file).len();
                    let start = (s.start as usize).min(len);
                    let end = (s.end as usize).clamp(start, len);
                    match excerpts.iter().find(|(f, _)| *f == s.file) {
                        Some((_, e)) => (source_id(s.file), e.map(start, false)..e.map(end, true)),
                        None => (source_id(s.file), start..end),
                    }
                };
                let config = Config::default().with_color(color).with_index_type(IndexType::Byte);
                let mut b = Report::build(ReportKind::Error, clamp(span))
                    .with_config(config)
                    .with_message(&header);
                let default_label = if diag.kind == ErrorKind::Assertion {
                    "this check failed"
                } else {
                    "here"
                };
                // ariadne starts a new snippet (headed by the primary location)
                // whenever a label lies above the previous one, so labels are
                // given file by file (in order of first mention, the primary's
                // file first) and top to bottom within a file.
                let mut all: Vec<(Span, &str, bool)> =
                    vec![(span, diag.label.as_deref().unwrap_or(default_label), true)];
                all.extend(diag.labels.iter().map(|(s, t)| (*s, t.as_str(), false)));
                let mut files: Vec<FileId> = Vec::new();
                for (s, _, _) in &all {
                    if !files.contains(&s.file) {
                        files.push(s.file);
                    }
                }
                all.sort_by_key(|(s, _, _)| (files.iter().position(|f| *f == s.file), s.start, s.end));
                for (s, text, is_primary) in all {
                    let mut l = Label::new(clamp(s)).with_message(text);
                    if color {
                        l = l.with_color(if is_primary {
                            ariadne::Color::Red
                        } else {
                            ariadne::Color::Blue
                        });
                    }
                    b = b.with_label(l);
                }
                for n in &diag.notes {
                    b = b.with_note(n);
                }
                for note in self.stack_notes(&diag.stack) {
                    b = b.with_note(note);
                }
                if let Some(h) = &diag.help {
                    b = b.with_help(h);
                }
                let cache = ariadne::sources(excerpts.iter().map(|(f, e)| (source_id(*f), e.text.clone())));
                // Writing into a Vec cannot fail.
                let _ = b.finish().write(cache, &mut out);
                self.fix_locations(&String::from_utf8_lossy(&out), &excerpts)
            }
            None => {
                let mut s = format!("Error: {header}\n");
                for n in &diag.notes {
                    s.push_str(&format!("  note: {n}\n"));
                }
                for note in self.stack_notes(&diag.stack) {
                    s.push_str(&format!("  note: {note}\n"));
                }
                if let Some(h) = &diag.help {
                    s.push_str(&format!("  help: {h}\n"));
                }
                s
            }
        }
    }
}

/// The most reports one run prints; the rest are counted in a last line.
/// A file of 20,000 stray characters has 20,000 errors, and nobody reads
/// past the first screenful.
pub const MAX_REPORTS: usize = 20;

/// `errors` cut to [`MAX_REPORTS`], followed by one line counting the rest.
pub fn cap_reports(mut errors: Vec<Diagnostic>) -> Vec<Diagnostic> {
    if errors.len() <= MAX_REPORTS {
        return errors;
    }
    let rest = errors.split_off(MAX_REPORTS);
    let kind = rest[0].kind;
    let what = if rest.iter().all(|d| d.kind == kind) && kind != ErrorKind::User {
        format!("{}s", kind.title())
    } else {
        "errors".to_string()
    };
    errors.push(Diagnostic::new(
        ErrorKind::User,
        format!(
            "… and {} more {what} (only the first {MAX_REPORTS} are shown)",
            rest.len()
        ),
    ));
    errors
}

/// At most `max` characters of `s`, ending in `…` when cut: for quoting user
/// text (names, file contents) in a message without echoing all of it.
pub fn excerpt(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            std::borrow::Cow::Owned(format!("{}…", &s[..end]))
        }
    }
}

/// Lines longer than this many bytes are shown cut down around their spans.
const MAX_LINE: usize = 160;
/// How much text is kept on each side of a span's start or end in a cut line.
const CONTEXT: usize = 40;
/// What stands for the text cut out of a line.
const ELLIPSIS: &str = "…";

/// The name under which ariadne sees a file: a marker that cannot occur in
/// a report otherwise, so that the location headers it prints can be found
/// and rewritten with columns of the original text.
fn source_id(file: FileId) -> String {
    format!("\u{1}{file}\u{2}")
}

/// A source text as a report shows it: lines longer than [`MAX_LINE`] keep
/// only the text around the given points, the rest replaced by `…`. Line
/// breaks are all kept, so line numbers are unchanged.
struct Excerpt {
    text: String,
    /// The kept pieces of the original: (original start, excerpt start, length).
    pieces: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    fn new(orig: &str, points: &[usize]) -> Excerpt {
        if orig.len() <= MAX_LINE || !orig.split('\n').any(|l| l.len() > MAX_LINE) {
            return Excerpt {
                text: orig.to_string(),
                pieces: vec![(0, 0, orig.len())],
            };
        }
        let floor = |mut i: usize| {
            i = i.min(orig.len());
            while !orig.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let ceil = |mut i: usize| {
            i = i.min(orig.len());
            while !orig.is_char_boundary(i) {
                i += 1;
            }
            i
        };
        // The byte ranges of the original to keep, in order.
        let mut keep: Vec<(usize, usize)> = Vec::new();
        let mut start = 0;
        for line in orig.split_inclusive('\n') {
            let end = start + line.len();
            let body_end = if line.ends_with('\n') { end - 1 } else { end };
            if body_end - start <= MAX_LINE {
                keep.push((start, end));
            } else {
                let mut windows: Vec<(usize, usize)> = points
                    .iter()
                    .filter(|&&p| p >= start && p <= body_end)
                    .map(|&p| {
                        (
                            floor(p.saturating_sub(CONTEXT).max(start)),
                            ceil((p + CONTEXT).min(body_end)),
                        )
                    })
                    .collect();
                if windows.is_empty() {
                    windows.push((start, ceil(start + 2 * CONTEXT)));
                }
                windows.sort_unstable();
                for w in windows {
                    match keep.last_mut() {
                        // Windows that overlap, or nearly do, become one.
                        Some(last) if last.1 >= start && w.0 <= last.1 + CONTEXT / 4 => last.1 = last.1.max(w.1),
                        _ => keep.push(w),
                    }
                }
                if body_end < end {
                    keep.push((body_end, end));
                }
            }
            start = end;
        }
        let mut text = String::new();
        let mut pieces = Vec::with_capacity(keep.len());
        let mut at = 0;
        for (a, b) in keep {
            if a > at {
                text.push_str(ELLIPSIS);
            }
            pieces.push((a, text.len(), b - a));
            text.push_str(&orig[a..b]);
            at = b;
        }
        if at < orig.len() {
            text.push_str(ELLIPSIS);
        }
        Excerpt { text, pieces }
    }

    /// Where original byte `o` is in the excerpt; an offset inside cut text
    /// goes to the start of its `…` (or its end, for the end of a span).
    fn map(&self, o: usize, is_end: bool) -> usize {
        let i = self.pieces.partition_point(|p| p.0 <= o).saturating_sub(1);
        let (os, ns, len) = self.pieces[i];
        if o < os {
            0
        } else if o <= os + len {
            ns + (o - os)
        } else if is_end {
            ns + len + ELLIPSIS.len()
        } else {
            ns + len
        }
    }

    /// The original byte at excerpt byte `n` (the inverse of [`Excerpt::map`]).
    fn unmap(&self, n: usize) -> usize {
        let i = self.pieces.partition_point(|p| p.1 <= n).saturating_sub(1);
        let (os, ns, len) = self.pieces[i];
        os + n.saturating_sub(ns).min(len)
    }
}

/// Names longer than this get no "did you mean" suggestion: a typo in a
/// 65-character name is not what happened, and it bounds the search's cost.
const MAX_SUGGESTED_NAME: usize = 64;

/// The candidate closest to `name` by edit distance, if it is close enough
/// to be a likely typo (at most a third of the longer name's characters).
/// Cheap for any input: long names are not considered, candidates whose
/// length alone rules them out are skipped, and each distance computation
/// stops as soon as it exceeds the best allowed.
///
/// A close name that is a different word is not offered: the first letter
/// must agree (or be swapped with the second), and so must the digits
/// (`vmap` is not a typo of `map`, nor `log10` of `log1p`).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let a: Vec<char> = name.chars().take(MAX_SUGGESTED_NAME + 1).collect();
    if a.len() > MAX_SUGGESTED_NAME {
        return None;
    }
    let mut b: Vec<char> = Vec::new();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name || c.len() > 4 * MAX_SUGGESTED_NAME {
            continue;
        }
        b.clear();
        b.extend(c.chars());
        if !plausible_typo(&a, &b) {
            continue;
        }
        let limit = (a.len().max(b.len()) / 3).max(1);
        // A tie is broken by the alphabetically smaller name, so a candidate
        // as close as the best one so far still counts.
        let limit = best.map_or(limit, |(bd, _)| limit.min(bd));
        if a.len().abs_diff(b.len()) > limit {
            continue;
        }
        if let Some(d) = edit_distance_within(&a, &b, limit) {
            if best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
                best = Some((d, c));
            }
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Whether `b` could be what someone typing `a` meant: typos rarely hit the
/// first letter (except by swapping it with the second), and changed digits
/// (when both names have some) name another function (`log10`/`log1p`, `conv1d`/`conv2d`).
fn plausible_typo(a: &[char], b: &[char]) -> bool {
    let first_ok = match (a, b) {
        ([x, ..], [y, ..]) if x == y => true,
        ([x0, x1, ..], [y0, y1, ..]) => x0 == y1 && x1 == y0,
        _ => false,
    };
    let digits = |s: &[char]| s.iter().filter(|c| c.is_ascii_digit()).copied().collect::<Vec<char>>();
    let (da, db) = (digits(a), digits(b));
    first_ok && (da == db || da.is_empty() || db.is_empty())
}

/// The edit distance of `a` and `b` if it is at most `limit`, counting
/// insertions, deletions, substitutions and swaps of two adjacent characters
/// (the commonest typo: `lenght`, `alhpa`) as one edit each. Gives up as soon
/// as every entry of a row exceeds `limit` (distances never decrease).
fn edit_distance_within(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
            row_min = row_min.min(cur[j]);
        }
        // A swap reaches back two rows, so stop only when both rows are out of reach.
        if row_min > limit && prev.iter().min().is_some_and(|&m| m > limit) {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()]).filter(|&d| d <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_counts_a_swap_as_one_typo() {
        assert_eq!(did_you_mean("alhpa", ["alpha", "beta"]), Some("alpha".into()));
        assert_eq!(did_you_mean("prnt", ["print", "len"]), Some("print".into()));
        assert_eq!(did_you_mean("zzz", ["print", "len"]), None);
        assert_eq!(did_you_mean("lenght", ["length", "len"]), Some("length".into()));
        assert_eq!(did_you_mean("ab", ["ba", "abc"]), Some("abc".into()));
    }

    #[test]
    fn did_you_mean_offers_no_different_word() {
        assert_eq!(did_you_mean("vmap", ["map", "max"]), None);
        assert_eq!(did_you_mean("log10", ["log1p", "log"]), None);
        assert_eq!(did_you_mean("conv1d", ["conv2d"]), None);
        assert_eq!(did_you_mean("lgo10", ["log10"]), Some("log10".into()));
        assert_eq!(did_you_mean("smu", ["sum"]), Some("sum".into()));
    }

    #[test]
    fn did_you_mean_is_cheap_for_huge_names() {
        let huge = "x".repeat(1_000_000);
        let start = std::time::Instant::now();
        assert_eq!(did_you_mean(&huge, ["x", "xx", huge.as_str()]), None);
        let cands: Vec<String> = (0..1000).map(|i| format!("{}{i}", "y".repeat(60))).collect();
        assert_eq!(
            did_you_mean(&"y".repeat(60), cands.iter().map(String::as_str)),
            Some("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy0".into())
        );
        assert!(start.elapsed().as_secs_f64() < 1.0);
    }

    #[test]
    fn long_lines_are_cut_around_the_span() {
        let mut map = SourceMap::default();
        let line = format!("{}$${}\n", "a ".repeat(5000), " b".repeat(5000));
        let f = map.add("long.dp", line.as_str());
        let d = Diagnostic::new(ErrorKind::Syntax, "unexpected").at(Span::new(f, 10_000, 10_001));
        let out = map.render(&d, false);
        assert!(out.len() < 1000, "{out}");
        assert!(out.contains("long.dp:1:10001"), "{out}");
        assert!(out.contains("…"), "{out}");
        let coloured = map.render(&d, true);
        assert!(
            coloured.contains("long.dp:1:10001") && coloured.len() < 2000,
            "{coloured}"
        );
    }

    #[test]
    fn excerpt_cuts_with_an_ellipsis() {
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("abcd", 3), "ab…");
        assert_eq!(excerpt("ééééé", 4), "ééé…");
    }

    #[test]
    fn reports_are_capped() {
        let many: Vec<Diagnostic> = (0..25).map(|_| Diagnostic::new(ErrorKind::Syntax, "x")).collect();
        let capped = cap_reports(many);
        assert_eq!(capped.len(), MAX_REPORTS + 1);
        assert_eq!(
            capped[MAX_REPORTS].message,
            "… and 5 more syntax errors (only the first 20 are shown)"
        );
    }

    #[test]
    fn stack_notes_fold_recursion() {
        let mut map = SourceMap::default();
        let f = map.add("m.dp", "f(1)\ng(2)\n");
        let at = |s: usize| Span::new(f, s, s + 4);
        let frame = |n: &str, s: usize| StackFrame {
            function: n.into(),
            call_site: at(s),
        };
        let mut stack = vec![frame("f", 0); 5];
        stack.push(frame("g", 5));
        assert_eq!(
            map.stack_notes(&stack),
            vec![
                "in `f`, called at m.dp:1:1 (repeated 5 times)",
                "in `g`, called at m.dp:2:1"
            ]
        );
        let cycle: Vec<StackFrame> = (0..6)
            .map(|i| if i % 2 == 0 { frame("f", 0) } else { frame("g", 5) })
            .collect();
        assert_eq!(
            map.stack_notes(&cycle),
            vec![
                "in `f`, called at m.dp:1:1",
                "in `g`, called at m.dp:2:1",
                "... the 2 calls above repeat 2 more times ..."
            ]
        );
    }
}
