"""The board lock: one board has one lock whatever name its port is given (a by-id link and
its /dev/ttyACM0); waiting for it is bounded and names the lock file and its holder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import DEFAULT_ROOT_ENV
from pytest_mlonmcu.core.errors import RunError, UsageError
from pytest_mlonmcu.devices.locks import board_lock, lock_key


def test_a_by_id_link_and_its_device_share_one_lock(tmp_path: Path) -> None:
    device = tmp_path / "ttyACM0"
    device.write_text("")
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-STMicroelectronics_STM32_STLink_0672-if02"
    link.symlink_to("../ttyACM0")
    assert lock_key(str(link)) == lock_key(str(device)) == str(device)
    assert lock_key("socket://127.0.0.1:4000") == "socket://127.0.0.1:4000"


_HOLD = """
import sys, time
from pytest_mlonmcu.devices.locks import board_lock
with board_lock(sys.argv[1], 60):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_board_held_elsewhere_times_out_naming_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another session holds the board by its by-id name; this one asks for /dev/ttyACM0."""
    monkeypatch.setenv(DEFAULT_ROOT_ENV, str(tmp_path / "cache"))
    device = tmp_path / "ttyACM0"
    device.write_text("")
    link = tmp_path / "usb-STM32_STLink"
    link.symlink_to(device)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(link)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunError) as info:
            with board_lock(str(device), 0.5, "stm32f7.lock_timeout"):
                pass
    finally:
        holder.kill()
        holder.wait()
    message = str(info.value)
    lock_files = list((tmp_path / "cache" / "board-locks").glob("*.lock"))
    assert len(lock_files) == 1
    assert f"board at {device} is held by another worker or session (pid {holder.pid}" in message
    assert f"lock {lock_files[0]} not free within 0.5 s" in message
    assert "raise stm32f7.lock_timeout" in message
    # Free again: this session gets it at once.
    with board_lock(str(link), 5) as hold:
        assert hold.key == str(device)


@pytest.mark.parametrize("bad", [-1, 0, float("nan"), float("inf")])
def test_lock_timeout_must_be_finite_and_positive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: float
) -> None:
    monkeypatch.setenv(DEFAULT_ROOT_ENV, str(tmp_path))
    with pytest.raises(UsageError, match=r"^stm32f7\.lock_timeout="):
        with board_lock("socket://127.0.0.1:1", bad, "stm32f7.lock_timeout"):
            pass
