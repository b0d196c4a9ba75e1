"""What flows between the stages: backend artifact -> program -> run output.

Data flows one way: a backend turns a model into an ``Artifact`` (C/C++ sources or a
host runner), a target turns an artifact into a ``Program`` (a binary), running the
program gives a ``RunOutput`` (outputs per sample and raw metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Artifact:
    """A backend's product for one model."""

    backend: str
    directory: Path
    # "c_sources": compiled for a target with the harness (every compiled backend);
    # "host_runner": run by the host in Python (tflmi through the tflite-micro wheel).
    kind: str = "c_sources"
    sources: list[Path] = field(default_factory=list)
    include_dirs: list[Path] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    libraries: list[Path] = field(default_factory=list)
    extra_cflags: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    # Feature profile: the code brackets each operator with cgen_profile_op(index, 0/1); the
    # harness then provides it and reports each operator's instructions.
    profiled: bool = False
    # ... and what each bracket is when it is not the model's operator of that index (TVM's
    # fused kernels): {"operator", "output_shape", "macs"} per bracket index.
    operators: list[dict[str, Any]] = field(default_factory=list)
    # For kind == "host_runner": the model file and backend settings the runner needs.
    runner: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_cxx(self) -> bool:
        return any(s.suffix in (".cc", ".cpp", ".cxx") for s in self.sources)


@dataclass
class Program:
    """A target's product: something that can be run."""

    target: str
    path: Path
    work_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    commands: list[list[str]] = field(default_factory=list)
    symbols: dict[str, int] = field(default_factory=dict)
    artifact: Artifact | None = None


@dataclass
class RunOutput:
    """What one run of a program produced."""

    outputs: list[list[bytes]]  # per sample, per output index: raw tensor bytes
    metrics: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)
    # Feature profile: {operator index: instructions in its bracket} of the first invoke,
    # and an empty bracket's instructions (the cost of the bracket itself).
    op_counts: dict[int, int] = field(default_factory=dict)
    op_bracket: int | None = None
