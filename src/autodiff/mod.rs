//! Differentiation: levels and tapes (`trace`), the user-facing
//! transformations (`api`, `jacobian` with its batched passes in `jacbatch`, `custom`), batching (`vmap`) and
//! graph rendering (`graph`), and the extended graph as a program (`traced`,
//! `optimize`, `replay`, `jit`, `stablehlo` for export). The rules per
//! primitive are in `crate::prim`.
pub mod api;
pub mod capture;
pub mod custom;
pub mod graph;
pub mod jacbatch;
pub mod jacobian;
pub mod jit;
pub mod linearize;
pub mod optimize;
pub mod per_example;
pub mod replay;
pub mod stablehlo;
pub mod stats;
pub mod trace;
pub mod traced;
pub mod vmap;
