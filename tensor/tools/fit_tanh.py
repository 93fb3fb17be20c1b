#!/usr/bin/env python3
"""Fits the rational approximation `tanh(x) = x + x z P(z)/Q(z)`, `z = x^2`,
that `src/vmath.rs` uses below `TANH_SPLIT` (TANH_P, TANH_Q).

    python3 tensor/tools/fit_tanh.py [SPLIT] [DEG_P] [DEG_Q]    # 1.25 3 4

R(z) = (tanh x - x) / x^3 is fitted on z in [0, SPLIT^2] with Q(0) = 1,
minimising the largest relative error: weighted linear least squares on
P(z) - R(z) Q(z) (divided by R(z) times the previous Q(z), which makes it the
relative error once the fit settles), with Lawson's update of the weights
(each point's weight grows with its error), which drives the fit towards
minimax. Runs in 50-digit arithmetic (mpmath); prints the largest relative
error before rounding the coefficients, the coefficients as shortest
round-trip doubles, and Q's range (the division's denominator).
"""
import sys

import mpmath as mp

mp.mp.dps = 50


def fit(split, m, n, points=600, rounds=120):
    top = mp.mpf(split) ** 2

    def target(z):
        if z == 0:
            return mp.mpf(-1) / 3
        x = mp.sqrt(z)
        return (mp.tanh(x) - x) / x**3

    # Chebyshev points: dense near the ends, where minimax errors peak.
    zs = [top * (1 - mp.cos(mp.pi * (i + mp.mpf(1) / 2) / points)) / 2 for i in range(points)]
    rs = [target(z) for z in zs]
    weights = [mp.mpf(1)] * points
    q_prev = [mp.mpf(1)] * points
    unknowns = m + 1 + n
    best = None
    for _ in range(rounds):
        a = mp.matrix(unknowns, unknowns)
        b = mp.matrix(unknowns, 1)
        for z, r, w, qp in zip(zs, rs, weights, q_prev):
            s = 1 / (r * qp)
            row = [z**j * s for j in range(m + 1)] + [-r * z**j * s for j in range(1, n + 1)]
            for i in range(unknowns):
                b[i] += w * row[i] * r * s
                for k in range(unknowns):
                    a[i, k] += w * row[i] * row[k]
        sol = mp.lu_solve(a, b)
        p = [sol[j] for j in range(m + 1)]
        q = [mp.mpf(1)] + [sol[m + 1 + j] for j in range(n)]

        def poly(c, z):
            return sum(cj * z**j for j, cj in enumerate(c))

        errs = [abs(poly(p, z) / poly(q, z) / r - 1) for z, r in zip(zs, rs)]
        worst = max(errs)
        if best is None or worst < best[0]:
            q_range = (min(poly(q, z) for z in zs), max(poly(q, z) for z in zs))
            best = (worst, p, q, q_range)
        q_prev = [poly(q, z) for z in zs]
        total = sum(w * e for w, e in zip(weights, errs))
        weights = [w * e / total for w, e in zip(weights, errs)]
    return best


def main():
    split = sys.argv[1] if len(sys.argv) > 1 else "1.25"
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    worst, p, q, (q_lo, q_hi) = fit(split, m, n)
    print("largest relative error %.3e (2^%.1f)" % (float(worst), float(mp.log(worst, 2))))
    print("TANH_P:", ", ".join(repr(float(c)) for c in p))
    print("TANH_Q:", ", ".join(repr(float(c)) for c in q))
    print("Q(z) in [%.4f, %.4f]" % (float(q_lo), float(q_hi)))


if __name__ == "__main__":
    main()
