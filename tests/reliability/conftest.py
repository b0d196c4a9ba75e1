"""Fixtures of the fault-injection tests: the spine's plugin sessions (tests/spine/conftest.py)."""

from spine.conftest import run_plugin, toycar_copy, zoo_toycar  # noqa: F401  (fixtures)
