"""A benchmark farm: the matrix spread over pytest-xdist's workers on several hosts.

xdist starts the workers (``--tx socket=HOST:PORT``, ``--tx ssh=HOST``); each uses its own
host's cache and toolchains, and its records come back to the controller with each test's
report. This module says where a run ran (the record's ``ran_on``), names the host in the
reason a run is skipped there, and groups the runs that share expensive builds (one
target variant) onto one worker under ``--dist loadgroup``.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

from .core.case import Case

CONTROLLER_PID_KEY = "mlonmcu_controller_pid"  # workerinput: tells remote workers apart


def configure_node(node: Any) -> None:
    """xdist controller: what a worker needs to know whether it runs elsewhere."""
    node.workerinput[CONTROLLER_PID_KEY] = os.getpid()


def ran_on(config: pytest.Config, cache_root: os.PathLike[str] | str) -> dict[str, Any]:
    """Where this process runs: host, xdist worker id, remote or not, and its cache."""
    workerinput = getattr(config, "workerinput", None)
    worker = "main" if workerinput is None else str(workerinput.get("workerid", "?"))
    # A popen worker is the controller's child; a socket or ssh worker is not.
    controller = None if workerinput is None else workerinput.get(CONTROLLER_PID_KEY)
    remote = controller is not None and os.getppid() != controller
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
