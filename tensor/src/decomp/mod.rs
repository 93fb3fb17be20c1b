//! Dense linear algebra on the last two axes of a tensor, with any leading
//! batch axes (NumPy/JAX semantics): LU with partial pivoting and the
//! solvers built on it, Cholesky, triangular solves, Householder QR,
//! symmetric eigen-decomposition, SVD, least squares, pseudo-inverse and
//! integer matrix powers.
//!
//! Every operation copies its input into a private row-major buffer (checked
//! against the memory budget) and runs a per-matrix kernel on slices. The
//! kernels are written here rather than taken from LAPACK, but follow its
//! conventions where results are not unique (pivot choice, Householder
//! signs), so that values match NumPy's.

mod adjugate;
mod batch;
mod cholesky;
mod eigh;
mod lstsq;
mod lu;
mod power;
mod qr;
mod svd;
mod triangular;
mod vector;

pub use lstsq::Lstsq;
pub use triangular::Triangular;
