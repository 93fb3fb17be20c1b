#!/usr/bin/env bash
# dp against its peers, in one run: builds the release binary, then prints one table
# (CPython, NumPy, HIPS autograd, JAX, PyTorch, micrograd; missing peers are skipped).
#   benches/run.sh [--reps N] [--peer-threads 1|2|both] [interp kernels train conv scalar gradcost vmapgrad]
# See benches/README.md. Nothing here is asserted by the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "benches/run.sh needs python3 (CPython 3.11 is the interpreter peer)"; exit 1; }
python3 -c 'import numpy' 2>/dev/null || echo "note: numpy missing (pip install numpy): the kernel and training peers will fail"
echo "== cargo build --release"
cargo build --release --quiet
exec python3 benches/compare.py --dp target/release/dp "$@"
