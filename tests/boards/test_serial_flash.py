"""Serial read-out, the port lock and the flash methods, with fake boards (no builds, fast).

A fake board is a TCP server that plays a board's console; the target reads it through
pyserial's ``socket://`` exactly like a physical board's device.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest
from board_helpers import TRANSCRIPT, fake_tool, make_target, with_path

from pytest_mlonmcu.boards.boardset import shipped_boards
from pytest_mlonmcu.core.artifacts import Program
from pytest_mlonmcu.core.errors import BoardNotAttached, RunError
from pytest_mlonmcu.devices.flash import FlashImage, FlashRequest, flash_command
from pytest_mlonmcu.devices.locks import board_lock
from pytest_mlonmcu.devices.qemu import QemuInstance
from pytest_mlonmcu.devices.serial import (
    PortNotFound,
    SerialConsole,
    port_reachable,
    resolve_port,
    socket_address,
)


def test_port_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert resolve_port("socket://127.0.0.1:5000") == "socket://127.0.0.1:5000"
    assert socket_address("socket://localhost:5000") == ("localhost", 5000)
    dev = tmp_path / "usb-STMicroelectronics_STM32_STLink_0672-if02"
    dev.write_text("")
    assert resolve_port(str(dev)) == str(dev)
    assert resolve_port(str(tmp_path / "usb-STM*")) == str(dev)
    (tmp_path / "usb-STMicro_second").write_text("")
    with pytest.raises(PortNotFound, match="matches 2 devices"):
        resolve_port(str(tmp_path / "usb-STM*"))
    with pytest.raises(PortNotFound, match="does not exist"):
        resolve_port("/dev/ttyACM77")

    class Port:
        def __init__(self, device: str, serial: str) -> None:
            self.device, self.vid, self.pid, self.serial_number = device, 0x0483, 0x374B, serial

    from serial.tools import list_ports

    monkeypatch.setattr(list_ports, "comports", lambda: [Port("/dev/ttyACM0", "A1")])
    assert resolve_port("0483:374b") == "/dev/ttyACM0"
    assert resolve_port("0483:374B:A1") == "/dev/ttyACM0"
    with pytest.raises(PortNotFound, match="no USB serial device 303a:1001"):
        resolve_port("303a:1001")
    assert "nothing listens" in port_reachable("socket://127.0.0.1:1")
    assert port_reachable("loop://") is None


def test_console_reads_until_done(tmp_path: Path, fake_board):
    board = fake_board()
    with SerialConsole(board.url, 115200, tmp_path / "serial.log").open() as console:
        text = console.wait_for(timeout=10)
    assert text.endswith("MLIF done 0\r\n")
    assert (tmp_path / "serial.log").read_bytes() == TRANSCRIPT


def test_silent_board_times_out_with_its_log(tmp_path: Path, fake_board):
    board = fake_board(b"*** Booting Zephyr OS build 4.3.0 ***\r\nMLIF setup 0 -\r\n")
    with SerialConsole(board.url, 115200, tmp_path / "serial.log").open() as console:
        with pytest.raises(RunError) as err:
            console.wait_for(timeout=2)
    msg = str(err.value)
    assert "timeout: no 'MLIF done' on socket://127.0.0.1:" in msg and "within 2 s" in msg
    assert "--- serial log (55 bytes" in msg and "MLIF setup 0 -" in msg


def test_fatal_error_returns_early(tmp_path: Path, fake_board):
    fault = (
        b"MLIF setup 0 -\r\n[00:00:00.010,000] <err> os: ***** BUS FAULT *****\r\n"
        b">>> ZEPHYR FATAL ERROR 25: Unknown error on CPU 0\r\nHalting system\r\n"
    )
    board = fake_board(fault)
    start = time.monotonic()
    with SerialConsole(board.url, 115200, tmp_path / "s.log").open() as console:
        text = console.wait_for(timeout=20)
    assert "Halting system" in text and time.monotonic() - start < 5


def _hold(key: str, seconds: float, out: multiprocessing.Queue) -> None:
    with board_lock(key) as hold:
        time.sleep(seconds)
    out.put((hold.acquired, hold.released))


def test_lock_serialises_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTEST_MLONMCU_CACHE", str(tmp_path))
    key = "socket://127.0.0.1:40404"
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(key, 0.4, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    intervals = sorted(queue.get(timeout=5) for _ in procs)
    for (_, end), (start, _) in zip(intervals, intervals[1:]):
        assert start >= end, intervals
    assert list((tmp_path / "board-locks").glob("*.lock"))
    # Re-entrant in one thread (a hardware test that also runs a benchmark on its board).
    with board_lock(key), board_lock(key):
        pass


def test_flash_commands_follow_the_tools_cli(tmp_path: Path):
    f7 = shipped_boards().get("stm32f7")
    image = FlashImage(tmp_path / "zephyr.elf", tmp_path)
    req = FlashRequest(f7, image, port="/dev/ttyACM0", args=dict(f7.flash_args))
    assert flash_command("st-flash", req) == [
        "st-flash", "--reset", "write", str(tmp_path / "zephyr.bin"), "0x08000000",
    ]  # fmt: skip
    req.serial_number = "066DFF"
    assert flash_command("st-flash", req)[:3] == ["st-flash", "--serial", "066DFF"]
    assert flash_command("openocd", req) == [
        "openocd", "-c", "adapter serial 066DFF", "-f", "board/stm32f7discovery.cfg",
        "-c", f"program {tmp_path / 'zephyr.elf'} verify reset exit",
    ]  # fmt: skip
    west = flash_command("west", req)
    assert west[1:] == ["-m", "west", "flash", "--skip-rebuild", "-d", str(tmp_path),
                        "--dev-id", "066DFF"]  # fmt: skip
    c3 = shipped_boards().get("esp32c3")
    esp = flash_command(
        "esptool", FlashRequest(c3, image, port="/dev/ttyACM1", args=dict(c3.flash_args))
    )
    assert esp[1:] == ["--chip", "esp32c3", "--port", "/dev/ttyACM1", "--baud", "921600",
                       "write_flash", "0x0", str(tmp_path / "zephyr.bin")]  # fmt: skip
    custom = FlashRequest(f7, image, args={"command": "pyocd flash -t stm32f746ng {elf}"})
    assert flash_command("st-flash", custom) == [
        "pyocd",
        "flash",
        "-t",
        "stm32f746ng",
        str(image.elf),
    ]
    with pytest.raises(RunError, match="needs chip"):
        flash_command("esptool", FlashRequest(c3, image, port="/dev/x", args={}))


def test_qemu_command_line(tmp_path: Path):
    board = shipped_boards().get("mps2_an385")
    q = QemuInstance(board, tmp_path / "z.elf", tmp_path, address=("127.0.0.1", 4555))
    assert q.base_command() == [
        "qemu-system-arm", "-M", "mps2-an385", "-cpu", "cortex-m3", "-kernel",
        str(tmp_path / "z.elf"), "-display", "none", "-nic", "none",
    ]  # fmt: skip
    rv = QemuInstance(shipped_boards().get("qemu_riscv32"), tmp_path / "z.elf", tmp_path)
    assert rv.base_command()[:7] == [
        "qemu-system-riscv32", "-M", "virt", "-bios", "none", "-m", "256",
    ]  # fmt: skip


def _program(tmp_path: Path) -> Program:
    elf = tmp_path / "compile" / "program.elf"
    (tmp_path / "compile" / "build" / "zephyr").mkdir(parents=True)
    elf.write_bytes(b"")
    for suffix in (".elf", ".bin"):
        (tmp_path / "compile" / "build" / "zephyr" / f"zephyr{suffix}").write_bytes(b"")
    return Program("stm32f7", elf, tmp_path / "compile")


def test_physical_board_path_with_a_fake_flash_tool(tmp_path: Path, fake_board, monkeypatch):
    """Port opened first, then st-flash (which "resets" the board), then the console read."""
    trigger = tmp_path / "reset"
    board = fake_board(trigger_file=trigger)
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "st-flash", f'echo "st-flash $*"; touch {trigger}')
    monkeypatch.setenv("PATH", with_path(bin_dir))
    monkeypatch.setenv("PYTEST_MLONMCU_CACHE", str(tmp_path / "cache"))
    boards = shipped_boards().configure(None, [f"stm32f7={board.url}"], "cli")
    target = make_target("stm32f7", boards=boards, timeout=10)
    out = target.run(_program(tmp_path), tmp_path / "run")
    assert out.outputs == [[bytes.fromhex("0102ff")]]
    # A DWT count is cycles, never instructions.
    assert out.metrics["invoke_cycles"] == 34567 and out.metrics["setup_cycles"] == 1200
    assert "invoke_instructions" not in out.metrics
    assert out.metrics["count_method"] == "dwt cycle counter"
    assert out.metrics["board"] == "stm32f7" and out.metrics["stack_bytes"] == 512
    run = tmp_path / "run"
    assert "st-flash --reset write" in (run / "flash.log").read_text()
    assert "st-flash --reset write" in (run / "flash_command.sh").read_text()
    assert (run / "serial.log").read_bytes() == TRANSCRIPT
    info = json.loads((run / "board.json").read_text())
    assert info["port"] == board.url and info["lock"]["released"] >= info["lock"]["acquired"]


def test_silent_board_fails_by_timeout_naming_its_log(tmp_path: Path, fake_board, monkeypatch):
    board = fake_board(b"*** Booting Zephyr OS build 4.3.0 ***\r\n")
    monkeypatch.setenv("PYTEST_MLONMCU_CACHE", str(tmp_path / "cache"))
    target = make_target("stm32f7", port=board.url, flash="none", timeout=3)
    with pytest.raises(RunError) as err:
        target.run(_program(tmp_path), tmp_path / "run")
    msg = str(err.value)
    assert msg.startswith("stm32f7 (board stm32f7): timeout: no 'MLIF done' on socket://")
    assert "*** Booting Zephyr OS build 4.3.0 ***" in msg and "serial.log" in msg


def test_unattached_board_skips_after_compile(tmp_path: Path):
    target = make_target("stm32f746g_disco")
    with pytest.raises(BoardNotAttached, match="board stm32f7 is not attached: give "
                       "--mlonmcu-board stm32f7=PORT"):  # fmt: skip
        target.run(_program(tmp_path), tmp_path / "run")


def test_missing_flash_tool_is_named(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no st-flash
    boards = shipped_boards().configure(None, ["stm32f7=loop://"], "cli")
    with pytest.raises(Exception, match="needs st-flash .apt-get install stlink-tools"):
        make_target("stm32f7", boards=boards).run(_program(tmp_path), tmp_path / "run")


def test_labgrid_place_is_acquired_around_flash_and_read(tmp_path: Path, fake_board, monkeypatch):
    calls = tmp_path / "calls.txt"
    trigger = tmp_path / "reset"
    board = fake_board(trigger_file=trigger)
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "labgrid-client", f'echo "labgrid-client $*" >> {calls}')
    fake_tool(bin_dir, "lab-flash", f'echo "lab-flash $*" >> {calls}; touch {trigger}')
    monkeypatch.setenv("PYTEST_MLONMCU_CACHE", str(tmp_path / "cache"))
    lab = shipped_boards().with_entries(
        {
            "lab_f7": {
                "base": "stm32f7",
                "labgrid": {"place": "desk-3", "coordinator": "lab:20408"},
                "port": board.url,
                "flash_args": {"command": "lab-flash -p {place} {bin}"},
            }
        }
    )
    from pytest_mlonmcu.hardware import skip_reason

    full_path = with_path(bin_dir)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert skip_reason("lab_f7", lab.configure(None, ["lab_f7"], "cli")) == (
        "board lab_f7 is in labgrid place desk-3, but labgrid is not installed "
        "(pip install labgrid)"
    )
    monkeypatch.setenv("PATH", full_path)
    boards = lab.configure(None, ["lab_f7"], "cli")
    out = make_target("lab_f7", boards=boards, timeout=10).run(_program(tmp_path), tmp_path / "run")
    assert out.outputs == [[bytes.fromhex("0102ff")]]
    assert calls.read_text().splitlines() == [
        "labgrid-client -x lab:20408 -p desk-3 acquire",
        f"lab-flash -p desk-3 {tmp_path / 'compile/build/zephyr/zephyr.bin'}",
        "labgrid-client -x lab:20408 -p desk-3 release",
    ]
