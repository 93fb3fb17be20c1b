//! Differentiation: levels and tapes (`trace`), one VJP and one JVP rule per
//! primitive (`rules`), and the user-facing transformations (`api`).
pub mod api;
pub mod graph;
pub mod rules;
pub mod trace;
