import jax, jax.numpy as jnp, optax
jax.config.update("jax_enable_x64", True)
p0 = {"w": jnp.array([1.0, -2.0, 0.3]), "b": jnp.array(0.5)}
loss = lambda p: sum(jnp.sum(x**4) / 4 + jnp.sum(x) for x in jax.tree.leaves(p)) + p["b"] * jnp.sum(p["w"])
def run(opt, n=3):
    p = p0; s = opt.init(p)
    for _ in range(n):
        g = jax.grad(loss)(p)
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
    return p
for name, opt in [
    ("momentum", optax.sgd(0.1, momentum=0.9)),
    ("nesterov", optax.sgd(0.1, momentum=0.9, nesterov=True)),
    ("adam", optax.adam(0.1)),
    ("adamw", optax.adamw(0.1, weight_decay=0.01)),
    ("rmsprop", optax.rmsprop(0.1)),
    ("adagrad", optax.adagrad(0.1)),
    ("lion", optax.lion(0.1, weight_decay=0.01)),
]:
    p = run(opt)
    print(name, repr(float(p["b"])), [repr(float(x)) for x in p["w"]])
for name, f in [("exp", optax.exponential_decay(0.1, 10, 0.5)), ("cos", optax.cosine_decay_schedule(0.1, 100, alpha=0.1)),
                ("wc", optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100, end_value=0.01))]:
    print(name, [repr(float(f(s))) for s in (0, 5, 50, 150)])
g = {"a": jnp.array([3.0, 4.0]), "b": jnp.array(12.0)}
print(optax.clip_by_global_norm(1.0).update(g, None)[0])
