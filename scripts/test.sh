#!/usr/bin/env bash
# The test suite: set-up, lint, then pytest (extra arguments go to pytest).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest tests/ -n auto -p no:cacheprovider "$@"
