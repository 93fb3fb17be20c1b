//! `norm(x, ord, axis, keepdims)`: vector and matrix norms as
//! `jnp.linalg.norm` defines them, composed of differentiable operations
//! (`abs`, sums, `max`/`min`, powers, `svdvals`), so their derivatives are
//! JAX's, kinks included (the gradient of the 2-norm at zero is nan, as in JAX).

use super::args::*;
use super::reduce::reduce;
use crate::builtins::{arg_type, int_arg, register, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::prim::spectral;
use crate::value::Value;
use dp_tensor::{format_shape, normalize_axis, BinaryOp, ReduceOp, UnaryOp};
use std::collections::HashMap;
use std::rc::Rc;

/// Which norm `ord` asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ord {
    /// No `ord`: the 2-norm of a vector, the Frobenius norm of a matrix.
    Default,
    /// `"fro"`.
    Fro,
    /// `"nuc"`: the sum of the singular values.
    Nuc,
    /// A number (`inf` and `-inf` included).
    P(f64),
}

impl Ord {
    fn describe(self) -> String {
        match self {
            Ord::Default => "none".into(),
            Ord::Fro => "\"fro\"".into(),
            Ord::Nuc => "\"nuc\"".into(),
            Ord::P(p) => Value::Float(p).repr(),
        }
    }
}

/// Reads `ord`: none, a number, or one of "fro", "nuc", "inf", "-inf".
fn ord_arg(v: &Value) -> R<Ord> {
    match v {
        Value::None => Ok(Ord::Default),
        Value::Str(s) => match &**s {
            "fro" => Ok(Ord::Fro),
            "nuc" => Ok(Ord::Nuc),
            "inf" => Ok(Ord::P(f64::INFINITY)),
            "-inf" => Ok(Ord::P(f64::NEG_INFINITY)),
            other => Err(
                Diagnostic::new(ErrorKind::Value, format!("`norm`: unknown ord {other:?}"))
                    .with_help("ord is a number (e.g. 1, 2, inf) or \"fro\", \"nuc\", \"inf\", \"-inf\""),
            ),
        },
        other => Ok(Ord::P(crate::builtins::float_arg("norm", "ord", other)?)),
    }
}

/// Reads `axis`: none, one axis, or a pair (row, column) kept in the order given.
fn axis_list(v: &Value, ndim: usize) -> R<Option<Vec<usize>>> {
    let raw: Vec<i64> = match v {
        Value::None => return Ok(None),
        Value::Tuple(t) => t.iter().map(|x| int_arg("norm", "axis", x)).collect::<R<_>>()?,
        other => vec![int_arg("norm", "axis", other)?],
    };
    let mut axes = Vec::with_capacity(raw.len());
    for a in raw {
        let n = normalize_axis(a, ndim).map_err(|_| axis_error("norm", a, ndim, "the tensor"))?;
        if axes.contains(&n) {
            return Err(Diagnostic::new(
                ErrorKind::Value,
                format!("`norm`: axis {a} is repeated"),
            ));
        }
        axes.push(n);
    }
    if axes.is_empty() || axes.len() > 2 {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`norm` takes one axis (a vector norm) or two (a matrix norm), found {}",
                axes.len()
            ),
        ));
    }
    Ok(Some(axes))
}

/// `shape` with the axes in `axes` set to 1 (the shape `keepdims` gives).
fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    for &a in axes {
        s[a] = 1;
    }
    s
}

/// The report for an `ord` that is not a vector (or matrix) norm.
fn ord_error(ord: Ord, matrix: bool) -> Diagnostic {
    if matrix {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`norm`: ord {} is not a matrix norm", ord.describe()),
        )
        .with_help("matrix norms: none or \"fro\", \"nuc\", 1, -1, 2, -2, inf, -inf; for a vector norm give one axis")
    } else {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`norm`: ord {} is not a vector norm", ord.describe()),
        )
        .with_help("\"fro\" and \"nuc\" are matrix norms: give two axes (or a 2-d tensor)")
    }
}

/// Checks that `ord` names a vector norm (`matrix` false) or a matrix norm.
fn check_ord(ord: Ord, matrix: bool) -> R<()> {
    let ok = match ord {
        Ord::Default => true,
        Ord::Fro | Ord::Nuc => matrix,
        Ord::P(p) if matrix => [1.0, -1.0, 2.0, -2.0, f64::INFINITY, f64::NEG_INFINITY].contains(&p),
        Ord::P(p) => !p.is_nan(),
    };
    if ok {
        Ok(())
    } else {
        Err(ord_error(ord, matrix))
    }
}

/// A vector norm along `axis` (all elements when `None`).
fn vector_norm(x: &Value, ord: Ord, axis: Option<usize>, keepdims: bool) -> R<Value> {
    let axes = axis.map(|a| vec![a]);
    let abs = || ops::unary(UnaryOp::Abs, x);
    match ord {
        Ord::Default | Ord::P(2.0) => {
            let sq = reduce(&ops::mul(x, x)?, ReduceOp::Sum, axes, keepdims)?;
            ops::unary(UnaryOp::Sqrt, &sq)
        }
        Ord::P(p) if p == f64::INFINITY => reduce(&abs()?, ReduceOp::Max, axes, keepdims),
        Ord::P(p) if p == f64::NEG_INFINITY => reduce(&abs()?, ReduceOp::Min, axes, keepdims),
        // The number of non-zero elements (no derivative, as the comparison has none).
        Ord::P(0.0) => {
            let nz = ops::binary(BinaryOp::Ne, x, &Value::Float(0.0))?;
            reduce(&ops::mul(&nz, &Value::Float(1.0))?, ReduceOp::Sum, axes, keepdims)
        }
        Ord::P(1.0) => reduce(&abs()?, ReduceOp::Sum, axes, keepdims),
        Ord::P(p) => {
            let powered = ops::binary(BinaryOp::Pow, &abs()?, &Value::Float(p))?;
            let s = reduce(&powered, ReduceOp::Sum, axes, keepdims)?;
            ops::binary(BinaryOp::Pow, &s, &Value::Float(1.0 / p))
        }
        // `check_ord` turned these away.
        Ord::Fro | Ord::Nuc => Err(ord_error(ord, false)),
    }
}

/// A matrix norm over the axes `(r, c)` (rows, columns).
fn matrix_norm(x: &Value, ord: Ord, r: usize, c: usize, keepdims: bool) -> R<Value> {
    let shape = shape_of(x);
    let kept = kept_shape(&shape, &[r, c]);
    let out_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != r && i != c)
        .map(|(_, &n)| n)
        .collect();
    let finish = |v: Value| -> R<Value> { ops::reshape(&v, if keepdims { &kept } else { &out_shape }) };
    // The sum of |x| along `inner`, then the max or min along `outer`.
    let induced = |inner: usize, outer: usize, op: ReduceOp| -> R<Value> {
        let s = reduce(&ops::unary(UnaryOp::Abs, x)?, ReduceOp::Sum, Some(vec![inner]), true)?;
        finish(reduce(&s, op, Some(vec![outer]), true)?)
    };
    // Singular values of the matrices moved to the last two axes, reduced by `op`.
    let singular = |op: ReduceOp| -> R<Value> {
        let perm: Vec<usize> = (0..shape.len()).filter(|&i| i != r && i != c).chain([r, c]).collect();
        let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
            x.clone()
        } else {
            ops::transpose(x, &perm)?
        };
        let s = spectral::svdvals(&moved)?;
        let last = shape_of(&s).len() - 1;
        finish(reduce(&s, op, Some(vec![last]), false)?)
    };
    match ord {
        Ord::Default | Ord::Fro => {
            let sq = reduce(&ops::mul(x, x)?, ReduceOp::Sum, Some(vec![r.min(c), r.max(c)]), true)?;
            finish(ops::unary(UnaryOp::Sqrt, &sq)?)
        }
        Ord::Nuc => singular(ReduceOp::Sum),
        Ord::P(2.0) => singular(ReduceOp::Max),
        Ord::P(-2.0) => singular(ReduceOp::Min),
        Ord::P(1.0) => induced(r, c, ReduceOp::Max),
        Ord::P(-1.0) => induced(r, c, ReduceOp::Min),
        Ord::P(p) if p == f64::INFINITY => induced(c, r, ReduceOp::Max),
        Ord::P(p) if p == f64::NEG_INFINITY => induced(c, r, ReduceOp::Min),
        // `check_ord` turned these away.
        Ord::P(_) => Err(ord_error(ord, true)),
    }
}

/// Registers `norm`.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "norm(x: tensor, ord: number | str = none, axis: int | tuple[int] = none, keepdims: bool = false) -> tensor",
            summary: "A vector or matrix norm (as `numpy.linalg.norm`).",
            doc: "With one `axis` (or a 1-d `x` and no axis) a vector norm: `ord` none or 2 is \
                  `sqrt(sum(x ** 2))`, 1 is `sum(abs(x))`, `inf`/`-inf` the largest/smallest `abs(x)`, \
                  0 the number of non-zeros, any other `p` gives `sum(abs(x) ** p) ** (1 / p)`. With two \
                  axes `(rows, cols)` (or a 2-d `x` and no axis) a matrix norm: none or `\"fro\"` is \
                  the Frobenius norm, `\"nuc\"` the sum of the singular values, 2/-2 the largest/smallest \
                  singular value, 1/-1 the largest/smallest column sum of `abs(x)`, `inf`/`-inf` the \
                  largest/smallest row sum. Without `ord` and `axis`, the 2-norm of all elements \
                  whatever the rank. `inf` is the constant `inf` (or the string `\"inf\"`). Differentiable \
                  with JAX's conventions (the singular-value norms where those are distinct and non-zero).",
            example: "norm(tensor([[1.0, 2.0], [3.0, 4.0]]), ord=1)  # 6.0",
        },
        |_, a| {
            let x = numeric("norm", a.value(0))?;
            let ord = ord_arg(a.value(1)).map_err(at_param(&a, 1))?;
            let shape = shape_of(&x);
            let ndim = shape.len();
            let axes = axis_list(a.value(2), ndim).map_err(at_param(&a, 2))?;
            let keepdims = a.bool(3)?;
            let report = |d: Diagnostic| label_param(d.at(a.span), &a, 0, &x);
            let matrix = match axes.as_deref() {
                Some(ax) => ax.len() == 2,
                None => ndim == 2,
            };
            if axes.is_some() || ndim <= 2 {
                check_ord(ord, matrix).map_err(|d| label_param(d.at(a.span_at(1)), &a, 0, &x))?;
            }
            match (axes.as_deref(), ord) {
                (None, Ord::Default) => {
                    let all: Vec<usize> = (0..ndim).collect();
                    let sq = reduce(&ops::mul(&x, &x)?, ReduceOp::Sum, None, false)?;
                    let n = ops::unary(UnaryOp::Sqrt, &sq)?;
                    if keepdims {
                        ops::reshape(&n, &kept_shape(&shape, &all))
                    } else {
                        Ok(n)
                    }
                }
                (None, _) if ndim == 1 => vector_norm(&x, ord, Some(0), keepdims).map_err(report),
                (None, _) if ndim == 2 => matrix_norm(&x, ord, 0, 1, keepdims).map_err(report),
                (None, _) => Err(report(Diagnostic::new(
                    ErrorKind::Shape,
                    format!(
                        "`norm` with an ord needs a 1-d or 2-d tensor, or `axis`; found shape {}",
                        format_shape(&shape)
                    ),
                ))
                .with_help("pass axis=-1 for vector norms or axis=(-2, -1) for matrix norms")),
                (Some(&[ax]), _) => vector_norm(&x, ord, Some(ax), keepdims).map_err(report),
                (Some(&[r, c]), _) => matrix_norm(&x, ord, r, c, keepdims).map_err(report),
                (Some(other), _) => Err(arg_type("norm", "axis", "one or two axes", &Value::Int(other.len() as i64))),
            }
        },
    );
}
