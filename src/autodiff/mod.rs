//! Differentiation: levels and tapes (`trace`), the user-facing
//! transformations (`api`) and graph rendering (`graph`). The rules per
//! primitive are in `crate::prim`.
pub mod api;
pub mod capture;
pub mod custom;
pub mod graph;
pub mod jacobian;
pub mod trace;
