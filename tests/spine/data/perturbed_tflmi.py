"""A pytester conftest: registers ``tflmi_perturbed``, tflmi whose runner moves one output.

The runner module (perturb_runner.py) must sit next to this conftest: pytester puts
its directory on PYTHONPATH, and the target starts the runner with ``python -m``.
"""

from pytest_mlonmcu.backends.tflmi.backend import TflmiBackend


class PerturbedTflmi(TflmiBackend):
    name = "tflmi_perturbed"

    def build(self, model, target, work_dir):
        artifact = super().build(model, target, work_dir)
        artifact.runner["module"] = "perturb_runner"
        return artifact


def pytest_mlonmcu_register(backends, targets):
    backends.register(PerturbedTflmi)
