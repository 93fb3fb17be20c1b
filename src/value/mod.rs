//! The value layer: the values of dp and how they print (docs/language.md
//! §3), with the persistent dicts and tuples they are built from, tree walks
//! over nested values, and character indexing of strings.

pub mod dict;
pub mod native;
pub mod object;
pub mod progress;
pub mod signature;
pub mod strings;
pub mod tree;
pub mod tuple;
pub mod unprintable;

use crate::autodiff::trace::Tracer;
use crate::eval::compile::FnCode;
use crate::eval::module::Module;
use crate::value::native::Native;
use dp_tensor::{format_float, format_tensor, PrintOptions, Tensor};
use std::fmt::Write as _;
use std::rc::Rc;

/// A persistent dict with string keys, ordered by key (see [`crate::value::dict`]).
pub use crate::value::dict::Dict;
/// An immutable, persistent tuple (see [`crate::value::tuple`]).
pub use crate::value::tuple::Tuple;

/// A closure: a function's compiled code plus the values it captured.
#[derive(Debug)]
pub struct Closure {
    /// The compiled function.
    pub proto: Rc<FnCode>,
    /// Captured values, copied into the frame at each call (capture by value).
    /// `None` marks a top-level name that was not yet bound when the closure
    /// was made; it is read from the module when the closure is called.
    pub captures: Vec<Option<Value>>,
    /// The module whose globals the function's body reads.
    pub module: Rc<Module>,
    /// `proto.direct_arity`, kept beside the reference count a call has
    /// just touched: one pointer fewer to follow on every call.
    pub direct_arity: Option<usize>,
}

/// Every dp value.
#[derive(Debug)]
// A word-sized tag keeps the payload 8-aligned, so values are copied as whole
// words (byte-offset copies of a packed tag caused store-forwarding stalls).
#[repr(u64)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    /// A tensor, behind an `Rc` so that a `Value` stays a few words wide.
    Tensor(Rc<Tensor>),
    Tuple(Tuple),
    Dict(Dict),
    Func(Rc<Closure>),
    Native(Rc<Native>),
    /// `range(a, b, step)`, iterated lazily.
    Range(i64, i64, i64),
    /// A float or tensor being differentiated (see `autodiff`).
    Dual(Rc<Tracer>),
    /// A splittable random key (`key(seed)`, `split`): the 64 bits every
    /// keyed draw is a pure function of (see `dp_tensor::Key`).
    Key(u64),
    /// A value of a kind a builtin module defines (a traced graph): see
    /// [`object::Object`].
    Object(Rc<dyn object::Object>),
    /// `progress(iterable, label=...)`: an iterable a `for` loop draws a
    /// progress bar over (see [`progress::ProgressIter`]).
    Progress(Rc<progress::ProgressIter>),
}

/// Stores `v` in `slot`. The old value is dropped out of line only when it
/// holds a reference count; overwriting a scalar (the common case in loops
/// and fresh frames) costs no call.
#[inline(always)]
pub fn assign(slot: &mut Value, v: Value) {
    if slot.owns_heap() {
        // SAFETY: the old value is moved out before `put` overwrites the slot.
        let old = unsafe { std::ptr::read(slot) };
        put(slot, v);
        drop(old);
    } else {
        // Nothing to release: none, bool, int, float, range and key own no
        // memory. Only the tag is read (a copy of the whole old value was a
        // wide load of words a previous call had just written: see `put`).
        put(slot, v);
    }
}

/// Drops a value nobody uses (a statement's result, a loop body's): only a
/// value holding a reference count calls the out-of-line drop, and the
/// common `none`, int or float costs a tag test.
#[inline(always)]
pub fn discard(v: Value) {
    if v.owns_heap() {
        drop(v);
    } else {
        // Nothing to release: none, bool, int, float, range and key own no memory.
        std::mem::forget(v);
    }
}

/// [`assign`] for a value just made in registers (an arithmetic result, a
/// loop counter), which is stored directly: no copy to avoid a stall on.
#[inline(always)]
pub fn assign_made(slot: &mut Value, v: Value) {
    let old = std::mem::replace(slot, v);
    if old.owns_heap() {
        drop(old);
    } else {
        // Nothing to release: none, bool, int, float, range and key own no memory.
        std::mem::forget(old);
    }
}

/// Moves `v` into `slot` without dropping what the slot held (callers
/// overwrite a `none` or a value they moved out), copying it as four 8-byte
/// words.
///
/// Why words: a `Value` just returned by a compiled expression was usually
/// written as 8-byte stores (tag, payload), and the move LLVM emits for a
/// plain `*slot = v` reads it back with 16-byte loads. A wide load of data
/// still in the store buffer from narrower stores cannot be forwarded and
/// stalls (about 15 cycles each, 60% of a simple `y = x` loop). Volatile
/// reads keep LLVM from merging the word copies back into wide ones; reads
/// and writes of one word forward from any store that contains them.
///
/// A value made in registers (a scalar result, a loop counter) gains
/// nothing from this (it would be spilled to be re-read): store those with
/// [`assign_made`].
#[inline(always)]
pub fn put(slot: &mut Value, v: Value) {
    // SAFETY: `slot` is a valid, aligned place for a value; its old contents
    // are the caller's to have handled.
    unsafe { write_words(slot, v) }
}

/// Moves the value out of `slot`, leaving `none`, reading it word by word
/// (it may have been written as words just before: see [`put`]).
#[inline(always)]
pub fn take(slot: &mut Value) -> Value {
    let mut out = std::mem::MaybeUninit::<Value>::uninit();
    let src = slot as *const Value as *const std::mem::MaybeUninit<u64>;
    let dst = out.as_mut_ptr() as *mut std::mem::MaybeUninit<u64>;
    // SAFETY: as in `write_words`; the value's ownership moves to `out`, and
    // the slot is overwritten with `none` (not dropped) right after.
    unsafe {
        for k in 0..WORDS {
            dst.add(k).write(src.add(k).read_volatile());
        }
        std::ptr::write(slot, Value::None);
        out.assume_init()
    }
}

/// Passes `v` on (returns it) copied word by word when it is whole words
/// (see [`put`]): for a result just written by a compiled expression as
/// 8-byte stores that the caller would otherwise move with 16-byte loads
/// (a call's result on its way out of the frame).
#[inline(always)]
pub fn relay<T>(v: T) -> T {
    if !std::mem::size_of::<T>().is_multiple_of(8) || std::mem::align_of::<T>() < 8 {
        return v;
    }
    let v = std::mem::ManuallyDrop::new(v);
    let mut out = std::mem::MaybeUninit::<T>::uninit();
    let src = &*v as *const T as *const std::mem::MaybeUninit<u64>;
    let dst = out.as_mut_ptr() as *mut std::mem::MaybeUninit<u64>;
    // SAFETY: `T` is a whole number of 8-byte words and 8-aligned (checked
    // above), so both places are valid for that many word reads/writes;
    // `MaybeUninit` words copy padding too. Ownership moves from `v` (not
    // dropped) to `out`, which is then fully initialised.
    unsafe {
        for k in 0..std::mem::size_of::<T>() / 8 {
            dst.add(k).write(src.add(k).read_volatile());
        }
        out.assume_init()
    }
}

/// Moves `v` into the uninitialised place `dst` word by word (see [`put`]).
#[inline(always)]
pub fn put_uninit(dst: &mut std::mem::MaybeUninit<Value>, v: Value) {
    // SAFETY: `dst` is a valid, aligned place for a value, uninitialised.
    unsafe { write_words(dst.as_mut_ptr(), v) }
}

/// Writes `v` to `dst` as four 8-byte words, read with volatile loads
/// (which LLVM cannot merge back into wide ones).
///
/// # Safety
/// `dst` must be valid for writes and aligned for a `Value`; what it held
/// is overwritten without being dropped.
#[inline(always)]
unsafe fn write_words(dst: *mut Value, v: Value) {
    let v = std::mem::ManuallyDrop::new(v);
    let src = &*v as *const Value as *const std::mem::MaybeUninit<u64>;
    let dst = dst as *mut std::mem::MaybeUninit<u64>;
    // SAFETY: a `Value` is four 8-aligned words (asserted at the end of this
    // file); `MaybeUninit` words copy padding too. `v` is not dropped: its
    // ownership moves to `dst`.
    unsafe {
        for k in 0..WORDS {
            dst.add(k).write(src.add(k).read_volatile());
        }
    }
}

/// The number of 8-byte words in a `Value`.
const WORDS: usize = std::mem::size_of::<Value>() / 8;

impl Clone for Value {
    /// Every kind of value is plain words (none, bool, int, float, range,
    /// key) or reference-counted pointers next to plain words (string,
    /// tensor, tuple, dict, function, ...): a clone is the counts raised
    /// (out of line, for the counted kinds only) plus a copy of the words.
    ///
    /// Why not a clone built out of line and returned: that value was
    /// written as 8-byte stores and moved on by its caller with 16-byte
    /// loads, a store-forwarding stall on every read of a string or dict
    /// variable. The copy here is written once, where the caller wants it.
    #[inline(always)]
    fn clone(&self) -> Value {
        if self.owns_heap() {
            self.retain();
        }
        // SAFETY: plain words copy as they are, and `retain` raised every
        // count the copy shares: the copy owns exactly what a clone would.
        // Not word by word as in `put`: LLVM then stored the words to a
        // temporary and moved that with wide loads (the stall `put` avoids).
        unsafe { std::ptr::read(self) }
    }
}

impl Value {
    /// Raises the reference counts a clone of this value shares (the slow
    /// half of `clone`, which then copies the value's words).
    #[inline(never)]
    fn retain(&self) {
        match self {
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Range(..) | Value::Key(_) => {}
            Value::Str(s) => std::mem::forget(s.clone()),
            Value::Tensor(t) => std::mem::forget(t.clone()),
            Value::Tuple(t) => std::mem::forget(t.clone()),
            Value::Dict(d) => std::mem::forget(d.clone()),
            Value::Func(c) => std::mem::forget(c.clone()),
            Value::Native(n) => std::mem::forget(n.clone()),
            Value::Dual(t) => std::mem::forget(t.clone()),
            Value::Object(o) => std::mem::forget(o.clone()),
            Value::Progress(p) => std::mem::forget(p.clone()),
        }
    }

    /// Whether the value holds a reference-counted part (dropping it does work).
    #[inline(always)]
    pub fn owns_heap(&self) -> bool {
        !matches!(
            self,
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Range(..) | Value::Key(_)
        )
    }

    /// The name of the value's type, as users see it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "none",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Tensor(_) => "tensor",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Func(_) | Value::Native(_) => "function",
            Value::Range(..) => "range",
            // Inside `vmap` one example of a batched 1-d tensor is a number,
            // as iterating over the tensor gives (`vmap(f)(xs)` is
            // `stack([f(x) for x in xs])`, also for code that asks the type).
            Value::Dual(_)
                if crate::autodiff::trace::is_batched(self)
                    && crate::autodiff::trace::shape_seen(self).is_empty()
                    && matches!(self.peek(), Value::Tensor(_)) =>
            {
                match self.peek() {
                    Value::Tensor(t) if t.is_bool() => "bool",
                    _ => "float",
                }
            }
            Value::Dual(t) => t.primal.type_name(),
            Value::Key(_) => "key",
            Value::Object(o) => o.type_name(),
            Value::Progress(_) => "progress",
        }
    }

    /// A description for error messages: the type, and the shape for tensors.
    pub fn describe(&self) -> String {
        match self.peek() {
            Value::Tensor(t) if t.is_bool() => format!("bool tensor of shape {}", dp_tensor::format_shape(t.shape())),
            Value::Tensor(t) => format!("tensor of shape {}", dp_tensor::format_shape(t.shape())),
            v => v.type_name().to_string(),
        }
    }

    /// The value with every differentiation wrapper removed.
    ///
    /// This is a read of the value itself: inside a running `trace` or
    /// `jit`, the read is noted (the graph cannot replay what the reader
    /// does with it). Reads of metadata only — kind, shape — use [`Value::peek`].
    pub fn strip(&self) -> &Value {
        let mut v = self;
        while let Value::Dual(t) = v {
            if t.watched() {
                t.note_read();
            }
            v = &t.primal;
        }
        v
    }

    /// The value with every differentiation wrapper removed, to look at its
    /// kind or shape only (not noted as a read, unlike [`Value::strip`]).
    pub fn peek(&self) -> &Value {
        let mut v = self;
        while let Value::Dual(t) = v {
            v = &t.primal;
        }
        v
    }

    /// Whether this is a number or tensor (possibly being differentiated).
    pub fn is_numeric(&self) -> bool {
        matches!(self.peek(), Value::Float(_) | Value::Int(_) | Value::Tensor(_))
    }

    /// Builds a tuple value.
    pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(items.into_iter().collect())
    }

    /// Builds a string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Rc::from(s.as_ref()))
    }

    /// The value as printed by `print` and `str` (strings unquoted), with the
    /// default print options.
    pub fn to_display(&self) -> String {
        self.to_display_with(&PrintOptions::default())
    }

    /// The value as printed by `print` and `str`, tensors laid out by `opts`.
    pub fn to_display_with(&self, opts: &PrintOptions) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            v => v.repr_with(opts),
        }
    }

    /// The value as shown inside structures and by the REPL (strings quoted),
    /// with the default print options.
    pub fn repr(&self) -> String {
        self.repr_with(&PrintOptions::default())
    }

    /// The value as shown inside structures and by the REPL, tensors laid out by `opts`.
    pub fn repr_with(&self, opts: &PrintOptions) -> String {
        let mut s = String::new();
        self.write_repr(&mut s, 0, opts);
        s
    }

    /// Whether the value prints on several lines: a tensor with more than one
    /// row, or a structure holding one (looked for a few levels down only, so
    /// deep structures stay cheap to print).
    fn is_tall(&self, opts: &PrintOptions, depth: usize) -> bool {
        match self {
            Value::Tensor(t) => {
                let s = t.shape();
                s.len() >= 2 && s[..s.len() - 1].iter().product::<usize>() > 1 && t.size() > 0
                    || t.size() > opts.threshold
            }
            Value::Tuple(items) if depth < 4 => items.iter().any(|v| v.is_tall(opts, depth + 1)),
            Value::Dict(d) if depth < 4 => d.iter().any(|(_, v)| v.is_tall(opts, depth + 1)),
            Value::Dual(t) => t.primal.is_tall(opts, depth),
            _ => false,
        }
    }

    fn write_repr(&self, out: &mut String, depth: usize, opts: &PrintOptions) {
        if depth > MAX_DEPTH {
            // Printing recurses per nesting level; absurdly deep values print elided.
            out.push_str("...");
            return;
        }
        match self {
            Value::None => out.push_str("none"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(x) => out.push_str(&format_float(*x)),
            Value::Str(s) => out.push_str(&quote(s)),
            Value::Tensor(t) => write_aligned(out, &format_tensor(t, opts)),
            Value::Tuple(items) => {
                let sep = separator(out, self.is_tall(opts, 0));
                out.push('(');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    v.write_repr(out, depth + 1, opts);
                }
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Dict(d) => {
                let sep = separator(out, self.is_tall(opts, 0));
                out.push('{');
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    out.push_str(&dict_key(k));
                    out.push_str(": ");
                    v.write_repr(out, depth + 1, opts);
                }
                out.push('}');
            }
            Value::Func(c) => {
                let _ = write!(out, "<fn {}{}>", c.proto.name, c.proto.params_text);
            }
            Value::Native(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Range(a, b, s) => {
                if *s == 1 {
                    let _ = write!(out, "range({a}, {b})");
                } else {
                    let _ = write!(out, "range({a}, {b}, {s})");
                }
            }
            Value::Dual(t) => {
                if t.watched() {
                    t.note_read();
                }
                t.primal.write_repr(out, depth + 1, opts)
            }
            // Signed, so that the printed form `key(n)` evaluates back to the same key.
            Value::Key(k) => {
                let _ = write!(out, "key({})", *k as i64);
            }
            Value::Object(o) => o.write_repr(out),
            Value::Progress(p) => {
                let _ = write!(out, "progress(");
                p.inner.write_repr(out, depth + 1, opts);
                let _ = write!(out, ", label={})", quote(&p.label));
            }
        }
    }
}

/// A dict key as printed: bare when it is an identifier, quoted otherwise.
pub fn dict_key(k: &str) -> String {
    let ident = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident && !crate::syntax::token::KEYWORDS.contains(&k) {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A string literal that reads back as `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Every character Python's repr escapes: controls, the line
            // and paragraph separators (which break the line), format
            // characters such as U+200B or U+202E (invisible, or reordering
            // the text), spaces other than U+0020, private-use and
            // unassigned code points; see `unprintable`.
            c if !unprintable::is_printable(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Structural equality of two values, as `==` on non-tensor values.
/// Numbers compare by value across int, float and 0-d tensor (which `==`
/// outside a container treats alike, so `(1.0,) == (tensor(1.0),)` as
/// `1.0 == tensor(1.0)`); other tensors are equal when shapes and elements are.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    // An explicit work list rather than recursion: values can be nested
    // millions of levels deep, far beyond any native stack.
    let mut work: Vec<(&Value, &Value)> = vec![(a, b)];
    while let Some((a, b)) = work.pop() {
        let same = match (a.strip(), b.strip()) {
            (Value::None, Value::None) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Int(_) | Value::Float(_), Value::Tensor(t))
            | (Value::Tensor(t), Value::Int(_) | Value::Float(_))
                if t.ndim() == 0 =>
            {
                scalar(a) == scalar(b)
            }
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Tensor(x), Value::Tensor(y)) => x.shape() == y.shape() && x.to_vec() == y.to_vec(),
            (Value::Tuple(x), Value::Tuple(y)) => {
                work.extend(x.iter().zip(y.iter()));
                x.len() == y.len()
            }
            (Value::Dict(x), Value::Dict(y)) => {
                work.extend(x.values().zip(y.values()));
                x.len() == y.len() && x.keys().zip(y.keys()).all(|(k1, k2)| k1 == k2)
            }
            (Value::Func(x), Value::Func(y)) => Rc::ptr_eq(x, y),
            (Value::Native(x), Value::Native(y)) => Rc::ptr_eq(x, y),
            (Value::Range(a1, b1, s1), Value::Range(a2, b2, s2)) => (a1, b1, s1) == (a2, b2, s2),
            (Value::Key(x), Value::Key(y)) => x == y,
            (Value::Object(x), Value::Object(y)) => std::ptr::addr_eq(Rc::as_ptr(x), Rc::as_ptr(y)),
            (Value::Progress(x), Value::Progress(y)) => Rc::ptr_eq(x, y),
            _ => false,
        };
        if !same {
            return false;
        }
    }
    true
}

/// A float, int or 0-d tensor as an f64 (`None` for anything else).
fn scalar(v: &Value) -> Option<f64> {
    match v.strip() {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        Value::Tensor(t) if t.ndim() == 0 => t.item(),
        _ => None,
    }
}

/// The deepest nesting of tuples and dicts that printing and tree functions
/// walk (they recurse per level); deeper values are elided or reported.
pub const MAX_DEPTH: usize = 10_000;

/// What goes between the items of a tuple or dict about to be written at the
/// end of `out`: `", "`, or when an item prints on several lines, a line
/// break and the indent that puts every item under the first.
fn separator(out: &str, tall: bool) -> String {
    if !tall {
        return ", ".to_string();
    }
    let column = out.rsplit('\n').next().map_or(0, |line| line.chars().count());
    format!(",\n{}", " ".repeat(column + 1))
}

/// Appends a block of lines (a multi-line tensor) so that its continuation
/// lines start under its first character, wherever on the line it begins
/// (`{w: [[1.0, 2.0],` then ` [3.0, 4.0]]}` under the `[`).
pub fn write_aligned(out: &mut String, block: &str) {
    let column = out.rsplit('\n').next().map_or(0, |line| line.chars().count());
    if column == 0 || !block.contains('\n') {
        out.push_str(block);
        return;
    }
    let indent = " ".repeat(column);
    for (i, line) in block.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&indent);
            }
        }
        out.push_str(line);
    }
}

// Values are copied on every variable read and call: keep them four words wide.
const _: () = assert!(std::mem::size_of::<Value>() <= 32);
const _: () = assert!(std::mem::size_of::<Value>() == 32 && std::mem::align_of::<Value>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_and_release_their_counts() {
        let s: Rc<str> = Rc::from("golf");
        let t = Tuple::from(vec![Value::Str(s.clone()), Value::Int(1)]);
        let d: Dict = [(s.clone(), Value::Tuple(t.clone()))].into_iter().collect();
        let big: Dict = (0..40)
            .map(|i| (Rc::<str>::from(format!("k{i:02}")), Value::Int(i)))
            .collect();
        let vals = [Value::Str(s.clone()), Value::Tuple(t), Value::Dict(d), Value::Dict(big)];
        let before = Rc::strong_count(&s);
        for v in &vals {
            let copies: Vec<Value> = (0..3).map(|_| v.clone()).collect();
            assert!(copies.iter().all(|c| c.type_name() == v.type_name()));
        }
        assert_eq!(Rc::strong_count(&s), before);
        let c = vals[0].clone();
        assert_eq!(Rc::strong_count(&s), before + 1);
        drop(c);
        drop(vals);
        assert_eq!(Rc::strong_count(&s), 1);
    }
}
