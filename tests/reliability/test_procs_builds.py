"""Builds and compiles have limits too: a hung step is killed with its children and fails with
the step, the limit and the environment variable that raises it."""

from __future__ import annotations

import pytest

from pytest_mlonmcu.errors import CompileError
from pytest_mlonmcu.targets.toolchain import CommandLog


def test_a_hung_compiler_command_is_a_compile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLONMCU_TIMEOUT_COMPILE", "0.5")
    with pytest.raises(CompileError) as info:
        CommandLog().run(["sh", "-c", "echo 'ld: reading'; sleep 60"], what="linking")
    message = str(info.value)
    assert message.startswith(
        "linking: timed out after 0.5 s (raise it with $MLONMCU_TIMEOUT_COMPILE)\n"
    )
    assert message.endswith("--- output tail ---\nld: reading")

