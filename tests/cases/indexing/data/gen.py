"""Reference values for tests/cases/indexing/*.dp, from JAX float64.

Run: python3 tests/cases/indexing/data/gen.py NAME  (prints the body of NAME.dp).
Each check compares a dp expression with the same computation in JAX:
values, grad in x and v (reverse), jvp (forward) and second derivatives.
"""
import sys
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

def fmt(v):
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 0:
        return repr(float(v))
    return "[" + ", ".join(fmt(x) for x in v) + "]"

def close(dp, ref):
    return f"assert_close({dp}, {fmt(ref)}, rtol=1e-10, atol=1e-12);"

X = jnp.array([[0.3, -1.2, 2.0, 0.7], [1.5, 0.1, -0.4, 2.2], [-0.8, 0.9, 1.1, -2.5]])
W = jnp.array([[1.0, -0.5, 0.25, 2.0], [0.3, 1.5, -1.0, 0.8], [-0.7, 0.6, 1.2, -0.2]])
TX = jnp.array([[0.5, 0.1, -0.3, 1.0], [0.2, -0.6, 0.4, 0.9], [1.1, 0.0, -0.5, 0.3]])
U = jnp.array([[0.2, 0.4, -1.0, 0.5], [1.0, -0.3, 0.6, 0.1], [0.7, 0.8, -0.2, 0.9]])

HEAD = f"""let x = {fmt(X)};
let w = {fmt(W)};
let tx = {fmt(TX)};
let u = {fmt(U)};"""

def update(name, dp_at, jax_at, op, v, tv):
    """x.at[...].op(v): value, grads in x and v, jvp, and second derivatives
    of L(x, v) = sum(sin(x.at[...].op(v)) * w)."""
    v = jnp.asarray(v, dtype=jnp.float64)
    tv = jnp.asarray(tv, dtype=jnp.float64)
    # JAX differentiates `.mul` in v only with unique_indices=True (dp checks it).
    kw = {"unique_indices": True} if op == "mul" else {}
    f = lambda x, v: getattr(jax_at(x), op)(v, **kw)
    L = lambda x, v: jnp.sum(jnp.sin(f(x, v)) * W)
    dpf = f"x.at[{dp_at}].{op}(v)"
    dpL = f"|x, v| sum(sin(x.at[{dp_at}].{op}(v)) * w)"
    out = [f"# {name}: {dpf}", f"let v = {fmt(v)};", f"let tv = {fmt(tv)};"]
    out.append(close(dpf, f(X, v)))
    gx, gv = jax.grad(L, argnums=(0, 1))(X, v)
    out.append(close(f"grad({dpL}, (0, 1))(x, v)[0]", gx))
    out.append(close(f"grad({dpL}, (0, 1))(x, v)[1]", gv))
    out.append(close(f"jvp(|x, v| x.at[{dp_at}].{op}(v), (x, v), (tx, tv))[1]", jax.jvp(f, (X, v), (TX, tv))[1]))
    # Second order: the gradient of <grad_x L, u> in x and in v.
    h = jax.grad(lambda x, v: jnp.sum(jax.grad(L)(x, v) * U), argnums=(0, 1))(X, v)
    inner = f"|x, v| sum(grad({dpL})(x, v) * u)"
    out.append(close(f"grad({inner}, (0, 1))(x, v)[0]", h[0]))
    out.append(close(f"grad({inner}, (0, 1))(x, v)[1]", h[1]))
    # Forward over reverse: jvp of the gradient in v.
    out.append(close(f"jvp(|v| grad({dpL}, 1)(x, v), (v,), (tv,))[1]",
                     jax.jvp(lambda v: jax.grad(L, argnums=1)(X, v), (v,), (tv,))[1]))
    return "\n".join(out)

def at_updates():
    mask = X > 0.5
    parts = [HEAD,
        update("set a row", "1", lambda x: x.at[1], "set", [0.5, -0.25, 1.0, 2.0], [1.0, 0.5, -0.5, 0.2]),
        update("set a row from a scalar", "1", lambda x: x.at[1], "set", 0.75, 0.5),
        update("add into a slice", ":, 1:3", lambda x: x.at[:, 1:3], "add", [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1.0, 0.0], [0.5, 0.5], [-1.0, 2.0]]),
        update("mul one element", "2, 3", lambda x: x.at[2, 3], "mul", 1.5, 0.25),
        update("mul a strided slice", "::2, ::3", lambda x: x.at[::2, ::3], "mul", [[2.0, -1.0], [0.5, 3.0]], [[0.1, 0.2], [0.3, 0.4]]),
        update("add with repeated rows (accumulates)", "tensor([0, 2, 0])", lambda x: x.at[jnp.array([0, 2, 0])], "add",
               [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 0.0, 1.0, 2.0]],
               [[0.1, 0.2, 0.3, 0.4], [1.0, 1.0, 1.0, 1.0], [0.0, -0.5, 0.5, 0.0]]),
        update("set with an index tensor and an int", "tensor([2, 0]), 1", lambda x: x.at[jnp.array([2, 0]), 1], "set", [7.0, -3.0], [1.0, 2.0]),
        update("set through a mask", "x > 0.5", lambda x: x.at[mask], "set", 0.125, 1.0),
        update("mul through a mask", "x > 0.5", lambda x: x.at[mask], "mul", 3.0, -0.5),
        update("add through a row mask", "tensor([true, false, true])", lambda x: x.at[jnp.array([True, False, True])], "add", [1.0, 2.0, 3.0, 4.0], [0.5, 0.0, -0.5, 1.0]),
    ]
    return "\n".join(parts)

def masks():
    out = [HEAD]
    m = X > 0.5
    out.append("# x[mask] selects the true elements in row-major order (NumPy); differentiable in x.")
    out.append(close("x[x > 0.5]", X[m]))
    g = jax.grad(lambda x: jnp.sum(jnp.sin(x[m]) * jnp.arange(1.0, 1.0 + m.sum())))(X)
    out.append(close(f"grad(|y| sum(sin(y[x > 0.5]) * arange(1.0, {1.0 + float(m.sum())})))(x)", g))
    g2 = jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(jnp.sin(y[m]) ** 2))(x) * U))(X)
    out.append(close("grad(|y| sum(grad(|z| sum(sin(z[x > 0.5]) ** 2))(y) * u))(x)", g2))
    out.append(close("jvp(|y| y[x > 0.5], (x,), (tx,))[1]", TX[m]))
    rows = jnp.array([True, False, True])
    out.append("# A mask of the leading axes selects rows.")
    out.append(close("x[tensor([true, false, true])]", X[rows]))
    gr = jax.grad(lambda x: jnp.sum(jnp.cos(x[rows]) * W[:2]))(X)
    out.append(close("grad(|y| sum(cos(y[tensor([true, false, true])]) * w[:2]))(x)", gr))
    cols = jnp.array([False, True, True, False])
    out.append("# A mask after a slice selects along its own axis.")
    out.append(close("x[:, tensor([false, true, true, false])]", X[:, cols]))
    out.append(close("x[1, tensor([false, true, true, false])]", X[1, cols]))
    gc = jax.grad(lambda x: jnp.sum(x[:, cols] ** 3))(X)
    out.append(close("grad(|y| sum(y[:, tensor([false, true, true, false])] ** 3))(x)", gc))
    x3 = jnp.arange(24.0).reshape(2, 3, 4) / 7.0
    m2 = (jnp.arange(6).reshape(2, 3) % 2) == 0
    out.append("# A 2-d mask over the first two axes of a 3-d tensor.")
    out.append(f"let x3 = reshape(arange(24.0), (2, 3, 4)) / 7.0;")
    out.append(f"let m2 = reshape(arange(6.0), (2, 3)) % 2 == 0;")
    out.append(close("x3[m2]", x3[m2]))
    g3 = jax.grad(lambda x: jnp.sum(jnp.exp(x[m2] / 4.0)))(x3)
    out.append(close("grad(|y| sum(exp(y[m2] / 4.0)))(x3)", g3))
    out.append("# mean of a comparison is the fraction of true elements; sum counts them.")
    out.append(close("mean(x > 0.5)", jnp.mean(X > 0.5)))
    out.append(close("sum(x > 0.5, axis=0)", jnp.sum(X > 0.5, axis=0)))
    out.append("# A float tensor of 0/1 keeps its meaning: integer indices (a gather of rows 0 and 1).")
    out.append(close("x[tensor([0.0, 1.0, 1.0])]", X[jnp.array([0, 1, 1])]))
    return "\n".join(out)


def flat_positions(shape, idx, mode=None, wrap=True):
    """The flat positions x.at[idx] selects, in order (None: dropped), for
    an index tuple of ints, int arrays, slices and masks, as JAX resolves
    them under `mode` and `wrap_negative_indices`."""
    iota = np.arange(int(np.prod(shape))).reshape(shape)
    idx = idx if isinstance(idx, tuple) else (idx,)
    # Out-of-range ints go to a padded slot (-1) for drop; clip clamps.
    fixed, pad = [], []
    axis = 0
    for it in idx:
        if isinstance(it, (int, np.integer)) or (isinstance(it, np.ndarray) and it.dtype != bool):
            n = shape[axis]
            a = np.asarray(it)
            if wrap:
                a = np.where(a < 0, a + n, a)
            if mode == "clip":
                a = np.clip(a, 0, n - 1)
            elif mode in ("drop", "fill"):
                a = np.where((a < 0) | (a >= n), n, a)
                pad.append(axis)
            else:
                assert ((a >= 0) & (a < n)).all()
            fixed.append(a if a.ndim else int(a))
            axis += 1
        elif isinstance(it, np.ndarray):
            fixed.append(it)
            axis += it.ndim
        else:
            fixed.append(it)
            axis += 1
    widths = [(0, 1 if a in pad else 0) for a in range(len(shape))]
    padded = np.pad(iota, widths, constant_values=-1)
    return [None if p < 0 else int(p) for p in np.asarray(padded[tuple(fixed)]).ravel()]

def apply_ref(x, positions, f):
    """x.at[...].apply(f) as JAX's scatter_apply defines it: f once per
    occurrence, in order (differentiable, unlike scatter_apply)."""
    flat = x.ravel()
    for p in positions:
        if p is not None:
            flat = flat.at[p].set(f(flat[p]))
    return flat.reshape(x.shape)

def apply_case(name, dp_idx, idx, f_dp, f_jax, mode=None, wrap=True, x=None, xname="x"):
    """x.at[idx].apply(f): value (also against JAX's own .apply), grad, jvp
    and second derivatives of L(x) = sum(sin(.) * w)."""
    x = X if x is None else x
    kw = []
    if mode is not None:
        kw.append(f'mode="{mode}"')
    if not wrap:
        kw.append("wrap_negative_indices=false")
    kws = "".join(", " + k for k in kw)
    pos = flat_positions(x.shape, idx, mode, wrap)
    g = lambda y: apply_ref(y, pos, f_jax)
    jkw = {}
    if mode is not None:
        jkw["mode"] = mode
    if not wrap:
        jkw["wrap_negative_indices"] = False
    direct = x.at[idx].apply(f_jax, **jkw)
    assert np.allclose(direct, g(x), rtol=1e-14, atol=1e-14), name
    dpf = f"{xname}.at[{dp_idx}].apply({f_dp}{kws})"
    wt = W if x.shape == X.shape else jnp.cos(jnp.arange(x.size)).reshape(x.shape)
    L = lambda y: jnp.sum(jnp.sin(g(y)) * wt)
    wname = "w" if x.shape == X.shape else f"reshape(cos(arange({x.size}.0)), {x.shape})"
    dpL = f"|y| sum(sin(y.at[{dp_idx}].apply({f_dp}{kws})) * {wname})"
    out = [f"# {name}: {dpf}", close(dpf, direct)]
    out.append(close(f"grad({dpL})({xname})", jax.grad(L)(x)))
    t = jnp.cos(jnp.arange(x.size) * 0.7).reshape(x.shape)
    out.append(close(f"jvp(|y| y.at[{dp_idx}].apply({f_dp}{kws}), ({xname},), (reshape(cos(arange({x.size}.0) * 0.7), {x.shape}),))[1]",
                     jax.jvp(g, (x,), (t,))[1]))
    uu = jnp.sin(jnp.arange(x.size) * 1.3).reshape(x.shape)
    h = jax.grad(lambda y: jnp.sum(jax.grad(L)(y) * uu))(x)
    out.append(close(f"grad(|z| sum(grad({dpL})(z) * reshape(sin(arange({x.size}.0) * 1.3), {x.shape})))({xname})", h))
    return "\n".join(out)

def at_apply():
    sq = lambda v: v * v + 1.0
    out = [HEAD, "# x.at[...].apply(f): f elementwise at the selected elements, once per",
           "# occurrence (repeated indices apply it repeatedly, as JAX's scatter_apply).",
           "# JAX cannot differentiate scatter_apply: the derivatives here are those of",
           "# the same function written as one .set per occurrence."]
    out.append(apply_case("a row", "1", 1, "sin", jnp.sin))
    out.append(apply_case("a slice, a closure", ":, 1:3", (slice(None), slice(1, 3)), "|v| v * v + 1.0", sq))
    out.append(apply_case("repeated rows: twice", "tensor([0, 2, 0])", np.array([0, 2, 0]), "|v| 2.0 * v + 0.5", lambda v: 2.0 * v + 0.5))
    out.append(apply_case("one element three times", "1, tensor([3, 3, 1, 3])", (1, np.array([3, 3, 1, 3])), "sin", jnp.sin))
    out.append(apply_case("a mask", "x > 0.5", np.asarray(X > 0.5), "exp", jnp.exp))
    out.append(apply_case("drop out-of-range", "1, tensor([0, 5, -1, 0])", (1, np.array([0, 5, -1, 0])), "cos", jnp.cos, mode="drop"))
    out.append(apply_case("clip out-of-range", "tensor([-7, 4]), 2", (np.array([-7, 4]), 2), "tanh", jnp.tanh, mode="clip"))
    out.append(apply_case("negative without wrapping, dropped", "1, tensor([-1, 2, -4])", (1, np.array([-1, 2, -4])), "sin", jnp.sin, mode="drop", wrap=False))
    out.append(apply_case("negative without wrapping, clipped", "tensor([-1, 2, -1])", np.array([-1, 2, -1]), "sin", jnp.sin, mode="clip", wrap=False))
    out.append(apply_case("an empty selection", "tensor([true, false, true]), 1:1", (np.array([True, False, True]), slice(1, 1)), "sin", jnp.sin))
    # Through the closure: the derivative in a captured parameter.
    pos = flat_positions(X.shape, np.array([0, 2, 0]))
    Lc = lambda c: jnp.sum(jnp.sin(apply_ref(X, pos, lambda v: c * v * v)) * W)
    out.append("# The derivative through f's closure, first and second order.")
    out.append(close("grad(|c| sum(sin(x.at[tensor([0, 2, 0])].apply(|v| c * v * v)) * w))(0.7)", jax.grad(Lc)(0.7)))
    out.append(close("grad(grad(|c| sum(sin(x.at[tensor([0, 2, 0])].apply(|v| c * v * v)) * w)))(0.7)", jax.grad(jax.grad(Lc))(0.7)))
    out.append(close("jvp(|c| x.at[tensor([0, 2, 0])].apply(|v| c * v * v), (0.7,), (1.0,))[1]",
                     jax.jvp(lambda c: apply_ref(X, pos, lambda v: c * v * v), (0.7,), (1.0,))[1]))
    # vmap: shared indices, and indices that differ per example (with repeats).
    out.append("# vmap over the rows, with shared and with per-example indices.")
    idx_rows = np.array([[0, 0, 1], [3, 2, 3], [1, 1, 1]])
    rows_ref = jnp.stack([apply_ref(X[r], flat_positions((4,), idx_rows[r]), jnp.sin) for r in range(3)])
    out.append(close("vmap(|r| r.at[tensor([0, 2, 0])].apply(sin))(x)",
                     jnp.stack([apply_ref(X[r], [0, 2, 0], jnp.sin) for r in range(3)])))
    out.append(close(f"vmap(|r, i| r.at[i].apply(sin))(x, tensor({fmt(idx_rows)}))", rows_ref))
    gv = jax.grad(lambda y: jnp.sum(jnp.stack([apply_ref(y[r], flat_positions((4,), idx_rows[r]), jnp.sin) for r in range(3)]) * W))(X)
    out.append(close(f"grad(|y| sum(vmap(|r, i| r.at[i].apply(sin))(y, tensor({fmt(idx_rows)})) * w))(x)", gv))
    return "\n".join(out)

def wrap_case(dp_expr, value):
    return close(dp_expr, value)

def at_wrap():
    """wrap_negative_indices=false: negative ints are out of range, handled by mode=."""
    out = [HEAD, "# wrap_negative_indices=false: a negative int index is out of range (not",
           "# counted from the end) and mode= decides; slices are unaffected."]
    i = np.array([0, -1, 2, -4])
    ji = jnp.array(i)
    v = jnp.array([0.5, 1.0, -2.0, 3.0])
    out.append("let i = tensor([0, -1, 2, -4]);")
    out.append(f"let v = {fmt(v)};")
    for mode in ["clip", "drop", "fill"]:
        out.append(close(f'x.at[1, i].get(mode="{mode}", wrap_negative_indices=false)',
                         X.at[1, ji].get(mode=mode, wrap_negative_indices=False)))
        out.append(close(f'x.at[1, i].get(mode="{mode}", wrap_negative_indices=true)',
                         X.at[1, ji].get(mode=mode, wrap_negative_indices=True)))
        for op in ["set", "add", "mul", "min", "max"]:
            f = lambda y, vv, op=op, mode=mode: getattr(y.at[1, ji], op)(vv, mode=mode, wrap_negative_indices=False)
            out.append(close(f'x.at[1, i].{op}(v, mode="{mode}", wrap_negative_indices=false)', f(X, v)))
        g = jax.grad(lambda y, vv: jnp.sum(jnp.sin(y.at[1, ji].add(vv, mode=mode, wrap_negative_indices=False)) * W), argnums=(0, 1))(X, v)
        out.append(close(f'grad(|y, vv| sum(sin(y.at[1, i].add(vv, mode="{mode}", wrap_negative_indices=false)) * w), (0, 1))(x, v)[0]', g[0]))
        out.append(close(f'grad(|y, vv| sum(sin(y.at[1, i].add(vv, mode="{mode}", wrap_negative_indices=false)) * w), (0, 1))(x, v)[1]', g[1]))
    out.append(close('x.at[1, i].get(mode="fill", fill_value=-9.0, wrap_negative_indices=false)',
                     X.at[1, ji].get(mode="fill", fill_value=-9.0, wrap_negative_indices=False)))
    out.append("# A scalar negative index, a negative index in another axis, slices with negative bounds.")
    out.append(close('x.at[-1].get(mode="clip", wrap_negative_indices=false)', X.at[-1].get(mode="clip", wrap_negative_indices=False)))
    out.append(close('x.at[-1, 2].set(9.0, mode="drop", wrap_negative_indices=false)', X.at[-1, 2].set(9.0, mode="drop", wrap_negative_indices=False)))
    out.append(close('x.at[tensor([-3, 1]), -1].add(1.0, mode="clip", wrap_negative_indices=false)',
                     X.at[jnp.array([-3, 1]), -1].add(1.0, mode="clip", wrap_negative_indices=False)))
    out.append(close('x.at[-2:, :-1].mul(2.0, wrap_negative_indices=false)', X.at[-2:, :-1].multiply(2.0, wrap_negative_indices=False)))
    out.append(close('x.at[1, tensor([0, 2])].get(wrap_negative_indices=false)', X.at[1, jnp.array([0, 2])].get(wrap_negative_indices=False)))
    out.append(close('x.at[-1, 0].get(wrap_negative_indices=true)', X.at[-1, 0].get(wrap_negative_indices=True)))
    out.append("# Batched indices under vmap.")
    ib = np.array([[-1, 0], [2, -2], [3, 1]])
    out.append(close(f'vmap(|r, j| r.at[j].get(mode="fill", fill_value=0.0, wrap_negative_indices=false))(x, tensor({fmt(ib)}))',
                     jax.vmap(lambda r, j: r.at[j].get(mode="fill", fill_value=0.0, wrap_negative_indices=False))(X, jnp.array(ib))))
    out.append(close(f'vmap(|r, j| r.at[j].add(1.0, mode="clip", wrap_negative_indices=false))(x, tensor({fmt(ib)}))',
                     jax.vmap(lambda r, j: r.at[j].add(1.0, mode="clip", wrap_negative_indices=False))(X, jnp.array(ib))))
    return "\n".join(out)

if __name__ == "__main__":
    print({"at_updates": at_updates, "masks": masks, "at_apply": at_apply, "at_wrap": at_wrap}[sys.argv[1]]())
