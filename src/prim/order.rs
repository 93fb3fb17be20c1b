//! Index-valued and other piecewise-constant primitives without a
//! derivative: the order that sorts a tensor along an axis (`argsort`, and
//! so `sort`), the position of the largest or smallest element along one or
//! of the whole tensor (`argmax`, `argmin`), the sample interval each point
//! falls in (`interp`), the positions of the `k` largest elements of each
//! lane (`topk`), `lu`'s permutation and `slogdet`'s sign, the choices
//! `expm` and `lstsq` make from the values, and what the derivatives of
//! `x.at[idx]` need of the repeats among its positions. Plain code computes
//! them straight from the tensor; a running trace records them, so a jit
//! plan computes them afresh for new inputs with the same kernels (and a
//! choice read from one is a guard of the plan).

use super::batching::example_shape;
use super::{apply, as_tensor, from_tensor, te, Prim, Primitive, R};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::value::Value;
use dp_tensor::Tensor;

/// Which indices, along which axis.
#[derive(Clone, Debug, PartialEq)]
pub enum Order {
    /// The stable order that sorts each lane, ascending or descending.
    Sort {
        /// The axis.
        axis: usize,
        /// Descending (NaNs first) rather than ascending (NaNs last).
        descending: bool,
    },
    /// The position of each lane's largest element.
    ArgMax {
        /// The axis.
        axis: usize,
        /// Keep the axis, of length 1.
        keepdims: bool,
    },
    /// The position of each lane's smallest element.
    ArgMin {
        /// The axis.
        axis: usize,
        /// Keep the axis, of length 1.
        keepdims: bool,
    },
    /// The flat position of the largest (`max`) or smallest element of the
    /// whole tensor, as an int: `argmax(x)` without an axis. An int result,
    /// so a jit plan gives what plain code gives (and can index with it).
    Flat {
        /// The largest rather than the smallest.
        max: bool,
    },
    /// For each point (the second input), the index `i` in `1..n` of the
    /// interval `[xp[i-1], xp[i]]` of the `n` sorted samples `xp` (the first
    /// input) it falls in: `searchsorted(xp, x, side='right')` clipped.
    Intervals {
        /// How many samples.
        n: usize,
    },
    /// The positions of the `k` largest elements of each lane along the
    /// last axis, largest first (`topk`'s indices; see `Tensor::topk`).
    TopK {
        /// How many.
        k: usize,
    },
    /// The permutation matrix `p` of `lu(a)` for each matrix (piecewise
    /// constant, like an order: the pivots of partial pivoting).
    LuPermutation,
    /// The sign of the determinant of each matrix, `slogdet(a)[0]`
    /// (piecewise constant).
    DetSign,
    /// `expm`'s choice for a stack of matrices, from the largest 1-norm
    /// (see `prim::expm::choice`): one number for the whole stack, so it
    /// has no batching rule (`expm` applies it to every example's data at once).
    ExpmChoice,
    /// The rank `lstsq(a, b, rcond)` finds (its second input is `b`, checked
    /// as the kernel checks it), as a float: `lstsq` reads it as a guard.
    LstsqRank {
        /// The cutoff (`None`: the default).
        rcond: Option<f64>,
    },
    /// For flat positions into `size` elements (`x.at[idx]`'s), 1 where the
    /// position is written last and 0 where a later one overwrites it (see
    /// `Tensor::last_writers`): the derivative of `.set(v)` in `v`.
    LastWriters {
        /// How many elements the positions are into.
        size: usize,
    },
    /// Whether flat positions into `size` elements repeat one, as a float
    /// (1 or 0): `.mul(v)` has no derivative in `v` then.
    HasRepeats {
        /// How many elements the positions are into.
        size: usize,
    },
}

/// The stable order sorting `t` along `axis`: ascending (NaNs last) or
/// descending (NaNs first, equal elements still in their original order).
pub fn sort_order(t: &Tensor, axis: usize, descending: bool) -> dp_tensor::Result<Tensor> {
    if !descending {
        return t.argsort(axis);
    }
    let n = t.shape()[axis];
    let rev = |u: &Tensor| -> dp_tensor::Result<Tensor> {
        let mut specs = vec![dp_tensor::SliceSpec::full(); axis];
        specs.push(dp_tensor::SliceSpec::Range {
            start: None,
            stop: None,
            step: -1,
        });
        u.slice(&specs)
    };
    // Positions in the reversed lane, p, are n - 1 - p in the original one.
    Ok(rev(&rev(t)?.argsort(axis)?)?.map(|p| (n - 1) as f64 - p))
}

/// Per-example flat positions (`[n, q...]`, each into `size` elements)
/// shifted to example `i`'s block of the `n * size` stacked elements.
fn example_blocks(pos: &Value, n: usize, size: usize) -> R<Value> {
    let q = example_shape(pos, true).len();
    let offsets: Vec<f64> = (0..n).map(|i| (i * size) as f64).collect();
    let shape: Vec<usize> = std::iter::once(n).chain(std::iter::repeat_n(1, q)).collect();
    crate::ops::add(pos, &from_tensor(te(Tensor::from_vec(offsets, &shape))?))
}

impl Primitive for Order {
    fn name(&self) -> String {
        match self {
            Order::Sort { .. } => "argsort",
            Order::ArgMax { .. } => "argmax",
            Order::ArgMin { .. } => "argmin",
            Order::Flat { max: true } => "argmax",
            Order::Flat { max: false } => "argmin",
            Order::Intervals { .. } => "searchsorted",
            Order::TopK { .. } => "topk",
            Order::LuPermutation => "lu_permutation",
            Order::DetSign => "det_sign",
            Order::ExpmChoice => "expm_choice",
            Order::LstsqRank { .. } => "lstsq_rank",
            Order::LastWriters { .. } => "last_writers",
            Order::HasRepeats { .. } => "has_repeats",
        }
        .into()
    }
    fn forward(&self, x: &[Value]) -> R<Value> {
        let t = as_tensor(&x[0])?;
        Ok(from_tensor(te(match self {
            Order::Sort { axis, descending } => sort_order(&t, *axis, *descending),
            Order::ArgMax { axis, keepdims } => t.argmax(Some(*axis), *keepdims),
            Order::ArgMin { axis, keepdims } => t.argmin(Some(*axis), *keepdims),
            Order::Flat { max } => {
                let r = te(if *max {
                    t.argmax(None, false)
                } else {
                    t.argmin(None, false)
                })?;
                // As plain `argmax(x)` reads it: the one element of the 0-d result.
                return Ok(Value::Int(r.item().unwrap_or(0.0) as i64));
            }
            Order::Intervals { n } => {
                let last = n.saturating_sub(1) as f64;
                let points = as_tensor(x.get(1).unwrap_or(&x[0]))?;
                t.searchsorted(&points).map(|i| i.map(|i| i.clamp(1.0, last)))
            }
            Order::TopK { k } => t.topk(*k).map(|(_, i)| i),
            Order::LuPermutation => t.lu().map(|(p, _, _)| p),
            Order::DetSign => t.slogdet().map(|(sign, _)| sign),
            Order::ExpmChoice => return Ok(Value::Float(super::expm::choice(super::expm::norm1(&t)))),
            Order::LstsqRank { rcond } => {
                let b = as_tensor(x.get(1).unwrap_or(&x[0]))?;
                return Ok(Value::Float(te(t.lstsq(&b, *rcond))?.rank as f64));
            }
            Order::LastWriters { size } => Tensor::last_writers(&t, *size),
            Order::HasRepeats { size } => {
                return Ok(Value::Float(f64::from(u8::from(te(Tensor::has_repeats(&t, *size))?))))
            }
        })?))
    }
    fn zero_derivative(&self) -> bool {
        true
    }
    fn vjp(&self, x: &[Value], _y: &Value, _g: &Value, _needs: &[bool]) -> R<Vec<Option<Value>>> {
        Ok(vec![None; x.len()])
    }
    fn jvp(&self, _x: &[Value], _t: &[Option<Value>], _y: &Value) -> R<Option<Value>> {
        Ok(None)
    }
    // The same kernel one axis further right (the lanes of every example at
    // once, as plain code under `vmap` computes them from the stacked data);
    // a whole-tensor position is taken along each example flattened. So
    // `jit(vmap(f))` records one step where it read the indices before.
    fn batch(&self, x: &[Value], batched: &[bool], n: usize) -> R<Value> {
        let shifted = match *self {
            Order::Sort { axis, descending } => Order::Sort {
                axis: axis + 1,
                descending,
            },
            Order::ArgMax { axis, keepdims } => Order::ArgMax {
                axis: axis + 1,
                keepdims,
            },
            Order::ArgMin { axis, keepdims } => Order::ArgMin {
                axis: axis + 1,
                keepdims,
            },
            // Along the last axis (or the last two), which batching leaves last.
            Order::TopK { k } => Order::TopK { k },
            Order::LuPermutation => Order::LuPermutation,
            Order::DetSign => Order::DetSign,
            Order::Flat { max } => {
                let m = example_shape(&x[0], true).iter().product::<usize>();
                let flat = crate::ops::reshape(&x[0], &[n, m])?;
                let along = if max {
                    Order::ArgMax {
                        axis: 1,
                        keepdims: false,
                    }
                } else {
                    Order::ArgMin {
                        axis: 1,
                        keepdims: false,
                    }
                };
                return apply(&Prim::Order(along), &[flat]);
            }
            // Shared samples: each point's search is its own, so the
            // examples' points are searched as one tensor. Samples per
            // example are searched by comparisons (see `builtins::tensor::interp`);
            // `expm` asks for its choice on every example's data at once.
            Order::Intervals { .. } if !batched[0] => return apply(&Prim::Order(self.clone()), x),
            // Each example's positions are into its own `size` elements:
            // shifted to the examples' blocks of the stacked data, one call
            // sees every example, and positions never meet another example's.
            Order::LastWriters { size } => {
                return apply(
                    &Prim::Order(Order::LastWriters { size: n * size }),
                    &[example_blocks(&x[0], n, size)?],
                )
            }
            // An example repeats where one of its positions is not the last write.
            Order::HasRepeats { size } => {
                let winners = apply(
                    &Prim::Order(Order::LastWriters { size: n * size }),
                    &[example_blocks(&x[0], n, size)?],
                )?;
                let lost = crate::ops::binary(dp_tensor::BinaryOp::Eq, &winners, &Value::Float(0.0))?;
                let lost = crate::ops::reshape(&lost, &[n, example_shape(&x[0], true).iter().product()])?;
                let count = crate::ops::sum(&lost, Some(std::rc::Rc::from([1usize])), false)?;
                let any = crate::ops::binary(dp_tensor::BinaryOp::Gt, &count, &Value::Float(0.0))?;
                return crate::ops::where_(&any, &Value::Float(1.0), &Value::Float(0.0));
            }
            Order::Intervals { .. } | Order::ExpmChoice | Order::LstsqRank { .. } => {
                return Err(Diagnostic::new(
                    ErrorKind::Differentiation,
                    format!("{} has no batching rule here", self.name()),
                )
                .cannot_batch())
            }
        };
        apply(&Prim::Order(shifted), &x[..1])
    }
}
