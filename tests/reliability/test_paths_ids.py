"""Run ids are safe file names; nothing is written outside the out dir."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from spine.conftest import BENCH_TEST, HOST, NO_CALLGRIND, TFLMI

from pytest_mlonmcu.core.case import Case, model_label
from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.matrix import _unique_labels
from pytest_mlonmcu.platforms.zephyr.target import _write_script
from pytest_mlonmcu.rundirs import inside

SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


@pytest.mark.parametrize(
    ("model", "label"),
    [
        ("../../x", "x"),
        ("/tmp/x/sub/mymodel", "mymodel"),
        ("models/aww.tflite", "aww"),
        ("zoo:toycar", "zoo_toycar"),
        ("aww", "aww"),
        ("dir/.hidden.tflite", "_.hidden"),
        ("my model (v2)!", "my_model__v2__"),
        ("..", "_.."),
        ("dir/ünïcode.tflite", "_n_code"),
        ("name\nwith\x00control", "name_with_control"),
    ],
)
def test_model_labels_are_safe_file_names(model, label):
    assert model_label(model) == label
    case = Case(model, "tflmi", "host_x86", ("cmsis/nn",))
    assert SAFE_ID.match(case.id), case.id
    assert case.id == f"{label}-tflmi-host_x86-cmsis_nn"


def test_paths_sharing_a_stem_get_a_short_hash():
    labels = _unique_labels(["/a/mymodel", "/b/mymodel", "c/mymodel.tflite", "other"])
    assert labels["other"] == "other"
    hashed = [labels[m] for m in ("/a/mymodel", "/b/mymodel", "c/mymodel.tflite")]
    assert len(set(hashed)) == 3
    assert all(re.fullmatch(r"mymodel_[0-9a-f]{6}", label) for label in hashed)


def test_inside_rejects_paths_that_leave_the_out_dir(tmp_path):
    out = tmp_path / "out"
    (out / "case").mkdir(parents=True)
    assert inside(out, out / "case" / "test") == out / "case" / "test"
    for bad in (out / ".." / "x", tmp_path / "elsewhere", out):
        with pytest.raises(UsageError, match="outside the output directory"):
            inside(out, bad)
    (out / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UsageError, match="resolves to"):
        inside(out, out / "link" / "test")


def test_flash_script_note_stays_one_comment(tmp_path):
    script = tmp_path / "flash_command.sh"
    _write_script(script, [["true"]], "dir/odd\ntouch pwned\rx")
    lines = script.read_text().splitlines()
    assert lines[2] == "# dir/odd?touch pwned?x"
    subprocess.run(["sh", str(script)], cwd=tmp_path, check=True)
    assert not (tmp_path / "pwned").exists()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_models_by_path_write_only_under_the_out_dir(pytester, run_plugin, zoo_toycar, monkeypatch):
    # The session runs in proj/a/b: "../../x" is proj/x; the other model is an absolute
    # path without suffix. Earlier, both ids became paths that left the out dir.
    project = pytester.path / "proj"
    cwd = project / "a" / "b"
    cwd.mkdir(parents=True)
    shutil.copyfile(zoo_toycar, project / "x")
    absolute = pytester.path / "elsewhere" / "sub" / "mymodel"
    absolute.parent.mkdir(parents=True)
    shutil.copyfile(zoo_toycar, absolute)
    (cwd / "test_m.py").write_text(BENCH_TEST)
    out = cwd / "out"
    before = _files(pytester.path)
    monkeypatch.chdir(cwd)
    session = run_plugin(
        f"--mlonmcu-model=../../x,{absolute}", TFLMI, HOST, NO_CALLGRIND, f"--mlonmcu-out={out}"
    )
    session.result.assert_outcomes(passed=2)
    for run_id in ("x-tflmi-host_x86", "mymodel-tflmi-host_x86"):
        record = session.record(run_id)
        assert record["outcome"] == "passed"
        assert Path(record["artifacts"]) == out / run_id / "test_m.test_bench"
        assert (Path(record["artifacts"]) / "model.tflite").is_file()
    # Besides the out dir: the JSON report, pytester's capture of the session's output and
    # the results history (the rootdir's .mlonmcu/history.sqlite).
    expected = {pytester.path / name for name in ("mlonmcu-results.json", "stdout", "stderr")}
    expected.add(cwd / ".mlonmcu" / "history.sqlite")
    outside = [p for p in _files(pytester.path) - before if not p.is_relative_to(out)]
    assert set(outside) <= expected, outside
    assert os.listdir(out) != []
