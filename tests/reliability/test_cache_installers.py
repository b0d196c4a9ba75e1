"""The installers' shared base (install/base.py), and their cache keys, which stay as they are:
a changed key rebuilds ETISS, the TFLM libraries or Zephyr (2 to 10 minutes each) for every user."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_mlonmcu.backends.tflmi import library
from pytest_mlonmcu.core.cache import Cache, hash_key
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.install import base, etiss, sources, tflm, zephyr
from pytest_mlonmcu.install.base import Installer, InstallError, Pin, Plan
from pytest_mlonmcu.install.sources import Progress, Source, source_identity

VENDOR = Path(os.environ.get(sources.VENDOR_DIR_ENV, "/nonexistent"))
# A library variant whose compiler does not exist: its identity holds no machine's gcc version.
SPEC = library.LibrarySpec(
    label="t",
    prefix="/nonexistent/",
    arch_flags=("-march=rv32gc", "-mabi=ilp32d"),
    system_flags=("--specs=picolibc.specs",),
    features=("cmsisnn",),
)
KEYS = {
    "vendored": {
        "etiss": "36a6c6e3e681ff88c84a6c50",
        "tflm-src": "b350e55bdafe36bce0ccc92d",
        "tflm-lib": "64c1be554a7a7dc7f12987c0",
        "zephyr": "c050706fc77a1536c07e6b6b",
    },
    "upstream": {
        "etiss": "ff32c22f80b5b726aa53a889",
        "tflm-src": "d3c864f289e949ff4158db9a",
        "tflm-lib": "14b4be30e5684e8492d4dcb6",
        "zephyr": "685b303cd8819f4494757cf2",
    },
}


@pytest.mark.parametrize("origin", sorted(KEYS))
def test_installer_keys_are_unchanged(origin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (etiss.ENV_INSTALL_DIR, etiss.ENV_SOURCE, tflm.ENV_SOURCE, zephyr.ENV_SOURCE):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(zephyr.ENV_BASE, raising=False)
    monkeypatch.delenv(sources.VENDOR_DIR_ENV, raising=False)
    if origin == "vendored":
        installers = (etiss, tflm, zephyr)
        if not all((VENDOR / m.PIN.vendor_tarball).is_file() for m in installers):
            pytest.skip(f"the vendored snapshots are not all in {VENDOR}")
        monkeypatch.setenv(sources.VENDOR_DIR_ENV, str(VENDOR))
    keys = {
        "tflm-src": tflm.TflmInstaller().plan().key,
        "tflm-lib": library.library_key(SPEC),
        "zephyr": zephyr.ZephyrInstaller().plan().key,
    }
    # ETISS's key names the machine it is built for: recorded on x86_64 Linux.
    if (sys.platform, os.uname().machine) == ("linux", "x86_64"):
        keys["etiss"] = etiss.EtissInstaller().plan().key
    assert keys == {kind: key for kind, key in KEYS[origin].items() if kind in keys}


# -- the base, on a toy component ------------------------------------------------------------


class ToyInstaller(Installer[Path]):
    """Copies a directory's ``VERSION`` into its cache entry (a build in miniature)."""

    name = kind = "toy"
    title = "Toy"
    pin = Pin("https://invalid.invalid/toy", "0123abcd", "toy-0123abcd.tar.gz", "0" * 64)
    source_env = "TOY_SOURCE"
    producing = "building"
    offline_advice = "set TOY_SOURCE to a checkout"
    builds = 0

    def key(self, source: Source) -> str:
        return hash_key("toy", source_identity(source))

    def at_entry(self, entry: Path, plan: Plan[Path]) -> Path:
        return entry / "VERSION"

    def produce(self, plan: Plan[Path], dest: Path, say: Progress) -> None:
        assert plan.source is not None
        ToyInstaller.builds += 1
        version = Path(plan.source.location) / "VERSION"
        if not version.is_file():
            raise InstallError(f"{plan.source} has no VERSION", component="toy")
        (dest / "VERSION").write_text(version.read_text())


def toy(tmp_path: Path, source: Path) -> ToyInstaller:
    return ToyInstaller(RunConfig({"toy.source": str(source)}).scoped("toy"), Cache(tmp_path))


def test_an_installer_plans_produces_once_and_finds_its_entry(tmp_path, monkeypatch):
    monkeypatch.setattr(ToyInstaller, "builds", 0)
    src = tmp_path / "src"
    src.mkdir()
    (src / "VERSION").write_text("1\n")
    installer = toy(tmp_path / "cache", src)
    plan = installer.plan()
    assert (plan.source, plan.origin) == (Source("directory", str(src)), f"toy.source={src}")
    assert installer.cached() is None and installer.unavailable_reason() is None
    lines: list[str] = []
    made = installer.ensure(lines.append)
    entry = tmp_path / "cache" / "toy" / plan.key
    assert made == entry / "VERSION" and made.read_text() == "1\n"
    assert lines == [
        f"toy: building from toy.source={src} into {entry} (once; other processes wait)"
    ]
    assert toy(tmp_path / "cache", src).ensure() == made == installer.cached()
    assert ToyInstaller.builds == 1


def test_a_failed_production_is_reported_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(ToyInstaller, "builds", 0)
    src = tmp_path / "empty"
    src.mkdir()
    installer = toy(tmp_path / "cache", src)
    with pytest.raises(InstallError) as first:
        installer.ensure()
    assert first.value.component == "toy"
    with pytest.raises(InstallError) as again:
        installer.ensure()
    assert again.value is first.value and ToyInstaller.builds == 1
    reason = installer.unavailable_reason()
    assert reason == f"Toy: an earlier build in this session failed: {src} has no VERSION"
    assert not (tmp_path / "cache" / "toy" / installer.plan().key).exists()


def test_upstream_that_does_not_answer_is_a_skip_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("TOY_SOURCE", raising=False)
    monkeypatch.delenv(sources.VENDOR_DIR_ENV, raising=False)
    monkeypatch.setattr(base, "reachable", lambda url: False)
    installer = ToyInstaller(cache=Cache(tmp_path))
    assert installer.plan().source == Source("git", "https://invalid.invalid/toy", "0123abcd")
    assert installer.unavailable_reason() == (
        "Toy is not installed and https://invalid.invalid/toy cannot be reached: "
        "set TOY_SOURCE to a checkout"
    )
