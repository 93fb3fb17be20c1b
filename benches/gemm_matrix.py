#!/usr/bin/env python3
"""dp's GEMM against NumPy for every size, thread count and instruction set.

python3 benches/gemm_matrix.py                      # the full table, 3 rounds
python3 benches/gemm_matrix.py --rounds 5 --configs 1x512,2x2 --shapes 256,1024
python3 benches/gemm_matrix.py --dp-bin OLD --dp-bin NEW   # two builds side by side

Configs: `1x512` one thread, AVX-512 (DP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1);
`2x512` two threads; `1x2` / `2x2` the AVX2 paths (DP_SIMD=avx2 for dp,
OPENBLAS_CORETYPE=Haswell for NumPy). Shapes: `N` (square) or `MxKxN`.
`--cpu` times the one-thread configs by the thread's CPU time instead of the
wall clock (both sides): on a machine loaded by other work it still compares
one core's work against one core's work.

Each case runs NumPy and each dp build (`tensor/examples/gemm_sweep`, built
here unless `--dp-bin` is given) in alternation, `--rounds` times, each in a
fresh process with about 0.5 s of repeated products; the best time of each
side is kept (the run least disturbed by other load on a shared machine).
After NumPy the script sleeps 0.3 s: OpenBLAS's threads busy-wait ~0.1 s
after a call. Prints GFLOP/s and ratio = dp / NumPy (> 1: dp faster).
"""
import os, subprocess, sys, time

SHAPES = "64,128,256,512,1024,2048,128x64x256"
CONFIGS = "1x512,1x2,2x512,2x2"


def shape(s):
    p = [int(x) for x in s.split("x")]
    return (p[0],) * 3 if len(p) == 1 else tuple(p)


def numpy_child(s, cpu):
    """Best time of ~0.5 s of `a @ b` (run in a child: the env picks the BLAS)."""
    import numpy as np
    clock = time.thread_time if cpu else time.perf_counter
    m, k, n = shape(s)
    r = np.random.default_rng(1)
    a, b = r.random((m, k)), r.random((k, n))
    a @ b
    t0 = clock(); a @ b; once = max(clock() - t0, 1e-6)
    best = float("inf")
    for _ in range(min(max(int(0.5 / once), 5), 5000)):
        t = clock(); a @ b; d = clock() - t
        if d > 0:  # a CPU clock read twice in one tick can show no time
            best = min(best, d)
    print(best)


def env_for(cfg):
    e = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "DP_SIMD", "DP_NUM_THREADS"):
        e.pop(k, None)
    threads, isa = cfg.split("x")
    e["OPENBLAS_NUM_THREADS"] = threads
    e["OMP_NUM_THREADS"] = threads
    if threads == "1":
        e["DP_NUM_THREADS"] = "1"
    if isa == "2":
        e["DP_SIMD"] = "avx2"
        e["OPENBLAS_CORETYPE"] = "Haswell"
    return e


def main():
    args = sys.argv[1:]
    if args[:1] == ["--numpy-child"]:
        return numpy_child(args[1], "--cpu" in args)
    opt = lambda name, d: args[args.index(name) + 1] if name in args else d
    rounds = int(opt("--rounds", "3"))
    shapes = opt("--shapes", SHAPES).split(",")
    configs = opt("--configs", CONFIGS).split(",")
    cpu_wanted = "--cpu" in args
    bins = [args[i + 1] for i, a in enumerate(args) if a == "--dp-bin"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not bins:
        subprocess.run(["cargo", "build", "-q", "-p", "dp-tensor", "--release", "--example", "gemm_sweep"],
                       cwd=root, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        bins = [os.path.join(target, "release", "examples", "gemm_sweep")]
    head = "".join(f" {'dp' + str(i) if len(bins) > 1 else 'dp':>7s} {'ratio':>6s}" for i in range(len(bins)))
    print(f"{'cfg':5s} {'shape':12s} {'numpy':>7s}{head}   (GFLOP/s, best of {rounds}; ratio = dp/numpy)")
    for cfg in configs:
        e = env_for(cfg)
        path = "avx2" if cfg.endswith("x2") else "avx512"
        cpu = ["--cpu"] if cpu_wanted and cfg.startswith("1x") else []
        for s in shapes:
            m, k, n = shape(s)
            flop = 2.0 * m * k * n
            npt, dpt = float("inf"), [float("inf")] * len(bins)
            for _ in range(rounds):
                out = subprocess.run([sys.executable, __file__, "--numpy-child", s] + cpu, env=e,
                                     capture_output=True, text=True, check=True).stdout
                npt = min(npt, float(out))
                for i, b in enumerate(bins):
                    time.sleep(0.3)
                    out = subprocess.run([b, s, path] + ["cpu"] * len(cpu), env=e, capture_output=True, text=True, check=True).stdout
                    dpt[i] = min(dpt[i], float(out.split("\t")[2]) / 1e3)
            cols = "".join(f" {flop / t / 1e9:7.1f} {npt / t:6.2f}" for t in dpt)
            print(f"{cfg:5s} {s:12s} {flop / npt / 1e9:7.1f}{cols}", flush=True)


if __name__ == "__main__":
    main()
