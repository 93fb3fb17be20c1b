from ref import *
x = jnp.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -1.5], [-2.0, -0.5], [0.5, -2.0], [1.5, -1.0]]); y = jnp.array([0, 0, 1, 1, 2, 2])
p = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
def loss(p):
    l = x @ p["w"] + p["b"]
    return -jnp.mean(jnp.sum(jax.nn.one_hot(y, 3) * jax.nn.log_softmax(l), 1)) + 1e-3 * jnp.sum(p["w"] ** 2)
h = []
for e in range(40):
    l, g = jax.value_and_grad(loss)(p)
    p = jax.tree_util.tree_map(lambda a, b: a - 0.5 * b, p, g)
    if e % 10 == 0: h.append(float(l))
P(tuple(h)); P(loss(p)); P(p)
lg = x @ p["w"] + p["b"]
P(float(jnp.mean(jnp.argmax(lg, 1) == y)), jnp.argmax(lg, 1).astype(float))
P(True)
