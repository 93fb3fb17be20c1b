import numpy as np, math, sys
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)

def ffmt(x):
    x = float(x)
    if math.isnan(x): return "nan"
    if math.isinf(x): return "inf" if x > 0 else "-inf"
    return repr(x)

def fmt(v, top=True):
    if isinstance(v, bool): return "true" if v else "false"
    if v is None: return "none"
    if isinstance(v, int): return str(v)
    if isinstance(v, float): return ffmt(v)
    if isinstance(v, str): return v if top else '"' + v + '"'
    if isinstance(v, tuple):
        if len(v) == 1: return "(" + fmt(v[0], False) + ",)"
        return "(" + ", ".join(fmt(e, False) for e in v) + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(k + ": " + fmt(v[k], False) for k in sorted(v)) + "}"
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0: return ffmt(a)
    def rec(a):
        if a.ndim == 1: return "[" + ", ".join(ffmt(e) for e in a) + "]"
        return "[" + ", ".join(rec(e) for e in a) + "]"
    return rec(a)

def P(*xs):
    print(" ".join(fmt(x) for x in xs))
