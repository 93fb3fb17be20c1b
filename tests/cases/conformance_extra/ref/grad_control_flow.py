from ref import *
import math
def grow(x):
    y = x
    while y < 10.0: y = y * 2.0 + jnp.sin(y)
    return y
for x0 in (0.3, 4.0):
    P(grow(x0), jax.grad(grow)(x0))
def ns(a):
    x = a; s = 0
    while abs(x*x - a) > 1e-12 * a and s < 100: x = 0.5 * (x + a / x); s += 1
    return x
P(ns(2.0), jax.grad(ns)(2.0))
c = (1.0, -3.0, 0.5, 2.0)
def horner(c, x, i):
    if i == len(c) - 1: return c[i]
    return c[i] + x * horner(c, x, i + 1)
P(horner(c, 1.5, 0), jax.grad(lambda x: horner(c, x, 0))(1.5))
P(tuple(float(t) for t in jax.grad(lambda c: horner(c, 1.5, 0))(c)))
def pe(x):
    s = 0.0; term = 1.0
    for k in range(1, 100):
        s = s + term; term = term * x / float(k)
        if abs(term) < 1e-17: break
    return s
P(pe(0.7), jax.grad(pe)(0.7))
P(jax.grad(jax.grad(lambda x: x**5))(1.3))
