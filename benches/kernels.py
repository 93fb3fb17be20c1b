#!/usr/bin/env python3
"""NumPy counterpart of `cargo run -p dp-tensor --release --example bench`.

python3 benches/kernels.py               # NumPy and dp-tensor side by side, with ratios
python3 benches/kernels.py --numpy       # NumPy table only
python3 benches/kernels.py --dp-bin PATH # use an already built bench binary (e.g. an older build)
python3 benches/kernels.py --only matmul --rounds 5
                                         # only cases whose name contains "matmul"; each side
                                         # timed 5 times in alternation, the fastest kept
ratio = numpy_time / dp_time  (> 1 means dp-tensor is faster)

The two sides are timed case by case in alternation (one bench process per
case), so a change in machine load affects both alike. Each time is the
median of repeated runs.

For fair NumPy numbers unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the
command that runs this script (they pin an old, slower OpenBLAS kernel):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benches/kernels.py
The BLAS kernel NumPy actually runs is printed first (needs threadpoolctl).
"""
import os, subprocess, sys, time
import numpy as np


def timeit(fn):
    fn()
    t0 = time.perf_counter(); fn(); once = max(time.perf_counter() - t0, 1e-7)
    reps = min(max(int(0.15 / once), 3), 20000)
    per = max(reps // 7, 1)
    samples = []
    for _ in range(max(reps // per, 3)):
        t = time.perf_counter()
        for _ in range(per):
            fn()
        samples.append((time.perf_counter() - t) / per)
    samples.sort()
    return samples[len(samples) // 2] * 1e6


def cases():
    r = np.random.default_rng(42)
    out = []
    for n in (128, 256, 512, 1024, 2048):
        a = r.random((n, n)); b = r.random((n, n))
        out.append((f"matmul {n}x{n}", lambda a=a, b=b: a @ b))
    a = r.random((512, 512)); b = r.random((512, 512))
    out.append(("matmul 512 a.T@b", lambda a=a, b=b: a.T @ b))
    a = r.random((128, 64)); b = r.random((64, 256))
    out.append(("matmul 128x64@64x256", lambda a=a, b=b: a @ b))
    a = r.random((32, 64, 64)); b = r.random((32, 64, 64))
    out.append(("matmul batch 32x64x64", lambda a=a, b=b: a @ b))
    a = r.random((64, 64)); b = r.random((64, 64)); v = r.random(64)
    out.append(("matmul 64x64", lambda a=a, b=b: a @ b))
    out.append(("matvec 64", lambda a=a, v=v: a @ v))
    n = 1_000_000
    a, b, c = r.random(n), r.random(n), r.random(n)
    m = r.random((1000, 1000)); row = r.random(1000); col = r.random((1000, 1))
    out += [
        ("add 1e6", lambda: a + b),
        ("a*b+c 1e6", lambda: a * b + c),
        ("a*2.0 1e6", lambda: a * 2.0),
        ("p-0.1*g 1e6", lambda: a - 0.1 * b),
        ("exp 1e6", lambda: np.exp(a)),
        ("tanh 1e6", lambda: np.tanh(a)),
        ("log 1e6", lambda: np.log(a)),
        ("sigmoid 1e6", lambda: 1.0 / (1.0 + np.exp(-a))),
        ("relu 1e6", lambda: np.maximum(a, 0.0)),
        ("maximum 1e6", lambda: np.maximum(a, b)),
        ("gt 1e6", lambda: (a > b).astype(np.float64)),
        ("row bcast 1000x1000", lambda: m + row),
        ("col bcast 1000x1000", lambda: m + col),
        ("m.T + m 1000x1000", lambda: m.T + m),
        ("sum 1e6", lambda: a.sum()),
        ("max 1e6", lambda: a.max()),
        ("sum axis0 1000x1000", lambda: m.sum(axis=0)),
        ("sum axis1 1000x1000", lambda: m.sum(axis=1)),
        ("max axis1 1000x1000", lambda: m.max(axis=1)),
        ("argmax axis1 1000x1000", lambda: m.argmax(axis=1).astype(np.float64)),
        ("chain sum(tanh(a*b+c)) 1e6", lambda: np.tanh(a * b + c).sum()),
        ("chain sum((a-b)**2)/n 1e6", lambda: ((a - b) ** 2).sum() / n),
        ("take rows 1000x1000[512 idx]", lambda: m.take(np.arange(0.0, 1000.0, 2.0).astype(np.int64), axis=0)),
    ]
    return out


def blas_info():
    pinned = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    if pinned:
        print(f"# warning: {', '.join(pinned)} set: NumPy runs a pinned (slower) OpenBLAS kernel")
    try:
        import threadpoolctl
        for lib in threadpoolctl.threadpool_info():
            if lib.get("user_api") == "blas":
                print(f"# numpy {np.__version__}: {lib.get('internal_api')} {lib.get('version')} "
                      f"kernel {lib.get('architecture')}, {lib.get('num_threads')} threads")
    except ImportError:
        print(f"# numpy {np.__version__} (install threadpoolctl to see its BLAS kernel)")


def main():
    args = sys.argv[1:]
    numpy_only = "--numpy" in args
    blas_info()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if "--dp-bin" in args:
        dp_bin = args[args.index("--dp-bin") + 1]
    elif not numpy_only:
        subprocess.run(["cargo", "build", "-q", "-p", "dp-tensor", "--release", "--example", "bench"],
                       cwd=root, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        dp_bin = os.path.join(target, "release", "examples", "bench")
    only = args[args.index("--only") + 1] if "--only" in args else ""
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 1
    if not numpy_only:
        print(f"{'case':32s} {'numpy us':>11s} {'dp us':>11s} {'ratio':>7s}")
    for name, fn in cases():
        if only not in name:
            continue
        npt, t = float("inf"), float("inf")
        for _ in range(rounds):
            # On a shared VM the load changes from second to second: alternate
            # the two sides and keep each one's best median.
            npt = min(npt, timeit(fn))
            if numpy_only:
                continue
            # OpenBLAS's worker threads busy-wait for about 0.1 s after a call
            # before they sleep; started at once, dp would share its second
            # core with a spinning NumPy thread.
            time.sleep(0.3)
            res = subprocess.run([dp_bin, name], capture_output=True, text=True, check=True)
            times = dict(line.split("\t") for line in res.stdout.strip().splitlines())
            t = min(t, float(times.get(name, "inf")))
        if numpy_only:
            print(f"{name}\t{npt:.2f}")
            continue
        if t == float("inf"):
            print(f"{name:32s} {npt:11.2f} {'-':>11s}")
            continue
        print(f"{name:32s} {npt:11.2f} {t:11.2f} {npt / t:7.2f}", flush=True)


if __name__ == "__main__":
    main()
