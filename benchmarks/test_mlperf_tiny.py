"""The benchmark suite: every model x backend x target selected on the command line.

    pytest benchmarks/ -n auto --mlonmcu-target=riscv_qemu --mlonmcu-json=results.json

Host runs of interpreters also time one invoke through pytest-benchmark
(``--benchmark-json`` etc.; pytest-benchmark switches itself off under xdist, so
run those without ``-n``).
"""

import pytest

# Simulator runs cannot be timed in this process: their benchmark fixture stays unused.
pytestmark = pytest.mark.filterwarnings("ignore:Benchmark fixture was not used")


def test_benchmark(mlonmcu_run, benchmark):
    mlonmcu_run.process()
    if mlonmcu_run.can_measure_latency():
        mlonmcu_run.measure_latency(benchmark)
