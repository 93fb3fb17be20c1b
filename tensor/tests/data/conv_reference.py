# Reference values for tensor/tests/conv.rs: JAX float64 conv_general_dilated
# and reduce_window, their VJPs. Inputs are closed-form so the Rust test can
# rebuild them: x[i] = sin(0.37 i + 0.1), w[i] = 0.5 cos(0.53 i),
# cotangent c[i] = sin(0.3 i) - 0.2; checksums are sum(v[i] * cos(0.7 i + 0.2)).
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
lax = jax.lax
def fx(shape): return jnp.sin(0.37*jnp.arange(np.prod(shape))+0.1).reshape(shape)
def fw(shape): return 0.5*jnp.cos(0.53*jnp.arange(np.prod(shape))).reshape(shape)
def fc(shape): return (jnp.sin(0.3*jnp.arange(np.prod(shape)))-0.2).reshape(shape)
def ck(v): v=np.asarray(v).ravel(); return float(np.sum(v*np.cos(0.7*np.arange(v.size)+0.2)))
def conv(xs, ws, stride, pad, dil, groups):
    x, w = fx(xs), fw(ws)
    f = lambda x, w: lax.conv_general_dilated(x, w, stride, pad, rhs_dilation=dil, feature_group_count=groups,
        dimension_numbers=("NCHW","OIHW","NCHW"), precision=lax.Precision.HIGHEST)
    y, vjp = jax.vjp(f, x, w)
    gx, gw = vjp(fc(y.shape))
    print(f"conv {xs} {ws} {stride} {pad} {dil} {groups}: out {y.shape} y={ck(y)!r} gx={ck(gx)!r} gw={ck(gw)!r} y0={float(y.ravel()[0])!r}")
conv((2,3,7,6),(4,3,3,2),(1,1),((0,0),(0,0)),(1,1),1)
conv((2,3,7,6),(4,3,3,2),(2,1),((1,2),(0,1)),(1,2),1)
conv((3,4,6,5),(6,2,3,3),(2,2),"SAME",(1,1),2)
conv((1,2,1,9),(3,2,1,4),(1,3),((0,0),(2,1)),(1,1),1)
def pool(xs, size, stride, pad, kind, ties=False):
    x = fx(xs)
    if ties: x = jnp.floor(2*x)
    pads = ((0,0),(0,0))+tuple(pad)
    if kind=="max":
        f = lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (1,1)+size, (1,1)+stride, pads)
    else:
        f = lambda x: lax.reduce_window(x, 0.0, lax.add, (1,1)+size, (1,1)+stride, pads)/(size[0]*size[1])
    y, vjp = jax.vjp(f, x)
    (gx,) = vjp(fc(y.shape))
    print(f"{kind}pool {xs} {size} {stride} {pad} ties={ties}: out {y.shape} y={ck(y)!r} gx={ck(gx)!r}")
pool((2,3,7,6),(3,2),(2,2),((1,1),(0,1)),"max")
pool((2,3,7,6),(3,2),(2,2),((1,1),(0,1)),"avg")
pool((2,3,7,6),(3,3),(1,1),((1,1),(1,1)),"max",True)
pool((2,2,5,5),(2,2),(2,2),((0,0),(0,0)),"max",True)
