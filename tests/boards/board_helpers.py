"""Helpers of the board tests (fixtures are in conftest.py): targets, fake boards, sessions.

A fake board is a TCP server that plays a board's console (``FakeBoard``); the targets read it
through pyserial's ``socket://`` like a physical board's device.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_mlonmcu.boards.boardset import BoardSet
from pytest_mlonmcu.core.artifacts import Program
from pytest_mlonmcu.core.cache import Cache, default_cache_root
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.targets import TARGETS, register_builtin_targets

USER_CACHE = default_cache_root()  # before pytester moves HOME
REPO = Path(__file__).resolve().parents[2]
MLPERF_DIR = Path(
    os.environ.get("MLONMCU_MODELS_DIR") or REPO.parent / "shared" / "models" / "mlperf_tiny"
)

# A complete harness transcript of one sample (what a board prints).
TRANSCRIPT = (
    b"*** Booting Zephyr OS build 4.3.0 ***\r\n"
    b"MLIF setup 0 1200\r\n"
    b"MLIF invoke 0 0 0 34567\r\n"
    b"MLIF output 0 0 0102ff\r\n"
    b"MLIF stack 512\r\n"
    b"MLIF done 0\r\n"
)


def make_target(
    name: str, cache: Cache | None = None, boards: BoardSet | None = None, **settings: Any
):
    """Target ``name`` with ``<name>.<key>`` settings (and ``zephyr.*`` ones as ``zephyr_*``),
    registered from ``boards`` (default: boards.yml's) whose attached ports it gets like in a
    session."""
    register_builtin_targets(boards)
    values = dict(boards.port_settings()) if boards is not None else {}
    for key, value in settings.items():
        if key.startswith("zephyr_"):
            values[f"zephyr.{key.removeprefix('zephyr_')}"] = str(value)
        else:
            values[f"{name}.{key}"] = str(value)
    cls = TARGETS.get(name)
    return cls(RunConfig(values).scoped(name), cache or Cache(USER_CACHE))


def zephyr_skip_reason(target_name: str = "mps2_an385") -> str | None:
    return make_target(target_name).unavailable_reason()


def model_args() -> list[str]:
    """Model selection for plugin sessions: the MLPerf toycar, else the built-in zoo's."""
    if (MLPERF_DIR / "toycar" / "toycar.tflite").is_file():
        return [f"--mlonmcu-models-dir={MLPERF_DIR}", "--mlonmcu-model=toycar"]
    return ["--mlonmcu-model=zoo:toycar"]


@dataclass
class Session:
    result: pytest.RunResult
    report: dict[str, Any] | None
    out: Path

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    @property
    def runs(self) -> list[dict[str, Any]]:
        assert self.report is not None, f"no JSON report:\n{self.output}"
        return self.report["runs"]


# -- one Zephyr program shared by the tests that only run it --------------------------------


@dataclass
class BuiltProgram:
    program: Program
    outputs: list[list[bytes]]  # the reference run's outputs
    metrics: dict[str, Any]


# -- fake boards -----------------------------------------------------------------------------


class FakeBoard:
    """A TCP server playing a board's console: ``socket://127.0.0.1:PORT``.

    It sends ``transcript`` to each client once ``trigger()`` is called (a "reset" by the
    flash tool: the file ``trigger_file`` appears), or 0.3 s after connecting without one.
    """

    def __init__(self, transcript: bytes, trigger_file: Path | None = None) -> None:
        self.transcript = transcript
        self.trigger_file = trigger_file
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.clients.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        while self.trigger_file is not None and not self.trigger_file.exists():
            if self._stop.wait(0.02):
                return
        # Like a board after reset: the reader discards input pending when it opens the
        # port, so the console starts a moment after the connection, not during it.
        if self.trigger_file is None and self._stop.wait(0.3):
            return
        try:
            conn.sendall(self.transcript)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        for c in self.clients:
            c.close()
        self.server.close()


def fake_tool(bin_dir: Path, name: str, script: str) -> Path:
    """An executable ``name`` in ``bin_dir`` (put on PATH by the test)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def with_path(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
