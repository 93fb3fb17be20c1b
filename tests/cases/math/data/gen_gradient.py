"""Generates tests/cases/math/gradient.dp: `gradient` (issue 11, NumPy's
np.gradient) against float64 references: the values from NumPy itself, and
derivatives from JAX applied to a JAX transcription of NumPy's algorithm
(`np_gradient` below, checked against np.gradient first; jnp.gradient has no
edge_order=2). First and second derivatives in the samples and in the
coordinates, jvp and vmap.

Run: python3 tests/cases/math/data/gen_gradient.py > tests/cases/math/gradient.dp
"""
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
L = lambda a: repr(np.asarray(a).tolist())
out = []


def case(name, val):
    out.append((name, L(val)))


def sl(a, axis, start, stop):
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(start, stop)
    return a[tuple(idx)]


def along(f, h, axis, edge_order):
    """NumPy's np.gradient along one axis, in jnp (h: a number or coordinates)."""
    n = f.shape[axis]
    if jnp.ndim(h) == 0:
        if edge_order == 1:
            lo = (sl(f, axis, 1, 2) - sl(f, axis, 0, 1)) / h
            hi = (sl(f, axis, -1, None) - sl(f, axis, -2, -1)) / h
        else:
            lo = (-1.5 / h) * sl(f, axis, 0, 1) + (2.0 / h) * sl(f, axis, 1, 2) + (-0.5 / h) * sl(f, axis, 2, 3)
            hi = (0.5 / h) * sl(f, axis, -3, -2) + (-2.0 / h) * sl(f, axis, -2, -1) + (1.5 / h) * sl(f, axis, -1, None)
        inner = (sl(f, axis, 2, None) - sl(f, axis, None, -2)) / (2.0 * h)
    else:
        shape = [1] * f.ndim
        shape[axis] = n - 1
        dx = jnp.diff(h).reshape(shape)
        d = lambda s, e: sl(dx, axis, s, e)
        if edge_order == 1:
            lo = (sl(f, axis, 1, 2) - sl(f, axis, 0, 1)) / d(0, 1)
            hi = (sl(f, axis, -1, None) - sl(f, axis, -2, -1)) / d(-1, None)
        else:
            d1, d2 = d(0, 1), d(1, 2)
            a = -(2.0 * d1 + d2) / (d1 * (d1 + d2))
            b = (d1 + d2) / (d1 * d2)
            c = -d1 / (d2 * (d1 + d2))
            lo = a * sl(f, axis, 0, 1) + b * sl(f, axis, 1, 2) + c * sl(f, axis, 2, 3)
            d1, d2 = d(-2, -1), d(-1, None)
            a = d2 / (d1 * (d1 + d2))
            b = -(d2 + d1) / (d1 * d2)
            c = (2.0 * d2 + d1) / (d2 * (d1 + d2))
            hi = a * sl(f, axis, -3, -2) + b * sl(f, axis, -2, -1) + c * sl(f, axis, -1, None)
        d1, d2 = d(None, -1), d(1, None)
        a = -d2 / (d1 * (d1 + d2))
        b = (d2 - d1) / (d1 * d2)
        c = d1 / (d2 * (d1 + d2))
        inner = a * sl(f, axis, None, -2) + b * sl(f, axis, 1, -1) + c * sl(f, axis, 2, None)
    parts = [lo, inner, hi] if n > 2 else [lo, hi]
    return jnp.concatenate(parts, axis=axis)


def np_gradient(f, *spacing, axis=None, edge_order=1):
    axes = list(range(f.ndim)) if axis is None else ([axis] if isinstance(axis, int) else list(axis))
    axes = [a % f.ndim for a in axes]
    if not spacing:
        hs = [1.0] * len(axes)
    elif len(spacing) == 1 and jnp.ndim(spacing[0]) == 0:
        hs = list(spacing) * len(axes)
    else:
        hs = list(spacing)
    res = [along(f, h, a, edge_order) for a, h in zip(axes, hs)]
    return res[0] if len(res) == 1 else tuple(res)


rng = np.random.default_rng(11)
F1 = np.round(rng.normal(size=6), 3)
F2 = np.round(rng.normal(size=(4, 5)), 3)
F3 = np.round(rng.normal(size=(3, 4, 3)), 3)
C5 = np.array([0.0, 0.3, 1.0, 1.2, 2.5])
C4 = np.array([-1.0, -0.2, 0.5, 2.0])
C6 = np.array([0.0, 0.5, 0.7, 1.6, 2.0, 3.1])
W2 = np.round(rng.normal(size=(4, 5)), 3)

# The transcription agrees with NumPy (which treats evenly spaced coordinates as a step).
for args, kw in [((F2,), {}), ((F2, C4, C5), {}), ((F2, 0.5, 2.0), dict(edge_order=2)), ((F2, C4, C5), dict(edge_order=2)),
                 ((F1, C6), dict(edge_order=2)), ((F3,), dict(axis=(2, 0))), ((F3, 0.7), dict(axis=-1, edge_order=2))]:
    want, got = np.gradient(*args, **kw), np_gradient(*(jnp.asarray(a) for a in args), **kw)
    for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
        assert np.allclose(w, g, rtol=1e-13, atol=1e-13), (args, kw)

n = lambda *a, **k: np.gradient(*a, **k)
case("gradient(F1)", n(F1))
case("gradient(F1, 0.5)", n(F1, 0.5))
case("gradient(F1, C6)", n(F1, C6))
case("gradient(F1, edge_order=2)", n(F1, edge_order=2))
case("gradient(F1, C6, edge_order=2)", n(F1, C6, edge_order=2))
case("gradient(F1[:2])", n(F1[:2]))
case("gradient(F1[:3], edge_order=2)", n(F1[:3], edge_order=2))
case("gradient(F2)[0]", n(F2)[0])
case("gradient(F2)[1]", n(F2)[1])
case("gradient(F2, 0.5, 2.0)[1]", n(F2, 0.5, 2.0)[1])
case("gradient(F2, C4, C5, edge_order=2)[0]", n(F2, C4, C5, edge_order=2)[0])
case("gradient(F2, C4, C5, edge_order=2)[1]", n(F2, C4, C5, edge_order=2)[1])
case("gradient(F2, C5, axis=1)", n(F2, C5, axis=1))
case("gradient(F2, 3.0, axis=-1, edge_order=2)", n(F2, 3.0, axis=-1, edge_order=2))
case("gradient(F3, axis=(2, 0))[0]", n(F3, axis=(2, 0))[0])
case("gradient(F3, axis=(2, 0))[1]", n(F3, axis=(2, 0))[1])
case("gradient(F3, 0.7, axis=1, edge_order=2)", n(F3, 0.7, axis=1, edge_order=2))

J = lambda *a, **k: np_gradient(*(jnp.asarray(x) for x in a), **k)
# Derivatives in the samples (linear: constant in F) and in the coordinates and steps.
case("grad(|f| sum(gradient(f, C4, C5, edge_order=2)[0] * W2))(F2)",
     jax.grad(lambda f: jnp.sum(J(f, C4, C5, edge_order=2)[0] * W2))(jnp.asarray(F2)))
case("grad(|f| sum(gradient(f, axis=1) * W2))(F2)", jax.grad(lambda f: jnp.sum(J(f, axis=1) * W2))(jnp.asarray(F2)))
case("grad(|c| sum(gradient(F2, C4, c, edge_order=2)[1] * W2))(C5)",
     jax.grad(lambda c: jnp.sum(J(F2, C4, c, edge_order=2)[1] * W2))(jnp.asarray(C5)))
case("grad(|c| sum(gradient(F2, c, C5)[0] * W2))(C4)", jax.grad(lambda c: jnp.sum(J(F2, c, C5)[0] * W2))(jnp.asarray(C4)))
case("grad(|h| sum(gradient(F2, h, edge_order=2)[1] * W2))(0.5)",
     jax.grad(lambda h: jnp.sum(J(F2, h, edge_order=2)[1] * W2))(0.5))
case("hessian(|c| sum(gradient(F1, c, edge_order=2) * F1))(C6)",
     jax.hessian(lambda c: jnp.sum(J(F1, c, edge_order=2) * F1))(jnp.asarray(C6)))
case("grad(|c| sum(grad(|f| sum(gradient(f, C4, c)[1] ** 2))(F2) * W2))(C5)",
     jax.grad(lambda c: jnp.sum(jax.grad(lambda f: jnp.sum(J(f, C4, c)[1] ** 2))(jnp.asarray(F2)) * W2))(jnp.asarray(C5)))
case("jvp(|f, c| gradient(f, c, edge_order=2), (F1, C6), (sin(F1), cos(C6) * 0.1))[1]",
     jax.jvp(lambda f, c: J(f, c, edge_order=2), (jnp.asarray(F1), jnp.asarray(C6)), (jnp.sin(F1), jnp.cos(C6) * 0.1))[1])
case("vmap(|r| gradient(r, C5, edge_order=2))(F2)", jax.vmap(lambda r: J(r, C5, edge_order=2))(jnp.asarray(F2)))
case("vmap(|c| gradient(F1, c))(stack((C6, C6 * 2.0)))", jax.vmap(lambda c: J(F1, c))(jnp.stack((C6, C6 * 2.0))))
case("vmap(|r| gradient(r, edge_order=2), in_axes=1)(F2)", jax.vmap(lambda r: J(r, edge_order=2), in_axes=1)(jnp.asarray(F2)))
case("vmap(grad(|r| sum(gradient(r, C5) ** 2)))(F2)", jax.vmap(jax.grad(lambda r: jnp.sum(J(r, C5) ** 2)))(jnp.asarray(F2)))

print("# gradient (issue 11, NumPy's np.gradient) against NumPy values and JAX derivatives, float64.")
print("# Generated by tests/cases/math/data/gen_gradient.py.")
for name, v in [("F1", F1), ("F2", F2), ("F3", F3), ("C4", C4), ("C5", C5), ("C6", C6), ("W2", W2)]:
    print(f"let {name} = tensor({L(v)});")
for nm, v in out:
    print(f"assert_close({nm}, {v}, rtol=1e-10, atol=1e-12);")
print("# One axis gives a tensor, several a tuple (in the order asked).")
print("print(gradient(F2, axis=0).shape, len(gradient(F3)), len(gradient(F3, axis=(0, -1))));")
print("# Linear in the samples: the second derivative in them is zero.")
print("print(all(hessian(|f| sum(gradient(f, C6, edge_order=2) * F1))(F1) == 0.0));")
print('print("ok");')
