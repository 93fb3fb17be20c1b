//! `dp-tensor`: the CPU tensor kernel library of the `dp` language.
//!
//! Provides n-dimensional `f64` tensors with NumPy semantics: strided views
//! (transpose, slicing, broadcasting without copies), broadcasting elementwise
//! operators, reductions, GEMM-backed `matmul`, indexing with scatter
//! adjoints for automatic differentiation, batched linear algebra (LU,
//! Cholesky, QR, symmetric eigen-decomposition, SVD and the solvers built
//! on them), special functions (`erf`, `lgamma`, `digamma`, ...), sorting
//! and scans along an axis, 2-d convolution and pooling with their
//! adjoints, Python-compatible number formatting and a
//! reproducible seeded random number generator.
//!
//! Every fallible operation returns [`Result`]; no public function panics.

mod buffer;
mod cache;
mod conv;
mod decomp;
mod dtype;
mod elementwise;
mod error;
mod format;
mod fused;
mod gather;
mod gemm;
mod index;
mod interrupt;
mod iter;
mod keyed;
mod linalg;
mod memory;
mod ops;
mod outer;
mod pool;
mod pooling;
mod reduce;
mod rng;
mod scan;
mod scatter;
mod setting;
mod simd;
mod sorting;
mod special;
#[cfg(test)]
mod split_tests;
mod tensor;
mod vmath;
mod vreduce;

pub use conv::{same_padding, ConvSpec};
pub use decomp::{Lstsq, Triangular};
pub use dtype::DType;
pub use error::{check_ndim, checked_size, format_shape, normalize_axis, Result, TensorError, MAX_ELEMENTS, MAX_NDIM};
pub use format::{
    format_float, format_strided, format_tensor, format_tensor_with, BoolFormat, ElementFormat, ElementSpec,
    FloatFormat, PrintOptions, Sign, StridedView, MAX_SPEC_DIGITS,
};
pub use fused::{FusedArg, FusedKernel, FusedOp, FusedOperand, FusedReduce, FusedStep};
pub use gemm::{with_gemm_path, GemmPath};
pub use index::SliceSpec;
pub use interrupt::INTERRUPTED;
pub use keyed::Key;
pub use memory::{check_memory, format_bytes, memory_limit, parse_size, set_memory_limit, MEMORY_ENV};
pub use ops::{BinaryOp, ReduceOp, UnaryOp};
pub use pool::{check_threads_setting, shared_jobs, sharing_possible, with_sharing, THREADS_ENV};
pub use pooling::PoolSpec;
pub use rng::Rng;
pub use scatter::UpdateMode;
pub use setting::check_setting;
pub use simd::{check_simd_setting, SIMD_ENV};
pub use sorting::Unique;
pub use special::{digamma, erf, erfc, erfcx, i0, i0e, i1, i1e, lgamma, polygamma};
pub use tensor::{broadcast_shapes, Shape, Tensor};
