//! Matrix products: `matmul` (full NumPy semantics), `dot`, `outer`.

use crate::error::{checked_size, Result, TensorError};
use crate::iter::{contiguous_strides, for_each_row};
use crate::ops::BinaryOp;
use crate::tensor::{broadcast_shapes, broadcast_strides, Tensor};

/// Below this many multiply-adds a plain loop beats the packed GEMM.
const SMALL_GEMM: usize = 4096;

/// Whether `gemm` below runs an m x k x n product on the packed GEMM
/// (`gemm::gemm_then`). Rank-1 and small products take loops of their own,
/// which round differently (no FMA), so a fused epilogue, which needs the
/// packed GEMM's hook, applies only where this holds: fusion changes no bit.
pub(crate) fn takes_packed_gemm(m: usize, k: usize, n: usize) -> bool {
    m > 0 && n > 0 && k != 1 && m.saturating_mul(n).saturating_mul(k) > SMALL_GEMM
}

/// `C = A @ B` for one strided matrix triple. C is only written, never read,
/// so it may be uninitialised: the GEMM kernels store their first result
/// instead of adding it to a zero-filled output (the fill and the reloads
/// were a tenth of a 64x64 product).
///
/// # Safety
/// All pointers and strides must address valid memory for the given sizes,
/// and `c` must not alias `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f64,
    rsa: isize,
    csa: isize,
    b: *const f64,
    rsb: isize,
    csb: isize,
    c: *mut f64,
    rsc: isize,
    csc: isize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 1 && csc == 1 {
        // An outer product: the packed GEMM would pack and run its kernel
        // for a single rank-1 update, several times the cost of the
        // store-bound loop. Streamed when C alone is too big for the cache.
        let stream = m.saturating_mul(n).saturating_mul(8) >= crate::outer::STREAM_MIN_BYTES;
        // SAFETY: the caller's promises are rank1's (A read down a column).
        unsafe { crate::outer::rank1(m, n, a, rsa, b, csb, c, rsc, stream) };
        return;
    }
    if !takes_packed_gemm(m, k, n) {
        // Also the k == 0 case: a zero matrix.
        for i in 0..m as isize {
            for j in 0..n as isize {
                *c.offset(i * rsc + j * csc) = 0.0;
            }
            for p in 0..k as isize {
                let av = *a.offset(i * rsa + p * csa);
                for j in 0..n as isize {
                    *c.offset(i * rsc + j * csc) += av * *b.offset(p * rsb + j * csb);
                }
            }
        }
        return;
    }
    if !crate::gemm::gemm_then(m, k, n, a, rsa, csa, b, rsb, csb, c, rsc, csc, None) {
        // With beta = 0 matrixmultiply does not read C either.
        matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc);
    }
}

/// A raw pointer that may cross to a scoped worker thread.
#[derive(Clone, Copy)]
struct SendPtr(*mut f64);
// SAFETY: workers only read shared inputs and write disjoint output matrices.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f64 {
        self.0
    }
}

/// Dot product of two strided vectors of length `n`.
fn vdot(a: &[f64], ao: isize, sa: isize, b: &[f64], bo: isize, sb: isize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    if sa == 1 && sb == 1 {
        crate::vreduce::dot(&a[ao as usize..ao as usize + n], &b[bo as usize..bo as usize + n])
    } else {
        let mut s = 0.0;
        for i in 0..n as isize {
            s += a[(ao + i * sa) as usize] * b[(bo + i * sb) as usize];
        }
        s
    }
}

impl Tensor {
    /// Matrix product with full NumPy `matmul` semantics: 1-d operands are
    /// promoted to rows/columns (and the added axis removed again), leading
    /// batch axes broadcast. 0-d operands are an error.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return Err(TensorError::Invalid(format!(
                "cannot multiply {} @ {}: matrix multiplication needs at least 1-d operands (use `*` for scalars)",
                crate::format_shape(&self.shape),
                crate::format_shape(&other.shape)
            )));
        }
        // 1-d @ 1-d: inner product.
        if self.ndim() == 1 && other.ndim() == 1 {
            let (k, k2) = (self.shape[0], other.shape[0]);
            if k != k2 {
                return Err(self.mismatch(other, k, k2));
            }
            let s = vdot(
                &self.data,
                self.offset as isize,
                self.strides[0],
                &other.data,
                other.offset as isize,
                other.strides[0],
                k,
            );
            return Ok(Tensor::scalar(s));
        }
        // 2-d @ 1-d: one dot product per row (GEMV).
        if self.ndim() == 2 && other.ndim() == 1 {
            let (m, k, k2) = (self.shape[0], self.shape[1], other.shape[0]);
            if k != k2 {
                return Err(self.mismatch(other, k, k2));
            }
            if m > 0 && k > 0 && self.strides[1] == 1 && self.strides[0] >= 0 && other.strides[0] == 1 {
                // Row-major A and contiguous x: a direct multi-row dot-product loop.
                let lda = self.strides[0] as usize;
                let a = &self.data[self.offset..self.offset + (m - 1) * lda + k];
                let x = &other.data[other.offset..other.offset + k];
                let mut out = vec![0.0; m];
                crate::vreduce::gemv(a, lda, x, &mut out);
                return Ok(Tensor::from_parts(out, vec![m]));
            }
            let out: Vec<f64> = (0..m)
                .map(|i| {
                    vdot(
                        &self.data,
                        self.offset as isize + i as isize * self.strides[0],
                        self.strides[1],
                        &other.data,
                        other.offset as isize,
                        other.strides[0],
                        k,
                    )
                })
                .collect();
            return Ok(Tensor::from_parts(out, vec![m]));
        }
        let a = if self.ndim() == 1 {
            self.expand_dims(0)?
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.expand_dims(1)?
        } else {
            other.clone()
        };
        let (na, nb) = (a.ndim(), b.ndim());
        let (m, k) = (a.shape[na - 2], a.shape[na - 1]);
        let (k2, n) = (b.shape[nb - 2], b.shape[nb - 1]);
        if k != k2 {
            return Err(self.mismatch(other, k, k2));
        }
        let batch = broadcast_shapes(&a.shape[..na - 2], &b.shape[..nb - 2]).ok_or_else(|| {
            TensorError::Invalid(format!(
                "cannot multiply {} @ {}: batch dimensions {} and {} cannot be broadcast",
                crate::format_shape(&self.shape),
                crate::format_shape(&other.shape),
                crate::format_shape(&a.shape[..na - 2]),
                crate::format_shape(&b.shape[..nb - 2])
            ))
        })?;
        let mut full_shape = batch.clone();
        full_shape.push(m);
        full_shape.push(n);
        let total = checked_size(&full_shape)?;
        // Every element is written by exactly one GEMM below (the batch jobs
        // cover every output matrix), so the buffer is not zero-filled first.
        let mut out = crate::buffer::alloc(&full_shape)?;
        let (rsa, csa) = (a.strides[na - 2], a.strides[na - 1]);
        let (rsb, csb) = (b.strides[nb - 2], b.strides[nb - 1]);
        if total > 0 {
            if nb == 2 && na > 2 && a.is_contiguous() {
                // Fold the batch into the rows: one big GEMM.
                let rows = total / n;
                // SAFETY: a is contiguous with rows*k elements from its offset;
                // b's strides address its own buffer; out has rows*n elements.
                unsafe {
                    gemm(
                        rows,
                        k,
                        n,
                        a.data.as_ptr().add(a.offset),
                        k as isize,
                        1,
                        b.data.as_ptr().add(b.offset),
                        rsb,
                        csb,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            } else if na == 2 && nb > 2 && n == 1 && b.is_contiguous() {
                // One matrix times a batch of column vectors (a VJP or JVP of
                // `W @ x` under `vmap`): stacked as rows, the vectors form a
                // [batch, k] matrix, and (A b_e)^T = b_e^T A^T, so the whole
                // batch is one GEMM with A read transposed, whose [batch, m]
                // output is the [batch, m, 1] result in memory.
                let rows = total / m;
                // SAFETY: b is contiguous with rows*k elements from its offset;
                // a's strides address its own buffer; out has rows*m elements.
                unsafe {
                    gemm(
                        rows,
                        k,
                        m,
                        b.data.as_ptr().add(b.offset),
                        k as isize,
                        1,
                        a.data.as_ptr().add(a.offset),
                        csa,
                        rsa,
                        out.as_mut_ptr(),
                        m as isize,
                        1,
                    );
                }
            } else {
                let sa = broadcast_strides(&a.shape[..na - 2], &a.strides[..na - 2], &batch);
                let sb = broadcast_strides(&b.shape[..nb - 2], &b.strides[..nb - 2], &batch);
                let so: Vec<isize> = contiguous_strides(&batch)
                    .iter()
                    .map(|&s| s * (m * n) as isize)
                    .collect();
                let mut jobs: Vec<[isize; 3]> = Vec::new();
                for_each_row(
                    &batch,
                    [&sa, &sb, &so],
                    [a.offset as isize, b.offset as isize, 0],
                    |[ao, bo, oo], len, [sa, sb, so]| {
                        for i in 0..len as isize {
                            jobs.push([ao + i * sa, bo + i * sb, oo + i * so]);
                        }
                    },
                );
                let (ap, bp, op) = (
                    SendPtr(a.data.as_ptr() as *mut f64),
                    SendPtr(b.data.as_ptr() as *mut f64),
                    SendPtr(out.as_mut_ptr()),
                );
                // A batch of outer products (per-example weight gradients
                // under `vmap`) is streamed when the whole result is too big
                // for the cache, even though each product alone fits.
                let stream = k == 1 && total.saturating_mul(8) >= crate::outer::STREAM_MIN_BYTES;
                let run = move |jobs: &[[isize; 3]]| {
                    for &[ao, bo, oo] in jobs {
                        if stream {
                            // SAFETY: as for gemm below, with inner size 1.
                            unsafe {
                                crate::outer::rank1(
                                    m,
                                    n,
                                    ap.get().offset(ao),
                                    rsa,
                                    bp.get().offset(bo),
                                    csb,
                                    op.get().offset(oo),
                                    n as isize,
                                    true,
                                );
                            }
                            continue;
                        }
                        // SAFETY: offsets come from valid strided views of a, b
                        // and the freshly allocated output; each job writes a
                        // distinct output matrix.
                        unsafe {
                            gemm(
                                m,
                                k,
                                n,
                                ap.get().offset(ao),
                                rsa,
                                csa,
                                bp.get().offset(bo),
                                rsb,
                                csb,
                                op.get().offset(oo),
                                n as isize,
                                1,
                            );
                        }
                    }
                };
                let per = m as f64 * n as f64 * k as f64;
                // Small matrices in a big batch: half the batch to the helper
                // (each product alone is too small to split).
                if jobs.len() >= 2
                    && per < crate::gemm::BATCH_SHARED_FLOPS
                    && per * jobs.len() as f64 >= crate::gemm::PARALLEL_FLOPS
                    && crate::pool::helper_worthwhile()
                {
                    let per_piece = ((crate::gemm::PIECE_FLOPS / per) as usize).max(1);
                    let pieces: Vec<&[[isize; 3]]> = jobs.chunks(per_piece).collect();
                    crate::pool::for_each_piece(pieces.len(), |i| run(pieces[i]));
                } else {
                    run(&jobs);
                }
            }
        }
        // SAFETY: the products above wrote all `total` elements.
        unsafe { out.set_len(total) };
        let mut shape = batch;
        if self.ndim() > 1 {
            shape.push(m);
        }
        if other.ndim() > 1 {
            shape.push(n);
        }
        Ok(Tensor::from_parts(out, shape))
    }

    fn mismatch(&self, other: &Tensor, k: usize, k2: usize) -> TensorError {
        TensorError::MatmulMismatch {
            left: self.shape.clone(),
            right: other.shape.clone(),
            left_inner: k,
            right_inner: k2,
        }
    }

    /// NumPy `dot`: multiplication if either operand is 0-d, `matmul` for
    /// 1-d/2-d operands, and for n-d a sum product over the last axis of
    /// `self` and the second-to-last axis of `other`.
    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() == 0 || other.ndim() == 0 {
            return self.binary(other, BinaryOp::Mul);
        }
        if (self.ndim() <= 2 && other.ndim() <= 2) || other.ndim() == 1 || self.ndim() == 1 && other.ndim() == 2 {
            return self.matmul(other);
        }
        // General case: other has >= 2 dims, at least one operand has > 2.
        let k = self.shape[self.ndim() - 1];
        let nb = other.ndim();
        let k2 = other.shape[nb - 2];
        if k != k2 {
            return Err(self.mismatch(other, k, k2));
        }
        // Move other's contraction axis to the front: (k, b0.., b_{nb-3}, n).
        let mut perm = vec![nb - 2];
        perm.extend((0..nb).filter(|&i| i != nb - 2));
        let bt = other.transpose(&perm)?;
        let cols: usize = (0..nb).filter(|&i| i != nb - 2).map(|i| other.shape[i]).product();
        let b2 = bt.reshape(&[k, cols])?;
        let rows = self.shape[..self.ndim() - 1].iter().product::<usize>();
        let a2 = self.reshape(&[rows, k])?;
        let r = a2.matmul(&b2)?;
        let mut shape: Vec<usize> = self.shape[..self.ndim() - 1].to_vec();
        shape.extend_from_slice(&other.shape[..nb - 2]);
        shape.push(other.shape[nb - 1]);
        r.reshape(&shape)
    }

    /// Outer product of the flattened operands: shape `(self.size(), other.size())`.
    pub fn outer(&self, other: &Tensor) -> Result<Tensor> {
        let a = self.reshape(&[self.size(), 1])?;
        let b = other.reshape(&[1, other.size()])?;
        a.binary(&b, BinaryOp::Mul)
    }
}
