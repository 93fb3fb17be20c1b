//! The interactive REPL.
//!
//! [`Session`] holds everything that does not need a terminal: evaluating one
//! entry (code or a `:command`), deciding whether an entry is complete, and
//! completion candidates. [`run`] wraps it in a rustyline editor with history,
//! multi-line input, completion and highlighting, so tests drive the very code
//! the terminal uses.

use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::eval::{Interp, INTERRUPTED};
use crate::syntax::lexer::tokenize;
use crate::syntax::parser;
use crate::syntax::token::{LexError, Token, KEYWORDS};
use crate::value::{Closure, Value};
use logos::Logos;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::config::{ColorMode, CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Installs a Ctrl-C handler that interrupts the running evaluation.
///
/// At the REPL prompt the terminal is in raw mode, so Ctrl-C reaches rustyline
/// as a key (clearing the line) rather than as a signal; while an entry runs it
/// is a signal, and this handler asks the interpreter to stop.
pub fn install_interrupt_handler() {
    // `ctrlc` accepts one handler per process; a second call fails harmlessly.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed));
}

/// The REPL's commands with their one-line descriptions, as `:help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    (":help", "show this help"),
    (
        ":help NAME",
        "show a function's or stdlib module's documentation (e.g. :help grad, :help optim.adam, :help optim)",
    ),
    (":load FILE", "run FILE in this session, keeping its bindings"),
    (
        ":graph EXPR",
        "evaluate EXPR and show the extended graph of its first grad/vjp: forward and adjoint nodes",
    ),
    (":who", "list the session's bindings with their types and shapes"),
    (":time EXPR", "time EXPR like %timeit: best and median of several runs"),
    (":reset", "forget every binding and start a fresh session"),
    (":quit", "leave the REPL (also :q or Ctrl-D)"),
];

/// The command words that completion offers.
const COMMAND_WORDS: &[&str] = &[":help", ":load", ":graph", ":reset", ":time", ":who", ":quit", ":q"];

/// The prompt for a new entry.
pub const PROMPT: &str = "dp> ";
/// The prompt for a further line of an entry that is still open.
pub const CONTINUATION_PROMPT: &str = "..  ";

/// The name bound to the value of the last entry that had one.
const LAST_VALUE: &str = "_";

const HELP_TIPS: &str = "\
Tips:
  an entry that ends in an expression prints its value:   1 + 2
  `_` is the last value printed:                          _ * 2
  a missing final `;` is added for you:                   let x = 3.0
  input continues while a bracket, block or string is open; Ctrl-C clears it
  Tab completes keywords, builtins, your names and :commands; `d.` completes a dict's keys
  :help NAME (or help(f) in code) shows a function's signature and doc
  Ctrl-C stops a long evaluation; Ctrl-D exits
  import stdlib modules with `import nn;`, files with `import \"f.dp\" as f;`
";

/// What one entry produced, for the caller to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryResult {
    /// Text for standard output: the entry's value or a command's output, each
    /// line ending in a newline. (Output of `print` goes to the interpreter's
    /// own writer, before this.)
    pub stdout: String,
    /// Text for standard error: error reports and complaints about commands.
    pub stderr: String,
    /// Whether the session should end.
    pub quit: bool,
}

/// One REPL session: the interpreter whose main module holds the bindings,
/// plus the session's directory and numbering of entries.
pub struct Session {
    /// The interpreter; its main module holds the session's bindings.
    pub interp: Interp,
    /// Where relative `:load` paths and `import "file.dp"` resolve.
    dir: PathBuf,
    /// Whether error reports are coloured.
    color: bool,
    /// How many code entries have run, for naming them `<repl:N>`.
    entries: usize,
}

impl Session {
    /// A fresh session whose `print` output goes to `out`; `dir` is the
    /// working directory, `color` whether reports carry ANSI colours.
    pub fn new(out: Box<dyn Write>, dir: PathBuf, color: bool) -> Session {
        Session {
            interp: Interp::new(out),
            dir,
            color,
            entries: 0,
        }
    }

    /// Whether `text` is a whole entry, or whether the editor should ask for
    /// another line: it is incomplete while a string is open, or while the
    /// parser's only complaint is that the input ended early (an open bracket,
    /// block or expression). Entries with real syntax errors count as
    /// complete, so that their report is shown at once.
    pub fn is_complete(text: &str) -> bool {
        let t = text.trim_start();
        if t.is_empty() || t.starts_with(':') {
            return true;
        }
        // A terminated string may span lines, so an unterminated one runs to
        // the end of the input: the user is still typing it.
        let (_, lex_errors) = tokenize(text, 0);
        if lex_errors.iter().any(|e| e.error == LexError::UnterminatedString) {
            return false;
        }
        match parser::parse(text, 0) {
            Ok(_) => true,
            Err(diags) => {
                let only_eof = diags.iter().all(|d| parser::is_incomplete(std::slice::from_ref(d)));
                // `let x = 1` lacks only its `;`, which `eval_entry` supplies.
                !only_eof || with_semicolon(text).is_some()
            }
        }
    }

    /// Evaluates one entry — code or a `:command` — and says what to show.
    /// An internal failure (a panic, i.e. a bug in dp) is reported as the
    /// entry's error; the session and its bindings go on.
    pub fn eval_entry(&mut self, text: &str) -> EntryResult {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.eval_entry_inner(text))) {
            Ok(r) => r,
            Err(payload) => {
                self.interp.recover_after_panic();
                let _ = self.interp.out.flush();
                EntryResult {
                    stderr: internal_error_report(payload.as_ref()),
                    ..EntryResult::default()
                }
            }
        }
    }

    fn eval_entry_inner(&mut self, text: &str) -> EntryResult {
        let t = text.trim();
        if t.is_empty() {
            return EntryResult::default();
        }
        if let Some(cmd) = t.strip_prefix(':') {
            return self.command(cmd);
        }
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        let src = with_semicolon(text).unwrap_or_else(|| text.to_string());
        let mut r = EntryResult::default();
        match self.run(&name, &src) {
            Ok(Some(v)) if !matches!(v, Value::None) => {
                r.stdout = format!("{}\n", v.repr_with(&self.interp.print_options));
                self.set_global(LAST_VALUE, v);
            }
            Ok(_) => {}
            Err(report) => r.stderr = report,
        }
        r
    }

    /// Runs source text in the main module; an error comes back rendered.
    fn run(&mut self, name: &str, src: &str) -> Result<Option<Value>, String> {
        self.run_in(name, src, self.dir.clone())
    }

    /// Compiles `text` as the next entry (`<repl:N>`, a missing final `;`
    /// added as for any entry) into a function of no parameters, for
    /// `:time` to run with [`Interp::run_body`]; an error comes back
    /// rendered, exactly as the entry's own would be.
    pub fn compile_entry(&mut self, text: &str) -> Result<Rc<Closure>, String> {
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        let src = with_semicolon(text).unwrap_or_else(|| text.to_string());
        self.interp
            .compile_entry(&name, &src)
            .map_err(|errors| errors.iter().map(|d| self.render(d)).collect())
    }

    /// A report as this session shows it (coloured when the session is).
    pub fn render(&self, d: &Diagnostic) -> String {
        self.interp.render(d, self.color)
    }

    /// Runs source text whose relative imports resolve against `dir`.
    fn run_in(&mut self, name: &str, src: &str, dir: PathBuf) -> Result<Option<Value>, String> {
        // A Ctrl-C that arrived between entries must not stop this one.
        INTERRUPTED.store(false, Ordering::Relaxed);
        let result = self.interp.run_source(name, src, Some(dir));
        let _ = self.interp.out.flush();
        result.map_err(|errors| errors.iter().map(|d| self.interp.render(d, self.color)).collect())
    }

    fn command(&mut self, cmd: &str) -> EntryResult {
        let (word, arg) = match cmd.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim()),
            None => (cmd, ""),
        };
        let mut r = EntryResult::default();
        match word {
            "help" | "h" | "?" if arg.is_empty() => r.stdout = help_text(),
            "help" | "h" | "?" => match self.help_for(arg) {
                Ok(text) => r.stdout = text,
                Err(msg) => r.stderr = format!("{msg}\n"),
            },
            "quit" | "q" | "exit" => r.quit = true,
            "reset" => {
                // Keep the output writer; everything else starts afresh.
                let out = std::mem::replace(&mut self.interp.out, Box::new(std::io::sink()));
                let display = self.interp.progress.display.clone();
                let text_plots = self.interp.text_plots;
                self.interp = Interp::new(out);
                self.interp.progress.display = display;
                self.interp.text_plots = text_plots;
                r.stdout = "session reset: every binding is forgotten\n".into();
            }
            "load" => return self.load(arg),
            "graph" => return self.graph(arg),
            "who" => r.stdout = self.who(),
            "time" => match crate::repl_time::time_entry(self, arg) {
                Ok(text) => r.stdout = text,
                Err(msg) => r.stderr = msg,
            },
            _ => {
                r.stderr = format!("unknown command `:{word}`");
                let words = COMMAND_WORDS.iter().map(|c| &c[1..]);
                if let Some(s) = did_you_mean(word, words) {
                    r.stderr.push_str(&format!("; did you mean `:{s}`?"));
                }
                r.stderr.push_str(" (:help lists the commands)\n");
            }
        }
        r
    }

    /// `:graph EXPR`: evaluates EXPR with the graph capture armed and shows
    /// the extended graph of the first differentiation it ran.
    fn graph(&mut self, expr: &str) -> EntryResult {
        let mut r = EntryResult::default();
        if expr.is_empty() {
            r.stderr = "usage: :graph EXPR   (e.g. :graph grad(|x| x * exp(x))(0.5))\n".into();
            return r;
        }
        self.entries += 1;
        let name = format!("<repl:{}>", self.entries);
        let src = with_semicolon(expr).unwrap_or_else(|| expr.to_string());
        self.interp.diff.start_capture();
        let result = self.run(&name, &src);
        let graph = self.interp.diff.take_captured();
        match (result, graph) {
            (Err(report), _) => r.stderr = report,
            (Ok(_), Some(g)) => r.stdout = crate::autodiff::graph::to_table(&g, &self.interp.sources),
            (Ok(_), None) => {
                r.stderr = "no graph: the expression ran no grad, value_and_grad, vjp or jacrev\n".into();
            }
        }
        r
    }

    fn load(&mut self, arg: &str) -> EntryResult {
        let mut r = EntryResult::default();
        let arg = unquote_path(arg);
        if arg.is_empty() {
            r.stderr = "usage: :load FILE\n".into();
            return r;
        }
        let path = self.dir.join(&arg);
        let src = match crate::files::read_program(&path, false) {
            Ok(s) => s,
            Err(e) => {
                r.stderr = format!("cannot read {}: {}\n", path.display(), e.reason());
                return r;
            }
        };
        let before = self.bound_names();
        let rebound = top_level_names(&src);
        let file_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.dir.clone());
        match self.run_in(&arg, &src, file_dir) {
            Ok(_) => {
                let new: Vec<String> = self.bound_names().into_iter().filter(|n| !before.contains(n)).collect();
                let replaced: Vec<&String> = before.iter().filter(|n| rebound.contains(n)).collect();
                r.stdout = if new.is_empty() {
                    format!("loaded {arg}\n")
                } else {
                    format!("loaded {arg}: {}\n", new.join(", "))
                };
                if !replaced.is_empty() {
                    let names: Vec<&str> = replaced.iter().map(|n| n.as_str()).collect();
                    r.stdout.push_str(&format!("replaced: {}\n", names.join(", ")));
                }
            }
            Err(report) => r.stderr = report,
        }
        r
    }

    /// The help text of `name`: a function bound in this session (from its
    /// leading `#` comment), a builtin, a stdlib module or a stdlib
    /// `module.function`.
    pub fn help_for(&self, name: &str) -> Result<String, String> {
        match self.global(name) {
            Some(v @ (Value::Func(_) | Value::Native(_))) => {
                Ok(crate::builtins::help::help_for_value(&self.interp, &v))
            }
            // `import nn;` binds the module as a dict: `:help nn` describes it.
            Some(Value::Dict(_)) if crate::stdlib::source(name).is_some() => {
                crate::builtins::help::help_for_name(&self.interp.builtins, name)
            }
            Some(other) => Err(format!("`{name}` is {}, not a function", other.describe())),
            None => crate::builtins::help::help_for_name(&self.interp.builtins, name),
        }
    }

    /// What completion shows for candidate `name`: a function's signature
    /// (`grad(f, argnums=0)`), or the name itself.
    pub fn completion_display(&self, name: &str) -> String {
        let v = self.global(name).or_else(|| self.interp.builtins.get(name).cloned());
        match v {
            Some(Value::Native(n)) => match &n.sig {
                Some(sig) => format!("{name}{}", sig.short()),
                None => name.to_string(),
            },
            Some(Value::Func(c)) => {
                let src = self.interp.sources.text(c.proto.span.file);
                match crate::builtins::help::fn_doc_at(&src, c.proto.span.start as usize) {
                    Some(doc) if doc.name == name => doc.header,
                    _ => name.to_string(),
                }
            }
            _ => name.to_string(),
        }
    }

    /// The session's top-level names that hold a value, in order of declaration.
    /// (A name declared by an entry that failed before binding it is left out.)
    pub fn bound_names(&self) -> Vec<String> {
        let main = &self.interp.main;
        main.names()
            .iter()
            .filter(|n| main.lookup(n).and_then(|s| main.get(s)).is_some())
            .map(|n| n.to_string())
            .collect()
    }

    /// Completion for the text `line` with the cursor at byte `pos`: the byte
    /// where the completed word starts and the sorted candidates. Offers
    /// `:commands` at the start of an entry, a dict's keys after `d.`, and
    /// otherwise keywords, builtins and the session's bound names.
    pub fn completions(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let Some(before) = line.get(..pos) else {
            return (pos, Vec::new());
        };
        let trimmed = before.trim_start();
        if trimmed.starts_with(':') && !trimmed.contains(char::is_whitespace) {
            let start = before.len() - trimmed.len();
            let cands = COMMAND_WORDS
                .iter()
                .filter(|c| c.starts_with(trimmed))
                .map(|c| c.to_string())
                .collect();
            return (start, cands);
        }
        let start = word_start(before);
        let word = &before[start..];
        let mut cands: Vec<String> = Vec::new();
        // After `params.` (even with nothing typed yet) and `params.layer1.`:
        // the keys of the dict the dotted path names.
        if let Some(recv) = before[..start].strip_suffix('.') {
            if let Some(Value::Dict(d)) = self.dotted(recv) {
                cands.extend(d.keys().filter(|k| k.starts_with(word)).map(|k| k.to_string()));
                return (start, cands);
            }
        }
        if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
            return (pos, Vec::new());
        }
        cands.extend(KEYWORDS.iter().filter(|k| k.starts_with(word)).map(|k| k.to_string()));
        cands.extend(
            self.interp
                .builtins
                .keys()
                .filter(|k| k.starts_with(word) && !k.starts_with('$'))
                .map(|k| k.to_string()),
        );
        cands.extend(self.bound_names().into_iter().filter(|k| k.starts_with(word)));
        cands.sort();
        cands.dedup();
        (start, cands)
    }

    /// `:who`: each binding (but `_`) with its type — a tensor's shape, a
    /// dict's key count, a function's signature.
    fn who(&self) -> String {
        let names: Vec<String> = self.bound_names().into_iter().filter(|n| n != LAST_VALUE).collect();
        if names.is_empty() {
            return "no bindings yet\n".into();
        }
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        let mut out = String::new();
        for n in names {
            let Some(v) = self.global(&n) else { continue };
            out.push_str(&format!("{n:<width$}  {}\n", who_summary(&v)));
        }
        out
    }

    /// The value of a dotted path at the end of `s` (`params.layer1`): a
    /// global, then dict keys.
    fn dotted(&self, s: &str) -> Option<Value> {
        let start = s
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .last()
            .map_or(s.len(), |(i, _)| i);
        let mut parts = s[start..].split('.');
        let mut v = self.global(parts.next()?)?;
        for key in parts {
            v = match v {
                Value::Dict(d) => d.get(key)?.clone(),
                _ => return None,
            };
        }
        Some(v)
    }

    /// Binds `name` in the session's main module (declaring it if new).
    pub fn set_global(&mut self, name: &str, v: Value) {
        let main = &self.interp.main;
        let slot = main.declare(&std::rc::Rc::from(name));
        main.set(slot, v);
    }

    /// The value bound to a top-level `name` of the session.
    pub fn global(&self, name: &str) -> Option<Value> {
        let main = &self.interp.main;
        main.lookup(name).and_then(|s| main.get(s))
    }
}

thread_local! {
    /// Where the last panic happened, recorded by the REPL's panic hook.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes panics quiet: the REPL reports them itself (see [`Session::eval_entry`]),
/// with the location this hook records.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        let _ = PANIC_LOCATION.try_with(|p| p.replace(at));
    }));
}

/// The report of a panic caught while evaluating an entry.
fn internal_error_report(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".into());
    let at = PANIC_LOCATION
        .try_with(|p| p.borrow_mut().take())
        .ok()
        .flatten()
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default();
    format!(
        "Error: internal error: {msg}{at}\n  note: this is a bug in dp; the session goes on, and every binding is kept\n"
    )
}

/// The names a source text binds at top level (`let`, `fn`, `import`), for
/// `:load` to say which existing bindings it replaced. Text that does not
/// parse binds nothing (running it reports why).
pub fn top_level_names(src: &str) -> Vec<String> {
    use crate::syntax::ast::{Pattern, StmtKind};
    fn pattern_names(p: &Pattern, out: &mut Vec<String>) {
        match p {
            Pattern::Name(i) => out.push(i.name.to_string()),
            Pattern::Tuple(ps, _) => ps.iter().for_each(|p| pattern_names(p, out)),
            Pattern::Dict(ps, _) => ps.iter().for_each(|(_, p)| pattern_names(p, out)),
        }
    }
    let Ok(program) = parser::parse(src, 0) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for st in &program.stmts {
        match &st.kind {
            StmtKind::Let(p, _) => pattern_names(p, &mut out),
            StmtKind::Assign(n, _) => out.push(n.name.to_string()),
            StmtKind::Fn(f) => out.extend(f.name.iter().map(|n| n.name.to_string())),
            StmtKind::Import { name, .. } => out.push(name.name.to_string()),
            _ => {}
        }
    }
    out
}

/// What `:who` says of a value: its type and, where it helps, its shape,
/// key count or signature.
fn who_summary(v: &Value) -> String {
    match v.strip() {
        Value::Tensor(_) => v.describe(),
        Value::Dict(d) => {
            let keys: Vec<String> = d.keys().take(6).map(|k| k.to_string()).collect();
            let more = if d.len() > keys.len() { ", ..." } else { "" };
            format!(
                "dict with {} key{}: {}{more}",
                d.len(),
                if d.len() == 1 { "" } else { "s" },
                keys.join(", ")
            )
        }
        Value::Tuple(t) => format!("tuple of {} element{}", t.len(), if t.len() == 1 { "" } else { "s" }),
        Value::Func(_) | Value::Native(_) => v.repr(),
        other => format!(
            "{} = {}",
            other.type_name(),
            crate::diagnostics::excerpt(&other.repr(), 40)
        ),
    }
}

/// `text` with a `;` inserted after its last token, if that is exactly what it
/// lacks to parse (`let x = 1`, `import math`, `x = 2  # note`). Everything
/// before the insertion keeps its byte offset, so reports point at the
/// user's text.
pub fn with_semicolon(text: &str) -> Option<String> {
    if parser::parse(text, 0).is_ok() {
        return None;
    }
    let (tokens, _) = tokenize(text, 0);
    let end = tokens.last()?.2;
    let fixed = format!("{};{}", &text[..end], &text[end..]);
    parser::parse(&fixed, 0).is_ok().then_some(fixed)
}

/// Where the identifier ending at the end of `s` starts.
fn word_start(s: &str) -> usize {
    s.char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(s.len(), |(i, _)| i)
}

/// A `:load` argument as a path: surrounding quotes removed, and the
/// backslash-escaped spaces of filename completion unescaped.
fn unquote_path(arg: &str) -> String {
    let a = arg.trim();
    for q in ['"', '\''] {
        if let Some(inner) = a.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    a.replace("\\ ", " ")
}

fn help_text() -> String {
    let mut s = String::from("Commands:\n");
    for (c, what) in COMMANDS {
        s.push_str(&format!("  {c:<12} {what}\n"));
    }
    s.push('\n');
    s.push_str(HELP_TIPS);
    s
}

const KEYWORD_STYLE: &str = "\x1b[1;35m";
const LITERAL_STYLE: &str = "\x1b[33m";
const STRING_STYLE: &str = "\x1b[32m";
const COMMENT_STYLE: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// `src` with ANSI colours for keywords, numbers, strings and comments; the
/// visible text is unchanged (rustyline requires the same display width).
pub fn highlight(src: &str) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let mut last = 0;
    let mut lex = Token::lexer(src);
    while let Some(tok) = lex.next() {
        let r = lex.span();
        push_gap(&mut out, &src[last..r.start]);
        if tok == Err(LexError::UnterminatedString) {
            // The string is open to the end of the input (see `is_complete`).
            push_styled(&mut out, STRING_STYLE, &src[r.start..]);
            return out;
        }
        let style = match tok {
            Ok(Token::Int(_) | Token::Float(_) | Token::True | Token::False | Token::None) => Some(LITERAL_STYLE),
            Ok(Token::Str(_)) | Err(LexError::BadEscape(_)) => Some(STRING_STYLE),
            Ok(Token::Ident(_)) => None,
            Ok(ref t) if KEYWORDS.contains(&crate::syntax::token::token_text(t)) => Some(KEYWORD_STYLE),
            _ => None,
        };
        let text = &src[r.clone()];
        match style {
            Some(s) => push_styled(&mut out, s, text),
            None => out.push_str(text),
        }
        last = r.end;
    }
    push_gap(&mut out, &src[last..]);
    out
}

/// Appends `text` in `style`, reset at each newline so that a multi-line
/// string does not colour the terminal's margin.
fn push_styled(out: &mut String, style: &str, text: &str) {
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            out.push_str(style);
            out.push_str(line);
            out.push_str(RESET);
        }
    }
}

/// Copies text between tokens (whitespace and comments), colouring comments.
fn push_gap(out: &mut String, gap: &str) {
    let mut rest = gap;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('\n').map_or(rest.len(), |j| i + j);
        out.push_str(COMMENT_STYLE);
        out.push_str(&rest[i..end]);
        out.push_str(RESET);
        rest = &rest[end..];
    }
    out.push_str(rest);
}

/// The rustyline helper: completion, highlighting and the multi-line validator,
/// all delegating to the shared [`Session`].
struct ReplHelper {
    session: Rc<RefCell<Session>>,
    files: FilenameCompleter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.trim_start().starts_with(":load ") {
            return self.files.complete(line, pos, ctx);
        }
        let before = line.get(..pos).unwrap_or("");
        let current_line = before.rsplit('\n').next().unwrap_or("");
        if current_line.trim().is_empty() {
            // Tab at the start of a line indents, which multi-line input needs.
            let pair = Pair {
                display: String::new(),
                replacement: "    ".into(),
            };
            return Ok((pos, vec![pair]));
        }
        let Ok(session) = self.session.try_borrow() else {
            return Ok((pos, Vec::new()));
        };
        let Ok((start, cands)) = std::panic::catch_unwind(AssertUnwindSafe(|| session.completions(line, pos))) else {
            return Ok((pos, Vec::new()));
        };
        let pairs = cands
            .into_iter()
            .map(|c| Pair {
                display: session.completion_display(&c),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if line.trim_start().starts_with(':') {
            return Cow::Borrowed(line);
        }
        match std::panic::catch_unwind(|| highlight(line)) {
            Ok(h) => Cow::Owned(h),
            Err(_) => Cow::Borrowed(line),
        }
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, _default: bool) -> Cow<'b, str> {
        Cow::Owned(format!("\x1b[1;32m{}{RESET}", prompt))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Typing can turn an identifier into a keyword or open a string, so
        // every edit repaints; moving the cursor changes nothing.
        kind != CmdKind::MoveCursor
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        // A failure here would end the session: count the entry as complete
        // (evaluating it then reports what is wrong).
        // `run` gathers the lines of an open entry itself, under the
        // continuation prompt, so each line the editor reads is accepted.
        let _ = ctx;
        Ok(ValidationResult::Valid(None))
    }
}

impl Helper for ReplHelper {}

/// `$DATA_DIR/dp/history`, where the REPL keeps its history between sessions.
fn history_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("dp").join("history"))
}

fn save_history(editor: &mut Editor<ReplHelper, DefaultHistory>, path: Option<&Path>) {
    if let Some(p) = path {
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // History is a convenience: failing to write it is not worth a message.
        let _ = editor.append_history(p);
    }
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some()
}

/// Runs the REPL on the terminal; returns the process exit code.
pub fn run() -> u8 {
    install_interrupt_handler();
    let color_out = std::io::stdout().is_terminal() && !no_color();
    let color_err = std::io::stderr().is_terminal() && !no_color();
    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let session = Rc::new(RefCell::new(Session::new(Box::new(std::io::stdout()), dir, color_err)));
    session.borrow_mut().interp.progress.display = crate::progress::Display::for_stdout();
    session.borrow_mut().interp.text_plots = std::io::stdout().is_terminal();
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .color_mode(if color_out {
            ColorMode::Enabled
        } else {
            ColorMode::Disabled
        })
        .build();
    let mut editor = match Editor::<ReplHelper, DefaultHistory>::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            crate::cli_io::err_line!("dp: cannot start the line editor: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(ReplHelper {
        session: session.clone(),
        files: FilenameCompleter::new(),
    }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    if std::io::stdin().is_terminal() {
        crate::cli_io::out_line!("dp {} — :help for help, Ctrl-D to exit", env!("CARGO_PKG_VERSION"));
    }
    install_panic_hook();
    // Consecutive failures to read input, other than bad bytes: a terminal
    // that went away fails forever, so the session ends after a few.
    let mut read_failures = 0;
    // The lines of an entry that is still open (an open bracket, block or string).
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        match editor.readline(prompt) {
            Ok(line) => {
                read_failures = 0;
                if !pending.is_empty() {
                    pending.push('\n');
                }
                pending.push_str(&line);
                if !Session::is_complete(&pending) {
                    continue;
                }
                let entry = std::mem::take(&mut pending);
                if !entry.trim().is_empty() {
                    let _ = editor.add_history_entry(entry.as_str());
                    save_history(&mut editor, history.as_deref());
                }
                let r = session.borrow_mut().eval_entry(&entry);
                crate::cli_io::out_text!("{}", r.stdout);
                let _ = std::io::stdout().flush();
                crate::cli_io::err_text!("{}", r.stderr);
                if r.quit {
                    break;
                }
            }
            // Ctrl-C at the prompt abandons the entry being typed.
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => {
                // An entry left open at the end of input is reported, not lost.
                if !pending.trim().is_empty() {
                    let r = session.borrow_mut().eval_entry(&pending);
                    crate::cli_io::out_text!("{}", r.stdout);
                    crate::cli_io::err_text!("{}", r.stderr);
                }
                break;
            }
            // The bad bytes were consumed with their line: skip it, keep the session.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                crate::cli_io::err_line!("dp: the input is not valid UTF-8 text; that line was skipped");
            }
            Err(e) => {
                crate::cli_io::err_line!("dp: cannot read input: {e}");
                read_failures += 1;
                if read_failures >= 10 {
                    crate::cli_io::err_line!("dp: giving up on input after {read_failures} failures in a row");
                    return 1;
                }
            }
        }
    }
    0
}
