"""Boards in a labgrid lab (optional): a board entry names a labgrid place.

    boards:
      lab_f7:
        base: stm32f7
        labgrid: {place: f7-desk-3, coordinator: "lab.example:20408"}
        port: "rfc2217://exporter.example:30001"   # the place's NetworkSerialPort
        flash_args: {command: "labgrid-client -p {place} write-image {bin}"}

The place is acquired with ``labgrid-client -p PLACE acquire`` for the flash-and-read of one
run and released afterwards (labgrid's own reservation across users, on top of the local
per-port lock). The console is the place's network serial port, read with pyserial's
``rfc2217://`` like any other port; flashing is the board's command template, where
``{place}`` names the place. Without labgrid (``pip install labgrid``) such boards are
skipped with that reason.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..boards.boardset import Board
from ..core import proc
from ..core.errors import RunError

CLIENT = "labgrid-client"


def labgrid_missing(board: Board) -> str | None:
    """Why ``board``'s labgrid place cannot be used here, or None (also for non-lab boards)."""
    if not board.labgrid:
        return None
    if not board.labgrid.get("place"):
        return f"board {board.name}: labgrid needs a place (labgrid: {{place: NAME}})"
    if shutil.which(CLIENT) is None:
        return (
            f"board {board.name} is in labgrid place {board.labgrid['place']}, but labgrid is "
            f"not installed (pip install labgrid)"
        )
    return None


def client_command(board: Board, *args: str) -> list[str]:
    cmd = [CLIENT]
    coordinator = board.labgrid.get("coordinator")
    if coordinator:
        cmd += ["-x", coordinator]
    return [*cmd, "-p", board.labgrid["place"], *args]


@contextlib.contextmanager
def acquired(board: Board, log_path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold ``board``'s labgrid place (no-op for boards outside a lab)."""
    if not board.labgrid:
        yield
        return
    _client(board, "acquire", log_path=log_path, timeout=timeout)
    try:
        yield
    finally:
        _client(board, "release", log_path=log_path, timeout=timeout, check=False)


def _client(board: Board, *args: str, log_path: Path, timeout: float, check: bool = True) -> None:
    cmd = client_command(board, *args)
    with log_path.open("a") as log:
        log.write(f"$ {shlex.join(cmd)}\n")
    try:
        result = proc.run(cmd, timeout=timeout, what="labgrid", log_path=log_path, append=True)
    except proc.ChildTimeout:
        raise RunError(f"labgrid: {shlex.join(cmd)} timed out after {timeout:g} s") from None
    if check and result.returncode != 0:
        raise RunError(
            f"labgrid: {shlex.join(cmd)} failed (exit {result.returncode}); see {log_path}"
        )
