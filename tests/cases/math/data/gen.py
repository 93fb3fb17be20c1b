"""Reference values for tests/cases/math/*.dp, from JAX float64.

Run: python3 tests/cases/math/data/gen.py NAME  (prints the body of NAME.dp).
Each check compares a dp expression with the same computation in JAX:
values, grad (reverse), jvp (forward) and a second derivative.
"""
import sys
import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

def fmt(v):
    if isinstance(v, tuple):
        return "(" + ", ".join(fmt(x) for x in v) + ")"
    v = np.asarray(v, dtype=np.float64)
    def one(x):
        if np.isnan(x):
            return "nan"
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(float(x))
    if v.ndim == 0:
        return one(v)
    return "[" + ", ".join(fmt(x) for x in v) + "]"

HEAD = "let inf = 1.0 / 0.0;\nlet nan = 0.0 / 0.0;\n"

def close(dp, ref, tol="rtol=1e-10, atol=1e-12"):
    return f"assert_close({dp}, {fmt(ref)}, {tol});"

def unary(name, dpf, jf, xs, order2=True):
    """Value, grad, jvp and (optionally) second derivative of an elementwise unary function."""
    x = jnp.array(xs, dtype=jnp.float64)
    t = jnp.linspace(0.5, 1.5, len(xs))
    out = [f"# {name}", f"let x = {fmt(x)};", f"let t = {fmt(t)};"]
    out.append(close(f"{dpf}(x)", jf(x)))
    g = jax.grad(lambda x: jnp.sum(jf(x)))
    out.append(close(f"grad(|x| sum({dpf}(x)))(x)", g(x)))
    out.append(close(f"jvp(|x| {dpf}(x), (x,), (t,))[1]", jax.jvp(jf, (x,), (t,))[1]))
    if order2:
        g2 = jax.grad(lambda x: jnp.sum(g(x)))
        out.append(close(f"grad(|x| sum(grad(|y| sum({dpf}(y)))(x)))(x)", g2(x)))
    return "\n".join(out)

def binary(name, dpf, jf, a, b):
    a = jnp.array(a, dtype=jnp.float64)
    b = jnp.array(b, dtype=jnp.float64)
    ta = jnp.linspace(0.5, 1.5, len(a))
    tb = jnp.linspace(-1.0, 1.0, len(b))
    out = [f"# {name}", f"let a = {fmt(a)};", f"let b = {fmt(b)};", f"let ta = {fmt(ta)};", f"let tb = {fmt(tb)};"]
    out.append(close(f"{dpf}(a, b)", jf(a, b)))
    ga, gb = jax.grad(lambda a, b: jnp.sum(jf(a, b)), argnums=(0, 1))(a, b)
    out.append(close(f"grad(|a, b| sum({dpf}(a, b)), (0, 1))(a, b)[0]", ga))
    out.append(close(f"grad(|a, b| sum({dpf}(a, b)), (0, 1))(a, b)[1]", gb))
    out.append(close(f"jvp(|a, b| {dpf}(a, b), (a, b), (ta, tb))[1]", jax.jvp(jf, (a, b), (ta, tb))[1]))
    h = jax.grad(lambda a, b: jnp.sum(jax.grad(lambda a: jnp.sum(jf(a, b)))(a)), argnums=(0, 1))(a, b)
    out.append(close(f"grad(|a, b| sum(grad(|u| sum({dpf}(u, b)))(a)), (0, 1))(a, b)[0]", h[0]))
    out.append(close(f"grad(|a, b| sum(grad(|u| sum({dpf}(u, b)))(a)), (0, 1))(a, b)[1]", h[1]))
    return "\n".join(out)

def elementwise():
    pts = [-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 3.0]
    unit = [-0.9, -0.5, 0.0, 0.3, 0.75]
    pos = [0.1, 0.5, 1.0, 2.0, 7.5]
    big = [1.5, 2.0, 5.0, 30.0]
    parts = [
        unary("sinh", "sinh", jnp.sinh, pts),
        unary("cosh", "cosh", jnp.cosh, pts),
        unary("asinh / arcsinh", "asinh", jnp.arcsinh, pts),
        unary("arcsinh", "arcsinh", jnp.arcsinh, [0.0, 1e-8, 100.0]),
        unary("acosh / arccosh", "acosh", jnp.arccosh, big),
        unary("arccosh", "arccosh", jnp.arccosh, [1.0 + 1e-6, 1.25]),
        unary("atanh / arctanh", "atanh", jnp.arctanh, unit),
        unary("arctanh", "arctanh", jnp.arctanh, [1e-9, -0.99]),
        unary("arcsin / asin", "arcsin", jnp.arcsin, unit),
        unary("asin", "asin", jnp.arcsin, [0.999, -1e-7]),
        unary("arccos / acos", "arccos", jnp.arccos, unit),
        unary("acos", "acos", jnp.arccos, [0.999, -1e-7]),
        unary("arctan / atan", "arctan", jnp.arctan, pts),
        unary("atan", "atan", jnp.arctan, [1e6, -1e-9]),
        unary("log2", "log2", jnp.log2, pos),
        unary("log10", "log10", jnp.log10, pos),
        unary("exp2", "exp2", jnp.exp2, pts),
        unary("deg2rad", "deg2rad", jnp.deg2rad, pts),
        unary("rad2deg", "rad2deg", jnp.rad2deg, pts),
        unary("sinc (0 is a removable singularity: the Taylor series gives its derivatives)", "sinc", jnp.sinc, pts),
        # ceil: zero derivative everywhere.
        unary("ceil", "ceil", jnp.ceil, [-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.999]),
        # Edge values: the functions' domains.
        "# outside the domains: nan, and infinities at the ends",
        close("acosh([0.5, 1.0])", jnp.arccosh(jnp.array([0.5, 1.0]))),
        close("atanh([-1.0, 1.0, 2.0])", jnp.arctanh(jnp.array([-1.0, 1.0, 2.0]))),
        close("arcsin([1.0, -1.0, 1.5])", jnp.arcsin(jnp.array([1.0, -1.0, 1.5]))),
        close("grad(|x| sum(arcsin(x)))([1.0, -1.0])", jax.grad(lambda x: jnp.sum(jnp.arcsin(x)))(jnp.array([1.0, -1.0]))),
        close("log2([0.0, -1.0])", jnp.log2(jnp.array([0.0, -1.0]))),
        close("exp2([-inf, inf, -1074.0])", jnp.exp2(jnp.array([-np.inf, np.inf, -1074.0]))),
        close("sinc([1.0, 2.0, -3.0, 1e-5])", jnp.sinc(jnp.array([1.0, 2.0, -3.0, 1e-5]))),
    ]
    # sinc's higher derivatives at 0 come from its series (JAX: exact at every order).
    s = lambda x: jnp.sinc(x)
    d3 = jax.grad(jax.grad(jax.grad(s)))(0.0)
    d4 = jax.grad(jax.grad(jax.grad(jax.grad(s))))(0.0)
    parts.append(close("grad(grad(grad(sinc)))(0.0)", d3))
    parts.append(close("grad(grad(grad(grad(sinc))))(0.0)", d4, "rtol=1e-9, atol=1e-12"))
    return "# Elementwise functions (new in issue 11) against JAX float64: values, grad, jvp, second derivatives.\n# Generated by tests/cases/math/data/gen.py elementwise\n" + HEAD + "\n".join(parts) + "\n"

def binary_fns():
    a = [-2.0, -1.0, 0.0, 0.0, 1.5, 3.0, 1e-3]
    b = [1.0, -1.5, 2.0, -2.0, 0.0, 4.0, -1e-3]
    parts = [
        binary("atan2", "atan2", jnp.arctan2, a, b),
        close("atan2([0.0, -0.0, 0.0, -0.0], [0.0, 0.0, -1.0, -1.0])", jnp.arctan2(jnp.array([0.0, -0.0, 0.0, -0.0]), jnp.array([0.0, 0.0, -1.0, -1.0]))),
        close("atan2(1.0, [1.0, 2.0])", jnp.arctan2(1.0, jnp.array([1.0, 2.0]))),
        close("grad(|y| atan2(y, 2.0))(1.0)", jax.grad(lambda y: jnp.arctan2(y, 2.0))(1.0)),
        binary("hypot", "hypot", jnp.hypot, a, b),
        close("hypot([1e200, inf, 0.0], [1e200, nan, 0.0])", jnp.hypot(jnp.array([1e200, np.inf, 0.0]), jnp.array([1e200, np.nan, 0.0]))),
        close("grad(|a, b| hypot(a, b), (0, 1))(0.0, 0.0)", jax.grad(jnp.hypot, argnums=(0, 1))(0.0, 0.0)),
        binary("logaddexp (ties split the gradient)", "logaddexp", jnp.logaddexp, [-2.0, 0.0, 1.0, 700.0, -30.0, 5.0], [-2.0, -40.0, 3.0, 710.0, 0.0, 5.0]),
        close("logaddexp([-inf, inf, -inf], [-inf, 1.0, 2.0])", jnp.logaddexp(jnp.array([-np.inf, np.inf, -np.inf]), jnp.array([-np.inf, 1.0, 2.0]))),
    ]
    return "# Binary elementwise functions (issue 11) against JAX float64: values, grads, jvp, second derivatives.\n# Generated by tests/cases/math/data/gen.py binary\n" + HEAD + "\n".join(parts) + "\n"

def activations():
    pts = [-3.0, -1.0, -0.1, 0.0, 0.2, 1.0, 4.0]
    parts = [
        unary("gelu (tanh approximation, the default as in jax.nn.gelu)", "gelu", jax.nn.gelu, pts),
        unary("silu", "silu", jax.nn.silu, pts),
        unary("leaky_relu (derivative 1 at 0)", "leaky_relu", jax.nn.leaky_relu, pts),
        unary("leaky_relu with a slope", "(|x| leaky_relu(x, negative_slope=0.2))", lambda x: jax.nn.leaky_relu(x, 0.2), pts),
        unary("elu (derivative alpha at 0)", "elu", jax.nn.elu, pts),
        unary("elu with alpha", "(|x| elu(x, alpha=0.5))", lambda x: jax.nn.elu(x, 0.5), pts),
        unary("log_sigmoid", "log_sigmoid", jax.nn.log_sigmoid, pts + [-800.0, 800.0]),
        close("elu(1000.0)", jax.nn.elu(1000.0)),
        close("grad(elu)(-1000.0)", jax.grad(jax.nn.elu)(-1000.0)),
    ]
    return "# Activation functions (issue 11) against jax.nn in float64: values, grad, jvp, second derivatives.\n# Generated by tests/cases/math/data/gen.py activations\n" + HEAD + "\n".join(parts) + "\n"

def red(name, dpf, jf, x, kw_dp="", **kw):
    """A reduction's value and gradient (of the sum of its result), and jvp along ones."""
    x = jnp.array(x, dtype=jnp.float64)
    call = f"{dpf}(r{kw_dp})"
    fn = lambda x: jf(x, **kw)
    out = [f"# {name}: {call}", f"let r = {fmt(x)};", close(call, fn(x))]
    out.append(close(f"grad(|r| sum({call}))(r)", jax.grad(lambda x: jnp.sum(fn(x)))(x)))
    t = jnp.ones_like(x) * 0.5
    out.append(close(f"jvp(|r| {call}, (r,), (0.5 * ones_like(r),))[1]", jax.jvp(fn, (x,), (t,))[1]))
    return "\n".join(out)

def reductions():
    nan = np.nan
    x = [[1.0, nan, 3.0, -2.0], [nan, nan, nan, nan], [0.5, 2.0, 2.0, nan]]
    y = [[1.0, 4.0, 3.0, -2.0], [0.5, 2.0, 2.0, 7.0], [3.0, -1.0, 0.25, 1.5]]
    parts = ["let x = " + fmt(np.array(x)).replace("], [", "],\n  [") + ";", "let y = " + fmt(np.array(y)) + ";"]
    parts.append("# nan-aware reductions; nan entries get zero gradient. All-nan rows give nan (nansum 0).")
    xf = [[1.0, nan, 3.0, -2.0], [0.5, 2.0, 2.0, nan]]
    parts.append("let xf = " + fmt(np.array(xf)) + ";")
    for nm, jf in [("nansum", jnp.nansum), ("nanmean", jnp.nanmean), ("nanmax", jnp.nanmax), ("nanmin", jnp.nanmin), ("nanprod", jnp.nanprod), ("nanvar", jnp.nanvar), ("nanstd", jnp.nanstd)]:
        parts.append(red(nm, nm, jf, xf, ", axis=1", axis=1))
        parts.append(close(f"{nm}(xf)", jf(jnp.array(xf))))
        parts.append(close(f"{nm}(x, axis=0, keepdims=true)", jf(jnp.array(x), axis=0, keepdims=True)))
    with np.errstate(all="ignore"):
        parts.append(close("nanmean(x, axis=1)", np.nanmean(np.array(x), axis=1)))
        parts.append(close("nanmax(x, axis=1)", np.nanmax(np.array(x), axis=1)))
        parts.append(close("nansum(x, axis=1)", np.nansum(np.array(x), axis=1)))
    parts.append(red("nanvar ddof=1", "nanvar", jnp.nanvar, xf, ", axis=1, ddof=1", axis=1, ddof=1))
    parts.append(red("nanstd ddof=1", "nanstd", jnp.nanstd, xf, ", ddof=1", ddof=1))
    parts.append("# var / std with ddof")
    for d in [0, 1, 2]:
        parts.append(red(f"var ddof={d}", "var", jnp.var, y, f", axis=1, ddof={d}", axis=1, ddof=d))
        parts.append(red(f"std ddof={d}", "std", jnp.std, y, f", ddof={d}", ddof=d))
    parts.append(red("var ddof=1 keepdims", "var", jnp.var, y, ", axis=(0, 1), keepdims=true, ddof=1", axis=(0, 1), keepdims=True, ddof=1))
    parts.append(close("var([1.0, 2.0], ddof=2)", np.inf if False else jnp.var(jnp.array([1.0, 2.0]), ddof=2)))
    # second order through nanvar
    h = jax.hessian(lambda x: jnp.nanvar(x, ddof=1))(jnp.array([1.0, np.nan, 3.0, 0.5]))
    parts.append(close("hessian(|x| nanvar(x, ddof=1))([1.0, nan, 3.0, 0.5])", h))
    return "# nan-aware reductions and var/std with ddof against JAX float64.\n# Generated by tests/cases/math/data/gen.py reductions\n" + HEAD + "\n".join(parts) + "\n"

def lin(dp, jf, x, dpx="x"):
    """A linear rearrangement: value, and the gradient of sum(w * f(x)) for a fixed weight w."""
    y = jf(x)
    w = jnp.arange(1.0, y.size + 1.0).reshape(y.shape) if y.ndim else jnp.array(1.0)
    g = jax.grad(lambda x: jnp.sum(w * jf(x)))(x)
    return "\n".join([close(dp, y), f"let w = {fmt(w)};", close(f"grad(|{dpx}| sum(w * {dp}))({dpx})", g)])

def fmtn(v):
    v = np.asarray(v)
    if v.ndim <= 1:
        return fmt(v)
    return "[" + ", ".join(fmtn(r) for r in v) + "]"

def arrange():
    x = jnp.arange(24.0).reshape(2, 3, 4) * 0.5 - 3.0
    m = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    v = jnp.array([1.0, -2.0, 3.5])
    parts = ["let x = reshape(arange(24.0), (2, 3, 4)) * 0.5 - 3.0;", f"let m = {fmtn(m)};", f"let v = {fmt(v)};"]
    flat = lambda f: (lambda a: f(a))
    def L(dp, jf, arg="x"):
        val = {"x": x, "m": m, "v": v}[arg]
        y = jf(val)
        w = jnp.arange(1.0, y.size + 1.0).reshape(y.shape) * 0.25
        g = jax.grad(lambda a: jnp.sum(w * jf(a)))(val)
        call = dp.replace("@", arg)
        return "\n".join([
            close(f"flatten({call})", jnp.ravel(y)),
            close(f"shape({call})", np.array(y.shape, dtype=float)).replace("assert_close(shape", "assert_close(tensor(shape") .replace("), [", ")), [") if y.ndim > 1 else f"assert(shape({call}) == ({y.shape[0]},));" if y.ndim == 1 else "",
            f"let w = reshape(arange(1.0, {y.size + 1}.0) * 0.25, {tuple(y.shape) if len(y.shape) != 1 else '(' + str(y.shape[0]) + ',)'});",
            close(f"grad(|{arg}| sum(w * {call}))({arg})", jnp.ravel(g)).replace("assert_close(grad", "assert_close(flatten(grad").replace(f"))({arg}), [", f"))({arg})), ["),
        ])
    cases = [
        ("flip(@)", jnp.flip, "x"), ("flip(@, axis=1)", lambda a: jnp.flip(a, 1), "x"), ("flip(@, axis=(0, 2))", lambda a: jnp.flip(a, (0, 2)), "x"),
        ("roll(@, 2)", lambda a: jnp.roll(a, 2), "x"), ("roll(@, -1, axis=2)", lambda a: jnp.roll(a, -1, 2), "x"),
        ("roll(@, (1, 5), axis=(0, 1))", lambda a: jnp.roll(a, (1, 5), (0, 1)), "x"),
        ("rot90(@)", jnp.rot90, "m"), ("rot90(@, 2)", lambda a: jnp.rot90(a, 2), "m"), ("rot90(@, -1)", lambda a: jnp.rot90(a, -1), "m"),
        ("rot90(@, 1, axes=(1, 2))", lambda a: jnp.rot90(a, 1, (1, 2)), "x"),
        ("pad(@, 1)", lambda a: jnp.pad(a, 1), "m"), ("pad(@, (2, 0), constant_values=9.0)", lambda a: jnp.pad(a, (2, 0), constant_values=9.0), "v"),
        ("pad(@, ((0, 1), (2, 3)))", lambda a: jnp.pad(a, ((0, 1), (2, 3))), "m"),
        ("repeat(@, 2)", lambda a: jnp.repeat(a, 2), "m"), ("repeat(@, (1, 0, 3), axis=1)", lambda a: jnp.repeat(a, jnp.array([1, 0, 3]), axis=1), "m"),
        ("repeat(@, 2, axis=-1)", lambda a: jnp.repeat(a, 2, axis=-1), "x"),
        ("tile(@, 2)", lambda a: jnp.tile(a, 2), "v"), ("tile(@, (2, 1, 2))", lambda a: jnp.tile(a, (2, 1, 2)), "m"),
        ("moveaxis(@, 0, -1)", lambda a: jnp.moveaxis(a, 0, -1), "x"), ("moveaxis(@, (0, 1), (2, 0))", lambda a: jnp.moveaxis(a, (0, 1), (2, 0)), "x"),
        ("swapaxes(@, 0, 2)", lambda a: jnp.swapaxes(a, 0, 2), "x"),
        ("vstack((@, @ * 2.0))", lambda a: jnp.vstack((a, a * 2.0)), "v"), ("vstack((@, @))", lambda a: jnp.vstack((a, a)), "m"),
        ("hstack((@, @ * 2.0))", lambda a: jnp.hstack((a, a * 2.0)), "v"), ("hstack((@, @))", lambda a: jnp.hstack((a, a)), "m"),
        ("dstack((@, @))", lambda a: jnp.dstack((a, a)), "m"), ("dstack((@, @))", lambda a: jnp.dstack((a, a)), "v"),
        ("column_stack((@, @ * 3.0))", lambda a: jnp.column_stack((a, a * 3.0)), "v"),
        ("atleast_2d(@)", jnp.atleast_2d, "v"), ("atleast_3d(@)", jnp.atleast_3d, "v"), ("atleast_3d(@)", jnp.atleast_3d, "m"),
        ("split(@, 2, axis=2)[1]", lambda a: jnp.split(a, 2, axis=2)[1], "x"), ("split(@, (1, 3), axis=2)[2]", lambda a: jnp.split(a, [1, 3], axis=2)[2], "x"),
        ("array_split(@, 3, axis=2)[0]", lambda a: jnp.array_split(a, 3, axis=2)[0], "x"),
        ("hsplit(@, 3)[2]", lambda a: jnp.hsplit(a, 3)[2], "m"), ("vsplit(@, 2)[1]", lambda a: jnp.vsplit(a, 2)[1], "m"),
        ("meshgrid(@, @ * 2.0)[1]", lambda a: jnp.meshgrid(a, a[:2] * 2.0)[1], "v"),
    ]
    parts.append("# meshgrid with a shorter second vector")
    cases[-1] = ("meshgrid(@, @[:2] * 2.0)[1]", lambda a: jnp.meshgrid(a, a[:2] * 2.0)[1], "v")
    cases.append(("meshgrid(@, @[:2] * 2.0, indexing=\"ij\")[0]", lambda a: jnp.meshgrid(a, a[:2] * 2.0, indexing="ij")[0], "v"))
    for dp, jf, arg in cases:
        parts.append("# " + dp.replace("@", arg))
        parts.append(L(dp, jf, arg))
    parts.append("# shapes and pieces")
    parts.append("print(atleast_1d(2.0), atleast_2d(2.0).shape, atleast_3d(2.0).shape, len(atleast_1d(1.0, v)));")
    parts.append("print(map(|p| p.shape, array_split(arange(7.0), 3)), map(|p| p.shape, split(arange(6.0), (2, 10))));")
    parts.append("print(roll(tensor([1.0, 2.0, 3.0]), 4), tile(m, (2,)).shape, repeat(3.0, 3));")
    return "# Rearranging builtins (issue 11) against JAX: values and gradients of a weighted sum.\n# Generated by tests/cases/math/data/gen.py arrange\n" + HEAD + "\n".join(p for p in parts if p) + "\n"

if __name__ == "__main__":
    print(globals()[sys.argv[1]]() + f'print("{sys.argv[1]}: all checks passed");\n', end="")
