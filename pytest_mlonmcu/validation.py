"""Golden validation: compare outputs with the reference, with readable diffs.

NaN and infinities in an output fail unless the reference has the same value at the same
place (in every mode); a validation that compared nothing fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .core.errors import UsageError, ValidationError

USAGE = "use exact, atol=N (quantization steps), ulp=N (float32 last places) or topk=K"


@dataclass
class ValidationMode:
    kind: str  # "exact", "atol", "ulp" or "topk"
    value: int = 0

    @classmethod
    def parse(cls, text: str) -> ValidationMode:
        text = text.strip().lower()
        if text == "exact":
            return cls("exact")
        for kind, least in (("atol", 0), ("ulp", 0), ("topk", 1)):
            if text.startswith(kind + "="):
                try:
                    value = int(text.split("=", 1)[1])
                except ValueError:
                    break
                if value < least:
                    raise UsageError(
                        f"validation mode {text!r}: {kind} must be at least {least} ({USAGE})"
                    )
                return cls(kind, value)
        raise UsageError(f"validation mode {text!r}: {USAGE}")

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
    max_abs_diff: float  # inf when a NaN or infinity differs from the reference
    compared: int
    mismatches: list[Mismatch] = field(default_factory=list)
    nonfinite: int = 0  # values whose NaN/inf differs from the reference
    max_places: float | None = None  # mode ulp: the largest difference in those places

    def metrics(self) -> dict:
        out = {
            "validation_passed": self.passed,
            # JSON has no inf: "inf" (a string float() reads) marks a non-finite difference.
            "validation_max_abs_diff": (
                self.max_abs_diff if math.isfinite(self.max_abs_diff) else "inf"
            ),
            "validation_mode": str(self.mode),
            "validation_outputs": self.compared,
        }
        if self.nonfinite:
            out["validation_nonfinite"] = self.nonfinite
        if self.max_places is not None and math.isfinite(self.max_places):
            out["validation_max_ulp"] = self.max_places
        return out

    def message(self) -> str:
        if self.compared == 0:
            lines = [
                f"validation ({self.mode}) failed: nothing was compared (no sample with "
                "outputs on both sides: no samples, a model without outputs, or no output "
                "came back)"
            ]
        else:
            lines = [
                f"validation ({self.mode}) failed: {len(self.mismatches)} of {self.compared} "
                f"outputs differ from the reference; max abs diff {self.max_abs_diff}"
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
    # float32 values with the digits that tell them apart (repr of the float32)
    return str(x) if isinstance(x, np.floating) else str(int(x))


def _nonfinite_detail(expected: np.ndarray, got: np.ndarray, bad: np.ndarray) -> str:
    """``1 non-finite value differs: NaN at [3] (expected 0.5)``."""
    idx = np.flatnonzero(bad)
    shown = []
    for i in idx[:6]:
        value, ref = got.flat[i], expected.flat[i]
        if np.isfinite(value):
            shown.append(f"[{i}] expected {_value(ref)} got {_value(value)}")
        else:
            shown.append(
                f"{'NaN' if np.isnan(value) else _value(value)} at [{i}] (expected {_value(ref)})"
            )
    more = f" (+{len(idx) - 6} more)" if len(idx) > 6 else ""
    noun = "value differs" if len(idx) == 1 else "values differ"
    return f"{len(idx)} non-finite {noun}: {', '.join(shown)}{more}"


def _nonfinite_mismatch(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Where ``got`` or ``ref`` is NaN or infinite and the other is not the same value."""
    if not (np.issubdtype(ref.dtype, np.floating) or np.issubdtype(got.dtype, np.floating)):
        return np.zeros(ref.shape, dtype=bool)
    both_nan = np.isnan(ref) & np.isnan(got)
    nonfinite = ~np.isfinite(ref) | ~np.isfinite(got)
    return nonfinite & ~both_nan & (ref != got)


def ulp_bound(ref: np.ndarray, places: int) -> float:
    """``places`` units in the last place of the output's largest float32 magnitude (so a
    value near 0 that came out of a cancellation is held to the output's scale, not its
    own); for an integer output, ``places`` steps."""
    if not np.issubdtype(ref.dtype, np.floating):
        return float(places)
    finite = np.abs(ref[np.isfinite(ref)]).astype(np.float32)
    largest = finite.max() if finite.size else np.float32(0)
    return places * float(np.spacing(largest))


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
    """Compare every output of every sample; ``outputs`` are raw bytes as the target gave them.

    Passes only when something was compared and nothing differs.
    """
    mismatches: list[Mismatch] = []
    max_abs: float = 0
    places = 0.0  # mode ulp: the largest difference in places of the output's largest value
    compared = 0
    nonfinite = 0
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
            # NaN/inf where the reference has another value: a difference of any size
            odd = _nonfinite_mismatch(ref, got)
            nonfinite += int(odd.sum())
            # float64 holds every int8..int32 difference exactly and float outputs too
            with np.errstate(invalid="ignore"):
                diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            diff[odd] = math.inf
            diff[~odd & ~np.isfinite(diff)] = 0.0  # the same NaN/inf on both sides
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
            elif mode.kind == "ulp":
                place = ulp_bound(ref, 1)
                bad = diff > place * mode.value
                places = max(places, worst / place if place else (0.0 if worst == 0 else math.inf))
                if bad.any():
                    mismatches.append(Mismatch(s, o, _diff_detail(ref, got, bad)))
            elif odd.any():
                mismatches.append(Mismatch(s, o, _nonfinite_detail(ref, got, odd)))
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
    passed = not mismatches and compared > 0
    return ValidationResult(
        mode,
        passed,
        max_abs,
        compared,
        mismatches,
        nonfinite,
        max_places=places if mode.kind == "ulp" else None,
    )
