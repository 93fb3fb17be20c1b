#!/usr/bin/env python3
"""Peer of benches/scalar_mlp.dp on Karpathy's micrograd (`pip install micrograd`).

python3 benches/scalar_mlp.py [REPS]   -> `BENCH <workload> <best seconds> <check>` lines.
Exits 3 when micrograd is missing. Builds the same graphs as the dp script with
micrograd's `Value` (the neuron is micrograd's nn.Neuron: sum(w*x, b) then relu), with
the same closed-form initial weights, so the checks agree to rounding.
"""
import importlib.util, math, sys, time

if importlib.util.find_spec("micrograd") is None:
    print("micrograd is not installed (pip install micrograd)", file=sys.stderr)
    sys.exit(3)
from micrograd.engine import Value

sys.setrecursionlimit(100000)  # micrograd's topological sort recurses once per graph level


def best_of(reps, f):
    best, r = 1e9, None
    for _ in range(reps):
        t0 = time.perf_counter()
        r = f()
        best = min(best, time.perf_counter() - t0)
    return best, r


def report(name, res):
    print(f"BENCH\t{name}\t{res[0]!r}\t{res[1]!r}")


SIZES = (2, 16, 16, 1)
B = 32


def init_params():
    """Fresh leaves every run (micrograd accumulates .grad in place)."""
    layers = []
    for l in range(3):
        neurons = []
        for j in range(SIZES[l + 1]):
            w = [Value(0.5 * math.sin(l * 1000.0 + j * 31.0 + i * 7.0 + 1.0)) for i in range(SIZES[l])]
            neurons.append((w, Value(0.1 * math.cos(l + j * 1.0))))
        layers.append(neurons)
    return layers


XS = [(math.sin(i * 0.7), math.cos(i * 1.3)) for i in range(B)]
TS = [1.0 if math.sin(i * 2.1) > 0.0 else -1.0 for i in range(B)]


def neuron(n, x, nonlin):
    w, b = n
    act = sum((wi * xi for wi, xi in zip(w, x)), b)
    return act.relu() if nonlin else act


def forward(p, x):
    for l, layer in enumerate(p):
        x = [neuron(n, x, l != len(p) - 1) for n in layer]
    return x[0]


def mlp_fb():
    p = init_params()
    total = 0.0
    for k in range(B):
        total = total + (forward(p, XS[k]) - TS[k]) ** 2
    loss = total * (1.0 / B)
    loss.backward()
    return loss.data + sum(v.grad for layer in p for (w, b) in layer for v in [b] + w)


def chain_fb():
    x = Value(0.5)
    y = x
    for _ in range(1000):
        y = y * 0.999 + (y * y) * 0.0001 + 0.001
    y.backward()
    return y.data + x.grad


reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
report("scalar MLP 2-16-16-1 b32 fwd+bwd", best_of(reps, mlp_fb))
report("scalar chain 5000 ops fwd+bwd", best_of(reps, chain_fb))
