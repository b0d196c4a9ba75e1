"""The board registry, the zephyr platform's pure parts and --mlonmcu-platform (no builds)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from board_helpers import make_target

from pytest_mlonmcu.boards.boardset import board_from_mapping, shipped_boards
from pytest_mlonmcu.core.artifacts import Artifact
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import BoardNotAttached, UsageError
from pytest_mlonmcu.install.zephyr import discover_modules, install_at
from pytest_mlonmcu.platforms.zephyr.build import (
    ZephyrBuilder,
    ZephyrOptions,
    cmake_quote,
    overflow_message,
    parse_memory_regions,
)
from pytest_mlonmcu.settings import check_platform_targets
from pytest_mlonmcu.targets import TARGETS, register_builtin_targets

BOARDS = ["stm32f7", "stm32f4", "esp32c3", "mps2_an385", "qemu_cortex_m3", "qemu_riscv32"]
ZEPHYR_NAMES = ["stm32f746g_disco", "nucleo_f446re", "esp32c3_devkitm"]


def test_builtin_boards_and_their_targets():
    register_builtin_targets()
    boards = shipped_boards()
    assert set(BOARDS) <= set(boards.names())
    f7 = boards.get("stm32f7")
    assert (f7.zephyr_board, f7.flash, f7.baud, f7.counter) == (
        "stm32f746g_disco",
        "st-flash",
        115200,
        "dwt",
    )
    assert (f7.rom, f7.ram) == (1024 * 1024, 320 * 1024)
    assert f7.serial["vid_pid"] == "0483:374b"
    assert boards.get("mps2_an385").emulated and boards.get("mps2_an385").rom == 4 * 1024 * 1024
    assert "hal_espressif" in boards.get("esp32c3").modules
    for name in BOARDS + ZEPHYR_NAMES:
        cls = TARGETS.get(name)
        assert cls.platform == "zephyr"
    # A Zephyr board name is bound to its board; a board name is the board itself.
    assert TARGETS.get("stm32f746g_disco").board.name == "stm32f7"
    assert TARGETS.get("stm32f746g_disco").bound and not TARGETS.get("stm32f7").bound
    assert TARGETS.get("qemu_riscv32").family == "riscv"


def test_board_entries_are_checked():
    with pytest.raises(UsageError, match="zephyr_board is missing"):
        board_from_mapping("x", {"flash": "qemu"}, "t")
    with pytest.raises(UsageError, match="flash 'jtag'"):
        board_from_mapping("x", {"zephyr_board": "b", "flash": "jtag"}, "t")
    with pytest.raises(UsageError, match="unknown key colour"):
        board_from_mapping("x", {"zephyr_board": "b", "colour": 1}, "t")
    with pytest.raises(UsageError, match=r"unknown key bauds \(did you mean baud\?\); known"):
        board_from_mapping("x", {"zephyr_board": "b", "bauds": 9600}, "t")
    with pytest.raises(UsageError, match=r"board x qemu: unknown key machin \(did you mean mach"):
        board_from_mapping("x", {"zephyr_board": "b", "qemu": {"machin": "virt"}}, "t")
    for rom in ("lots", "-1", "1e999", "nan"):
        with pytest.raises(UsageError, match="not a size"):
            board_from_mapping("x", {"zephyr_board": "b", "rom": rom}, "t")
    # A value of the wrong type names board, key and value (baud: fast was an INTERNALERROR).
    with pytest.raises(UsageError, match=r"^t: board x: baud='fast' is not an integer"):
        board_from_mapping("x", {"zephyr_board": "b", "baud": "fast"}, "t")
    with pytest.raises(UsageError, match=r"board x: baud=0: expected a positive integer"):
        board_from_mapping("x", {"zephyr_board": "b", "baud": 0}, "t")
    with pytest.raises(UsageError, match=r"board x: clock_hz=-1: expected a non-negative"):
        board_from_mapping("x", {"zephyr_board": "b", "clock_hz": -1}, "t")
    assert board_from_mapping("x", {"zephyr_board": "b", "baud": "9600"}, "t").baud == 9600
    with pytest.raises(UsageError, match="needs qemu"):
        board_from_mapping("x", {"zephyr_board": "b", "flash": "qemu"}, "t")


def test_yml_boards_define_targets_and_ports():
    boards = shipped_boards().configure(
        {
            "stm32f7": {"base": "mps2_an385", "port": "socket://127.0.0.1:40001"},
            "my_f4": {"base": "stm32f4", "baud": 921600},
            "stm32f4": {"port": "/dev/ttyACM1"},  # a port only: defines nothing
        },
        ["stm32f7", "my_f4", "stm32f4"],
        "yml",
    )
    assert dict(boards.attached) == {
        "stm32f7": "socket://127.0.0.1:40001",
        "my_f4": None,
        "stm32f4": "/dev/ttyACM1",
    }
    register_builtin_targets(boards)
    f7 = boards.get("stm32f7")
    assert f7.emulated and f7.zephyr_board == "mps2/an385"
    assert TARGETS.get("stm32f7").board is f7
    assert TARGETS.get("my_f4").board.baud == 921600
    # The Zephyr board's own target still means the real STM32F746G-DISCO; it compiles, and
    # its run says that no attached board runs it.
    disco = TARGETS.get("stm32f746g_disco")
    assert disco.board.zephyr_board == "stm32f746g_disco"
    with pytest.raises(BoardNotAttached, match="board stm32f7 is now defined as mps2/an385"):
        disco(RunConfig().scoped(disco.name), None).attachment()
    # Attached boards' ports reach their targets as <board>.port (my_f4: its own by-id glob).
    assert boards.port_settings() == {
        "stm32f7.port": "socket://127.0.0.1:40001",
        "my_f4.port": "usb-STMicroelectronics_STM32_STLink_*",
        "stm32f4.port": "/dev/ttyACM1",
    }
    assert boards.port_spec("esp32c3") is None
    # A set is a value: the session's boards leave boards.yml's as they were.
    assert "my_f4" not in shipped_boards() and shipped_boards().get("stm32f7").flash == "st-flash"
    assert not shipped_boards().attached


def test_cli_boards_win_over_yml_ports_but_yml_still_defines():
    boards = shipped_boards().configure(
        {"lab_f7": {"base": "stm32f7", "port": "/dev/ttyACM7"}}, ["stm32f7=loop://"], "cli"
    )
    assert dict(boards.attached) == {"stm32f7": "loop://"}
    register_builtin_targets(boards)
    assert "lab_f7" in TARGETS
    attached = shipped_boards().configure([], ["a=/dev/x", "b"], "cli").attached
    assert dict(attached) == {"a": "/dev/x", "b": None}


def test_platform_option_selects_and_checks_targets():
    register_builtin_targets()
    assert check_platform_targets("zephyr", ["etiss"], explicit=False) == ["mps2_an385"]
    assert check_platform_targets("zephyr", ["mps2/an385", "stm32f7"], explicit=True) == [
        "mps2_an385",
        "stm32f7",
    ]
    assert check_platform_targets(None, ["etiss"], explicit=True) == ["etiss"]
    with pytest.raises(UsageError, match="target riscv_qemu is not a zephyr target.*mps2_an385"):
        check_platform_targets("zephyr", ["riscv_qemu"], explicit=True)
    with pytest.raises(UsageError, match="target mps2_an385 is not a mlif target"):
        check_platform_targets("mlif", ["mps2_an385"], explicit=True)
    with pytest.raises(UsageError, match="expected one of mlif, zephyr"):
        check_platform_targets("arduino", ["etiss"], explicit=True)


def test_linker_messages():
    out = (
        "ld: zephyr_pre0.elf section `rodata' will not fit in region `FLASH'\n"
        "ld: region `FLASH' overflowed by 28724 bytes\n"
    )
    assert (
        overflow_message(out) == "the program does not fit: region FLASH overflowed by 28,724 bytes"
    )
    assert overflow_message("section `bss' will not fit in region `RAM'") == (
        "the program does not fit: section bss does not fit in region RAM"
    )
    assert overflow_message("region `RAM' overflowed by 8 bytes", {"RAM": 1024}) == (
        "the program does not fit: region RAM overflowed by 8 bytes (region size 1,024 bytes)"
    )
    assert overflow_message("all good") is None
    table = (
        "Memory region         Used Size  Region Size  %age Used\n"
        "           FLASH:      302356 B         1 MB     28.83%\n"
        "             RAM:       21376 B       256 KB      8.15%\n"
        "        IDT_LIST:          0 GB        32 KB      0.00%\n"
    )
    regions = parse_memory_regions(table)
    assert regions["FLASH"] == (302356, 1 << 20)
    assert regions["RAM"] == (21376, 256 << 10)
    assert cmake_quote('a;b"$c') == '"a\\;b\\"\\$c"'


def _fake_zephyr(root: Path) -> Path:
    base = root / "zephyr"
    (base / "cmake" / "modules").mkdir(parents=True)
    (base / "cmake" / "modules" / "zephyr_default.cmake").write_text("")
    (base / "VERSION").write_text("VERSION_MAJOR = 4\nVERSION_MINOR = 3\nPATCHLEVEL = 0\n")
    for path, text in (
        ("modules/hal/cmsis_6/zephyr/module.yml", "build: {cmake-ext: true}\n"),
        ("modules/hal/stm32/zephyr/module.yml", "name: hal_stm32\n"),
    ):
        (root / path).parent.mkdir(parents=True)
        (root / path).write_text(text)
    return base


def test_install_at_discovers_modules(tmp_path: Path):
    base = _fake_zephyr(tmp_path)
    assert set(discover_modules(tmp_path)) == {"cmsis_6", "hal_stm32"}
    install = install_at(base, "test")
    assert install.version == "4.3.0" and not install.is_west_workspace
    assert install.module_paths(["hal_stm32"]) == [tmp_path / "modules/hal/stm32"]
    with pytest.raises(Exception, match="hal_espressif"):
        install.module_paths(["hal_espressif"])
    (tmp_path / ".west").mkdir()
    (tmp_path / ".west" / "config").write_text("[manifest]\npath = zephyr\n")
    assert install_at(base, "test").is_west_workspace
    with pytest.raises(Exception, match="not a Zephyr tree"):
        install_at(tmp_path / "modules", "test")


def test_generated_application(tmp_path: Path):
    import numpy as np

    from pytest_mlonmcu.core.samples import SampleSet
    from pytest_mlonmcu.platforms.mlif.target import COMMON_DIR

    install = install_at(_fake_zephyr(tmp_path / "ws"), "test")
    builder = ZephyrBuilder(install, None)  # type: ignore[arg-type]
    src = tmp_path / "model dir" / "net.c"
    src.parent.mkdir()
    src.write_text("int x;\n")
    artifact = Artifact(
        "test",
        src.parent,
        sources=[src],
        include_dirs=[src.parent],
        defines={"A": "1", "B": ""},
        extra_cflags=["-fno-rtti"],
    )
    board = shipped_boards().get("stm32f7")
    options = ZephyrOptions(optimize="s", stack_size=4096, counter="dwt", kconfig=("CONFIG_X=y",))
    app = tmp_path / "app"
    samples = SampleSet([[np.zeros(4, dtype=np.int8)]])
    libc = builder.generate_app(artifact, samples, board, options, app, COMMON_DIR)
    assert libc == "minimal"
    assert {p.name for p in (app / "src").iterdir()} == {
        "main.c", "mlif.h", "mlif_data.h", "mlif_target.h", "mlif_data.c", "mlif_zephyr.c",
    }  # fmt: skip
    conf = (app / "prj.conf").read_text()
    for line in ("CONFIG_MAIN_STACK_SIZE=4096", "CONFIG_SIZE_OPTIMIZATIONS=y", "CONFIG_FPU=y",
                 "CONFIG_X=y", "CONFIG_THREAD_STACK_INFO=y"):  # fmt: skip
        assert line in conf
    inputs = (app / "mlonmcu_inputs.cmake").read_text()
    assert f'"{src}"' in inputs and '"A=1"' in inputs and '"B"' in inputs
    assert '"MLIF_ZEPHYR_COUNTER=1"' in inputs and '"-fno-rtti"' in inputs
    # C++ or prebuilt libraries: the toolchain's newlib and libstdc++.
    cxx = Artifact("t", src.parent, sources=[src.with_suffix(".cc")], libraries=[src])
    assert builder.libc_for(cxx, board, options) == "newlib"
    lines = builder.kconfig_lines(cxx, board, options, "newlib")
    assert "CONFIG_NEWLIB_LIBC_NANO=y" in lines and "CONFIG_GLIBCXX_LIBCPP=y" in lines


def test_target_settings_and_flags():
    f7 = make_target("stm32f746g_disco", optimize="3", libc="newlib")
    tc = f7.toolchain()
    assert tc.prefix == "arm-none-eabi-"
    assert tc.cflags[:4] == ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"]
    assert "-O3" in tc.cflags and "--specs=nano.specs" in tc.cflags
    opts = f7.options()
    assert (opts.optimize, opts.libc, opts.counter) == ("3", "newlib", "dwt")
    assert f7.identity() == {
        "target": "stm32f746g_disco",
        "board": "stm32f746g_disco",
        "platform": "zephyr",
    }
    # A bound target reads the board's keys too.
    cfg = RunConfig({"stm32f7.flash": "openocd", "stm32f746g_disco.timeout": "7"})
    t = TARGETS.get("stm32f746g_disco")(cfg.scoped("stm32f746g_disco"), f7.cache)
    assert (t.flash_method(), t.timeout()) == ("openocd", 7.0)
    with pytest.raises(UsageError, match="optimize='9'"):
        make_target("mps2_an385", optimize="9").options()
    # Timeouts are finite and positive, a baud rate a positive integer: named with the value.
    for key, value in [("timeout", "inf"), ("flash_timeout", "0"), ("lock_timeout", "-5")]:
        with pytest.raises(UsageError, match=rf"mps2_an385.{key}='{value}': expected a timeout"):
            make_target("mps2_an385", **{key: value}).seconds(key, "120")
    with pytest.raises(UsageError, match=r"stm32f7.baud='fast' is not an integer"):
        make_target("stm32f7", baud="fast")._baud()


def test_zephyr_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """zephyr.base > $ZEPHYR_BASE > zephyr.source > the vendored tarball > upstream (west)."""
    import tarfile

    from pytest_mlonmcu.core.cache import Cache
    from pytest_mlonmcu.install import zephyr as zinstall

    for var in ("ZEPHYR_BASE", "MLONMCU_ZEPHYR_SOURCE", "MLONMCU_VENDOR_DIR"):
        monkeypatch.delenv(var, raising=False)
    cache = Cache(tmp_path / "cache")
    base = _fake_zephyr(tmp_path / "ws")
    # A tarball laid out like the vendored subset: one folder with zephyr/ and modules/.
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    with tarfile.open(vendor / zinstall.PIN.vendor_tarball, "w:xz") as tf:
        tf.add(tmp_path / "ws", arcname="zephyr-4.3.0")
    monkeypatch.setenv("MLONMCU_VENDOR_DIR", str(vendor))
    # A vendored tarball must have the pinned digest: pin this stand-in's.
    fake_digest = hashlib.sha256((vendor / zinstall.PIN.vendor_tarball).read_bytes()).hexdigest()
    pin = dataclasses.replace(zinstall.PIN, vendor_sha256=fake_digest)
    monkeypatch.setattr(zinstall.ZephyrInstaller, "pin", pin)
    installed = zinstall.ensure_zephyr(RunConfig().scoped("zephyr"), cache=cache)
    assert installed.origin == f"$MLONMCU_VENDOR_DIR/{zinstall.PIN.vendor_tarball}"
    assert installed.base.parent.parent == cache.root / "zephyr"
    assert installed.is_west_workspace and set(installed.modules) == {"cmsis_6", "hal_stm32"}
    assert zinstall.cached_zephyr(RunConfig().scoped("zephyr"), cache) == installed
    monkeypatch.setenv("ZEPHYR_BASE", str(base))
    assert zinstall.ensure_zephyr(cache=cache).base == base
    explicit = RunConfig(
        {"zephyr.base": str(base), "zephyr.modules": str(tmp_path / "ws/modules/hal/stm32")}
    )
    assert set(zinstall.ensure_zephyr(explicit.scoped("zephyr"), cache=cache).modules) == {
        "hal_stm32"
    }


def test_upstream_zephyr_fails_clearly_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pytest_mlonmcu.core.cache import Cache
    from pytest_mlonmcu.install import base as install_base
    from pytest_mlonmcu.install import zephyr as zinstall

    for var in ("ZEPHYR_BASE", "MLONMCU_ZEPHYR_SOURCE", "MLONMCU_VENDOR_DIR"):
        monkeypatch.delenv(var, raising=False)
    cache = Cache(tmp_path / "cache")
    monkeypatch.setattr(install_base, "reachable", lambda url: False)
    reason = zinstall.zephyr_unavailable_reason(cache=cache)
    assert reason is not None and "github.com/zephyrproject-rtos/zephyr cannot be reached" in reason
    # What west says offline, without asking the network here.
    fail = "echo 'fatal: unable to access: Could not resolve host' >&2; exit 128"
    monkeypatch.setattr(zinstall, "_west_command", lambda: ["sh", "-c", fail, "west"])
    monkeypatch.setattr(zinstall.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    with pytest.raises(zinstall.ZephyrInstallError) as err:
        zinstall.ensure_zephyr(cache=cache)
    msg = str(err.value)
    assert "cannot fetch Zephyr v4.3.0" in msg and "Could not resolve host" in msg
    assert "offline? set ZEPHYR_BASE" in msg
    assert not [p for p in (cache.root / "zephyr").iterdir() if p.is_dir()]  # nothing half-made
