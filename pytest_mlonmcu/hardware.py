"""``@pytest.mark.hardware("NAME")``: needs board NAME, attached and reachable.

A board is attached when it is named with ``--mlonmcu-board NAME[=PORT]`` (ini key
``mlonmcu_board``, mlonmcu.yml ``boards:``); emulated boards (flash ``qemu``) are always
attached where their QEMU exists. A test whose board is missing or unreachable is skipped
with the reason; a benchmark test (``mlonmcu_run``) with the marker runs on that board: its
matrix target becomes the board's target, so the results carry the board as the target.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from .boards.boardset import BoardSet
from .devices.flash import flash_tool_missing
from .devices.labgrid import labgrid_missing
from .devices.qemu import qemu_missing
from .devices.serial import port_reachable
from .targets import TARGETS

if TYPE_CHECKING:
    from .settings import SessionSettings


def marker_board(marker: pytest.Mark) -> str:
    board = marker.args[0] if marker.args else marker.kwargs.get("board")
    if not board:
        raise pytest.UsageError(
            '@pytest.mark.hardware needs a board name, e.g. hardware("stm32f7")'
        )
    return str(board)


def is_attached(name: str, boards: BoardSet) -> bool:
    board = boards.find(name)
    return boards.is_attached(name) or (board is not None and board.emulated)


def skip_reason(
    name: str, boards: BoardSet, flashes: bool = False, flash: str | None = None
) -> str | None:
    """Why a test that needs board ``name`` cannot run now, or None.

    ``flashes``: the test puts a program on the board (a benchmark run), so the board's flash
    tool (``flash``: a ``<board>.flash`` setting, else the board's own) must be there too.
    """
    board = boards.find(name)
    if board is not None and board.emulated:
        # QEMU is the board: it also serves a configured socket:// port itself.
        return qemu_missing(board)
    port = boards.port_spec(name)
    if port is None:
        return (
            f"board {name!r} is not configured (use --mlonmcu-board {name}=PORT or 'boards' in "
            f"mlonmcu.yml); configured: {', '.join(boards.attached) or 'none'}"
        )
    if not port:
        return f"board {name!r} has no serial port: use --mlonmcu-board {name}=PORT"
    reason = port_reachable(port)
    if reason:
        return f"board {name!r} is configured but not reachable: {reason}"
    if board is not None and board.labgrid:
        missing = labgrid_missing(board)
        if missing:
            return missing
    if flashes and board is not None:
        missing = flash_tool_missing(flash or board.flash, board.flash_args)
        if missing:
            return f"board {name!r}: {missing}"
    return None


def check_item(item: pytest.Item, settings: SessionSettings) -> None:
    """pytest_runtest_setup: skip ``item`` unless its board can be used."""
    marker = item.get_closest_marker("hardware")
    if marker is None:
        return
    name = marker_board(marker)
    flashes = "mlonmcu_case" in getattr(item, "fixturenames", ())
    flash = settings.run_config.get(f"{name}.flash")
    reason = skip_reason(name, settings.boards, flashes=flashes, flash=flash)
    if reason:
        pytest.skip(reason)


def matrix_for(
    settings: SessionSettings, mlonmcu: pytest.Mark | None, hardware: pytest.Mark | None
) -> tuple[Any, pytest.Mark | None]:
    """(settings, mlonmcu marker) for ``expand``: a hardware test runs on its board's target.

    Only when the board is a known target and attached; otherwise the matrix stays as it is
    (the test is skipped in setup anyway).
    """
    if hardware is None:
        return settings, mlonmcu
    name = marker_board(hardware)
    if name not in TARGETS or not is_attached(name, settings.boards):
        return settings, mlonmcu
    narrowed = dataclasses.replace(settings, targets=[name], targets_explicit=False)
    if mlonmcu is not None and "targets" in mlonmcu.kwargs:
        kwargs = {k: v for k, v in mlonmcu.kwargs.items() if k != "targets"}
        mlonmcu = pytest.Mark(mlonmcu.name, mlonmcu.args, kwargs)
    return narrowed, mlonmcu
