"""Reference outputs from the TFLM interpreter (the oracle for int8 models).

Computed by the tflite-micro wheel in a subprocess and cached per (model, inputs,
wheel version): every backend and target of a model is compared with the same bytes.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from .backends.tflmi import runner as tflmi_runner
from .backends.tflmi.backend import TflmiBackend, exit_status, wheel_version
from .core import proc
from .core.cache import Cache, atomic_write_text, hash_key
from .core.config import RunConfig
from .core.errors import BuildError
from .core.protocol import parse_harness_output
from .core.samples import SampleSet
from .models.model import Model


def reference_outputs(
    model: Model, samples: SampleSet, cache: Cache, arena: int
) -> list[list[np.ndarray]]:
    digest = hashlib.sha256()
    for sample in samples.inputs:
        for arr in sample:
            digest.update(np.ascontiguousarray(arr).tobytes())
    runner = Path(tflmi_runner.__file__)  # our runner's code is an input too
    key = hash_key("reference", model.sha256, digest.hexdigest(), wheel_version(), runner)

    def produce(tmp: Path) -> None:
        samples.save(tmp / "inputs.npz")
        cmd = [
            sys.executable,
            "-m",
            tflmi_runner.PROGRAM,
            "run",
            str(model.path),
            str(arena),
            str(tmp / "inputs.npz"),
        ]
        result = proc.run(cmd, timeout=proc.limit("host"), what="reference: the TFLM interpreter")
        if result.returncode != 0:
            # TFLM's own lines (stdout: MicroPrintf) and Python's (stderr), not the outputs.
            said = [ln for ln in result.stdout.splitlines() if not ln.startswith("MLIF output")]
            text = "\n".join([*said, *result.stderr.strip().splitlines()])
            raise BuildError(
                f"reference: the TFLM interpreter failed on {model.path} "
                f"({exit_status(result)}):\n{text.strip()[-2000:]}"
            )
        atomic_write_text(tmp / "outputs.txt", result.stdout)

    entry = cache.get_or_create("reference", key, produce)
    report = parse_harness_output((entry / "outputs.txt").read_text())
    infos = model.metadata.outputs
    return [
        [
            np.frombuffer(raw, dtype=infos[i].dtype).reshape(infos[i].shape)
            for i, raw in enumerate(per_sample)
        ]
        for per_sample in report.output_list()
    ]


def reference_arena(model: Model, cache: Cache) -> int:
    """The arena of the reference interpreter; its failures (e.g. an operator the wheel
    lacks) say that they are the reference's."""
    try:
        return TflmiBackend(RunConfig().scoped("tflmi"), cache).arena_size(model)
    except BuildError as exc:
        exc.args = (f"reference: {exc}", *exc.args[1:])
        raise
