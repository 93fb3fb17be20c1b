#!/usr/bin/env python3
"""Fills in the JAX-computed expected values of the autodiff golden cases.

In a `.dp` file of this folder, a line

    check("NAME", DP_EXPR, EXPECTED);  # jax: JAX_EXPR

gets EXPECTED (a dp literal; `_` as a placeholder) replaced by the value of
JAX_EXPR, evaluated in float64 (`jax_enable_x64`) with `jax`, `jnp` and `np`
imported, after every preceding `# jax-setup: STATEMENT` line of the file has
been executed in the same namespace (the Python twins of the dp functions).
Literals are written as in `../tensor/np_fill.py` (shortest round-trip floats,
nested lists for arrays), plus dicts as `{key: value}` and `None` as `none`.

Needs `pip install jax jaxlib`. Run: python3 tests/cases/autodiff/jax_fill.py [FILES...]
"""
import importlib.util
import pathlib
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location("np_fill", HERE.parent / "tensor" / "np_fill.py")
np_fill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(np_fill)

TAIL = re.compile(r"\);\s*# jax: (.*)$")


def lit(v):
    if v is None:
        return "none"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {lit(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (tuple, list)) and not isinstance(v, np.ndarray):
        if isinstance(v, list):
            return "[" + ", ".join(lit(x) for x in v) + "]"
        inner = ", ".join(lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, jax.Array):
        v = np.asarray(v)
    if isinstance(v, np.ndarray) and v.ndim > 0:
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return np_fill.lit(float(v))


def literal_start(line, end):
    """Index where the literal that ends just before `end` begins (brackets, parens, braces or a bare token)."""
    i = end - 1
    if line[i] in "])}":
        depth = 0
        while i >= 0:
            if line[i] in "])}":
                depth += 1
            elif line[i] in "[({":
                depth -= 1
                if depth == 0:
                    return i
            i -= 1
        raise ValueError("unbalanced literal")
    while i >= 0 and line[i] != " ":
        i -= 1
    return i + 1


def fill(path):
    ns = {"jax": jax, "jnp": jnp, "np": np}
    out = []
    changed = False
    for n, line in enumerate(path.read_text().splitlines(keepends=True), 1):
        body = line.rstrip("\n")
        s = body.strip()
        if s.startswith("# jax-setup:"):
            exec(s[len("# jax-setup:"):].strip(), ns)
        m = TAIL.search(body)
        if m:
            try:
                value = eval(m.group(1), ns)
            except Exception as e:  # noqa: BLE001 - report and stop
                sys.exit(f"{path}:{n}: {e}")
            start = literal_start(body, m.start())
            new = body[:start] + lit(value) + body[m.start():]
            changed |= new != body
            line = new + "\n"
        out.append(line)
    if changed:
        path.write_text("".join(out))
        print(f"filled {path}")


def main():
    files = [pathlib.Path(p) for p in sys.argv[1:]] or sorted(HERE.glob("*.dp"))
    for f in files:
        fill(f)


if __name__ == "__main__":
    main()
