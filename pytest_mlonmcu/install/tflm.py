"""The TensorFlow Lite Micro source tree, from pinned source (the library build is the tflmi
backend's: ``backends/tflmi/library.py``).

Where the TFLM source comes from, first match wins:

1. config ``tflm.source`` or ``$MLONMCU_TFLM_SOURCE`` (a directory or a tarball; ``URL@COMMIT``
   works too);
2. the vendored snapshot ``$MLONMCU_VENDOR_DIR/tflm-90b983c2-src.tar.xz`` (TFLM plus the
   third-party code its download scripts fetch, see its ``tflm/VENDORED.md``);
3. upstream github.com/tensorflow/tflite-micro at the pinned commit, with the third-party
   versions its download scripts pin (cloned into TFLM's own ``tools/make/downloads`` layout,
   flatbuffers patched as TFLM's download script does).

A tarball or clone is unpacked once into the cache (``tflm-src/<key>/src``); a directory is used
in place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.cache import Cache, hash_key
from ..core.config import ComponentConfig
from .base import Installer, InstallError, Pin, Plan
from .sources import (
    VENDOR_DIR_ENV,
    Progress,
    Source,
    SourceError,
    materialize,
    run_git,
    source_identity,
)

# 2026-08-20. Only this abbreviated commit is recorded (the vendored snapshot's name and its
# VENDORED.md; the snapshot has no .git); the snapshot itself is pinned by digest.
PIN = Pin(
    upstream="https://github.com/tensorflow/tflite-micro",
    revision="90b983c2",
    vendor_tarball="tflm-90b983c2-src.tar.xz",
    vendor_sha256="bad5db974994d6e2bcf1a63976cbde2b081f31768098fe7b5976a4be7552b1e3",
)
ENV_SOURCE = "MLONMCU_TFLM_SOURCE"
_SOURCE_HINT = (
    f"set {VENDOR_DIR_ENV} to a directory holding {PIN.vendor_tarball}, or {ENV_SOURCE} "
    "(or tflm.source) to a TFLM tarball or checkout with its third-party downloads"
)

# TFLM's Makefile layout for downloaded third-party code (used for upstream clones).
DOWNLOADS_DIR = "tensorflow/lite/micro/tools/make/downloads"
FLATBUFFERS_PATCH = "tensorflow/lite/micro/tools/make/flatbuffers.patch"


@dataclass(frozen=True)
class ThirdParty:
    name: str  # folder under the downloads dir
    url: str
    revision: str  # the full commit TFLM's download scripts pin (by tag or commit)


# The versions TFLM 90b983c2's download scripts pin (see tflm/VENDORED.md of the snapshot).
THIRD_PARTY = [
    ThirdParty(  # tag v25.9.23
        "flatbuffers",
        "https://github.com/google/flatbuffers",
        "187240970746d00bbd26b0f5873ed54d2477f9f3",
    ),
    ThirdParty(
        "gemmlowp",
        "https://github.com/google/gemmlowp",
        "719139ce755a0f31cbf1c37f7f98adcc7fc9f425",
    ),
    ThirdParty("ruy", "https://github.com/google/ruy", "d37128311b445e758136b8602d1bbd2a755e115d"),
    ThirdParty(
        "cmsis_nn",
        "https://github.com/ARM-software/CMSIS-NN",
        "4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae",
    ),
    ThirdParty(
        "cmsis",
        "https://github.com/ARM-software/CMSIS_6",
        "5782d6f8057906d360f4b95ec08a2354afe5c9b9",
    ),
]


class TflmInstallError(InstallError):
    """The TFLM source could not be found, fetched or built."""

    component = "tflm"


# -- the source tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTree:
    """A TFLM source tree and where its third-party code sits in it."""

    root: Path
    third_party: Path  # holds flatbuffers/, gemmlowp/, ruy/, cmsis_nn/, cmsis/
    origin: str

    def include_dirs(self, features: Sequence[str] = ()) -> list[Path]:
        tp = self.third_party
        dirs = [self.root, tp / "gemmlowp", tp / "flatbuffers" / "include", tp / "ruy"]
        if "cmsisnn" in features:
            # As TFLM's cmsis_nn.inc: CMSIS-NN's own includes and the CMSIS Core headers.
            dirs += [
                tp / "cmsis",
                tp / "cmsis_nn",
                tp / "cmsis" / "CMSIS" / "Core" / "Include",
                tp / "cmsis_nn" / "Include",
            ]
        return dirs


def _third_party_dir(root: Path) -> Path | None:
    # The vendored snapshot keeps them in third_party/; TFLM's Makefile downloads them into
    # tools/make/downloads/ (a user's checkout after `make third_party_downloads`).
    for base in (root / "third_party", root / DOWNLOADS_DIR):
        if (base / "flatbuffers" / "include" / "flatbuffers" / "flatbuffers.h").is_file():
            return base
    return None


def _checked_tree(root: Path, origin: str) -> SourceTree:
    if not (root / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise TflmInstallError(f"{origin}: {root} is not a TensorFlow Lite Micro source tree")
    third_party = _third_party_dir(root)
    if third_party is None:
        raise TflmInstallError(
            f"{origin}: {root} lacks the third-party code (flatbuffers, gemmlowp, ruy, "
            f"CMSIS-NN, CMSIS) in third_party/ or {DOWNLOADS_DIR}/",
            hint="run `make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads` "
            f"in the checkout, or {_SOURCE_HINT}",
        )
    return SourceTree(root, third_party, origin)


class TflmInstaller(Installer[SourceTree]):
    """The TFLM source tree: a directory used in place, else unpacked or cloned into the cache."""

    name = "tflm"
    kind = "tflm-src"
    title = "TFLM"
    pin = PIN
    source_env = ENV_SOURCE
    producing = "preparing the source"
    attempt = "attempt"
    offline_advice = _SOURCE_HINT

    def local_source(self) -> tuple[Source | None, str]:
        try:
            return super().local_source()
        except SourceError as exc:
            text, origin = self.config.setting("source", ENV_SOURCE)
            raise TflmInstallError(f"{origin}: {exc}" if text else f"TFLM source: {exc}") from exc

    def source_plan(self, source: Source, origin: str) -> Plan[SourceTree]:
        if source.kind == "directory":
            tree = _checked_tree(Path(source.location), origin)
            return Plan(installed=tree, source=source, origin=origin)
        return super().source_plan(source, origin)

    def key(self, source: Source) -> str:
        return hash_key("tflm-src", source_identity(source), [t.__dict__ for t in THIRD_PARTY])

    def at_entry(self, entry: Path, plan: Plan[SourceTree]) -> SourceTree:
        return _checked_tree(entry / "src", plan.origin)

    def produce(self, plan: Plan[SourceTree], dest: Path, say: Progress) -> None:
        _fetch(plan, dest, say)


def source_tree(
    config: ComponentConfig | None = None,
    cache: Cache | None = None,
    progress: Progress | None = None,
) -> SourceTree:
    """The TFLM source tree, unpacked or cloned into the cache on first use."""
    return TflmInstaller(config, cache).ensure(progress)


def _fetch(plan: Plan[SourceTree], dest: Path, say: Progress) -> None:
    """Unpack or clone ``plan.source`` (+ third-party code for clones) into ``dest/src``."""
    assert plan.source is not None
    try:
        root = materialize(
            plan.source, dest / "unpack", submodules=[], progress=lambda m: say(f"tflm: {m}")
        )
        if plan.source.kind == "git":
            _fetch_third_party(root, say)
    except SourceError as exc:
        raise TflmInstallError(
            f"cannot get the TFLM source ({plan.origin}): {exc}", hint=_SOURCE_HINT
        ) from exc
    os.replace(root, dest / "src")
    shutil.rmtree(dest / "unpack", ignore_errors=True)


def _fetch_third_party(root: Path, say: Progress) -> None:
    downloads = root / DOWNLOADS_DIR
    downloads.mkdir(parents=True, exist_ok=True)
    for dep in THIRD_PARTY:
        dest = downloads / dep.name
        if dest.exists():
            continue
        say(f"tflm: cloning {dep.url} at {dep.revision}")
        try:
            run_git(["clone", "--quiet", "--no-checkout", dep.url, str(dest)], None)
            run_git(["checkout", "--quiet", "--detach", dep.revision], dest)
        except subprocess.CalledProcessError as exc:
            text = (exc.stderr or "").strip().splitlines()
            raise SourceError(
                f"cannot clone {dep.url} at {dep.revision}: {text[-1] if text else exc}"
            ) from exc
    try:  # TFLM's flatbuffers_download.sh applies this patch
        run_git(
            [
                "apply",
                "--ignore-space-change",
                "--ignore-whitespace",
                str(root / FLATBUFFERS_PATCH),
            ],
            downloads / "flatbuffers",
        )
    except subprocess.CalledProcessError as exc:
        raise SourceError(f"cannot apply {FLATBUFFERS_PATCH} to flatbuffers: {exc.stderr}") from exc
