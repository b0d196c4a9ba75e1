"""CI gates: metric budgets and regressions against a baseline.

Budgets are absolute limits: ``@pytest.mark.budget(rom_bytes="128kB")`` on a test,
``budgets:`` in ``mlonmcu.yml`` (fnmatch patterns on the run id, e.g. ``aww-*-riscv_qemu``)
and ``--mlonmcu-budget METRIC<=VALUE`` (every run). Regressions compare each run with a
baseline (``--mlonmcu-compare PATH``, written by ``--mlonmcu-save-baseline PATH`` or any
``--mlonmcu-json`` report) under the rules of ``--mlonmcu-fail-on METRIC:+N%``. Lower is
better for every gated metric (instructions, bytes, milliseconds).

Both are verdicts of the test itself: they are checked in the process that ran the test,
right after its body (plugin.py wraps ``pytest_runtest_call``), from inputs that every
process has identically: markers, options, and the baseline that the controller read at
configure time and hands to its xdist workers. So ``-n 2`` and a serial session fail the
same tests; the controller only summarises the records.

The package, one module per job (each imports only those listed before it; metric numbers
are read and formatted by ``core/numbers.py``):

- ``budgets``: ``Budget``, ``BudgetCheck``, the ``budget`` marker, limits (``30M``);
- ``baseline``: ``--mlonmcu-fail-on`` rules, baseline files, ``compare`` and its ``Delta``;
- ``settings``: ``GateSettings`` (options, yml, the baseline) and the xdist hand-over;
- ``check``: the check of one test (``check_item``) and its fields of the JSON record;
- ``summary``: the controller's terminal section.

Below are the names the plugin and the reports use; anything else is imported from its module.
"""

from __future__ import annotations

from .baseline import Baseline, usable_record, write_baseline
from .budgets import MARKER_HELP
from .check import check_item, record_fields
from .settings import GATES_KEY, GateSettings, configure_node
from .summary import summary_lines

__all__ = [
    # plugin.py: the marker, configure time, xdist, the test's verdict and record, the summary
    "MARKER_HELP",
    "GATES_KEY",
    "GateSettings",
    "configure_node",
    "check_item",
    "record_fields",
    "write_baseline",
    "summary_lines",
    # exporters.py: the Markdown deltas and the plots
    "Baseline",
    "usable_record",
]
