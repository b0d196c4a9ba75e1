"""The stage pipeline of one run: Load -> Tune -> Build -> Compile -> Run -> Postprocess."""

from __future__ import annotations

import enum

from .errors import UsageError


class Stage(enum.IntEnum):
    LOAD = 1  # read the model, its metadata and the sample inputs
    TUNE = 2  # search schedules (backends that tune; a no-op otherwise)
    BUILD = 3  # backend: model -> artifact (C sources, host runner)
    COMPILE = 4  # target: artifact + harness -> program (ELF)
    RUN = 5  # target: run the program, read outputs and counts
    POSTPROCESS = 6  # validate against the reference, finish metrics, write metrics.json

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | Stage | None) -> Stage:
        if text is None:
            return cls.POSTPROCESS
        if isinstance(text, Stage):
            return text
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise UsageError(
                f"unknown stage {text!r}; stages: {', '.join(s.label for s in cls)}"
            ) from None
