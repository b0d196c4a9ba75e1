#!/usr/bin/env bash
# The main job: the MLPerf Tiny benchmark suite on the default target; prints the
# results table, writes results/results.json and results/junit.xml. Extra
# arguments go to pytest (e.g. --mlonmcu-target=host_x86 --mlonmcu-backend=tflmi).
#
#   bash scripts/bench.sh --suite readme   the sessions behind the README's result tables:
#       one results JSON per session in docs/results/, then the tables are rewritten
#       (python -m pytest_mlonmcu report docs/results/*.json --update README.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
PYTEST=("$VENV/bin/python" -m pytest benchmarks/ -n auto -p no:cacheprovider)

if [ "${1:-}" = "--suite" ]; then
  [ "${2:-}" = readme ] || { echo "bench.sh: unknown suite '${2:-}' (known: readme)" >&2; exit 2; }
  shift 2
  mkdir -p docs/results
  MODELS=--mlonmcu-model=aww,vww,resnet,toycar
  # name|arguments: one session each (features and settings apply to a whole session)
  SESSIONS=(
    "cgen|--mlonmcu-backend=cgen --mlonmcu-target=etiss,riscv_qemu,cortexm_qemu,host_x86"
    "tflmi|--mlonmcu-backend=tflmi --mlonmcu-target=etiss,riscv_qemu,cortexm_qemu,host_x86"
    "tflmi-cmsisnn|--mlonmcu-backend=tflmi --mlonmcu-target=cortexm_qemu --mlonmcu-feature=cmsisnn"
    "tvm|--mlonmcu-backend=tvmaot,tvmaotplus --mlonmcu-target=riscv_qemu"
    "tvm-targets|--mlonmcu-backend=tvmaotplus --mlonmcu-target=etiss,cortexm_qemu,host_x86"
    "tvm-layout_nchw|--mlonmcu-backend=tvmaotplus --mlonmcu-target=riscv_qemu --mlonmcu-feature=layout_nchw"
    "tvm-schedule_none|--mlonmcu-backend=tvmaotplus --mlonmcu-target=riscv_qemu --mlonmcu-feature=schedule_none"
    "tvm-autotune|--mlonmcu-backend=tvmaotplus --mlonmcu-target=riscv_qemu --mlonmcu-feature=autotune"
    "tvm-float|--mlonmcu-backend=tvmaotplus --mlonmcu-target=riscv_qemu --mlonmcu-config=tvmaotplus.int8=false"
    "tvmrt|--mlonmcu-backend=tvmrt --mlonmcu-target=host_x86"
  )
  status=0
  for entry in "${SESSIONS[@]}"; do
    name="${entry%%|*}"
    read -r -a args <<< "${entry#*|}"
    echo "bench.sh: session $name: ${args[*]}"
    "${PYTEST[@]}" -q "$MODELS" "${args[@]}" --mlonmcu-json="docs/results/$name.json" "$@" || status=$?
  done
  "$VENV/bin/python" -m pytest_mlonmcu report docs/results/*.json --update README.md
  exit "$status"
fi

mkdir -p results
exec "${PYTEST[@]}" --mlonmcu-json=results/results.json --junitxml=results/junit.xml "$@"
