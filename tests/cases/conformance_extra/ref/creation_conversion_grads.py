from ref import *
A = jnp.array; g = jax.grad
P(g(lambda x: jnp.sum(jnp.full((2, 3), x) * jnp.arange(6.0).reshape(2, 3)))(0.5))
P(g(lambda x: jnp.sum(jnp.full((3,), x[0]) ** 2))(A([2.0])))
P(g(lambda a, b: jnp.sum(jnp.linspace(a, b, 5) ** 2), argnums=(0, 1))(1.0, 3.0))
P(jax.jacfwd(lambda p: jnp.linspace(p[0], p[1], 4))(A([-1.0, 2.0])))
P(np.linspace(-1.0, 2.0, 4), np.array([0.0]), np.array([-0.5, -0.5]))
P(g(lambda c: c[0] * c[1] + c[2] ** 3)(A([2.0, 3.0, -1.0])))
P(g(lambda m: m[0, 1] * m[1, 0])(A([[1.0, 2.0], [3.0, 4.0]])))
P(jax.jacrev(lambda v: jnp.stack([v[0] * v[1], v[1] ** 2, 1.0]))(A([3.0, 5.0])))
P(((0.0, 1.0), (2.0, 3.0)), 2.0, ())
