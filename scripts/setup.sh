#!/usr/bin/env bash
# Idempotent set-up for pytest-mlonmcu on Debian 12: system packages (apt-get when
# root, otherwise a message naming them), a virtual environment with the Python
# dependencies, and the simulators the project builds from source (ETISS).
# Sourced by scripts/test.sh and scripts/bench.sh; safe to run again and again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MLONMCU_VENV:-$ROOT/.venv}"

SYSTEM_PACKAGES=(
  python3-venv gcc g++ make cmake pkg-config valgrind
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib
  qemu-system-misc qemu-system-arm libglib2.0-dev
  libboost-filesystem-dev libboost-system-dev libboost-program-options-dev
  device-tree-compiler ninja-build gperf
)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# Python environment: reinstalled only when pyproject.toml changes.
stamp="$VENV/.mlonmcu-stamp"
EXTRAS="zoo,dev,boards,tvm"
want="$( (sha256sum "$ROOT/pyproject.toml"; echo "$EXTRAS") | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python dependencies (first time: several minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT[$EXTRAS]"
  echo "$want" > "$stamp"
fi

# Local sources for what is normally fetched from code hosts (this workplace has
# no access to them): the vendored tarballs and the MLPerf Tiny models.
if [ -z "${MLONMCU_VENDOR_DIR:-}" ] && [ -d "$ROOT/../shared/vendor" ]; then
  export MLONMCU_VENDOR_DIR="$(cd "$ROOT/../shared/vendor" && pwd)"
fi
if [ -z "${MLONMCU_MODELS_DIR:-}" ] && [ -d "$ROOT/../shared/models/mlperf_tiny" ]; then
  export MLONMCU_MODELS_DIR="$(cd "$ROOT/../shared/models/mlperf_tiny" && pwd)"
fi

# Simulators built from pinned sources into the per-user cache (once per machine).
if "$VENV/bin/python" -c "import pytest_mlonmcu.install.etiss" 2>/dev/null; then
  "$VENV/bin/python" -m pytest_mlonmcu install etiss
fi
