//! Convolutions and poolings, with their adjoints, as StableHLO window
//! operations: `convolution` (the adjoints are convolutions too, with the
//! roles of the operands' axes exchanged, as JAX transposes
//! `conv_general_dilated`), `reduce_window` for the poolings and the
//! forward-mode gather of max pooling, `select_and_scatter` for the
//! gradient of max pooling and a padded `reduce_window` for that of average
//! pooling. All work on dp's layouts: NCHW inputs, OIHW weights.

use super::text::{list, Elem, Emitter, Ty, V};
use crate::prim::{Conv, ConvRole, Pool, PoolRole};

/// Why a node cannot be lowered (the caller adds where).
type Lowered = Result<V, String>;

/// One axis of a window: padding before and after (negative trims),
/// stride, and the dilations of the base (input) and of the window.
#[derive(Clone, Copy)]
struct Axis {
    pad: [i64; 2],
    stride: usize,
    lhs_dilate: usize,
    rhs_dilate: usize,
}

/// The two spatial axes of a convolution and its group counts.
struct Window {
    axes: [Axis; 2],
    feature_groups: usize,
    batch_groups: usize,
}

impl Window {
    /// A window over `axes` with these group counts.
    fn grouped(axes: [Axis; 2], feature_groups: usize, batch_groups: usize) -> Window {
        Window {
            axes,
            feature_groups,
            batch_groups,
        }
    }
}

/// `stablehlo.convolution` of `lhs` and `rhs` with dimension numbers
/// `dims` (StableHLO's `[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]` form).
fn convolution(e: &mut Emitter, lhs: &V, rhs: &V, dims: &str, w: &Window, out: &[usize]) -> V {
    let [h, v] = w.axes;
    let ty = Ty::new(out, Elem::F64);
    e.op(
        &format!(
            "stablehlo.convolution({}, {}) dim_numbers = {dims}, window = {{stride = {}, pad = [[{}, {}], [{}, {}]], \
             lhs_dilate = {}, rhs_dilate = {}}} {{batch_group_count = {} : i64, feature_group_count = {} : i64, \
             precision_config = [#stablehlo<precision DEFAULT>, #stablehlo<precision DEFAULT>]}} : ({}, {}) -> {ty}",
            lhs.name,
            rhs.name,
            list(&[h.stride, v.stride]),
            h.pad[0],
            h.pad[1],
            v.pad[0],
            v.pad[1],
            list(&[h.lhs_dilate, v.lhs_dilate]),
            list(&[h.rhs_dilate, v.rhs_dilate]),
            w.batch_groups,
            w.feature_groups,
            lhs.ty,
            rhs.ty,
        ),
        ty,
    )
}

/// The lowering of a convolution node: `(x, w)` for the convolution,
/// `(g, w)` for its input gradient, `(x, g)` for its weight gradient.
pub fn conv(e: &mut Emitter, c: &Conv, a: V, b: V, out: &Ty) -> Lowered {
    let (a, b) = (e.f64(a), e.f64(b));
    let s = &c.spec;
    let rank4 = |v: &V| v.ty.shape.len() == 4;
    if !rank4(&a) || !rank4(&b) || out.shape.len() != 4 {
        return Err("a convolution whose operands are not 4-d".into());
    }
    let groups = s.groups.max(1);
    let (lhs, rhs, dims, w) = match c.role {
        ConvRole::Forward => {
            let axes = [0, 1].map(|d| Axis {
                pad: s.padding[d].map(|p| p as i64),
                stride: s.stride[d],
                lhs_dilate: 1,
                rhs_dilate: s.dilation[d],
            });
            (
                a,
                b,
                "[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]",
                Window::grouped(axes, groups, 1),
            )
        }
        ConvRole::InputGrad => {
            // The transposed convolution: the gradient (dilated by the
            // stride) against the spatially reversed kernel whose input and
            // output channels swap within each group.
            let (g, k) = (a, b);
            let [o, ig, kh, kw] = [k.ty.shape[0], k.ty.shape[1], k.ty.shape[2], k.ty.shape[3]];
            let og = o / groups;
            let k = if groups > 1 {
                let k5 = e.reshape(k, &[groups, og, ig, kh, kw]);
                let t = transpose(e, k5, &[1, 0, 2, 3, 4]);
                e.reshape(t, &[og, groups * ig, kh, kw])
            } else {
                k
            };
            let k = reverse(e, k, &[2, 3]);
            let axes = [0, 1].map(|d| {
                let (size, kernel, outn) = (out.shape[2 + d], k.ty.shape[2 + d], g.ty.shape[2 + d]);
                let eff = reach(kernel, s.dilation[d]);
                let lo = s.padding[d][0] as i64;
                Axis {
                    pad: [
                        eff - 1 - lo,
                        size as i64 + lo - (outn as i64 - 1) * s.stride[d] as i64 - 1,
                    ],
                    stride: 1,
                    lhs_dilate: s.stride[d],
                    rhs_dilate: s.dilation[d],
                }
            });
            (
                g,
                k,
                "[b, f, 0, 1]x[i, o, 0, 1]->[b, f, 0, 1]",
                Window::grouped(axes, groups, 1),
            )
        }
        ConvRole::WeightGrad => {
            // The input against the gradient, batch and channel axes
            // exchanged: each weight sums over the batch and the positions.
            let (x, g) = (a, b);
            let axes = [0, 1].map(|d| {
                let (size, kernel, outn) = (x.ty.shape[2 + d], out.shape[2 + d], g.ty.shape[2 + d]);
                let eff = reach(kernel, s.dilation[d]);
                let lo = s.padding[d][0] as i64;
                let reached = (outn as i64 - 1) * s.stride[d] as i64 + 1;
                Axis {
                    pad: [lo, reached - size as i64 + eff - lo - 1],
                    stride: s.dilation[d],
                    lhs_dilate: 1,
                    rhs_dilate: s.stride[d],
                }
            });
            (
                x,
                g,
                "[f, b, 0, 1]x[i, o, 0, 1]->[f, b, 0, 1]",
                Window::grouped(axes, 1, groups),
            )
        }
    };
    Ok(convolution(e, &lhs, &rhs, dims, &w, &out.shape))
}

/// The span of a kernel of `size` taps `dilation` apart.
fn reach(size: usize, dilation: usize) -> i64 {
    (dilation * size.saturating_sub(1) + 1) as i64
}

/// `v` with its axes permuted (`perm[i]` is the source axis of axis `i`).
fn transpose(e: &mut Emitter, v: V, perm: &[usize]) -> V {
    let shape: Vec<usize> = perm.iter().map(|&d| v.ty.shape[d]).collect();
    let ty = Ty::new(&shape, v.ty.elem);
    e.op(
        &format!(
            "stablehlo.transpose {}, dims = {} : ({}) -> {ty}",
            v.name,
            list(perm),
            v.ty
        ),
        ty,
    )
}

/// `v` reversed along `axes`.
fn reverse(e: &mut Emitter, v: V, axes: &[usize]) -> V {
    let ty = v.ty.clone();
    e.op(
        &format!("stablehlo.reverse {}, dims = {} : {ty}", v.name, list(axes)),
        ty,
    )
}

/// `array<i64: ...>` of `xs`.
fn i64s(xs: &[i64]) -> String {
    let items: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    format!("array<i64: {}>", items.join(", "))
}

/// The window attributes of a pooling over NCHW: window, strides and padding
/// (`pad` per spatial axis, zero on N and C).
fn window_attrs(spec: &dp_tensor::PoolSpec, pad: [[i64; 2]; 2], strides: [usize; 2]) -> String {
    let [[t, b], [l, r]] = pad;
    format!(
        "padding = dense<[[0, 0], [0, 0], [{t}, {b}], [{l}, {r}]]> : tensor<4x2xi64>, window_dimensions = {}, \
         window_strides = {}",
        i64s(&[1, 1, spec.size[0] as i64, spec.size[1] as i64]),
        i64s(&[1, 1, strides[0] as i64, strides[1] as i64]),
    )
}

/// A region `{ ^bb0(args): body; return results }` over scalars whose
/// results are of type `result` (names come from the emitter: they must not
/// repeat anywhere in the function).
fn region(
    e: &mut Emitter,
    args: usize,
    result: &str,
    body: impl FnOnce(&mut Emitter, &[String]) -> (String, Vec<String>),
) -> String {
    let names: Vec<String> = (0..args).map(|_| e.fresh()).collect();
    let (lines, results) = body(e, &names);
    let params: Vec<String> = names.iter().map(|n| format!("{n}: tensor<f64>")).collect();
    format!(
        "{{\n    ^bb0({}):\n{lines}      stablehlo.return {} : {}\n    }}",
        params.join(", "),
        results.join(", "),
        vec![result; results.len()].join(", ")
    )
}

/// A region combining two scalars with the binary operation `op`.
fn binary_region(e: &mut Emitter, op: &str) -> String {
    region(e, 2, "tensor<f64>", |e, a| {
        let r = e.fresh();
        (
            format!("      {r} = stablehlo.{op} {}, {} : tensor<f64>\n", a[0], a[1]),
            vec![r],
        )
    })
}

/// A region choosing the first of two scalars if it is at least the second.
fn ge_region(e: &mut Emitter) -> String {
    region(e, 2, "tensor<i1>", |e, a| {
        let r = e.fresh();
        (
            format!(
                "      {r} = stablehlo.compare GE, {}, {}, FLOAT : (tensor<f64>, tensor<f64>) -> tensor<i1>\n",
                a[0], a[1]
            ),
            vec![r],
        )
    })
}

/// `reduce_window` of `x` with initial value `init` and the scalar
/// operation `op`, over the windows `attrs` describes ([`window_attrs`]).
fn reduce_window(e: &mut Emitter, x: &V, init: f64, op: &str, attrs: &str, out: &[usize]) -> V {
    let init = e.scalar(init, Elem::F64);
    let body = binary_region(e, op);
    let ty = Ty::new(out, Elem::F64);
    e.op(
        &format!(
            "\"stablehlo.reduce_window\"({}, {}) <{{{attrs}}}> ({body}) : ({}, {}) -> {ty}",
            x.name, init.name, x.ty, init.ty
        ),
        ty,
    )
}

/// Running sums of `x` along `axis` (from the end when `reverse`), as JAX
/// lowers `cumsum` on CPU: a `reduce_window` sum whose window spans the whole
/// axis, padded by `n - 1` zeros before it (after it when reversed).
pub fn cumsum(e: &mut Emitter, x: V, axis: usize, reverse: bool) -> V {
    let shape = x.ty.shape.clone();
    let n = shape[axis] as i64;
    if n == 0 {
        return x;
    }
    let rank = shape.len();
    let window: Vec<i64> = (0..rank).map(|d| if d == axis { n } else { 1 }).collect();
    let pads: Vec<String> = (0..rank)
        .map(|d| match (d == axis, reverse) {
            (false, _) => "[0, 0]".to_string(),
            (true, false) => format!("[{}, 0]", n - 1),
            (true, true) => format!("[0, {}]", n - 1),
        })
        .collect();
    let attrs = format!(
        "padding = dense<[{}]> : tensor<{rank}x2xi64>, window_dimensions = {}",
        pads.join(", "),
        i64s(&window)
    );
    reduce_window(e, &x, 0.0, "add", &attrs, &shape)
}

/// `v` padded with `value`: `low`/`high` elements before/after each axis
/// (negative trims), `interior` between neighbours.
fn pad(e: &mut Emitter, v: &V, value: f64, low: &[i64], high: &[i64], interior: &[i64]) -> V {
    let fill = e.scalar(value, Elem::F64);
    let shape: Vec<usize> = (0..v.ty.shape.len())
        .map(|d| {
            let n = v.ty.shape[d] as i64;
            (n + low[d] + high[d] + (n - 1).max(0) * interior[d]).max(0) as usize
        })
        .collect();
    let ty = Ty::new(&shape, Elem::F64);
    let l = |xs: &[i64]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
    e.op(
        &format!(
            "stablehlo.pad {}, {}, low = [{}], high = [{}], interior = [{}] : ({}, {}) -> {ty}",
            v.name,
            fill.name,
            l(low),
            l(high),
            l(interior),
            v.ty,
            fill.ty
        ),
        ty,
    )
}

/// The lowering of a pooling node (`args` as the primitive takes them).
pub fn pool(e: &mut Emitter, p: &Pool, args: &[V], out: &Ty) -> Lowered {
    let arg = |k: usize| args.get(k).cloned().ok_or_else(|| "a missing operand".to_string());
    let s = &p.spec;
    let pads = s.padding.map(|a| a.map(|x| x as i64));
    let scale = 1.0 / (s.size[0] * s.size[1]) as f64;
    let windows = window_attrs(s, pads, s.stride);
    let x = e.f64(arg(0)?);
    if x.ty.shape.len() != 4 || out.shape.len() != 4 {
        return Err("a pooling whose operand is not 4-d".into());
    }
    match p.role {
        PoolRole::Max => Ok(reduce_window(e, &x, f64::NEG_INFINITY, "maximum", &windows, &out.shape)),
        PoolRole::Avg => {
            let sum = reduce_window(e, &x, 0.0, "add", &windows, &out.shape);
            let k = e.full(scale, &sum.ty);
            Ok(elementwise(e, "multiply", &sum, &k))
        }
        PoolRole::AvgSpread => {
            // Each gradient element, scaled, spread over its window: the
            // gradient dilated by the stride and padded so that a unit-stride
            // window sum over it lands on the input's positions.
            let k = e.full(scale, &x.ty);
            let g = elementwise(e, "multiply", &x, &k);
            let (mut low, mut high, mut interior) = (vec![0i64; 4], vec![0i64; 4], vec![0i64; 4]);
            for d in 0..2 {
                let (size, outn) = (out.shape[2 + d] as i64, g.ty.shape[2 + d] as i64);
                low[2 + d] = s.size[d] as i64 - 1 - pads[d][0];
                high[2 + d] = size + pads[d][0] - (outn - 1) * s.stride[d] as i64 - 1;
                interior[2 + d] = s.stride[d] as i64 - 1;
            }
            let spread = pad(e, &g, 0.0, &low, &high, &interior);
            let unit = window_attrs(s, [[0, 0], [0, 0]], [1, 1]);
            Ok(reduce_window(e, &spread, 0.0, "add", &unit, &out.shape))
        }
        PoolRole::MaxScatter => {
            // Each gradient element added at its window's maximum of the
            // input, padded with -inf (never chosen) and cropped back.
            let (g, src) = (x, e.f64(arg(1)?));
            let [[t, b], [l, r]] = pads;
            let padded = pad(e, &src, f64::NEG_INFINITY, &[0, 0, t, l], &[0, 0, b, r], &[0, 0, 0, 0]);
            let zero = e.scalar(0.0, Elem::F64);
            let select = ge_region(e);
            let add = binary_region(e, "add");
            let ty = padded.ty.clone();
            let scattered = e.op(
                &format!(
                    "\"stablehlo.select_and_scatter\"({}, {}, {}) <{{{}}}> ({select}, {add}) : ({}, {}, {}) -> {ty}",
                    padded.name,
                    g.name,
                    zero.name,
                    window_attrs(s, [[0, 0], [0, 0]], s.stride),
                    padded.ty,
                    g.ty,
                    zero.ty
                ),
                ty,
            );
            let [h, w] = [out.shape[2], out.shape[3]];
            let oty = Ty::new(&out.shape, Elem::F64);
            Ok(e.op(
                &format!(
                    "stablehlo.slice {} [0:{}, 0:{}, {t}:{}, {l}:{}] : ({}) -> {oty}",
                    scattered.name,
                    out.shape[0],
                    out.shape[1],
                    t as usize + h,
                    l as usize + w,
                    scattered.ty
                ),
                oty,
            ))
        }
        PoolRole::MaxGather => {
            // The values at each window's maximum of the input: a window
            // reduction over (input, values) pairs that keeps the pair with
            // the larger input.
            let (v, src) = (x, e.f64(arg(1)?));
            let (lowest, zero) = (e.scalar(f64::NEG_INFINITY, Elem::F64), e.scalar(0.0, Elem::F64));
            let body = region(e, 4, "tensor<f64>", |e, a| {
                let (c, m, g) = (e.fresh(), e.fresh(), e.fresh());
                (
                    format!(
                        "      {c} = stablehlo.compare GE, {a0}, {a2}, FLOAT : (tensor<f64>, tensor<f64>) -> tensor<i1>\n\
                         \x20     {m} = stablehlo.select {c}, {a0}, {a2} : tensor<i1>, tensor<f64>\n\
                         \x20     {g} = stablehlo.select {c}, {a1}, {a3} : tensor<i1>, tensor<f64>\n",
                        a0 = a[0],
                        a1 = a[1],
                        a2 = a[2],
                        a3 = a[3]
                    ),
                    vec![m, g],
                )
            });
            let ty = Ty::new(&out.shape, Elem::F64);
            let pair = e.ops(
                &format!(
                    "\"stablehlo.reduce_window\"({}, {}, {}, {}) <{{{}}}> ({body}) : ({}, {}, {}, {}) -> ({ty}, {ty})",
                    src.name, v.name, lowest.name, zero.name, windows, src.ty, v.ty, lowest.ty, zero.ty
                ),
                &[ty.clone(), ty],
            );
            pair.into_iter().nth(1).ok_or_else(|| "a missing result".to_string())
        }
    }
}

/// `a op b` for two values of the same type.
fn elementwise(e: &mut Emitter, op: &str, a: &V, b: &V) -> V {
    let ty = a.ty.clone();
    e.op(&format!("stablehlo.{op} {}, {} : {ty}", a.name, b.name), ty)
}
