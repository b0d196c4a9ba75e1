#!/usr/bin/env bash
# The test suite: set-up, lint, then pytest (further arguments go to pytest).
#   bash scripts/test.sh           the fast suite: every test not marked slow
#   bash scripts/test.sh --slow    the slow tests only (full models on every target)
#   bash scripts/test.sh --full    both, as two pytest runs (what CI runs)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suites=(fast)
case "${1:-}" in
  --slow) suites=(slow); shift ;;
  --full) suites=(fast slow); shift ;;
esac
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/lint-imports"
status=0
for suite in "${suites[@]}"; do
  if [ "$suite" = fast ]; then marker="not slow"; else marker="slow"; fi
  echo "test.sh: the $suite suite (-m '$marker')"
  start=$SECONDS
  "$VENV/bin/python" -m pytest tests/ -n auto -p no:cacheprovider -m "$marker" "$@" || status=$?
  echo "test.sh: the $suite suite took $((SECONDS - start)) s"
done
exit "$status"
