#!/usr/bin/env python3
"""Peers of benches/mlp_train.dp: the same MLP training loop in other autodiff systems.

python3 benches/mlp_train.py PEER [REPS]     PEER: autograd | jax | jax-jit | torch
Prints `BENCH <workload> <best seconds> <final loss>`; exits 3 when PEER's package is missing.
Data, initial weights, loss (mean cross-entropy), SGD lr 0.1, 200 steps and f64 all match the
dp script, so the final losses must agree to rounding. Each peer is written the way its users
write it (per-step gradient, then a tree-wide SGD update); `jax-jit` compiles the whole step.
"""
import importlib.util, sys, time

N, D, H, C = 256, 64, 128, 10
STEPS, LR = 200, 0.1
WORKLOAD = "MLP 64-128-10 b256 SGD x200"
INSTALL = {"autograd": "pip install autograd", "jax": "pip install jax jaxlib", "torch": "pip install torch"}


def data(np):
    """Closed-form data and initial parameters, shared with mlp_train.dp."""
    X = np.sin(np.arange(N * D) * 0.37 + 0.1).reshape(N, D)
    y = np.minimum(np.floor(5.0 * (X[:, 0] + 1.0)), 9.0).astype(np.int64)
    p0 = {
        "l1": {"w": 0.1 * np.cos(np.arange(D * H) * 0.11).reshape(D, H), "b": np.zeros(H)},
        "l2": {"w": 0.1 * np.sin(np.arange(H * C) * 0.23 + 0.5).reshape(H, C), "b": np.zeros(C)},
    }
    return X, y, p0


def best_of(reps, train):
    best, final = 1e9, None
    for _ in range(reps):
        t0 = time.perf_counter()
        final = train()
        best = min(best, time.perf_counter() - t0)
    return best, final


def run_autograd(reps):
    import numpy as onp
    import autograd.numpy as np
    from autograd import grad

    X, y, p0 = data(onp)
    Y = onp.eye(C)[y]

    def loss(p, X, Y):
        h = np.tanh(X @ p["l1"]["w"] + p["l1"]["b"])
        z = h @ p["l2"]["w"] + p["l2"]["b"]
        m = np.max(z, axis=1, keepdims=True)
        logp = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
        return -np.mean(np.sum(Y * logp, axis=1))

    g_loss = grad(loss)

    def sgd(p, g):
        return {k: sgd(p[k], g[k]) if isinstance(p[k], dict) else p[k] - LR * g[k] for k in p}

    def train():
        p = p0
        for _ in range(STEPS):
            p = sgd(p, g_loss(p, X, Y))
        return float(loss(p, X, Y))

    return best_of(reps, train)


def run_jax(reps, jit):
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    import numpy as onp

    X, y, p0 = data(onp)
    X, y = jnp.asarray(X), jnp.asarray(y)
    p0 = jax.tree.map(jnp.asarray, p0)

    def loss(p, X, y):
        h = jnp.tanh(X @ p["l1"]["w"] + p["l1"]["b"])
        logp = jax.nn.log_softmax(h @ p["l2"]["w"] + p["l2"]["b"], axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def step(p):
        g = jax.grad(loss)(p, X, y)
        return jax.tree.map(lambda q, gq: q - LR * gq, p, g)

    if jit:
        step = jax.jit(step)
        jax.block_until_ready(step(p0))  # compile outside the timed region

    def train():
        p = p0
        for _ in range(STEPS):
            p = step(p)
        return float(jax.block_until_ready(loss(p, X, y)))

    return best_of(reps, train)


def run_torch(reps):
    import numpy as onp
    import torch

    torch.set_default_dtype(torch.float64)
    X, y, p0 = data(onp)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    flat0 = [torch.from_numpy(p0[l][k].copy()) for l in ("l1", "l2") for k in ("w", "b")]

    def loss(w1, b1, w2, b2):
        h = torch.tanh(X @ w1 + b1)
        return torch.nn.functional.cross_entropy(h @ w2 + b2, y)

    def train():
        ps = [t.clone().requires_grad_(True) for t in flat0]
        for _ in range(STEPS):
            for q in ps:
                q.grad = None
            loss(*ps).backward()
            with torch.no_grad():
                for q in ps:
                    q -= LR * q.grad
        with torch.no_grad():
            return float(loss(*ps))

    return best_of(reps, train)


def main():
    peer = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    pkg = {"autograd": "autograd", "jax": "jax", "jax-jit": "jax", "torch": "torch"}[peer]
    if importlib.util.find_spec(pkg) is None:
        print(f"{pkg} is not installed ({INSTALL[pkg]})", file=sys.stderr)
        sys.exit(3)
    if peer == "autograd":
        best, final = run_autograd(reps)
    elif peer == "torch":
        best, final = run_torch(reps)
    else:
        best, final = run_jax(reps, jit=peer == "jax-jit")
    print(f"BENCH\t{WORKLOAD}\t{best!r}\t{final!r}")


if __name__ == "__main__":
    main()
