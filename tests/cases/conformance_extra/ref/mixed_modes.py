from ref import *
A = jnp.array
f = lambda x: jnp.sum(jnp.sin(x) * x ** 2) + jnp.prod(x[:2]) * jax.nn.logsumexp(x)
x = A([0.3, -1.2, 0.8]); v = A([1.0, 0.5, -2.0])
P(jax.jvp(jax.grad(f), (x,), (v,))[1]); P(jax.hessian(f)(x))
g = lambda x: x * jnp.exp(x)
P(jax.grad(lambda x: jax.vjp(g, x)[1](1.0)[0])(0.5))
P(jax.grad(lambda c: jnp.sum(jax.vjp(lambda t: t ** 3, A([1.0, 2.0]))[1](c)[0]))(A([1.0, 1.0])))
P({"a": A([2.0, 4.0]), "b": (1.0, A([6.0]))}); P({"a": A([6.0, 12.0]), "b": (3.0, A([18.0]))})
P({"a": jnp.exp(A([1.0, 2.0])), "b": (0.0, A([0.0]))})
P(12.0)
params = {"a": A([1.0, 2.0]), "b": (0.5, A([3.0]))}
l2 = lambda p: sum(jnp.sum(l ** 2) for l in jax.tree_util.tree_leaves(p))
def after(lr):
    gr = jax.grad(l2)(params); return l2(jax.tree_util.tree_map(lambda p, g: p - lr * g, params, gr))
P(after(0.1), jax.grad(after)(0.1))
