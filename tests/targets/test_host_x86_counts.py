"""host_x86: the known-count program counted exactly by callgrind."""

from __future__ import annotations

from target_helpers import check_known_counts, known_count_outputs, known_count_samples, run

from pytest_mlonmcu.targets.host_x86 import HostX86

# callgrind counts mlif_measured_call and everything it calls (--toggle-collect), so the
# only harness instruction in a region is mlif_measured_call's tail call `jmp *%rdi`
# (GCC 12.2 -O2, from `objdump -d program`).
HARNESS_SETUP = 1
HARNESS_INVOKE = 1


def test_known_count_exact(make_target, build) -> None:
    target = make_target(HostX86, timeout=30)
    output = run(target, build(target, "known_count.c", known_count_samples()))
    check_known_counts(output.metrics, "x86", HARNESS_SETUP, HARNESS_INVOKE)
    assert output.outputs == known_count_outputs()
