#!/usr/bin/env python3
"""Fills in the JAX float64 values of `jax.dp` (this folder's port of JAX's
NumPy-level AD tests): runs `../autodiff/jax_fill.py`, which evaluates the
`# jax: EXPR` comment of each `check(...)` line after the file's
`# jax-setup:` lines and writes the value into the line.

Needs `pip install numpy jax jaxlib`. Run: python3 tests/cases/yardstick/fill_jax.py
"""
import importlib.util
import pathlib

HERE = pathlib.Path(__file__).parent
_spec = importlib.util.spec_from_file_location("jax_fill", HERE.parent / "autodiff" / "jax_fill.py")
jax_fill = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jax_fill)

if __name__ == "__main__":
    jax_fill.fill(HERE / "jax.dp")
