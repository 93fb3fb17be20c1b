#!/usr/bin/env python3
"""Peers of benches/conv.dp: conv2d forward, and forward + backward, in JAX and PyTorch.

python3 benches/conv.py PEER [REPS]     PEER: jax | jax-jit | torch
Prints `BENCH <workload> <best seconds per call> <check>`; exits 3 when PEER's package is missing.
Data (closed-form), shapes, padding, f64 and the loss sum(conv2d(x, w) * C) match the dp
script; the forward check is that loss, the backward check the loss plus both gradient sums.
"""
import importlib.util, sys, time

ITERS = 20
CASES = [
    ("32x1x28x28 16@3x3", (32, 1, 28, 28), (16, 1, 3, 3), 0),
    ("32x16x14x14 32@3x3 pad1", (32, 16, 14, 14), (32, 16, 3, 3), 1),
]
INSTALL = {"jax": "pip install jax jaxlib", "torch": "pip install torch"}


def data(np, xs, ws, ys):
    x = np.sin(np.arange(np.prod(xs)) * 0.37 + 0.1).reshape(xs)
    w = 0.3 * np.cos(np.arange(np.prod(ws)) * 0.53).reshape(ws)
    c = np.sin(np.arange(np.prod(ys)) * 0.11).reshape(ys)
    return x, w, c


def out_shape(xs, ws, pad):
    return (xs[0], ws[0], xs[2] + 2 * pad - ws[2] + 1, xs[3] + 2 * pad - ws[3] + 1)


def best_per_call(reps, fn):
    best = 1e9
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(ITERS):
            r = fn()
        best = min(best, (time.perf_counter() - t0) / ITERS)
    return best, r


def run_jax(reps, jit):
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    import numpy as onp

    for name, xs, ws, pad in CASES:
        x, w, c = (jnp.asarray(a) for a in data(onp, xs, ws, out_shape(xs, ws, pad)))
        conv = lambda x, w: jax.lax.conv_general_dilated(
            x, w, (1, 1), ((pad, pad), (pad, pad)), dimension_numbers=("NCHW", "OIHW", "NCHW"),
            precision=jax.lax.Precision.HIGHEST)
        loss = lambda x, w: jnp.sum(conv(x, w) * c)
        vg = jax.value_and_grad(loss, argnums=(0, 1))
        if jit:
            conv, vg = jax.jit(conv), jax.jit(vg)
        jax.block_until_ready(conv(x, w))
        jax.block_until_ready(vg(x, w))  # compile (jit) and warm up outside the timed region
        tf, _ = best_per_call(reps, lambda: jax.block_until_ready(conv(x, w)))
        tb, (l, (gx, gw)) = best_per_call(reps, lambda: jax.block_until_ready(vg(x, w)))
        print(f"BENCH\tconv2d fwd {name}\t{tf}\t{float(loss(x, w))}")
        print(f"BENCH\tconv2d fwd+bwd {name}\t{tb}\t{float(l + gx.sum() + gw.sum())}")


def run_torch(reps):
    import numpy as onp
    import torch

    torch.set_default_dtype(torch.float64)
    F = torch.nn.functional
    for name, xs, ws, pad in CASES:
        x, w, c = (torch.from_numpy(a) for a in data(onp, xs, ws, out_shape(xs, ws, pad)))
        x.requires_grad_(True)
        w.requires_grad_(True)

        def fwd():
            with torch.no_grad():
                return F.conv2d(x, w, padding=pad)

        def fwd_bwd():
            x.grad = w.grad = None
            l = (F.conv2d(x, w, padding=pad) * c).sum()
            l.backward()
            return l.item() + x.grad.sum().item() + w.grad.sum().item()

        fwd(), fwd_bwd()
        tf, _ = best_per_call(reps, fwd)
        tb, check = best_per_call(reps, fwd_bwd)
        print(f"BENCH\tconv2d fwd {name}\t{tf}\t{float((F.conv2d(x, w, padding=pad) * c).sum())}")
        print(f"BENCH\tconv2d fwd+bwd {name}\t{tb}\t{check}")


def main():
    peer = sys.argv[1] if len(sys.argv) > 1 else "jax"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    pkg = "jax" if peer.startswith("jax") else peer
    if pkg not in INSTALL:
        sys.exit(f"unknown peer {peer}; choose jax, jax-jit or torch")
    if importlib.util.find_spec(pkg) is None:
        print(f"{pkg} is not installed ({INSTALL[pkg]})", file=sys.stderr)
        sys.exit(3)
    if pkg == "jax":
        run_jax(reps, peer == "jax-jit")
    else:
        run_torch(reps)


if __name__ == "__main__":
    main()
