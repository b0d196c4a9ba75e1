"""The benchmark suite: every model x backend x target selected on the command line.

    pytest benchmarks/ -n auto --mlonmcu-target=riscv_qemu --mlonmcu-json=results.json

Host runs of interpreters also time one invoke through pytest-benchmark
(``--benchmark-json`` etc.; pytest-benchmark switches itself off under xdist, so
run those without ``-n``).
"""


def test_benchmark(mlonmcu_run, request):
    mlonmcu_run.process()
    if mlonmcu_run.can_measure_latency():
        mlonmcu_run.measure_latency(request.getfixturevalue("benchmark"))
