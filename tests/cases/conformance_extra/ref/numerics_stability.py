from ref import *
A = jnp.array; g = jax.grad
x = A([-800.0, -40.0, -1e-10, 0.0, 1e-12, 3.5, 40.0, 800.0])
P(jax.nn.sigmoid(x)); P(jax.nn.softplus(x)); P(jnp.tanh(x))
P(jnp.log1p(A([1e-15, -0.5, 3.0])), jnp.expm1(A([1e-15, -1e-10, 2.0])))
P(g(lambda v: jnp.sum(jax.nn.sigmoid(v)))(x)); P(g(lambda v: jnp.sum(jax.nn.softplus(v)))(x)); P(g(lambda v: jnp.sum(jnp.tanh(v)))(x))
P(g(lambda v: jnp.sum(jnp.log1p(v) + jnp.expm1(v)))(A([1e-15, -0.5, 3.0])))
P(g(lambda v: jnp.sum(jnp.exp(v) * jnp.cos(v) + jnp.tan(v) / 3.0))(A([0.1, -0.7, 1.2])))
P(g(jax.nn.logsumexp)(A([-1000.0, -1000.0, 0.0])), jax.nn.logsumexp(A([-1000.0, -1000.0])))
P(g(jnp.std)(A([1.0, 1.0, 1.0])), g(jnp.std)(A([1.0, 2.0, 4.0])), g(lambda v: jnp.sum(jnp.var(v, 0)))(A([[1.0], [3.0]])))
P(g(lambda v: jnp.sum(jax.nn.log_softmax(v) * A([1.0, 0.0, 0.0])))(A([1000.0, 0.0, -1000.0])))
P(np.exp(709.0), np.inf, float(np.log(1e-320)), float(np.sqrt(1e-320)), np.inf)
