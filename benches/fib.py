# CPython peer of benches/fib.dp.
import time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
t0 = time.time()
r = fib(27)
print(f"fib(27) = {r} in {time.time() - t0:.3f} s")
