"""``python -m pytest_mlonmcu.backends.tflmi MODE ...``: the wheel runner (runner.py) as a
program. Through the package's __main__, because the package imports runner.py already and
``-m ...runner`` would make runpy warn about running an imported module on every call."""

import sys

from .runner import main

sys.exit(main(sys.argv[1:]))
