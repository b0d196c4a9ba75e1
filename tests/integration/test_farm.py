"""A benchmark farm on one machine: two execnet socket servers stand in for two hosts, each in
its own process with its own working directory and cache; pytest-xdist runs the matrix on
them (``--tx socket=...``) and every run comes back to the controller's one JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV, Cache, default_cache_root
from pytest_mlonmcu.devices.qemu import free_tcp_port
from pytest_mlonmcu.models.model import ModelResolver

BENCH = "def test_bench(mlonmcu_run):\n    mlonmcu_run.process()\n"


def _serve(home: Path) -> tuple[subprocess.Popen, int]:
    """An execnet socket server in ``home`` whose workers use ``home/cache``."""
    home.mkdir()
    port = free_tcp_port()
    env = {**os.environ, DEFAULT_ROOT_ENV: str(home / "cache")}
    # A TFLM source that does not exist: a TFLM library build fails at once, naming the host.
    env["MLONMCU_TFLM_SOURCE"] = str(home / "no-tflm-here")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "execnet.script.socketserver", f"127.0.0.1:{port}"],
        cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while "Entering Accept loop" not in (home / "server.log").read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"socket server failed:\n{(home / 'server.log').read_text()}")
        time.sleep(0.05)
    return server, port


def run_farm(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hosts, *extra: str
) -> tuple[pytest.RunResult, Path]:
    """toycar x {cgen, tflmi} x {host_x86, riscv_qemu} through the socket workers of ``hosts``;
    the result and the path of the controller's JSON report."""
    toycar = ModelResolver([], Cache(default_cache_root())).resolve("zoo:toycar").path
    pytester.makepyfile(test_bench=BENCH)
    monkeypatch.setenv(DEFAULT_ROOT_ENV, str(pytester.path / "controller-cache"))
    json_path = pytester.path / "results.json"
    tx = [f"--tx=socket=127.0.0.1:{port}" for _, port in hosts]
    result = pytester.runpytest_subprocess(
        *tx, f"--rsyncdir={pytester.path}", "--dist=load", "-p", "no:cacheprovider",
        f"--mlonmcu-model={toycar}", "--mlonmcu-backend=cgen,tflmi",
        "--mlonmcu-target=host_x86,riscv_qemu", "--mlonmcu-config=host_x86.callgrind=false",
        f"--mlonmcu-json={json_path}", "-rA", *extra, timeout=600,
    )  # fmt: skip
    return result, json_path


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[list[tuple[Path, int]]]:
    servers = [_serve(tmp_path / name) for name in ("host_a", "host_b")]
    try:
        yield [(tmp_path / name, port) for name, (_, port) in zip(("host_a", "host_b"), servers)]
    finally:
        for server, _ in servers:
            server.kill()
            server.wait(timeout=10)


def test_a_matrix_runs_on_two_socket_workers_into_one_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, two_hosts
) -> None:
    result, json_path = run_farm(pytester, monkeypatch, two_hosts, "--mlonmcu-fetch-artifacts")
    runs = {r["id"]: r for r in json.loads(json_path.read_text())["runs"]}
    output = result.stdout.str()
    assert sorted(runs) == [
        "toycar-cgen-host_x86", "toycar-cgen-riscv_qemu",
        "toycar-tflmi-host_x86", "toycar-tflmi-riscv_qemu",
    ], output  # fmt: skip
    # xdist's load scheduling hands out the four runs two by two: both hosts work.
    assert {r["ran_on"]["worker"] for r in runs.values()} == {"gw0", "gw1"}
    caches = {str(home / "cache"): home for home, _ in two_hosts}
    for run in runs.values():
        place = run["ran_on"]
        assert place["remote"] is True and place["worker"] in ("gw0", "gw1")
        assert place["cache"] in caches  # the worker's own host cache, not the controller's
    for run_id in ("toycar-cgen-host_x86", "toycar-cgen-riscv_qemu", "toycar-tflmi-host_x86"):
        assert runs[run_id]["outcome"] == "passed", output
        assert runs[run_id]["metrics"]["validation_passed"] is True
        # --mlonmcu-fetch-artifacts: the run's folder came back to the controller's out dir.
        local = Path(runs[run_id]["artifacts"])
        assert local.is_relative_to(pytester.path / ".mlonmcu" / "out" / "farm")
        remote = Path(runs[run_id]["ran_on"]["artifacts"])
        assert remote.is_relative_to(Path(runs[run_id]["ran_on"]["cache"]).parent)
        assert (local / "run" / "run.log").read_bytes() == (remote / "run" / "run.log").read_bytes()
    assert (Path(runs["toycar-cgen-riscv_qemu"]["artifacts"]) / "compile" / "program.elf").is_file()
    # Exact counts do not depend on the host: the same as a local run would give.
    assert runs["toycar-cgen-riscv_qemu"]["metrics"]["invoke_instructions"] > 0
    # The host lacks TFLM's sources: the failure names what is missing and where.
    failed = runs["toycar-tflmi-riscv_qemu"]
    assert failed["outcome"] == "failed"
    host = failed["ran_on"]["host"]
    assert "no-tflm-here" in failed["reason"]
    assert f"(on host {host}, worker {failed['ran_on']['worker']})" in failed["reason"]
    used = {run["ran_on"]["cache"] for run in runs.values()}
    for cache in used:  # each host built what its runs needed in its own cache
        assert (Path(cache) / "reference").is_dir()
    assert not (pytester.path / "controller-cache" / "reference").exists()


KILL_HOST = """
import os


def pytest_mlonmcu_add_metrics(run):
    if run.case.id == "toycar-cgen-riscv_qemu":
        os._exit(3)  # the socket worker runs inside its server: the whole host goes
"""


def test_a_host_that_dies_loses_no_finished_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, two_hosts
) -> None:
    pytester.makeconftest(KILL_HOST)
    result, json_path = run_farm(pytester, monkeypatch, two_hosts)
    output = result.stdout.str() + result.stderr.str()
    # xdist would try to restart the dead socket worker and abort (INTERNALERROR): the plugin
    # turns restarts off for socket workers, so the other host finishes.
    assert "INTERNALERROR" not in output, output
    assert result.ret == 1
    runs = {r["id"]: r for r in json.loads(json_path.read_text())["runs"]}
    crashed = runs["toycar-cgen-riscv_qemu"]
    assert crashed["outcome"] == "failed" and "crashed while running" in crashed["reason"]
    passed = {
        line.split("[")[1].split("]")[0] for line in result.outlines if line.startswith("PASSED")
    }
    assert passed, output
    assert passed == {i for i, r in runs.items() if r["outcome"] == "passed"}
