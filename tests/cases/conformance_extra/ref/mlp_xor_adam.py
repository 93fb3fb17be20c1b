from ref import *
x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]); y = jnp.array([0.0, 1.0, 1.0, 0.0])
params = {"l1": {"w": jnp.array([[0.5, -0.4, 0.3, 0.8], [-0.6, 0.7, 0.9, -0.2]]), "b": jnp.array([0.1, -0.1, 0.0, 0.05])},
          "l2": {"w": jnp.array([[0.7], [-0.5], [0.6], [0.4]]), "b": jnp.array([0.0])}}
def fwd(p, x):
    h = jnp.tanh(x @ p["l1"]["w"] + p["l1"]["b"])
    return jax.nn.sigmoid(h @ p["l2"]["w"] + p["l2"]["b"]).reshape(-1)
def loss(p):
    pr = fwd(p, x); return -jnp.mean(y * jnp.log(pr) + (1 - y) * jnp.log(1 - pr))
tm = jax.tree_util.tree_map
m = tm(jnp.zeros_like, params); v = tm(jnp.zeros_like, params); t = 0
first = None
for i in range(300):
    l, g = jax.value_and_grad(loss)(params)
    if i == 0: first = l
    t += 1
    m = tm(lambda m, g: 0.9 * m + (1 - 0.9) * g, m, g)
    v = tm(lambda v, g: 0.999 * v + (1 - 0.999) * g * g, v, g)
    c1 = 1 - 0.9 ** t; c2 = 1 - 0.999 ** t
    params = tm(lambda p, m, v: p - 0.05 * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), params, m, v)
P("initial loss", first); P("final loss", loss(params)); P("steps", t)
P("predictions", fwd(params, x)); P("classes", (fwd(params, x) > 0.5).astype(float))
