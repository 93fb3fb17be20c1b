import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
r = lambda a: [[repr(float(v)) for v in row] for row in jnp.atleast_2d(a)]
x = jnp.sin(jnp.arange(12.0)).reshape(3, 4)
print("ln", r((x - x.mean(-1, keepdims=True)) / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5) * 2.0 + 0.5))
q = jnp.cos(jnp.arange(12.0)).reshape(3, 4); k = jnp.sin(jnp.arange(12.0) * 0.7).reshape(3, 4); v = jnp.arange(6.0).reshape(3, 2)
sc = q @ k.T / 2.0
print("att", r(jax.nn.softmax(jnp.where(jnp.tril(jnp.ones((3, 3))) > 0, sc, -jnp.inf), -1) @ v))
print("att_nc", r(jax.nn.softmax(sc, -1) @ v))
W = lambda s, n: jnp.sin(jnp.arange(n * 1.0) * s).reshape(-1)
h = jnp.array([[0.1, -0.2]]); xx = jnp.array([[0.5, -1.0, 2.0]])
def mat(s, a, b): return jnp.sin(jnp.arange(a * b * 1.0) * s + s).reshape(a, b)
wz, wr, wn = mat(1, 3, 2), mat(2, 3, 2), mat(3, 3, 2); uz, ur, un = mat(4, 2, 2), mat(5, 2, 2), mat(6, 2, 2)
b = jnp.array([0.1, -0.1])
z = jax.nn.sigmoid(xx @ wz + h @ uz + b); rr = jax.nn.sigmoid(xx @ wr + h @ ur + b); n = jnp.tanh(xx @ wn + rr * (h @ un) + b)
print("gru", r((1 - z) * n + z * h))
c = jnp.array([[0.3, 0.4]])
gi, gf, gg, go = [xx @ mat(s, 3, 2) + h @ mat(s + 4, 2, 2) + b for s in (1, 2, 3, 4)]
c2 = jax.nn.sigmoid(gf) * c + jax.nn.sigmoid(gi) * jnp.tanh(gg)
print("lstm", r(jax.nn.sigmoid(go) * jnp.tanh(c2)), r(c2))
