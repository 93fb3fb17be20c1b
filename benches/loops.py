# CPython peer of benches/loops.dp: `python3 benches/loops.py [REPS]`. Same arithmetic, same order.
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

def nested():
    acc = 0.0
    for i in range(1000):
        xi = i * 0.001
        for j in range(1000):
            acc = acc + xi * (j * 0.001) + 0.5
    return acc

def collatz():
    total = 0
    for n in range(1, 20000):
        m = n
        while m != 1:
            if m % 2 == 0:
                m = m // 2
            else:
                m = 3 * m + 1
            total = total + 1
    return total

def calls():
    k = 0.999
    f = lambda x, y: x * k + y
    acc = 0.0
    for i in range(200000):
        acc = f(acc, 1.0)
    return acc

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
report("nested for 1000x1000 float", best_of(reps, nested))
report("while collatz 1..20000 int", best_of(reps, collatz))
report("closure calls 2e5", best_of(reps, calls))
