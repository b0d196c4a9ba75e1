"""What every installer shares: a pinned component found, or produced once per machine.

An installer looks for its component in this order, first match wins:

1. an existing installation the user named (``etiss.install_dir``, ``zephyr.base``; a hook);
2. a source the user named: config ``<component>.source`` or the component's environment variable
   (tarball, directory or ``URL@COMMIT``, see ``sources``);
3. the vendored snapshot ``$MLONMCU_VENDOR_DIR/<pin.vendor_tarball>``, checked against the pinned
   sha256;
4. upstream at the pinned revision.

``plan()`` says which one it would use and under which cache key without unpacking or building
anything; ``cached()`` is the installation if the cache already holds it; ``ensure()`` produces
it under the cache's lock (parallel sessions and xdist workers produce it once, the others wait
and reuse it); ``unavailable_reason()`` is a skip reason when it can neither be used nor produced
here. A subclass says how to key a source (``key``), how to produce a cache entry from it
(``produce``) and what an entry holds (``at_entry``).
"""

from __future__ import annotations

import functools
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

from ..core import proc
from ..core.cache import Cache
from ..core.config import ComponentConfig, RunConfig
from ..core.errors import MissingToolError
from .sources import Progress, Source, local_source

T = TypeVar("T")

# Asking a code host whether a repository answers: seconds normally.
REACHABLE_TIMEOUT = 20

# Failed productions per cache key in this process: one failure is reported, not retried per test.
_FAILED: dict[str, MissingToolError] = {}


class InstallError(MissingToolError):
    """A component could not be found, fetched or built; ``component`` names it ("etiss")."""

    component: str = ""

    def __init__(self, message: str, *, hint: str = "", component: str = "") -> None:
        super().__init__(message, hint=hint)
        if component:
            self.component = component


@dataclass(frozen=True)
class Pin:
    """What an installer uses when the user names nothing: its vendored snapshot, else upstream."""

    upstream: str  # git URL
    revision: str  # the commit (full or abbreviated) or tag upstream is taken at
    vendor_tarball: str  # file name in $MLONMCU_VENDOR_DIR
    vendor_sha256: str  # the snapshot's digest: any other file is refused

    def upstream_source(self) -> Source:
        return Source("git", self.upstream, self.revision)


@dataclass(frozen=True)
class Plan(Generic[T]):
    """What ``ensure()`` would use: ``installed`` as it is, else a cache entry ``key`` produced
    from ``source`` (``source`` None: the subclass's own upstream procedure)."""

    installed: T | None = None
    source: Source | None = None
    origin: str = ""  # where it comes from, for messages: "etiss.source=...", "upstream"
    key: str = ""


class Installer(ABC, Generic[T]):
    """One component: where it comes from, its cache entry, and producing that entry once."""

    name: ClassVar[str]  # the config scope and the progress lines' prefix: "etiss"
    kind: ClassVar[str]  # the cache kind of its entries: "etiss", "tflm-src"
    title: ClassVar[str]  # in skip reasons: "ETISS"
    pin: ClassVar[Pin]
    source_env: ClassVar[str]  # environment variable naming a source: "MLONMCU_ETISS_SOURCE"
    producing: ClassVar[str]  # what ensure() announces it is doing: "building"
    attempt: ClassVar[str] = "build"  # in "an earlier build in this session failed"
    # What to set instead of fetching upstream: "set $MLONMCU_VENDOR_DIR to a directory ..."
    offline_advice: ClassVar[str]

    def __init__(self, config: ComponentConfig | None = None, cache: Cache | None = None) -> None:
        self.config = config if config is not None else RunConfig().scoped(self.name)
        self.cache = cache or Cache()

    # -- what would be used ------------------------------------------------------------------
    def plan(self) -> Plan[T]:
        """What ``ensure()`` would use and why (cheap: nothing is unpacked or built)."""
        named = self.named_installation()
        if named is not None:
            return named
        source, origin = self.local_source()
        if source is None:
            return self.upstream_plan()
        return self.source_plan(source, origin)

    def named_installation(self) -> Plan[T] | None:
        """An existing installation the user named (checked), or None."""
        return None

    def local_source(self) -> tuple[Source | None, str]:
        """The source the user named, else the vendored snapshot; ``(None, "")``: upstream."""
        pin = self.pin
        return local_source(self.config, self.source_env, pin.vendor_tarball, pin.vendor_sha256)

    def upstream_plan(self) -> Plan[T]:
        return self.source_plan(self.pin.upstream_source(), "upstream")

    def source_plan(self, source: Source, origin: str) -> Plan[T]:
        return Plan(source=source, origin=origin, key=self.key(source))

    @abstractmethod
    def key(self, source: Source) -> str:
        """The cache key of what ``source`` produces (changing it rebuilds for every user)."""

    # -- the cache entry ---------------------------------------------------------------------
    @abstractmethod
    def at_entry(self, entry: Path, plan: Plan[T]) -> T:
        """The installation held by the completed cache entry ``entry``."""

    @abstractmethod
    def produce(self, plan: Plan[T], dest: Path, say: Progress) -> None:
        """Fill the empty directory ``dest``; it becomes the entry when this returns."""

    def require_build_tools(self, say: Progress) -> None:
        """Raise if this machine lacks what ``produce`` needs (called before taking the lock)."""

    def cached(self) -> T | None:
        """The installation ``ensure()`` would return, if it needs no producing (else None)."""
        plan = self.plan()
        if plan.installed is not None:
            return plan.installed
        entry = self.cache.lookup(self.kind, plan.key)
        return self.at_entry(entry, plan) if entry is not None else None

    def ensure(self, progress: Progress | None = None) -> T:
        """A usable installation, produced into the cache on first use.

        ``progress`` receives stage lines ("etiss: configuring", "etiss: building [42%]"...).
        """
        say = progress or (lambda _msg: None)
        plan = self.plan()
        if plan.installed is not None:
            return plan.installed
        entry = self.cache.lookup(self.kind, plan.key)
        if entry is not None:
            return self.at_entry(entry, plan)
        if plan.key in _FAILED:
            raise _FAILED[plan.key]
        self.require_build_tools(say)
        say(
            f"{self.name}: {self.producing} from {plan.origin} into "
            f"{self.cache.path(self.kind, plan.key)} (once; other processes wait)"
        )
        try:
            entry = self.cache.get_or_create(
                self.kind, plan.key, lambda tmp: self.produce(plan, tmp, say)
            )
        except MissingToolError as exc:
            _FAILED[plan.key] = exc
            raise
        return self.at_entry(entry, plan)

    # -- availability --------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """Why the component can neither be used nor produced here (a skip reason), or None.

        Cheap: never produces anything; for an upstream source it asks the code host whether
        the repository answers (once per process).
        """
        try:
            plan = self.plan()
        except MissingToolError as exc:
            return f"{self.title}: {exc}"
        if plan.installed is not None or self.cache.lookup(self.kind, plan.key) is not None:
            return None
        if plan.key in _FAILED:
            return f"{self.title}: an earlier {self.attempt} in this session failed: {_FAILED[plan.key]}"
        return self.blocker(plan)

    def blocker(self, plan: Plan[T]) -> str | None:
        """Why ``plan`` cannot be produced here (missing tools, unreachable host), or None."""
        if plan.source is not None and plan.source.kind == "git":
            return self.unreachable_reason(plan.source.location)
        return None

    def unreachable_reason(self, url: str) -> str | None:
        """A skip reason if ``url`` does not answer, saying what to use instead."""
        if reachable(url):
            return None
        return f"{self.title} is not installed and {url} cannot be reached: {self.offline_advice}"


@functools.cache
def reachable(url: str) -> bool:
    """Whether the git repository ``url`` answers (asked once per process)."""
    if shutil.which("git") is None:
        return False
    try:
        result = proc.run(
            ["git", "ls-remote", "--exit-code", url, "HEAD"],
            timeout=REACHABLE_TIMEOUT,
            what="git ls-remote",
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, proc.ChildTimeout):
        return False
    return result.returncode == 0
