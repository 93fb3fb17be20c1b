//! The primitive table: every primitive of the language, one row each.
//!
//! A primitive is a struct (in its family file) that implements
//! [`Primitive`](super::Primitive): its forward kernel call, its VJP and its
//! JVP. [`Prim`] names each one, and [`each_prim!`](crate::each_prim) is the
//! single dispatch over all of them: adding a primitive is its struct in a
//! family file, one variant here and one row in the macro. Both lists are
//! exhaustive matches, so a primitive without rules does not compile.

use super::binary::{Atan2, Binary, FloatFloorDiv, FloatMod, IntBinary, Where};
use super::conv::{Conv, Pool};
use super::decomp::{Adjugate, AdjugateJvp, Cholesky, Det, LogAbsDet, Pinv, Solve, TriSolve};
use super::elementwise::{IntPow, Unary};
use super::indexing::{IndexCheck, IndexUpdate, Slice, SliceScatter, Take, TakeScatter};
use super::linalg::MatMul;
use super::lu::Lu;
use super::order::Order;
use super::random::Random;
use super::reduce::Reduce;
use super::scan::Cumsum;
use super::shape::{BroadcastTo, Concat, Reshape, Stack, SumTo, Transpose};
use super::special::Special;
use super::spectral::{Eigh, Qr, Svd};
use super::tridiagonal::TridiagonalSolve;
use super::Leaf;

/// A primitive operation with its static parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// A differentiation input (recorded on a tape; never evaluated).
    Leaf(Leaf),
    /// An elementwise unary op (`exp`, `-x`, `relu`, ...).
    Unary(Unary),
    /// A broadcasting binary op (`+`, `**`, `maximum`, comparisons, ...).
    Binary(Binary),
    /// `x ** n` for a constant int exponent.
    IntPow(IntPow),
    /// `+ - *` of ints (an int input of a jit plan).
    IntBinary(IntBinary),
    /// Sorting orders, arg-extrema and other piecewise-constant results (no derivative).
    Order(Order),
    /// Keyed random draws and key derivations (a key input of a jit plan).
    Random(Random),
    /// `where(cond, a, b)`.
    Where(Where),
    /// `atan2(y, x)`.
    Atan2(Atan2),
    /// Python's float `%`.
    FloatMod(FloatMod),
    /// Float `//`.
    FloatFloorDiv(FloatFloorDiv),
    /// `sum`, `prod`, `max`, `min` over some axes.
    Reduce(Reduce),
    /// Running sums along an axis.
    Cumsum(Cumsum),
    /// NumPy `matmul`.
    MatMul(MatMul),
    /// Axis permutation.
    Transpose(Transpose),
    /// Reshape (same number of elements).
    Reshape(Reshape),
    /// NumPy broadcasting to a shape.
    BroadcastTo(BroadcastTo),
    /// The adjoint of broadcasting: sum down to a shape.
    SumTo(SumTo),
    /// Basic indexing and slicing.
    Slice(Slice),
    /// The adjoint of `Slice`.
    SliceScatter(SliceScatter),
    /// `take(x, indices, axis)`.
    Take(Take),
    /// The adjoint of `Take`.
    TakeScatter(TakeScatter),
    /// Whether a traced scalar index is in range (a guard of a jit plan).
    IndexCheck(IndexCheck),
    /// `x.at[...].set(v)`, `.add(v)`, `.mul(v)` at flat positions.
    IndexUpdate(IndexUpdate),
    /// Joining tensors along an existing axis.
    Concat(Concat),
    /// Joining tensors along a new axis.
    Stack(Stack),
    /// `solve(a, b)` for square `a`.
    Solve(Solve),
    /// Triangular solve.
    TriSolve(TriSolve),
    /// Cholesky factor.
    Cholesky(Cholesky),
    /// `log |det a|`.
    LogAbsDet(LogAbsDet),
    /// The determinant (defined and differentiable at singular matrices too).
    Det(Det),
    /// The adjugate `det(a) inv(a)`, the derivative of `det`.
    Adjugate(Adjugate),
    /// The derivative of the adjugate in a direction.
    AdjugateJvp(AdjugateJvp),
    /// One output of `eigh`.
    Eigh(Eigh),
    /// One output of `svd`.
    Svd(Svd),
    /// One output of `qr`.
    Qr(Qr),
    /// `l` or `u` of `lu`.
    Lu(Lu),
    /// `tridiagonal_solve(dl, d, du, b)`.
    TridiagonalSolve(TridiagonalSolve),
    /// Pseudo-inverse.
    Pinv(Pinv),
    /// `erf`, `erfc`, `lgamma`, `digamma`, polygamma.
    Special(Special),
    /// A 2-d convolution or one of its adjoints.
    Conv(Conv),
    /// 2-d max or average pooling or one of their adjoints.
    Pool(Pool),
}

/// Runs `$body` with `$p` bound to the primitive struct inside `$prim` (a
/// `&Prim`): the one dispatch over every primitive, statically (no virtual
/// calls on the hot path).
#[macro_export]
macro_rules! each_prim {
    ($prim:expr, $p:ident => $body:expr) => {{
        use $crate::prim::Prim as P;
        match $prim {
            P::Leaf($p) => $body,
            P::Unary($p) => $body,
            P::Binary($p) => $body,
            P::IntPow($p) => $body,
            P::IntBinary($p) => $body,
            P::Order($p) => $body,
            P::Random($p) => $body,
            P::Where($p) => $body,
            P::Atan2($p) => $body,
            P::FloatMod($p) => $body,
            P::FloatFloorDiv($p) => $body,
            P::Cumsum($p) => $body,
            P::Reduce($p) => $body,
            P::MatMul($p) => $body,
            P::Transpose($p) => $body,
            P::Reshape($p) => $body,
            P::BroadcastTo($p) => $body,
            P::SumTo($p) => $body,
            P::Slice($p) => $body,
            P::SliceScatter($p) => $body,
            P::Take($p) => $body,
            P::TakeScatter($p) => $body,
            P::IndexCheck($p) => $body,
            P::IndexUpdate($p) => $body,
            P::Concat($p) => $body,
            P::Stack($p) => $body,
            P::Solve($p) => $body,
            P::TriSolve($p) => $body,
            P::Cholesky($p) => $body,
            P::LogAbsDet($p) => $body,
            P::Det($p) => $body,
            P::Adjugate($p) => $body,
            P::AdjugateJvp($p) => $body,
            P::Eigh($p) => $body,
            P::Svd($p) => $body,
            P::Qr($p) => $body,
            P::Lu($p) => $body,
            P::TridiagonalSolve($p) => $body,
            P::Pinv($p) => $body,
            P::Special($p) => $body,
            P::Conv($p) => $body,
            P::Pool($p) => $body,
        }
    }};
}

impl Prim {
    /// A short name for error messages and graphs.
    pub fn name(&self) -> String {
        use super::Primitive;
        crate::each_prim!(self, p => p.name())
    }

    /// Its own parameters as written after its array arguments (see [`super::Primitive::params`]).
    pub fn params(&self) -> Vec<String> {
        use super::Primitive;
        crate::each_prim!(self, p => p.params())
    }

    /// Whether this is a differentiation input rather than an operation.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Prim::Leaf(_))
    }
}
