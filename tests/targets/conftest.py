"""Fixtures for the target tests: targets made from their classes, test programs built.

The test programs in ``programs/`` are tiny hand-written "backends" (C files that
implement mlif.h), compiled with the harness like any backend's artifact.
Helpers and expected values shared by the test files are in ``target_helpers.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from target_helpers import PROGRAMS

from pytest_mlonmcu.core.artifacts import Artifact, Program
from pytest_mlonmcu.core.cache import Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.samples import SampleSet
from pytest_mlonmcu.platforms.mlif.target import CompiledTarget


@pytest.fixture(scope="session")
def target_cache(tmp_path_factory: pytest.TempPathFactory) -> Cache:
    # A fresh cache per session: the harness objects and the QEMU plugin are built here.
    return Cache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def make_target(target_cache: Cache) -> Callable[..., CompiledTarget]:
    """make_target(TargetClass, key=value, ...): the target with ``<name>.<key>`` settings.

    Skips the test when the target cannot run here (missing toolchain, simulator, header).
    """

    def make(cls: type[CompiledTarget], **settings: object) -> CompiledTarget:
        config = RunConfig({f"{cls.name}.{k}": str(v) for k, v in settings.items()})
        target = cls(config.scoped(cls.name), target_cache)
        reason = target.unavailable_reason()
        if reason:
            pytest.skip(reason)
        return target

    return make


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Program]:
    """build(target, "program.c", samples, defines=None) -> Program in a fresh directory."""

    def build(
        target: CompiledTarget,
        program: str,
        samples: SampleSet,
        defines: dict[str, str] | None = None,
    ) -> Program:
        source = PROGRAMS / program
        artifact = Artifact("test", PROGRAMS, sources=[source], defines=dict(defines or {}))
        work = tmp_path_factory.mktemp(f"{target.name}-{source.stem}")
        return target.compile(artifact, samples, work)

    return build
