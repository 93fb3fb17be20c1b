//! Linear algebra builtins: `matmul`, `dot`, `outer`, `transpose`, `einsum`.

use super::args::*;
use crate::builtins::{arg_type, int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind};
use crate::ops::{self, shape_of};
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "matmul(a: tensor, b: tensor) -> tensor",
            summary: "The matrix product `a @ b` (batched over leading axes, vectors as in NumPy).",
            doc: "",
            example: "matmul(eye(2), tensor([1.0, 2.0]))  # [1.0, 2.0]",
        },
        |_, a| {
            let x = numeric("matmul", a.value(0))?;
            let y = numeric("matmul", a.value(1))?;
            crate::ops::arith::matmul(&x, &y).map_err(|d| {
                let d = d.at(a.span);
                label_param(label_param(d, &a, 0, &x), &a, 1, &y)
            })
        },
    );
    register(
        t,
        Decl {
            sig: "dot(a: tensor, b: tensor) -> tensor",
            summary: "The dot product of vectors, or the matrix product of tensors up to 2-d.",
            doc: "With a scalar it is plain multiplication; use `@` for batched products.",
            example: "dot(tensor([1.0, 2.0]), tensor([3.0, 4.0]))  # 11.0",
        },
        |_, a| {
            let x = numeric("dot", a.value(0))?;
            let y = numeric("dot", a.value(1))?;
            if shape_of(&x).is_empty() || shape_of(&y).is_empty() {
                return ops::mul(&x, &y);
            }
            let labelled = |d: Diagnostic| label_param(label_param(d.at(a.span), &a, 0, &x), &a, 1, &y);
            if shape_of(&x).len() > 2 || shape_of(&y).len() > 2 {
                return Err(labelled(
                    Diagnostic::new(
                        ErrorKind::Shape,
                        format!(
                            "`dot` takes tensors of up to 2 dimensions, found {} and {}",
                            format_shape(&shape_of(&x)),
                            format_shape(&shape_of(&y))
                        ),
                    )
                    .with_help("use `@` (matmul) for batched products"),
                ));
            }
            crate::ops::arith::matmul(&x, &y).map_err(labelled)
        },
    );
    register(
        t,
        Decl {
            sig: "einsum(subscripts: str, *operands: tensor) -> tensor",
            summary: "Einstein summation over `operands` as `subscripts` name their axes (NumPy's notation).",
            doc: "One comma-separated term per operand, one letter per axis: `\"ij,jk->ik\"` is a matrix \
                  product, `\"ii->\"` a trace, `\"ii->i\"` a diagonal, `\"ij->ji\"` a transpose, \
                  `\"bij,bjk->bik\"` a batched product. Letters left out of the output are summed. \
                  Without `->` the output holds the letters that occur once, in alphabetical order. \
                  `...` stands for the remaining axes and broadcasts like NumPy; an axis of size 1 \
                  broadcasts too. Operands are contracted pairwise, left to right; a contraction \
                  over shared letters runs as one (batched) matrix product. Differentiable to any \
                  order, and under `vmap`, in every operand.",
            example: "einsum(\"ij,jk->ik\", eye(2), tensor([[1.0, 2.0], [3.0, 4.0]]))",
        },
        |_, a| {
            let subscripts = a.str_as(0, "subscripts")?;
            let xs: Vec<Value> = a
                .rest()
                .iter()
                .enumerate()
                .map(|(j, x)| numeric("einsum", x).map_err(|d| d.at(a.args().span_of(1 + j))))
                .collect::<Result<_, _>>()?;
            ops::einsum::einsum(&subscripts, &xs).map_err(|e| match e.operand {
                Some(j) => {
                    let d = e.diag.at(a.args().span_of(1 + j)).with_label(xs[j].describe());
                    match e.related {
                        Some(k) => d.with_secondary(a.args().span_of(1 + k), xs[k].describe()),
                        None => d,
                    }
                }
                None if e.diag.span.is_none() && e.diag.kind != ErrorKind::Shape => e.diag.at(a.span_at(0)),
                None => e.diag.at(a.span),
            })
        },
    );
    register(
        t,
        Decl {
            sig: "outer(a: tensor, b: tensor) -> tensor",
            summary: "The outer product of two (flattened) tensors.",
            doc: "",
            example: "outer(tensor([1.0, 2.0]), tensor([1.0, 0.0, 1.0])).shape  # (2, 3)",
        },
        |_, a| {
            let x = numeric("outer", a.value(0))?;
            let y = numeric("outer", a.value(1))?;
            let n: usize = shape_of(&x).iter().product();
            let m: usize = shape_of(&y).iter().product();
            ops::mul(&ops::reshape(&x, &[n, 1])?, &ops::reshape(&y, &[1, m])?)
        },
    );
    register(
        t,
        Decl {
            sig: "transpose(x: tensor, axes: tuple = none) -> tensor",
            summary: "`x` with its axes reversed, or permuted as `axes` lists them.",
            doc: "`x.T` is `transpose(x)`.",
            example: "transpose(zeros((2, 3, 4)), (1, 0, 2)).shape  # (3, 2, 4)",
        },
        |_, a| {
            let x = numeric("transpose", a.value(0))?;
            let s = shape_of(&x);
            let n = s.len();
            let bad = |d: Diagnostic| label_param(at_param(&a, 1)(d), &a, 0, &x);
            let perm: Vec<usize> = match a.given(1) {
                None | Some(Value::None) => (0..n).rev().collect(),
                Some(Value::Tuple(p)) => {
                    let mut out = Vec::new();
                    for q in p.iter() {
                        let i = int_arg("transpose", "an axis", q).map_err(bad)?;
                        out.push(te(normalize_axis(i, n)).map_err(bad)?);
                    }
                    let mut seen = vec![false; n];
                    let is_perm = out.len() == n && out.iter().all(|&i| !std::mem::replace(&mut seen[i], true));
                    if !is_perm {
                        let given: Vec<String> = p.iter().map(|q| q.repr()).collect();
                        let given = if given.len() == 1 {
                            format!("({},)", given[0])
                        } else {
                            format!("({})", given.join(", "))
                        };
                        return Err(bad(Diagnostic::new(
                            ErrorKind::Shape,
                            format!(
                            "`transpose`: axes {given} are not a permutation of the {n} axes of a tensor of shape {}",
                            format_shape(&s)
                        ),
                        )));
                    }
                    out
                }
                Some(other) => return Err(bad(arg_type("transpose", "axes", "a tuple of ints", other))),
            };
            if n == 0 {
                return Ok(x);
            }
            ops::transpose(&x, &perm)
        },
    );
}
