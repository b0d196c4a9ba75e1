#!/usr/bin/env bash
# The main job: the MLPerf Tiny benchmark suite on the default target; prints the
# results table, writes results/results.json and results/junit.xml. Extra
# arguments go to pytest (e.g. --mlonmcu-target=host_x86 --mlonmcu-backend=tflmi).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
mkdir -p results
exec "$VENV/bin/python" -m pytest benchmarks/ -n auto -p no:cacheprovider \
  --mlonmcu-json=results/results.json --junitxml=results/junit.xml "$@"
