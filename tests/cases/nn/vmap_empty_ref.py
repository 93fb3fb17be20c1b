# JAX float64 shapes for tests/cases/nn/vmap_empty_batch.dp: every conv and
# pool vmapped over 0 examples, each in_axes combination, and the gradients.
import jax, jax.numpy as jnp
from jax import lax
jax.config.update("jax_enable_x64", True)

def conv(x, w, stride, pad, dil, groups):
    nd = x.ndim - 2
    t = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)
    dn = ("NCH", "OIH", "NCH") if nd == 1 else ("NCHW", "OIHW", "NCHW")
    return lax.conv_general_dilated(x, w, t(stride), [(p, p) for p in t(pad)], rhs_dilation=t(dil),
                                    dimension_numbers=dn, feature_group_count=groups)

def pool(x, size, stride, pad, kind):
    nd = x.ndim - 2
    t = lambda v: (v,) * nd if isinstance(v, int) else tuple(v)
    win = (1, 1) + t(size); st = (1, 1) + t(stride); pads = [(0, 0), (0, 0)] + [(p, p) for p in t(pad)]
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, win, st, pads)
    s = lax.reduce_window(x, 0.0, lax.add, win, st, pads)
    return s / jnp.prod(jnp.array(t(size)))   # count_include_pad, as dp's avg_pool

convs = [
    ("conv1d", (2, 4, 7), (6, 2, 3), dict(stride=2, pad=1, dil=1, groups=2)),
    ("conv1d dilated", (1, 2, 9), (3, 2, 2), dict(stride=1, pad=2, dil=3, groups=1)),
    ("conv2d", (2, 3, 6, 5), (4, 3, 3, 2), dict(stride=(2, 1), pad=1, dil=(1, 2), groups=1)),
    ("conv2d grouped", (1, 3, 5, 5), (6, 1, 2, 2), dict(stride=1, pad=0, dil=1, groups=3)),
]
for name, xs, ws, kw in convs:
    f = lambda x, w: conv(x, w, kw["stride"], kw["pad"], kw["dil"], kw["groups"])
    X0, W0 = jnp.zeros((0,) + xs), jnp.zeros((0,) + ws)
    x, w = jnp.ones(xs), jnp.ones(ws)
    a = jax.vmap(f, in_axes=(0, None))(X0, w).shape
    b = jax.vmap(f, in_axes=(None, 0))(x, W0).shape
    c = jax.vmap(f)(X0, W0).shape
    gw = jax.grad(lambda w: jnp.sum(jax.vmap(f, in_axes=(0, None))(X0, w)))(w)
    gx = jax.grad(lambda x: jnp.sum(jax.vmap(f, in_axes=(None, 0))(x, W0)))(x)
    pe = jax.vmap(jax.grad(lambda x, w: jnp.sum(f(x, w)), argnums=(0, 1)), in_axes=(0, None))(X0, w)
    print(name, a, b, c, float(jnp.abs(gw).max()), float(jnp.abs(gx).max()), pe[0].shape, pe[1].shape)
pools = [
    ("max_pool1d", (2, 3, 7), dict(size=3, stride=2, pad=1), "max"),
    ("max_pool2d", (2, 3, 6, 5), dict(size=(3, 2), stride=1, pad=1), "max"),
    ("avg_pool1d", (2, 3, 7), dict(size=2, stride=2, pad=0), "avg"),
    ("avg_pool2d", (2, 3, 6, 5), dict(size=3, stride=2, pad=1), "avg"),
]
for name, xs, kw, kind in pools:
    f = lambda x: pool(x, kw["size"], kw["stride"], kw["pad"], kind)
    X0 = jnp.zeros((0,) + xs)
    pe = jax.vmap(jax.grad(lambda x: jnp.sum(f(x))))(X0)
    print(name, jax.vmap(f)(X0).shape, jax.grad(lambda X: jnp.sum(jax.vmap(f)(X)))(X0).shape, pe.shape)
