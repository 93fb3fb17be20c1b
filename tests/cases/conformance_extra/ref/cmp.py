import os, re, sys, subprocess
CASES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(CASES)))
num = re.compile(r'-?(?:\d+\.?\d*(?:e[+-]?\d+)?|inf|nan)')
def toks(s):
    return re.findall(r'-?\d+\.?\d*(?:e[+-]?\d+)?|-?inf|nan|[A-Za-z_]+|\S', s)
def close(a, b):
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return a == b
    if a == b: return True
    if fa != fa and fb != fb: return True
    return abs(fa - fb) <= 1e-10 * max(abs(fa), abs(fb)) + 1e-13
def compare(got, exp):
    gl, el = got.splitlines(), exp.splitlines()
    ok = True
    for i in range(max(len(gl), len(el))):
        g = gl[i] if i < len(gl) else "<missing>"
        e = el[i] if i < len(el) else "<missing>"
        tg, te = toks(g), toks(e)
        if len(tg) != len(te) or not all(close(x, y) for x, y in zip(tg, te)):
            print(f"  line {i+1}:\n    dp : {g[:300]}\n    ref: {e[:300]}")
            ok = False
    return ok
if __name__ == "__main__":
    for name in sys.argv[1:]:
      name = name.removesuffix(".dp")
      r = subprocess.run([os.path.join(ROOT, "target/debug/dp"), os.path.join(CASES, name + ".dp")], capture_output=True, text=True)
      if os.path.exists(name + ".expected"):
          expected = open(name + ".expected").read()
      else:
          p = subprocess.run(["python3", name + ".py"], capture_output=True, text=True)
          if p.returncode != 0:
              print(name, "PYFAIL", p.stderr[-2000:]); continue
          expected = p.stdout
      ok = compare(r.stdout, expected)
      if r.returncode != 0:
          print(name, "DPFAIL rc", r.returncode, r.stderr[-3000:]); continue
      print(name, "OK" if ok else "MISMATCH")
