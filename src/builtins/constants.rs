//! The named numeric constants `pi`, `e`, `inf` and `nan`: plain floats in
//! the builtin table, so they resolve like builtins (a `let` of the same name
//! shadows them) and `-inf` is ordinary negation.

use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// One named constant and its documentation.
#[derive(Debug)]
pub struct Constant {
    /// The name a program writes.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// One line: what it is.
    pub summary: &'static str,
    /// A dp snippet that runs without error, with the results it states exactly
    /// as dp prints them (the reference test checks both; see `Decl::example`).
    pub example: &'static str,
}

/// Every builtin constant, sorted by name.
pub const CONSTANTS: &[Constant] = &[
    Constant {
        name: "e",
        value: std::f64::consts::E,
        summary: "Euler's number 2.718281828459045, the base of `exp` and `log` (`e == exp(1.0)`).",
        example: "log(e)  # 1.0",
    },
    Constant {
        name: "inf",
        value: f64::INFINITY,
        summary: "Positive infinity (IEEE-754), as `float(\"inf\")` gives; `-inf` is negative infinity.",
        example: "print(inf, -inf, 1.0 / inf, isinf(-inf), max(tensor([1.0, inf])))  # inf -inf 0.0 true inf",
    },
    Constant {
        name: "nan",
        value: f64::NAN,
        summary: "Not a number (IEEE-754 quiet nan), as `float(\"nan\")` gives; unequal to everything, itself included (test with `isnan`).",
        example: "print(nan, nan == nan, isnan(nan))  # nan false true",
    },
    Constant {
        name: "pi",
        value: std::f64::consts::PI,
        summary: "The ratio of a circle's circumference to its diameter, 3.141592653589793.",
        example: "cos(pi)  # -1.0",
    },
];

/// Registers the constants as floats in the builtin table.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    for c in CONSTANTS {
        t.insert(Rc::from(c.name), Value::Float(c.value));
    }
}

/// The constant called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Constant> {
    CONSTANTS.iter().find(|c| c.name == name)
}

/// The help text of a constant: its name and value, then its summary and example.
pub fn help(c: &Constant) -> String {
    let mut s = format!(
        "{} = {} (constant)\n\n  {}\n",
        c.name,
        dp_tensor::format_float(c.value),
        c.summary
    );
    s.push_str("\n  Example:\n");
    for line in c.example.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}
