"""Session-wide settings resolved once from options, ini keys and mlonmcu.yml."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import options
from .backends import BACKENDS
from .boards.boardset import BoardSet, shipped_boards
from .core.cache import Cache
from .core.config import RunConfig, check_keys, flatten, known_keys, parse_assignments
from .core.errors import UsageError
from .core.stages import Stage
from .features import FEATURES
from .platforms import PLATFORMS
from .platforms.base import platform_of
from .targets import TARGETS

# The benchmark suite: MLPerf Tiny.
DEFAULT_MODELS = ["aww", "vww", "resnet", "toycar"]
# The first registered of these is the default target.
DEFAULT_TARGET_PREFERENCE = ["etiss", "riscv_qemu", "host_x86"]
MODELS_DIR_ENV = "MLONMCU_MODELS_DIR"


def session_known_keys() -> dict[str, set[str]]:
    """Every config key a component reads: general scopes and the registered components
    (built-in and ``pytest_mlonmcu_register``'s, so call this after registration)."""
    return known_keys([*BACKENDS, *TARGETS, *FEATURES])


def config_values(
    config: pytest.Config, yml: dict[str, Any], known: dict[str, set[str]] | None = None
) -> dict[str, str]:
    """``KEY=VALUE`` settings layered per key: mlonmcu.yml < ini < command line.

    With ``known`` (see ``session_known_keys``) an unknown key of any source is a usage error.
    """
    sources: list[tuple[str, dict[str, str]]] = []
    raw_yml = yml.get("config")
    if isinstance(raw_yml, dict):
        sources.append(("mlonmcu.yml config", flatten(raw_yml)))
    elif raw_yml:
        sources.append(("mlonmcu.yml config", parse_assignments(raw_yml, "mlonmcu.yml config")))
    ini = [line for line in config.getini("mlonmcu_config") if line.strip()]
    sources.append(("ini mlonmcu_config", parse_assignments(ini, "ini mlonmcu_config")))
    cli = config.getoption("mlonmcu_config") or []
    sources.append(("--mlonmcu-config", parse_assignments(cli, "--mlonmcu-config")))
    values: dict[str, str] = {}
    for origin, items in sources:
        if known is not None:
            check_keys(items, known, origin)
        values.update(items)
    return values


def check_platform_targets(
    platform: str | None, targets: Sequence[str], explicit: bool
) -> list[str]:
    """The targets of the session under ``platform`` (None: whatever each target is).

    ``targets`` are the selected names (``explicit`` False: the project's default, which a
    platform replaces with its own default). Zephyr board names are accepted in their Zephyr
    spelling (``mps2/an385``).
    """
    if platform is None or platform == "":
        return list(targets)
    if platform not in PLATFORMS:
        raise UsageError(f"--mlonmcu-platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    if not explicit:
        default = PLATFORMS[platform].default_target
        if default is not None and default in TARGETS:
            return [default]
        return list(targets)
    out = []
    for name in targets:
        if name not in TARGETS and "/" in name:
            name = BoardSet.target_name_of(name)  # the Zephyr spelling of a board
        cls = TARGETS.get(name)
        if platform_of(cls) != platform:
            known = [t.name for t in TARGETS if platform_of(t) == platform]
            raise UsageError(
                f"target {name} is not a {platform} target (it is {platform_of(cls)}); "
                f"{platform} targets: {', '.join(known) or 'none'}"
            )
        out.append(name)
    return out


def session_boards(config: pytest.Config, yml: dict[str, Any]) -> BoardSet:
    """The session's boards: boards.yml, mlonmcu.yml's ``boards:`` definitions and the attached
    boards (``--mlonmcu-board``). Known before the targets are registered: every board is one."""
    items, source = options.resolve(config, yml, "board")
    return shipped_boards().configure(yml.get("boards"), items, source)


@dataclass
class SessionSettings:
    models: list[str]
    models_explicit: bool
    backends: list[str]
    backends_explicit: bool
    targets: list[str]
    targets_explicit: bool
    features: list[str]
    run_config: RunConfig
    until: Stage
    out_dir: Path
    json_path: Path | None
    models_dirs: list[Path]
    boards: BoardSet
    cache: Cache
    yml: dict[str, Any] = field(default_factory=dict)
    platform: str | None = None  # --mlonmcu-platform (None: each target's own)

    @classmethod
    def from_pytest(
        cls, config: pytest.Config, yml: dict[str, Any], boards: BoardSet
    ) -> SessionSettings:
        """The session's settings; ``yml`` is mlonmcu.yml (``options.load_yml``), ``boards``
        the session's boards (``session_boards``), whose targets are registered already."""

        def get(name: str):
            return options.resolve(config, yml, name)

        models, m_src = get("model")
        backends, b_src = get("backend")
        targets, t_src = get("target")
        features, _ = get("feature")
        platform, _ = get("platform")
        targets = check_platform_targets(platform, targets, explicit=bool(targets))
        for name in backends:
            BACKENDS.get(name)  # usage error listing the known ones
        for name in targets:
            TARGETS.get(name)
        if not targets:
            targets = [next(t for t in DEFAULT_TARGET_PREFERENCE if t in TARGETS)]
        known = session_known_keys()
        # An attached board's port reaches its target as <board>.port; the user's setting wins.
        values = {**boards.port_settings(), **config_values(config, yml, known)}
        until_text, _ = get("until")
        out, _ = get("out")
        json_path, _ = get("json")
        dirs, _ = get("models-dir")
        if not dirs and os.environ.get(MODELS_DIR_ENV):
            dirs = [d for d in os.environ[MODELS_DIR_ENV].split(os.pathsep) if d]
        root = Path(config.rootpath)
        return cls(
            models=models or list(DEFAULT_MODELS),
            models_explicit=bool(models),
            backends=backends,
            backends_explicit=bool(backends),
            targets=targets,
            targets_explicit=t_src != "default",
            features=features,
            run_config=RunConfig(values, known),
            until=Stage.parse(until_text),
            out_dir=(root / (out or ".mlonmcu/out")).resolve(),
            json_path=(Path(json_path).resolve() if json_path else None),
            models_dirs=[(root / d).resolve() for d in dirs],
            boards=boards,
            cache=Cache(),
            yml=yml,
            platform=platform or None,
        )

    def check_features(self, known: list[str]) -> None:
        unknown = [f for f in self.features if f not in known]
        if unknown:
            raise UsageError(
                f"unknown feature {unknown[0]!r}; known features: {', '.join(known) or 'none'}"
            )
