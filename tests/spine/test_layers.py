"""The import-linter contracts in pyproject.toml hold, and they are not vacuous: an upward
import and a cycle planted in a copy of the package break them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_package_keeps_its_layers_and_has_no_cycles() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_and_a_cycle_break_the_contracts(tmp_path: Path) -> None:
    shutil.copytree(REPO / "pytest_mlonmcu", tmp_path / "pytest_mlonmcu")
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    pkg = tmp_path / "pytest_mlonmcu"
    with (pkg / "backends" / "cgen" / "backend.py").open("a") as f:
        f.write("\nfrom pytest_mlonmcu.targets import TARGETS  # noqa\n")
    with (pkg / "core" / "numbers.py").open("a") as f:
        f.write("\nfrom pytest_mlonmcu.core import registry  # noqa\n")
    with (pkg / "core" / "registry.py").open("a") as f:
        f.write("\nfrom pytest_mlonmcu.core import numbers  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    out = result.stdout
    assert "pytest_mlonmcu.backends is not allowed to import pytest_mlonmcu.targets" in out
    assert "No cycles are allowed in pytest_mlonmcu.core." in out
    assert "0 kept, 2 broken" in out
