"""Builds and compiles have limits too: a hung step is killed with its children and fails with
the step, the limit and the environment variable that raises it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import CompileError, MissingToolError
from pytest_mlonmcu.install.etiss import (
    ENV_INSTALL_DIR,
    ENV_SOURCE,
    ensure_etiss,
    missing_build_deps,
)
from pytest_mlonmcu.install.sources import VENDOR_DIR_ENV
from pytest_mlonmcu.platforms.mlif.toolchain import CommandLog

from .procs_helpers import eventually, is_alive, kill_quietly, needs_proc, wait_for_file


def test_a_hung_compiler_command_is_a_compile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLONMCU_TIMEOUT_COMPILE", "0.5")
    with pytest.raises(CompileError) as info:
        CommandLog().run(["sh", "-c", "echo 'ld: reading'; sleep 60"], what="linking")
    message = str(info.value)
    assert message.startswith(
        "linking: timed out after 0.5 s (raise it with $MLONMCU_TIMEOUT_COMPILE)\n"
    )
    assert message.endswith("--- output tail ---\nld: reading")


@needs_proc
@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
def test_a_hung_etiss_build_step_is_killed_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ETISS-shaped source whose configure step starts a process that never ends."""
    if missing_build_deps():
        pytest.skip(f"ETISS build dependencies missing: {missing_build_deps()}")
    for var in (ENV_INSTALL_DIR, ENV_SOURCE, VENDOR_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLONMCU_TIMEOUT_BUILD", "2")
    src = tmp_path / "src"
    (src / "ArchImpl").mkdir(parents=True)
    pid_file = tmp_path / "hung.pid"
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(hung NONE)\n"
        'message(STATUS "configuring the hung build")\n'
        f'execute_process(COMMAND sh -c "echo $$ > {pid_file}; exec sleep 60")\n'
    )
    config = RunConfig({"etiss.source": str(src)}).scoped("etiss")
    with pytest.raises(MissingToolError) as info:
        ensure_etiss(config, cache=Cache(tmp_path / "cache"))
    hung = int(wait_for_file(pid_file))
    try:
        assert eventually(lambda: not is_alive(hung)), f"cmake's child {hung} outlived the build"
    finally:
        kill_quietly([hung])
    message = str(info.value)
    assert message.startswith(
        "ETISS configuring: timed out after 2 s (raise it with $MLONMCU_TIMEOUT_BUILD)\n$ cmake -S"
    )
    assert "configuring the hung build" in message
