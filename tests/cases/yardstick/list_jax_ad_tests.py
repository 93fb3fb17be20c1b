#!/usr/bin/env python3
"""Lists the test methods of JAX's NumPy-level test files that differentiate
(call `check_grads`, `grad`, `jvp`, `vjp`, `jacfwd`/`jacrev`, `hessian`,
`linearize` or `check_jvp`/`check_vjp`): the rows of the JAX section of
docs/yardstick.md. Prints `file<TAB>class<TAB>method<TAB>line`.

Run: python3 tests/cases/yardstick/list_jax_ad_tests.py PATH/TO/jax/tests
(the section was made from github:jax-ml/jax at cec06d116c05).
"""
import ast
import pathlib
import re
import sys

FILES = [
    "lax_numpy_test.py",
    "lax_numpy_operators_test.py",
    "lax_numpy_reducers_test.py",
    "lax_numpy_indexing_test.py",
    "lax_numpy_einsum_test.py",
    "lax_numpy_setops_test.py",
    "lax_numpy_ufuncs_test.py",
    "lax_numpy_vectorize_test.py",
    "linalg_test.py",
]
AD = re.compile(
    r"partial\(jvp|partial\(grad|check_grads|jax\.grad|\bgrad\(|jax\.jvp|\bjvp\(|jax\.vjp|\bvjp\("
    r"|jacfwd|jacrev|hessian|linearize|check_jvp|check_vjp"
)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests")
    for name in FILES:
        src = (root / name).read_text()
        for cls in ast.parse(src).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name.startswith("test"):
                    if AD.search(ast.get_source_segment(src, fn)):
                        print(f"{name}\t{cls.name}\t{fn.name}\t{fn.lineno}")


if __name__ == "__main__":
    main()
