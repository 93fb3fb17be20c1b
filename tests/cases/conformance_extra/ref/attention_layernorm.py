from ref import *
def ln(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True); v = x.var(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(v + eps) * g + b
def att(p, x):
    q = x @ p["wq"]; k = x @ p["wk"]; v = x @ p["wv"]
    s = q @ jnp.transpose(k, (0, 2, 1)) / jnp.sqrt(2.0)
    mask = 1.0 - (jnp.arange(3.0).reshape(3, 1) < jnp.arange(3.0))
    s = jnp.where(mask != 0, s, -1e9)
    return ln(jax.nn.softmax(s, -1) @ v + x, p["g"], p["b"])
A = jnp.array
p = {"wq": A([[0.1, 0.2], [-0.3, 0.4]]), "wk": A([[0.5, -0.1], [0.2, 0.3]]), "wv": A([[1.0, 0.0], [0.5, -0.5]]), "g": A([1.0, 1.5]), "b": A([0.0, 0.1])}
x = A([[[1.0, 0.0], [0.5, -1.0], [2.0, 1.0]], [[-1.0, 1.0], [0.0, 0.0], [1.0, 3.0]]])
y = att(p, x); P(tuple(y.shape)); P(y)
def loss(p, x): return jnp.sum(att(p, x) * A([[1.0, -2.0]])) + 0.1 * jnp.sum(att(p, x)[:, -1] ** 2)
gp, gx = jax.grad(loss, argnums=(0, 1))(p, x); P(gp); P(gx)
P(jax.jacrev(lambda w: att({**p, "wq": w}, x)[1, 2])(p["wq"]))
