//! `einsum` lowered to existing primitives (transpose, reshape, take, sum,
//! mul, matmul), so its derivatives of every order and its batching come
//! from theirs. Each operand first loses its repeated indices (a diagonal,
//! taken with `take` on the merged axes) and the indices no other operand
//! or the output needs (summed); then operands are contracted pairwise,
//! left to right. A pair contraction that sums over shared indices is one
//! (batched) matrix product, so "ij,jk->ik" and "bij,bjk->bik" run on the
//! GEMM kernel with no copies when the axes are already in order.

pub mod spec;

use super::{apply, mul, reshape, shape_of, sum, transpose, Prim};
use crate::diagnostics::Diagnostic;
use crate::value::Value;
use dp_tensor::Tensor;
pub use spec::SpecError;
use spec::{Label, Plan};
use std::collections::BTreeMap;
use std::rc::Rc;

/// An intermediate result: a value and the label of each of its axes.
struct Term {
    value: Value,
    labels: Vec<Label>,
}

/// `einsum(subscripts, *operands)` with NumPy's subscripts. Errors in the
/// subscripts (or between them and an operand's shape) say which operand
/// they are about; others come from the primitives.
pub fn einsum(subscripts: &str, operands: &[Value]) -> Result<Value, SpecError> {
    let shapes: Vec<Vec<usize>> = operands.iter().map(shape_of).collect();
    let plan = spec::plan(subscripts, &shapes)?;
    lower(&plan, operands).map_err(|diag| SpecError {
        diag,
        operand: None,
        related: None,
    })
}

/// Computes a checked plan with primitives.
fn lower(plan: &Plan, operands: &[Value]) -> Result<Value, Diagnostic> {
    let mut terms = Vec::with_capacity(operands.len());
    for (i, (x, labels)) in operands.iter().zip(&plan.inputs).enumerate() {
        let mut t = Term {
            value: super::num(x),
            labels: labels.clone(),
        };
        squeeze_broadcast(&mut t, &plan.sizes)?;
        diagonals(&mut t, &plan.sizes)?;
        // Indices that neither the output nor another operand mentions are summed now.
        let others: Vec<Label> = plan
            .inputs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .flat_map(|(_, l)| l.iter().copied())
            .chain(plan.output.iter().copied())
            .collect();
        sum_out(&mut t, |l| !others.contains(&l))?;
        terms.push(t);
    }
    let mut rest = terms.into_iter();
    let Some(mut acc) = rest.next() else {
        // `plan` checked one term per operand, and the subscripts have at least one term.
        return Err(Diagnostic::new(
            crate::diagnostics::ErrorKind::Arity,
            "`einsum` needs at least one operand",
        ));
    };
    let rest: Vec<Term> = rest.collect();
    for (j, b) in rest.iter().enumerate() {
        let keep: Vec<Label> = rest[j + 1..]
            .iter()
            .flat_map(|t| t.labels.iter().copied())
            .chain(plan.output.iter().copied())
            .collect();
        acc = contract(acc, b, &keep, &plan.sizes)?;
    }
    finish(acc, &plan.output, &plan.sizes)
}

/// The sizes of `labels`.
fn sizes_of(labels: &[Label], sizes: &BTreeMap<Label, usize>) -> Vec<usize> {
    labels.iter().map(|l| sizes.get(l).copied().unwrap_or(1)).collect()
}

/// Drops the size-1 axes of labels whose size elsewhere is larger: the
/// label is then absent from this term, and broadcasting supplies it.
fn squeeze_broadcast(t: &mut Term, sizes: &BTreeMap<Label, usize>) -> Result<(), Diagnostic> {
    let shape = shape_of(&t.value);
    let keep: Vec<bool> = shape
        .iter()
        .zip(&t.labels)
        .map(|(&n, l)| n != 1 || sizes.get(l) == Some(&1))
        .collect();
    if keep.iter().all(|&k| k) {
        return Ok(());
    }
    let labels: Vec<Label> = t
        .labels
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(&l, _)| l)
        .collect();
    t.value = reshape(&t.value, &sizes_of(&labels, sizes))?;
    t.labels = labels;
    Ok(())
}

/// Moves axes into the order of `want` (a permutation of the term's labels);
/// no primitive when they already are.
fn arrange(t: &Term, want: &[Label]) -> Result<Value, Diagnostic> {
    let perm: Vec<usize> = want
        .iter()
        .map(|l| t.labels.iter().position(|m| m == l).unwrap_or(0))
        .collect();
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(t.value.clone());
    }
    transpose(&t.value, &perm)
}

/// Replaces each index that occurs more than once in the term by its
/// diagonal: the repeated axes are moved last, merged into one, and the
/// diagonal positions (multiples of `1 + n + n^2 + ...`) are taken.
fn diagonals(t: &mut Term, sizes: &BTreeMap<Label, usize>) -> Result<(), Diagnostic> {
    while let Some(&l) = t.labels.iter().find(|l| t.labels.iter().filter(|m| m == l).count() > 1) {
        let reps = t.labels.iter().filter(|&&m| m == l).count();
        let perm: Vec<usize> = t
            .labels
            .iter()
            .enumerate()
            .filter(|&(_, &m)| m != l)
            .map(|(i, _)| i)
            .chain(t.labels.iter().enumerate().filter(|&(_, &m)| m == l).map(|(i, _)| i))
            .collect();
        let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
            t.value.clone()
        } else {
            transpose(&t.value, &perm)?
        };
        let n = sizes.get(&l).copied().unwrap_or(1);
        let shape = shape_of(&t.value);
        let others: Vec<usize> = perm[..perm.len() - reps].iter().map(|&i| shape[i]).collect();
        let mut merged = others.clone();
        merged.push(n.pow(reps as u32));
        let flat = reshape(&moved, &merged)?;
        let step: usize = (0..reps).map(|k| n.pow(k as u32)).sum();
        let idx: Vec<f64> = (0..n).map(|i| (i * step) as f64).collect();
        let idx = Tensor::from_vec(idx, &[n]).map_err(super::tensor_error)?;
        t.value = apply(
            &Prim::Take(crate::prim::Take(others.len())),
            &[flat, Value::Tensor(Rc::new(idx))],
        )?;
        let mut labels: Vec<Label> = t.labels.iter().copied().filter(|&m| m != l).collect();
        labels.push(l);
        t.labels = labels;
    }
    Ok(())
}

/// Sums the axes whose labels satisfy `gone`.
fn sum_out(t: &mut Term, gone: impl Fn(Label) -> bool) -> Result<(), Diagnostic> {
    let axes: Vec<usize> = (0..t.labels.len()).filter(|&i| gone(t.labels[i])).collect();
    if axes.is_empty() {
        return Ok(());
    }
    t.value = sum(&t.value, Some(axes.into()), false)?;
    t.labels.retain(|&l| !gone(l));
    Ok(())
}

/// Contracts two terms, keeping the labels in `keep` (needed later) and
/// summing the shared ones that are not. Shared kept labels are batch axes.
fn contract(mut a: Term, b: &Term, keep: &[Label], sizes: &BTreeMap<Label, usize>) -> Result<Term, Diagnostic> {
    // A label of `a` alone that is not needed later is summed first (the
    // per-operand pass leaves none, but a contraction's result may).
    sum_out(&mut a, |l| !keep.contains(&l) && !b.labels.contains(&l))?;
    let mut b = Term {
        value: b.value.clone(),
        labels: b.labels.clone(),
    };
    sum_out(&mut b, |l| !keep.contains(&l) && !a.labels.contains(&l))?;
    let shared = |l: &Label| a.labels.contains(l) && b.labels.contains(l);
    let batch: Vec<Label> = a
        .labels
        .iter()
        .copied()
        .filter(|l| shared(l) && keep.contains(l))
        .collect();
    let summed: Vec<Label> = a
        .labels
        .iter()
        .copied()
        .filter(|l| shared(l) && !keep.contains(l))
        .collect();
    let a_only: Vec<Label> = a.labels.iter().copied().filter(|l| !b.labels.contains(l)).collect();
    let b_only: Vec<Label> = b.labels.iter().copied().filter(|l| !a.labels.contains(l)).collect();
    let size = |ls: &[Label]| -> usize { sizes_of(ls, sizes).iter().product() };
    let cat = |parts: &[&[Label]]| -> Vec<Label> { parts.concat() };

    if summed.is_empty() {
        // No index is summed: an outer product over the batch axes, by broadcasting.
        let xa = arrange(&a, &cat(&[&batch, &a_only]))?;
        let xb = arrange(&b, &cat(&[&batch, &b_only]))?;
        let ones = |ls: &[Label]| vec![1usize; ls.len()];
        let sa = [sizes_of(&batch, sizes), sizes_of(&a_only, sizes), ones(&b_only)].concat();
        let sb = [sizes_of(&batch, sizes), ones(&a_only), sizes_of(&b_only, sizes)].concat();
        let value = mul(&reshape(&xa, &sa)?, &reshape(&xb, &sb)?)?;
        return Ok(Term {
            value,
            labels: cat(&[&batch, &a_only, &b_only]),
        });
    }
    if a_only.is_empty() && b_only.is_empty() {
        // Batched dot products: multiply and sum the trailing axes.
        let order = cat(&[&batch, &summed]);
        let prod = mul(&arrange(&a, &order)?, &arrange(&b, &order)?)?;
        let axes: Vec<usize> = (batch.len()..order.len()).collect();
        return Ok(Term {
            value: sum(&prod, Some(axes.into()), false)?,
            labels: batch,
        });
    }
    // A (batched) matrix product: (B, M, K) @ (B, K, N).
    let (nb, m, k, n) = (size(&batch), size(&a_only), size(&summed), size(&b_only));
    let lead: Vec<usize> = if batch.is_empty() { vec![] } else { vec![nb] };
    let xa = reshape(
        &arrange(&a, &cat(&[&batch, &a_only, &summed]))?,
        &[&lead[..], &[m, k]].concat(),
    )?;
    let xb = reshape(
        &arrange(&b, &cat(&[&batch, &summed, &b_only]))?,
        &[&lead[..], &[k, n]].concat(),
    )?;
    let prod = super::arith::matmul(&xa, &xb)?;
    let labels = cat(&[&batch, &a_only, &b_only]);
    Ok(Term {
        value: reshape(&prod, &sizes_of(&labels, sizes))?,
        labels,
    })
}

/// Puts the last term's axes in output order; output labels every operand
/// had as size 1 (so were squeezed) come back as size-1 axes.
fn finish(mut t: Term, output: &[Label], sizes: &BTreeMap<Label, usize>) -> Result<Value, Diagnostic> {
    sum_out(&mut t, |l| !output.contains(&l))?;
    let present: Vec<Label> = output.iter().copied().filter(|l| t.labels.contains(l)).collect();
    let x = arrange(&t, &present)?;
    reshape(&x, &sizes_of(output, sizes))
}
