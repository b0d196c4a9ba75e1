"""The results history (history/): sessions on commits, the history command, history:REV."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from gates_helpers import BENCH_TEST, FAKE, models_arg, nodeid, rid, write_metrics

BASE = {"invoke_instructions": 1_000_000, "rom_bytes": 100_000}
WORSE = {"invoke_instructions": 1_060_000, "rom_bytes": 100_000}  # +6%
REGRESSION = (
    "regression: invoke_instructions = 1,060,000 vs baseline 1,000,000 (+6.0%, allowed +5%) "
    "[from --mlonmcu-fail-on invoke_instructions:+5%]"
)
DB = ".mlonmcu/history.sqlite"


def git(project, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project.path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def commit(project, message: str) -> str:
    # Outside the commits: what sessions write (pytester's capture files, bytecode, reports),
    # so the history sees a clean tree.
    (project.path / ".gitignore").write_text(
        ".mlonmcu/\nresults.json\nfake_metrics.json\nplots/\n__pycache__/\nstdout\nstderr\nrunpytest-*\n"
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
    return git(project, "rev-parse", "HEAD")


@pytest.fixture
def two_commits(fake_project, run_session):
    """Commit A ran m1, m2 at BASE (its report: on-a.json); on commit B m1 runs 6% worse."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("git not installed")
    fake_project.makepyfile(test_m=BENCH_TEST)
    git(fake_project, "init", "-q")
    first = commit(fake_project, "A")
    write_metrics(fake_project, {rid("m1"): BASE, rid("m2"): BASE})
    session = run_session(*FAKE, models_arg("m1", "m2"))
    assert session.ret == 0, session.output
    assert f"results history: 2 runs added to {fake_project.path / DB}" in session.output
    (fake_project.path / "results.json").rename(fake_project.path / "on-a.json")
    (fake_project.path / "notes.txt").write_text("B\n")
    second = commit(fake_project, "B")
    write_metrics(fake_project, {rid("m1"): WORSE, rid("m2"): BASE})
    return first, second


def test_history_gates_like_a_baseline_file(two_commits, fake_project, run_session):
    gate = ("--mlonmcu-fail-on=invoke_instructions:+5%", *FAKE, models_arg("m1", "m2"))
    from_history = run_session("--mlonmcu-compare=history:HEAD~1", *gate)
    from_history.result.assert_outcomes(passed=1, failed=1)
    assert from_history.record(nodeid("m1"))["reason"] == REGRESSION
    assert from_history.record(nodeid("m2"))["comparison"]["key"] == rid("m2")
    assert f"baseline history:HEAD~1 ({two_commits[0][:12]}): " in from_history.output

    # Commit A's session report as the baseline file: the same verdicts.
    from_file = run_session("--mlonmcu-compare=on-a.json", *gate)
    assert from_file.outcomes() == from_history.outcomes()


def test_history_command_shows_both_commits_with_deltas_and_plots(
    two_commits, fake_project, run_session
):
    assert run_session(*FAKE, models_arg("m1", "m2")).ret == 0  # on commit B
    cmd = [sys.executable, "-m", "pytest_mlonmcu", "history", "--plots", "plots"]
    out = subprocess.run(cmd, cwd=fake_project.path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"results history: {fake_project.path / DB} (2 sessions)"
    header = next(line for line in lines if line.startswith("run id"))
    first, second = two_commits
    assert header.index(first[:10]) < header.index(second[:10])  # oldest first
    row = {line.split()[0]: line for line in lines if line.startswith("m")}
    assert row[rid("m1")].split()[1:] == ["1,000,000", "1,060,000", "(+6.0%)"]
    assert row[rid("m2")].split()[1:] == ["1,000,000", "1,000,000", "(=)"]
    assert (fake_project.path / "plots" / "history-invoke_instructions.png").stat().st_size > 0
    with sqlite3.connect(fake_project.path / DB) as conn:
        sessions = conn.execute("SELECT commit_sha, dirty FROM sessions ORDER BY id").fetchall()
    assert sessions == [(first, 0), (second, 0)]

    since = subprocess.run(
        [*cmd, "--since", "HEAD", "--metric", "rom_bytes"],
        cwd=fake_project.path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert since.returncode == 0, since.stderr
    assert first[:10] not in since.stdout and second[:10] in since.stdout
    assert "rom_bytes by commit" in since.stdout


def test_history_usage_errors(two_commits, fake_project, run_session):
    nowhere = run_session("--mlonmcu-compare=history:no-such-rev", *FAKE, models_arg("m1"))
    assert nowhere.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert "history: 'no-such-rev' is not a commit of the repository" in nowhere.output
    # Commit B has no stored runs yet.
    empty = run_session("--mlonmcu-compare=history:HEAD", *FAKE, models_arg("m1"))
    assert empty.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert f"no runs stored for commit {two_commits[1][:12]}" in empty.output
    off = run_session("--mlonmcu-history=off", "--mlonmcu-compare=history:HEAD~1", *FAKE)
    assert "--mlonmcu-compare=history:HEAD~1: the results history is off" in off.output
    url = run_session("--mlonmcu-history=postgresql://db.example/results", *FAKE)
    assert url.ret == int(pytest.ExitCode.USAGE_ERROR)
    assert "a database URL needs SQLAlchemy" in url.output
