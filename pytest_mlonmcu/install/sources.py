"""Source snapshots the project builds itself (ETISS, TFLM, Zephyr).

A source is named by one string, in one of three forms:

* a tarball (``.tar.xz``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar``): identity = sha256 of the
  file. ``PATH#sha256=<64 hex>`` pins the expected digest (a mismatch is an error naming both);
  without it a tarball the user names is used as it is (its digest still keys the cache). The
  vendored snapshots an installer falls back to are always checked against the digest pinned in
  the installer (``local_source(..., vendor_sha256=...)``);
* an existing source directory: identity = its git HEAD plus a digest of uncommitted changes if it
  is a git checkout, otherwise a digest of every file's relative path, size and mtime (build trees,
  recognised by a ``CMakeCache.txt``, and ``.git`` are skipped);
* a git URL with a revision, ``URL@REV``: cloned with submodules; identity = the URL plus the
  commit REV names. A commit (7 to 40 hex digits) is taken as written; a branch or tag is resolved
  with ``git ls-remote`` (once per process) and that commit, not the name, is keyed and checked
  out, so a branch that moves gets a new cache entry. (A branch or tag whose name looks like hex
  is taken for a commit.)

``source_identity`` is cheap (no unpacking; network only to resolve a branch or tag name), so a
caller can look its build up in the cache before materialising anything; ``materialize`` produces
the unpacked tree.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core import proc
from ..core.config import ComponentConfig
from ..core.errors import MissingToolError

Progress = Callable[[str], None]
TARBALL_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar")
_GIT_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_DIGEST_SUFFIX = re.compile(r"#sha256=([0-9a-fA-F]{64})$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
# Asking a code host which commit a branch or tag names: seconds normally.
LS_REMOTE_TIMEOUT = 60.0


class SourceError(MissingToolError):
    """A source could not be found, read, unpacked or cloned."""


@dataclass(frozen=True)
class Source:
    kind: Literal["tarball", "directory", "git"]
    location: str  # file path, directory path or git URL
    revision: str = ""  # git only
    sha256: str = ""  # tarball only: the expected digest ("" = not pinned)

    def __str__(self) -> str:
        return f"{self.location}@{self.revision}" if self.kind == "git" else self.location


def parse_source(text: str) -> Source:
    """Classify ``text`` as a tarball path (``#sha256=`` optional), a directory or ``URL@REV``."""
    text = text.strip()
    pinned = _DIGEST_SUFFIX.search(text)
    if pinned:
        source = parse_source(text[: pinned.start()])
        if source.kind != "tarball":
            raise SourceError(f"source {text!r}: only a tarball can carry #sha256=")
        return Source("tarball", source.location, sha256=pinned.group(1).lower())
    path = Path(text).expanduser()
    if not _GIT_URL.match(text) and path.exists():
        if path.is_dir():
            return Source("directory", str(path.resolve()))
        if path.name.endswith(TARBALL_SUFFIXES) and path.is_file():
            return Source("tarball", str(path.resolve()))
        raise SourceError(
            f"source {text!r} is neither a directory nor a tarball ({', '.join(TARBALL_SUFFIXES)})"
        )
    url, sep, rev = text.rpartition("@")
    # "git@host:x" has an '@' before the path: only a trailing "@REV" without '/' or ':' is one.
    is_git = _GIT_URL.match(text) or (sep and Path(url).expanduser().is_dir())
    if is_git:
        if not sep or not url or "/" in rev or ":" in rev:
            raise SourceError(
                f"git source {text!r} has no revision: write URL@COMMIT "
                "(e.g. https://github.com/tum-ei-eda/etiss@b52f8a04)"
            )
        return Source("git", url, rev)
    if path.name.endswith(TARBALL_SUFFIXES):
        raise SourceError(f"source tarball {path} does not exist")
    raise SourceError(
        f"source {text!r} does not exist (expected a directory, a tarball or URL@COMMIT)"
    )


# -- identity --------------------------------------------------------------------------------


VENDOR_DIR_ENV = "MLONMCU_VENDOR_DIR"


def local_source(
    config: ComponentConfig, env_source: str, vendor_tarball: str, vendor_sha256: str = ""
) -> tuple[Source | None, str]:
    """The source a user named (``<component>.source`` / ``env_source``), else the vendored
    tarball in ``$MLONMCU_VENDOR_DIR``; ``(None, "")`` when neither: fetch upstream.

    The vendored tarball must have the digest ``vendor_sha256`` (pinned by the installer); a user's
    own source is used as named (with ``#sha256=`` it is checked too).
    """
    text, origin = config.setting("source", env_source)
    if text:
        return parse_source(text), f"{origin}={text}"
    vendor = os.environ.get(VENDOR_DIR_ENV)
    tarball = Path(vendor).expanduser() / vendor_tarball if vendor else None
    if tarball is not None and tarball.is_file():
        source = Source("tarball", str(tarball.resolve()), sha256=vendor_sha256)
        verify_tarball(
            source,
            hint=f"it is not the pinned snapshot: restore the original, or name this file in "
            f"{config.component}.source or ${env_source} to build it anyway",
        )
        return source, f"${VENDOR_DIR_ENV}/{vendor_tarball}"
    return None, ""


def verify_tarball(source: Source, hint: str = "") -> str:
    """The tarball's sha256; a SourceError naming file and both digests if it is not the pinned one."""
    actual = _sha256_file(Path(source.location))
    if source.sha256 and actual != source.sha256:
        raise SourceError(
            f"{source.location}: sha256 {actual} differs from the expected {source.sha256}"
            + (f"; {hint}" if hint else "")
        )
    return actual


def source_identity(source: Source) -> str:
    """A string that changes whenever the source's content may have changed."""
    if source.kind == "tarball":
        return "sha256:" + verify_tarball(source)
    if source.kind == "git":
        return f"git:{source.location}@{resolve_revision(source)}"
    return _directory_identity(Path(source.location))


def resolve_revision(source: Source) -> str:
    """The commit a git source names: a commit as written (lower-cased), a branch or tag
    resolved with ``git ls-remote`` (once per process, so one session builds one commit)."""
    revision = source.revision.lower()
    if _COMMIT.match(revision):
        return revision
    return _resolve_ref(source.location, source.revision)


@functools.cache
def _resolve_ref(url: str, ref: str) -> str:
    offline = "name a commit (URL@<40 hex digits>) to build without asking the code host"
    if shutil.which("git") is None:
        raise SourceError(f"resolving {ref} of {url} needs git (apt-get install git); or {offline}")
    try:
        result = proc.run(
            ["git", "ls-remote", url, ref, f"{ref}^{{}}"],
            timeout=LS_REMOTE_TIMEOUT,
            what="git ls-remote",
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except proc.ChildTimeout:
        raise SourceError(
            f"cannot resolve {ref} of {url}: git ls-remote gave no answer in "
            f"{LS_REMOTE_TIMEOUT:g} s; {offline}"
        ) from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise SourceError(
            f"cannot resolve {ref} of {url}: {lines[0] if lines else f'exit {result.returncode}'}; "
            + offline
        )
    refs = {}
    for line in result.stdout.splitlines():
        commit, _, name = line.partition("\t")
        refs[name] = commit
    # git's own order: a tag (its commit, not the tag object) before a branch of the same name.
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", ref):
        if name in refs:
            return refs[name].lower()
    raise SourceError(f"{url} has no branch or tag {ref!r} (name a commit, branch or tag)")


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _sha256_file(path: Path) -> str:
    # Asked for on every availability check and run: hash each file version once per process.
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _sha256_uncached(path)
    return _DIGESTS[key]


def _sha256_uncached(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _directory_identity(path: Path) -> str:
    head = run_git(["rev-parse", "HEAD"], path, check=False) if (path / ".git").exists() else None
    if head:
        # Uncommitted edits (tracked files, submodule states) change the identity too.
        dirty = run_git(["status", "--porcelain", "--untracked-files=no"], path, check=False) or ""
        if not dirty.strip():
            return f"gitdir:{head.strip()}"
        diff = run_git(["diff", "HEAD"], path, check=False) or ""
        return f"gitdir:{head.strip()}+dirty.{hashlib.sha256((dirty + diff).encode()).hexdigest()[:16]}"
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        # Skip VCS data and build trees inside the source (their churn is not the source's).
        dirs[:] = sorted(
            d for d in dirs if d != ".git" and not (Path(root, d, "CMakeCache.txt")).exists()
        )
        for name in sorted(files):
            st = Path(root, name).lstat()
            rel = os.path.relpath(os.path.join(root, name), path)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "tree:" + h.hexdigest()


# -- materialising ---------------------------------------------------------------------------


def materialize(
    source: Source,
    work_dir: Path,
    *,
    top_dir: str | None = None,
    submodules: Sequence[str] | None = None,
    submodule_fallbacks: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Make ``source`` available as a directory and return it.

    A directory source is returned as is (builds must stay out of it); a tarball is unpacked
    into ``work_dir``; a git source is cloned into ``work_dir``. ``top_dir`` names the folder
    inside a tarball that holds the tree (default: its only top-level folder). For git,
    ``submodules`` limits which submodule paths are initialised (None: all, recursively) and
    ``submodule_fallbacks`` maps a submodule path to a commit used when the pinned one cannot be
    fetched (e.g. a mirror that lost it).
    """
    say = progress or (lambda _msg: None)
    if source.kind == "directory":
        return Path(source.location)
    work_dir.mkdir(parents=True, exist_ok=True)
    if source.kind == "tarball":
        verify_tarball(source)  # the file may have changed since its identity was taken
        say(f"unpacking {source.location}")
        return _unpack(Path(source.location), work_dir, top_dir)
    say(f"cloning {source.location} at {source.revision}")
    return _clone(source, work_dir / "src", submodules, submodule_fallbacks or {}, say)


def _unpack(tarball: Path, dest: Path, top_dir: str | None) -> Path:
    try:
        with tarfile.open(tarball) as tf:
            tops = {m.name.split("/", 1)[0] for m in tf.getmembers() if m.name not in ("", ".")}
            tf.extractall(dest, filter="data")  # refuses absolute paths and links out of dest
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SourceError(f"cannot unpack {tarball}: {exc}") from exc
    if top_dir is None:
        top_dir = next(iter(tops)) if len(tops) == 1 else ""
    root = dest / top_dir if top_dir else dest
    if not root.is_dir():
        raise SourceError(f"{tarball} does not contain a folder {top_dir!r} (found {sorted(tops)})")
    return root


def _clone(
    source: Source,
    dest: Path,
    submodules: Sequence[str] | None,
    fallbacks: Mapping[str, str],
    say: Progress,
) -> Path:
    if shutil.which("git") is None:
        raise SourceError(
            f"cloning {source.location} needs git (apt-get install git)",
            hint="or name a local source (tarball or directory) instead",
        )
    try:
        run_git(["clone", "--no-checkout", "--quiet", source.location, str(dest)], None)
    except subprocess.CalledProcessError as exc:
        raise SourceError(
            f"cannot clone {source.location}: {_err(exc)}\n"
            "This machine may not reach the code host: use a local tarball or checkout instead."
        ) from exc
    # The commit the identity was keyed by, not the branch name (it may have moved since).
    commit = resolve_revision(source)
    try:
        run_git(["checkout", "--quiet", "--detach", commit], dest)
    except subprocess.CalledProcessError as exc:
        raise SourceError(
            f"{source.location} has no revision {source.revision}: {_err(exc)}"
        ) from exc
    paths = list(submodules) if submodules is not None else None
    plain = [p for p in paths if p not in fallbacks] if paths is not None else None
    if plain is None or plain:
        say("fetching submodules")
        args = ["submodule", "update", "--init", "--recursive"]
        if plain is not None:
            args += ["--", *plain]
        if plain is None and fallbacks:
            # Everything but the fallback paths: those are handled one by one below.
            listed = (
                run_git(["config", "-f", ".gitmodules", "--get-regexp", r"\.path$"], dest) or ""
            )
            all_paths = [line.split(" ", 1)[1] for line in listed.splitlines() if " " in line]
            args += ["--", *[p for p in all_paths if p not in fallbacks]]
        try:
            run_git(args, dest)
        except subprocess.CalledProcessError as exc:
            raise SourceError(
                f"cannot fetch the submodules of {source.location}: {_err(exc)}"
            ) from exc
    for path, commit in fallbacks.items():
        if paths is not None and path not in paths:
            continue
        _submodule_with_fallback(dest, path, commit, say)
    return dest


def _submodule_with_fallback(repo: Path, path: str, commit: str, say: Progress) -> None:
    try:
        run_git(["submodule", "update", "--init", "--recursive", "--", path], repo)
        return
    except subprocess.CalledProcessError:
        say(f"{path}: pinned commit not fetchable, using {commit}")
    sub = repo / path
    if not (sub / ".git").exists():
        name = run_git(["config", "-f", ".gitmodules", "--get-regexp", r"\.path$"], repo) or ""
        key = next((ln.split(" ")[0] for ln in name.splitlines() if ln.endswith(" " + path)), "")
        url = run_git(["config", "-f", ".gitmodules", "--get", key[: -len(".path")] + ".url"], repo)
        if sub.exists():
            shutil.rmtree(sub)
        try:
            run_git(["clone", "--quiet", "--no-checkout", (url or "").strip(), str(sub)], None)
        except subprocess.CalledProcessError as exc:
            raise SourceError(f"cannot clone submodule {path}: {_err(exc)}") from exc
    try:
        run_git(["checkout", "--quiet", "--detach", commit], sub)
        run_git(["submodule", "update", "--init", "--recursive"], sub)
    except subprocess.CalledProcessError as exc:
        raise SourceError(f"submodule {path}: cannot check out {commit}: {_err(exc)}") from exc


def run_git(args: list[str], cwd: Path | None, check: bool = True) -> str | None:
    """git's stdout; a failure raises CalledProcessError (``check=False``: returns None).

    Never asks for credentials: a repository that wants them fails instead."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # fail instead of asking for credentials
    try:
        result = proc.run(
            ["git", *args], timeout=proc.limit("fetch"), what=f"git {args[0]}", cwd=cwd, env=env
        )
    except FileNotFoundError:
        if check:
            raise
        return None
    except proc.ChildTimeout as exc:
        raise SourceError(str(exc)) from None
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, result.stdout, result.stderr
        )
    return result.stdout if result.returncode == 0 else None


def _err(exc: subprocess.CalledProcessError) -> str:
    text = (exc.stderr or exc.stdout or "").strip()
    return text.splitlines()[-1] if text else f"git exited with {exc.returncode}"
