"""A benchmark farm: the matrix spread over pytest-xdist's workers on several hosts.

xdist starts the workers (``--tx socket=HOST:PORT``, ``--tx ssh=HOST``); each uses its own
host's cache and toolchains, and its records come back to the controller with each test's
report. This module says where a run ran (the record's ``ran_on``), names the host in the
reason a run fails or is skipped there, brings a remote run's artifacts back on request
(``--mlonmcu-fetch-artifacts``) and groups the runs that share expensive builds (one target
variant) onto one worker under ``--dist loadgroup``.
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
from pathlib import Path
from typing import Any

import pytest

from .core.case import Case
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


def configure_node(node: Any) -> None:
    """xdist controller: what a worker needs to know whether it runs elsewhere."""
    node.workerinput[CONTROLLER_KEY] = [socket.gethostname(), os.getpid()]


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
