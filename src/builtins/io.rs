//! File input/output builtins: `load_csv`, `save`, `load` (LANGUAGE.md §7).

use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the I/O builtins.
pub fn register_all(_t: &mut HashMap<Rc<str>, Value>) {}
