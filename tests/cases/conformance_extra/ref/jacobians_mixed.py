from ref import *
w = jnp.array([[0.2, -0.5, 1.0], [0.3, 0.8, -0.1]]); idx = jnp.array([2, 0, 5, 3])
def f(x):
    m = x.reshape(2, 3); h = jax.nn.softmax(m @ w.T, axis=-1)
    flat = (h * m[:, 1:]).reshape(-1); g = x[idx]
    return jnp.concatenate([flat * g, x[::-2]])
x = jnp.array([0.5, -1.0, 2.0, 0.1, 0.7, -0.3])
j = jax.jacfwd(f)(x)
P(tuple(j.shape)); P(j)
def s(x): return jax.nn.logsumexp(x.reshape(3, 2) @ jnp.array([1.0, -2.0])) + jnp.sum(x[1:4] ** 3) * x[0]
h = jax.hessian(s)(x); P(tuple(h.shape)); P(h)
P(jax.hessian(lambda t: t ** 4 + jnp.sin(t))(1.2))
P((2, 2, 2, 2))
P(jax.jacfwd(lambda m: jnp.sum(m, axis=0))(jnp.ones((3, 2))))
