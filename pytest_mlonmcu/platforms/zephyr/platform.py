"""The Zephyr platform: one target per board of the session's ``BoardSet``.

A board is a target of its own name (``stm32f7``, ``mps2_an385``); a board whose Zephyr board
has another name is that target too (``stm32f746g_disco``), bound to the board. The targets
themselves are ``ZephyrBoardTarget`` classes (``target.py``), each holding its board.
"""

from __future__ import annotations

from typing import ClassVar

from ...boards.boardset import Board, BoardSet
from ...core.components import Target
from ..base import Platform
from .target import ZephyrBoardTarget


def _describe(board: Board) -> str:
    how = "emulated by QEMU" if board.emulated else f"flash {board.flash}"
    return f"{board.describe()} [zephyr {board.zephyr_board}, {how}]"


class ZephyrPlatform(Platform):
    name: ClassVar[str] = "zephyr"
    description: ClassVar[str] = (
        "a Zephyr 4.3 application per run, built with west/CMake for a board"
    )
    # An emulated board: runs wherever QEMU does.
    default_target: ClassVar[str | None] = "mps2_an385"

    @classmethod
    def create_targets(cls, boards: BoardSet) -> list[type[Target]]:
        """One target per board, plus one per Zephyr board name that no board is named.

        A Zephyr board name keeps meaning the shipped board when the session redefines that
        board (``stm32f746g_disco`` after mlonmcu.yml made ``stm32f7`` an emulated stand-in):
        such a target compiles, and its run says why no attached board runs it.
        """
        classes: list[type[Target]] = [_make_class(b.name, b, bound=False) for b in boards]
        taken = set(boards.names())
        for board in boards:
            alias = board.target_name
            if alias not in taken:
                taken.add(alias)
                classes.append(_make_class(alias, board, bound=True))
        for board in boards.shipped.values():
            alias = board.target_name
            if alias not in taken:
                taken.add(alias)
                now = boards.get(board.name).zephyr_board
                classes.append(_make_class(alias, board, bound=True, redefined_as=now))
        return classes


def _required_tools(board: Board) -> dict[str, str]:
    pkg = "gcc-arm-none-eabi" if board.family == "arm" else "gcc-riscv64-unknown-elf"
    return {
        board.toolchain_prefix + "gcc": pkg,
        "cmake": "cmake",
        "ninja": "ninja-build",
        "dtc": "device-tree-compiler",
    }


def _make_class(
    name: str, board: Board, bound: bool, redefined_as: str | None = None
) -> type[ZephyrBoardTarget]:
    description = _describe(board)
    if bound:
        description = f"Zephyr board {board.zephyr_board} (board {board.name}): {description}"
    attrs = {
        "name": name,
        "description": description,
        "family": board.family,
        "board": board,
        "bound": bound,
        "redefined_as": redefined_as,
        "required_tools": _required_tools(board),
        "__module__": __name__,
        "__doc__": f"Zephyr target {name}: {description}",
    }
    return type(f"Zephyr_{name}", (ZephyrBoardTarget,), attrs)
