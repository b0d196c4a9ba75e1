"""Errors raised by the pipeline. Each names its cause; each fails only its own test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class MlonmcuError(Exception):
    """Base class of every error the plugin raises on purpose."""


class UsageError(MlonmcuError):
    """Bad option or configuration (unknown backend/target name, bad KEY=VALUE...)."""


class ModelError(MlonmcuError):
    """A model file that cannot be read or is not a TFLite flatbuffer."""


class BuildError(MlonmcuError):
    """A backend could not turn the model into an artifact (e.g. an unsupported operator)."""


class UnsupportedOperatorError(BuildError):
    def __init__(self, op: str, index: int, backend: str) -> None:
        super().__init__(f"{backend}: operator {op} (operator index {index}) is not supported")
        self.op = op
        self.index = index


class UnsupportedModelError(BuildError):
    """A backend refuses a model before building it: every unsupported item (operator, data
    type, custom operator, subgraphs), each with its cause, in one line."""

    def __init__(self, backend: str, gaps: list) -> None:
        super().__init__(
            f"{backend} cannot build this model (the model uses what {backend} does not "
            f"support): {'; '.join(map(str, gaps))}"
        )
        self.gaps = list(gaps)


class CompileError(MlonmcuError):
    """The toolchain failed; the message carries the command line and its output tail."""


class RunError(MlonmcuError):
    """The program failed on the target: timeout, trap, fault, non-zero exit."""


class BoardNotAttached(MlonmcuError):
    """The program is built for a board that this session has not attached: the run is
    skipped with this reason (not a failure)."""


class ValidationError(MlonmcuError, AssertionError):
    """Outputs differ from the golden reference (an assertion failure of the test)."""


class MissingToolError(MlonmcuError):
    """A required external tool (simulator, toolchain) is not installed."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message + (f"\n{hint}" if hint else ""))
        self.hint = hint


@contextlib.contextmanager
def naming_model(path: object) -> Iterator[None]:
    """A ModelError or BuildError raised inside names the model file ``path`` (first, unless
    the message names it already): a failure must say which file it is about."""
    try:
        yield
    except (ModelError, BuildError) as exc:
        text = str(exc)
        if str(path) not in text:
            exc.args = (f"{path}: {text}", *exc.args[1:])
        raise
