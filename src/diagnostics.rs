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
        }))
    }

    /// Sets the primary span unless one is already set (the innermost location wins).
    pub fn at(mut self, span: Span) -> Diagnostic {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
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

/// Shorthand constructors used all over the interpreter.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(kind, message)
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

    /// Renders `diag` as a report; `color` selects ANSI colours.
    pub fn render(&self, diag: &Diagnostic, color: bool) -> String {
        let mut out = Vec::new();
        // ariadne already prints "Error:"; errors raised by `error(msg)` show just the message.
        let header = if diag.kind == ErrorKind::User {
            diag.message.clone()
        } else {
            format!("{}: {}", diag.kind.title(), diag.message)
        };
        let clamp = |s: Span| {
            let len = self.text(s.file).len();
            let start = (s.start as usize).min(len);
            (self.name(s.file).to_string(), start..(s.end as usize).clamp(start, len))
        };
        match diag.span {
            Some(span) => {
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
                let cache = ariadne::sources(self.files.iter().map(|(n, t)| (n.clone(), t.to_string())));
                // Writing into a Vec cannot fail.
                let _ = b.finish().write(cache, &mut out);
                String::from_utf8_lossy(&out).into_owned()
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

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = edit_distance(name, c);
        let limit = (name.len().max(c.len()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Edit distance counting insertions, deletions, substitutions and swaps of
/// two adjacent characters (the commonest typo: `lenght`, `alhpa`) as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_counts_a_swap_as_one_typo() {
        assert_eq!(did_you_mean("alhpa", ["alpha", "beta"]), Some("alpha".into()));
        assert_eq!(did_you_mean("prnt", ["print", "len"]), Some("print".into()));
        assert_eq!(did_you_mean("zzz", ["print", "len"]), None);
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
