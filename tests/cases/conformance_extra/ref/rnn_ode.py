from ref import *
A = jnp.array
def rnn(p, xs):
    h = jnp.zeros(2); outs = []
    for t in range(xs.shape[0]):
        h = jnp.tanh(p["wh"] @ h + p["wx"] * xs[t] + p["b"]); outs.append(p["wo"] @ h)
    return jnp.stack(outs)
p = {"wh": A([[0.5, -0.3], [0.2, 0.8]]), "wx": A([1.0, -0.5]), "b": A([0.1, 0.0]), "wo": A([1.0, 2.0])}
xs = A([0.5, -1.0, 0.25, 2.0, 0.0]); tg = A([0.1, 0.2, 0.3, 0.4, 0.5])
loss = lambda p: jnp.mean((rnn(p, xs) - tg) ** 2)
P(rnn(p, xs)); P(loss(p)); P(jax.grad(loss)(p))
def solve(k, y0):
    y = y0; t = 0.0
    for i in range(50):
        y = y + 0.02 * (-k * y + jnp.sin(t)); t = t + 0.02
    return y
P(solve(1.5, A([1.0, -2.0])))
dk, dy = jax.grad(lambda k, y0: jnp.sum(solve(k, y0) ** 2), argnums=(0, 1))(1.5, A([1.0, -2.0])); P(dk, dy)
P(jax.jacfwd(lambda y0: solve(1.5, y0))(A([1.0, -2.0])))
P(jax.grad(jax.grad(lambda k: jnp.sum(solve(k, A([1.0, -2.0])))))(1.5))
