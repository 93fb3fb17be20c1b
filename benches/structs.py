# CPython peer of benches/structs.dp: `python3 benches/structs.py [REPS]`.
# Same computation; dp's persistent updates are written with CPython's mutable dict/list.
import sys, time

def best_of(reps, f):
    best, r = 1e9, None
    for _ in range(reps):
        t0 = time.perf_counter()
        r = f()
        best = min(best, time.perf_counter() - t0)
    return best, r

def report(name, res):
    print(f"BENCH\t{name}\t{res[0]!r}\t{res[1]!r}")

names = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")

def histogram():
    d = {}
    for k in names:
        d[k] = 0
    for i in range(200000):
        k = names[(i * 7) % 16]
        d[k] = d[k] + i % 3
    return d["golf"]

def records():
    pts = []
    for i in range(20000):
        pts.append({"x": i * 0.5, "y": 1.0 - i * 0.25})
    acc = 0.0
    for _ in range(10):
        for p in pts:
            acc = acc + p["x"] * p["y"]
    return acc

def step(t):
    return (t[1], t[0] * 0.5 + t[1] * 0.25, t[2] + 1)

def tuples():
    t = (1.0, 0.0, 0)
    for i in range(300000):
        t = step(t)
    return t[1] + t[2]

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
report("dict histogram 2e5 updates", best_of(reps, histogram))
report("records build+scan 2e4x10", best_of(reps, records))
report("tuple step 3e5", best_of(reps, tuples))
