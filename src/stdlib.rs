//! The standard library, written in dp and embedded in the binary.

/// The names of the stdlib modules (`import NAME;`).
pub const NAMES: &[&str] = &["nn", "optim"];

/// The source of a stdlib module.
pub fn source(name: &str) -> Option<&'static str> {
    match name {
        "nn" => Some(include_str!("../stdlib/nn.dp")),
        "optim" => Some(include_str!("../stdlib/optim.dp")),
        _ => None,
    }
}
