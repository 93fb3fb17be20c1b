//! Convolution and pooling builtins: `conv1d`, `conv2d`, `max_pool1d`,
//! `max_pool2d`, `avg_pool1d`, `avg_pool2d`. Each reads its window
//! arguments, brings the input to the `(N, C, H, W)` layout of the kernels
//! (1-d as height 1, unbatched input with a batch axis of 1) and applies the
//! differentiable primitives of `crate::prim::conv`.

use super::args::*;
use crate::builtins::{int_arg, register, Call, Decl};
use crate::diagnostics::{Diagnostic, ErrorKind, R};
use crate::ops::{self, shape_of};
use crate::prim::conv::{conv2d, pool2d};
use crate::value::Value;
use dp_tensor::{format_shape, same_padding, ConvSpec, PoolSpec};
use std::collections::HashMap;
use std::rc::Rc;

/// Registers the builtins of this family.
pub(super) fn register_family(t: &mut HashMap<Rc<str>, Value>) {
    register(
        t,
        Decl {
            sig: "conv1d(x: tensor, w: tensor, stride: int | tuple = 1, padding: int | tuple | str = 0, dilation: int | tuple = 1, groups: int = 1) -> tensor",
            summary: "1-d convolution (cross-correlation) of `x` `(N, C, W)` with filters `w` `(O, C/groups, K)`, giving `(N, O, W_out)`.",
            doc: "Like `jax.lax.conv_general_dilated` and `torch.nn.functional.conv1d`. An unbatched `x` `(C, W)` gives `(O, W_out)`. \
                  `padding` is an int (both sides), a pair `(before, after)`, `\"valid\"` (none) or `\"same\"` (output length `ceil(W / stride)`, \
                  the odd element after, as in JAX). `dilation` spaces the kernel taps; `groups` splits the channels into independent groups. \
                  Differentiable in `x` and `w` to any order.",
            example: "conv1d(reshape(arange(5.0), (1, 1, 5)), tensor([[[1.0, 0.0, -1.0]]]))  # [[[-2.0, -2.0, -2.0]]]",
        },
        |_, a| conv_builtin(&a, 1),
    );
    register(
        t,
        Decl {
            sig: "conv2d(x: tensor, w: tensor, stride: int | tuple = 1, padding: int | tuple | str = 0, dilation: int | tuple = 1, groups: int = 1) -> tensor",
            summary: "2-d convolution (cross-correlation) of `x` `(N, C, H, W)` with filters `w` `(O, C/groups, KH, KW)`, giving `(N, O, H_out, W_out)`.",
            doc: "Like `jax.lax.conv_general_dilated` (NCHW/OIHW) and `torch.nn.functional.conv2d`; add a bias with \
                  `y + reshape(b, (1, -1, 1, 1))`. An unbatched `x` `(C, H, W)` gives `(O, H_out, W_out)`. \
                  `stride` and `dilation` are an int or a pair `(height, width)`; `padding` is an int, a pair (each side of height, of width), \
                  a pair of pairs `((top, bottom), (left, right))`, `\"valid\"` or `\"same\"` (output `ceil(size / stride)`, the odd element \
                  after, as in JAX). `groups` splits the channels into independent groups (`groups = C` is a depthwise convolution). \
                  Computed by im2col and GEMM; differentiable in `x` and `w` to any order.",
            example: concat!(
                "let y = conv2d(ones((1, 1, 3, 3)), ones((2, 1, 2, 2)), padding=\"same\");\n",
                "y[0, 0]  # [[4.0, 4.0, 2.0],\n",
                "         #  [4.0, 4.0, 2.0],\n",
                "         #  [2.0, 2.0, 1.0]]",
            ),
        },
        |_, a| conv_builtin(&a, 2),
    );
    for (sig, summary, example, dims, max) in [
        (
            "max_pool1d(x: tensor, size: int | tuple, stride: int | tuple = none, padding: int | tuple | str = 0) -> tensor",
            "The largest element of each window of length `size` along the last axis of `x` `(N, C, W)`.",
            "max_pool1d(tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)  # [[[3.0, 5.0]]]",
            1,
            true,
        ),
        (
            "max_pool2d(x: tensor, size: int | tuple, stride: int | tuple = none, padding: int | tuple | str = 0) -> tensor",
            "The largest element of each `size` window over the last two axes of `x` `(N, C, H, W)`.",
            concat!(
                "let x = reshape(arange(16.0), (1, 1, 4, 4));\n",
                "max_pool2d(x, 2)  # [[[[ 5.0,  7.0],\n",
                "                  #    [13.0, 15.0]]]]",
            ),
            2,
            true,
        ),
        (
            "avg_pool1d(x: tensor, size: int | tuple, stride: int | tuple = none, padding: int | tuple | str = 0) -> tensor",
            "The mean of each window of length `size` along the last axis of `x` `(N, C, W)`.",
            "avg_pool1d(tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)  # [[[2.0, 3.5]]]",
            1,
            false,
        ),
        (
            "avg_pool2d(x: tensor, size: int | tuple, stride: int | tuple = none, padding: int | tuple | str = 0) -> tensor",
            "The mean of each `size` window over the last two axes of `x` `(N, C, H, W)`.",
            concat!(
                "let x = reshape(arange(16.0), (1, 1, 4, 4));\n",
                "avg_pool2d(x, 2)  # [[[[ 2.5,  4.5],\n",
                "                  #    [10.5, 12.5]]]]",
            ),
            2,
            false,
        ),
    ] {
        let doc = if max {
            "`stride` defaults to `size` (non-overlapping windows). `padding` (an int, a pair, `\"valid\"` or `\"same\"`, at most half \
             the window on each side) is never the maximum. Unbatched input (one axis fewer) works too. The gradient goes to the first \
             maximum of each window (as in PyTorch and JAX); differentiable to any order."
        } else {
            "`stride` defaults to `size` (non-overlapping windows). `padding` (an int, a pair, `\"valid\"` or `\"same\"`, at most half \
             the window on each side) counts as zeros and the divisor is always the window size (PyTorch's `count_include_pad=True`, \
             flax's `avg_pool`). Unbatched input (one axis fewer) works too. Linear, so differentiable to any order."
        };
        register(
            t,
            Decl {
                sig,
                summary,
                doc,
                example,
            },
            move |_, a| pool_builtin(&a, dims, max),
        );
    }
}

/// The input as `(N, C, ...)` with `dims` spatial axes, and whether a batch
/// axis was added (unbatched input).
fn batched(a: &Call<'_>, x: &Value, dims: usize) -> R<(Value, bool)> {
    let s = shape_of(x);
    if s.len() == dims + 2 {
        Ok((x.clone(), false))
    } else if s.len() == dims + 1 {
        let mut b = vec![1];
        b.extend_from_slice(&s);
        Ok((ops::reshape(x, &b)?, true))
    } else {
        let what = if dims == 1 {
            "(N, C, W) or (C, W)"
        } else {
            "(N, C, H, W) or (C, H, W)"
        };
        Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{}` expects `x` of shape {what}, found shape {}",
                a.name(),
                format_shape(&s)
            ),
        )
        .at(a.span_at(0)))
    }
}

/// A 1-d input `(N, C, W)` as `(N, C, 1, W)`; 2-d input unchanged.
fn as_2d(x: &Value, dims: usize) -> R<Value> {
    if dims == 2 {
        return Ok(x.clone());
    }
    let s = shape_of(x);
    ops::reshape(x, &[s[0], s[1], 1, s[2]])
}

/// Reads a per-axis setting: an int for every axis, or a tuple of `dims` ints.
fn per_axis(a: &Call<'_>, i: usize, dims: usize, min: i64) -> R<Vec<usize>> {
    let name = a.name();
    let what = match i {
        1 => "size",
        2 => "stride",
        _ => "dilation",
    };
    let one = |v: &Value| -> R<usize> {
        let n = int_arg(name, what, v)?;
        if n < min {
            return Err(Diagnostic::new(
                ErrorKind::Value,
                format!("`{name}`: {what} must be at least {min}, found {n}"),
            ));
        }
        usize::try_from(n).map_err(|_| Diagnostic::new(ErrorKind::Value, format!("`{name}`: {what} {n} is too large")))
    };
    let v = a.value(i);
    let out = match v {
        Value::Tuple(t) => {
            if t.len() != dims {
                return Err(Diagnostic::new(
                    ErrorKind::Value,
                    format!(
                        "`{name}`: {what} needs {dims} entries (one per spatial axis), found {}",
                        t.len()
                    ),
                )
                .at(a.span_at(i)));
            }
            t.iter().map(one).collect::<R<Vec<_>>>()
        }
        other => one(other).map(|n| vec![n; dims]),
    };
    out.map_err(at_param(a, i))
}

/// Reads `padding`: an int, one entry per axis (an int or a `(before,
/// after)` pair), `"valid"` or `"same"` (computed from the input sizes,
/// window sizes, strides and dilations).
fn padding(
    a: &Call<'_>,
    i: usize,
    sizes: &[usize],
    kernel: &[usize],
    stride: &[usize],
    dil: &[usize],
) -> R<Vec<[usize; 2]>> {
    let name = a.name();
    let dims = sizes.len();
    let one = |v: &Value| -> R<usize> {
        let n = int_arg(name, "padding", v)?;
        usize::try_from(n).map_err(|_| {
            Diagnostic::new(
                ErrorKind::Value,
                format!("`{name}`: padding must be non-negative, found {n}"),
            )
        })
    };
    let side = |v: &Value| -> R<[usize; 2]> {
        match v {
            Value::Tuple(t) if t.len() == 2 => match (t.get(0), t.get(1)) {
                (Some(b), Some(e)) => Ok([one(b)?, one(e)?]),
                // A pair always has both entries (the length was just checked).
                _ => Ok([0, 0]),
            },
            Value::Tuple(_) => Err(Diagnostic::new(
                ErrorKind::Value,
                format!("`{name}`: each axis's padding is an int or a pair (before, after)"),
            )),
            other => one(other).map(|p| [p, p]),
        }
    };
    let out = match a.value(i) {
        Value::Str(s) if &**s == "valid" => Ok(vec![[0, 0]; dims]),
        Value::Str(s) if &**s == "same" => Ok((0..dims)
            .map(|d| same_padding(sizes[d], kernel[d], stride[d], dil[d]))
            .collect()),
        Value::Str(s) => Err(Diagnostic::new(
            ErrorKind::Value,
            format!("`{name}`: padding must be an int, a tuple, \"same\" or \"valid\", found \"{s}\""),
        )),
        Value::Tuple(t) if dims == 1 && t.len() == 2 => side(a.value(i)).map(|p| vec![p]),
        Value::Tuple(t) if t.len() == dims => t.iter().map(side).collect(),
        Value::Tuple(t) => Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{name}`: padding needs {dims} entries (one per spatial axis), found {}",
                t.len()
            ),
        )),
        other => one(other).map(|p| vec![[p, p]; dims]),
    };
    out.map_err(at_param(a, i))
}

/// Completes a 1-d setting with the trivial height axis.
fn two<T: Copy>(v: &[T], unit: T) -> [T; 2] {
    if v.len() == 1 {
        [unit, v[0]]
    } else {
        [v[0], v[1]]
    }
}

/// `x` back without the added batch axis (unbatched input) and, for 1-d,
/// without the height axis.
fn restore(y: Value, dims: usize, unbatched: bool) -> R<Value> {
    let s = shape_of(&y);
    let mut out: Vec<usize> = s.clone();
    if dims == 1 {
        out.remove(2);
    }
    if unbatched {
        out.remove(0);
    }
    if out == s {
        Ok(y)
    } else {
        ops::reshape(&y, &out)
    }
}

fn conv_builtin(a: &Call<'_>, dims: usize) -> R<Value> {
    let name = a.name();
    let x = numeric(name, a.value(0))?;
    let w = numeric(name, a.value(1))?;
    let ws = shape_of(&w);
    if ws.len() != dims + 2 {
        let what = if dims == 1 {
            "(O, C/groups, K)"
        } else {
            "(O, C/groups, KH, KW)"
        };
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{name}` expects filters `w` of shape {what}, found shape {}",
                format_shape(&ws)
            ),
        )
        .at(a.span_at(1)));
    }
    let (x, unbatched) = batched(a, &x, dims)?;
    let xs = shape_of(&x);
    let stride = per_axis(a, 2, dims, 1)?;
    let dil = per_axis(a, 4, dims, 1)?;
    let pad = padding(a, 3, &xs[2..], &ws[2..], &stride, &dil)?;
    let groups = a.int(5).map_err(at_param(a, 5))?;
    let groups = usize::try_from(groups).ok().filter(|&g| g >= 1).ok_or_else(|| {
        Diagnostic::new(
            ErrorKind::Value,
            format!("`{name}`: groups must be at least 1, found {groups}"),
        )
        .at(a.span_at(5))
    })?;
    // Checked here, on the shapes the user wrote (the kernel sees them batched and 2-d).
    if ws[1].checked_mul(groups) != Some(xs[1]) {
        let xs_user = shape_of(a.value(0));
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{name}`: the filters take {} input channels{}, but `x` of shape {} has {}",
                ws[1].saturating_mul(groups),
                if groups == 1 {
                    String::new()
                } else {
                    format!(" ({} per group x {groups} groups)", ws[1])
                },
                format_shape(&xs_user),
                xs[1]
            ),
        )
        .at(a.span_at(0))
        .with_secondary(a.span_at(1), format!("filters of shape {}", format_shape(&ws)))
        .with_help(
            "the filters are (out channels, in channels / groups, kernel...), the input (batch, channels, ...)",
        ));
    }
    if !ws[0].is_multiple_of(groups) {
        return Err(Diagnostic::new(
            ErrorKind::Shape,
            format!(
                "`{name}`: {} output channels cannot be split into {groups} groups",
                ws[0]
            ),
        )
        .at(a.span_at(5)));
    }
    let spec = ConvSpec {
        stride: two(&stride, 1),
        padding: two(&pad, [0, 0]),
        dilation: two(&dil, 1),
        groups,
    };
    let x4 = as_2d(&x, dims)?;
    let w4 = as_2d(&w, dims)?;
    let y = conv2d(&x4, &w4, &spec).map_err(|d| as_shape_error(label_param(d, a, 1, &w)))?;
    restore(y, dims, unbatched)
}

fn pool_builtin(a: &Call<'_>, dims: usize, max: bool) -> R<Value> {
    let name = a.name();
    let x = numeric(name, a.value(0))?;
    let (x, unbatched) = batched(a, &x, dims)?;
    let xs = shape_of(&x);
    let size = per_axis(a, 1, dims, 1)?;
    let stride = if a.given(2).is_none_or(|v| matches!(v, Value::None)) {
        size.clone()
    } else {
        per_axis(a, 2, dims, 1)?
    };
    let pad = padding(a, 3, &xs[2..], &size, &stride, &vec![1; dims])?;
    if let Some(d) = (0..dims).find(|&d| 2 * pad[d][0] > size[d] || 2 * pad[d][1] > size[d]) {
        return Err(Diagnostic::new(
            ErrorKind::Value,
            format!(
                "`{name}`: padding may be at most half the window on each side, found {} and {} for a window of {}",
                pad[d][0], pad[d][1], size[d]
            ),
        )
        .at(a.span_at(3)));
    }
    let spec = PoolSpec {
        size: two(&size, 1),
        stride: two(&stride, 1),
        padding: two(&pad, [0, 0]),
    };
    let y = pool2d(&as_2d(&x, dims)?, &spec, max).map_err(|d| as_shape_error(d.at(a.span_at(0))))?;
    restore(y, dims, unbatched)
}
