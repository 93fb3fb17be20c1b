//! A module: one file's (or the REPL's) top-level names and their values.

use crate::syntax::span::FileId;
use crate::value::{Closure, Dict, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

/// The globals of one source file, shared by every function defined in it.
#[derive(Debug)]
pub struct Module {
    /// The name shown in messages.
    pub name: Rc<str>,
    /// The file's directory, against which `import "x.dp"` resolves (the REPL
    /// points it at a `:load`ed file's directory while that file runs).
    dir: RefCell<Option<PathBuf>>,
    /// The file's id in the source map.
    pub file: FileId,
    names: RefCell<HashMap<Rc<str>, u32>>,
    order: RefCell<Vec<Rc<str>>>,
    values: RefCell<Vec<Option<Value>>>,
}

impl Module {
    /// An empty module.
    pub fn new(name: impl Into<Rc<str>>, dir: Option<PathBuf>, file: FileId) -> Module {
        Module {
            name: name.into(),
            dir: RefCell::new(dir),
            file,
            names: RefCell::default(),
            order: RefCell::default(),
            values: RefCell::default(),
        }
    }

    /// The directory relative imports resolve against.
    pub fn dir(&self) -> Option<PathBuf> {
        self.dir.borrow().clone()
    }

    /// Changes the import directory, returning the previous one.
    pub fn replace_dir(&self, dir: Option<PathBuf>) -> Option<PathBuf> {
        std::mem::replace(&mut *self.dir.borrow_mut(), dir)
    }

    /// The slot of a global, creating it (unbound) if needed.
    pub fn declare(&self, name: &Rc<str>) -> u32 {
        if let Some(&i) = self.names.borrow().get(name) {
            return i;
        }
        let i = self.order.borrow().len() as u32;
        self.names.borrow_mut().insert(name.clone(), i);
        self.order.borrow_mut().push(name.clone());
        self.values.borrow_mut().push(None);
        i
    }

    /// The name of global `slot` (for messages).
    pub fn name_of(&self, slot: u32) -> Option<Rc<str>> {
        self.order.borrow().get(slot as usize).cloned()
    }

    /// The slot of a declared global.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.names.borrow().get(name).copied()
    }

    /// The value of a global, if bound.
    #[inline]
    pub fn get(&self, slot: u32) -> Option<Value> {
        self.values.borrow().get(slot as usize).cloned().flatten()
    }

    /// Runs `f` on the value of a global read in place (`None` when unbound):
    /// no clone of the value itself.
    #[inline(always)]
    pub fn with<R>(&self, slot: u32, f: impl FnOnce(Option<&Value>) -> R) -> R {
        f(self.values.borrow().get(slot as usize).and_then(|v| v.as_ref()))
    }

    /// The global's closure when it holds a dp function (the callee of most
    /// calls): a cheaper read than [`Module::get`], which clones any value.
    #[inline(always)]
    pub fn get_func(&self, slot: u32) -> Option<Rc<Closure>> {
        match self.values.borrow().get(slot as usize) {
            Some(Some(Value::Func(c))) => Some(c.clone()),
            _ => None,
        }
    }

    /// Binds a global.
    pub fn set(&self, slot: u32, v: Value) {
        if let Some(s) = self.values.borrow_mut().get_mut(slot as usize) {
            *s = Some(v);
        }
    }

    /// Every declared name (bound or not).
    pub fn names(&self) -> Vec<Rc<str>> {
        self.order.borrow().clone()
    }

    /// The bound globals as a dict: the value of `import`ing this module.
    pub fn to_dict(&self) -> Value {
        let mut d = Dict::new();
        for (name, v) in self.order.borrow().iter().zip(self.values.borrow().iter()) {
            if let Some(v) = v {
                d.insert(name.clone(), v.clone());
            }
        }
        Value::Dict(d)
    }
}
