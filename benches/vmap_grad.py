#!/usr/bin/env python3
"""Peer of benches/vmap_grad.dp: per-example gradients in JAX, with and without jit.

python3 benches/vmap_grad.py PEER [REPS]     PEER: jax | jax-jit
Prints `BENCH <workload> <best seconds per call> <check>` for grad of the batched loss and
for jax.vmap(jax.grad(example_loss)) over its 256 examples, then `VMAPGRAD ratio <r>`
(per-example / batched); exits 3 when JAX is missing. Data, weights (closed-form, as in
mlp_train.py), the loss (mean cross-entropy of a tanh MLP 64-128-10) and f64 match the dp
script; the check is the sum of every gradient entry.
"""
import importlib.util, sys, time

N, D, H, C = 256, 64, 128, 10
ITERS = 20


def data(np):
    """Closed-form data and parameters, shared with vmap_grad.dp and mlp_train.dp."""
    X = np.sin(np.arange(N * D) * 0.37 + 0.1).reshape(N, D)
    y = np.minimum(np.floor(5.0 * (X[:, 0] + 1.0)), 9.0).astype(np.int64)
    p = {
        "l1": {"w": 0.1 * np.cos(np.arange(D * H) * 0.11).reshape(D, H), "b": np.zeros(H)},
        "l2": {"w": 0.1 * np.sin(np.arange(H * C) * 0.23 + 0.5).reshape(H, C), "b": np.zeros(C)},
    }
    return X, y, p


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

    X, y, p = data(onp)
    X, y = jnp.asarray(X), jnp.asarray(y)
    p = jax.tree_util.tree_map(jnp.asarray, p)

    def batch_loss(p, X, y):
        h = jnp.tanh(X @ p["l1"]["w"] + p["l1"]["b"])
        z = h @ p["l2"]["w"] + p["l2"]["b"]
        logp = jax.nn.log_softmax(z, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def example_loss(p, x, label):
        return batch_loss(p, x.reshape(1, D), label.reshape(1))

    g_batch = jax.grad(batch_loss)
    g_each = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))
    if jit:
        g_batch, g_each = jax.jit(g_batch), jax.jit(g_each)
    total = lambda g: float(sum(jnp.sum(l) for l in jax.tree_util.tree_leaves(g)))
    # Compile (jit) and warm up outside the timed region.
    jax.block_until_ready(g_batch(p, X, y))
    jax.block_until_ready(g_each(p, X, y))
    tb, gb = best_per_call(reps, lambda: jax.block_until_ready(g_batch(p, X, y)))
    te, ge = best_per_call(reps, lambda: jax.block_until_ready(g_each(p, X, y)))
    print(f"BENCH\tgrad batched loss b256\t{tb}\t{total(gb)}")
    print(f"BENCH\tvmap(grad) per-example b256\t{te}\t{total(ge)}")
    print(f"VMAPGRAD\tratio\t{te / tb}")


def main():
    peer = sys.argv[1] if len(sys.argv) > 1 else "jax"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if peer not in ("jax", "jax-jit"):
        sys.exit(f"unknown peer {peer}: choose jax or jax-jit")
    if importlib.util.find_spec("jax") is None:
        print("jax missing: pip install jax jaxlib", file=sys.stderr)
        sys.exit(3)
    run_jax(reps, peer == "jax-jit")


if __name__ == "__main__":
    main()
