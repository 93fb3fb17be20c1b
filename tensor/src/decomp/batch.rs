//! Stacks of matrices: the shape checks, private copies, batch broadcasting
//! and output assembly shared by every decomposition.

use crate::error::{Result, TensorError};
use crate::tensor::{broadcast_shapes, Tensor};

/// A private row-major copy of a tensor seen as a stack of `rows x cols`
/// matrices in its last two axes (the decompositions work in place on it).
pub(crate) struct Stack {
    /// The leading (batch) axes.
    pub batch: Vec<usize>,
    /// Rows of every matrix.
    pub rows: usize,
    /// Columns of every matrix.
    pub cols: usize,
    /// `count() * rows * cols` elements, matrix after matrix.
    pub data: Vec<f64>,
}

impl Stack {
    /// Copies `t`, which must have at least 2 axes (and square matrices if `square`).
    pub fn new(t: &Tensor, op: &'static str, square: bool) -> Result<Stack> {
        let (rows, cols) = matrix_dims(t.shape(), op, square)?;
        Ok(Stack {
            batch: t.shape()[..t.ndim() - 2].to_vec(),
            rows,
            cols,
            data: t.to_vec_checked()?,
        })
    }

    /// Number of matrices: the product of the batch axes. May be positive
    /// even when every matrix is empty, and then even exceed any buffer
    /// (it saturates rather than overflow), so loops over the matrices must
    /// be guarded by an output or input that is not empty; see [`work`](Self::work).
    pub fn count(&self) -> usize {
        batch_count(&self.batch)
    }

    /// The number of matrices a kernel has to visit: [`count`](Self::count),
    /// or 0 when the matrices are empty (nothing to factor or solve).
    pub fn work(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            self.count()
        }
    }

    /// Elements per matrix.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// The `i`-th matrix.
    pub fn matrix(&self, i: usize) -> &[f64] {
        let l = self.len();
        &self.data[i * l..(i + 1) * l]
    }

    /// The `i`-th matrix, mutable.
    pub fn matrix_mut(&mut self, i: usize) -> &mut [f64] {
        let l = self.len();
        &mut self.data[i * l..(i + 1) * l]
    }
}

/// The `(rows, cols)` of the matrices in the last two axes of `shape`, or the
/// error `op` reports for a tensor that is not a (square) matrix stack.
pub(crate) fn matrix_dims(shape: &[usize], op: &'static str, square: bool) -> Result<(usize, usize)> {
    let nd = shape.len();
    let bad = || TensorError::NotMatrix {
        op,
        shape: shape.to_vec(),
        square,
    };
    if nd < 2 {
        return Err(bad());
    }
    let (m, n) = (shape[nd - 2], shape[nd - 1]);
    if square && m != n {
        return Err(bad());
    }
    Ok((m, n))
}

/// The product of the batch axes, 0 if any is 0, saturating (a zero-size
/// tensor may have axes whose product overflows).
pub(crate) fn batch_count(batch: &[usize]) -> usize {
    if batch.contains(&0) {
        0
    } else {
        batch.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }
}

/// `batch` followed by `dims`: the shape of a stacked result.
pub(crate) fn stacked(batch: &[usize], dims: &[usize]) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend_from_slice(dims);
    s
}

/// The multi-index of the `i`-th matrix of a batch (row-major), for errors.
pub(crate) fn unravel(mut i: usize, batch: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; batch.len()];
    for d in (0..batch.len()).rev() {
        if batch[d] > 0 {
            idx[d] = i % batch[d];
            i /= batch[d];
        }
    }
    idx
}

/// For every matrix of the broadcast batch `out`, the index of the matrix of
/// `batch` (a batch that broadcasts to `out`) it reads.
pub(crate) fn broadcast_index(batch: &[usize], out: &[usize]) -> Vec<usize> {
    let total: usize = out.iter().product();
    let lead = out.len() - batch.len();
    // Row-major strides of `batch`, zero along broadcast axes.
    let mut strides = vec![0usize; out.len()];
    let mut acc = 1;
    for d in (0..batch.len()).rev() {
        strides[lead + d] = if batch[d] == 1 { 0 } else { acc };
        acc *= batch[d];
    }
    (0..total)
        .map(|i| unravel(i, out).iter().zip(&strides).map(|(&j, &s)| j * s).sum())
        .collect()
}

/// The right-hand side `b` of a solve-like operation against `n x n`
/// matrices with batch `a_batch`, as a stack of `n x k` matrices over the
/// broadcast batch. NumPy 2 rules: `b` is one vector exactly when it is 1-d
/// (then `k = 1` and `vector` is true); otherwise its last two axes are the
/// `n x k` matrices and its leading axes broadcast against `a_batch`.
pub(crate) struct Rhs {
    /// The broadcast batch of the result.
    pub batch: Vec<usize>,
    /// Columns of every right-hand side.
    pub k: usize,
    /// Whether `b` was a single vector (the result drops the `k` axis).
    pub vector: bool,
    /// The right-hand sides, `batch x n x k`, copied (the solvers overwrite
    /// them with the solution).
    pub data: Vec<f64>,
    /// For every matrix of `batch`, the index of the `a` matrix it pairs with.
    pub a_index: Vec<usize>,
}

impl Rhs {
    /// Checks and copies `b` for `a` of shape `a_shape` (already checked to
    /// be a stack of matrices with `n` rows). With `right`, `b`'s matrices
    /// are `k x n` (for `x a = b`) and are stored transposed.
    pub fn new(op: &'static str, a_shape: &[usize], n: usize, b: &Tensor, right: bool) -> Result<Rhs> {
        let bad = |reason: String| TensorError::OperandShapes {
            op,
            a: a_shape.to_vec(),
            b: b.shape().to_vec(),
            reason,
        };
        let a_batch = &a_shape[..a_shape.len() - 2];
        if b.ndim() == 0 {
            return Err(bad("b must be a vector or a matrix, not a scalar".into()));
        }
        if b.ndim() == 1 {
            if b.shape()[0] != n {
                return Err(bad(format!("b needs {n} elements to match a's {n} rows")));
            }
            // One vector shared by every matrix of a's batch (nothing to
            // solve, however large the batch, when the vectors are empty).
            let count = if n == 0 { 0 } else { batch_count(a_batch) };
            let shape = stacked(a_batch, &[n]);
            let mut data = crate::buffer::alloc(&shape)?;
            let v = b.to_vec();
            for _ in 0..count {
                data.extend_from_slice(&v);
            }
            return Ok(Rhs {
                batch: a_batch.to_vec(),
                k: 1,
                vector: true,
                data,
                a_index: (0..count).collect(),
            });
        }
        let nb = b.ndim();
        let (mut rows, mut k) = (b.shape()[nb - 2], b.shape()[nb - 1]);
        if right {
            std::mem::swap(&mut rows, &mut k);
        }
        if rows != n {
            let (what, axis, fix) = if right {
                ("columns", "last", "leading")
            } else {
                ("rows", "second-to-last", "trailing")
            };
            return Err(bad(format!(
                "b needs {n} {what} (its {axis} axis) to match a, but has {rows} (a 1-d b is one vector; for a batch of vectors add a {fix} axis of size 1)"
            )));
        }
        let b_batch = &b.shape()[..nb - 2];
        let batch = broadcast_shapes(a_batch, b_batch).ok_or_else(|| {
            bad(format!(
                "their batch axes {} and {} do not broadcast",
                crate::format_shape(a_batch),
                crate::format_shape(b_batch)
            ))
        })?;
        let b = if right {
            let mut perm: Vec<usize> = (0..nb).collect();
            perm.swap(nb - 2, nb - 1);
            b.transpose(&perm)?
        } else {
            b.clone()
        };
        let data = b.broadcast_to(&stacked(&batch, &[n, k]))?.to_vec_checked()?;
        Ok(Rhs {
            // Empty right-hand sides need no work (and their batch may be
            // too large to enumerate).
            a_index: if data.is_empty() {
                Vec::new()
            } else {
                broadcast_index(a_batch, &batch)
            },
            batch,
            k,
            vector: false,
            data,
        })
    }

    /// The solution tensor: `batch x n` for a vector `b`, else `batch x n x k`.
    pub fn into_tensor(self, n: usize) -> Tensor {
        let shape = if self.vector {
            stacked(&self.batch, &[n])
        } else {
            stacked(&self.batch, &[n, self.k])
        };
        Tensor::from_parts(self.data, shape)
    }
}

/// Zero-filled scratch space of `len` elements, checked against the memory budget.
pub(crate) fn scratch(len: usize) -> Result<Vec<f64>> {
    crate::buffer::alloc_filled(&[len], 0.0)
}
