"""``python -m pytest_mlonmcu check MODEL.tflite``: which backend can build a model, from
its metadata alone (each backend's ``unsupported``), without building or running anything.

The table has a row per operator kind and tensor types, in model order, and a column per
backend ("yes", or "no" when a gap names that row); each backend's gaps follow in full, as
its build stage would refuse the model. A backend that cannot be checked here (tflmi on a
compiled target without the TFLM source) gets "?" and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .core.cache import Cache
from .core.components import Backend, Target
from .core.config import RunConfig
from .core.errors import MlonmcuError, UsageError
from .models.metadata import read_metadata
from .models.support import Gap


def check_model(
    path: Path, backends: Sequence[type[Backend]], target_cls: type[Target], config: RunConfig
) -> tuple[list[str], list[str]]:
    """(the report's lines, the backends that can build the model on ``target_cls``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"check: cannot read {path}: {exc.strerror or exc}") from None
    metadata = read_metadata(data, origin=str(path))  # a ModelError names what is wrong
    cache = Cache()
    target = target_cls(config.scoped(target_cls.name), cache)
    usable = [b for b in backends if b.supports(target_cls)]
    gaps: dict[str, list[Gap] | None] = {}
    unknown: dict[str, str] = {}
    for cls in usable:
        backend = cls(config.scoped(cls.name), cache)
        try:
            gaps[cls.name] = backend.unsupported(metadata, target)
        except MlonmcuError as exc:  # e.g. no TFLM source to read the resolver from
            gaps[cls.name] = None
            unknown[cls.name] = str(exc).strip().splitlines()[0]

    rows: dict[tuple[str, str], list[int]] = {}
    for index, (name, types) in enumerate(zip(metadata.ops, metadata.op_types)):
        rows.setdefault((name.removeprefix("CUSTOM:"), str(types)), []).append(index)
    header = ["operator", "tensor types", "count", *gaps]
    table = []
    for (name, types), indices in rows.items():
        cells = [name, types, str(len(indices))]
        for backend_gaps in gaps.values():
            if backend_gaps is None:
                cells.append("?")
                continue
            refused = any(set(g.indices) & set(indices) for g in backend_gaps)
            cells.append("no" if refused else "yes")
        table.append(cells)
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = [
        f"{path}: {len(metadata.ops)} operators, {metadata.subgraphs} subgraph(s), "
        f"on target {target_cls.name}",
        "",
    ]
    for cells in [header, ["-" * w for w in widths], *table]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    lines.append("")
    able = []
    for name, backend_gaps in gaps.items():
        if backend_gaps is None:
            lines.append(f"{name}: not checked: {unknown[name]}")
        elif backend_gaps:
            lines.append(f"{name}: refuses: {'; '.join(map(str, backend_gaps))}")
        else:
            able.append(name)
    skipped = [b.name for b in backends if b not in usable]
    if skipped:
        lines.append(f"not for target {target_cls.name}: {', '.join(skipped)}")
    lines.append(f"can build it: {', '.join(able) or 'none of the backends'}")
    return lines, able
