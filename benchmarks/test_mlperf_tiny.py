"""The benchmark suite: every model x backend x target selected on the command line.

pytest benchmarks/ -n auto --mlonmcu-target=riscv_qemu --mlonmcu-json=results.json
"""


def test_benchmark(mlonmcu_run):
    mlonmcu_run.process()
