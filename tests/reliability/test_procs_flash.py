"""Flash tools: a hung flash tool is killed with its children after the flash timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlonmcu.boards.flash import run_flash
from pytest_mlonmcu.errors import RunError, UsageError

from .procs_helpers import eventually, in_group, is_alive, kill_quietly, needs_proc, wait_for_file


@needs_proc
def test_flash_timeout_kills_the_tool_and_its_children(tmp_path: Path) -> None:
    """A flash tool that started a helper and hangs: both are gone after the timeout."""
    tool = tmp_path / "fake-flash"
    tool.write_text(
        "#!/bin/sh\n"
        f"echo $$ > {tmp_path}/tool\n"
        f"sleep 60 & echo $! > {tmp_path}/helper\n"
        "echo 'Flashing sector 0...'\n"
        "sleep 60\n"
    )
    tool.chmod(0o755)
    log = tmp_path / "flash.log"
    with pytest.raises(RunError) as info:
        run_flash([str(tool), "zephyr.bin"], None, 1, log, "stm32f7.flash_timeout")
    tool_pid = int(wait_for_file(tmp_path / "tool"))
    helper = int(wait_for_file(tmp_path / "helper"))
    try:
        assert eventually(lambda: not in_group(tool_pid)), in_group(tool_pid)
        assert not is_alive(tool_pid) and not is_alive(helper)
    finally:
        kill_quietly([tool_pid, helper])
    message = str(info.value)
    assert message.startswith("flashing timed out after 1 s (set stm32f7.flash_timeout)\n")
    assert f"$ {tool} zephyr.bin" in message and "Flashing sector 0..." in message
    assert log.read_text().startswith(f"$ {tool} zephyr.bin\nFlashing sector 0...")


def test_flash_timeout_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^stm32f7\.flash_timeout=inf"):
        run_flash(["true"], None, float("inf"), tmp_path / "f.log", "stm32f7.flash_timeout")
