"""A benchmark farm: the matrix spread over pytest-xdist's workers on several hosts.

xdist starts the workers (``--tx socket=HOST:PORT``, ``--tx ssh=HOST``); each uses its own
host's cache and toolchains, and its records come back to the controller with each test's
report. This module says where a run ran (the record's ``ran_on``), names the host in the
reason a run fails or is skipped there, brings a remote run's artifacts back on request
(``--mlonmcu-fetch-artifacts``), groups the runs that share expensive builds (one target
variant) onto one worker under ``--dist loadgroup`` and hands out the runs known to be long
first (each run's seconds are kept in the cache between sessions).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .core.cache import atomic_write_text, entry_lock
from .core.case import Case
from .core.records import RunRecord
from .rundirs import MARKER, inside
from .session import RECORD_ATTR, attach_record

# workerinput: the controller's host and pid tell remote workers apart.
CONTROLLER_KEY = "mlonmcu_controller"
# A remote run's artifacts on its teardown report (--mlonmcu-fetch-artifacts): a tar.gz,
# base64, travelling through xdist's channel like the record.
ARTIFACTS_ATTR = "mlonmcu_artifacts"


def keep_records_when_a_host_dies(config: pytest.Config) -> None:
    """Controller: no worker restarts when a worker is a socket server's (unless asked).

    A socket worker runs inside the server process; when it dies, xdist's restart finds the
    port closed and aborts the session with an INTERNALERROR, and the runs other workers
    still hold (a worker reports a test's teardown only when it gets its next test) are
    lost. Without restarts the other hosts finish and every finished run is reported.
    """
    specs = config.getoption("tx", None) or []
    if config.getoption("maxworkerrestart", None) is None and any("socket=" in s for s in specs):
        config.option.maxworkerrestart = "0"


def configure_node(node: Any, cache_root: Path) -> None:
    """xdist controller: what a worker needs to know whether it runs elsewhere, and the
    seconds of earlier runs (read once here, so every worker sorts its collection alike)."""
    node.workerinput[CONTROLLER_KEY] = [socket.gethostname(), os.getpid()]
    config = node.config
    if RUN_SECONDS_STASH not in config.stash:
        config.stash[RUN_SECONDS_STASH] = read_run_seconds(cache_root)
    node.workerinput[RUN_SECONDS_KEY] = config.stash[RUN_SECONDS_STASH]


def ran_on(config: pytest.Config, cache_root: os.PathLike[str] | str) -> dict[str, Any]:
    """Where this process runs: host, xdist worker id, remote or not, and its cache."""
    workerinput = getattr(config, "workerinput", None)
    worker = "main" if workerinput is None else str(workerinput.get("workerid", "?"))
    # A popen worker is the controller's child; a socket or ssh worker is not.
    controller = None if workerinput is None else workerinput.get(CONTROLLER_KEY)
    remote = controller is not None and list(controller) != [socket.gethostname(), os.getppid()]
    return {
        "host": socket.gethostname(),
        "worker": worker,
        "remote": remote,
        "cache": str(cache_root),
    }


def on_this_host(reason: str, config: pytest.Config, cache_root: os.PathLike[str] | str) -> str:
    """``reason`` naming the host when a remote worker says it (a tool missing *there*)."""
    place = ran_on(config, cache_root)
    if not place["remote"]:
        return reason
    return f"{reason} (on host {place['host']}, worker {place['worker']})"


def name_host(
    exc: BaseException, config: pytest.Config, cache_root: os.PathLike[str] | str
) -> None:
    """Add the host to a failure on a remote worker (shown under its traceback)."""
    place = ran_on(config, cache_root)
    if place["remote"]:
        exc.add_note(f"(on host {place['host']}, worker {place['worker']})")


def group_by_variant(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``, one worker takes every run of a target variant (target and
    features), so each host builds a variant's libraries once; a test's own ``xdist_group``
    marker wins."""
    # xdist's workers collect; it tells them the mode as ``loadgroup`` (``dist`` is "no" there).
    if not config.getoption("loadgroup", False):
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("mlonmcu_case") if callspec else None
        if isinstance(case, Case) and item.get_closest_marker("xdist_group") is None:
            variant = "-".join([case.target, *case.features])
            item.add_marker(pytest.mark.xdist_group(name=f"mlonmcu-{variant}"))


# -- longest first -----------------------------------------------------------------------------
# xdist hands out tests in collection order; a long run that starts last keeps one worker busy
# while the others idle. Runs are sorted by their seconds in earlier sessions (longest
# processing time first); unknown runs (probably cold) go first, tests that are not runs last.
RUN_SECONDS_FILE = "run-seconds.json"
RUN_SECONDS_KEY = "mlonmcu_run_seconds"  # workerinput
RUN_SECONDS_STASH = pytest.StashKey[dict[str, float]]()
RUN_SECONDS_KEPT = 20_000  # the most recent run ids


def read_run_seconds(cache_root: Path) -> dict[str, float]:
    try:
        data = json.loads((cache_root / RUN_SECONDS_FILE).read_text())
        return {str(k): float(v[0]) for k, v in data.items()}
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}  # none yet, or unreadable: the collection order stays


def remember_run_seconds(cache_root: Path, records: Iterable[RunRecord]) -> None:
    """Controller, at the end: each finished run's stage seconds, for the next session."""
    now = time.time()
    fresh = {
        r["id"]: [round(sum(s["seconds"] for s in r["stages"].values()), 3), now]
        for r in records
        if r["stages"] and r["outcome"] in ("passed", "failed")
    }
    if not fresh:
        return
    path = cache_root / RUN_SECONDS_FILE
    cache_root.mkdir(parents=True, exist_ok=True)
    with entry_lock(path.with_suffix(".lock"), RUN_SECONDS_FILE, timeout=30):
        try:
            known = json.loads(path.read_text())
            known = known if isinstance(known, dict) else {}
        except (OSError, ValueError):
            known = {}
        known.update(fresh)
        kept = sorted(known.items(), key=lambda kv: kv[1][1] if isinstance(kv[1], list) else 0)
        atomic_write_text(path, json.dumps(dict(kept[-RUN_SECONDS_KEPT:])))


def longest_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An xdist worker's collection, runs known to be long first (stable otherwise)."""
    seconds = getattr(config, "workerinput", {}).get(RUN_SECONDS_KEY)
    if not seconds:
        return  # not a worker (-n 0 keeps the order), or nothing known yet

    def rank(item: pytest.Item) -> float:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("mlonmcu_case") if callspec else None
        if not isinstance(case, Case):
            return 0.0
        return -seconds.get(case.id, float("inf"))

    items.sort(key=rank)


def pack_artifacts(run_dir: Path) -> str:
    """``run_dir`` as a base64 tar.gz (names relative to it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(run_dir, arcname=".")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def unpack_artifacts(
    data: str, out_dir: Path, place: dict[str, Any], run_id: str, name: str
) -> Path:
    """A remote run's artifacts into ``out_dir/farm/<host>-<worker>/<run id>/<name>``.

    An earlier copy there is replaced only if it is a run folder the plugin wrote (its
    marker); the new one appears whole (extracted beside it, then renamed).
    """
    dest = inside(out_dir, out_dir / "farm" / f"{place['host']}-{place['worker']}" / run_id / name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r:gz") as tar:
            tar.extractall(staging, filter="data")
        if dest.exists():
            if not (dest / MARKER).exists():
                raise FileExistsError(f"{dest} exists and is not a run folder of pytest-mlonmcu")
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


class ArtifactFetcher:
    """Controller plugin: unpacks the artifacts a remote run sent and points its record at
    the local copy (the remote path stays in ``ran_on.artifacts``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    @pytest.hookimpl(tryfirst=True)  # before the session's results take the record
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, ARTIFACTS_ATTR, None)
        raw = getattr(report, RECORD_ATTR, None)
        if data is None or raw is None:
            return
        record = json.loads(raw)
        remote = Path(record["artifacts"])
        place = record["ran_on"]
        local = unpack_artifacts(data, self.out_dir, place, record["id"], remote.name)
        record["artifacts"] = str(local)
        record["ran_on"] = {**place, "artifacts": str(remote)}
        attach_record(report, record)
        delattr(report, ARTIFACTS_ATTR)  # the controller keeps no second copy in memory
