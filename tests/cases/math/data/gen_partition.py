"""Generates tests/cases/math/partition.dp: `partition` and `argpartition`
(issue 11). dp returns the sorted lane, which meets NumPy's contract: the
generator checks that NumPy's own np.partition puts the same values at every
kth position (the rest of NumPy's order is unspecified), and takes values and
derivatives from JAX float64's sort (jnp.partition orders the rest its own way).

Run: python3 tests/cases/math/data/gen_partition.py > tests/cases/math/partition.dp
"""
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
L = lambda a: repr(np.asarray(a).tolist())
out = []


def case(name, val):
    out.append((name, L(val)))


v = np.array([3.0, -1.0, 4.0, 1.5, -5.0, 9.0, 2.0])
M = np.array([[3.0, 1.0, 2.5, -0.5], [0.5, -1.0, 4.0, 2.0], [1.5, 0.0, -2.0, 3.5]])
W = np.cos(np.arange(7.0))
WM = np.sin(np.arange(12.0)).reshape(3, 4)
# NumPy's contract at each kth agrees with the sorted lane.
for a, kth, axis in [(v, 0, -1), (v, 3, -1), (v, 6, -1), (v, (1, 5), -1), (v, -2, -1), (M, 1, 0), (M, (0, 2), 1), (M, 5, None)]:
    p = np.partition(a, kth, axis=axis)
    s = np.sort(a, axis=axis)
    for k in np.atleast_1d(kth):
        assert np.array_equal(np.take(p, k, axis=-1 if axis is None else axis), np.take(s, k, axis=-1 if axis is None else axis))

S = lambda a, axis=-1: jnp.sort(jnp.asarray(a), axis=axis)
for k in ["0", "3", "6", "(1, 5)", "-2"]:
    case(f"partition(v, {k})", S(v))
case("partition(M, 1, axis=0)", S(M, 0))
case("partition(M, (0, 2))", S(M))
case("partition(M, 5, axis=none)", jnp.sort(jnp.asarray(M).ravel()))
case("argpartition(v, 3)", jnp.argsort(jnp.asarray(v), stable=True).astype(float))
case("argpartition(M, 1, axis=0)", jnp.argsort(jnp.asarray(M), axis=0, stable=True).astype(float))
case("grad(|x| sum(partition(x, 3) * W))(v)", jax.grad(lambda x: jnp.sum(jnp.sort(x) * W))(jnp.asarray(v)))
case("grad(|x| sum(grad(|y| sum(partition(y, 2) ** 3 * W))(x) * W))(v)",
     jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(jnp.sort(y) ** 3 * W))(x) * W))(jnp.asarray(v)))
case("grad(|x| sum(partition(x, (0, 1), axis=0) ** 2 * WM))(M)", jax.grad(lambda x: jnp.sum(jnp.sort(x, axis=0) ** 2 * WM))(jnp.asarray(M)))
case("jvp(|x| partition(x, 1), (M,), (WM,))[1]", jax.jvp(lambda x: jnp.sort(x), (jnp.asarray(M),), (jnp.asarray(WM),))[1])
case("vmap(|r| partition(r, 2))(M)", jax.vmap(jnp.sort)(jnp.asarray(M)))
case("vmap(|r| argpartition(r, 0), in_axes=1)(M)", jax.vmap(lambda r: jnp.argsort(r, stable=True).astype(float), in_axes=1)(jnp.asarray(M)))

print("# partition and argpartition (issue 11): the sorted lane, which meets NumPy's contract (see")
print("# tests/cases/math/data/gen_partition.py, which generates this file), against JAX float64.")
for name, val in [("v", v), ("M", M), ("W", W), ("WM", WM)]:
    print(f"let {name} = tensor({L(val)});")
for n, val in out:
    print(f"assert_close({n}, {val}, rtol=1e-10, atol=1e-12);")
print('print("ok");')
