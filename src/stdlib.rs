//! The standard library, written in dp and embedded in the binary.

/// The names of the stdlib modules (`import NAME;`).
pub const NAMES: &[&str] = &["data", "losses", "nn", "optim", "random"];

/// The source of a stdlib module.
pub fn source(name: &str) -> Option<&'static str> {
    match name {
        "data" => Some(include_str!("../stdlib/data.dp")),
        "losses" => Some(include_str!("../stdlib/losses.dp")),
        "nn" => Some(include_str!("../stdlib/nn.dp")),
        "optim" => Some(include_str!("../stdlib/optim.dp")),
        "random" => Some(include_str!("../stdlib/random.dp")),
        _ => None,
    }
}

/// Builtins that a stdlib module also offers under its own name, as
/// `(name in the module, builtin)`: `random.normal` is the builtin `normal`,
/// so the module's dict holds the builtin itself (its help and signature).
pub fn builtin_exports(module: &str) -> &'static [(&'static str, &'static str)] {
    match module {
        "random" => &[
            ("key", "key"),
            ("fold_in", "fold_in"),
            ("normal", "normal"),
            ("uniform", "uniform"),
            ("bernoulli", "bernoulli"),
            ("categorical", "categorical"),
            ("choice", "choice"),
        ],
        "data" => &[("one_hot", "one_hot"), ("encode", "encode_labels")],
        _ => &[],
    }
}
