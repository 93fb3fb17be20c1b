from ref import *
f = lambda x: jnp.sin(x) * jnp.exp(0.5 * x) + x ** 5 / 20.0
g = jax.grad
P(g(f)(0.7), g(g(f))(0.7), g(g(g(f)))(0.7), g(g(g(g(f))))(0.7))
P(g(g(g(g(f))))(0.7))
P(g(g(g(g(jnp.tanh))))(0.3))
P(g(g(g(g(jnp.log))))(2.0))
P(6.0)
P(g(lambda x: g(lambda y: x * y ** 3)(x))(1.5))
P(6.0)
