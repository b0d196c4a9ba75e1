"""Command-line options, their ini keys and mlonmcu.yml keys, resolved in one place.

Precedence: command line > ini (``[tool.pytest.ini_options]`` / pytest.ini) >
``mlonmcu.yml`` (next to the rootdir or named by ``--mlonmcu-yml``) > default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from .core.config import unknown_key
from .core.errors import UsageError


@dataclass(frozen=True)
class Option:
    name: str  # without the --mlonmcu- prefix, e.g. "model"
    help: str
    kind: str = "list"  # "list" (comma lists, repeatable), "str", "path", "lines"
    yml_key: str | None = None

    @property
    def flag(self) -> str:
        return f"--mlonmcu-{self.name}"

    @property
    def dest(self) -> str:
        return "mlonmcu_" + self.name.replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest


OPTIONS = [
    Option(
        "model",
        "models: names (models dir or built-in zoo), zoo:NAME or .tflite paths; comma list, repeatable",
        yml_key="models",
    ),
    Option(
        "backend", "backends (default: every backend that supports the targets)", yml_key="backends"
    ),
    Option("target", "targets (default: the project's default target)", yml_key="targets"),
    Option("feature", "features applied to every run (e.g. cmsisnn)", yml_key="features"),
    Option(
        "config",
        "COMPONENT.KEY=VALUE settings, e.g. tflmi.arena_size=32768; repeatable",
        kind="lines",
        yml_key="config",
    ),
    Option(
        "until",
        "stop every run after this stage (load, tune, build, compile, run, postprocess)",
        kind="str",
        yml_key="until",
    ),
    Option(
        "out",
        "directory for the session's run artifacts (default: .mlonmcu/out)",
        kind="path",
        yml_key="out",
    ),
    Option("json", "write the session's results as JSON to this path", kind="path", yml_key="json"),
    Option(
        "models-dir",
        "directories in the mlonmcu-models layout (<name>/<name>.tflite)",
        kind="list",
        yml_key="models_dir",
    ),
    Option(
        "board",
        "attached boards for @pytest.mark.hardware and Zephyr targets: NAME[=PORT] (PORT: a "
        "device, /dev/serial/by-id glob, VID:PID or socket://HOST:PORT); comma list, repeatable",
        yml_key="boards",
    ),
    Option(
        "platform",
        "platform of the targets: mlif (bare metal) or zephyr (Zephyr boards such as "
        "mps2_an385, qemu_cortex_m3, stm32f746g_disco; default target mps2_an385)",
        kind="str",
        yml_key="platform",
    ),
    # CI gates (gates/); mlonmcu.yml's per-run-id budgets are its `budgets:` mapping.
    Option(
        "budget",
        "METRIC<=VALUE budget of every run, e.g. rom_bytes<=128kB (k/M decimal, KiB/MiB "
        "binary); repeatable",
        kind="lines",
    ),
    Option(
        "save-baseline",
        "write the session's metrics as a baseline (JSON keyed by run id) to this path",
        kind="path",
        yml_key="save_baseline",
    ),
    Option(
        "compare",
        "compare every run with this baseline (--mlonmcu-save-baseline or --mlonmcu-json file)",
        kind="path",
        yml_key="compare",
    ),
    Option(
        "fail-on",
        # %% : argparse formats help texts
        "fail a run that regresses against the baseline: METRIC:+N%% or METRIC:+N, *:+N%% "
        "for every cost metric (lower is better); comma list, repeatable",
        yml_key="fail_on",
    ),
    Option(
        "history",
        "append the session's runs to this results database: a path (default "
        ".mlonmcu/history.sqlite), a SQLAlchemy URL, or off",
        kind="str",
        yml_key="history",
    ),
    # Reports (exporters.py)
    Option("csv", "write the results table as CSV to this path", kind="path", yml_key="csv"),
    Option(
        "markdown",
        "write the results table as Markdown (deltas with --mlonmcu-compare) to this path",
        kind="path",
        yml_key="markdown",
    ),
    Option(
        "plot",
        "write PNG bar charts (instructions, ROM, RAM per model) into this directory",
        kind="path",
        yml_key="plot",
    ),
    Option(
        "columns",
        "columns of the csv/markdown/terminal tables (metric keys or titles); comma list",
        yml_key="columns",
    ),
    Option(
        "rename",
        "rename table columns: OLD=NEW (key or title); comma list, repeatable",
        yml_key="rename",
    ),
]
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}
# Top-level keys of mlonmcu.yml read without an option of their own.
YML_ONLY_KEYS = {"budgets": "per-run-id budgets {PATTERN: {METRIC: LIMIT}} (gates/budgets.py)"}
YML_KEYS = sorted({o.yml_key for o in OPTIONS if o.yml_key} | set(YML_ONLY_KEYS))


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlonmcu", "TinyML deployment benchmarks (pytest-mlonmcu)")
    for opt in OPTIONS:
        ini_help = opt.help.replace("%%", "%")  # only argparse %-formats help texts
        if opt.kind in ("list", "lines"):
            group.addoption(opt.flag, action="append", dest=opt.dest, default=None, help=opt.help)
            parser.addini(opt.ini, ini_help, type="linelist" if opt.kind == "lines" else "args")
        else:
            group.addoption(opt.flag, action="store", dest=opt.dest, default=None, help=opt.help)
            parser.addini(opt.ini, ini_help, type="string")
    group.addoption("--mlonmcu-yml", dest="mlonmcu_yml", default=None, help="path of mlonmcu.yml")
    group.addoption(
        "--mlonmcu-fetch-artifacts",
        action="store_true",
        dest="mlonmcu_fetch_artifacts",
        help="remote xdist workers (--tx socket=/ssh=) send each run's artifacts back to the "
        "controller's out dir (farm/<host>-<worker>/<run id>/)",
    )
    group.addoption(
        "--mlonmcu-list",
        action="store_true",
        dest="mlonmcu_list",
        help="list the known backends, targets and models, then exit",
    )


def load_yml(config: pytest.Config) -> dict[str, Any]:
    explicit = config.getoption("mlonmcu_yml")
    path = Path(explicit) if explicit else Path(config.rootpath) / "mlonmcu.yml"
    if not path.is_file():
        if explicit:
            raise UsageError(f"--mlonmcu-yml: {path} does not exist")
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping at the top level")
    check_yml_keys(data, str(path))
    return data


def check_yml_keys(data: dict[Any, Any], origin: str) -> None:
    """An unknown top-level key (``modles:``, ``target:``) is a usage error with a suggestion."""
    for key in data:
        if key not in YML_KEYS:
            raise UsageError(f"{origin}: {unknown_key(key, YML_KEYS)}")


def _split(values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out += [p.strip() for p in str(v).split(",") if p.strip()]
    return out


def resolve(config: pytest.Config, yml: dict[str, Any], name: str) -> tuple[Any, str]:
    """Value of option ``name`` and where it came from ("cli", "ini", "yml", "default")."""
    opt = OPTIONS_BY_NAME[name]
    cli = config.getoption(opt.dest)
    if cli:
        if opt.kind == "list":
            return _split(cli), "cli"
        if opt.kind == "lines":
            return list(cli), "cli"
        return cli, "cli"
    ini = config.getini(opt.ini)
    if ini:
        if opt.kind == "list":
            return _split(ini), "ini"
        if opt.kind == "lines":
            return [line for line in ini if line.strip()], "ini"
        return ini, "ini"
    if opt.yml_key and opt.yml_key in yml:
        value = yml[opt.yml_key]
        if opt.kind == "list":
            return _split(value), "yml"
        if opt.kind == "lines":
            return value, "yml"  # a mapping (flattened by the caller) or a list of lines
        return str(value), "yml"
    return ([] if opt.kind in ("list", "lines") else None), "default"
