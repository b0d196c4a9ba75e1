"""Golden validation: compare outputs with the reference, with readable diffs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UsageError, ValidationError


@dataclass
class ValidationMode:
    kind: str  # "exact", "atol" or "topk"
    value: int = 0

    @classmethod
    def parse(cls, text: str) -> ValidationMode:
        text = text.strip().lower()
        if text == "exact":
            return cls("exact")
        for kind in ("atol", "topk"):
            if text.startswith(kind + "="):
                try:
                    return cls(kind, int(text.split("=", 1)[1]))
                except ValueError:
                    break
        raise UsageError(
            f"validation mode {text!r}: use exact, atol=N (quantization steps) or topk=K"
        )

    def __str__(self) -> str:
        return self.kind if self.kind == "exact" else f"{self.kind}={self.value}"


@dataclass
class Mismatch:
    sample: int
    output: int
    detail: str


@dataclass
class ValidationResult:
    mode: ValidationMode
    passed: bool
    max_abs_diff: float
    compared: int
    mismatches: list[Mismatch] = field(default_factory=list)

    def metrics(self) -> dict:
        return {
            "validation_passed": self.passed,
            "validation_max_abs_diff": self.max_abs_diff,
            "validation_mode": str(self.mode),
            "validation_outputs": self.compared,
        }

    def message(self) -> str:
        lines = [
            f"validation ({self.mode}) failed: {len(self.mismatches)} of {self.compared} outputs differ "
            f"from the reference; max abs diff {self.max_abs_diff}"
        ]
        lines += [
            f"  sample {m.sample}, output {m.output}: {m.detail}" for m in self.mismatches[:8]
        ]
        if len(self.mismatches) > 8:
            lines.append(f"  ... {len(self.mismatches) - 8} more")
        return "\n".join(lines)

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise ValidationError(self.message())


def _value(x) -> str:
    return f"{float(x):g}" if isinstance(x, np.floating) else str(int(x))


def _diff_detail(expected: np.ndarray, got: np.ndarray, bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    shown = ", ".join(
        f"[{i}] expected {_value(expected.flat[i])} got {_value(got.flat[i])}" for i in idx[:6]
    )
    more = f" (+{len(idx) - 6} more)" if len(idx) > 6 else ""
    return f"{len(idx)} of {expected.size} values differ: {shown}{more}"


def validate(
    reference: list[list[np.ndarray]], outputs: list[list[bytes]], mode: ValidationMode
) -> ValidationResult:
    """Compare every output of every sample; ``outputs`` are raw bytes as the target gave them."""
    mismatches: list[Mismatch] = []
    max_abs = 0
    compared = 0
    if len(outputs) != len(reference):
        mismatches.append(
            Mismatch(-1, -1, f"{len(outputs)} samples came back, {len(reference)} expected")
        )
    for s, (ref_sample, got_sample) in enumerate(zip(reference, outputs)):
        if len(got_sample) != len(ref_sample):
            mismatches.append(
                Mismatch(s, -1, f"{len(got_sample)} outputs, {len(ref_sample)} expected")
            )
        for o, (ref, raw) in enumerate(zip(ref_sample, got_sample)):
            compared += 1
            if len(raw) != ref.nbytes:
                mismatches.append(Mismatch(s, o, f"{len(raw)} bytes, expected {ref.nbytes}"))
                continue
            got = np.frombuffer(raw, dtype=ref.dtype).reshape(ref.shape)
            # float64 holds every int8..int32 difference exactly and float outputs too
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            worst = float(diff.max()) if diff.size else 0.0
            max_abs = max(max_abs, int(worst) if worst.is_integer() else worst)
            if mode.kind == "exact":
                bad = diff > 0
                if bad.any():
                    mismatches.append(Mismatch(s, o, _diff_detail(ref, got, bad)))
            elif mode.kind == "atol":
                bad = diff > mode.value
                if bad.any():
                    mismatches.append(Mismatch(s, o, _diff_detail(ref, got, bad)))
            else:
                k = mode.value
                ref_top = {
                    int(i)
                    for i in np.argsort(-ref.reshape(-1).astype(np.float64), kind="stable")[:k]
                }
                got_top = {
                    int(i)
                    for i in np.argsort(-got.reshape(-1).astype(np.float64), kind="stable")[:k]
                }
                if ref_top != got_top:
                    mismatches.append(
                        Mismatch(
                            s, o, f"top-{k} classes {sorted(got_top)}, expected {sorted(ref_top)}"
                        )
                    )
    return ValidationResult(mode, not mismatches, max_abs, compared, mismatches)
