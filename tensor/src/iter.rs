//! Strided n-d iteration machinery shared by the kernels.

/// Row-major contiguous strides for `shape`.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc: isize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.wrapping_mul(shape[i].max(1) as isize);
    }
    strides
}

/// Merges adjacent dimensions that are contiguous with respect to each other
/// for every operand, and drops size-1 dimensions. Returns the (possibly
/// empty) coalesced shape and per-operand strides.
pub(crate) fn coalesce<const N: usize>(shape: &[usize], strides: [&[isize]; N]) -> (Vec<usize>, [Vec<isize>; N]) {
    let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
    let mut out_strides: [Vec<isize>; N] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        if let Some(&last_n) = out_shape.last() {
            // Can the previous (outer) dim merge with this (inner) one?
            let mergeable = (0..N).all(|k| {
                let outer = *out_strides[k].last().unwrap_or(&0);
                outer == strides[k][d].wrapping_mul(n as isize)
            });
            if mergeable {
                let l = out_shape.len() - 1;
                out_shape[l] = last_n * n;
                for k in 0..N {
                    out_strides[k][l] = strides[k][d];
                }
                continue;
            }
        }
        out_shape.push(n);
        for k in 0..N {
            out_strides[k].push(strides[k][d]);
        }
    }
    (out_shape, out_strides)
}

/// Calls `f(offsets, len, inner_strides)` once for every innermost row of the
/// (coalesced) iteration space. `offsets` are the starting element offsets of
/// the row for each operand. Nothing is called when the space is empty.
#[inline]
pub(crate) fn for_each_row<const N: usize>(
    shape: &[usize],
    strides: [&[isize]; N],
    offsets: [isize; N],
    mut f: impl FnMut([isize; N], usize, [isize; N]),
) {
    if shape.contains(&0) {
        return;
    }
    let (shape, strides) = coalesce(shape, strides);
    let nd = shape.len();
    if nd == 0 {
        f(offsets, 1, [0; N]);
        return;
    }
    let len = shape[nd - 1];
    let inner: [isize; N] = std::array::from_fn(|k| strides[k][nd - 1]);
    if nd == 1 {
        f(offsets, len, inner);
        return;
    }
    let outer = &shape[..nd - 1];
    let mut idx = vec![0usize; nd - 1];
    let mut cur = offsets;
    loop {
        f(cur, len, inner);
        // increment odometer
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..N {
                cur[k] += strides[k][d];
            }
            if idx[d] < outer[d] {
                break;
            }
            for k in 0..N {
                cur[k] -= strides[k][d] * outer[d] as isize;
            }
            idx[d] = 0;
        }
    }
}

/// [`for_each_row`] over the slab `lo..hi` of the first axis of `shape`
/// (which must have at least one axis): the rows of the elements whose first
/// index lies in `lo..hi`, in row-major order. Lets the pieces of a split
/// kernel walk their own part of a broadcast.
#[inline]
pub(crate) fn for_each_row_in<const N: usize>(
    shape: &[usize],
    strides: [&[isize]; N],
    offsets: [isize; N],
    (lo, hi): (usize, usize),
    f: impl FnMut([isize; N], usize, [isize; N]),
) {
    let Some((_, rest)) = shape.split_first() else {
        return for_each_row(shape, strides, offsets, f);
    };
    let mut sub = Vec::with_capacity(shape.len());
    sub.push(hi.saturating_sub(lo));
    sub.extend_from_slice(rest);
    let start: [isize; N] = std::array::from_fn(|k| offsets[k] + lo as isize * strides[k][0]);
    for_each_row(&sub, strides, start, f);
}
