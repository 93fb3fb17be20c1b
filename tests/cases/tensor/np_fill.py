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


def _rotl32(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def _chacha20_block(key_words, counter, stream):
    """One ChaCha20 block (RFC 7539 rounds) with a 64-bit block counter in
    words 12-13 and a 64-bit stream number in words 14-15, as the Rust
    `chacha20` crate's `ChaCha20Rng` lays them out."""
    m = 0xFFFFFFFF
    st = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *key_words,
          counter & m, counter >> 32, stream & m, stream >> 32]
    w = st[:]

    def qr(a, b, c, d):
        w[a] = (w[a] + w[b]) & m
        w[d] = _rotl32(w[d] ^ w[a], 16)
        w[c] = (w[c] + w[d]) & m
        w[b] = _rotl32(w[b] ^ w[c], 12)
        w[a] = (w[a] + w[b]) & m
        w[d] = _rotl32(w[d] ^ w[a], 8)
        w[c] = (w[c] + w[d]) & m
        w[b] = _rotl32(w[b] ^ w[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)
    return [(w[i] + st[i]) & m for i in range(16)]


class DpRng:
    """dp's documented generator (dp-tensor `Rng`), re-implemented from its
    description: the ChaCha20 keystream of key `seed` (32-byte ChaCha key =
    seed as u64 LE, then 0 as u64 LE, then b"dp.random.key.v1"; stream 0;
    each 64-bit output is two 32-bit words, low first); uniforms from the top
    53 bits; normals by the Marsaglia polar method (pairs, the second kept for
    the next draw); integers below n by Lemire's method; permutations by
    Fisher-Yates from the end. `seed(s)` and `key(s)` read the same stream."""

    def __init__(self, seed):
        key = (seed & M64).to_bytes(8, "little") + bytes(8) + b"dp.random.key.v1"
        self.key = [int.from_bytes(key[i:i + 4], "little") for i in range(0, 32, 4)]
        self.counter = 0
        self.buf = []
        self.spare = None

    def u64(self):
        if not self.buf:
            b = _chacha20_block(self.key, self.counter, 0)
            self.counter += 1
            self.buf = [b[i] | (b[i + 1] << 32) for i in range(0, 16, 2)][::-1]
        return self.buf.pop()

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
