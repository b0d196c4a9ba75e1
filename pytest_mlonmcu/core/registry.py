"""Registries of backends and targets.

Built-in components register themselves here; other packages (or a conftest) add
theirs through the ``pytest_mlonmcu_register`` hook (see hookspec.py). A registry
maps a name to a class; an unknown name is a usage error listing the known ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[T]] = {}

    def register(self, cls: type[T], *, replace: bool = False) -> type[T]:
        name = cls.name  # type: ignore[attr-defined]
        if name in self._items and self._items[name] is not cls and not replace:
            raise UsageError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = cls
        return cls

    def get(self, name: str) -> type[T]:
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[type[T]]:
        return iter(self._items[n] for n in self.names())
