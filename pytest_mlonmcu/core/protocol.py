"""Parse the lines the target harness (harness/common/main.c) prints.

MLIF setup <rc> <instructions|->
MLIF invoke <sample> <run> <rc> <instructions|->
MLIF output <sample> <index> <hex bytes>
MLIF stack <peak bytes>
MLIF done <rc>
MLIF error <text>
MLIF metric <name> <integer>      (extra metrics, e.g. from a host runner)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class InvokeRecord:
    sample: int
    run: int
    rc: int
    instructions: int | None


@dataclass
class HarnessReport:
    setup_rc: int | None = None
    setup_instructions: int | None = None
    invokes: list[InvokeRecord] = field(default_factory=list)
    outputs: dict[int, dict[int, bytes]] = field(default_factory=dict)
    stack_bytes: int | None = None
    done_rc: int | None = None
    errors: list[str] = field(default_factory=list)
    metrics: dict[str, int] = field(default_factory=dict)
    # Feature profile: (sample, run) -> {operator index: instructions in its bracket}, and
    # the instructions of an empty bracket.
    # (None: the count comes from outside the program, fill_op_counts).
    op_counts: dict[tuple[int, int], dict[int, int | None]] = field(default_factory=dict)
    op_bracket: int | None = None

    @property
    def complete(self) -> bool:
        return self.done_rc is not None

    def output_list(self) -> list[list[bytes]]:
        """Outputs per sample, in sample order, each a list per output index."""
        return [
            [per_index[i] for i in sorted(per_index)]
            for _, per_index in sorted(self.outputs.items())
        ]

    def fill_op_counts(self, points: list[int]) -> None:
        """Feature profile, counted outside the program: ``points`` are the instructions
        executed before each bracket edge (begin, end; the empty bracket first, then every
        bracket of every invoke in order)."""
        edges = 2 * (1 + sum(len(ops) for ops in self.op_counts.values()))
        if len(points) != edges:
            raise ValueError(f"{len(points)} profile points for {edges} bracket edges")
        spans = iter(b - a for a, b in zip(points[0::2], points[1::2]))
        self.op_bracket = next(spans)
        for key in sorted(self.op_counts):
            for index in sorted(self.op_counts[key]):
                self.op_counts[key][index] = next(spans)

    def measured_regions(self) -> int:
        """How many mlif_mark_begin/end regions the program went through (setup + invokes)."""
        return (1 if self.setup_rc is not None else 0) + len(self.invokes)

    def fill_counts(self, counts: list[int]) -> None:
        """Take region counts measured outside the program, in program order."""
        if len(counts) < self.measured_regions():
            raise ValueError(
                f"{len(counts)} counted regions for {self.measured_regions()} reported by the program"
            )
        it = iter(counts)
        if self.setup_rc is not None:
            self.setup_instructions = next(it)
        for rec in self.invokes:
            rec.instructions = next(it)


def _count(text: str) -> int | None:
    return None if text == "-" else int(text)


def parse_harness_output(text: str) -> HarnessReport:
    report = HarnessReport()
    for raw in text.splitlines():
        line = raw.strip()
        pos = line.find("MLIF ")
        if pos < 0:
            continue
        parts = line[pos:].split()
        kind = parts[1] if len(parts) > 1 else ""
        try:
            if kind == "setup":
                report.setup_rc = int(parts[2])
                report.setup_instructions = _count(parts[3])
            elif kind == "invoke":
                report.invokes.append(
                    InvokeRecord(int(parts[2]), int(parts[3]), int(parts[4]), _count(parts[5]))
                )
            elif kind == "output":
                hex_text = parts[4] if len(parts) > 4 else ""
                report.outputs.setdefault(int(parts[2]), {})[int(parts[3])] = bytes.fromhex(
                    hex_text
                )
            elif kind == "stack":
                report.stack_bytes = int(parts[2])
            elif kind == "done":
                report.done_rc = int(parts[2])
            elif kind == "metric":
                report.metrics[parts[2]] = int(parts[3])
            elif kind == "op":
                invoke = report.op_counts.setdefault((int(parts[2]), int(parts[3])), {})
                invoke[int(parts[4])] = _count(parts[5])  # "-": counted outside the program
            elif kind == "opbracket":
                report.op_bracket = _count(parts[2])
            elif kind == "error":
                report.errors.append(" ".join(parts[2:]))
        except (IndexError, ValueError):
            report.errors.append(f"unparsable harness line: {raw!r}")
    return report
