"""Installing what the project builds itself from pinned sources (simulators, libraries).

Each component (etiss, tflm: the source tree, zephyr) has a module with an ``Installer``
subclass and an ``ensure_<name>()`` that returns a usable installation, producing it once per
machine into the per-user cache; ``python -m pytest_mlonmcu install <name>`` runs the same from
the command line. ``base`` holds what they share (the pin, where a source comes from, the plan,
the cached entry, producing it under the cache's lock); ``sources`` resolves tarballs,
directories and ``URL@COMMIT`` git sources for all of them.
"""

from __future__ import annotations

from .etiss import EtissInstall, ensure_etiss

__all__ = ["EtissInstall", "ensure_etiss"]
