"""Feature ``autotune``: a Tune stage that searches schedule parameters, measured on the
run's own target (exact instruction counts), with the result cached by content hash.

The search space is the ``inline`` schedule's unroll factor of the innermost reduction
loop (schedules.py): candidates in ``CANDIDATES`` order, the first ``<backend>.tune_trials``
of them (default all). Each candidate is built (through the build cache), compiled for
the target and run once on a sample; the one with the fewest invoke instructions wins
(ties: the smaller ROM). The log (``tune_log.json``: every candidate's figures) is kept
in the cache entry and copied to the run's ``tune/`` directory.

Why not MetaSchedule: in the apache-tvm 0.27.0.post1 wheel, ``tvm.s_tir.meta_schedule``
crashes the process (segfault) when a TuneContext with the LLVM schedule rules starts
tuning (``pre_tuning`` of both search strategies, and the MutateComputeLocation /
MutateParallel mutators at initialisation), even for a plain float matmul. Measuring on
the target is also the faithful choice for a device: host timings of x86 code rank
schedules by x86 cost.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.cache import atomic_write_text, hash_key
from ...core.errors import MlonmcuError
from ...core.samples import SampleSet
from ...platforms.mlif.target import CompiledTarget
from . import source_digest, tvm_version

if TYPE_CHECKING:
    from ...core.components import Target
    from ...models.model import Model
    from .backend import TvmAotBase
    from .options import TvmOptions

CANDIDATES = (8, 4, 16, 2, 1)  # unroll factors, most promising first
TUNE_FORMAT = 1


def measure(
    backend: TvmAotBase, model: Model, target: Target, opts: TvmOptions, work_dir: Path
) -> dict:
    """Build, compile and run one candidate; its figures (or the error)."""
    samples = SampleSet(model.sample_inputs(1, seed=0))
    for sub in ("build", "compile", "run"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    try:
        artifact = backend.build_with(opts, model, work_dir / "build")
        program = target.compile(artifact, samples, work_dir / "compile")
        output = target.run(program, work_dir / "run")
    except MlonmcuError as exc:
        return {"error": str(exc).splitlines()[0][:300]}
    return {
        "invoke_instructions": output.metrics.get("invoke_instructions"),
        "rom_bytes": program.metrics.get("rom_bytes"),
        "ram_bytes": program.metrics.get("ram_bytes"),
    }


def _score(figures: dict) -> tuple[float, float]:
    if figures.get("invoke_instructions") is None:
        return (float("inf"), float("inf"))
    return (figures["invoke_instructions"], figures.get("rom_bytes") or 0)


def tune_cached(backend: TvmAotBase, model: Model, target: Target, work_dir: Path) -> int:
    """The best unroll factor for ``model`` on ``target`` (cached); the log goes to work_dir."""
    trials = backend.config.get_int("tune_trials", len(CANDIDATES), minimum=1)
    candidates = list(CANDIDATES[: max(1, trials)])
    base = backend.options()
    key = hash_key(
        "tvm-tune",
        TUNE_FORMAT,
        model.sha256,
        {**base.as_dict(), "unroll": None},
        target.build_identity() if isinstance(target, CompiledTarget) else target.identity(),
        target.config.get("optimize", "2"),
        candidates,
        tvm_version(),
        source_digest(),
    )

    def produce(tmp: Path) -> None:
        log = []
        for factor in candidates:
            opts = dataclasses.replace(base, unroll=factor)
            figures = measure(backend, model, target, opts, tmp / f"unroll{factor}")
            log.append({"unroll": factor, **figures})
        best = min(log, key=_score)
        if _score(best)[0] == float("inf"):
            raise MlonmcuError(f"{backend.name}: autotune: no candidate ran: {log}")
        result = {"best": {"unroll": best["unroll"]}, "candidates": log, "target": target.name}
        atomic_write_text(tmp / "tune_log.json", json.dumps(result, indent=2))
        for sub in tmp.iterdir():  # keep the log only: the builds are in the build cache
            if sub.is_dir():
                shutil.rmtree(sub)

    entry = backend.cache.get_or_create("tvm-tune", key, produce)
    work_dir.mkdir(parents=True, exist_ok=True)
    text = (entry / "tune_log.json").read_text()
    atomic_write_text(work_dir / "tune_log.json", text)
    return int(json.loads(text)["best"]["unroll"])
