"""Flash tools: a hung flash tool is killed with its children after the flash timeout; a
board's flash template fails clearly on a stray brace or unknown field, and openocd's Tcl
commands take any path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_mlonmcu.boards.boardset import shipped_boards
from pytest_mlonmcu.core.errors import RunError, UsageError
from pytest_mlonmcu.devices.flash import FlashImage, FlashRequest, flash_command, run_flash

from .procs_helpers import eventually, in_group, is_alive, kill_quietly, needs_proc, wait_for_file

# -- the flash timeout ------------------------------------------------------------------------


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


# -- flash templates --------------------------------------------------------------------------


def _request(elf: Path, **args: str) -> FlashRequest:
    f7 = shipped_boards().get("stm32f7")
    return FlashRequest(f7, FlashImage(elf, elf.parent), args={**f7.flash_args, **args})


def _tcl_program_argument(command: str) -> str:
    """What openocd's ``program`` receives as its file name, by a real Tcl interpreter."""
    tkinter = pytest.importorskip("tkinter")
    try:
        tcl = tkinter.Tcl()
    except tkinter.TclError as exc:
        pytest.skip(f"no Tcl: {exc}")
    tcl.eval("proc program {filename args} {return $filename}")
    return tcl.eval(command)


@pytest.mark.parametrize(
    "folder", ["build dir", "odd {braces} here", "dollar $x [cmd] back\\slash", "plain"]
)
def test_openocd_program_takes_any_path(tmp_path: Path, folder: str) -> None:
    elf = tmp_path / folder / "zephyr.elf"
    cmd = flash_command("openocd", _request(elf))
    program = cmd[cmd.index("-c") + 1]
    assert program.startswith("program ") and program.endswith(" verify reset exit")
    assert _tcl_program_argument(program) == str(elf)
    if folder == "build dir":
        assert program == f"program {{{elf}}} verify reset exit"  # braces, as openocd's docs
    if folder == "plain":
        assert program == f"program {elf} verify reset exit"  # unchanged when nothing to quote


def test_a_user_openocd_template_is_quoted_too(tmp_path: Path) -> None:
    elf = tmp_path / "my build" / "zephyr.elf"
    command = 'openocd -f board/x.cfg -c "program {elf} verify reset exit" -c shutdown'
    cmd = flash_command("openocd", _request(elf, command=command))
    assert cmd[:3] == ["openocd", "-f", "board/x.cfg"]
    assert _tcl_program_argument(cmd[4]) == str(elf)
    # Outside openocd's -c commands nothing is quoted: the shell-split word is the value.
    pyocd = flash_command("openocd", _request(elf, command="pyocd flash {elf}"))
    assert pyocd == ["pyocd", "flash", str(elf)]


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("pyocd flash {elf", "stray brace in '{elf'"),
        ("pyocd flash elf}", "stray brace in 'elf}'"),
        ("pyocd flash {unknown}", "unknown field {unknown}"),
        ("pyocd flash {elf.name}", "unknown field {elf.name}"),
        ("pyocd flash {0}", "unknown field {0}"),
        ("pyocd flash {elf!r}", "{elf} takes no format spec or conversion"),
        ("pyocd flash {address:x}", "{address} takes no format spec or conversion"),
    ],
)
def test_a_bad_user_template_is_a_usage_error(tmp_path: Path, command: str, problem: str):
    with pytest.raises(UsageError) as info:
        flash_command("st-flash", _request(tmp_path / "z.elf", command=command))
    message = str(info.value)
    assert message.startswith(f"board stm32f7: flash command {command!r}: {problem}; ")
    assert "known fields: {address}, {bin}, {build_dir}, {chip}, {elf}," in message


def test_template_literal_braces_and_shell_quoting(tmp_path: Path) -> None:
    elf = tmp_path / "z.elf"
    cmd = flash_command("st-flash", _request(elf, command="tool --json {{x}} {elf}"))
    assert cmd == ["tool", "--json", "{x}", str(elf)]
    with pytest.raises(UsageError, match="flash_args.command 'tool \"{elf}': No closing"):
        flash_command("st-flash", _request(elf, command='tool "{elf}'))
