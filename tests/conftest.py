"""Fixtures shared by the test directories: the single-operator models of
tests/cgen/op_specs.py (cgen's operator tests, the add-a-backend recipe), converted once with
TensorFlow and cached on disk."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from pytest_mlonmcu.core.cache import default_cache_root, hash_key

CGEN_TESTS = Path(__file__).parent / "cgen"
sys.path.insert(0, str(CGEN_TESTS))  # op_specs, cgen_helpers

from op_specs import OP_SPECS, UNSUPPORTED_SPECS  # noqa: E402

BUILDER = CGEN_TESTS / "build_op_models.py"


def _tf_version() -> str | None:
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _model_path(root: Path, spec: dict, tf_version: str) -> Path:
    key = hash_key(spec, BUILDER.read_bytes(), tf_version)
    return root / f"{spec['name']}-{key}.tflite"


@pytest.fixture(scope="session")
def op_models() -> dict[str, bytes]:
    """All test models of op_specs.py; missing ones are converted in one subprocess."""
    tf_version = _tf_version()
    if tf_version is None:
        pytest.skip("TensorFlow is needed to convert the cgen test models")
    root = default_cache_root() / "cgen-test-models"
    root.mkdir(parents=True, exist_ok=True)
    specs = OP_SPECS + UNSUPPORTED_SPECS
    paths = {s["name"]: _model_path(root, s, tf_version) for s in specs}
    with FileLock(str(root / ".build.lock")):
        jobs = [
            {"spec": s, "path": str(paths[s["name"]])}
            for s in specs
            if not paths[s["name"]].exists()
        ]
        if jobs:
            jobs_file = root / f".jobs-{hash_key(jobs)}.json"
            jobs_file.write_text(json.dumps(jobs))
            try:
                proc = subprocess.run(
                    [sys.executable, str(BUILDER), str(jobs_file)],
                    capture_output=True,
                    text=True,
                    timeout=1800,
                )
            finally:
                jobs_file.unlink(missing_ok=True)
            if proc.returncode:
                raise RuntimeError(f"building cgen test models failed:\n{proc.stderr[-4000:]}")
    return {name: path.read_bytes() for name, path in paths.items()}
