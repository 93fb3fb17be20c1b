from ref import *
x = jnp.array([[[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]], [[3.0, 1.0, -2.0], [0.25, 0.75, 1.0]]])
P(x.sum((0, -1)), x.mean(-2, keepdims=True).shape, x.prod(2))
P(x.var((0, 2)), x.std(-1), x.var(), x.std())
lse = jax.nn.logsumexp
P(lse(x, (1, 2)), lse(x, 0, keepdims=True).shape, x.max((0, 1)), x.min())
P(int(jnp.argmax(x)), int(jnp.argmin(x)), jnp.argmax(x, 1).astype(float), jnp.argmin(x, -1).astype(float), "int")
g = jax.grad
P(g(lambda x: jnp.sum(x.std((0, 2)) * jnp.array([1.0, 2.0])))(x))
P(g(lambda x: jnp.sum(lse(x, -1) ** 2))(x))
P(g(lambda x: jnp.sum(x.prod(1)))(x))
l = jnp.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0], [0.0, 0.0, 0.0], [-3.0, 1.0, 4.0]]); lab = jnp.array([0, 1, 2, 1])
P(jax.nn.softmax(l), jax.nn.log_softmax(l, axis=0))
P(jax.nn.one_hot(lab, 3), (2, 1, 2))
ce = lambda l: -jnp.mean(jnp.sum(jax.nn.one_hot(lab, 3) * jax.nn.log_softmax(l), 1))
P(ce(l)); P(g(ce)(l))
P(g(lambda l: jnp.sum(jax.nn.softmax(l, axis=0)[1] * jnp.array([1.0, -1.0, 2.0])))(l))
P(jax.nn.softmax(jnp.array([1000.0, 1000.0])), jax.nn.log_softmax(jnp.array([1000.0, 0.0])), lse(jnp.array([-1000.0, -1000.0])))
