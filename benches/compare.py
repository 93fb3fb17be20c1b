#!/usr/bin/env python3
"""Driver behind benches/run.sh: runs dp and its peers on the same workloads, one table.

python3 benches/compare.py --dp target/release/dp [--reps N] [--peer-threads 1|2|both] [SECTION...]
SECTION: interp kernels train conv scalar gradcost vmapgrad (default: all, in that order).

Every workload script prints `BENCH <tab> workload <tab> best-seconds <tab> check`; the
check (a result or final loss) must agree between dp and the peer, which is how we know
both did the same computation. Rows: workload, dp time, peer, peer time,
ratio = peer / dp (> 1 means dp is faster), check. Ratios are printed, never asserted.
"""
import argparse, importlib.util, os, platform, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTIONS = ("interp", "kernels", "train", "conv", "scalar", "gradcost", "vmapgrad")
# Environment that pins the peers' BLAS / XLA / torch thread pools to one thread. On a
# shared 2-core machine a spinning multi-threaded BLAS can lose 10-100x to contention
# alone (see README), so the pinned rows are the stable comparison. The pinned rows
# pin dp too (DP_NUM_THREADS=1: no helper thread), so both sides use one thread, and
# both processes run on one CPU (`taskset`, see `one_cpu`).
ONE_THREAD = {
    "DP_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


def one_cpu():
    """`taskset -c CPU` for the one-thread rows, or nothing where taskset is missing.
    Thread-count settings alone do not make a peer single-threaded: JAX still hands
    each computation to a runtime thread, and on this 2-core machine JAX jit ran the
    training step 15-20% slower unpinned (78 ms against 65 ms) because of it. Pinning
    both sides to one CPU is the honest one-thread comparison."""
    if shutil.which("taskset") is None or not hasattr(os, "sched_getaffinity"):
        return []
    return ["taskset", "-c", str(min(os.sched_getaffinity(0)))]


def run(cmd, env=None, timeout=900):
    """Run a command; return (exit code, stdout, stderr). One-thread runs
    (DP_NUM_THREADS=1 in `env`) are pinned to one CPU (see `one_cpu`)."""
    if env is not None and env.get("DP_NUM_THREADS") == "1":
        cmd = one_cpu() + list(cmd)
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {timeout} s"


def parse(stdout, tag="BENCH"):
    """{workload: (seconds, check)} from the script's tagged lines."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == tag and len(parts) >= 3:
            out[parts[1]] = (float(parts[2]), parts[3] if len(parts) > 3 else "")
    return out


def agree(a, b):
    """Checks agree when equal as text, or as numbers to 1e-6 relative."""
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-6 * max(abs(x), abs(y), 1e-12)


def fmt_t(s):
    return f"{s * 1e3:10.2f} ms" if s < 10 else f"{s:10.2f} s "


class Table:
    W = 36

    def header(self, title):
        print(f"\n== {title}")
        print(f"{'workload':{self.W}s} {'dp':>13s}  {'peer':18s} {'peer time':>13s} {'peer/dp':>8s}  check")

    def row(self, name, dp, peer, pt, note=""):
        if dp is None and pt is None:
            print(f"{name:{self.W}s} {'-':>13s}  {peer:18s} {'-':>13s} {'-':>8s}  {note}")
            return
        d = fmt_t(dp[0]) if dp else f"{'-':>13s}"
        p = fmt_t(pt[0]) if pt else f"{'-':>13s}"
        ratio = f"{pt[0] / dp[0]:8.2f}" if dp and pt else f"{'-':>8s}"
        if not note:
            if dp and pt:
                note = "ok" if agree(dp[1], pt[1]) else f"DIFFERS dp={dp[1]} peer={pt[1]}"
            elif dp:
                note = f"dp={dp[1]}"
        print(f"{name:{self.W}s} {d}  {peer:18s} {p} {ratio}  {note}")


def pair(t, dp_cmd, peers, env_peer):
    """Run the dp script once and each peer once, in the same environment (thread
    counts); one row per (workload, peer)."""
    code, out, err = run(dp_cmd, env=env_peer)
    dp = parse(out)
    if code != 0:
        print(f"dp failed ({' '.join(dp_cmd)}):\n{err.strip()}")
    for label, cmd in peers:
        code, pout, perr = run(cmd, env=env_peer)
        if code != 0:
            # Exit 3 is the peer scripts' "package missing" (the message says how to install it).
            why = perr.strip().splitlines()[-1] if perr.strip() else f"exit {code}"
            note = ("skipped: " if code == 3 else "peer failed: ") + why
            for name in dp or ["(all workloads)"]:
                t.row(name, dp.get(name), label, None, note)
            continue
        got = parse(pout)
        for name in list(dp) + [k for k in got if k not in dp]:
            t.row(name, dp.get(name), label, got.get(name))


def versions():
    vs = [f"python {platform.python_version()}"]
    for mod in ("numpy", "autograd", "jax", "torch", "micrograd"):
        if importlib.util.find_spec(mod) is None:
            vs.append(f"{mod} -")
            continue
        try:
            from importlib.metadata import version

            vs.append(f"{mod} {version(mod)}")
        except Exception:
            vs.append(f"{mod} ?")
    return ", ".join(vs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dp", default=os.path.join(ROOT, "target", "release", "dp"))
    ap.add_argument("--reps", type=int, default=5, help="best-of-N inside each script (default 5)")
    ap.add_argument("--peer-threads", choices=("1", "2", "both"), default="both",
                    help="peers' BLAS/XLA/torch thread pools: pinned to 1, left at their default (2 here), "
                         "or both (training and kernel rows twice) -- default both")
    ap.add_argument("sections", nargs="*", metavar="SECTION", help=" ".join(SECTIONS) + " (default: all)")
    a = ap.parse_args()
    sections = a.sections or list(SECTIONS)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        ap.error(f"unknown section(s) {' '.join(bad)}; choose from {' '.join(SECTIONS)}")
    dp, n = os.path.abspath(a.dp), str(a.reps)
    py = sys.executable
    env_1 = dict(os.environ, **ONE_THREAD)
    env_default = dict(os.environ)
    env_peer = env_default if a.peer_threads == "2" else env_1
    # (label suffix, environment) per peer run of the training section.
    thread_runs = {"1": [("", env_1)], "2": [("", env_default)], "both": [(" 1thr", env_1), (" 2thr", env_default)]}
    b = lambda f: os.path.join("benches", f)

    load = os.getloadavg()
    print(f"dp benchmarks  {time.strftime('%Y-%m-%d %H:%M:%S')}  cores {os.cpu_count()}  "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  best of {n}  peer threads {a.peer_threads}")
    print(versions())
    print("ratio = peer time / dp time (> 1: dp is faster); check = results agree")
    t = Table()

    if "interp" in sections:
        t.header("interpreter: dp vs CPython")
        for script in ("fib", "loops", "structs"):
            pair(t, [dp, b(script + ".dp"), n], [("cpython", [py, b(script + ".py"), n])], env_peer)

    if "kernels" in sections:
        print("\n== tensor kernels: dp-tensor vs NumPy (benches/kernels.py; ratio = numpy/dp, median timing)")
        for suffix, env in thread_runs[a.peer_threads]:
            if env.get("DP_NUM_THREADS") == "1":
                print("   one thread each (DP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1)")
            else:
                print("   two threads: NumPy's BLAS at its default; dp-tensor splits products of >= 1e6 "
                      "multiply-adds and elementwise work of >= 64k-128k elements over 2 threads "
                      "(NumPy's elementwise ops use one)")
            code, out, err = run([py, b("kernels.py")], env=env, timeout=1800)
            print(out.rstrip() if code == 0 else f"kernels.py failed:\n{err.strip()}")

    if "train" in sections:
        t.header("training loop: MLP 64-128-10, batch 256, tanh, cross-entropy, SGD, 200 steps, f64")
        labels = {"autograd": "autograd", "jax": "jax (no jit)", "jax-jit": "jax jit", "torch": "torch"}
        # dp runs again next to each peer, so each ratio compares times taken under the same load.
        for p, lbl in labels.items():
            for suffix, env in thread_runs[a.peer_threads]:
                pair(t, [dp, b("mlp_train.dp"), n], [(lbl + suffix, [py, b("mlp_train.py"), p, n])], env)
        # dp's own jit (each step a replayed plan) against JAX's jit.
        for suffix, env in thread_runs[a.peer_threads]:
            pair(t, [dp, b("mlp_train.dp"), n, "jit"], [("jax jit" + suffix + " [dp jit]",
                                                          [py, b("mlp_train.py"), "jax-jit", n])], env)
        # The physical floor: the steps' FLOPs at the GEMM rate dp measures on this machine.
        flops = 200 * 2 * (2 * 256 * 64 * 128 + 3 * 256 * 128 * 10)
        for suffix, env in thread_runs[a.peer_threads]:
            code, out, _ = run([dp, b("mlp_train.dp"), "1", "jit"], env)
            info = parse(out, "JITINFO")
            if "trace+optimise" in info and "gemm_gflops" in info:
                rate = info["gemm_gflops"][0]
                print(f"dp jit{suffix}: trace + optimise of one training step {info['trace+optimise'][0] * 1e3:.2f} ms "
                      f"(target <= 5 ms); physical floor of the 200 steps ({flops / 1e9:.2f} GFLOP at this "
                      f"machine's GEMM rate, {rate:.0f} GFLOP/s for 512x512): {flops / rate / 1e6:.1f} ms")

    if "conv" in sections:
        t.header("convolution: conv2d forward, and forward + backward (input and weight gradients), f64")
        labels = {"jax": "jax (no jit)", "jax-jit": "jax jit", "torch": "torch"}
        for p, lbl in labels.items():
            for suffix, env in thread_runs[a.peer_threads]:
                pair(t, [dp, b("conv.dp"), n], [(lbl + suffix, [py, b("conv.py"), p, n])], env)

    if "scalar" in sections:
        t.header("scalar autodiff: dp vs micrograd (forward + backward)")
        pair(t, [dp, b("scalar_mlp.dp"), n], [("micrograd", [py, b("scalar_mlp.py"), n])], env_peer)
        # The same graphs replayed by dp's jit (traced once, then run as a plan).
        pair(t, [dp, b("scalar_mlp.dp"), n, "jit"], [("micrograd [dp jit]", [py, b("scalar_mlp.py"), n])], env_peer)

    if "gradcost" in sections:
        print("\n== cheap-gradient principle (benches/grad_cost.dp)")
        code, out, err = run([dp, b("grad_cost.dp"), n])
        if code != 0:
            print(f"grad_cost.dp failed:\n{err.strip()}")
        else:
            print("\n".join(l for l in out.splitlines() if not l.startswith("GRADCOST")))
            g = {k: v[0] for k, v in parse(out, "GRADCOST").items()}
            r, ns = g.get("mlp_ratio"), g.get("scalar_grad_ns_per_op")
            if r is not None:
                print(f"target: mlp value_and_grad / loss <= 3 ...... {r:.2f}  {'PASS' if r <= 3 else 'MISS'}")
            if ns is not None:
                print(f"target: scalar op under grad < 1000 ns ...... {ns:.0f}  {'PASS' if ns < 1000 else 'MISS'}")

    if "vmapgrad" in sections:
        t.header("per-example gradients: vmap(grad(loss)) vs grad of the batched loss, MLP 64-128-10, 256 examples, f64")
        labels = {"jax": "jax (no jit)", "jax-jit": "jax jit"}
        for p, lbl in labels.items():
            pair(t, [dp, b("vmap_grad.dp"), n], [(lbl, [py, b("vmap_grad.py"), p, n])], env_peer)
        # The target: per-example gradients within 2x of the batched gradient,
        # next to the floor (forward pass + writing the 256 x |params| gradients).
        code, out, err = run([dp, b("vmap_grad.dp"), n])
        if code != 0:
            print(f"vmap_grad.dp failed:\n{err.strip()}")
        else:
            g = {k: v[0] for k, v in parse(out, "VMAPGRAD").items()}
            r, fl = g.get("ratio"), g.get("floor_ratio")
            peers = []
            for p, lbl in labels.items():
                pc, pout, _ = run([py, b("vmap_grad.py"), p, n], env=env_peer)
                pr = parse(pout, "VMAPGRAD").get("ratio") if pc == 0 else None
                peers.append(f"{lbl} {pr[0]:.2f}" if pr else f"{lbl} -")
            if r is not None and fl is not None:
                print(f"target: dp vmap(grad) / grad <= 2 ........... {r:.2f}  {'PASS' if r <= 2 else 'MISS'}"
                      f"  (floor {fl:.2f}; same ratio in {', '.join(peers)})")


if __name__ == "__main__":
    main()
