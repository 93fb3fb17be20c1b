from ref import *
g = jax.grad; a = jnp.array
P(g(jax.nn.relu)(0.0), g(jnp.abs)(0.0), g(jnp.abs)(-2.0), g(jnp.sqrt)(0.0), g(jnp.sign)(0.5), g(jnp.floor)(1.5), g(jnp.round)(2.2))
P(g(lambda x: jnp.maximum(x, 1.0))(1.0), g(lambda x: jnp.minimum(x, 1.0))(1.0), g(lambda x: jnp.maximum(x, x))(3.0))
P(g(lambda x: jnp.sum(jnp.minimum(jnp.maximum(x, -1.0), 1.0)))(a([-1.0, -0.5, 1.0, 2.0])))
P(g(lambda x: jnp.max(x))(a([1.0, 3.0, 3.0, 2.0])), g(lambda x: jnp.min(x))(a([0.0, 0.0, 0.0, 1.0])))
P(g(lambda x: jnp.sum(jnp.max(x, axis=1)))(a([[1.0, 1.0], [0.0, 2.0]])))
P(g(lambda x: jnp.sum(jnp.min(x, axis=0, keepdims=True) * a([1.0, 10.0])))(a([[5.0, 1.0], [5.0, 3.0]])))
P(g(lambda x: jnp.sum(jnp.where(x > 0, x ** 2, -x)))(a([-1.0, 0.0, 2.0])))
P(g(lambda x: jnp.sum(jnp.where(a([True, False, True]), x, 2.0 * x)))(a([1.0, 1.0, 1.0])))
P(g(lambda x: jnp.sum(jax.nn.relu(x)) + jnp.sum(jnp.abs(x)))(a([-1.0, 0.0, 1.0])))
P(g(lambda x: jnp.sum(jnp.maximum(x, a([0.0, 1.0, 5.0]))))(a([0.0, 1.0, 2.0])))
P(a([1.0, 1.0, 1.0]))
P(a([0.0, 1.0]))
