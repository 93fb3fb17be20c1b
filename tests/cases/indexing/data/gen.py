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

if __name__ == "__main__":
    print({"at_updates": at_updates, "masks": masks}[sys.argv[1]]())
