"""Zephyr RTOS 4.3.0 (and the modules the boards need), found or unpacked once per machine.

Where Zephyr comes from, first match wins:

1. an existing installation: config ``zephyr.base`` or ``$ZEPHYR_BASE`` (the ``zephyr/`` folder of
   a west workspace or of an unpacked tree); modules come from ``zephyr.modules`` (paths separated
   by ``;``) or are discovered under the workspace's ``modules/`` folder;
2. a source: config ``zephyr.source`` or ``$MLONMCU_ZEPHYR_SOURCE`` (a tarball or a directory laid
   out like a west workspace: ``zephyr/`` + ``modules/``);
3. the vendored subset ``$MLONMCU_VENDOR_DIR/zephyr-4.3.0-subset.tar.xz`` (zephyr + CMSIS_6 +
   the STM32F7 part of hal_stm32, see its VENDORED.md);
4. upstream: ``west init -m https://github.com/zephyrproject-rtos/zephyr --mr v4.3.0`` and
   ``west update cmsis_6 hal_stm32`` (plus ``zephyr.west_projects``), needs the network.

Sources 2-4 end up once per machine in the per-user cache (``<cache>/zephyr/<key>/``, a west
workspace: ``.west/config``, ``zephyr/``, ``modules/``), produced under the cache's lock and renamed
into place when complete, so xdist workers and parallel sessions unpack it once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..core import proc
from ..core.cache import Cache, hash_key
from ..core.config import ComponentConfig
from .base import Installer, InstallError, Pin, Plan
from .sources import VENDOR_DIR_ENV, Progress, Source, SourceError, materialize, source_identity

VERSION = "4.3.0"
# A release tag (west init --mr takes a branch or tag). Its commit is not recorded here (the
# vendored subset comes from a third-party import without git data).
PIN = Pin(
    upstream="https://github.com/zephyrproject-rtos/zephyr",
    revision=f"v{VERSION}",
    vendor_tarball=f"zephyr-{VERSION}-subset.tar.xz",
    vendor_sha256="bb8157f9dbd9b8192acd410c5f487194fab29411cd7fa582d3b7c3621b283e44",
)
UPSTREAM_PROJECTS = ("cmsis_6", "hal_stm32")
ENV_BASE = "ZEPHYR_BASE"
ENV_SOURCE = "MLONMCU_ZEPHYR_SOURCE"
METADATA = "mlonmcu-zephyr.json"
INSTALL_HINT = "python -m pytest_mlonmcu install zephyr"
# Bump when the layout of a cache entry changes.
RECIPE = {"version": 1}

# Host tools of a Zephyr build (executable -> Debian package).
BUILD_TOOLS = {"cmake": "cmake", "ninja": "ninja-build", "dtc": "device-tree-compiler"}
OPTIONAL_TOOLS = {"gperf": "gperf"}
# Python modules Zephyr's build scripts import (module -> PyPI distribution).
PYTHON_MODULES = {
    "elftools": "pyelftools",
    "yaml": "PyYAML",
    "pykwalify": "pykwalify",
    "packaging": "packaging",
    "jsonschema": "jsonschema",
}

# What to set instead of fetching upstream.
_OFFLINE_ADVICE = (
    f"set {ENV_BASE} (zephyr.base) to an existing Zephyr, {ENV_SOURCE} (zephyr.source) to a "
    f"tarball or workspace, or {VENDOR_DIR_ENV} to a directory holding {PIN.vendor_tarball}"
)


class ZephyrInstallError(InstallError):
    """Zephyr could not be found, unpacked or fetched."""

    component = "zephyr"


@dataclass(frozen=True)
class ZephyrInstall:
    base: Path  # ZEPHYR_BASE (the zephyr/ folder)
    modules: dict[str, Path] = field(default_factory=dict)  # module name -> folder
    topdir: Path | None = None  # west workspace root (holds .west/), if any
    origin: str = ""
    version: str = ""

    @property
    def is_west_workspace(self) -> bool:
        return self.topdir is not None and (self.topdir / ".west" / "config").is_file()

    def module_paths(self, names: list[str] | tuple[str, ...]) -> list[Path]:
        """The folders of ``names``; a missing one is an error naming it."""
        missing = [n for n in names if n not in self.modules]
        if missing:
            raise ZephyrInstallError(
                f"Zephyr module(s) {', '.join(missing)} not in {self.origin or self.base} "
                f"(has: {', '.join(sorted(self.modules)) or 'none'})",
                hint="add them (west update NAME) or name their folders in zephyr.modules",
            )
        return [self.modules[n] for n in names]

    def describe(self) -> dict[str, str]:
        return {
            "zephyr_base": str(self.base),
            "zephyr_version": self.version,
            "zephyr_origin": self.origin,
        }


# -- locating ----------------------------------------------------------------------------


def read_version(base: Path) -> str:
    """``4.3.0`` from zephyr/VERSION (empty if unreadable)."""
    try:
        fields = dict(
            line.replace(" ", "").split("=", 1)
            for line in (base / "VERSION").read_text().splitlines()
            if "=" in line
        )
        return ".".join(
            fields.get(k, "?") for k in ("VERSION_MAJOR", "VERSION_MINOR", "PATCHLEVEL")
        )
    except OSError:
        return ""


def discover_modules(topdir: Path) -> dict[str, Path]:
    """Zephyr modules (folders with ``zephyr/module.yml``) under ``topdir/modules``.

    A module's name is the ``name:`` of its module.yml, else its folder name (as Zephyr does).
    """
    found: dict[str, Path] = {}
    root = topdir / "modules"
    if not root.is_dir():
        return found
    # modules/<name>, modules/<group>/<name>, modules/<group>/<sub>/<name> (west's layouts);
    # no recursive glob: a full workspace has hundreds of thousands of files.
    metas = [m for depth in ("*", "*/*", "*/*/*") for m in root.glob(f"{depth}/zephyr/module.yml")]
    for meta in sorted(metas):
        folder = meta.parent.parent
        try:
            data = yaml.safe_load(meta.read_text()) or {}
        except (OSError, yaml.YAMLError):
            data = {}
        name = data.get("name") if isinstance(data, dict) else None
        found.setdefault(str(name or folder.name), folder)
    return found


def install_at(base: Path, origin: str, modules_setting: str | None = None) -> ZephyrInstall:
    """A ZephyrInstall for an existing ``zephyr/`` folder (checked)."""
    base = base.expanduser().resolve()
    if not (base / "cmake" / "modules" / "zephyr_default.cmake").is_file():
        raise ZephyrInstallError(
            f"{origin}: {base} is not a Zephyr tree (no cmake/modules/zephyr_default.cmake)",
            hint="point it at the zephyr/ folder of a west workspace",
        )
    topdir = base.parent
    if modules_setting:
        modules = {}
        for text in modules_setting.split(";"):
            if text.strip():
                path = Path(text.strip()).expanduser().resolve()
                modules.update(discover_modules_at(path))
    else:
        modules = discover_modules(topdir)
    has_west = (topdir / ".west" / "config").is_file()
    return ZephyrInstall(base, modules, topdir if has_west else None, origin, read_version(base))


def discover_modules_at(path: Path) -> dict[str, Path]:
    meta = path / "zephyr" / "module.yml"
    name = path.name
    if meta.is_file():
        try:
            data = yaml.safe_load(meta.read_text()) or {}
            name = str(data.get("name") or name) if isinstance(data, dict) else name
        except (OSError, yaml.YAMLError):
            pass
    return {name: path}


# -- the installer --------------------------------------------------------------------------


class ZephyrInstaller(Installer[ZephyrInstall]):
    """Zephyr: an existing tree or workspace used in place, else unpacked or fetched with west."""

    name = kind = "zephyr"
    title = "Zephyr"
    pin = PIN
    source_env = ENV_SOURCE
    producing = "preparing"
    attempt = "attempt"
    offline_advice = _OFFLINE_ADVICE

    def named_installation(self) -> Plan[ZephyrInstall] | None:
        base, origin = self.config.setting("base", ENV_BASE)
        if not base:
            return None
        install = install_at(Path(base), f"{origin}={base}", self.config.get("modules"))
        return Plan(installed=install, origin=install.origin)

    def source_plan(self, source: Source, origin: str) -> Plan[ZephyrInstall]:
        if source.kind == "directory":
            # A workspace-shaped directory is used in place (no copy of 240 MB).
            root = Path(source.location)
            base_dir = root / "zephyr" if (root / "zephyr").is_dir() else root
            install = install_at(base_dir, origin, self.config.get("modules"))
            return Plan(installed=install, source=source, origin=origin)
        return super().source_plan(source, origin)

    def upstream_plan(self) -> Plan[ZephyrInstall]:
        # Not a git clone but west init + update: keyed by the pin and the projects fetched.
        key = hash_key("zephyr-west", self.pin.upstream, self.pin.revision, self.projects(), RECIPE)
        return Plan(origin=f"upstream {self.pin.upstream} {self.pin.revision}", key=key)

    def projects(self) -> list[str]:
        """The west projects an upstream workspace gets (``zephyr.west_projects`` adds some)."""
        extra = [p.strip() for p in (self.config.get("west_projects") or "").split(",")]
        return [*UPSTREAM_PROJECTS, *[p for p in extra if p and p not in UPSTREAM_PROJECTS]]

    def key(self, source: Source) -> str:
        return hash_key("zephyr", source_identity(source), RECIPE)

    def at_entry(self, entry: Path, plan: Plan[ZephyrInstall]) -> ZephyrInstall:
        return install_at(entry / "zephyr", plan.origin)

    def produce(self, plan: Plan[ZephyrInstall], dest: Path, say: Progress) -> None:
        if plan.source is not None:
            _unpack(plan, dest, say)
        else:
            _west_fetch(dest, self.projects(), say)

    def unavailable_reason(self) -> str | None:
        """Why Zephyr builds cannot happen here (a skip reason), or None. Never unpacks or fetches."""
        tools = missing_host_tools()
        if tools:
            return f"Zephyr builds need {' '.join(tools)} (apt-get install {' '.join(tools)})"
        mods = missing_python_modules()
        if mods:
            return (
                f"Zephyr's build scripts need the Python packages {' '.join(mods)} "
                f"(pip install 'pytest-mlonmcu[boards]' or pip install {' '.join(mods)})"
            )
        return super().unavailable_reason()

    def blocker(self, plan: Plan[ZephyrInstall]) -> str | None:
        if plan.source is not None:
            return super().blocker(plan)
        if shutil.which("west") is None and importlib.util.find_spec("west") is None:
            return (
                "Zephyr is not installed and fetching it needs west (pip install west); or set "
                f"{ENV_BASE} (zephyr.base) to an existing Zephyr, or {VENDOR_DIR_ENV} to a "
                f"directory holding {self.pin.vendor_tarball}"
            )
        return self.unreachable_reason(self.pin.upstream)


def cached_zephyr(
    config: ComponentConfig | None = None, cache: Cache | None = None
) -> ZephyrInstall | None:
    """The installation ensure_zephyr would return without unpacking or fetching (else None)."""
    return ZephyrInstaller(config, cache).cached()


def missing_host_tools() -> list[str]:
    """Debian packages of the Zephyr build that this machine lacks."""
    return sorted({pkg for tool, pkg in BUILD_TOOLS.items() if shutil.which(tool) is None})


def missing_python_modules() -> list[str]:
    """PyPI distributions Zephyr's build scripts need that this Python lacks."""
    return [dist for mod, dist in PYTHON_MODULES.items() if importlib.util.find_spec(mod) is None]


def zephyr_unavailable_reason(
    config: ComponentConfig | None = None, cache: Cache | None = None
) -> str | None:
    """Why Zephyr builds cannot happen here (a skip reason), or None. Never unpacks or fetches."""
    return ZephyrInstaller(config, cache).unavailable_reason()


def ensure_zephyr(
    config: ComponentConfig | None = None,
    progress: Progress | None = None,
    *,
    cache: Cache | None = None,
) -> ZephyrInstall:
    """Return a usable Zephyr, unpacking or fetching it into the cache on first use."""
    return ZephyrInstaller(config, cache).ensure(progress)


# -- producing a cache entry ------------------------------------------------------------------


def write_west_config(topdir: Path) -> None:
    """Make ``topdir`` (zephyr/ + modules/) a west workspace whose manifest is zephyr/west.yml.

    ``west build`` then works in it (cwd inside the workspace); modules are still passed to
    CMake explicitly, so projects that are not cloned do not matter.
    """
    west = topdir / ".west"
    west.mkdir(exist_ok=True)
    (west / "config").write_text(
        "[manifest]\npath = zephyr\nfile = west.yml\n\n[zephyr]\nbase = zephyr\n"
    )


def _unpack(plan: Plan[ZephyrInstall], entry: Path, say: Progress) -> None:
    assert plan.source is not None
    start = time.monotonic()
    # Inside the entry's temp dir: a killed unpack is swept with it by the next producer.
    with tempfile.TemporaryDirectory(prefix="mlonmcu-zephyr.", dir=entry) as tmp:
        try:
            root = materialize(plan.source, Path(tmp), progress=lambda m: say(f"zephyr: {m}"))
        except SourceError as exc:
            raise ZephyrInstallError(f"cannot get Zephyr ({plan.origin}): {exc}") from exc
        if not (root / "zephyr" / "cmake" / "modules" / "zephyr_default.cmake").is_file():
            raise ZephyrInstallError(
                f"{plan.origin}: {root} has no zephyr/ folder with a Zephyr tree "
                "(expected the layout of a west workspace: zephyr/, modules/)"
            )
        for child in root.iterdir():
            os.replace(child, entry / child.name)
    if not (entry / ".west").is_dir():
        write_west_config(entry)
    _write_metadata(entry, plan.origin, str(plan.source), time.monotonic() - start)
    say(f"zephyr: ready in {time.monotonic() - start:.0f} s")


def _west_command() -> list[str]:
    exe = shutil.which("west")
    return [exe] if exe else [sys.executable, "-m", "west"]


def _west_fetch(entry: Path, projects: list[str], say: Progress) -> None:
    start = time.monotonic()
    if shutil.which("west") is None and importlib.util.find_spec("west") is None:
        raise ZephyrInstallError(
            "fetching Zephyr needs west", hint="pip install west (or pytest-mlonmcu[boards])"
        )
    if shutil.which("git") is None:
        raise ZephyrInstallError("fetching Zephyr needs git", hint="apt-get install git")
    west = _west_command()
    steps = [
        [*west, "init", "-m", PIN.upstream, "--mr", PIN.revision, str(entry)],
        [*west, "update", "--narrow", "-o=--depth=1", *projects],
    ]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    for cmd in steps:
        say(f"zephyr: {shlex.join(cmd)}")
        try:
            result = proc.run(
                cmd, timeout=proc.limit("fetch"), what=f"west {cmd[len(west)]}", cwd=entry, env=env
            )
        except proc.ChildTimeout as exc:
            raise ZephyrInstallError(str(exc)) from None
        if result.returncode != 0:
            out = result.output.strip()
            raise ZephyrInstallError(
                f"cannot fetch Zephyr {PIN.revision} from {PIN.upstream} "
                f"(exit {result.returncode}):\n$ {shlex.join(cmd)}\n{out[-2000:]}",
                hint=f"offline? {_OFFLINE_ADVICE}",
            )
    _write_metadata(entry, f"upstream {PIN.upstream}", PIN.revision, time.monotonic() - start)


def _write_metadata(entry: Path, origin: str, source: str, seconds: float) -> None:
    meta = {
        "origin": origin,
        "source": source,
        "version": read_version(entry / "zephyr"),
        "modules": {k: str(v.relative_to(entry)) for k, v in discover_modules(entry).items()},
        "seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (entry / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
