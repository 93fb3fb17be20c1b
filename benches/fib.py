# CPython peer of benches/fib.dp: `python3 benches/fib.py [REPS]`.
import sys, time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
best, r = 1e9, 0
for _ in range(reps):
    t0 = time.perf_counter()
    r = fib(27)
    best = min(best, time.perf_counter() - t0)
print(f"fib(27) = {r} in {best:.3f} s (best of {reps})")
print(f"BENCH\tfib(27)\t{best!r}\t{r}")
