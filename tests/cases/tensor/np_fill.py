#!/usr/bin/env python3
"""Fills in the NumPy-computed expected values of the tensor golden cases.

In a `.dp` file of this folder, a line

    assert_close(DP_EXPR, EXPECTED, rtol=1e-12, atol=1e-12);  # np: NUMPY_EXPR

gets EXPECTED (a dp literal; `_` as a placeholder) replaced by the value of
NUMPY_EXPR, evaluated with `np` imported, after every preceding
`# np-setup: STATEMENT` line of the file has been executed in the same
namespace. Floats are written with repr (shortest round-trip); tensors as
nested lists; tuples as tuples; `inf`/`nan` as the names `inf`/`nan`, which
a file that needs them binds itself. `DpRng` is a re-implementation of
dp's documented random generator, so seeded draws are checked independently. Python ints and numpy integer scalars
stay ints (dp ints).

Needs numpy (and scipy for the files that import it in an np-setup line).
Run: python3 tests/cases/tensor/np_fill.py [FILES...]  (default: all .dp here)
Re-running it on filled files changes nothing unless NumPy disagrees.
"""
import math
import pathlib
import re
import sys

import numpy as np

TAIL = re.compile(r", rtol=1e-12, atol=1e-12\);\s*# np: (.*)$")


M64 = (1 << 64) - 1


class DpRng:
    """dp's documented generator (dp-tensor `Rng`), re-implemented from its
    description: xoshiro256** seeded by four SplitMix64 steps; uniforms from
    the top 53 bits; normals by the Marsaglia polar method (pairs, the second
    kept for the next draw); integers below n by Lemire's method; permutations
    by Fisher-Yates from the end."""

    def __init__(self, seed):
        sm = seed & M64
        self.s = []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))
        self.spare = None

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def u64(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def f64(self):
        return (self.u64() >> 11) * (1.0 / (1 << 53))

    def normal(self):
        if self.spare is not None:
            z, self.spare = self.spare, None
            return z
        while True:
            u = 2.0 * self.f64() - 1.0
            v = 2.0 * self.f64() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                f = math.sqrt(-2.0 * math.log(s) / s)
                self.spare = v * f
                return u * f

    def below(self, n):
        m = self.u64() * n
        low = m & M64
        if low < n:
            threshold = ((1 << 64) - n) % n
            while low < threshold:
                m = self.u64() * n
                low = m & M64
        return m >> 64

    def rand(self, shape):
        return np.array([self.f64() for _ in range(int(np.prod(shape)))]).reshape(shape)

    def randn(self, shape):
        return np.array([self.normal() for _ in range(int(np.prod(shape)))]).reshape(shape)

    def randint(self, lo, hi, shape):
        return np.array([lo + self.below(hi - lo) for _ in range(int(np.prod(shape)))], dtype=float).reshape(shape)

    def permutation(self, n):
        v = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            v[i], v[j] = v[j], v[i]
        return np.array(v, dtype=float)


def lit(v):
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, tuple):
        inner = ", ".join(lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return lit(float(v))
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if isinstance(v, list):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    r = repr(f)
    # dp floats need a digit after the point and accept `1e-08`.
    return r


def literal_start(line, end):
    """Index where the literal that ends just before `end` begins."""
    i = end - 1
    if line[i] in "])":
        depth = 0
        while i >= 0:
            if line[i] in "])":
                depth += 1
            elif line[i] in "[(":
                depth -= 1
                if depth == 0:
                    # A leading minus can't precede a bracket in our output.
                    return i
            i -= 1
        raise ValueError("unbalanced literal")
    while i >= 0 and line[i] != " ":
        i -= 1
    return i + 1


def fill(path):
    ns = {"np": np, "DpRng": DpRng}
    out = []
    changed = False
    for n, line in enumerate(path.read_text().splitlines(keepends=True), 1):
        body = line.rstrip("\n")
        s = body.strip()
        if s.startswith("# np-setup:"):
            exec(s[len("# np-setup:"):].strip(), ns)
        m = TAIL.search(body)
        if m:
            try:
                value = eval(m.group(1), ns)
            except Exception as e:  # noqa: BLE001 - report and stop
                sys.exit(f"{path}:{n}: {e}")
            start = literal_start(body, m.start())
            new = body[:start] + lit(value) + body[m.start():]
            if new != body:
                changed = True
            line = new + "\n"
        out.append(line)
    if changed:
        path.write_text("".join(out))
        print(f"filled {path}")


def main():
    here = pathlib.Path(__file__).parent
    files = [pathlib.Path(p) for p in sys.argv[1:]] or sorted(here.glob("*.dp"))
    for f in files:
        fill(f)


if __name__ == "__main__":
    main()
