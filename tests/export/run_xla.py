#!/usr/bin/env python3
"""Runs StableHLO programs exported by dp with XLA (through jaxlib) and
compares their results with dp's.

Reads JSON from stdin: a list of cases {"name", "hlo", "inputs", "outputs"},
where inputs and outputs are dp reprs of lists of floats/tensors (nested
lists). Prints one line per case with the largest relative difference and
exits 1 if any exceeds the tolerance (the programs compute what dp computes,
up to the rounding of XLA's own transcendental functions and sums) or if a
zero's sign differs.
Used by tests/export.rs; needs `pip install jax`.
"""
import json
import math
import sys

import numpy as np
import jax
from jax._src import xla_bridge
from jax._src.lib import xla_client

jax.config.update("jax_enable_x64", True)
RTOL, ATOL = 1e-12, 1e-13


def parse(text):
    return eval(text.replace("true", "True").replace("false", "False"),
                {"__builtins__": {}}, {"inf": math.inf, "nan": math.nan})


def main():
    cases = json.load(sys.stdin)
    backend = xla_bridge.get_backend("cpu")
    failed = 0
    for case in cases:
        exe = backend.compile_and_load(case["hlo"], backend.devices()[:1], xla_client.CompileOptions())
        inputs = [np.asarray(x, dtype=np.float64) for x in parse(case["inputs"])]
        want = [np.asarray(x, dtype=np.float64) for x in parse(case["outputs"])]
        got = [np.asarray(r, dtype=np.float64) for r in exe.execute([jax.device_put(x) for x in inputs])]
        worst = 0.0
        ok = len(got) == len(want)
        for g, w in zip(got, want):
            if g.shape != w.shape:
                ok = False
                continue
            err = np.abs(g - w) / (ATOL / RTOL + np.abs(w))
            worst = max(worst, float(err.max(initial=0.0)))
            ok &= bool(np.allclose(g, w, rtol=RTOL, atol=ATOL, equal_nan=True))
            # Zeros must carry dp's signs too (allclose cannot see them).
            zeros = (w == 0) & (g == 0)
            ok &= bool(np.array_equal(np.signbit(g[zeros]), np.signbit(w[zeros])))
        print(f"{'ok  ' if ok else 'FAIL'} {case['name']}: {len(got)} outputs, max relative difference {worst:.2e}")
        if not ok:
            failed += 1
            print("  xla:", [g.tolist() for g in got])
            print("  dp: ", [w.tolist() for w in want])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
