//! The front end: tokens, lexer, AST and parser.
pub mod ast;
pub mod fstring;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod token;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

thread_local! {
    static INTERNED: RefCell<HashSet<Rc<str>>> = RefCell::new(HashSet::new());
}

/// The shared copy of a name or string literal from source text. Every
/// occurrence of `x` in a program (a dict literal's key, a field read `p.x`,
/// the string "x") is then the same `Rc`, so dict lookups find their key by
/// address before comparing any characters.
pub fn intern(s: &str) -> Rc<str> {
    INTERNED.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(r) = set.get(s) {
            return r.clone();
        }
        let r: Rc<str> = s.into();
        set.insert(r.clone());
        r
    })
}
