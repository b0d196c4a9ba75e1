"""Installing what the project builds itself from pinned sources (simulators, libraries).

Each component has a module with an ``ensure_<name>()`` that returns a usable installation,
building it once per machine into the per-user cache; ``python -m pytest_mlonmcu install
<name>`` runs the same from the command line. ``sources`` resolves tarballs, directories and
``URL@COMMIT`` git sources for all of them.
"""

from __future__ import annotations

from .etiss import EtissInstall, ensure_etiss

__all__ = ["EtissInstall", "ensure_etiss"]
