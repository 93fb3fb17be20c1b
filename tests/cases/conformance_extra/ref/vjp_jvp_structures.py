from ref import *
def f(x, w, b): return {"loss": jnp.sum(x * w) ** 2, "parts": (x * 2.0, b * x[0])}
x = jnp.array([1.0, -2.0, 0.5]); w = jnp.array([0.3, 0.1, -0.4]); b = 1.5
out, pull = jax.vjp(f, x, w, b)
P({"label": "out", "loss": out["loss"], "parts": out["parts"]})
gx, gw, gb = pull({"loss": 1.0, "parts": (jnp.array([1.0, 0.0, -1.0]), 2.0)})
P(gx); P({"b": gb, "w": gw})
a = jnp.array([2.0, -1.0, 0.5])
def g(x, y): return (jnp.sum(a * jnp.sin(x)) * y, {"z": x * y * 3.0})
o, t = jax.jvp(g, (jnp.array([0.1, 0.2, 0.3]), 2.0), (jnp.array([1.0, 0.0, 0.0]), 0.5))
P(o); P(t)
s = lambda x: jnp.sum(jnp.tanh(x) * x); v = jnp.array([0.3, -0.7, 1.1])
_, tn = jax.jvp(s, (x,), (v,)); P(tn, jnp.sum(jax.grad(s)(x) * v))
P(jax.jvp(lambda t: t ** 3, (2.0,), (1.0,)))
