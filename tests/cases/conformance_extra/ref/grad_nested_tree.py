from ref import *
w = jnp.array([[1.0, -2.0], [0.5, 3.0]]); a = 0.25; v = jnp.array([2.0, -1.0])
def f(w, a, v):
    return jnp.sum(w @ v) * a + jnp.sum(jnp.exp(v) * 7.0) + 2.0 * a ** 2
gw, ga, gv = jax.grad(f, argnums=(0, 1, 2))(w, a, v)
P({"extra": (ga, None, (None, gv)), "layer": {"name": None, "units": None, "w": gw}, "tag": None})
P(None, None, None, None, None)
P(f(w, a, v))
def h(x, y, b0, b1): return x * b0 + jnp.sum(y) * b1 ** 2
g = jax.grad(h, argnums=(0, 1, 2, 3))(3.0, jnp.array([1.0, 2.0]), 2.0, -1.5)
P({"k": None, "x": g[0], "y": g[1]})
P((g[2], g[3], None))
