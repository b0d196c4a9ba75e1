"""Installing ETISS (pytest_mlonmcu.install) and resolving sources.

The build itself uses the per-user cache, so it happens once per machine (~2 minutes) and
every later session reuses it; error paths use throw-away caches and never build.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pytest_mlonmcu.core.cache import MARKER, Cache
from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.core.errors import MissingToolError
from pytest_mlonmcu.install.etiss import (
    ENV_INSTALL_DIR,
    ENV_SOURCE,
    PIN,
    ensure_etiss,
    etiss_unavailable_reason,
)
from pytest_mlonmcu.install.sources import (
    VENDOR_DIR_ENV,
    Source,
    SourceError,
    materialize,
    parse_source,
    source_identity,
)

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path(os.environ.get("MLONMCU_VENDOR_DIR") or REPO.parent / "shared" / "vendor")


def etiss_config(**settings) -> RunConfig:
    return RunConfig({f"etiss.{k}": str(v) for k, v in settings.items()})


@pytest.fixture
def clean_env(monkeypatch):
    """No ETISS location from the caller's environment."""
    for var in (ENV_INSTALL_DIR, ENV_SOURCE, VENDOR_DIR_ENV):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def vendor_env(clean_env):
    if not (VENDOR / PIN.vendor_tarball).is_file():
        pytest.skip(f"no {PIN.vendor_tarball} in {VENDOR.resolve()}")
    clean_env.setenv(VENDOR_DIR_ENV, str(VENDOR.resolve()))
    return clean_env


# -- the real installation ----------------------------------------------------------------


def test_install_is_built_once_then_reused(vendor_env):
    lines: list[str] = []
    first = ensure_etiss(progress=lines.append)  # builds on a fresh machine, else cached
    assert first.processor.is_file() and os.access(first.processor, os.X_OK)
    assert first.base_ini.is_file()
    assert (first.plugins_dir / "list.txt").is_file()
    assert first.prefix.parent == Cache().root / "etiss"
    assert not (first.prefix / "build").exists()  # only the install prefix is kept

    start = time.monotonic()
    second = ensure_etiss()
    assert time.monotonic() - start < 1.0
    assert second.prefix == first.prefix


def test_cli_prints_install_path(vendor_env):
    ensure_etiss()  # built (once) by now; the CLI only finds it
    out = subprocess.run(
        [sys.executable, "-m", "pytest_mlonmcu", "install", "etiss"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"etiss: ready: {ensure_etiss().prefix}" in out.stdout


def test_install_dir_is_used_as_is(vendor_env):
    built = ensure_etiss()
    install = ensure_etiss(etiss_config(install_dir=built.prefix).scoped("etiss"))
    assert install.prefix == built.prefix
    assert "etiss.install_dir" in install.origin


# -- errors -----------------------------------------------------------------------------


def test_empty_install_dir_says_what_is_missing(clean_env, tmp_path):
    config = etiss_config(install_dir=tmp_path).scoped("etiss")
    with pytest.raises(MissingToolError) as info:
        ensure_etiss(config, cache=Cache(tmp_path / "cache"))
    assert getattr(info.value, "component", None) == "etiss"
    message = str(info.value)
    assert "bin/bare_etiss_processor" in message
    assert "examples/base.ini" in message
    assert "python -m pytest_mlonmcu install etiss" in message
    assert "bare_etiss_processor" in etiss_unavailable_reason(config, Cache(tmp_path / "cache"))


def test_install_dir_from_environment(clean_env, tmp_path):
    clean_env.setenv(ENV_INSTALL_DIR, str(tmp_path))
    with pytest.raises(MissingToolError, match=ENV_INSTALL_DIR):
        ensure_etiss(cache=Cache(tmp_path / "cache"))


def test_unreachable_git_source_gives_clear_error(clean_env, tmp_path):
    config = etiss_config(source="https://invalid.invalid/etiss@b52f8a04").scoped("etiss")
    cache = Cache(tmp_path / "cache")
    reason = etiss_unavailable_reason(config, cache)
    assert reason and "cannot be reached" in reason and VENDOR_DIR_ENV in reason
    with pytest.raises(MissingToolError) as info:
        ensure_etiss(config, cache=cache)
    message = str(info.value)
    assert "cannot clone https://invalid.invalid/etiss" in message
    assert VENDOR_DIR_ENV in message and PIN.vendor_tarball in message
    assert not any((tmp_path / "cache" / "etiss").glob("*/bin"))  # nothing half-built stays
    # The failure is remembered: no second attempt in this process.
    with pytest.raises(MissingToolError):
        ensure_etiss(config, cache=cache)


def test_source_that_is_not_etiss(clean_env, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "README").write_text("not etiss")
    config = etiss_config(source=tmp_path / "src").scoped("etiss")
    with pytest.raises(MissingToolError, match="not an ETISS source tree"):
        ensure_etiss(config, cache=Cache(tmp_path / "cache"))


# -- sources (generic) -----------------------------------------------------------------------


def test_parse_source_forms(tmp_path):
    tarball = tmp_path / "x-src.tar.xz"
    tarball.write_bytes(b"")
    assert parse_source(str(tarball)).kind == "tarball"
    assert parse_source(str(tmp_path)).kind == "directory"
    git = parse_source("https://github.com/tum-ei-eda/etiss@b52f8a04")
    assert (git.kind, git.location, git.revision) == (
        "git",
        "https://github.com/tum-ei-eda/etiss",
        "b52f8a04",
    )
    ssh = parse_source("git@github.com:tum-ei-eda/etiss.git@b52f8a04")
    assert (ssh.location, ssh.revision) == ("git@github.com:tum-ei-eda/etiss.git", "b52f8a04")
    with pytest.raises(SourceError, match="URL@COMMIT"):
        parse_source("https://github.com/tum-ei-eda/etiss")
    with pytest.raises(SourceError, match="does not exist"):
        parse_source(str(tmp_path / "missing.tar.gz"))


def test_tarball_unpack_and_identity(tmp_path):
    tree = tmp_path / "tree" / "proj"
    tree.mkdir(parents=True)
    (tree / "VERSION").write_text("1\n")
    tarball = tmp_path / "proj-src.tar.gz"
    with tarfile.open(tarball, "w:gz") as tf:
        tf.add(tree, arcname="proj")
    source = parse_source(str(tarball))
    ident = source_identity(source)
    assert ident.startswith("sha256:") and ident == source_identity(source)
    root = materialize(source, tmp_path / "out")
    assert root == tmp_path / "out" / "proj"
    assert (root / "VERSION").read_text() == "1\n"


def test_directory_identity_follows_content(tmp_path):
    (tmp_path / "a.c").write_text("int a;\n")
    before = source_identity(Source("directory", str(tmp_path)))
    assert before == source_identity(Source("directory", str(tmp_path)))
    (tmp_path / "a.c").write_text("int a = 1;\n")
    os.utime(tmp_path / "a.c", ns=(1, 1))
    assert source_identity(Source("directory", str(tmp_path))) != before
    # A build tree inside the source does not count.
    changed = source_identity(Source("directory", str(tmp_path)))
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "CMakeCache.txt").write_text("x")
    assert source_identity(Source("directory", str(tmp_path))) == changed


def _git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def test_git_source_clones_the_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "f").write_text("one\n")
    _git("add", "f", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    first = _git("rev-parse", "HEAD", cwd=repo)
    (repo / "f").write_text("two\n")
    _git("commit", "-qam", "two", cwd=repo)

    source = parse_source(f"{repo}@{first[:8]}")
    assert source.kind == "git"
    assert source_identity(source) == f"git:{repo}@{first[:8]}"
    root = materialize(source, tmp_path / "work")
    assert (root / "f").read_text() == "one\n"
    # A checkout used as a directory source is identified by its HEAD (and edits).
    assert (
        source_identity(Source("directory", str(repo)))
        == f"gitdir:{_git('rev-parse', 'HEAD', cwd=repo)}"
    )
    (repo / "f").write_text("edited\n")
    assert "+dirty." in source_identity(Source("directory", str(repo)))


def test_git_source_with_unknown_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "f").write_text("x\n")
    _git("add", "f", cwd=repo)
    _git("commit", "-qm", "x", cwd=repo)
    with pytest.raises(SourceError, match="has no revision deadbeef"):
        materialize(parse_source(f"{repo}@deadbeef"), tmp_path / "work")


# -- the build pipeline on a tiny stand-in source (seconds, not minutes) --------------------

FAKE_CMAKE = """cmake_minimum_required(VERSION 3.13)
project(fake_etiss C)
add_executable(bare_etiss_processor main.c)
install(TARGETS bare_etiss_processor DESTINATION bin)
install(FILES base.ini DESTINATION examples)
install(FILES list.txt DESTINATION lib/plugins)
"""


def fake_etiss_source(root: Path, cmake: str = FAKE_CMAKE) -> Path:
    """A source tree shaped like ETISS whose build installs the files ensure_etiss checks."""
    root.mkdir(parents=True)
    (root / "ArchImpl").mkdir()
    (root / "CMakeLists.txt").write_text(cmake)
    (root / "main.c").write_text("int main(void) { return 0; }\n")
    (root / "base.ini").write_text("[IntConfigurations]\n")
    (root / "list.txt").write_text("")
    return root


def test_build_pipeline_installs_into_the_cache(clean_env, tmp_path):
    config = etiss_config(source=fake_etiss_source(tmp_path / "src")).scoped("etiss")
    cache = Cache(tmp_path / "cache")
    lines: list[str] = []
    install = ensure_etiss(config, lines.append, cache=cache)
    assert install.prefix.parent == cache.root / "etiss"
    assert install.processor.is_file() and install.base_ini.is_file()
    assert (install.prefix / "build.log").is_file()
    assert "etiss: configuring" in lines and any(ln.startswith("etiss: building [") for ln in lines)
    # Only the install prefix (+ log, metadata and the cache's marker) is kept, no temp dirs
    # next to it.
    assert sorted(p.name for p in install.prefix.iterdir()) == [
        MARKER,
        "bin",
        "build.log",
        "examples",
        "lib",
        "mlonmcu-etiss.json",
    ]
    assert [p.name for p in (cache.root / "etiss").iterdir() if not p.name.endswith(".lock")] == [
        install.prefix.name
    ]
    start = time.monotonic()
    assert ensure_etiss(config, cache=cache).prefix == install.prefix
    assert time.monotonic() - start < 1.0
    # Another source (here: an edited one) is another entry.
    (tmp_path / "src" / "main.c").write_text("int main(void) { return 1; }\n")
    assert ensure_etiss(config, cache=cache).prefix != install.prefix


def test_concurrent_installs_build_once(clean_env, tmp_path):
    src = fake_etiss_source(tmp_path / "src")
    code = (
        "import sys; from pytest_mlonmcu.core.cache import Cache; "
        "from pytest_mlonmcu.core.config import RunConfig; "
        "from pytest_mlonmcu.install.etiss import ensure_etiss; "
        f"c = RunConfig({{'etiss.source': {str(src)!r}}}).scoped('etiss'); "
        f"i = ensure_etiss(c, lambda m: print(m, flush=True), cache=Cache({str(tmp_path / 'cache')!r})); "
        "print('PREFIX', i.prefix)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    prefixes = {ln for out in outs for ln in out.splitlines() if ln.startswith("PREFIX")}
    assert len(prefixes) == 1
    assert sum("etiss: configuring" in out for out in outs) == 1


def test_failed_build_reports_log_tail(clean_env, tmp_path):
    broken = FAKE_CMAKE + "this_is_not_a_cmake_command(\n"
    config = etiss_config(source=fake_etiss_source(tmp_path / "src", broken)).scoped("etiss")
    cache = Cache(tmp_path / "cache")
    with pytest.raises(MissingToolError) as info:
        ensure_etiss(config, cache=cache)
    message = str(info.value)
    assert "ETISS configuring failed" in message and "cmake -S" in message
    assert (cache.root / "etiss" / "last-failed-build.log").is_file()
    assert not [p for p in (cache.root / "etiss").iterdir() if p.is_dir()]


def test_missing_build_deps_are_named_and_never_apt_installed_in_pytest(clean_env, tmp_path):
    import pytest_mlonmcu.install.etiss as etiss_install

    clean_env.setattr(etiss_install, "missing_build_deps", lambda: ["libboost-system-dev"])
    config = etiss_config(source=fake_etiss_source(tmp_path / "src")).scoped("etiss")
    cache = Cache(tmp_path / "cache")
    with pytest.raises(MissingToolError, match="apt-get install libboost-system-dev"):
        ensure_etiss(config, cache=cache)
    with pytest.raises(MissingToolError, match="not installing them from inside pytest"):
        ensure_etiss(config, cache=cache, apt=True)
    reason = etiss_unavailable_reason(config, cache)
    assert reason and "libboost-system-dev" in reason
