"""Source pins: branches resolve to commits, tarballs are checked against their digests."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from pytest_mlonmcu.core.config import RunConfig
from pytest_mlonmcu.install import etiss, sources, tflm, zephyr
from pytest_mlonmcu.install.sources import (
    SourceError,
    local_source,
    materialize,
    parse_source,
    resolve_revision,
    source_identity,
)

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="needs git",
)


def _git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    proc = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env, timeout=60
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git("init", "-q", "-b", "main", cwd=path)
    (path / "f").write_text("one\n")
    _git("add", "f", cwd=path)
    _git("commit", "-qm", "one", cwd=path)
    _git("tag", "-a", "v1", "-m", "release 1", cwd=path)
    return path


@pytest.fixture(autouse=True)
def fresh_resolution():
    sources._resolve_ref.cache_clear()  # what a new process would see
    yield
    sources._resolve_ref.cache_clear()


def test_a_branch_is_keyed_by_its_commit_and_a_moved_branch_gets_a_new_id(repo, tmp_path):
    source = parse_source(f"{repo}@main")
    first = _git("rev-parse", "HEAD", cwd=repo)
    assert source_identity(source) == f"git:{repo}@{first}"

    (repo / "f").write_text("two\n")
    _git("commit", "-qam", "two", cwd=repo)
    # This process keeps the commit it keyed: what it builds matches its cache key.
    assert source_identity(source) == f"git:{repo}@{first}"
    assert (materialize(source, tmp_path / "w1") / "f").read_text() == "one\n"

    sources._resolve_ref.cache_clear()  # the next session
    second = _git("rev-parse", "HEAD", cwd=repo)
    assert source_identity(source) == f"git:{repo}@{second}" != f"git:{repo}@{first}"
    assert (materialize(source, tmp_path / "w2") / "f").read_text() == "two\n"


def test_an_annotated_tag_resolves_to_its_commit(repo):
    commit = _git("rev-parse", "v1^{commit}", cwd=repo)
    assert commit != _git("rev-parse", "v1", cwd=repo)  # the tag object
    assert resolve_revision(parse_source(f"{repo}@v1")) == commit


def test_a_commit_is_taken_as_written(repo):
    commit = _git("rev-parse", "HEAD", cwd=repo)
    assert resolve_revision(parse_source(f"{repo}@{commit.upper()}")) == commit
    assert resolve_revision(parse_source(f"{repo}@{commit[:8]}")) == commit[:8]


def test_unknown_branch_and_unreachable_host_are_clear_errors(repo, tmp_path):
    with pytest.raises(SourceError, match="has no branch or tag 'nope'"):
        source_identity(parse_source(f"{repo}@nope"))
    with pytest.raises(SourceError) as err:
        source_identity(parse_source(f"file://{tmp_path}/gone@main"))
    assert "cannot resolve main of file://" in str(err.value)
    assert "name a commit" in str(err.value)


# -- tarballs ---------------------------------------------------------------------------------


def _tarball(path: Path) -> str:
    tree = path.parent / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "a.txt").write_text("a\n")
    with tarfile.open(path, "w:gz") as tf:
        tf.add(tree / "pkg", arcname="pkg")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_vendored_tarball_must_match_the_pinned_digest(tmp_path, monkeypatch):
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    digest = _tarball(vendor / "thing-src.tar.gz")
    monkeypatch.setenv(sources.VENDOR_DIR_ENV, str(vendor))
    monkeypatch.delenv("THING_SOURCE", raising=False)
    config = RunConfig().scoped("thing")

    source, origin = local_source(config, "THING_SOURCE", "thing-src.tar.gz", digest)
    assert source is not None and source.sha256 == digest
    assert origin == f"${sources.VENDOR_DIR_ENV}/thing-src.tar.gz"

    wrong = "0" * 64
    with pytest.raises(SourceError) as err:
        local_source(config, "THING_SOURCE", "thing-src.tar.gz", wrong)
    message = str(err.value)
    assert str(vendor / "thing-src.tar.gz") in message
    assert f"sha256 {digest} differs from the expected {wrong}" in message
    assert "thing.source or $THING_SOURCE" in message  # how to use it anyway


def test_user_tarball_digest_is_optional_and_checked_when_given(tmp_path):
    tarball = tmp_path / "x.tar.gz"
    digest = _tarball(tarball)
    assert source_identity(parse_source(str(tarball))) == f"sha256:{digest}"
    pinned = parse_source(f"{tarball}#sha256={digest.upper()}")
    assert pinned.sha256 == digest and source_identity(pinned) == f"sha256:{digest}"
    assert (materialize(pinned, tmp_path / "w") / "a.txt").read_text() == "a\n"

    other = "f" * 64
    with pytest.raises(SourceError, match=f"differs from the expected {other}"):
        source_identity(parse_source(f"{tarball}#sha256={other}"))
    with pytest.raises(SourceError, match="only a tarball"):
        parse_source(f"{tmp_path}#sha256={digest}")


# -- the built-in pins ------------------------------------------------------------------------

VENDOR = Path(os.environ.get(sources.VENDOR_DIR_ENV, "/nonexistent"))


@pytest.mark.parametrize("installer", [etiss, tflm, zephyr], ids=lambda m: m.__name__)
def test_vendored_snapshots_match_their_pinned_digests(installer):
    tarball = VENDOR / installer.PIN.vendor_tarball
    if not tarball.is_file():
        pytest.skip(f"no {tarball}")
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == installer.PIN.vendor_sha256


def test_pinned_revisions_are_commits():
    for dep in tflm.THIRD_PARTY:
        assert re.fullmatch(r"[0-9a-f]{40}", dep.revision), dep
    # Only abbreviated commits of ETISS and TFLM are known here (see the installers).
    for pin in (etiss.PIN.revision, tflm.PIN.revision, *etiss.SUBMODULE_FALLBACKS.values()):
        assert re.fullmatch(r"[0-9a-f]{8,40}", pin)


def test_tarball_members_outside_the_destination_are_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    payload = tmp_path / "payload.txt"
    payload.write_text("x\n")
    with tarfile.open(evil, "w") as tf:
        tf.add(payload, arcname="pkg/ok.txt")
        tf.add(payload, arcname="pkg/../../escaped.txt")
    with pytest.raises(SourceError, match=f"cannot unpack {re.escape(str(evil))}"):
        materialize(parse_source(str(evil)), tmp_path / "work" / "deep")
    assert not (tmp_path / "work" / "escaped.txt").exists()


def test_required_python_has_tarfile_extraction_filters():
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    spec = tomllib.loads(pyproject.read_text())["project"]["requires-python"]
    minimum = tuple(int(p) for p in re.fullmatch(r">=\s*([\d.]+)", spec).group(1).split("."))
    # extractall(filter=...) exists from 3.11.4 on (3.12+ always has it).
    assert minimum >= (3, 11, 4)
