from ref import *
def loss(w, x, y):
    pred = x @ w; target = jax.lax.stop_gradient(0.5 * pred + 0.5 * y)
    return jnp.mean((pred - target) ** 2) + 0.01 * jnp.sum(w ** 2)
P(jax.grad(loss)(jnp.array([0.4, -0.2]), jnp.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]]), jnp.array([1.0, 0.0, 2.0])))
P(jnp.array([1.0, 2.0])); P(0.0)
def h(a, b, k): return jnp.sum(a * b) * k + k ** 3
g = jax.grad(h, argnums=(0, 2))(jnp.array([1.0, 2.0]), jnp.array([0.5, -0.5]), 1.5)
P((g[0], {"k": g[1], "s": None}))
P(2, None); P(True); P(True)
