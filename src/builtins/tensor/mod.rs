//! Tensor builtins (docs/language.md §5), one file per family. Composite
//! operations (mean, var, softmax, cross_entropy, ...) are written with the
//! differentiable primitives of `crate::ops`, so they differentiate to any
//! order without rules of their own.

mod activation;
mod args;
mod arrange;
mod composed;
mod conv;
mod create;
mod decomp;
mod gradient;
mod interp;
mod labels;
mod linalg;
mod logic;
mod math;
mod nanreduce;
mod nn;
mod nonzero;
mod norm;
mod products;
mod reduce;
mod shape;
mod sorting;
mod triangle;

use crate::value::Value;
use std::collections::HashMap;
use std::rc::Rc;

pub use args::{axes_arg, shape_arg};
pub(crate) use logic::dtype_name;

/// Registers every tensor builtin.
pub fn register_all(t: &mut HashMap<Rc<str>, Value>) {
    math::register_family(t);
    reduce::register_family(t);
    create::register_family(t);
    nn::register_family(t);
    linalg::register_family(t);
    shape::register_family(t);
    composed::register_family(t);
    activation::register_family(t);
    nanreduce::register_family(t);
    arrange::register_family(t);
    decomp::register_family(t);
    decomp::register_spectral(t);
    decomp::register_least_squares(t);
    conv::register_family(t);
    logic::register_family(t);
    sorting::register_family(t);
    interp::register_family(t);
    gradient::register_family(t);
    norm::register_family(t);
    labels::register_family(t);
    triangle::register_family(t);
    products::register_family(t);
    nonzero::register_family(t);
}
