# Generates tests/cases/math/numpy_surface.dp: all/any/count_nonzero over axes,
# nonzero/where(cond)/argwhere/flatnonzero (with size=/fill_value=), eye/identity,
# sort/argsort descending, unique with its extras and pad's modes (values and
# derivatives to order 2), each against jax.numpy in float64.
# Run: python3 tests/cases/math/data/gen_numpy_surface.py > tests/cases/math/numpy_surface.dp
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)

def L(a):
    a = np.asarray(a)
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        a = a.astype(float)
    return repr(a.tolist())

def T(a):
    return "tensor(%s)" % L(a)

out = []
def case(expr, val):
    if isinstance(val, (tuple, list)):
        out.append("assert_close(%s, (%s,), rtol=1e-10, atol=1e-12);" % (expr, ", ".join(L(v) for v in val)))
    elif isinstance(val, (bool, np.bool_)):
        out.append("assert(%s == %s);" % (expr, "true" if val else "false"))
    elif isinstance(val, (int, np.integer)) and not isinstance(val, bool):
        out.append("assert(%s == %d);" % (expr, int(val)))
    else:
        out.append("assert_close(%s, %s, rtol=1e-10, atol=1e-12);" % (expr, L(val)))
def shape(expr, s):
    out.append("assert(shape(%s) == %s);" % (expr, "(" + "".join("%d, " % d for d in s).rstrip(" ") + ")" if len(s) != 1 else "(%d,)" % s[0]))
def dtype(expr, name):
    out.append('assert(dtype(%s) == "%s");' % (expr, name))

B = jnp.array([[[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]], [[4.0, 5.0, 0.0], [6.0, float("nan"), 7.0]]])
M = jnp.array([[0.0, 1.5, 0.0, -2.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 4.0, 5.0]])
X = jnp.array([[3.0, 1.0, 2.5, -0.5], [0.5, -1.0, 4.0, 2.0], [1.5, 0.0, -2.0, 3.5]])
W = jnp.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 2.0, 1.5], [0.3, -0.7, 1.1, 2.2]])
V = jnp.array([1.0, -2.0, 0.5, 3.0])
R = jnp.array([2.0, 1.0, 2.0, 3.0, 1.0, 2.0])

# all / any / count_nonzero
out.append("# all, any, count_nonzero (NaN counts as true)")
for f, jf in [("all", jnp.all), ("any", jnp.any)]:
    case(f"{f}(B)", bool(jf(B)))
    for ax in ["0", "1", "-1", "(0, 2)", "(-1, 0)", "(0, 1, 2)"]:
        a = eval(ax)
        case(f"{f}(B, axis={ax})", jf(B, axis=a))
        case(f"{f}(B, axis={ax}, keepdims=true)", jf(B, axis=a, keepdims=True))
    case(f"{f}(B, keepdims=true)", jf(B, keepdims=True))
    case(f"{f}(zeros((0, 3)), axis=0)", jf(jnp.zeros((0, 3)), axis=0))
    case(f"{f}(M > 0, axis=1)", jf(M > 0, axis=1))
    dtype(f"{f}(B, axis=1)", "bool")
    case(f"vmap(|b| {f}(b, axis=0))(B)", jax.vmap(lambda b: jf(b, axis=0))(B))
    case(f"vmap(|b| {f}(b))(B)", jax.vmap(lambda b: jf(b))(B))
    case(f"jit(|b| {f}(b, axis=(0, 1)))(B)", jf(B, axis=(0, 1)))
case("count_nonzero(B)", int(jnp.count_nonzero(B)))
for ax in ["0", "-1", "(0, 2)"]:
    case(f"count_nonzero(B, axis={ax})", jnp.count_nonzero(B, axis=eval(ax)))
case("count_nonzero(B, axis=1, keepdims=true)", jnp.count_nonzero(B, axis=1, keepdims=True))
case("vmap(|m| count_nonzero(m))(M)", jax.vmap(jnp.count_nonzero)(M))
case("grad(|x| sum(x * any(x > 1.0, axis=0)))(X)", jax.grad(lambda x: jnp.sum(x * jnp.any(x > 1.0, axis=0)))(X))

# nonzero and friends
out.append("# nonzero, where(cond), argwhere, flatnonzero")
case("nonzero(M)", jnp.nonzero(M))
case("where(M)", jnp.where(M))
case("where(M > 0)", jnp.where(M > 0))
case("nonzero(V)", jnp.nonzero(V))
case("nonzero(B)", jnp.nonzero(B))
case("nonzero(M, size=7)", jnp.nonzero(M, size=7))
case("nonzero(M, size=3)", jnp.nonzero(M, size=3))
case("nonzero(M, size=7, fill_value=-1)", jnp.nonzero(M, size=7, fill_value=-1))
case("nonzero(M, size=7, fill_value=(9, 8))", jnp.nonzero(M, size=7, fill_value=(9, 8)))
case("argwhere(M)", jnp.argwhere(M))
case("argwhere(B > 2)", jnp.argwhere(B > 2))
case("argwhere(M, size=6, fill_value=-1)", jnp.argwhere(M, size=6, fill_value=-1))
shape("argwhere(zeros((2, 3)))", jnp.argwhere(jnp.zeros((2, 3))).shape)
shape("argwhere(3.0)", np.argwhere(3.0).shape)
case("flatnonzero(M)", jnp.flatnonzero(M))
case("flatnonzero(M, size=8, fill_value=-1)", jnp.flatnonzero(M, size=8, fill_value=-1))
case("flatnonzero(2.0)", jnp.flatnonzero(2.0))
case("vmap(|m| nonzero(m, size=2))(M)", jax.vmap(lambda m: jnp.nonzero(m, size=2))(M))
case("vmap(|m| argwhere(m, size=3, fill_value=-1))(M)", jax.vmap(lambda m: jnp.argwhere(m, size=3, fill_value=-1))(M))
case("vmap(|m| flatnonzero(m, size=1))(M)", jax.vmap(lambda m: jnp.flatnonzero(m, size=1))(M))
case("vmap(|m| where(m, size=2))(M)" if False else "vmap(|m| nonzero(m, size=2, fill_value=7))(M)", jax.vmap(lambda m: jnp.nonzero(m, size=2, fill_value=7))(M))

# eye / identity
out.append("# eye(n, m, k), identity(n)")
for args, kw in [((3,), {}), ((2, 4), {}), ((4, 2), {}), ((3,), {"k": 1}), ((3, 4), {"k": -2}), ((3, 4), {"k": 2}), ((3,), {"k": 5}), ((0,), {}), ((2, 0), {})]:
    s = ", ".join(str(a) for a in args) + "".join(f", {k}={v}" for k, v in kw.items())
    if args == (0,) or args == (2, 0):
        shape(f"eye({s})", jnp.eye(*args, **kw).shape)
    else:
        case(f"eye({s})", jnp.eye(*args, **kw))
case("eye(3, m=2, k=-1)", jnp.eye(3, M=2, k=-1))
case("identity(3)", jnp.identity(3))

# sort / argsort descending
out.append("# sort and argsort with descending=true (stable: ties keep their order)")
case("sort(X, descending=true)", jnp.sort(X, descending=True))
case("sort(X, axis=0, descending=true)", jnp.sort(X, axis=0, descending=True))
case("argsort(X, descending=true)", jnp.argsort(X, descending=True))
case("argsort(X, axis=0, descending=true)", jnp.argsort(X, axis=0, descending=True))
case("argsort(R, descending=true)", jnp.argsort(R, descending=True))
case("argsort(R)", jnp.argsort(R))
case("sort(R, descending=true)", jnp.sort(R, descending=True))
N = jnp.array([1.0, float("nan"), 3.0, -1.0])
case("argsort(N, descending=true)", jnp.argsort(N, descending=True))
case("sort(tensor([1.0, 3.0, -1.0, 2.0]), descending=false)", jnp.sort(jnp.array([1.0, 3.0, -1.0, 2.0])))
g = lambda f: jax.grad(f)(X)
case("grad(|x| sum(sort(x, descending=true) ** 3 * W))(X)", g(lambda x: jnp.sum(jnp.sort(x, descending=True) ** 3 * W)))
case("grad(|x| sum(sort(x, axis=0, descending=true) * W))(X)", g(lambda x: jnp.sum(jnp.sort(x, axis=0, descending=True) * W)))
case("grad(|x| sum(grad(|y| sum(sort(y, descending=true) ** 3 * W))(x) * W))(X)",
     jax.grad(lambda x: jnp.sum(jax.grad(lambda y: jnp.sum(jnp.sort(y, descending=True) ** 3 * W))(x) * W))(X))
case("jvp(|x| sort(x, descending=true), (X,), (W,))[1]", jax.jvp(lambda x: jnp.sort(x, descending=True), (X,), (W,))[1])
case("vmap(|r| sort(r, descending=true))(X)", jax.vmap(lambda r: jnp.sort(r, descending=True))(X))
case("vmap(|r| argsort(r, descending=true))(X)", jax.vmap(lambda r: jnp.argsort(r, descending=True))(X))
case("jit(|x| sort(x, axis=0, descending=true))(X)", jnp.sort(X, axis=0, descending=True))

# unique with extras
out.append("# unique(x, return_index, return_inverse, return_counts)")
U = jnp.array([[3.0, 1.0, 3.0], [2.0, 1.0, 5.0]])
case("unique(U)", jnp.unique(U))
case("unique(U, return_index=true)", jnp.unique(U, return_index=True))
case("unique(U, return_inverse=true)", jnp.unique(U, return_inverse=True))
case("unique(U, return_counts=true)", jnp.unique(U, return_counts=True))
case("unique(U, return_index=true, return_counts=true)", jnp.unique(U, return_index=True, return_counts=True))
case("unique(U, return_index=true, return_inverse=true, return_counts=true)", jnp.unique(U, return_index=True, return_inverse=True, return_counts=True))
shape("unique(U, return_inverse=true)[1]", jnp.unique(U, return_inverse=True)[1].shape)
case("unique(R, return_inverse=true, return_counts=true)", jnp.unique(R, return_inverse=True, return_counts=True))

# pad modes
out.append("# pad with mode edge / reflect / symmetric / wrap, widths past the axis length too")
P = jnp.array([1.0, -2.0, 0.5])
Q = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
for mode in ["edge", "reflect", "symmetric", "wrap", "constant"]:
    for pw, jpw in [("2", 2), ("(1, 3)", (1, 3)), ("(5, 7)", (5, 7)), ("0", 0)]:
        case(f'pad(P, {pw}, mode="{mode}")', jnp.pad(P, jpw, mode=mode))
    for pw, jpw in [("1", 1), ("((1, 2), (3, 0))", ((1, 2), (3, 0))), ("((0, 3), (4, 5))", ((0, 3), (4, 5)))]:
        case(f'pad(Q, {pw}, mode="{mode}")', jnp.pad(Q, jpw, mode=mode))
    case(f'pad(tensor([7.0]), 3, mode="{mode}")', jnp.pad(jnp.array([7.0]), 3, mode=mode))
    WQ = jnp.arange(1.0, 1.0 + (2 + 3) * (3 + 5)).reshape(5, 8) / 7.0
    f = lambda q, mode=mode: jnp.sum(WQ * jnp.pad(q, ((1, 2), (2, 3)), mode=mode) ** 3)
    case(f'grad(|q| sum(WQ * pad(q, ((1, 2), (2, 3)), mode="{mode}") ** 3))(Q)', jax.grad(f)(Q))
    case(f'grad(|q| sum(grad(|r| sum(WQ * pad(r, ((1, 2), (2, 3)), mode="{mode}") ** 3))(q) * Q))(Q)',
         jax.grad(lambda q: jnp.sum(jax.grad(f)(q) * Q))(Q))
    case(f'hessian(|p| sum(tensor({L(jnp.arange(1.0, 12.0))}) * pad(p, (3, 5), mode="{mode}") ** 3))(P)',
         jax.hessian(lambda p: jnp.sum(jnp.arange(1.0, 12.0) * jnp.pad(p, (3, 5), mode=mode) ** 3))(P))
    case(f'jvp(|q| pad(q, 2, mode="{mode}"), (Q,), (Q * Q,))[1]', jax.jvp(lambda q: jnp.pad(q, 2, mode=mode), (Q,), (Q * Q,))[1])
    case(f'vmap(|r| pad(r, (2, 4), mode="{mode}"))(Q)', jax.vmap(lambda r: jnp.pad(r, (2, 4), mode=mode))(Q))
    case(f'jit(|q| pad(q, (1, 4), mode="{mode}"))(Q)', jnp.pad(Q, (1, 4), mode=mode))
case('grad(|v| sum(vmap(|r| pad(r, 3, mode="reflect"))(v) ** 2))(Q)',
     jax.grad(lambda v: jnp.sum(jax.vmap(lambda r: jnp.pad(r, 3, mode="reflect"))(v) ** 2))(Q))

print("# all/any/count_nonzero over axes, nonzero/where(cond)/argwhere/flatnonzero, eye/identity,")
print("# sort/argsort descending, unique's extras and pad's modes (issue 11) against jax.numpy float64.")
print("# Generated by tests/cases/math/data/gen_numpy_surface.py; do not edit by hand.")
print("let nan = 0.0 / 0.0;")
print("let B = tensor(%s);" % L(B).replace("nan", "nan"))
for name, val in [("M", M), ("X", X), ("W", W), ("V", V), ("R", R), ("U", U), ("P", P), ("Q", Q)]:
    print("let %s = %s;" % (name, T(val)))
print("let N = tensor([1.0, nan, 3.0, -1.0]);")
print("let WQ = %s;" % T(jnp.arange(1.0, 1.0 + 5 * 8).reshape(5, 8) / 7.0))
for line in out:
    print(line)
print('print("ok");')
