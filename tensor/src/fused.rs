//! Fused elementwise kernels: several unary and binary operators applied in
//! one pass over the result instead of one pass (and one buffer) each.
//!
//! A [`FusedKernel`] is a small program of [`FusedStep`]s over its arguments
//! (tensors broadcast to the result's shape, or scalars) and the results of
//! earlier steps; its value is the last step's. It runs block by block: for
//! each block of `BLOCK` consecutive elements of the result, the arguments'
//! elements are read (a contiguous argument in place, a broadcast or strided
//! one gathered into a scratch block), then every step runs as one vectorised
//! loop over the block into a register block that stays in the L1 cache, and
//! the last step writes the result. Intermediates never reach memory, and an
//! argument the caller gives up (uniquely owned, contiguous, of the result's
//! shape) lends its buffer to the result.
//!
//! Every operator computes exactly what the unfused kernel computes for each
//! element (the same scalar formulas and the same vectorised transcendental
//! kernels), so a fused result is bit-identical to the chain of separate ones.

use crate::dtype::DType;
use crate::elementwise::{binary_dispatch, unary_dispatch};
use crate::error::{checked_size, Result, TensorError};
use crate::ops::{BinaryOp, UnaryOp};
use crate::simd::{multiversion, Mode};
use crate::tensor::{broadcast_shapes, broadcast_strides, Tensor};
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::rc::Rc;

/// Elements per block: every step's register block (8 bytes each) and the
/// gathered arguments stay in the L1/L2 caches while the steps run.
const BLOCK: usize = 512;

/// Where a step reads an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedOperand {
    /// Argument `k` of the kernel.
    Arg(u16),
    /// The result of an earlier step.
    Step(u16),
}

/// The operator of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedOp {
    /// `op(a)`.
    Unary(UnaryOp),
    /// `op(a, b)`.
    Binary(BinaryOp),
}

/// One operator applied to its operands (`b` is ignored by unary operators).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FusedStep {
    /// The operator.
    pub op: FusedOp,
    /// The first operand.
    pub a: FusedOperand,
    /// The second operand of a binary operator.
    pub b: FusedOperand,
}

/// A sum the kernel ends in, taken as the elements are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedReduce {
    /// The sum of every element (a 0-d result), in the order of the sum kernel
    /// (pairwise over 256-element leaves, eight accumulators in each).
    All,
    /// The sum along the last axis (kept as length 1 if `keepdims`), each row
    /// summed as the reduction kernel sums a contiguous row.
    LastAxis {
        /// Keep the summed axis with length 1.
        keepdims: bool,
    },
}

/// A fused elementwise computation: steps in order, the last one's value is
/// the result, or is summed when the kernel ends in a reduction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FusedKernel {
    /// The steps; each reads arguments and earlier steps only.
    pub steps: Vec<FusedStep>,
    /// The sum taken of the last step's values, if any.
    pub reduce: Option<FusedReduce>,
}

/// An argument of a fused kernel.
#[derive(Clone, Debug)]
pub enum FusedArg {
    /// A tensor broadcastable to the result's shape (given up by the caller,
    /// so its buffer can become the result's when nothing else holds it).
    Tensor(Tensor),
    /// A scalar, used for every element.
    Scalar(f64),
}

/// An operand resolved for one block.
#[derive(Clone, Copy)]
enum Src<'a> {
    Slice(&'a [f64]),
    Scalar(f64),
}

/// How a tensor argument's elements are read for a block.
enum Source {
    Scalar(f64),
    /// Contiguous with the result's layout: elements `offset + lo..offset + hi` of argument `k`'s buffer.
    Contiguous {
        k: usize,
        offset: usize,
    },
    /// Anything else: gathered through its strides broadcast to the result's shape.
    Strided {
        k: usize,
        offset: usize,
        strides: Vec<isize>,
    },
    /// The argument whose buffer holds the result: copied out of it before the block is overwritten.
    Output,
}

impl FusedKernel {
    /// The element type of the result (the last operator's; floats for a sum).
    pub fn result_dtype(&self) -> DType {
        if self.reduce.is_some() {
            return DType::F64;
        }
        match self.steps.last().map(|s| s.op) {
            Some(FusedOp::Unary(u)) => u.result_dtype(),
            Some(FusedOp::Binary(b)) => b.result_dtype(),
            None => DType::F64,
        }
    }

    /// Checks that every operand names an argument that exists or an earlier step.
    fn check(&self, n_args: usize) -> Result<()> {
        let ok = |o: FusedOperand, i: usize| match o {
            FusedOperand::Arg(k) => (k as usize) < n_args,
            FusedOperand::Step(j) => (j as usize) < i,
        };
        for (i, s) in self.steps.iter().enumerate() {
            if !ok(s.a, i) || (matches!(s.op, FusedOp::Binary(_)) && !ok(s.b, i)) {
                return Err(TensorError::Invalid(format!(
                    "fused kernel step {i} reads an operand that does not exist yet"
                )));
            }
        }
        if self.steps.is_empty() {
            return Err(TensorError::Invalid("a fused kernel needs at least one step".into()));
        }
        Ok(())
    }

    /// Runs the kernel on `args`: its steps compute a tensor of `shape` (the
    /// result, or what the reduction sums). Every tensor argument must
    /// broadcast to `shape`.
    pub fn run(&self, args: Vec<FusedArg>, shape: &[usize]) -> Result<Tensor> {
        self.check(args.len())?;
        let n = checked_size(shape)?;
        let mut tensors: Vec<Option<Tensor>> = Vec::with_capacity(args.len());
        let mut sources = Vec::with_capacity(args.len());
        let mut out: Option<Vec<f64>> = None;
        for (k, arg) in args.into_iter().enumerate() {
            match arg {
                FusedArg::Scalar(x) => {
                    sources.push(Source::Scalar(x));
                    tensors.push(None);
                }
                FusedArg::Tensor(mut t) => {
                    if broadcast_shapes(&t.shape, shape).as_deref() != Some(shape) {
                        return Err(TensorError::Broadcast {
                            left: t.shape.to_vec(),
                            right: shape.to_vec(),
                            op: "a fused elementwise kernel".into(),
                        });
                    }
                    let same_shape = t.shape[..] == *shape;
                    if out.is_none() && self.reduce.is_none() && same_shape && t.is_reusable() {
                        // `is_reusable` saw the buffer uniquely owned, so this unwrap succeeds.
                        if let Ok(buf) = Rc::try_unwrap(std::mem::take(&mut t.data)) {
                            out = Some(buf);
                            sources.push(Source::Output);
                            tensors.push(None);
                            continue;
                        }
                    }
                    sources.push(if same_shape && t.is_contiguous() {
                        Source::Contiguous { k, offset: t.offset }
                    } else {
                        Source::Strided {
                            k,
                            offset: t.offset,
                            strides: broadcast_strides(&t.shape, &t.strides, shape),
                        }
                    });
                    tensors.push(Some(t));
                }
            }
        }
        let goal = match self.reduce {
            None => Goal::Elementwise { reused: out.is_some() },
            Some(FusedReduce::All) => Goal::SumAll,
            Some(FusedReduce::LastAxis { .. }) => Goal::SumRows {
                row: shape.last().copied().unwrap_or(1),
            },
        };
        let result_shape: Vec<usize> = match self.reduce {
            None => shape.to_vec(),
            Some(FusedReduce::All) => Vec::new(),
            Some(FusedReduce::LastAxis { keepdims }) => {
                let mut r = shape[..shape.len().saturating_sub(1)].to_vec();
                if keepdims {
                    r.push(1);
                }
                r
            }
        };
        let mut out = match out {
            Some(buf) => buf,
            None => crate::buffer::alloc(&result_shape)?,
        };
        let datas: Vec<Option<&[f64]>> = tensors.iter().map(|t| t.as_ref().map(|t| &t.data[..])).collect();
        if let Goal::Elementwise { reused } = goal {
            let dst: &mut [MaybeUninit<f64>] = if reused {
                let out = &mut out[..n];
                // SAFETY: f64 and MaybeUninit<f64> have the same layout, and
                // only initialised values are written through it.
                unsafe { &mut *(out as *mut [f64] as *mut [MaybeUninit<f64>]) }
            } else {
                &mut out.spare_capacity_mut()[..n]
            };
            // Large results in pieces shared with the helper thread: each
            // element goes through the same steps on either thread.
            crate::pool::split_mut(dst, crate::pool::split_min::COSTLY, |lo, dst| {
                run_piece(Piece {
                    kernel: self,
                    tensors: &datas,
                    sources: &sources,
                    shape,
                    n,
                    reused,
                    lo,
                    dst,
                })
            });
        } else {
            run_blocks(Blocks {
                kernel: self,
                tensors: &datas,
                sources: &sources,
                shape,
                n,
                goal,
                out: &mut out,
            });
        }
        if !matches!(goal, Goal::Elementwise { reused: true }) {
            // SAFETY: `run_blocks` wrote every element of the result (see
            // `Goal`), and `alloc` reserved room for that many.
            unsafe { out.set_len(checked_size(&result_shape)?) };
        }
        Ok(Tensor::from_parts(out, result_shape).typed(self.result_dtype()))
    }
}

impl FusedKernel {
    /// The kernel with argument `product` taken to be the matrix product
    /// `a @ b` (2-d operands; every other argument broadcasts to the
    /// product's shape): each block of the product goes through the steps as
    /// soon as the GEMM has finished it, on the thread that computed it and
    /// while it is still in cache, and the product is never stored apart
    /// from the result (matmul epilogue fusion: bias, activation, an
    /// optimiser's update). Bit-identical to [`FusedKernel::run`] with the
    /// product computed by `a.matmul(b)`, which is what runs where the fused
    /// path does not apply (other ranks or element types, an empty product,
    /// a kernel ending in a sum, a CPU without our GEMM kernels).
    pub fn run_on_product(&self, a: &Tensor, b: &Tensor, mut args: Vec<FusedArg>, product: usize) -> Result<Tensor> {
        self.check(args.len())?;
        let fused_applies = a.ndim() == 2
            && b.ndim() == 2
            && a.shape[1] == b.shape[0]
            && a.shape.iter().chain(b.shape.iter()).all(|&d| d > 0)
            && a.dtype == DType::F64
            && b.dtype == DType::F64
            && self.reduce.is_none()
            && product < args.len()
            && crate::linalg::takes_packed_gemm(a.shape[0], a.shape[1], b.shape[1]);
        if !fused_applies {
            let p = a.matmul(b)?;
            let shape = p.shape.to_vec();
            if let Some(slot) = args.get_mut(product) {
                *slot = FusedArg::Tensor(p);
            }
            return self.run(args, &shape);
        }
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
        let shape = [m, n];
        let mut tensors: Vec<Option<Tensor>> = Vec::with_capacity(args.len());
        let mut sources = Vec::with_capacity(args.len());
        for (i, arg) in args.into_iter().enumerate() {
            match arg {
                _ if i == product => {
                    sources.push(Source::Output);
                    tensors.push(None);
                }
                FusedArg::Scalar(x) => {
                    sources.push(Source::Scalar(x));
                    tensors.push(None);
                }
                FusedArg::Tensor(t) => {
                    if broadcast_shapes(&t.shape, &shape).as_deref() != Some(&shape[..]) {
                        return Err(TensorError::Broadcast {
                            left: t.shape.to_vec(),
                            right: shape.to_vec(),
                            op: "a fused matmul epilogue".into(),
                        });
                    }
                    sources.push(if t.shape[..] == shape && t.is_contiguous() {
                        Source::Contiguous { k: i, offset: t.offset }
                    } else {
                        Source::Strided {
                            k: i,
                            offset: t.offset,
                            strides: broadcast_strides(&t.shape, &t.strides, &shape),
                        }
                    });
                    tensors.push(Some(t));
                }
            }
        }
        let datas: Vec<Option<&[f64]>> = tensors.iter().map(|t| t.as_ref().map(|t| &t.data[..])).collect();
        // Gathered once for all blocks of C (a bias row: each block is then
        // a slice of the repeated row, not a copy of short rows).
        let periodic = patterns(&sources, &datas, &shape, m * n);
        let mut out = crate::buffer::alloc(&shape)?;
        let c = OutPtr(out.as_mut_ptr());
        let epilogue = |row0: usize, rows: usize, col0: usize, col1: usize| {
            run_range(RangeJob {
                kernel: self,
                tensors: &datas,
                sources: &sources,
                periodic: &periodic,
                shape: &shape,
                out: c,
                rows: (row0, rows),
                cols: (col0, col1),
            })
        };
        // SAFETY: a and b address their own buffers with their strides; `out`
        // has room for m*n elements and aliases neither; the epilogue writes
        // only the finished block of C it is given.
        let done = unsafe {
            crate::gemm::gemm_then(
                m,
                k,
                n,
                a.data.as_ptr().add(a.offset),
                a.strides[0],
                a.strides[1],
                b.data.as_ptr().add(b.offset),
                b.strides[0],
                b.strides[1],
                c.0,
                n as isize,
                1,
                Some(&epilogue),
            )
        };
        if !done {
            // Our GEMM kernels do not run here: the product, then the kernel.
            let mut args: Vec<FusedArg> = Vec::with_capacity(sources.len());
            for (src, t) in sources.iter().zip(tensors) {
                args.push(match (src, t) {
                    (Source::Scalar(x), _) => FusedArg::Scalar(*x),
                    (_, Some(t)) => FusedArg::Tensor(t),
                    (_, None) => FusedArg::Tensor(a.matmul(b)?),
                });
            }
            return self.run(args, &shape);
        }
        // SAFETY: the GEMM wrote every element of C and the epilogue rewrote
        // each once (its blocks cover C exactly).
        unsafe { out.set_len(m * n) };
        Ok(Tensor::from_parts(out, shape.to_vec()).typed(self.result_dtype()))
    }
}

/// The result buffer of a fused product, written by both threads of a GEMM.
#[derive(Clone, Copy)]
struct OutPtr(*mut f64);
// SAFETY: each thread reads and writes only the blocks of C the GEMM gives it,
// which are disjoint.
unsafe impl Send for OutPtr {}
// SAFETY: as above.
unsafe impl Sync for OutPtr {}

/// One finished block of a fused product to run the kernel's steps on.
struct RangeJob<'a> {
    kernel: &'a FusedKernel,
    tensors: &'a [Option<&'a [f64]>],
    sources: &'a [Source],
    /// The periodic patterns of the whole product (see [`patterns`]).
    periodic: &'a [Pattern],
    shape: &'a [usize; 2],
    out: OutPtr,
    /// The first row and the number of rows.
    rows: (usize, usize),
    /// The columns `col0..col1`.
    cols: (usize, usize),
}

#[inline(always)]
fn run_range_impl<M: Mode>(job: RangeJob<'_>) {
    let [_, n] = *job.shape;
    let total = job.shape[0] * n;
    let mut machine = Machine::new(
        job.kernel,
        job.tensors,
        job.sources,
        job.shape,
        total,
        Cow::Borrowed(job.periodic),
    );
    let width = machine.width;
    let (row0, rows) = job.rows;
    let (col0, col1) = job.cols;
    // Whole rows are one contiguous range; otherwise one range per row. (A
    // loop, not a closure: a closure would not inherit the caller's target
    // features, and its vector code would fall back to scalar calls.)
    let (ranges, span, stride) = if col0 == 0 && col1 == n {
        (1, rows * n, 0)
    } else {
        (rows, col1 - col0, n)
    };
    let start = row0 * n + col0;
    for r in 0..ranges {
        let mut lo = start + r * stride;
        let hi = lo + span;
        while lo < hi {
            let len = width.min(hi - lo);
            // SAFETY: `lo + len <= m * n` and this block of C is this thread's (see `OutPtr`).
            let dst = unsafe { std::slice::from_raw_parts_mut(job.out.0.add(lo), len) };
            machine.block::<M>(lo, len, Target::InPlace(dst));
            lo += len;
        }
    }
}

multiversion!(
    /// Runs a fused product's kernel on one finished block (vectorised for the best instruction set).
    fn run_range(job: RangeJob<'_>) => run_range_impl
);

/// What a run computes into its output buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// Every element of the last step, in a fresh buffer or (`reused`) in the
    /// buffer of the argument whose source is `Source::Output`.
    Elementwise { reused: bool },
    /// One element: the sum of all.
    SumAll,
    /// One element per row of length `row`: its sum.
    SumRows { row: usize },
}

/// Where one block's values go.
enum Target<'o> {
    /// Exactly the block's elements of a fresh output buffer.
    Uninit(&'o mut [MaybeUninit<f64>]),
    /// A scratch slice of exactly the block's length.
    Slice(&'o mut [f64]),
    /// Exactly the block's elements of an output that holds the argument
    /// marked `Source::Output` (read, then overwritten), as `Reused`.
    InPlace(&'o mut [f64]),
}

/// One piece of an elementwise run: result elements `lo..lo + dst.len()`.
struct Piece<'a, 'd> {
    kernel: &'a FusedKernel,
    tensors: &'a [Option<&'a [f64]>],
    sources: &'a [Source],
    shape: &'a [usize],
    /// Elements of the whole result.
    n: usize,
    /// Whether `dst` holds the argument marked `Source::Output` (read, then
    /// overwritten), else it is fresh.
    reused: bool,
    lo: usize,
    dst: &'d mut [MaybeUninit<f64>],
}

#[inline(always)]
fn run_piece_impl<M: Mode>(p: Piece<'_, '_>) {
    let Piece {
        kernel,
        tensors,
        sources,
        shape,
        n,
        reused,
        lo,
        dst,
    } = p;
    let periodic = Cow::Owned(patterns(sources, tensors, shape, n));
    let mut m = Machine::new(kernel, tensors, sources, shape, n, periodic);
    let width = m.width;
    // Blocks of `width` from `lo`: pieces start at multiples of
    // `pool::GRAIN`, itself a multiple of `BLOCK`, so a piece's blocks are
    // the serial run's.
    for (j, block) in dst.chunks_mut(width).enumerate() {
        let len = block.len();
        let target = if reused {
            // SAFETY: `reused` says these elements were initialised (they
            // hold the argument the result overwrites).
            Target::InPlace(unsafe { &mut *(block as *mut [MaybeUninit<f64>] as *mut [f64]) })
        } else {
            Target::Uninit(block)
        };
        m.block::<M>(lo + j * width, len, target);
    }
}

multiversion!(
    /// Runs one piece of an elementwise fused kernel (vectorised for the best instruction set).
    fn run_piece(p: Piece<'_, '_>) => run_piece_impl
);

/// Everything a run ending in a sum needs, passed to the instruction-set-specific loop.
struct Blocks<'a> {
    kernel: &'a FusedKernel,
    tensors: &'a [Option<&'a [f64]>],
    sources: &'a [Source],
    shape: &'a [usize],
    n: usize,
    goal: Goal,
    out: &'a mut Vec<f64>,
}

thread_local! {
    /// The register and scratch blocks of the last machine that ran on this
    /// thread, for the next one (see `Machine::new`).
    static SPARE: std::cell::Cell<Option<(Vec<f64>, Vec<f64>)>> = const { std::cell::Cell::new(None) };
}

/// Blocks larger than this many elements are freed rather than kept in
/// `SPARE` (a kernel with very many steps or arguments is rare).
const SPARE_MAX: usize = 64 * BLOCK;

impl Drop for Machine<'_> {
    fn drop(&mut self) {
        let regs = std::mem::take(&mut self.regs);
        let scratch = std::mem::take(&mut self.scratch);
        if regs.len() <= SPARE_MAX && scratch.len() <= SPARE_MAX {
            SPARE.set(Some((regs, scratch)));
        }
    }
}

/// The state of the block loop of one run.
struct Machine<'a> {
    steps: &'a [FusedStep],
    /// The data of each tensor argument (plain slices, so a machine can run
    /// on the thread that computed a matmul's block).
    tensors: &'a [Option<&'a [f64]>],
    sources: &'a [Source],
    shape: &'a [usize],
    /// The value of each step whose operands are all scalars (computed once).
    scalar: Vec<Option<f64>>,
    /// One block per step.
    regs: Vec<f64>,
    /// One block per argument, for gathered ones.
    scratch: Vec<f64>,
    /// Per argument (empty if none is): the period and enough repeats of it
    /// for any block, for a strided argument repeated along leading axes
    /// (see [`periodic_pattern`]).
    periodic: Cow<'a, [Pattern]>,
    width: usize,
    /// Elements from one step's (or argument's) block to the next: a little
    /// more than `width` (see [`REG_PAD`]).
    stride: usize,
}

/// Elements between the end of one register block and the start of the
/// next. Without it, blocks of 512 elements sit exactly 4 KiB apart: a
/// step reading block `i` while writing block `i + 1` then has every load
/// match the low address bits of a recent store, which the CPU takes for a
/// dependency (4K aliasing); a step over a block in L1 took twice as long.
const REG_PAD: usize = 24;

/// An argument's period and enough repeats of it for any block (see
/// [`periodic_pattern`]), if it has one.
type Pattern = Option<(usize, Vec<f64>)>;

/// Elements per block of a run over `n` elements.
fn block_width(n: usize) -> usize {
    BLOCK.min(n).max(1)
}

/// The periodic pattern of each argument of a run over `n` elements of `shape`.
fn patterns(sources: &[Source], tensors: &[Option<&[f64]>], shape: &[usize], n: usize) -> Vec<Pattern> {
    let width = block_width(n);
    sources
        .iter()
        .map(|src| periodic_pattern(src, tensors, shape, n, width))
        .collect()
}

/// Longest period gathered once per run instead of once per block.
const PERIOD_MAX: usize = 4 * BLOCK;

/// For an argument broadcast along the result's leading axes (a bias row
/// against a matrix: zero strides on every axis before some axis `d`), its
/// elements repeat with period `p = shape[d..].product()`: gathered once,
/// followed by `width` more elements of the repetition, every block is then
/// a plain slice of it (`lo % p..lo % p + len`) instead of a gather of short
/// rows. `None` for other arguments, a long period, or a result no longer
/// than one period.
fn periodic_pattern(
    src: &Source,
    tensors: &[Option<&[f64]>],
    shape: &[usize],
    n: usize,
    width: usize,
) -> Option<(usize, Vec<f64>)> {
    let Source::Strided { k, offset, strides } = src else {
        return None;
    };
    let data = tensors[*k]?;
    let d = strides.iter().take_while(|&&s| s == 0).count();
    if d == 0 || d == shape.len() {
        return None;
    }
    let p: usize = shape[d..].iter().product();
    if p == 0 || p > PERIOD_MAX || p >= n {
        return None;
    }
    let mut pattern = vec![0.0f64; p + width];
    gather(data, *offset as isize, strides, shape, 0, &mut pattern[..p]);
    for j in p..p + width {
        pattern[j] = pattern[j - p];
    }
    Some((p, pattern))
}

#[inline(always)]
fn run_blocks_impl<M: Mode>(b: Blocks<'_>) {
    let Blocks {
        kernel,
        tensors,
        sources,
        shape,
        n,
        goal,
        out,
    } = b;
    let periodic = Cow::Owned(patterns(sources, tensors, shape, n));
    let mut m = Machine::new(kernel, tensors, sources, shape, n, periodic);
    let width = m.width;
    match goal {
        // Run piece by piece (`run_piece`).
        Goal::Elementwise { .. } => {}
        Goal::SumAll => {
            let mut leaf = vec![0.0f64; crate::reduce::PAIRWISE_BLOCK];
            if n == 0 {
                // The sum of nothing, without running a block of no elements
                // (whose sources may start past the end of an empty buffer:
                // row 1 of a (2, 0) stack).
                out.push(0.0);
                return;
            }
            let total = crate::reduce::pairwise(0, n, &mut |lo, len| {
                // Leaves are at most PAIRWISE_BLOCK <= BLOCK long: one block each.
                let buf = &mut leaf[..len];
                m.block::<M>(lo, len, Target::Slice(buf));
                crate::reduce::sum_leaf(buf)
            });
            out.push(total);
        }
        Goal::SumRows { row } => {
            let rows = n.checked_div(row).unwrap_or(0);
            // Short rows go through the steps several at a time (one block
            // per row cost more than the row's arithmetic); a long row in
            // blocks. Each row is then summed as the reduction kernel sums a
            // contiguous row: the identity plus `sum_slice` of it.
            let per_block = (width / row.max(1)).max(1);
            let mut buf = vec![0.0f64; row.max(per_block * row)];
            let mut r = 0;
            while r < rows {
                let k = per_block.min(rows - r);
                if k * row <= width {
                    m.block::<M>(r * row, k * row, Target::Slice(&mut buf[..k * row]));
                } else {
                    let mut c = 0;
                    while c < row {
                        let len = width.min(row - c);
                        m.block::<M>(r * row + c, len, Target::Slice(&mut buf[c..c + len]));
                        c += len;
                    }
                }
                for x in buf[..k * row].chunks_exact(row) {
                    out.push(0.0 + crate::reduce::sum_row(x));
                }
                r += k;
            }
            if row == 0 {
                // Rows of nothing sum to zero.
                let count = shape[..shape.len().saturating_sub(1)].iter().product();
                out.resize(count, 0.0);
            }
        }
    }
}

impl<'a> Machine<'a> {
    /// A machine for `kernel` over a result of `n` elements of `shape`, with
    /// the steps whose operands are all scalars computed once and the
    /// arguments' `periodic` patterns (see [`patterns`]; shared by the
    /// machines of a fused product's blocks).
    fn new(
        kernel: &'a FusedKernel,
        tensors: &'a [Option<&'a [f64]>],
        sources: &'a [Source],
        shape: &'a [usize],
        n: usize,
        periodic: Cow<'a, [Pattern]>,
    ) -> Machine<'a> {
        let steps = &kernel.steps[..];
        let mut scalar: Vec<Option<f64>> = Vec::with_capacity(steps.len());
        for s in steps {
            let value = |o: FusedOperand| match o {
                FusedOperand::Arg(k) => match sources[k as usize] {
                    Source::Scalar(x) => Some(x),
                    _ => None,
                },
                FusedOperand::Step(j) => scalar[j as usize],
            };
            let v = match s.op {
                FusedOp::Unary(u) => value(s.a).map(|x| u.apply(x)),
                FusedOp::Binary(op) => value(s.a).zip(value(s.b)).map(|(x, y)| op.apply(x, y)),
            };
            scalar.push(v);
        }
        let width = block_width(n);
        // The last machine's blocks on this thread, grown if too small: a
        // fresh zeroed pair cost more than a small kernel's whole run (and a
        // fused product builds a machine for every finished block of C). Old
        // contents are never read: a step's block is written before any
        // later step reads it, and a gathered argument's before the steps run.
        let (mut regs, mut scratch) = SPARE.take().unwrap_or_default();
        let grow = |v: &mut Vec<f64>, len: usize| {
            if v.len() < len {
                v.resize(len, 0.0);
            }
        };
        let stride = width + REG_PAD;
        grow(&mut regs, steps.len() * stride);
        grow(&mut scratch, sources.len() * stride);
        Machine {
            steps,
            tensors,
            sources,
            shape,
            scalar,
            regs,
            scratch,
            periodic,
            width,
            stride,
        }
    }

    /// Computes elements `lo..lo + len` (`len <= width`) of the last step into `target`.
    #[inline(always)]
    fn block<M: Mode>(&mut self, lo: usize, len: usize, target: Target<'_>) {
        let (stride, sources, tensors, steps) = (self.stride, self.sources, self.tensors, self.steps);
        // Gather what is not read in place.
        let periodic = &self.periodic;
        let pattern = |k: usize| periodic.get(k).and_then(Option::as_ref);
        for (k, src) in sources.iter().enumerate() {
            if let Source::Strided { k: t, offset, strides } = src {
                if pattern(k).is_some() {
                    continue;
                }
                // Sources only name arguments that are tensors.
                if let Some(t) = tensors[*t] {
                    let dst = &mut self.scratch[k * stride..k * stride + len];
                    gather(t, *offset as isize, strides, self.shape, lo, dst);
                }
            }
        }
        let scratch = &self.scratch;
        // The argument whose buffer holds the result is read in place from
        // it (see below), so its entry here is never used.
        // Resolved where a step reads it (not collected per block: the
        // allocation cost more than a short step).
        let arg = |k: usize| match &sources[k] {
            Source::Scalar(x) => Src::Scalar(*x),
            Source::Contiguous { k, offset } => match tensors[*k] {
                Some(t) => Src::Slice(&t[offset + lo..offset + lo + len]),
                None => Src::Scalar(0.0),
            },
            Source::Strided { .. } => match pattern(k) {
                Some((p, pat)) => Src::Slice(&pat[lo % p..lo % p + len]),
                None => Src::Slice(&scratch[k * stride..k * stride + len]),
            },
            Source::Output => Src::Scalar(0.0),
        };
        let is_out =
            |o: FusedOperand| matches!(o, FusedOperand::Arg(k) if matches!(sources[k as usize], Source::Output));
        let scalar = &self.scalar;
        let last = steps.len() - 1;
        let mut target = Some(target);
        for (i, s) in steps.iter().enumerate() {
            if i != last && scalar[i].is_some() {
                continue;
            }
            let (done, rest) = self.regs.split_at_mut(i * stride);
            let step = |o: FusedOperand| match o {
                FusedOperand::Arg(k) => arg(k as usize),
                FusedOperand::Step(j) => match scalar[j as usize] {
                    Some(x) => Src::Scalar(x),
                    None => Src::Slice(&done[j as usize * stride..j as usize * stride + len]),
                },
            };
            if i == last {
                let dst: &mut [MaybeUninit<f64>] = match target.take() {
                    Some(Target::InPlace(dst)) => {
                        if scalar[i].is_none() && (is_out(s.a) || is_out(s.b)) {
                            // The last step reads the block it overwrites: element
                            // by element, in place (the steps before it are done with it).
                            let other = |o: FusedOperand| (!is_out(o)).then(|| step(o));
                            match s.op {
                                FusedOp::Unary(u) => unary_inplace(u, dst),
                                FusedOp::Binary(op) => binary_inplace(op, other(s.a), other(s.b), dst),
                            }
                            return;
                        }
                        // SAFETY: f64 and MaybeUninit<f64> have the same layout,
                        // and only initialised values are written through it.
                        unsafe { &mut *(dst as *mut [f64] as *mut [MaybeUninit<f64>]) }
                    }
                    Some(Target::Uninit(dst)) => dst,
                    // SAFETY: as above.
                    Some(Target::Slice(buf)) => unsafe { &mut *(buf as *mut [f64] as *mut [MaybeUninit<f64>]) },
                    None => return,
                };
                compute::<M>(s.op, scalar[i], step(s.a), step(s.b), dst);
                return;
            }
            // Earlier steps read the result's block in place (only the last
            // step writes it).
            let held: &[f64] = match &target {
                Some(Target::InPlace(out)) => out,
                _ => &[],
            };
            let operand = |o: FusedOperand| if is_out(o) { Src::Slice(held) } else { step(o) };
            // SAFETY: as above.
            let dst = unsafe { &mut *(&mut rest[..len] as *mut [f64] as *mut [MaybeUninit<f64>]) };
            compute::<M>(s.op, scalar[i], operand(s.a), operand(s.b), dst);
        }
    }
}

multiversion!(
    /// Runs every block of a fused kernel (vectorised for the best instruction set).
    fn run_blocks(b: Blocks<'_>) => run_blocks_impl
);

/// One step over a block: `op(a, b)` (or the step's scalar value) into `dst`.
#[inline(always)]
fn compute<M: Mode>(op: FusedOp, scalar: Option<f64>, a: Src<'_>, b: Src<'_>, dst: &mut [MaybeUninit<f64>]) {
    match (op, scalar) {
        (_, Some(x)) => dst.iter_mut().for_each(|o| {
            o.write(x);
        }),
        (FusedOp::Unary(u), None) => unary_into::<M>(u, a, dst),
        (FusedOp::Binary(op), None) => binary_into(op, a, b, dst),
    }
}

/// `dst[i] = op(src[i])`.
#[inline(always)]
fn unary_into<M: Mode>(op: UnaryOp, src: Src<'_>, dst: &mut [MaybeUninit<f64>]) {
    let Src::Slice(src) = src else {
        // Scalar operands were computed before the blocks.
        return;
    };
    if crate::vmath::supports(op) {
        // Called, not inlined: inlined into the block loop LLVM left the
        // polynomial scalar (one lane at a time).
        crate::vmath::map_uninit(op, src, dst);
        return;
    }
    unary_dispatch!(op, |f| {
        for (o, &x) in dst.iter_mut().zip(src) {
            o.write(f(x));
        }
    })
}

/// `dst[i] = op(dst[i])`.
#[inline(always)]
fn unary_inplace(op: UnaryOp, dst: &mut [f64]) {
    if crate::vmath::supports(op) {
        crate::vmath::map_inplace(op, dst);
        return;
    }
    unary_dispatch!(op, |f| {
        for d in dst.iter_mut() {
            *d = f(*d);
        }
    })
}

/// `dst[i] = op(a[i], b[i])` where an operand given as `None` is `dst[i]` itself.
#[inline(always)]
fn binary_inplace(op: BinaryOp, a: Option<Src<'_>>, b: Option<Src<'_>>, dst: &mut [f64]) {
    binary_dispatch!(op, |f| match (a, b) {
        (None, None) => dst.iter_mut().for_each(|d| *d = f(*d, *d)),
        (None, Some(Src::Slice(y))) => dst.iter_mut().zip(y).for_each(|(d, &q)| *d = f(*d, q)),
        (None, Some(Src::Scalar(q))) => dst.iter_mut().for_each(|d| *d = f(*d, q)),
        (Some(Src::Slice(x)), None) => dst.iter_mut().zip(x).for_each(|(d, &p)| *d = f(p, *d)),
        (Some(Src::Scalar(p)), None) => dst.iter_mut().for_each(|d| *d = f(p, *d)),
        // Called only when an operand is the destination.
        (Some(_), Some(_)) => {}
    })
}

/// `dst[i] = op(a[i], b[i])`, a scalar operand standing for every element.
#[inline(always)]
fn binary_into(op: BinaryOp, a: Src<'_>, b: Src<'_>, dst: &mut [MaybeUninit<f64>]) {
    binary_dispatch!(op, |f| match (a, b) {
        (Src::Slice(x), Src::Slice(y)) => {
            for ((o, &p), &q) in dst.iter_mut().zip(x).zip(y) {
                o.write(f(p, q));
            }
        }
        (Src::Slice(x), Src::Scalar(q)) => {
            for (o, &p) in dst.iter_mut().zip(x) {
                o.write(f(p, q));
            }
        }
        (Src::Scalar(p), Src::Slice(y)) => {
            for (o, &q) in dst.iter_mut().zip(y) {
                o.write(f(p, q));
            }
        }
        (Src::Scalar(p), Src::Scalar(q)) => {
            let v = f(p, q);
            for o in dst.iter_mut() {
                o.write(v);
            }
        }
    })
}

/// Copies `out.len()` elements of `data` starting at `pos`, `stride` apart
/// (one value repeated for a broadcast axis, a slice copy when contiguous).
#[inline(always)]
fn copy_run(out: &mut [f64], data: &[f64], pos: isize, stride: isize) {
    match stride {
        0 => out.fill(data[pos as usize]),
        1 => out.copy_from_slice(&data[pos as usize..pos as usize + out.len()]),
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = data[(pos + i as isize * stride) as usize];
            }
        }
    }
}

/// Copies `dst.len()` elements of a strided view (`offset`, `strides` over
/// `shape`, row-major) starting at flat position `lo` of `shape` into `dst`.
#[inline(always)]
fn gather(data: &[f64], offset: isize, strides: &[isize], shape: &[usize], lo: usize, dst: &mut [f64]) {
    let nd = shape.len();
    if dst.is_empty() {
        // Nothing to copy; a view with an axis of length 0 (whose block of
        // a whole reduction is empty) has no position to start from.
        return;
    }
    if nd == 0 {
        dst.fill(data[offset as usize]);
        return;
    }
    if nd == 2 && shape[1] > 0 {
        // The common case (a column, a row or a transposed matrix against a
        // matrix): one short step per row instead of the odometer below,
        // whose bookkeeping cost more than the copying for short rows.
        let (cols, s0, s1) = (shape[1], strides[0], strides[1]);
        let (mut row, mut col) = (lo / cols, lo % cols);
        let mut k = 0;
        while k < dst.len() {
            let run = (cols - col).min(dst.len() - k);
            let pos = offset + row as isize * s0 + col as isize * s1;
            copy_run(&mut dst[k..k + run], data, pos, s1);
            k += run;
            row += 1;
            col = 0;
        }
        return;
    }
    let mut idx = vec![0usize; nd];
    let mut rem = lo;
    let mut pos = offset;
    for d in (0..nd).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        pos += idx[d] as isize * strides[d];
    }
    let (inner, s) = (shape[nd - 1], strides[nd - 1]);
    let mut k = 0;
    while k < dst.len() {
        let run = (inner - idx[nd - 1]).min(dst.len() - k);
        copy_run(&mut dst[k..k + run], data, pos, s);
        k += run;
        idx[nd - 1] += run;
        pos += run as isize * s;
        // Carry into the outer axes at the end of a row.
        let mut d = nd - 1;
        while idx[d] == shape[d] && d > 0 {
            idx[d] = 0;
            pos -= shape[d] as isize * strides[d];
            d -= 1;
            idx[d] += 1;
            pos += strides[d];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    fn kernel(steps: Vec<FusedStep>) -> FusedKernel {
        FusedKernel { steps, reduce: None }
    }

    fn bits(t: &Tensor) -> Vec<u64> {
        t.to_vec().iter().map(|x| x.to_bits()).collect()
    }

    /// `g * (1 - y * y)` (tanh's backward) fused equals the three kernels.
    #[test]
    fn fused_chain_is_bit_identical_to_separate_kernels() {
        let n = 1500; // several blocks and a partial one
        let y = t(&(0..n).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>(), &[30, 50]);
        let g = t(&(0..n).map(|i| (i as f64 * 0.11).cos()).collect::<Vec<_>>(), &[30, 50]);
        let k = kernel(vec![
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Mul),
                a: FusedOperand::Arg(0),
                b: FusedOperand::Arg(0),
            },
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Sub),
                a: FusedOperand::Arg(2),
                b: FusedOperand::Step(0),
            },
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Mul),
                a: FusedOperand::Arg(1),
                b: FusedOperand::Step(1),
            },
            FusedStep {
                op: FusedOp::Unary(UnaryOp::Tanh),
                a: FusedOperand::Step(2),
                b: FusedOperand::Step(2),
            },
        ]);
        let want = g
            .binary(
                &y.binary(&y, BinaryOp::Mul)
                    .unwrap()
                    .binary_scalar(1.0, BinaryOp::Sub, true),
                BinaryOp::Mul,
            )
            .unwrap()
            .unary(UnaryOp::Tanh);
        let args = vec![
            FusedArg::Tensor(y.clone()),
            FusedArg::Tensor(g.clone()),
            FusedArg::Scalar(1.0),
        ];
        let got = k.run(args, &[30, 50]).unwrap();
        assert_eq!(bits(&got), bits(&want));
        // The same with an argument whose buffer the result takes over.
        let y2 = t(&y.to_vec(), &[30, 50]);
        let got = k
            .run(
                vec![FusedArg::Tensor(y2), FusedArg::Tensor(g), FusedArg::Scalar(1.0)],
                &[30, 50],
            )
            .unwrap();
        assert_eq!(bits(&got), bits(&want));
    }

    /// Broadcast and transposed arguments are gathered correctly, and a
    /// comparison at the end gives a bool tensor.
    #[test]
    fn broadcast_and_strided_arguments() {
        let x = t(&(0..12).map(|i| i as f64 - 5.5).collect::<Vec<_>>(), &[3, 4]);
        let bias = t(&[0.5, -1.0, 2.0, 0.0], &[4]);
        let col = t(&[1.0, 2.0, 3.0], &[3, 1]);
        let xt = t(&(0..12).map(|i| (i as f64).sqrt()).collect::<Vec<_>>(), &[4, 3])
            .transpose(&[1, 0])
            .unwrap();
        let k = kernel(vec![
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Add),
                a: FusedOperand::Arg(0),
                b: FusedOperand::Arg(1),
            },
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Mul),
                a: FusedOperand::Step(0),
                b: FusedOperand::Arg(2),
            },
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Sub),
                a: FusedOperand::Step(1),
                b: FusedOperand::Arg(3),
            },
            FusedStep {
                op: FusedOp::Binary(BinaryOp::Gt),
                a: FusedOperand::Step(2),
                b: FusedOperand::Arg(4),
            },
        ]);
        let want = x
            .binary(&bias, BinaryOp::Add)
            .unwrap()
            .binary(&col, BinaryOp::Mul)
            .unwrap()
            .binary(&xt, BinaryOp::Sub)
            .unwrap()
            .binary_scalar(0.0, BinaryOp::Gt, false);
        let args = vec![
            FusedArg::Tensor(x),
            FusedArg::Tensor(bias),
            FusedArg::Tensor(col),
            FusedArg::Tensor(xt),
            FusedArg::Scalar(0.0),
        ];
        let got = k.run(args, &[3, 4]).unwrap();
        assert_eq!(bits(&got), bits(&want));
        assert_eq!(got.dtype(), DType::Bool);
    }

    /// The argument whose buffer becomes the result is read by earlier steps
    /// and, on either side, by the last step itself (which then works in place).
    #[test]
    fn an_argument_lending_its_buffer_is_read_correctly() {
        let x = (0..700).map(|i| (i as f64 * 0.01).cos()).collect::<Vec<_>>();
        let c = t(&(0..700).map(|i| i as f64 * 1e-3).collect::<Vec<_>>(), &[700]);
        let step = |op, a, b| FusedStep { op, a, b };
        let (a0, a1, s) = (FusedOperand::Arg(0), FusedOperand::Arg(1), FusedOperand::Step);
        let sub = FusedOp::Binary(BinaryOp::Sub);
        for left in [true, false] {
            let (p, q) = if left { (a0, s(0)) } else { (s(0), a0) };
            let (u, v) = if left { (a0, s(2)) } else { (s(2), a0) };
            let k = kernel(vec![
                step(FusedOp::Unary(UnaryOp::Exp), a0, a0),
                step(sub, p, q),
                step(FusedOp::Binary(BinaryOp::Mul), s(1), a1),
                step(sub, u, v),
            ]);
            let xt = t(&x, &[700]);
            let e = xt.unary(UnaryOp::Exp);
            let pair = |a: &Tensor, b: &Tensor| {
                if left {
                    a.binary(b, BinaryOp::Sub)
                } else {
                    b.binary(a, BinaryOp::Sub)
                }
            };
            let m = pair(&xt, &e).unwrap().binary(&c, BinaryOp::Mul).unwrap();
            let want = pair(&xt, &m).unwrap();
            let got = k
                .run(
                    vec![FusedArg::Tensor(t(&x, &[700])), FusedArg::Tensor(c.clone())],
                    &[700],
                )
                .unwrap();
            assert_eq!(bits(&got), bits(&want));
        }
        // A unary last step in place.
        let k = kernel(vec![
            step(FusedOp::Binary(BinaryOp::Mul), a0, a1),
            step(FusedOp::Unary(UnaryOp::Tanh), a0, a0),
        ]);
        let got = k
            .run(
                vec![FusedArg::Tensor(t(&x, &[700])), FusedArg::Tensor(c.clone())],
                &[700],
            )
            .unwrap();
        assert_eq!(bits(&got), bits(&t(&x, &[700]).unary(UnaryOp::Tanh)));
    }

    /// A kernel ending in a sum adds in exactly the reduction kernels' order:
    /// all elements (pairwise over leaves) and along the last axis, over
    /// sizes around the block and leaf boundaries.
    #[test]
    fn fused_sums_are_bit_identical_to_the_reduction_kernels() {
        let chain = |reduce| FusedKernel {
            steps: vec![
                FusedStep {
                    op: FusedOp::Binary(BinaryOp::Mul),
                    a: FusedOperand::Arg(0),
                    b: FusedOperand::Arg(1),
                },
                FusedStep {
                    op: FusedOp::Unary(UnaryOp::Exp),
                    a: FusedOperand::Step(0),
                    b: FusedOperand::Step(0),
                },
            ],
            reduce: Some(reduce),
        };
        for shape in [
            vec![0],
            vec![5],
            vec![256],
            vec![257],
            vec![3, 5],
            vec![7, 300],
            vec![2, 1030],
            vec![4, 0],
            vec![3, 1],
            vec![256, 10],
            vec![100, 7],
            vec![600, 1],
            vec![2, 3, 200],
        ] {
            let n: usize = shape.iter().product();
            let x = t(&(0..n).map(|i| (i as f64 * 0.731).sin()).collect::<Vec<_>>(), &shape);
            let plain = x.binary_scalar(1.7, BinaryOp::Mul, false).unary(UnaryOp::Exp);
            let args = || vec![FusedArg::Tensor(x.clone()), FusedArg::Scalar(1.7)];
            let all = chain(FusedReduce::All).run(args(), &shape).unwrap();
            assert_eq!(all.shape(), &[] as &[usize]);
            assert_eq!(
                all.to_vec()[0].to_bits(),
                plain.reduce_all(crate::ReduceOp::Sum).unwrap().to_bits(),
                "{shape:?}"
            );
            for keepdims in [false, true] {
                let rows = chain(FusedReduce::LastAxis { keepdims }).run(args(), &shape).unwrap();
                let want = plain
                    .reduce(crate::ReduceOp::Sum, &[shape.len() - 1], keepdims)
                    .unwrap();
                assert_eq!(rows.shape(), want.shape(), "{shape:?}");
                assert_eq!(bits(&rows), bits(&want), "{shape:?}");
            }
        }
    }

    /// Row sums of a kernel with broadcast operands (a column, a row, a
    /// scalar; several short rows per block) equal the unfused ops' bits.
    #[test]
    fn fused_row_sums_with_broadcast_operands() {
        let chain = FusedKernel {
            steps: vec![
                FusedStep {
                    op: FusedOp::Binary(BinaryOp::Sub),
                    a: FusedOperand::Arg(0),
                    b: FusedOperand::Arg(1),
                },
                FusedStep {
                    op: FusedOp::Binary(BinaryOp::Mul),
                    a: FusedOperand::Step(0),
                    b: FusedOperand::Arg(2),
                },
                FusedStep {
                    op: FusedOp::Unary(UnaryOp::Exp),
                    a: FusedOperand::Step(1),
                    b: FusedOperand::Step(1),
                },
            ],
            reduce: Some(FusedReduce::LastAxis { keepdims: true }),
        };
        for (r, c) in [(256, 10), (1, 1), (53, 10), (9, 513), (700, 2)] {
            let x = t(
                &(0..r * c).map(|i| (i as f64 * 0.731).sin()).collect::<Vec<_>>(),
                &[r, c],
            );
            let col = t(&(0..r).map(|i| (i as f64 * 0.37).cos()).collect::<Vec<_>>(), &[r, 1]);
            let row = t(&(0..c).map(|i| 1.0 + (i as f64 * 0.1)).collect::<Vec<_>>(), &[1, c]);
            let plain = x
                .binary(&col, BinaryOp::Sub)
                .unwrap()
                .binary(&row, BinaryOp::Mul)
                .unwrap()
                .unary(UnaryOp::Exp);
            let want = plain.reduce(crate::ReduceOp::Sum, &[1], true).unwrap();
            let args = vec![FusedArg::Tensor(x), FusedArg::Tensor(col), FusedArg::Tensor(row)];
            let got = chain.run(args, &[r, c]).unwrap();
            assert_eq!(got.shape(), want.shape());
            assert_eq!(bits(&got), bits(&want), "{r}x{c}");
        }
    }

    /// A view with an axis of length 0 gathers nothing (the empty block of
    /// a whole reduction of an empty tensor: it divided by the length 0).
    #[test]
    fn gathering_from_an_empty_view_copies_nothing() {
        for (shape, strides) in [
            (vec![0usize], vec![1isize]),
            (vec![0, 1], vec![0, 0]),
            (vec![3, 0], vec![0, 1]),
        ] {
            let mut dst: [f64; 0] = [];
            gather(&[], 0, &strides, &shape, 0, &mut dst);
        }
    }

    /// Gathering any stretch of a 2-d (and 3-d) strided view, broadcast or
    /// transposed, reads the elements a row-major walk reads.
    #[test]
    fn gather_reads_the_view_in_row_major_order() {
        let data: Vec<f64> = (0..400).map(|i| i as f64).collect();
        for (shape, strides, offset) in [
            (vec![7usize, 10usize], vec![1isize, 0isize], 3isize),
            (vec![7, 10], vec![0, 1], 5),
            (vec![7, 10], vec![1, 7], 0),
            (vec![6, 9], vec![9, 1], 2),
            (vec![5, 1], vec![1, 0], 0),
            (vec![2, 3, 4], vec![0, 4, 1], 1),
            (vec![2, 3, 4], vec![12, 1, 3], 0),
        ] {
            let n: usize = shape.iter().product();
            let want: Vec<f64> = (0..n)
                .map(|mut flat| {
                    let mut pos = offset;
                    for d in (0..shape.len()).rev() {
                        pos += (flat % shape[d]) as isize * strides[d];
                        flat /= shape[d];
                    }
                    data[pos as usize]
                })
                .collect();
            for lo in 0..n {
                for len in [1, 3, 10, 23, n - lo] {
                    let len = len.min(n - lo);
                    let mut dst = vec![f64::NAN; len];
                    gather(&data, offset, &strides, &shape, lo, &mut dst);
                    assert_eq!(dst, want[lo..lo + len], "{shape:?} {strides:?} lo={lo} len={len}");
                }
            }
        }
    }

    /// A malformed kernel or an argument of the wrong shape is an error, not a panic.
    #[test]
    fn malformed_kernels_are_errors() {
        let k = kernel(vec![FusedStep {
            op: FusedOp::Binary(BinaryOp::Add),
            a: FusedOperand::Arg(0),
            b: FusedOperand::Step(0),
        }]);
        assert!(k.run(vec![FusedArg::Scalar(1.0)], &[2]).is_err());
        let k = kernel(vec![FusedStep {
            op: FusedOp::Unary(UnaryOp::Exp),
            a: FusedOperand::Arg(0),
            b: FusedOperand::Arg(0),
        }]);
        assert!(k.run(vec![FusedArg::Tensor(t(&[1.0, 2.0, 3.0], &[3]))], &[2]).is_err());
        assert!(FusedKernel::default().run(vec![], &[2]).is_err());
        // A kernel of scalars only fills the result.
        let got = k.run(vec![FusedArg::Scalar(0.0)], &[2, 2]).unwrap();
        assert_eq!(got.to_vec(), vec![1.0; 4]);
    }
}
