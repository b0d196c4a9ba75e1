"""ETISS, the RV32 instruction-set simulator of the MLonMCU paper, built from pinned source.

Where ETISS comes from, first match wins:

1. an existing installation: config ``etiss.install_dir`` or ``$MLONMCU_ETISS_INSTALL_DIR``
   (must hold ``bin/bare_etiss_processor`` and ``examples/base.ini``; used as is);
2. a source: config ``etiss.source`` or ``$MLONMCU_ETISS_SOURCE`` (tarball, directory or URL@COMMIT);
3. the vendored snapshot ``$MLONMCU_VENDOR_DIR/etiss-b52f8a04-src.tar.xz``;
4. upstream github.com/tum-ei-eda/etiss at the pinned commit, cloned with its submodules.

Sources 2-4 are built with CMake once per machine into the per-user cache
(``<cache>/etiss/<key>/``, key = source identity + build recipe); only the install prefix is
kept there. The build runs under the cache's lock, so parallel xdist workers and concurrent
sessions build it once and everyone else waits for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..core import proc
from ..core.cache import Cache, hash_key
from ..core.config import ComponentConfig
from .base import Installer, InstallError, Pin, Plan
from .sources import VENDOR_DIR_ENV, Progress, Source, SourceError, materialize, source_identity

# ETISS 0.11.2 (2026-07-25). Only this abbreviated commit is recorded (the vendored snapshot's
# name and VENDORED.md; the snapshot has no .git); git resolves it after a full clone, and a
# prefix cannot name other content (an ambiguous one is an error). The snapshot is pinned by digest.
PIN = Pin(
    upstream="https://github.com/tum-ei-eda/etiss",
    revision="b52f8a04",
    vendor_tarball="etiss-b52f8a04-src.tar.xz",
    vendor_sha256="59aecfb67e123bb40e0f5e7f0eea9dd4c8ce9dac607436406caeb4f6df2fdc23",
)
# Upstream pins tinycc ba0899d9, which the TinyCC GitHub mirror lacks; this one builds and runs.
SUBMODULE_FALLBACKS = {"third_party/tcc": "50cfe114"}
# PluginImpl/verilator is a private SSH-only submodule that the simulator does not need.
SUBMODULES = [
    "third_party/betterenums",
    "third_party/tcc",
    "third_party/pugixml",
    "third_party/softfloat/berkeley-softfloat",
    "third_party/simpleini",
    "third_party/elfio",
    "third_party/fmt",
]
# Bump when the build (flags, layout) changes: a new key rebuilds instead of reusing.
RECIPE = {
    "version": 1,
    "cmake": ["-DCMAKE_BUILD_TYPE=Release", "-DETISS_PORTABLE_INSTALL=ON"],
}

ENV_INSTALL_DIR = "MLONMCU_ETISS_INSTALL_DIR"
ENV_SOURCE = "MLONMCU_ETISS_SOURCE"
INSTALL_HINT = "install it with: python -m pytest_mlonmcu install etiss"
DEBIAN_BUILD_DEPS = [
    "cmake",
    "g++",
    "make",
    "libboost-filesystem-dev",
    "libboost-system-dev",
    "libboost-program-options-dev",
]
METADATA = "mlonmcu-etiss.json"


def _error(message: str, hint: str = "") -> InstallError:
    """An InstallError naming ETISS."""
    return InstallError(message, hint=hint, component="etiss")


@dataclass(frozen=True)
class EtissInstall:
    prefix: Path
    processor: Path  # bin/bare_etiss_processor
    base_ini: Path  # examples/base.ini
    plugins_dir: Path  # lib/plugins
    origin: str = ""  # where it came from (install dir or source), for reports

    @classmethod
    def at(cls, prefix: Path, origin: str = "") -> EtissInstall:
        prefix = Path(prefix)
        return cls(
            prefix,
            prefix / "bin" / "bare_etiss_processor",
            prefix / "examples" / "base.ini",
            prefix / "lib" / "plugins",
            origin,
        )

    def missing(self) -> list[str]:
        """What a usable installation lacks (empty when complete)."""
        out = []
        if not (self.processor.is_file() and os.access(self.processor, os.X_OK)):
            out.append(str(self.processor.relative_to(self.prefix)))
        if not self.base_ini.is_file():
            out.append(str(self.base_ini.relative_to(self.prefix)))
        return out


class EtissInstaller(Installer[EtissInstall]):
    """ETISS: an installation the user names, else built with CMake from a source."""

    name = kind = "etiss"
    title = "ETISS"
    pin = PIN
    source_env = ENV_SOURCE
    producing = "building"
    offline_advice = (
        f"set {VENDOR_DIR_ENV} to a directory with {PIN.vendor_tarball}, {ENV_SOURCE} (or "
        f"etiss.source) to a tarball/checkout, or {ENV_INSTALL_DIR} (or etiss.install_dir) to an "
        "installation"
    )

    def __init__(
        self,
        config: ComponentConfig | None = None,
        cache: Cache | None = None,
        *,
        apt: bool = False,
    ) -> None:
        super().__init__(config, cache)
        self.apt = apt  # may the build apt-get install missing Debian packages

    def named_installation(self) -> Plan[EtissInstall] | None:
        install_dir, origin = self.config.setting("install_dir", ENV_INSTALL_DIR)
        if not install_dir:
            return None
        install = EtissInstall.at(Path(install_dir).expanduser(), f"{origin}={install_dir}")
        missing = install.missing()
        if missing:
            raise _error(
                f"{origin}={install_dir} is not an ETISS installation: missing "
                + ", ".join(str(install.prefix / m) for m in missing),
                hint=f"point {origin} at an ETISS install prefix, or unset it and {INSTALL_HINT}",
            )
        return Plan(installed=install, origin=install.origin)

    def key(self, source: Source) -> str:
        return hash_key("etiss", source_identity(source), RECIPE, sys.platform, os.uname().machine)

    def at_entry(self, entry: Path, plan: Plan[EtissInstall]) -> EtissInstall:
        return EtissInstall.at(entry, plan.origin)

    def require_build_tools(self, say: Progress) -> None:
        missing = missing_build_deps()
        if not missing:
            return
        if not self.apt:
            raise _error(
                f"building ETISS needs these Debian packages: {' '.join(missing)}",
                hint=f"apt-get install {' '.join(missing)}  (or, as root: "
                "python -m pytest_mlonmcu install etiss --apt)",
            )
        apt_install(missing, say)

    def produce(self, plan: Plan[EtissInstall], dest: Path, say: Progress) -> None:
        _build(plan, dest, say)

    def blocker(self, plan: Plan[EtissInstall]) -> str | None:
        missing = missing_build_deps()
        if missing:
            return (
                f"ETISS is not built yet and its build dependencies are missing ({' '.join(missing)}); "
                f"apt-get install {' '.join(missing)}, then {INSTALL_HINT}"
            )
        return super().blocker(plan)


def cached_etiss(
    config: ComponentConfig | None = None, cache: Cache | None = None
) -> EtissInstall | None:
    """The installation ensure_etiss would return, if it needs no build (else None)."""
    return EtissInstaller(config, cache).cached()


def etiss_unavailable_reason(
    config: ComponentConfig | None = None, cache: Cache | None = None
) -> str | None:
    """Why ETISS can neither be used nor built here (a skip reason), or None."""
    return EtissInstaller(config, cache).unavailable_reason()


def ensure_etiss(
    config: ComponentConfig | None = None,
    progress: Progress | None = None,
    *,
    cache: Cache | None = None,
    apt: bool = False,
) -> EtissInstall:
    """Return a usable ETISS, building it into the cache on first use.

    ``progress`` receives stage lines ("etiss: configuring", "etiss: building [42%]"...).
    ``apt=True`` lets the build install missing Debian packages with apt-get (root only, never
    inside a pytest run).
    """
    return EtissInstaller(config, cache, apt=apt).ensure(progress)


# -- build dependencies ---------------------------------------------------------------------

_INCLUDE_DIRS = [Path("/usr/include"), Path("/usr/local/include")]
_BOOST_HEADERS = {
    "libboost-filesystem-dev": "boost/filesystem.hpp",
    "libboost-system-dev": "boost/system/error_code.hpp",
    "libboost-program-options-dev": "boost/program_options.hpp",
}


def missing_build_deps() -> list[str]:
    """Debian packages the build needs and this machine lacks (best effort, no compiling)."""
    missing = [
        pkg for tool, pkg in (("cmake", "cmake"), ("make", "make")) if not shutil.which(tool)
    ]
    if not (shutil.which("g++") or shutil.which("c++")):
        missing.append("g++")
    extra = [Path(p) for p in os.environ.get("CPLUS_INCLUDE_PATH", "").split(":") if p]
    for pkg, header in _BOOST_HEADERS.items():
        if not any((d / header).is_file() for d in [*_INCLUDE_DIRS, *extra]):
            missing.append(pkg)
    return missing


def apt_install(packages: list[str], say: Progress) -> None:
    """apt-get install ``packages``; only as root and outside pytest (never a surprise)."""
    if _in_pytest_run():
        raise _error(
            f"missing Debian packages {' '.join(packages)}: not installing them from inside pytest",
            hint=f"apt-get install {' '.join(packages)}",
        )
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise _error(
            f"missing Debian packages {' '.join(packages)}; --apt needs root and apt-get",
            hint=f"sudo apt-get install {' '.join(packages)}",
        )
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"etiss: {shlex.join(cmd)}")
    fetch = proc.limit("fetch")

    def apt_get(args: list[str]) -> int:
        return proc.run(args, timeout=fetch, what="apt-get", env=env, capture=False).returncode

    if apt_get(cmd) != 0:
        say("etiss: apt-get install failed, updating the package lists and retrying")
        apt_get(["apt-get", "update"])
        if apt_get(cmd) != 0:
            raise _error(f"apt-get could not install {' '.join(packages)}")


def _in_pytest_run() -> bool:
    # pytest >= 8.2 sets PYTEST_VERSION for the whole session (and its xdist workers).
    env = ("PYTEST_VERSION", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER")
    return any(os.environ.get(var) for var in env)


# -- the build ------------------------------------------------------------------------------

_PERCENT = re.compile(r"^\[\s*(\d+)%\]")
_NINJA = re.compile(r"^\[(\d+)/(\d+)\]")


def _build(plan: Plan[EtissInstall], prefix: Path, say: Progress) -> None:
    """Unpack/clone + configure + build in a temp dir, install into ``prefix`` (the cache entry)."""
    assert plan.source is not None
    start = time.monotonic()
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="mlonmcu-etiss-build.") as tmp:
        work = Path(tmp)
        log_path = work / "build.log"
        try:
            src = materialize(
                plan.source,
                work / "unpack",
                submodules=SUBMODULES,
                submodule_fallbacks=SUBMODULE_FALLBACKS,
                progress=lambda m: say(f"etiss: {m}"),
            )
        except SourceError as exc:
            raise _error(
                f"cannot get the ETISS source ({plan.origin}): {exc}",
                hint=f"without access to {PIN.upstream}: set {VENDOR_DIR_ENV} to a directory "
                f"holding {PIN.vendor_tarball}, {ENV_SOURCE} (or etiss.source) to a tarball, checkout "
                f"or URL@COMMIT, or {ENV_INSTALL_DIR} (or etiss.install_dir) to an installation",
            ) from exc
        if not (src / "CMakeLists.txt").is_file() or not (src / "ArchImpl").is_dir():
            raise _error(f"{plan.origin}: {src} is not an ETISS source tree")
        build = work / "build"
        try:
            say("etiss: configuring")
            _run(
                # The prefix is the cache entry's temp dir; the portable install uses relative
                # paths only, so the tree still works after it is renamed into place.
                ["cmake", "-S", str(src), "-B", str(build), *RECIPE["cmake"],
                 f"-DCMAKE_INSTALL_PREFIX={prefix}", "-G", "Unix Makefiles"],
                log_path, say, "configuring",
            )  # fmt: skip
            say(f"etiss: building with {jobs} jobs")
            _run(["cmake", "--build", str(build), "-j", str(jobs)], log_path, say, "building")
            say("etiss: installing")
            _run(["cmake", "--install", str(build)], log_path, say, "installing")
        except InstallError:
            _keep_failure_log(log_path, prefix)
            raise
        install = EtissInstall.at(prefix)
        if install.missing():
            _keep_failure_log(log_path, prefix)
            raise _error(
                f"the ETISS build installed no {', '.join(install.missing())} (log kept next to the cache)"
            )
        shutil.copy2(log_path, prefix / "build.log")
    seconds = time.monotonic() - start
    meta = {
        "source": str(plan.source),
        "origin": plan.origin,
        "identity": source_identity(plan.source),
        "recipe": RECIPE,
        "build_seconds": round(seconds, 1),
        "jobs": jobs,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (prefix / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
    say(f"etiss: built in {seconds:.0f} s")


def _run(cmd: list[str], log_path: Path, say: Progress, stage: str) -> None:
    """Run a build command; its output goes to the log, progress lines to ``say``."""
    last_pct, last_time = -100, time.monotonic()
    tail: list[str] = []
    with log_path.open("a") as log:
        log.write(f"$ {shlex.join(cmd)}\n")
        log.flush()
        with proc.Child(
            cmd, timeout=proc.limit("build"), what=f"ETISS {stage}",
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        ) as build:  # fmt: skip
            assert build.stdout is not None
            for line in build.stdout:
                log.write(line)
                tail = [*tail[-59:], line.rstrip()]
                m = _PERCENT.match(line)
                n = _NINJA.match(line)
                pct = (
                    int(m.group(1))
                    if m
                    else (100 * int(n.group(1)) // int(n.group(2)) if n else None)
                )
                now = time.monotonic()
                if pct is not None and (pct - last_pct >= 5 or now - last_time >= 20):
                    say(f"etiss: {stage} [{pct}%]")
                    last_pct, last_time = pct, now
                elif now - last_time >= 30:  # stages without percentages still show life
                    say(f"etiss: {stage} ...")
                    last_time = now
            rc = build.wait()
    if build.timed_out:
        raise _error(str(build.timeout_error("\n".join(tail))))
    if rc != 0:
        text = "\n".join(tail)
        hint = ""
        if "Boost" in text or "boost" in text:
            hint = f"missing Boost? apt-get install {' '.join(DEBIAN_BUILD_DEPS)}"
        raise _error(
            f"ETISS {stage} failed (exit {rc}):\n$ {shlex.join(cmd)}\n{text[-4000:]}", hint=hint
        )


def _keep_failure_log(log_path: Path, prefix: Path) -> None:
    # The temp build dir disappears; keep its log next to the cache entries for the user.
    if log_path.is_file():
        dest = prefix.parent / "last-failed-build.log"
        shutil.copy2(log_path, dest)
