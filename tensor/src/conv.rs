//! 2-d convolution (NCHW input, OIHW weights) and its two adjoints, by
//! im2col + GEMM.
//!
//! The input patches of a batch chunk are unfolded into a matrix `col` of
//! layout `(groups, Cg*KH*KW, nb*OH*OW)`, so each group's convolution is one
//! large GEMM (`W_g @ col_g`) rather than one small GEMM per sample: with few
//! input channels (the first layer of a CNN has `Cg*KH*KW = 9`) the per-sample
//! products are too thin for the packed kernels. The two adjoints reuse the
//! same unfolding: the weight gradient is `g_g @ col_gᵀ` and the input
//! gradient is `col2im(W_gᵀ @ g_g)` (the transposed convolution). 1-d
//! convolutions are 2-d ones with a height of 1 (the caller reshapes).

use crate::error::{checked_size, Result, TensorError};
use crate::pool::SharedMut;
use crate::tensor::Tensor;
use std::cell::Cell;
use std::sync::Mutex;

/// The static parameters of a 2-d convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvSpec {
    /// Step between output positions, per spatial axis (height, width).
    pub stride: [usize; 2],
    /// Implicit zeros added before and after each spatial axis: `[[top, bottom], [left, right]]`.
    pub padding: [[usize; 2]; 2],
    /// Spacing between kernel taps, per spatial axis.
    pub dilation: [usize; 2],
    /// Number of channel groups (input and output channels are split evenly).
    pub groups: usize,
}

/// The padding `[before, after]` of one axis that makes the output size
/// `ceil(size / stride)` (JAX's and TensorFlow's `"SAME"`: the odd element
/// goes after).
pub fn same_padding(size: usize, kernel: usize, stride: usize, dilation: usize) -> [usize; 2] {
    let stride = stride.max(1);
    let eff = dilation.saturating_mul(kernel.saturating_sub(1)).saturating_add(1);
    let out = size.div_ceil(stride);
    let total = (out.saturating_sub(1) * stride + eff).saturating_sub(size);
    [total / 2, total - total / 2]
}

/// The output length of one axis, or `None` when the (dilated) window does not
/// fit the padded input.
fn out_len(size: usize, pad: [usize; 2], kernel: usize, stride: usize, dilation: usize) -> Option<usize> {
    let padded = size.checked_add(pad[0])?.checked_add(pad[1])?;
    let eff = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    padded.checked_sub(eff).map(|r| r / stride + 1)
}

/// Shapes and strides of one convolution, validated.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    groups: usize,
    spec: ConvSpec,
}

impl Geom {
    fn new(x: &[usize], w: &[usize], spec: &ConvSpec) -> Result<Geom> {
        let shapes = || {
            format!(
                "input of shape {} and weights of shape {}",
                crate::format_shape(x),
                crate::format_shape(w)
            )
        };
        if x.len() != 4 || w.len() != 4 {
            return Err(TensorError::Invalid(format!(
                "conv2d needs a 4-d input (N, C, H, W) and 4-d weights (O, C/groups, KH, KW), found {}",
                shapes()
            )));
        }
        if spec.stride.contains(&0) || spec.dilation.contains(&0) || spec.groups == 0 {
            return Err(TensorError::Invalid(format!(
                "conv2d: stride, dilation and groups must be at least 1, found stride {:?}, dilation {:?}, groups {}",
                spec.stride, spec.dilation, spec.groups
            )));
        }
        let g = spec.groups;
        if w[1].checked_mul(g) != Some(x[1]) || !w[0].is_multiple_of(g) {
            return Err(TensorError::Invalid(format!(
                "conv2d: {} do not match: with groups={g} the input needs C = {} * {g} channels and O divisible by {g}",
                shapes(),
                w[1]
            )));
        }
        if w[2] == 0 || w[3] == 0 {
            return Err(TensorError::Invalid(format!("conv2d: empty kernel in {}", shapes())));
        }
        let mut out = [0; 2];
        for a in 0..2 {
            out[a] = out_len(x[2 + a], spec.padding[a], w[2 + a], spec.stride[a], spec.dilation[a]).ok_or_else(|| {
                TensorError::Invalid(format!(
                    "conv2d: the kernel (size {} with dilation {}) is larger than the padded input (size {} + padding {} + {}) along spatial axis {a}",
                    w[2 + a], spec.dilation[a], x[2 + a], spec.padding[a][0], spec.padding[a][1]
                ))
            })?;
        }
        let geom = Geom {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: w[0],
            kh: w[2],
            kw: w[3],
            oh: out[0],
            ow: out[1],
            groups: g,
            spec: *spec,
        };
        checked_size(&geom.out_shape())?;
        // The unfolded patches of one sample must be allocatable too.
        checked_size(&[geom.groups, geom.kg(), geom.p()])?;
        Ok(geom)
    }
    fn out_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.oh, self.ow]
    }
    /// Input channels per group.
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    /// Output channels per group.
    fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Rows of a group's `col` matrix: one per (channel, tap).
    fn kg(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    /// Output positions per sample.
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Samples per chunk when each sample needs `per` elements of scratch
    /// (its unfolded input and its product): as many as keep them within a
    /// quarter of the L2 cache (at least one). The unfolded chunk is written
    /// by `im2col` and read right after by the GEMM's packing; a chunk of
    /// the whole batch (7 MB for 32 samples of 16x14x14 with 3x3 taps) went
    /// to memory and back, and 32K-64K elements measured 20-25 % faster on
    /// a 2 MiB L2.
    fn chunk(&self, per: usize) -> usize {
        let budget = crate::cache::caches().l2 / 4 / std::mem::size_of::<f64>();
        (budget / per.max(1)).clamp(1, self.n.max(1))
    }

    /// How many chunks of [`Geom::chunk`] samples the batch makes.
    fn chunks(&self, per: usize) -> usize {
        self.n.div_ceil(self.chunk(per))
    }
}

/// The outputs `o in 0..count` whose input position `o * stride + off` lies
/// in `0..size`, as a half-open range.
fn valid(count: usize, stride: usize, off: isize, size: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let hi = if (size as isize) <= off {
        0
    } else {
        ((size as isize - off) + s - 1) / s
    };
    let hi = (hi as usize).min(count);
    ((lo as usize).min(hi), hi)
}

/// Walks every (col row, sample, output row) of a chunk: `f(col_start,
/// x_row_start, lo, hi, x_col_offset)` for rows inside the input, `skip(col_start)`
/// for rows entirely in the padding. `col_start` indexes an `ow`-long run of
/// `col`; elements `lo..hi` of it read `x[x_row_start + ow * sw + x_col_offset]`.
fn for_each_run(
    g: &Geom,
    n0: usize,
    nb: usize,
    mut f: impl FnMut(usize, usize, usize, usize, isize),
    mut skip: impl FnMut(usize),
) {
    let (sh, sw) = (g.spec.stride[0], g.spec.stride[1]);
    let (dh, dw) = (g.spec.dilation[0], g.spec.dilation[1]);
    let (ph, pw) = (g.spec.padding[0][0] as isize, g.spec.padding[1][0] as isize);
    let (kg, p, cg) = (g.kg(), g.p(), g.cg());
    for gi in 0..g.groups {
        for ci in 0..cg {
            let c = gi * cg + ci;
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let k = (ci * g.kh + i) * g.kw + j;
                    let woff = (j * dw) as isize - pw;
                    let (lo, hi) = valid(g.ow, sw, woff, g.w);
                    for s in 0..nb {
                        let plane = ((n0 + s) * g.c + c) * g.h * g.w;
                        let row = ((gi * kg + k) * nb + s) * p;
                        for oy in 0..g.oh {
                            let iy = (oy * sh + i * dh) as isize - ph;
                            let start = row + oy * g.ow;
                            if iy < 0 || iy >= g.h as isize || lo >= hi {
                                skip(start);
                            } else {
                                f(start, plane + iy as usize * g.w, lo, hi, woff);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Unfolds samples `n0..n0 + nb` of `x` (contiguous NCHW) into `col`
/// (`(groups, kg, nb * p)`, every element written).
fn im2col(x: &[f64], g: &Geom, n0: usize, nb: usize, col: &mut [f64]) {
    let (ow, sw) = (g.ow, g.spec.stride[1]);
    // Two closures need `col`; they run one at a time, so share it through a cell.
    let col = std::cell::RefCell::new(col);
    for_each_run(
        g,
        n0,
        nb,
        |start, xrow, lo, hi, off| {
            let mut col = col.borrow_mut();
            let dst = &mut col[start..start + ow];
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            let first = (xrow as isize + (lo * sw) as isize + off) as usize;
            if sw == 1 {
                dst[lo..hi].copy_from_slice(&x[first..first + (hi - lo)]);
            } else {
                for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                    *d = x[first + k * sw];
                }
            }
        },
        |start| col.borrow_mut()[start..start + ow].fill(0.0),
    );
}

/// The adjoint of [`im2col`]: adds each element of `col` to the input
/// position it was read from; `dx` holds samples `n0..n0 + nb` of the
/// contiguous NCHW input gradient.
fn col2im(col: &[f64], g: &Geom, n0: usize, nb: usize, dx: &mut [f64]) {
    let sw = g.spec.stride[1];
    let base = n0 * g.c * g.h * g.w;
    for_each_run(
        g,
        n0,
        nb,
        |start, xrow, lo, hi, off| {
            let first = (xrow as isize + (lo * sw) as isize + off) as usize - base;
            let src = &col[start + lo..start + hi];
            if sw == 1 {
                for (d, s) in dx[first..first + (hi - lo)].iter_mut().zip(src) {
                    *d += s;
                }
            } else {
                for (k, s) in src.iter().enumerate() {
                    dx[first + k * sw] += s;
                }
            }
        },
        |_| {},
    );
}

/// `(nb, O, P)` rows of an NCHW output (samples `n0..`) gathered into the
/// GEMM layout `(groups, og, nb * p)` in `out`.
fn to_gemm_layout(y: &[f64], g: &Geom, n0: usize, nb: usize, out: &mut [f64]) {
    let (og, p) = (g.og(), g.p());
    for gi in 0..g.groups {
        for o in 0..og {
            for s in 0..nb {
                let src = ((n0 + s) * g.o + gi * og + o) * p;
                let dst = ((gi * og + o) * nb + s) * p;
                out[dst..dst + p].copy_from_slice(&y[src..src + p]);
            }
        }
    }
}

/// The inverse of [`to_gemm_layout`]: writes a `(groups, og, nb * p)`
/// product into `y`, which holds samples `n0..n0 + nb` of an NCHW output.
fn from_gemm_layout(prod: &[f64], g: &Geom, nb: usize, y: &mut [f64]) {
    let (og, p) = (g.og(), g.p());
    for gi in 0..g.groups {
        for o in 0..og {
            for s in 0..nb {
                let dst = (s * g.o + gi * og + o) * p;
                let src = ((gi * og + o) * nb + s) * p;
                y[dst..dst + p].copy_from_slice(&prod[src..src + p]);
            }
        }
    }
}

/// Contiguous elements of a tensor (copied only when it is a strided view).
fn data_of(t: &Tensor) -> std::borrow::Cow<'_, [f64]> {
    match t.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(t.to_vec()),
    }
}

thread_local! {
    /// This thread's two scratch buffers for a chunk (see [`for_each_chunk`]),
    /// kept between chunks and calls: fresh zero-filled buffers per chunk
    /// cost as much as the unfolding.
    static SCRATCH: Cell<(Vec<f64>, Vec<f64>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// Chunks whose weight-gradient parts are computed before they are added:
/// enough to keep both threads busy, few enough that the parts stay small.
const ROUND: usize = 4;

/// Scratch buffers above this many elements (both together) are not kept
/// past the call that needed them: by the calling thread at its end, by the
/// helper at its next chunk, which shrinks them to what it needs.
const KEEP_SCRATCH: usize = 1 << 20;

/// `buf` resized to `per * nb` elements (contents unspecified: every user
/// writes each element before reading it), after checking the size against
/// the element limit and the memory budget as a tensor's, and with a
/// refused allocation reported as an error.
fn scratch(mut buf: Vec<f64>, per: usize, nb: usize) -> Result<Vec<f64>> {
    let len = checked_size(&[per, nb])?;
    if buf.capacity() > KEEP_SCRATCH && buf.capacity() > 2 * len {
        buf = Vec::new();
    }
    if len > buf.len() {
        buf.try_reserve_exact(len - buf.len())
            .map_err(|_| crate::memory::refused(len as u128 * 8, || "conv2d scratch".into()))?;
    }
    buf.resize(len, 0.0);
    Ok(buf)
}

/// Calls `f(i, n0, nb, a, b)` for chunks `i` in `chunks` of [`Geom::chunk`]
/// samples `n0..n0 + nb` each, with scratch buffers `a` and `b` of
/// `per[0] * nb` and `per[1] * nb` elements (contents unspecified). With
/// several chunks and a worthwhile helper the two threads share the
/// chunks, each chunk running on one thread: its unfolded input and product
/// stay in that core's cache, and the GEMMs inside do not split (a product
/// of operands just written by one core, split between two, ran slower than
/// on one here, so 2 threads were slower than 1 when the GEMMs shared). A
/// chunk's results do not depend on the thread that computed it.
fn for_each_chunk(
    g: &Geom,
    per: [usize; 2],
    chunks: std::ops::Range<usize>,
    f: impl Fn(usize, usize, usize, &mut [f64], &mut [f64]) + Sync,
) -> Result<()> {
    let chunk = g.chunk(per[0] + per[1]);
    let failed: Mutex<Option<TensorError>> = Mutex::new(None);
    let run = |i: usize| {
        let n0 = i * chunk;
        let nb = chunk.min(g.n - n0);
        let (a, b) = SCRATCH.take();
        match (scratch(a, per[0], nb), scratch(b, per[1], nb)) {
            (Ok(mut a), Ok(mut b)) => {
                f(i, n0, nb, &mut a, &mut b);
                SCRATCH.set((a, b));
            }
            (Err(e), _) | (_, Err(e)) => {
                *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
        }
    };
    let (start, pieces) = (chunks.start, chunks.len());
    if crate::pool::should_share_pieces(pieces) {
        crate::pool::for_each_piece(pieces, |j| run(start + j));
    } else {
        chunks.for_each(run);
    }
    let (a, b) = SCRATCH.take();
    if a.capacity() + b.capacity() <= KEEP_SCRATCH {
        SCRATCH.set((a, b));
    }
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One operand of [`group_gemm`]: its elements, and the row and column
/// strides of each group's block.
type Operand<'a> = (&'a [f64], isize, isize);

/// `C = A @ B` for each group: `m x k` blocks of `a` (group stride `m * k`),
/// `k x n` blocks of `b` (group stride `k * n`) and row-major `m x n`
/// blocks of `c`.
fn group_gemm(groups: usize, [m, k, n]: [usize; 3], a: Operand<'_>, b: Operand<'_>, c: &mut [f64]) {
    let ((a, rsa, csa), (b, rsb, csb)) = (a, b);
    // The elements a block's strides reach: within its dense block, so
    // every group's blocks stay inside the slices.
    let reach = |r: usize, c: usize, rs: isize, cs: isize| {
        if r == 0 || c == 0 {
            0
        } else {
            (r - 1) * rs.unsigned_abs() + (c - 1) * cs.unsigned_abs() + 1
        }
    };
    assert!(
        rsa >= 0
            && csa >= 0
            && rsb >= 0
            && csb >= 0
            && reach(m, k, rsa, csa) <= m * k
            && reach(k, n, rsb, csb) <= k * n,
        "group_gemm: strides beyond a block"
    );
    assert!(a.len() >= groups * m * k && b.len() >= groups * k * n && c.len() >= groups * m * n);
    for gi in 0..groups {
        // SAFETY: the assertions keep every group's blocks inside the slices
        // (their non-negative strides reach no further than an m x k or
        // k x n block), C's row-major blocks fill `c`, and `c` is a distinct
        // `&mut` slice, so it aliases neither operand.
        unsafe {
            crate::linalg::gemm(
                m,
                k,
                n,
                a.as_ptr().add(gi * m * k),
                rsa,
                csa,
                b.as_ptr().add(gi * k * n),
                rsb,
                csb,
                c.as_mut_ptr().add(gi * m * n),
                n as isize,
                1,
            );
        }
    }
}

/// Blocks `first..first + count` of `buf`, taken as consecutive blocks of
/// `per` elements (a sample's output, or a chunk's part of the weight
/// gradient), for a chunk running on either thread.
///
/// # Safety
/// `buf` must address at least `(first + count) * per` elements, and no
/// two live results may overlap (each chunk takes its own blocks).
unsafe fn blocks<'a>(buf: &SharedMut<f64>, per: usize, first: usize, count: usize) -> &'a mut [f64] {
    std::slice::from_raw_parts_mut(buf.get().add(first * per), count * per)
}

impl Tensor {
    /// 2-d cross-correlation (what deep learning calls convolution) of an
    /// `(N, C, H, W)` input with `(O, C / groups, KH, KW)` weights: the
    /// `(N, O, OH, OW)` result of `jax.lax.conv_general_dilated` /
    /// `torch.nn.functional.conv2d` with the same stride, padding, dilation
    /// and groups.
    pub fn conv2d(&self, weight: &Tensor, spec: &ConvSpec) -> Result<Tensor> {
        let g = Geom::new(&self.shape, &weight.shape, spec)?;
        let mut y = crate::buffer::alloc_filled(&g.out_shape(), 0.0)?;
        let x = data_of(self);
        let w = weight.contiguous();
        let w = data_of(&w);
        let (og, kg, p) = (g.og(), g.kg(), g.p());
        let ys = SharedMut(y.as_mut_ptr());
        let per = [g.groups * kg * p, g.groups * og * p];
        for_each_chunk(&g, per, 0..g.chunks(per[0] + per[1]), |_, n0, nb, col, prod| {
            im2col(&x, &g, n0, nb, col);
            let width = (nb * p) as isize;
            group_gemm(g.groups, [og, kg, nb * p], (&w, kg as isize, 1), (col, width, 1), prod);
            // SAFETY: `y` has n samples of o * p elements; each chunk writes its own.
            from_gemm_layout(prod, &g, nb, unsafe { blocks(&ys, g.o * p, n0, nb) });
        })?;
        Ok(Tensor::from_parts(y, g.out_shape().to_vec()))
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its input: the
    /// transposed convolution of the output cotangent `grad` `(N, O, OH, OW)`
    /// with `weight`, shaped `input_shape`.
    pub fn conv2d_input_grad(grad: &Tensor, weight: &Tensor, input_shape: &[usize], spec: &ConvSpec) -> Result<Tensor> {
        let g = Geom::new(input_shape, &weight.shape, spec)?;
        check_grad(grad, &g)?;
        let mut dx = crate::buffer::alloc_filled(input_shape, 0.0)?;
        let gy = data_of(grad);
        let w = weight.contiguous();
        let w = data_of(&w);
        let (og, kg, p) = (g.og(), g.kg(), g.p());
        let dxs = SharedMut(dx.as_mut_ptr());
        let per = [g.groups * og * p, g.groups * kg * p];
        for_each_chunk(&g, per, 0..g.chunks(per[0] + per[1]), |_, n0, nb, gt, col| {
            to_gemm_layout(&gy, &g, n0, nb, gt);
            // Each group's weight matrix read transposed: (kg, og).
            let width = (nb * p) as isize;
            group_gemm(g.groups, [kg, og, nb * p], (&w, 1, kg as isize), (gt, width, 1), col);
            // SAFETY: `dx` has n samples of c * h * w elements; each chunk adds to its own.
            col2im(col, &g, n0, nb, unsafe { blocks(&dxs, g.c * g.h * g.w, n0, nb) });
        })?;
        Ok(Tensor::from_parts(dx, input_shape.to_vec()))
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its weights, shaped
    /// `weight_shape`, from the input `x` and the output cotangent `grad`.
    pub fn conv2d_weight_grad(x: &Tensor, grad: &Tensor, weight_shape: &[usize], spec: &ConvSpec) -> Result<Tensor> {
        let g = Geom::new(&x.shape, weight_shape, spec)?;
        check_grad(grad, &g)?;
        let xs = data_of(x);
        let gy = data_of(grad);
        let (og, kg, p) = (g.og(), g.kg(), g.p());
        let len = g.groups * og * kg;
        let per = [g.groups * og * p, g.groups * kg * p];
        let chunks = g.chunks(per[0] + per[1]);
        // Rounds of a few chunks, each chunk's part into its own slot, the
        // slots added to `dw` in chunk order after each round: the sum one
        // thread adding chunk after chunk forms, on any number of threads,
        // with room for one round's parts only.
        let round = ROUND.min(chunks.max(1));
        let mut parts = crate::buffer::alloc_filled(&[round, len], 0.0)?;
        let mut dw = crate::buffer::alloc_filled(weight_shape, 0.0)?;
        let mut r0 = 0;
        while r0 < chunks {
            let r1 = (r0 + round).min(chunks);
            let ps = SharedMut(parts.as_mut_ptr());
            for_each_chunk(&g, per, r0..r1, |i, n0, nb, gt, col| {
                to_gemm_layout(&gy, &g, n0, nb, gt);
                im2col(&xs, &g, n0, nb, col);
                // SAFETY: `parts` has `round` slots of `len` elements and
                // `i - r0 < round`; each chunk of the round writes its own.
                let part = unsafe { blocks(&ps, len, i - r0, 1) };
                // (og, nb p) @ (nb p, kg): the unfolded input read transposed.
                let width = (nb * p) as isize;
                group_gemm(g.groups, [og, nb * p, kg], (gt, width, 1), (col, 1, width), part);
            })?;
            for part in parts.chunks_exact(len.max(1)).take(r1 - r0) {
                for (d, s) in dw.iter_mut().zip(part) {
                    *d += s;
                }
            }
            r0 = r1;
        }
        Ok(Tensor::from_parts(dw, weight_shape.to_vec()))
    }
}

/// Checks that an output cotangent has the convolution's output shape.
fn check_grad(grad: &Tensor, g: &Geom) -> Result<()> {
    if grad.shape != g.out_shape() {
        return Err(TensorError::Invalid(format!(
            "conv2d gradient: the cotangent has shape {}, but the convolution's output has shape {}",
            crate::format_shape(&grad.shape),
            crate::format_shape(&g.out_shape())
        )));
    }
    Ok(())
}
