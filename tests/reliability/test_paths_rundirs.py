"""Run folders: only the plugin's own are replaced; concurrent sessions keep theirs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from spine.conftest import FAST, USER_CACHE

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV
from pytest_mlonmcu.core.errors import UsageError
from pytest_mlonmcu.rundirs import MARKER, SESSIONS_DIR, RunDirs
from pytest_mlonmcu.settings import MODELS_DIR_ENV

RUN_ID = "zoo_toycar-tflmi-host_x86"
TEST_DIR = "test_m.test_bench"


# -- RunDirs in one process: each instance stands for one session ------------------------
def test_claim_creates_a_marked_folder(tmp_path):
    dirs = RunDirs(tmp_path / "out", "aaaa")
    path, left_alone = dirs.claim("case", "t", "n::t")
    assert path == tmp_path / "out" / "case" / "t" and left_alone == []
    assert json.loads((path / MARKER).read_text())["nodeid"] == "n::t"
    dirs.close()
    assert list((tmp_path / "out" / SESSIONS_DIR).iterdir()) == []


def test_a_running_session_keeps_its_folder(tmp_path):
    first, second = RunDirs(tmp_path, "aaaa"), RunDirs(tmp_path, "bbbb")
    mine, _ = first.claim("case", "t", "n::t")
    (mine / "result").write_text("first")
    theirs, left_alone = second.claim("case", "t", "n::t")
    assert theirs == tmp_path / "case" / "t.2" and left_alone == []
    assert (mine / "result").read_text() == "first"
    first.close()
    # The first session has ended: its folder is replaced by the next run of the test.
    third = RunDirs(tmp_path, "cccc")
    again, _ = third.claim("case", "t", "n::t")
    assert again == mine and not (again / "result").exists()
    assert sorted(p.name for p in (tmp_path / "case").iterdir()) == [
        ".mlonmcu-claim.lock",
        "t",
        "t.2",
    ]
    second.close()
    third.close()


def test_within_a_session_only_the_same_test_replaces_its_folder(tmp_path):
    dirs = RunDirs(tmp_path, "aaaa")
    first, _ = dirs.claim("case", "t", "a/test_x.py::t")
    (first / "result").write_text("a")
    other, _ = dirs.claim("case", "t", "b/test_x.py::t")  # same folder name, other test
    assert other.name == "t.2" and (first / "result").read_text() == "a"
    rerun, _ = dirs.claim("case", "t", "a/test_x.py::t")
    assert rerun == first and not (first / "result").exists()
    dirs.close()


def test_folders_without_the_marker_are_left_alone(tmp_path):
    user = tmp_path / "case" / "t"
    user.mkdir(parents=True)
    (user / "notes.txt").write_text("mine")
    (tmp_path / "case" / "t.2").write_text("a file where a folder would go")
    dirs = RunDirs(tmp_path, "aaaa")
    path, left_alone = dirs.claim("case", "t", "n::t")
    assert path.name == "t.3" and left_alone == [user, tmp_path / "case" / "t.2"]
    assert (user / "notes.txt").read_text() == "mine"
    dirs.close()


def test_leftovers_of_a_killed_replacement_are_removed_only_if_marked(tmp_path):
    case = tmp_path / "case"
    ours = case / ".t.old-0123456789ab"  # moved aside by a process killed before deleting it
    (ours / "build").mkdir(parents=True)
    (ours / MARKER).write_text("{}")
    user = case / ".u.old-0123456789ab"  # the same name pattern, but not the plugin's
    user.mkdir()
    (user / "keep").write_text("x")
    dirs = RunDirs(tmp_path, "aaaa")
    dirs.claim("case", "t", "n::t")
    assert not ours.exists() and (user / "keep").is_file()
    dirs.close()


def test_a_case_folder_that_leads_outside_is_an_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "case").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UsageError, match="outside the output directory"):
        RunDirs(out, "aaaa").claim("case", "t", "n::t")
    assert list((tmp_path / "elsewhere").iterdir()) == []


# -- plugin sessions --------------------------------------------------------------------
BENCH_AND_MARK = """
def test_bench(mlonmcu_run):
    mlonmcu_run.process()
"""


def test_a_users_folder_in_the_way_is_not_deleted(pytester, run_plugin):
    pytester.makepyfile(test_m=BENCH_AND_MARK)
    user = pytester.path / ".mlonmcu" / "out" / RUN_ID / TEST_DIR
    user.mkdir(parents=True)
    (user / "notes.txt").write_text("mine")
    session = run_plugin(*FAST)
    session.result.assert_outcomes(passed=1, warnings=1)
    assert (user / "notes.txt").read_text() == "mine"
    artifacts = Path(session.record(RUN_ID)["artifacts"])
    assert artifacts == user.with_name(TEST_DIR + ".2")
    assert (artifacts / "metrics.json").is_file()
    assert "did not write (no .mlonmcu-run marker): left alone" in session.output
    # The next session replaces its own earlier folder, at the same path.
    (artifacts / "stale.txt").write_text("from the first session")
    session = run_plugin(*FAST)
    assert Path(session.record(RUN_ID)["artifacts"]) == artifacts
    assert not (artifacts / "stale.txt").exists() and (artifacts / "metrics.json").is_file()
    assert (user / "notes.txt").read_text() == "mine"


# Each session waits, after its run, until the other one has run too: they overlap.
WAIT_FOR_OTHER = """
import time
from pathlib import Path


def test_bench(mlonmcu_run, request):
    mlonmcu_run.process()
    me = Path(request.config.getoption("mlonmcu_json")).stem
    other = {"a": "b", "b": "a"}[me]
    Path(f"ran-{me}").write_text(str(mlonmcu_run.artifacts_dir))
    deadline = time.monotonic() + 120
    while not Path(f"ran-{other}").exists():
        assert time.monotonic() < deadline, "the other session never ran"
        time.sleep(0.05)
"""


def test_concurrent_sessions_keep_their_artifacts(pytester, monkeypatch):
    pytester.makepyfile(test_m=WAIT_FOR_OTHER)
    monkeypatch.setenv(DEFAULT_ROOT_ENV, str(USER_CACHE))
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    procs = {
        name: pytester.popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                *FAST,
                f"--mlonmcu-json={pytester.path / f'{name}.json'}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        for name in ("a", "b")
    }
    outputs = {name: proc.communicate(timeout=300)[0].decode() for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name]
    folders = set()
    for name in ("a", "b"):
        (record,) = json.loads((pytester.path / f"{name}.json").read_text())["runs"]
        artifacts = Path(record["artifacts"])
        assert (pytester.path / f"ran-{name}").read_text() == str(artifacts)
        saved = json.loads((artifacts / "metrics.json").read_text())
        assert saved["metrics"]["validation_passed"] is True
        folders.add(artifacts.name)
    assert folders == {TEST_DIR, TEST_DIR + ".2"}
